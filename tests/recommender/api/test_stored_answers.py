"""Stored answers (web/recommender/stored_answers.py): a repeated read is the body rendered for the same ETag, and never
another account's, an older one's or another host's."""

from __future__ import annotations

import pytest
from django.conf import settings as settings_module
from django.contrib.auth.models import User
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.http import HttpResponse
from django.test import Client

from tests.account_helpers import grant, issue_key, make_operator
from tests.observability.conftest import value
from web.recommender.middleware import AnonymousPublicListMiddleware
from web.recommender.models import Profile, Rating
from web.recommender.stored_answers import ANSWERS, StoredAnswer, StoredAnswers

USER = 101
LIST = f"/api/users/{USER}/recommendations?n=10"
ROUTE = "api/users/<int:user_id>/recommendations"
VARYING_HEADERS = {"X-Request-ID"}
"""Headers a repeated answer may carry differently: its own request id."""


def _headers(response) -> dict[str, str]:
    return {name: value for name, value in response.headers.items() if name not in VARYING_HEADERS}


def test_a_repeated_read_is_the_stored_body_after_one_query(client, published, django_assert_num_queries):
    """The second read of a list costs its validator's query only, and is the first answer byte for byte, headers too."""
    first = client.get(LIST)
    assert first.status_code == 200 and len(ANSWERS) == 1
    with django_assert_num_queries(1):
        again = client.get(LIST)
    assert again.status_code == 200
    assert again.content == first.content and _headers(again) == _headers(first)


def test_a_rating_makes_the_next_read_a_new_answer(client, auth, published, django_capture_on_commit_callbacks):
    """The rated movie leaves the list at once: the stored body of the old ETag is not sent."""
    first = client.get(LIST).json()
    top = first["recommendations"][0]["movie"]["movie_id"]
    with django_capture_on_commit_callbacks(execute=False):
        written = client.post(f"/api/users/{USER}/ratings", {"movie_id": top, "rating": 2.0},
                              content_type="application/json", **auth)
    assert written.status_code == 201
    after = client.get(LIST).json()
    assert top not in [item["movie"]["movie_id"] for item in after["recommendations"]]
    assert Rating.objects.filter(user_id=USER, movie_id=top).exists()


def test_the_query_and_the_host_are_part_of_the_key(client, published, settings):
    """``n=5`` is not ``n=10``'s body; a catalogue page read under another host names that host in its links."""
    settings.ALLOWED_HOSTS = ["testserver", "api.example.org"]
    client.get(LIST)
    assert len(client.get(f"/api/users/{USER}/recommendations?n=5").json()["recommendations"]) == 5
    url = "/api/movies?page_size=2"
    assert "http://testserver/" in client.get(url).json()["next"]
    assert "http://api.example.org/" in client.get(url, HTTP_HOST="api.example.org").json()["next"]
    assert client.get(url, HTTP_HOST="evil.example.org").status_code == 400


def _member(name: str) -> tuple[Profile, dict[str, str]]:
    account = User.objects.create_user(name, password=f"{name}-pass-123")
    return Profile.objects.for_account(account), {"HTTP_AUTHORIZATION": f"Token {issue_key(account)}"}


def test_a_private_list_stored_for_its_account_is_never_sent_to_another(client, published):
    """Alice's list, once stored, is still a 403 for Bob and a 401 for no one; a granted reader gets it under an ETag of
    their own (another stored answer), the same list."""
    alice, alice_headers = _member("alice")
    _, bob_headers = _member("bob")
    url = f"/api/users/{alice.user_id}/recommendations?n=10"
    own = client.get(url, **alice_headers)
    assert own.status_code == 200 and client.get(url, **alice_headers).content == own.content
    assert client.get(url, **bob_headers).status_code == 403
    assert client.get(url).status_code == 401
    reader, key = make_operator("reader")
    grant(reader, "recommender.read_private_profiles")
    granted = client.get(url, HTTP_AUTHORIZATION=f"Token {key}")
    assert granted.status_code == 200 and granted["ETag"] != own["ETag"] and granted.json() == own.json()
    assert len(ANSWERS) == 2


def test_errors_are_not_stored(client, published):
    """A 404 or a 400 keeps nothing: the next request is answered afresh."""
    assert client.get("/api/users/999999/recommendations").status_code == 404
    assert client.get(f"/api/users/{USER}/recommendations?n=0").status_code == 400
    assert len(ANSWERS) == 0


def test_the_least_recently_used_answers_go_first_within_the_byte_bound():
    """Bodies past the bound push out the least recently used; one larger than an eighth of it is never kept."""
    answers = StoredAnswers(max_bytes=1600)
    for key in "abcdefgh":
        answers.put((key,), StoredAnswer(b"x" * 200, "application/json"))
    assert len(answers) == 8  # exactly the bound
    answers.get(("a",))  # used: b is now the oldest
    answers.put(("i",), StoredAnswer(b"y" * 200, "application/json"))
    assert answers.get(("b",)) is None and answers.get(("a",)) is not None and answers.get(("i",)) is not None
    answers.put(("huge",), StoredAnswer(b"z" * 201, "application/json"))
    assert answers.get(("huge",)) is None and len(answers) == 8


def test_no_answers_are_kept_when_the_setting_is_zero():
    """``ANSWER_CACHE_BYTES=0``: nothing is ever stored."""
    none = StoredAnswers(max_bytes=0)
    none.put(("a",), StoredAnswer(b"x", "application/json"))
    assert none.get(("a",)) is None and len(none) == 0


# -- the anonymous public read, before the session, auth and DRF layers (web/recommender/middleware.py) ------
FAST = "web.recommender.middleware.AnonymousPublicListMiddleware"


def _full_path_client(settings) -> Client:
    """A client whose server runs without the early answer: every request goes through every layer and DRF."""
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != FAST]
    return Client()


def test_the_early_answer_is_the_full_paths_answer(client, published, settings):
    """200 from the stored body and 304, with and without the early answer: same status, body and headers."""
    client.get(LIST)  # stores the body
    early = client.get(LIST)
    early_304 = client.get(LIST, HTTP_IF_NONE_MATCH=early["ETag"])
    full_client = _full_path_client(settings)
    ANSWERS.clear()
    full = full_client.get(LIST)
    full_stored = full_client.get(LIST)
    full_304 = full_client.get(LIST, HTTP_IF_NONE_MATCH=early["ETag"])
    assert early.status_code == full.status_code == full_stored.status_code == 200
    assert early.content == full.content == full_stored.content
    assert _headers(early) == _headers(full) == _headers(full_stored)
    assert early_304.status_code == full_304.status_code == 304
    assert _headers(early_304) == _headers(full_304)


def _early(request_factory, path: str = LIST, **headers) -> HttpResponse | None:
    return AnonymousPublicListMiddleware(lambda request: None).answer(request_factory.get(path, **headers))


def test_the_early_answer_takes_only_anonymous_plain_json_reads_it_knows(rf, client, published, member):
    """It answers a stored list or a 304 and leaves everything else to the full path: credentials, a session, a
    profile's list, another format or Accept, a list not stored yet, another route."""
    assert _early(rf) is None  # nothing stored yet
    etag = client.get(LIST)["ETag"]
    assert _early(rf).status_code == 200 and _early(rf, HTTP_ACCEPT="*/*").status_code == 200
    assert _early(rf, HTTP_IF_NONE_MATCH=etag).status_code == 304
    assert _early(rf, HTTP_AUTHORIZATION="Token whatever") is None
    assert _early(rf, HTTP_COOKIE=f"{settings_module.SESSION_COOKIE_NAME}=abc") is None
    assert _early(rf, HTTP_ACCEPT="application/json; indent=4") is None
    assert _early(rf, LIST + "&format=json") is None
    assert _early(rf, f"/api/users/{member[1].user_id}/recommendations?n=10") is None
    assert _early(rf, f"/api/users/{USER}/ratings") is None
    assert _early(rf, f"/api/users/{USER}/recommendations?n=9") is None  # another query: not stored


@pytest.fixture
def scrape(client, settings):
    """GET /metrics from loopback, as Prometheus inside the cluster would."""
    settings.ALLOWED_HOSTS = ["testserver"]
    return lambda: client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()


def test_the_early_answer_is_counted_under_its_route(client, published, scrape):
    """The metrics and the log line name the route of a list answered early, as for the full path."""
    client.get(LIST)
    before = value(scrape(), "movielens_http_requests_total", route=ROUTE, method="GET", status="200")
    client.get(LIST)
    assert value(scrape(), "movielens_http_requests_total", route=ROUTE, method="GET", status="200") == before + 1


def test_a_connection_the_server_dropped_is_replaced_at_once(client, published):
    """The early answer skips the before-use check of the connection: a connection PostgreSQL has closed is retried
    on a new one, and the client sees its 200, no 503."""
    client.get(LIST)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    other = connections.create_connection(DEFAULT_DB_ALIAS)
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    finally:
        other.close()
    response = client.get(LIST)
    assert response.status_code == 200 and response.json()["user_id"] == USER
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != pid
