"""Fault: Redis is stopped while the site takes ratings.

The test runs a Redis of its own (``web.embedded.redis_url`` on a directory
under ``tmp_path``, append-only file on, as in the cluster); the shared
embedded Redis is never stopped. Ratings made during the outage are stored
and acknowledged with ``refresh: unavailable``, the user's page says the
recommendations will update later, and the refresh that was queued before
the outage survives it and runs once Redis is back, covering the outage's
rating too.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from tests.helpers import ScratchDatabase
from tests.helpers import wait_for
from tests.reliability.faultstack import Stack, redis_pid
from web import embedded

pytestmark = [pytest.mark.e2e, pytest.mark.movielens]

USER_ID = 9


def _stop_redis(data_dir: Path) -> None:
    pid = redis_pid(data_dir)
    os.kill(pid, signal.SIGTERM)  # a clean shutdown: the append-only file is flushed, as on a pod stop
    wait_for(lambda: not Path(f"/proc/{pid}").exists(), 30, "Redis to stop")


@pytest.fixture
def stack(movielens_small, tmp_path):
    """A scratch database with ml-latest-small and a published run, the web server, and a Redis of the test's own."""
    redis_dir = tmp_path / "services"
    database = ScratchDatabase("faults_redis")
    stack = Stack(database_url=database.url, dsn=database.dsn, redis_url=embedded.redis_url(redis_dir), log_dir=tmp_path)
    try:
        stack.prepare(movielens_small)
        stack.start("web")
        yield stack, redis_dir
    finally:
        stack.stop_all()
        if (redis_dir / "redis" / "redis.pid").exists():
            try:
                _stop_redis(redis_dir)
            except (ProcessLookupError, ValueError):
                pass
        database.drop()


def test_ratings_are_stored_while_redis_is_down_and_queued_work_runs_after(stack):
    """With Redis stopped ratings are stored and the page says updates are delayed; the queued refresh runs once it is back."""
    stack, redis_dir = stack
    old = [movie for movie, _, _ in stack.user_rows(USER_ID)]
    before_outage, during_outage = old[0], old[1]

    status, _, body = stack.request("POST", f"/api/users/{USER_ID}/ratings", {"movie_id": before_outage, "rating": 1.0})
    assert status == 201 and json.loads(body)["refresh"] == "queued", body  # no worker yet: the job waits in Redis

    _stop_redis(redis_dir)
    status, _, body = stack.request("POST", f"/api/users/{USER_ID}/ratings", {"movie_id": during_outage, "rating": 1.5})
    assert status == 201, body
    assert json.loads(body)["refresh"] == "unavailable"
    assert stack.sql("SELECT rating FROM recommender_rating WHERE user_id = %s AND movie_id = %s",
                     (USER_ID, during_outage)) == [(1.5,)]  # stored: records lost 0
    status, _, page = stack.request("GET", f"/users/{USER_ID}/")
    assert status == 200
    assert b"Recommendations will update later: the background queue is unavailable." in page
    served = json.loads(stack.request("GET", f"/api/users/{USER_ID}/recommendations?n=20")[2])
    assert not {before_outage, during_outage} & {item["movie"]["movie_id"] for item in served["recommendations"]}

    assert embedded.redis_url(redis_dir) == stack.redis_url  # started again on the same socket, from its append-only file
    stack.start("worker")
    wait_for(lambda: before_outage not in {m for m, _, _ in stack.user_rows(USER_ID)}, 60,
               "the refresh queued before the outage to run")
    refreshed = {movie for movie, _, _ in stack.user_rows(USER_ID)}
    assert during_outage not in refreshed  # the outage's rating is covered by the same refresh
    assert len(refreshed) == 100
