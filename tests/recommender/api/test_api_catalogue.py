"""The public catalogue API: search, filters, a movie's summary, similar movies."""

from __future__ import annotations

import pytest

from tests.recommender.similar import add_similar
from web.recommender.models import Movie, Rating, Tag


def test_movies_are_paginated(client, published):
    """The list pages 50 by default and honours page_size; every movie appears once."""
    first = client.get("/api/movies?page_size=10").json()
    assert first["count"] == 25 and len(first["results"]) == 10 and first["previous"] is None
    seen = [m["movie_id"] for m in first["results"]]
    url = first["next"]
    while url:
        page = client.get(url).json()
        seen += [m["movie_id"] for m in page["results"]]
        url = page["next"]
    assert sorted(seen) == list(range(10, 260, 10))


def test_search_genre_and_year_filters(client, published):
    """search matches title word prefixes; genre and year narrow the list."""
    Movie.objects.filter(movie_id=20).update(title="Star Wars (1977)", genres=["Sci-Fi"], year=1977)
    Movie.objects.filter(movie_id=30).update(title="Stardust (2007)", genres=["Fantasy"], year=2007)
    ids = lambda query: [m["movie_id"] for m in client.get(f"/api/movies?{query}").json()["results"]]  # noqa: E731
    assert sorted(ids("search=star")) == [20, 30]
    assert ids("search=star%20wa") == [20]
    assert ids("genre=Fantasy") == [30]
    assert ids("year=1977&search=star") == [20]


@pytest.mark.parametrize(("query", "field"), [("year=abc", "year"), ("year=3000", "year"), ("genre=Nope", "genre")])
def test_bad_filters_are_400_naming_the_parameter(client, published, query, field):
    """A non-numeric or out-of-range year, or an unknown genre, is a 400 that names it."""
    response = client.get(f"/api/movies?{query}")
    assert response.status_code == 400 and field in response.json()["fields"]


def test_movie_detail_has_summary_histogram_and_tags(client, published):
    """A movie answers its average, count, per-value histogram, links and tags."""
    Movie.objects.filter(movie_id=250).update(imdb_id="0114709", tmdb_id=862)
    Tag.objects.create(user_id=101, movie_id=250, tag="classic")
    ratings = list(Rating.objects.filter(movie_id=250).values_list("rating", flat=True))
    body = client.get("/api/movies/250").json()
    assert body["rating_count"] == len(ratings) == sum(body["rating_histogram"].values())
    assert body["average_rating"] == pytest.approx(sum(ratings) / len(ratings))
    assert body["rating_histogram"]["4.0"] == ratings.count(4.0)
    assert body["tags"] == [{"tag": "classic", "count": 1}]
    assert body["imdb_url"].endswith("tt0114709/") and body["tmdb_url"].endswith("/862")
    assert client.get("/api/movies/99999").status_code == 404


def test_similar_movies_come_from_the_active_run(client, published, similar_tables):
    """/similar lists the active run's neighbours in rank order, and is empty for a movie without any."""
    add_similar(published.pk, [(250, 40, 0.9), (250, 30, 0.8), (250, 20, 0.5)])
    body = client.get("/api/movies/250/similar?n=2").json()
    assert body["run_id"] == published.pk
    assert [(s["rank"], s["movie"]["movie_id"]) for s in body["similar"]] == [(1, 40), (2, 30)]
    assert client.get("/api/movies/10/similar").json()["similar"] == []
    assert client.get("/api/movies/250/similar?n=0").status_code == 400
    assert client.get("/api/movies/99999/similar").status_code == 404


def test_recommendations_filter_by_genre_and_carry_reasons(client, published):
    """genre= keeps only that genre; every item has a reason; an unknown genre is a 400."""
    Movie.objects.filter(movie_id__in=[30, 60, 90, 120]).update(genres=["Horror"])
    body = client.get("/api/users/101/recommendations?n=100&genre=Horror").json()
    assert body["recommendations"] and all("Horror" in i["movie"]["genres"] for i in body["recommendations"])
    assert all(i["reason"] for i in body["recommendations"])
    assert client.get("/api/users/101/recommendations?genre=Nope").status_code == 400
