"""The REST API: recommendations from the active run, ratings in, clear JSON errors."""

from __future__ import annotations

import pytest

from web.recommender.models import Rating, UserScore

USER = 101


def _served(client, user_id: int, n: int = 10) -> list[int]:
    response = client.get(f"/api/users/{user_id}/recommendations?n={n}")
    assert response.status_code == 200, response.content
    return [item["movie"]["movie_id"] for item in response.json()["recommendations"]]


def test_recommendations_are_the_active_runs_rows_in_rank_order(client, published):
    """The API returns the user's score rows of the active run, best first, with the run id."""
    body = client.get(f"/api/users/{USER}/recommendations?n=5").json()
    rows = UserScore.objects.filter(run=published, user_id=USER).order_by("rank")[:5]
    assert body["run_id"] == published.pk and body["source"] == "personal"
    assert [item["movie"]["movie_id"] for item in body["recommendations"]] == [row.movie_id for row in rows]
    assert [item["score"] for item in body["recommendations"]] == pytest.approx([row.score for row in rows])
    assert [item["rank"] for item in body["recommendations"]] == [1, 2, 3, 4, 5]


def test_no_recommended_movie_is_already_rated(client, published, catalogue):
    """No user is ever recommended a movie they rated."""
    for user_id in catalogue["user_ids"]:
        rated = set(Rating.objects.filter(user_id=user_id).values_list("movie_id", flat=True))
        assert not rated & set(_served(client, int(user_id), 100))


def test_a_movie_rated_after_the_run_is_filtered_at_once(client, auth, published, django_capture_on_commit_callbacks):
    """A rating made since the run removes the movie from the served list before any worker runs."""
    top = _served(client, USER)[0]
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(f"/api/users/{USER}/ratings", {"movie_id": top, "rating": 3.5}, content_type="application/json", **auth)
    assert response.status_code == 201, response.content
    assert top not in _served(client, USER)


@pytest.mark.parametrize("user_id", [101, 117, 130])
def test_the_served_list_is_the_runs_rows_minus_movies_rated_since(client, published, user_id):
    """Rate the 1st, 3rd and 4th of the user's stored rows (no refresh runs): the served list is the rows without those three."""
    rows = list(UserScore.objects.filter(run=published, user_id=user_id).order_by("rank").values_list("movie_id", flat=True))
    rated_since = [rows[0], rows[2], rows[3]]
    Rating.objects.bulk_create(Rating(user_id=user_id, movie_id=movie_id, rating=2.5) for movie_id in rated_since)
    assert _served(client, user_id, 100) == [movie_id for movie_id in rows if movie_id not in rated_since]


def test_unknown_user_is_404_in_json(client, published):
    """A user with no ratings and no scores is a 404 with a message."""
    response = client.get("/api/users/999999/recommendations")
    assert response.status_code == 404
    assert "999999" in response.json()["error"]


@pytest.mark.parametrize("n", ["0", "-1", "101", "abc", "1e9", "2.5"])
def test_bad_n_is_400_in_json(client, published, n):
    """n outside 1..100 or not a whole number is refused with a message naming n."""
    response = client.get(f"/api/users/{USER}/recommendations?n={n}")
    assert response.status_code == 400
    assert response.json()["error"].startswith("n:")


def test_a_user_the_run_does_not_know_gets_the_popular_list(client, auth, published, catalogue, django_capture_on_commit_callbacks):
    """A new user with a rating but no scores in the run sees the run's popular list, minus what they rated."""
    movie = int(catalogue["movie_ids"][3])
    with django_capture_on_commit_callbacks(execute=False):
        client.post("/api/users/5000/ratings", {"movie_id": movie, "rating": 4}, content_type="application/json", **auth)
    body = client.get("/api/users/5000/recommendations?n=5").json()
    assert body["source"] == "popular" and len(body["recommendations"]) == 5
    assert movie not in [item["movie"]["movie_id"] for item in body["recommendations"]]


def test_posting_a_rating_stores_it_and_queues_the_refresh(client, auth, published, redis_conn, django_capture_on_commit_callbacks):
    """A valid rating is stored at once, the user is due for a refresh and one drain job lands in the real Redis queue."""
    from web.queue import get_queue
    from web.recommender.refresh import DRAIN_JOB, DUE_KEY

    movie = int(published.popular_movies.order_by("rank").first().movie_id)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/api/users/{USER}/ratings", {"movie_id": movie, "rating": 4.5}, content_type="application/json", **auth)
    assert response.status_code == 201
    assert response.json()["refresh"] == "queued"
    assert Rating.objects.get(user_id=USER, movie_id=movie).rating == 4.5
    jobs = get_queue().get_jobs()
    assert [(job.func_name, job.args) for job in jobs] == [(DRAIN_JOB, ())]
    assert [int(user) for user in redis_conn.smembers(DUE_KEY)] == [USER]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"movie_id": 10, "rating": 6}, "rating"),
        ({"movie_id": 10, "rating": 0}, "rating"),
        ({"movie_id": 10, "rating": 2.3}, "rating"),
        ({"movie_id": 10, "rating": "NaN"}, "rating"),
        ({"movie_id": 10, "rating": "great"}, "rating"),
        ({"movie_id": 10}, "rating"),
        ({"rating": 4}, "movie_id"),
        ({"movie_id": "ten", "rating": 4}, "movie_id"),
        ({"movie_id": 123456, "rating": 4}, "movie_id"),
    ],
)
def test_bad_ratings_are_refused_and_nothing_changes(client, auth, published, payload, field):
    """Out-of-range, non-half-star, non-numeric or missing values and unknown movies are a 400 naming the field."""
    before = list(Rating.objects.order_by("id").values_list("user_id", "movie_id", "rating"))
    response = client.post(f"/api/users/{USER}/ratings", payload, content_type="application/json", **auth)
    assert response.status_code == 400
    assert field in response.json()["fields"]
    assert list(Rating.objects.order_by("id").values_list("user_id", "movie_id", "rating")) == before


def test_malformed_json_and_wrong_content_type_are_refused(client, auth, published):
    """A body that is not JSON is a 400, a form-encoded body a 415, both as JSON errors."""
    bad_json = client.post(f"/api/users/{USER}/ratings", "{not json", content_type="application/json", **auth)
    form = client.post(f"/api/users/{USER}/ratings", {"movie_id": 10, "rating": 4}, **auth)
    assert (bad_json.status_code, form.status_code) == (400, 415)
    assert "error" in bad_json.json() and "error" in form.json()


NESTED_TOO_DEEPLY = ["[" * 100_000 + "]" * 100_000, '{"a": ' * 50_000 + "1" + "}" * 50_000]
"""JSON bodies well inside the 2.5 MB limit, nested far past the depth Python's parser recurses to."""


@pytest.mark.parametrize("body", NESTED_TOO_DEEPLY, ids=["arrays", "objects"])
@pytest.mark.parametrize(("method", "path"), [
    ("post", f"/api/users/{USER}/ratings"), ("put", f"/api/users/{USER}/ratings/10"), ("post", "/api/users"),
    ("post", "/api/events"),
])
def test_json_nested_too_deeply_is_a_400_and_changes_nothing(client, auth, published, method, path, body):
    """The parser's RecursionError was not a ValueError, so DRF let it through: a 500 and a traceback in the log for any
    account that may write, where bad input is the client's 400."""
    before = list(Rating.objects.order_by("id").values_list("user_id", "movie_id", "rating"))
    response = getattr(client, method)(path, body, content_type="application/json", **auth)
    assert response.status_code == 400 and "nested too deeply" in response.json()["error"]
    assert list(Rating.objects.order_by("id").values_list("user_id", "movie_id", "rating")) == before


def test_unknown_api_path_is_json_404(client, db):
    """An unknown URL under /api/ answers JSON, not an HTML page."""
    response = client.get("/api/nothing-here")
    assert response.status_code == 404 and response.json()["status"] == 404
