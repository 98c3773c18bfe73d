"""Connection handling: a bounded pool of persistent connections under a burst, and no connection carried into a fork.

the web server's worker threads each keep one persistent connection (``CONN_MAX_AGE``,
checked before reuse by ``CONN_HEALTH_CHECKS``), so the web tier never holds
more than workers x threads connections however many requests arrive. The
precompute job and the RQ worker fork; a psycopg2 connection open in the
parent at a fork is a socket the child shares, and two processes on one
socket corrupt the session, so both must close theirs first.
"""

from __future__ import annotations

import gc
import os
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg2
import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from bench.api_load import THREADS, WORKERS, Planned, drive, free_port, run_coroutine, stop, wait_until_up, web_server
from jobs.precompute.options import JobOptions
from tests.helpers import REPO, database_url, run
from web.queue import get_queue
from web.recommender.tasks import refresh_user

APP_NAME = "burst-web"
"""``application_name`` of the web workers' connections, so the burst counts only theirs."""
POOL_BOUND = WORKERS * THREADS
"""Connections the web tier may hold: one persistent connection per web worker thread."""
OTHER_CONNECTIONS = 4 + 1
"""Besides the web tier: the precompute job (its own, heartbeat, run lock, one spare) and the worker's work horse."""

_forks: list[list[str]] | None = None
_ambient: set[int] = set()


def _open_connections() -> list[psycopg2.extensions.connection]:
    """Every psycopg2 connection of this process that is still open (Django's, a heartbeat's, a lock's...)."""
    # type(), not isinstance(): the heap holds weak proxies, and isinstance() on a dead one raises.
    return [c for c in gc.get_objects() if issubclass(type(c), psycopg2.extensions.connection) and not c.closed]


def _describe(conn: psycopg2.extensions.connection) -> str:
    return f"backend pid {conn.info.backend_pid} (dsn {conn.dsn})"


def _before_fork() -> None:
    if _forks is not None:
        _forks.append([_describe(c) for c in _open_connections() if id(c) not in _ambient])


os.register_at_fork(before=_before_fork)


@contextmanager
def recording_forks() -> Iterator[list[list[str]]]:
    """The open connections of this process at each fork inside the block (what each child would inherit).

    Connections that other tests' threads left open before the block (a live
    server's, say) are not the code under test's and are left out; this
    thread's Django connection is not: closing it before a fork is the point.
    """
    global _forks, _ambient
    own = connection.connection
    _ambient = {id(c) for c in _open_connections() if c is not own}
    _forks = []
    try:
        yield _forks
    finally:
        _forks, _ambient = None, set()


class ConnectionSampler:
    """Watches ``pg_stat_activity`` from a thread: the most connections of ``application_name`` at once, and all seen."""

    def __init__(self, application_name: str) -> None:
        self.application_name = application_name
        self.peak, self.samples, self.max_connections = 0, 0, 0
        self.seen: set[int] = set()
        self._done = threading.Event()
        self._conn = psycopg2.connect(database_url())
        self._conn.autocommit = True  # a fresh statistics snapshot for every query
        with self._conn.cursor() as cursor:
            cursor.execute("SHOW max_connections")
            self.max_connections = int(cursor.fetchone()[0])
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._done.set()
        if self._thread.is_alive():
            self._thread.join()
        self._conn.close()

    def _watch(self) -> None:
        with self._conn.cursor() as cursor:
            while not self._done.is_set():
                cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                               "AND application_name = %s", [self.application_name])
                pids = {pid for (pid,) in cursor.fetchall()}
                self.seen |= pids
                self.peak = max(self.peak, len(pids))
                self.samples += 1
                self._done.wait(0.02)


def test_settings_keep_persistent_health_checked_connections():
    """Connections are reused across requests (CONN_MAX_AGE > 0) and checked before reuse (CONN_HEALTH_CHECKS)."""
    database = settings.DATABASES["default"]
    assert database["CONN_MAX_AGE"] > 0
    assert database["CONN_HEALTH_CHECKS"] is True


def test_burst_stays_within_the_pool_bound(catalogue):
    """40 closed-loop clients against the web server never take more than workers x threads connections, all of them reused."""
    run(algorithm="popularity", top_n=10)
    users = [int(u) for u in catalogue["user_ids"]]
    port = free_port()
    env = dict(os.environ, DATABASE_URL=database_url(), REDIS_URL=settings.REDIS_URL, PGAPPNAME=APP_NAME,
               DJANGO_SETTINGS_MODULE="web.settings", PYTHONPATH=str(REPO), DEBUG="0")
    web = subprocess.Popen(web_server(port), cwd=REPO, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    sampler = ConnectionSampler(APP_NAME)
    try:
        wait_until_up(f"http://127.0.0.1:{port}")
        sampler.start()

        def plan(_: int, rng) -> Planned:
            if rng.random() < 0.5:
                return Planned("recommendations", "GET", f"/api/users/{rng.choice(users)}/recommendations?n=10")
            return Planned("search", "GET", "/api/movies?search=movie")

        samples = run_coroutine(drive(f"http://127.0.0.1:{port}", plan, clients=40, seconds=3, warmup=0.5))
    finally:
        sampler.stop()
        stop(web)

    assert sum(samples.errors.values()) == 0, samples.error_examples
    assert sum(samples.requests.values()) > 100, samples.requests
    assert sampler.samples > 10, "the sampler did not watch the burst"
    assert 1 <= sampler.peak <= POOL_BOUND, f"{sampler.peak} connections at once; the bound is {POOL_BOUND}"
    assert len(sampler.seen) <= POOL_BOUND, (
        f"{len(sampler.seen)} different connections for {sum(samples.requests.values())} requests: not reused")
    assert POOL_BOUND + OTHER_CONNECTIONS < sampler.max_connections


def test_precompute_pool_forks_with_only_the_run_lock_open(catalogue):
    """The job's forked pool (2 workers) starts with no open connection in the parent but the run lock's."""
    from jobs.precompute import runlock

    locks: list[list[str]] = []
    original = runlock.RunLock.acquire

    def acquire(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        locks.append(f"backend pid {self._conn.info.backend_pid} (dsn {self._conn.dsn})")
        return result

    with recording_forks() as forks, pytest.MonkeyPatch.context() as patch:
        patch.setattr(runlock.RunLock, "acquire", acquire)
        published = run(workers=2, chunk_size=5)
    assert published.status == "succeeded"
    assert len(forks) >= 2, "the pool did not fork"
    assert forks == [locks] * len(forks), forks  # the lock must stay open; a child drops its copy (next test)


def test_a_forked_child_drops_the_run_locks_socket_and_the_lock_survives_it(catalogue):
    """A child forked while the run lock is held closes its copy of the socket; the parent keeps the lock after the child exits."""
    from jobs.precompute import runlock
    from jobs.precompute.run import _new_connection

    held = run(algorithm="popularity", top_n=2)  # any run will do: the lock is keyed on its id
    lock = runlock.RunLock(_new_connection)
    lock.acquire(JobOptions(run_id=held.pk), lambda: held)
    try:
        fd = lock._conn.fileno()
        pid = os.fork()
        if pid == 0:  # the child: its copy of the lock's socket must already be closed
            try:
                os.fstat(fd)
                os._exit(1)
            except OSError:
                os._exit(0)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, "the child still had the lock's socket open"
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = %s "
                           "AND objid = %s AND granted", [runlock.RUN_NAMESPACE, held.pk])
            assert cursor.fetchone()[0] == 1, "the child's exit ended the parent's lock"
    finally:
        lock.release()


def test_rqworker_forks_with_no_open_connection(catalogue):
    """``manage.py rqworker`` forks its work horse with no open database connection, after loading the model."""
    run(algorithm="popularity", top_n=10)
    queue = get_queue()
    queue.enqueue(refresh_user, int(catalogue["user_ids"][0]))
    with recording_forks() as forks:
        call_command("rqworker", burst=True)
    assert queue.count == 0 and queue.failed_job_registry.count == 0
    assert queue.finished_job_registry.count == 1
    assert len(forks) >= 1, "the worker did not fork a work horse"
    assert forks == [[]] * len(forks), forks
