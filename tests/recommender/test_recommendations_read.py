"""The recommendations read path: one query, reasons per page, and the hand-built API body equal to the documented serializer."""

from __future__ import annotations

import pytest

from tests.helpers import run
from tests.recommender.similar import add_similar
from web.recommender.api.serializers import RecommendationsSerializer, recommendations_data
from web.recommender.models import PROFILE_USER_ID_START, Movie, Rating, UserScore
from web.recommender.stored_answers import ANSWERS
from web.runs.models import Run

USER = 101


@pytest.fixture
def published(catalogue):
    Movie.objects.update(genres=["Drama"])  # a named movie must share a genre with the recommendation
    return run(algorithm="popularity", top_n=20)


def _ranked(run_id: int) -> list[int]:
    return list(UserScore.objects.filter(run_id=run_id, user_id=USER).order_by("rank").values_list("movie_id", flat=True))


def test_a_personal_list_costs_one_query_after_its_validator(client, published, django_assert_num_queries):
    """An anonymous API read of a scored user's list is one SQL query (rows, movies, run and reasons together),
    after the primary-key lookups of its ETag (web/recommender/caching.py)."""
    client.get(f"/api/users/{USER}/recommendations?n=10")  # warm: the first request may connect
    ANSWERS.clear()  # the body the warm-up kept would answer without the list's query (tests/recommender/api/test_stored_answers.py)
    with django_assert_num_queries(2):
        response = client.get(f"/api/users/{USER}/recommendations?n=10")
    assert response.status_code == 200 and response.json()["source"] == "personal"



def test_the_user_page_of_a_scored_user_costs_three_queries(client, published, django_assert_num_queries):
    """An anonymous visit to a scored MovieLens user's page: the list's ETag (for the page's poller), the list and
    the rating count, no separate existence check."""
    client.get(f"/users/{USER}/")  # warm: the connection and the cached genre list
    with django_assert_num_queries(3):
        response = client.get(f"/users/{USER}/")
    assert response.status_code == 200 and 'data-source="personal"' in response.content.decode()

def test_the_reason_names_the_strongest_liked_predictor_that_shares_a_genre(published, similar_tables):
    """Among a movie's predictors (similar movies) the user rated 3.5 or more and that share a genre with it, the
    reason names the strongest (best similarity rank), whatever the stars; a liked movie of other genres is not named."""
    top = _ranked(published.pk)[0]
    rated = list(Rating.objects.filter(user_id=USER).order_by("movie_id").select_related("movie")[:4])
    low, four_a, four_b, five = rated
    for rating, value in ((low, 3.0), (four_a, 4.0), (four_b, 4.0), (five, 5.0)):
        Rating.objects.filter(pk=rating.pk).update(rating=value)
    neighbours = [(low, 0.99), (four_a, 0.9), (four_b, 0.8), (five, 0.1)]  # ranked by similarity in this order
    add_similar(published.pk, [(top, rating.movie_id, score) for rating, score in neighbours])
    first = UserScore.objects.recommend(USER, 1).items[0]
    assert first.movie.movie_id == top and first.reason == f"because you rated {four_a.movie.title} 4 stars"
    Movie.objects.filter(pk=four_a.movie_id).update(genres=["Horror"])  # liked and strong, but nothing like the pick
    assert UserScore.objects.recommend(USER, 1).items[0].reason == f"because you rated {four_b.movie.title} 4 stars"
    Movie.objects.filter(pk__in=[four_b.movie_id, five.movie_id]).update(genres=["Horror"])
    assert UserScore.objects.recommend(USER, 1).items[0].reason == "one of the best-liked movies you have not rated yet"


def test_a_content_pick_is_explained_by_the_genre_the_user_rates_highly(published, similar_tables):
    """A hybrid run's pick with no predictors in the run is labelled something new to try, with the movie's genre the
    user most often rates 4+ stars."""
    Run.objects.filter(pk=published.pk).update(algorithm="hybrid")
    top = _ranked(published.pk)[0]
    Movie.objects.filter(pk=top).update(genres=["Sci-Fi", "Drama"])
    liked = list(Rating.objects.filter(user_id=USER).exclude(movie_id=top).order_by("movie_id")[:3])
    Rating.objects.filter(pk__in=[r.pk for r in liked]).update(rating=4.5)
    Movie.objects.filter(pk__in=[r.movie_id for r in liked[:2]]).update(genres=["Sci-Fi"])
    first = UserScore.objects.recommend(USER, 1).items[0]
    assert first.reason == "something new to try: little known so far, and like the science fiction you rate highly"
    Rating.objects.filter(movie_id=top).delete()  # nobody has rated it: it is new
    assert (UserScore.objects.recommend(USER, 1).items[0].reason
            == "something new to try: new, and like the science fiction you rate highly")
    Movie.objects.filter(pk=top).update(genres=["Western"])  # nothing the user rates highly: still labelled
    assert UserScore.objects.recommend(USER, 1).items[0].reason == "something new to try: new"


def test_new_to_try_says_new_whatever_members_rated(published, similar_tables):
    """"new" or "little known" is said of the public ratings (the MovieLens data's): "little known" on a movie no
    MovieLens user rated would tell each reader that some member has rated it (docs/decisions.md, "Site")."""
    Run.objects.filter(pk=published.pk).update(algorithm="hybrid")
    top = _ranked(published.pk)[0]
    Rating.objects.filter(movie_id=top).delete()
    Rating.objects.create(user_id=PROFILE_USER_ID_START + 7, movie_id=top, rating=4.5)  # a member's, not public
    assert UserScore.objects.recommend(USER, 1).items[0].reason.startswith("something new to try: new")


def test_a_content_run_calls_none_of_its_picks_new_and_explains_them_by_taste(published, similar_tables):
    """A content run has no similar movies at all (it finds every movie by its metadata, the most-rated too): no pick
    is "something new to try" or "little known", and none is "popular with people whose ratings are like yours" (it
    reads no one else's ratings); a pick is explained by its genre the user rates highly, else by its metadata."""
    Run.objects.filter(pk=published.pk).update(algorithm="content")
    top = _ranked(published.pk)[0]
    assert Rating.objects.filter(movie_id=top).exclude(user_id=USER).exists()  # rated by others: not new, not unknown
    Movie.objects.filter(pk=top).update(genres=["Sci-Fi", "Drama"])
    liked = list(Rating.objects.filter(user_id=USER).exclude(movie_id=top).order_by("movie_id")[:3])
    Rating.objects.filter(pk__in=[r.pk for r in liked]).update(rating=4.5)
    Movie.objects.filter(pk__in=[r.movie_id for r in liked[:2]]).update(genres=["Sci-Fi"])
    assert UserScore.objects.recommend(USER, 1).items[0].reason == "like the science fiction you rate highly"
    Movie.objects.filter(pk=top).update(genres=["Western"])  # no genre the user rates highly
    assert (UserScore.objects.recommend(USER, 1).items[0].reason
            == "its genres and tags are like those of the movies you rate highly")


def test_a_later_page_has_the_same_items_and_reasons_as_the_whole_list(published, similar_tables):
    """Paging cuts the list before reasons are looked up: page 2 equals items 4-6 of the full list, reasons included."""
    ranked = _ranked(published.pk)
    liked = Rating.objects.filter(user_id=USER).order_by("movie_id").first()
    Rating.objects.filter(pk=liked.pk).update(rating=4.5)
    add_similar(published.pk, [(movie, liked.movie_id, 0.5) for movie in ranked[3:5]])
    whole = UserScore.objects.recommend(USER, 20)
    page = UserScore.objects.recommend(USER, 3, offset=3)
    assert [(i.movie.movie_id, i.rank, i.reason) for i in page.items] == [(i.movie.movie_id, i.rank, i.reason) for i in whole.items[3:6]]
    assert page.items[0].reason.startswith("because you rated") and page.has_more


@pytest.mark.parametrize("user_id", [USER, 5000])
def test_the_api_body_equals_the_documented_serializer(client, auth, published, similar_tables, user_id, django_capture_on_commit_callbacks):
    """The hand-built body of a personal (user 101) and a popular (new user 5000) list is exactly RecommendationsSerializer's output."""
    if user_id == 5000:
        with django_capture_on_commit_callbacks(execute=False):
            client.post(f"/api/users/{user_id}/ratings", {"movie_id": 10, "rating": 4.0}, content_type="application/json", **auth)
    add_similar(published.pk, [(_ranked(published.pk)[0], Rating.objects.filter(user_id=USER).first().movie_id, 0.5)])
    recommendations = UserScore.objects.recommend(user_id, 10)
    assert recommendations.items
    assert recommendations_data(recommendations) == RecommendationsSerializer(recommendations).data
    assert client.get(f"/api/users/{user_id}/recommendations?n=10").json() == RecommendationsSerializer(recommendations).data
