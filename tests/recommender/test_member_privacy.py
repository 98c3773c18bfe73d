"""A member's rating stays theirs: the rating figures anyone can read are counted over the MovieLens data only.

A movie that one member rated (a new or obscure one) showed that member's exact rating to everyone as
its "average from 1 rating"; any public figure that counts members' ratings gives a rating away to
someone who reads it before and after (docs/decisions.md, "Site").
"""

from __future__ import annotations

from django.test import Client

from web.recommender.models import Movie, MovieStats, Profile, Rating
from web.recommender.models.profiles import PROFILE_USER_ID_START

MEMBER_VALUE = 0.5
"""The member's rating: no MovieLens user below gives it, so any figure showing it gives the member away."""


def _member(name: str) -> int:
    from django.contrib.auth.models import User

    return Profile.objects.for_account(User.objects.create_user(name, password="pw-12345678")).user_id


def _catalogue_with_a_lone_member_rating() -> tuple[Movie, Movie, int]:
    """An obscure movie only a member rated, and a known one MovieLens users rated 4 and 5 that the member rated too."""
    obscure = Movie.objects.create(movie_id=7001, title="Obscure Short (2024)", year=2024, genres=["Drama"])
    known = Movie.objects.create(movie_id=7002, title="Known Film (1999)", year=1999, genres=["Drama"])
    member = _member("quiet-member")
    assert member >= PROFILE_USER_ID_START
    Rating.objects.bulk_create([
        Rating(user_id=member, movie=obscure, rating=MEMBER_VALUE),
        Rating(user_id=member, movie=known, rating=MEMBER_VALUE),
        Rating(user_id=1, movie=known, rating=4.0),
        Rating(user_id=2, movie=known, rating=5.0),
    ])
    MovieStats.refresh()
    return obscure, known, member


def test_a_movie_page_does_not_show_a_lone_members_rating(db):
    obscure, known, _ = _catalogue_with_a_lone_member_rating()
    visitor = Client()
    page = visitor.get(f"/movies/{obscure.movie_id}/").content.decode()
    summary = page.split('id="ratings-summary"', 1)[1].split("</section>", 1)[0]
    assert "average" not in summary and 'class="count"' not in summary, summary
    assert "<rect" not in summary  # no distribution chart with one bar at half a star
    page = visitor.get(f"/movies/{known.movie_id}/").content.decode()
    summary = page.split('id="ratings-summary"', 1)[1].split("</section>", 1)[0]
    assert '<strong class="average">4.50</strong>' in summary and '<span class="count">2</span>' in summary, summary


def test_the_api_movie_does_not_count_members_ratings(db):
    obscure, known, _ = _catalogue_with_a_lone_member_rating()
    alone = Client().get(f"/api/movies/{obscure.movie_id}").json()
    assert alone["average_rating"] is None and alone["rating_count"] == 0
    assert set(alone["rating_histogram"].values()) == {0}
    both = Client().get(f"/api/movies/{known.movie_id}").json()
    assert both["average_rating"] == 4.5 and both["rating_count"] == 2 and both["rating_histogram"]["0.5"] == 0


def test_catalogue_cards_do_not_show_a_lone_members_rating(db):
    obscure, known, _ = _catalogue_with_a_lone_member_rating()
    page = Client().get("/movies/?q=obscure").content.decode()
    card = page.split(f'data-movie="{obscure.movie_id}"', 1)[1].split("</li>", 1)[0]
    assert "Rated" not in card, card
    page = Client().get("/movies/?q=known").content.decode()
    card = page.split(f'data-movie="{known.movie_id}"', 1)[1].split("</li>", 1)[0]
    assert "Rated 4.5 by 2 people" in card, card


def test_the_catalogues_sorts_do_not_count_members_ratings(db):
    """"Most rated" and "highest rated" would place the movie by the member's rating: its position gives it away."""
    obscure, known, _ = _catalogue_with_a_lone_member_rating()
    stats = {row.movie_id: (row.ratings, row.average) for row in MovieStats.objects.filter(movie_id__in=[obscure.movie_id, known.movie_id])}
    assert stats == {obscure.movie_id: (0, None), known.movie_id: (2, 4.5)}


def test_a_members_rating_leaves_the_movies_etag_as_it_was(db):
    """The movie's answer does not change, so neither does its ETag: a new one would tell a client polling an obscure
    movie that someone rated it just now. A MovieLens user's rating (a service writing for one) does change it."""
    obscure, _, member = _catalogue_with_a_lone_member_rating()
    client = Client()
    etag = client.get(f"/api/movies/{obscure.movie_id}")["ETag"]
    Rating.objects.rate(member, obscure, 4.0)
    Rating.objects.unrate(member, obscure)
    assert client.get(f"/api/movies/{obscure.movie_id}", HTTP_IF_NONE_MATCH=etag).status_code == 304
    Rating.objects.rate(3, obscure, 4.0)
    assert client.get(f"/api/movies/{obscure.movie_id}", HTTP_IF_NONE_MATCH=etag).status_code == 200
