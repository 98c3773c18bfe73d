"""Hostile input to every operation of the REST API: a clear JSON error with the right status, nothing stored.

One table per kind of input (path ids, query parameters, rating bodies,
transport: size and content type). Each row names the request, the status
expected and a piece of the message; every test also compares the stored
tables before and after (:func:`tests.reliability.snapshot.stored`).
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from django.contrib.auth.models import User
from django.test import Client, override_settings

from tests.account_helpers import make_operator
from tests.reliability.hostile_values import HOSTILE_IDS, HUGE, hostile_events
from tests.reliability.snapshot import published, stored  # noqa: F401  (published: a fixture)
from tests.recommender.conftest import auth, service_token  # noqa: F401  (fixtures)
from web.recommender.models import Event

USER = 101
"""A MovieLens user of the ``catalogue`` fixture (ids 101..130, movies 10..250)."""

PATH_IDS = [
    # (method, path, status, words in the error)
    ("get", "/api/users/abc/recommendations", 404, "Not found"),
    ("get", "/api/users/-1/recommendations", 404, "Not found"),
    # A huge id is in the site profiles' range: a service (``auth``) is refused before the id is looked up, so the
    # answer says nothing about which profiles exist (docs/api.md, "Who may do what").
    ("get", f"/api/users/{HUGE}/recommendations", 403, "your own ratings"),
    ("get", "/api/users/0/recommendations", 404, "No user"),
    ("get", "/api/users/abc/ratings", 404, "Not found"),
    ("get", f"/api/users/{HUGE}/ratings", 403, "your own ratings"),
    ("post", f"/api/users/{HUGE}/ratings", 403, "your own ratings"),
    ("post", "/api/users/0/ratings", 404, "No user"),
    ("get", f"/api/users/{USER}/ratings/x", 404, "Not found"),
    ("get", f"/api/users/{USER}/ratings/{HUGE}", 404, "has not rated"),
    ("put", f"/api/users/{USER}/ratings/{HUGE}", 404, "No movie"),
    ("put", f"/api/users/{USER}/ratings/-10", 404, "Not found"),
    ("put", f"/api/users/{HUGE}/ratings/10", 403, "your own ratings"),
    ("delete", f"/api/users/{USER}/ratings/{HUGE}", 404, "No movie"),
    ("delete", f"/api/users/{HUGE}/ratings/10", 403, "your own ratings"),
    ("get", "/api/movies/abc", 404, "Not found"),
    ("get", "/api/movies/-10", 404, "Not found"),
    ("get", f"/api/movies/{HUGE}", 404, "No Movie"),
    ("get", f"/api/movies/{HUGE}/similar", 404, "No Movie"),
    ("get", "/api/movies/0/similar", 404, "No Movie"),
    ("get", "/api/runs/abc", 404, "Not found"),
    ("get", f"/api/runs/{HUGE}", 404, "No"),
    ("post", f"/api/runs/{HUGE}/cancel", 404, "No"),
    ("post", f"/api/runs/{HUGE}/activate", 404, "No"),
]

QUERY_PARAMETERS = [
    # (path, query string, status, field named in "fields" or None, words in the error)
    (f"/api/users/{USER}/recommendations", "n=abc", 400, "n", "valid integer"),
    (f"/api/users/{USER}/recommendations", "n=-5", 400, "n", "greater than or equal to 1"),
    (f"/api/users/{USER}/recommendations", "n=0", 400, "n", "greater than or equal to 1"),
    (f"/api/users/{USER}/recommendations", "n=101", 400, "n", "less than or equal to 100"),
    (f"/api/users/{USER}/recommendations", f"n={HUGE}", 400, "n", "less than or equal to 100"),
    (f"/api/users/{USER}/recommendations", "n=1e400", 400, "n", "valid integer"),
    (f"/api/users/{USER}/recommendations", "n=NaN", 400, "n", "valid integer"),
    (f"/api/users/{USER}/recommendations", "genre=Nonexistent", 400, "genre", "unknown genre"),
    (f"/api/users/{USER}/recommendations", "genre=" + "x" * 5000, 400, "genre", "unknown genre"),
    (f"/api/users/{USER}/recommendations", "genre=%00", 400, "genre", "Null characters"),
    (f"/api/users/{USER}/ratings", "sort=sideways", 400, "sort", "not a valid choice"),
    (f"/api/users/{USER}/ratings", "page=abc", 400, "page", "whole number from 1"),
    (f"/api/users/{USER}/ratings", "page=-1", 400, "page", "whole number from 1"),
    (f"/api/users/{USER}/ratings", f"page={HUGE}", 404, None, f"No page {HUGE}"),
    (f"/api/users/{USER}/ratings", "page_size=abc", 400, "page_size", "whole number from 1 to 200"),
    (f"/api/users/{USER}/ratings", f"page_size={HUGE}", 400, "page_size", "whole number from 1 to 200"),
    ("/api/movies", "year=abc", 400, "year", "valid integer"),
    ("/api/movies", f"year={HUGE}", 400, "year", "less than or equal to 2100"),
    ("/api/movies", "year=-1", 400, "year", "greater than or equal to 1800"),
    ("/api/movies", "genre=Nonexistent", 400, "genre", "unknown genre"),
    ("/api/movies", "search=" + "a" * 201, 400, "search", "no more than 200"),
    ("/api/movies", "search=%00", 400, "search", "Null characters"),
    ("/api/movies", "page=0", 400, "page", "whole number from 1"),
    ("/api/movies", "page=1.5", 400, "page", "whole number from 1"),
    ("/api/movies", f"page={HUGE}", 404, None, f"No page {HUGE}"),
    ("/api/movies", "page_size=0", 400, "page_size", "whole number from 1 to 200"),
    ("/api/movies", "page_size=201", 400, "page_size", "whole number from 1 to 200"),
    ("/api/movies/10/similar", "n=-1", 400, "n", "greater than or equal to 1"),
    ("/api/movies/10/similar", f"n={HUGE}", 400, "n", "less than or equal to 100"),
    ("/api/movies/10/similar", "n=two", 400, "n", "valid integer"),
]

RATING_BODIES = [
    # (JSON body of POST /ratings, field named in "fields", words in the error)
    ({"movie_id": 10, "rating": 6}, "rating", "half stars"),
    ({"movie_id": 10, "rating": 0}, "rating", "half stars"),
    ({"movie_id": 10, "rating": 2.3}, "rating", "half stars"),
    ({"movie_id": 10, "rating": -1}, "rating", "half stars"),
    ({"movie_id": 10, "rating": "NaN"}, "rating", "A valid number is required"),
    ({"movie_id": 10, "rating": "nan"}, "rating", "A valid number is required"),
    ({"movie_id": 10, "rating": "inf"}, "rating", "A valid number is required"),
    ({"movie_id": 10, "rating": "-Infinity"}, "rating", "A valid number is required"),
    ({"movie_id": 10, "rating": "1e400"}, "rating", "A valid number is required"),
    ({"movie_id": 10, "rating": "four"}, "rating", "A valid number is required"),
    ({"movie_id": 10, "rating": ""}, "rating", "A valid number is required"),
    ({"movie_id": 10, "rating": None}, "rating", "may not be null"),
    ({"movie_id": 10, "rating": [4]}, "rating", "A valid number is required"),
    ({"movie_id": 10, "rating": {"value": 4}}, "rating", "A valid number is required"),
    ({"movie_id": 10, "rating": True}, "rating", "A valid number is required"),
    ({"movie_id": 10}, "rating", "required"),
    ({"rating": 4}, "movie_id", "required"),
    ({}, "movie_id", "required"),
    ({"movie_id": "ten", "rating": 4}, "movie_id", "valid integer"),
    ({"movie_id": -10, "rating": 4}, "movie_id", "greater than or equal to 1"),
    ({"movie_id": 0, "rating": 4}, "movie_id", "greater than or equal to 1"),
    ({"movie_id": 99999, "rating": 4}, "movie_id", "No movie with id 99999"),
    ({"movie_id": int(HUGE), "rating": 4}, "movie_id", f"No movie with id {HUGE}"),
    ({"movie_id": 10.5, "rating": 4}, "movie_id", "valid integer"),
    ([{"movie_id": 10, "rating": 4}], "non_field_errors", "Expected a dictionary"),
    ("4", "non_field_errors", "Expected a dictionary"),
]

RAW_BODIES = [
    # (method, path, body bytes, content type, status, words in the error)
    ("post", f"/api/users/{USER}/ratings", b"movie_id=10&rating=4", "application/x-www-form-urlencoded", 415,
     "Unsupported media type"),
    ("post", f"/api/users/{USER}/ratings", b"movie_id=10&rating=4", "multipart/form-data; boundary=x", 415,
     "Unsupported media type"),
    ("post", f"/api/users/{USER}/ratings", b'{"movie_id": 10, "rating": 4}', "text/plain", 415,
     "Unsupported media type"),
    ("put", f"/api/users/{USER}/ratings/10", b'{"rating": 4}', "application/xml", 415, "Unsupported media type"),
    ("post", f"/api/users/{USER}/ratings", b'{"movie_id": 10, "rating": ', "application/json", 400, "JSON parse error"),
    ("post", f"/api/users/{USER}/ratings", b"\xff\xfe\x00garbage", "application/json", 400, "JSON parse error"),
    ("post", f"/api/users/{USER}/ratings", b'{"movie_id": 10, "rating": NaN}', "application/json", 400,
     "not JSON compliant: 'NaN'"),
    ("put", f"/api/users/{USER}/ratings/10", b'{"rating": Infinity}', "application/json", 400,
     "not JSON compliant: 'Infinity'"),
    ("put", f"/api/users/{USER}/ratings/10", b'{"rating": 1e400}', "application/json", 400,
     "A valid number is required"),
    ("put", f"/api/users/{USER}/ratings/10", b"", "application/json", 400, "rating"),
]


def _json_error(response, status: int, words: str) -> dict:
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert body["status"] == status
    assert words.lower() in body["error"].lower() + json.dumps(body.get("fields", {})).lower(), body
    return body


@pytest.fixture
def operator_client(client, db) -> Client:
    """The test client signed in as an operator (the runs API takes the session first; ``auth`` is a service's token)."""
    client.force_login(make_operator("op")[0])
    return client


@pytest.mark.parametrize(("method", "path", "status", "words"), PATH_IDS)
def test_bad_ids_in_the_path(operator_client, auth, published, method, path, status, words):
    """Non-numeric, negative, zero and huge ids are a JSON 404 naming the problem (a 403 for a huge user id: see
    PATH_IDS); nothing is stored."""
    before = stored()
    body = {"rating": 4} if method == "put" else {"movie_id": 10, "rating": 4}
    response = getattr(operator_client, method)(path, body, content_type="application/json", **auth)
    _json_error(response, status, words)
    assert stored() == before


@pytest.mark.parametrize(("path", "query", "status", "field", "words"), QUERY_PARAMETERS)
def test_bad_query_parameters(client, published, path, query, status, field, words):
    """Each bad query parameter is a JSON 400 (404 for a page past the end) naming the field."""
    before = stored()
    body = _json_error(client.get(f"{path}?{query}"), status, words)
    if field is not None:
        assert field in body["fields"], body
    assert stored() == before


@pytest.mark.parametrize(("payload", "field", "words"), RATING_BODIES, ids=lambda v: repr(v)[:40])
def test_bad_rating_bodies(client, auth, published, payload, field, words):
    """Ratings like 6, 0, 2.3, NaN, inf and strings, missing or wrong fields: a 400 naming the field; no rating stored."""
    before = stored()
    for method, path, body in (
        ("post", f"/api/users/{USER}/ratings", payload),
        ("put", f"/api/users/{USER}/ratings/10", payload if field != "movie_id" else None),
    ):
        if body is None:
            continue
        response = getattr(client, method)(path, json.dumps(body), content_type="application/json", **auth)
        result = _json_error(response, 400, words)
        assert field in result["fields"], result
    assert stored() == before


@pytest.mark.parametrize(("method", "path", "raw", "content_type", "status", "words"), RAW_BODIES,
                         ids=lambda v: v if isinstance(v, str) else None)
def test_bad_bodies_and_content_types(client, auth, published, method, path, raw, content_type, status, words):
    """A body that is not JSON is a 415, broken JSON a 400; nothing is stored."""
    before = stored()
    response = getattr(client, method)(path, raw, content_type=content_type, **auth)
    _json_error(response, status, words)
    assert stored() == before


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=10_000)
@pytest.mark.parametrize(("method", "path"), [
    ("post", f"/api/users/{USER}/ratings"),
    ("put", f"/api/users/{USER}/ratings/10"),
    ("post", "/api/runs"),
])
def test_oversized_bodies_are_413(operator_client, auth, published, method, path):
    """A body over DATA_UPLOAD_MAX_MEMORY_SIZE is a JSON 413 before it is parsed; nothing is stored."""
    before = stored()
    padding = "x" * 20_000
    raw = json.dumps({"movie_id": 10, "rating": 4, "algorithm": "popularity", "padding": padding})
    response = getattr(operator_client, method)(path, raw, content_type="application/json", **auth)
    _json_error(response, 413, "too large")
    assert stored() == before


def test_a_rating_for_a_profile_id_nobody_owns_is_refused(client, auth, published):
    """A profile-range user id that no account owns cannot be rated for, not even by a service (403: a service
    writes for MovieLens users only)."""
    before = stored()
    response = client.post("/api/users/1000000001/ratings", {"movie_id": 10, "rating": 4},
                           content_type="application/json", **auth)
    _json_error(response, 403, "your own ratings")
    assert stored() == before


EVENT_ROWS = hostile_events(
    (timezone.now() - timedelta(hours=1)).isoformat(), (timezone.now() + timedelta(hours=1)).isoformat()
)


@pytest.mark.parametrize(("name", "raw", "status", "words", "accepted"), EVENT_ROWS, ids=[row[0] for row in EVENT_ROWS])
def test_bad_events(client, auth, published, name, raw, status, words, accepted):
    """Each bad event or body is a JSON 4xx naming the event or line; the good events beside it are stored, the bad not."""
    before = stored(tables=tuple(t for t in stored() if t != "recommender_event"))
    content_type = "application/x-ndjson" if name.startswith("ndjson") else "application/json"
    response = client.post("/api/events", raw, content_type=content_type, **auth)
    _json_error(response, status, words)
    assert sorted(Event.objects.values_list("event_id", flat=True)) == accepted
    assert stored(tables=tuple(before)) == before


@pytest.mark.parametrize("value", HOSTILE_IDS.values(), ids=HOSTILE_IDS.keys())
def test_hostile_ids_as_event_users_are_refused(client, auth, published, value):
    """Every hostile id, sent as a user_id string, is refused as a wrong type; nothing is stored."""
    event = {"event_id": "h", "user_id": value, "movie_id": 10, "type": "watched",
             "time": (timezone.now() - timedelta(hours=1)).isoformat()}
    response = client.post("/api/events", json.dumps([event]), content_type="application/json", **auth)
    _json_error(response, 422, "event 0: user_id: a whole number is required")
    assert not Event.objects.exists()


def test_a_retried_event_is_a_duplicate_not_an_error(client, auth, published):
    """Sending the same event twice (and twice in one request) stores it once and answers 200 both times."""
    event = {"event_id": "again", "user_id": USER, "movie_id": 10, "type": "watched",
             "time": (timezone.now() - timedelta(hours=1)).isoformat()}
    first = client.post("/api/events", json.dumps([event, event]), content_type="application/json", **auth)
    second = client.post("/api/events", json.dumps([event]), content_type="application/json", **auth)
    assert (first.status_code, second.status_code) == (200, 200)
    assert [r["status"] for r in first.json()["results"]] == ["accepted", "duplicate"]
    assert second.json()["duplicate"] == 1 and Event.objects.count() == 1
