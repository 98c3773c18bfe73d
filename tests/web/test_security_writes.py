"""A per-account limit on rating writes, and what a flood does to the queue (issue #16, item 10).

Without it one account (a member's token, or a session) could post ratings as fast as the server
answers: every write is a database upsert and a queue round trip. The limit is counted per account in
the real Redis, over the API's POST/PUT/DELETE and the site's star form together, and sized so that a
person never meets it (docs/reliability.md, "Security"). The refresh deduplication
(``web.recommender.refresh``) already bounds the queue: a flood leaves one queued refresh per user.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from tests.account_helpers import issue_key
from tests.web.test_security_proxies import PRODUCTION, _production_python
from web.accounts.permissions import SERVICES, join_group
from web.queue import get_queue
from web.recommender.models import Event, Profile, Rating, ServiceUser
from web.recommender.refresh import DRAIN_JOB, DUE_KEY

LIMIT = 5
SERVICE_LIMIT = 8


@pytest.fixture(autouse=True)
def small_limits(settings):
    """Five writes per member account and eight per service account in a window long enough not to lapse."""
    settings.RATING_WRITES_PER_ACCOUNT = LIMIT
    settings.RATING_WRITES_PER_SERVICE_ACCOUNT = SERVICE_LIMIT
    settings.RATING_WRITE_WINDOW = 60


def _account(name: str, *, service: bool = False) -> tuple[User, int, str]:
    """An account, its profile's user id and its API token."""
    account = User.objects.create_user(name, password=f"{name}-pass-123")
    if service:
        join_group(account, SERVICES)
    return account, Profile.objects.for_account(account).user_id, issue_key(account)


def _post_rating(token: str, user_id: int, movie_id: int, rating: float = 4.0):
    return Client().post(
        f"/api/users/{user_id}/ratings", {"movie_id": movie_id, "rating": rating},
        content_type="application/json", HTTP_AUTHORIZATION=f"Token {token}",
    )  # fmt: skip


def _assert_refused_json(response) -> None:
    assert response.status_code == 429, (response.status_code, response.content[:300])
    assert 0 < int(response["Retry-After"]) <= 60
    body = response.json()
    assert body["status"] == 429 and "Too many rating changes" in body["error"], body


def test_a_flood_of_api_rating_writes_from_one_account_is_refused_past_the_limit(catalogue):
    """The attack: one member's token posts ratings in a loop. Past the limit each write is a 429 with
    Retry-After and stores nothing; another account is not held back."""
    movies = [int(m) for m in catalogue["movie_ids"]]
    _, alice_id, alice_token = _account("alice")
    statuses = [_post_rating(alice_token, alice_id, movie).status_code for movie in movies[:12]]
    assert statuses == [201] * LIMIT + [429] * (12 - LIMIT)
    _assert_refused_json(_post_rating(alice_token, alice_id, movies[20]))
    assert Rating.objects.filter(user_id=alice_id).count() == LIMIT
    _, bob_id, bob_token = _account("bob")
    assert _post_rating(bob_token, bob_id, movies[0]).status_code == 201


def test_put_and_delete_count_too_and_reads_do_not(catalogue):
    """Changing and removing a rating are writes as well; reading one's ratings is not limited."""
    _, alice_id, token = _account("alice")
    api = Client(HTTP_AUTHORIZATION=f"Token {token}")
    for _ in range(3):
        assert api.put(f"/api/users/{alice_id}/ratings/10", {"rating": 3}, content_type="application/json").status_code in (200, 201)
    assert api.delete(f"/api/users/{alice_id}/ratings/10").status_code == 204
    for _ in range(20):
        assert api.get(f"/api/users/{alice_id}/ratings").status_code == 200
    assert api.put(f"/api/users/{alice_id}/ratings/20", {"rating": 3}, content_type="application/json").status_code == 201
    _assert_refused_json(api.put(f"/api/users/{alice_id}/ratings/20", {"rating": 4}, content_type="application/json"))
    _assert_refused_json(api.delete(f"/api/users/{alice_id}/ratings/20"))
    assert Rating.objects.get(user_id=alice_id, movie_id=20).rating == 3


def test_the_star_form_shares_the_accounts_count_and_answers_429(catalogue):
    """The site's form: the same count as the API for that account; a browser gets a page saying how long
    to wait, a script asking for JSON gets JSON, both with Retry-After; the refused rating is not stored."""
    account, alice_id, token = _account("alice")
    browser = Client()
    browser.force_login(account)
    for movie in (10, 20, 30):
        assert browser.post(f"/movies/{movie}/rate", {"rating": "4.0"}).status_code == 302
    assert _post_rating(token, alice_id, 40).status_code == 201
    assert browser.post("/movies/50/rate", {"rating": "4.0"}).status_code == 302
    page = browser.post("/movies/60/rate", {"rating": "4.0"})
    assert page.status_code == 429
    assert 0 < int(page["Retry-After"]) <= 60
    assert "Too many rating changes" in page.content.decode()
    _assert_refused_json(browser.post("/movies/60/rate", {"rating": "4.0"}, HTTP_ACCEPT="application/json"))
    assert sorted(Rating.objects.filter(user_id=alice_id).values_list("movie_id", flat=True)) == [10, 20, 30, 40, 50]


def test_a_service_account_writing_for_many_users_has_its_own_larger_limit(catalogue):
    """A browsing service rates for all its users through one service token: it gets the larger limit, still finite."""
    _, _, token = _account("service", service=True)
    users = [int(u) for u in catalogue["user_ids"]]
    statuses = [_post_rating(token, user, 250).status_code for user in users[: SERVICE_LIMIT + 2]]
    assert statuses == [201] * SERVICE_LIMIT + [429, 429]
    assert SERVICE_LIMIT > LIMIT


def test_a_services_event_requests_and_new_users_share_its_write_limit(catalogue):
    """A browsing service's POST /api/events (one write per request, whatever its size) and POST /api/users count
    with its ratings; past the limit each is a 429 that says what is counted (not "rating changes", which the
    service did not send) and stores nothing."""
    _, _, token = _account("service", service=True)
    auth = {"HTTP_AUTHORIZATION": f"Token {token}"}
    users = [int(u) for u in catalogue["user_ids"]]

    def events(event_id: str):
        event = {"event_id": event_id, "user_id": users[0], "movie_id": 10, "type": "watched", "time": "2020-01-01T00:00:00Z"}
        return Client().post("/api/events", [event], content_type="application/json", **auth)

    assert [_post_rating(token, user, 250).status_code for user in users[: SERVICE_LIMIT - 2]] == [201] * (SERVICE_LIMIT - 2)
    assert events("within").status_code == 200
    assert Client().post("/api/users", {"external_id": "within"}, content_type="application/json", **auth).status_code == 201
    over = [events("over"), Client().post("/api/users", {"external_id": "over"}, content_type="application/json", **auth)]
    for response in over:
        assert response.status_code == 429 and 0 < int(response["Retry-After"]) <= 60
        assert "event requests" in response.json()["error"] and "rating changes" not in response.json()["error"]
    assert not Event.objects.filter(event_id="over").exists() and not ServiceUser.objects.filter(external_id="over").exists()


def test_a_flood_of_ratings_leaves_at_most_one_queued_refresh_for_the_user(catalogue, settings, redis_conn):
    """What the queue sees under a flood: 25 ratings from one account (under a limit raised for this test)
    with no worker running put the user once on the due set and queue one drain job; the deduplication holds."""
    settings.RATING_WRITES_PER_ACCOUNT = 100
    _, alice_id, token = _account("alice")
    movies = [int(m) for m in catalogue["movie_ids"]]
    answers = [_post_rating(token, alice_id, movie, 3.5).json()["refresh"] for movie in movies]
    assert answers == ["queued"] * len(movies)
    assert [job.func_name for job in get_queue().get_jobs()] == [DRAIN_JOB]
    assert [int(user) for user in redis_conn.smembers(DUE_KEY)] == [alice_id]


def test_the_renamed_staff_limit_setting_stops_the_start():
    """RATING_WRITES_PER_STAFF_ACCOUNT (before staff stopped meaning service) is refused, not silently ignored."""
    result = _production_python("import web.settings", PRODUCTION | {"RATING_WRITES_PER_STAFF_ACCOUNT": "5000"})
    assert result.returncode != 0
    assert "renamed RATING_WRITES_PER_SERVICE_ACCOUNT" in result.stderr
    assert _production_python("import web.settings", PRODUCTION).returncode == 0
