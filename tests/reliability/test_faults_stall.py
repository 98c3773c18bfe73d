"""Fault: PostgreSQL or Redis stalls (alive, connections accepted, nothing answered) while the web server runs.

A stopped process (SIGSTOP) is what a hung server looks like from outside: the kernel still accepts connections and
takes the bytes sent, so nothing fails, it only never answers. The test runs a PostgreSQL and a Redis of its own
(``web.embedded`` under a temporary directory, with the cluster's two roles) and the web server on the app role, as
the cluster does; the shared servers are never stopped. While a dependency stalls, every probe, scrape and request
gets an answer within the time its client waits on the cluster (the kubelet's ``timeoutSeconds``, Prometheus's
``scrapeTimeout``, read from k8s/), and afterwards the same server serves again.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path

import psycopg2
import pytest
import yaml

from tests.helpers import wait_for
from tests.reliability.faultstack import (
    REPO,
    Stack,
    postgres_pids,
    redis_pid,
    stalled,
    stop_group,
)
from web import embedded
from web.dbroles import roles

pytestmark = [pytest.mark.e2e, pytest.mark.movielens]

USER_ID = 3
REQUEST_TIMEOUT = 4
"""DATABASE_REQUEST_TIMEOUT of the test's web server: seconds a request may wait on the database (15 by default)."""
STALL_SECONDS = 6
"""How long the worker's test keeps each server stopped: longer than the clients' socket timeouts (5 s at most)."""
CLIENT_WAIT = 10
"""How long the test's client waits for a page or an API answer: the request's time, a connect's and some to spare."""


def _web_probe_timeout(probe: str) -> float:
    deployment = yaml.safe_load((REPO / "k8s" / "app" / "web-deployment.yaml").read_text())
    (container,) = [c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == "web"]
    return float(container[probe]["timeoutSeconds"])


def _scrape_timeout() -> float:
    monitor = yaml.safe_load((REPO / "k8s" / "overlays" / "monitoring" / "service-monitor.yaml").read_text())
    (endpoint,) = monitor["spec"]["endpoints"]
    return float(endpoint["scrapeTimeout"].removesuffix("s"))


@pytest.fixture(scope="module")
def stall_stack(movielens_small):
    """Servers of the module's own (a short path: the sockets live there), ml-latest-small and a run; the web server."""
    root = Path(tempfile.mkdtemp(prefix="stl", dir="/tmp"))
    owner_url = embedded.postgres_url(root, "stall", roles.OWNER_ROLE)
    stack = Stack(database_url=owner_url, dsn=owner_url, redis_url=embedded.redis_url(root), log_dir=root,
                  serving_env={"DATABASE_URL": embedded.postgres_url(root, "stall", roles.APP_ROLE),
                               "DATABASE_REQUEST_TIMEOUT": str(REQUEST_TIMEOUT)})
    try:
        stack.prepare(movielens_small)
        stack.start("web")
        yield stack, root
    finally:
        stack.stop_all()
        embedded.stop(root)
        shutil.rmtree(root, ignore_errors=True)


def _warm(stack: Stack) -> None:
    """Requests enough for both of the server's threads to hold a pooled connection, and the service answering."""
    for _ in range(4):
        assert stack.request("GET", f"/api/users/{USER_ID}/recommendations?n=5")[0] == 200
    assert stack.request("GET", "/readyz")[0] == 200


def _metrics(stack: Stack) -> str:
    status, _, body = stack.request("GET", "/metrics", timeout=_scrape_timeout())
    assert status == 200, body[:2000]
    return body.decode()


def test_stalled_postgres_gets_probes_scrapes_and_requests_answered_in_bounded_time(stall_stack):
    """With PostgreSQL stopped mid-service: /healthz 200, /readyz a 503 naming the database within the probe's
    timeout, /metrics within the scrape timeout saying the database reads failed, pages and API a 503; then service returns."""
    stack, root = stall_stack
    _warm(stack)
    with stalled(postgres_pids(root / "postgres")):
        status, _, body = stack.request("GET", "/readyz", timeout=_web_probe_timeout("readinessProbe"))
        assert status == 503 and json.loads(body) == {"status": "unavailable", "database": "unavailable"}

        series = _metrics(stack)
        assert "movielens_runs_scrape_ok 0.0" in series and "movielens_tables_scrape_ok 0.0" in series
        assert "movielens_queue_scrape_ok 1.0" in series  # Redis is fine, and still read
        assert "movielens_http_requests_total{" in series  # the process's own series are still served

        status, headers, body = stack.request("GET", f"/api/users/{USER_ID}/recommendations?n=5", timeout=CLIENT_WAIT)
        assert status == 503 and "database is unavailable" in json.loads(body)["error"], body[:2000]
        assert int(headers["Retry-After"]) > 0

        # Anonymous: the public list's shortcut (web/recommender/middleware.py) reads before the view, then the view.
        status, _, body = stack.request("GET", f"/api/users/{USER_ID}/recommendations?n=5",
                                        headers={"Authorization": None}, timeout=CLIENT_WAIT)
        assert status == 503 and "database is unavailable" in json.loads(body)["error"], body[:2000]

        status, headers, body = stack.request("GET", "/movies/", headers={"Authorization": ""}, timeout=CLIENT_WAIT)
        assert status == 503 and headers["Content-Type"].startswith("text/html"), body[:2000]
        assert b"Temporarily unavailable" in body

        # Liveness answers throughout: the threads that waited on the database are free again.
        assert stack.request("GET", "/healthz", timeout=_web_probe_timeout("livenessProbe"))[0] == 200

        with stalled([redis_pid(root)]):  # the whole node frozen: both at once still make a scrape, not a timeout
            series = _metrics(stack)
            assert "movielens_runs_scrape_ok 0.0" in series and "movielens_queue_scrape_ok 0.0" in series

    wait_for(lambda: stack.request("GET", "/readyz", timeout=CLIENT_WAIT)[0] == 200, 30, "/readyz to recover")
    assert stack.request("GET", f"/api/users/{USER_ID}/recommendations?n=5", timeout=CLIENT_WAIT)[0] == 200
    assert "movielens_runs_scrape_ok 1.0" in _metrics(stack)
    assert stack.processes["web"].poll() is None  # the same server, never restarted


def _unrated_movie(stack: Stack) -> int:
    return stack.sql("SELECT movie_id FROM recommender_movie WHERE movie_id NOT IN "
                     "(SELECT movie_id FROM recommender_rating WHERE user_id = %s) ORDER BY movie_id LIMIT 1",
                     (USER_ID,))[0][0]


def _app_backends_waiting_on_a_lock(stack: Stack) -> list[tuple]:
    # As the superuser: to any other role, pg_stat_activity shows another role's sessions without their wait events.
    with psycopg2.connect(stack.dsn.replace(f"//{roles.OWNER_ROLE}@", "//postgres@", 1)) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT pid, query FROM pg_stat_activity WHERE usename = %s AND wait_event_type = 'Lock'",
                       (roles.APP_ROLE,))
        rows = cursor.fetchall()
    conn.close()
    return rows


def test_query_behind_an_exclusive_lock_gets_a_503_and_leaves_no_waiter_behind(stall_stack):
    """A request whose tables another transaction holds ACCESS EXCLUSIVE (a migration, a hand-made LOCK) gets a 503 in
    bounded time, /metrics still answers, and no app session is left queued for the lock."""
    stack, _ = stall_stack
    movie = _unrated_movie(stack)
    _warm(stack)
    locker = psycopg2.connect(stack.dsn)
    try:
        with locker.cursor() as cursor:
            cursor.execute("LOCK TABLE recommender_rating, progress_run IN ACCESS EXCLUSIVE MODE")
        status, _, body = stack.request("POST", f"/api/users/{USER_ID}/ratings", {"movie_id": movie, "rating": 2.0},
                                        timeout=CLIENT_WAIT)
        assert status == 503 and "nothing was changed" in json.loads(body)["error"], body[:2000]
        series = _metrics(stack)
        assert "movielens_runs_scrape_ok 0.0" in series
        # A session left in the lock's queue would make every later reader of the table wait behind it too.
        wait_for(lambda: not _app_backends_waiting_on_a_lock(stack), CLIENT_WAIT, "the app's lock waits to end")
    finally:
        locker.rollback()
        locker.close()
    assert stack.sql("SELECT 1 FROM recommender_rating WHERE user_id = %s AND movie_id = %s", (USER_ID, movie)) == []
    assert stack.request("GET", f"/api/users/{USER_ID}/recommendations?n=5", timeout=CLIENT_WAIT)[0] == 200


def test_stalled_redis_keeps_ratings_pages_probes_and_scrapes_answering(stall_stack):
    """With Redis stopped mid-service: a rating is stored (its refresh unavailable), the user's page and /readyz
    answer, and /metrics answers within the scrape timeout saying the queue could not be read."""
    stack, root = stall_stack
    movie = _unrated_movie(stack)
    _warm(stack)
    assert "movielens_queue_scrape_ok 1.0" in _metrics(stack)  # the server's Redis connection is pooled and warm
    with stalled([redis_pid(root)]):
        series = _metrics(stack)
        assert "movielens_queue_scrape_ok 0.0" in series and "movielens_runs_scrape_ok 1.0" in series

        status, _, body = stack.request("POST", f"/api/users/{USER_ID}/ratings", {"movie_id": movie, "rating": 4.0},
                                        timeout=CLIENT_WAIT)
        assert status == 201 and json.loads(body)["refresh"] == "unavailable", body[:2000]
        assert stack.sql("SELECT rating FROM recommender_rating WHERE user_id = %s AND movie_id = %s",
                         (USER_ID, movie)) == [(4.0,)]

        status, _, page = stack.request("GET", f"/users/{USER_ID}/", timeout=CLIENT_WAIT)
        assert status == 200, page[:2000]
        # Redis decides no request's readiness: without it ratings are still taken and lists served.
        assert stack.request("GET", "/readyz", timeout=_web_probe_timeout("readinessProbe"))[0] == 200
    assert "movielens_queue_scrape_ok 1.0" in _metrics(stack)


def test_worker_carries_on_after_redis_and_postgres_stalled_under_it(stall_stack):
    """The RQ worker, idle in its blocking dequeue while Redis and then PostgreSQL stall, is still there afterwards
    and refreshes the next rating's list: a stall pauses it, nothing wedges it."""
    stack, root = stall_stack
    worker = stack.start("worker")
    try:
        first, second = [movie for movie, _, _ in stack.user_rows(USER_ID)][:2]
        for movie in (first, second):
            if movie == second:
                for pids in ([redis_pid(root)], postgres_pids(root / "postgres")):
                    with stalled(pids):
                        time.sleep(STALL_SECONDS)  # the fault's length, long enough for any wait of the worker's to start
            status, _, body = stack.request("POST", f"/api/users/{USER_ID}/ratings",
                                            {"movie_id": movie, "rating": 1.0}, timeout=CLIENT_WAIT)
            assert status == 201 and json.loads(body)["refresh"] == "queued", body[:2000]
            wait_for(lambda m=movie: m not in {row[0] for row in stack.user_rows(USER_ID)}, 60, "the worker's refresh")
        assert worker.poll() is None
    finally:
        stop_group(stack.processes.pop("worker"))
