"""One rating through the API: read, set with PUT, remove with DELETE; the history paginated and sorted."""

from __future__ import annotations

import pytest

from web.recommender.models import Rating

USER = 101


def _unrated(user_id: int) -> int:
    rated = set(Rating.objects.filter(user_id=user_id).values_list("movie_id", flat=True))
    return next(m for m in range(10, 260, 10) if m not in rated)


def test_put_creates_then_changes_a_rating(client, auth, published):
    """PUT on a new movie is 201, on a rated one 200, and the stored value follows."""
    movie = _unrated(USER)
    url = f"/api/users/{USER}/ratings/{movie}"
    created = client.put(url, {"rating": 2.5}, content_type="application/json", **auth)
    changed = client.put(url, {"rating": 5}, content_type="application/json", **auth)
    assert (created.status_code, changed.status_code) == (201, 200)
    assert changed.json()["rating"] == 5.0 and changed.json()["refresh"] == "queued"
    assert client.get(url).json()["rating"] == 5.0 == Rating.objects.get(user_id=USER, movie_id=movie).rating


def test_put_refuses_bad_values_and_unknown_movies(client, auth, published):
    """A bad value is a 400 naming the field; an unknown movie a 404; nothing is stored."""
    count = Rating.objects.count()
    bad = client.put(f"/api/users/{USER}/ratings/10", {"rating": 7}, content_type="application/json", **auth)
    unknown = client.put(f"/api/users/{USER}/ratings/99999", {"rating": 3}, content_type="application/json", **auth)
    assert bad.status_code == 400 and "rating" in bad.json()["fields"]
    assert unknown.status_code == 404 and "99999" in unknown.json()["error"]
    assert Rating.objects.count() == count


def test_delete_removes_a_rating_and_then_is_404(client, auth, published):
    """DELETE removes the rating (204); a second DELETE and a GET are 404."""
    url = f"/api/users/{USER}/ratings/10"
    assert client.delete(url, **auth).status_code == 204
    assert not Rating.objects.filter(user_id=USER, movie_id=10).exists()
    assert client.delete(url, **auth).status_code == 404
    assert client.get(url).status_code == 404


def test_unsupported_method_is_405_in_json(client, auth, published):
    """PATCH is not offered: a JSON 405."""
    response = client.patch(f"/api/users/{USER}/ratings/10", {"rating": 3}, content_type="application/json", **auth)
    assert response.status_code == 405 and response.json()["status"] == 405


@pytest.mark.parametrize(("method", "path"), [
    ("patch", f"/api/users/{USER}/ratings/10"),
    ("post", f"/api/users/{USER}/recommendations"),
    ("put", f"/api/users/{USER}/ratings"),
    ("delete", "/api/runs"),
    ("put", "/api/runs/1/cancel"),
])
def test_a_method_no_credentials_could_make_work_is_405_for_anyone(client, published, method, path):
    """Anonymous too: 405 with Allow, not the 401/403 of a credentials check that could not help."""
    response = getattr(client, method)(path, {}, content_type="application/json")
    assert response.status_code == 405, response.content
    assert response.json()["status"] == 405 and method.upper() not in response["Allow"]


def test_history_is_paginated_and_sorted(client, published):
    """The ratings list pages with page_size and sorts by the chosen order; a bad sort is a 400."""
    ratings = Rating.objects.filter(user_id=USER)
    body = client.get(f"/api/users/{USER}/ratings?page_size=3&sort=highest").json()
    assert body["count"] == ratings.count() and len(body["results"]) == 3
    assert [r["movie_id"] for r in body["results"]] == [r.movie_id for r in ratings.order_by("-rating", "-timestamp")[:3]]
    second = client.get(body["next"]).json()
    assert not {r["movie_id"] for r in second["results"]} & {r["movie_id"] for r in body["results"]}
    bad = client.get(f"/api/users/{USER}/ratings?sort=sideways")
    assert bad.status_code == 400 and bad.json()["error"].startswith("sort:")
