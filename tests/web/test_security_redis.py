"""Redis that is full or down (issue #16, item 11).

The queue's Redis must refuse writes rather than evict queued jobs (``maxmemory-policy noeviction``
with a ``maxmemory``), and the app must answer cleanly when it does: the rating is stored and
acknowledged (its refresh waits for the next batch run), the operators' start of a run is a clear 503
JSON, pages still render. The rate limits fail open while Redis refuses or is unreachable: a
deliberate choice (docs/reliability.md, "Security"). Each test runs a Redis of its own
(``web.embedded.redis_url`` under ``tmp_path``); the shared one is never filled or stopped.
"""

from __future__ import annotations

import pytest
import redis
from django.contrib.auth.models import User
from django.test import Client

from tests.account_helpers import make_member, make_operator
from web import embedded
from web.progress.models import Run
from web.queue import get_queue, new_redis_client
from web.recommender.models import Rating


@pytest.fixture
def own_redis_dir(tmp_path):
    """Where a Redis of the test's own runs, started exactly as the embedded one is; stopped after."""
    data_dir = tmp_path / "services"
    yield data_dir
    embedded.stop(data_dir)


@pytest.fixture
def own_redis(own_redis_dir) -> str:
    return embedded.redis_url(own_redis_dir)


def _fill_to_the_limit(client: redis.Redis) -> None:
    """Put 2 MB in, then set maxmemory to half of what is used: from now on every write is refused.

    (Half, not just below: the memory Redis reports falls back once a large command's buffers are freed.)
    """
    with client.pipeline() as pipe:
        for n in range(2048):
            pipe.set(f"ballast:{n}", b"x" * 1024)
        pipe.execute()
    client.config_set("maxmemory", int(client.info("memory")["used_memory"]) // 2)
    with pytest.raises(redis.ResponseError, match="used memory > .maxmemory"):
        client.set("one-more", b"x")


def test_an_embedded_redis_started_before_the_policy_gets_it_when_reused(own_redis_dir):
    """A server already running (started with an older config) is given the policy by the next process that asks."""
    client = new_redis_client(embedded.redis_url(own_redis_dir))
    client.config_set("maxmemory-policy", "allkeys-lru")
    client.config_set("maxmemory", 0)
    embedded.redis_url(own_redis_dir)
    assert client.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
    assert int(client.config_get("maxmemory")["maxmemory"]) == embedded.REDIS_MAXMEMORY_BYTES


def test_the_embedded_redis_refuses_writes_rather_than_evicting_queued_jobs(own_redis):
    """The attack on the queue: fill Redis. With noeviction the jobs already queued all stay and new writes
    are refused with an error the app can see; an evicting policy would have dropped queued jobs silently."""
    client = new_redis_client(own_redis)
    assert client.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
    assert int(client.config_get("maxmemory")["maxmemory"]) == embedded.REDIS_MAXMEMORY_BYTES > 0
    queue = get_queue(client)
    jobs = [queue.enqueue_call("web.recommender.tasks.refresh_user", args=(user,)).id for user in range(1, 51)]
    _fill_to_the_limit(client)
    with pytest.raises(redis.ResponseError, match="used memory > .maxmemory"):
        queue.enqueue_call("web.recommender.tasks.refresh_user", args=(51,))
    assert queue.job_ids == jobs


@pytest.fixture
def full_redis(own_redis, settings, catalogue):
    """The site's REDIS_URL pointed at a Redis that refuses every write (OOM); limits lowered to 2 writes."""
    settings.REDIS_URL = own_redis
    settings.RATING_WRITES_PER_ACCOUNT = 2
    _fill_to_the_limit(new_redis_client(own_redis))
    return own_redis


def _member() -> tuple[User, int, str]:
    account, profile, key = make_member("alice")
    return account, profile.user_id, key


def test_a_rating_is_stored_and_acknowledged_while_redis_refuses_writes(full_redis):
    """API and star form: the rating is stored, the answer says the refresh waits; past the (fail-open)
    write limit too, so a full Redis does not stop anyone rating."""
    account, user_id, token = _member()
    api = Client(HTTP_AUTHORIZATION=f"Token {token}")
    for movie in (10, 20, 30):
        response = api.post(f"/api/users/{user_id}/ratings", {"movie_id": movie, "rating": 4.5}, content_type="application/json")
        assert response.status_code == 201, response.content
        assert response.json()["refresh"] == "unavailable"
    browser = Client()
    browser.force_login(account)
    page = browser.post("/movies/40/rate", {"rating": "3.0"}, follow=True)
    assert page.status_code == 200
    assert "Recommendations will update later (the background queue is unavailable)." in page.content.decode()
    assert dict(Rating.objects.filter(user_id=user_id).values_list("movie_id", "rating")) == {10: 4.5, 20: 4.5, 30: 4.5, 40: 3.0}
    assert browser.get("/me/").status_code == 200


def test_starting_a_run_while_redis_refuses_writes_is_a_clear_503(full_redis):
    """The operators' start: a 503 JSON naming the queue, the run recorded as failed (not left pending)."""
    operator, _ = make_operator("operator-x")
    client = Client()
    client.force_login(operator)
    response = client.post("/api/runs", {"algorithm": "popularity"}, content_type="application/json")
    assert response.status_code == 503, response.content
    body = response.json()
    assert body["status"] == 503 and "could not queue the run" in body["error"]
    assert "maxmemory" in body["error"]
    assert Run.objects.get(pk=body["run_id"]).status == "failed"


def test_the_write_limit_fails_open_while_redis_is_down(catalogue, settings):
    """Redis unreachable: rating writes are neither limited nor refused (the choice documented with the limits)."""
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    settings.RATING_WRITES_PER_ACCOUNT = 2
    _, user_id, token = _member()
    api = Client(HTTP_AUTHORIZATION=f"Token {token}")
    statuses = [
        api.post(f"/api/users/{user_id}/ratings", {"movie_id": movie, "rating": 2.0}, content_type="application/json").status_code
        for movie in (10, 20, 30, 40)
    ]
    assert statuses == [201] * 4
    assert Rating.objects.filter(user_id=user_id).count() == 4
