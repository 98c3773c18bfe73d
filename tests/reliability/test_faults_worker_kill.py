"""Fault: the RQ worker is SIGKILLed in the middle of a user's refresh.

``refresh_user`` replaces the user's rows with a DELETE and a COPY in one
transaction (web/recommender/tasks.py). To kill it *inside* that
transaction, the test holds a row lock on one of the user's rows: the
worker's DELETE has begun (rows before that one are already deleted in its
transaction) and waits. The worker is then killed, the lock released, and
PostgreSQL rolls the refresh back: the user keeps exactly the old rows.
A worker started afterwards writes exactly the new ones.
"""

from __future__ import annotations

import os
import signal

import psutil
import psycopg2
import pytest
from rq import Queue

from tests.helpers import ScratchDatabase, redis_url_with_db
from tests.helpers import wait_for
from tests.reliability.faultstack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.movielens]

USER_ID = 5


@pytest.fixture
def stack(movielens_small, tmp_path):
    """ml-latest-small and a published popularity run in a scratch database; Redis database E2E_REDIS_DB."""
    from django.conf import settings

    database = ScratchDatabase("faults_worker")
    redis_url = redis_url_with_db(settings.REDIS_URL, int(os.environ.get("E2E_REDIS_DB", "14")))
    stack = Stack(database_url=database.url, dsn=database.dsn, redis_url=redis_url, log_dir=tmp_path)
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    try:
        stack.prepare(movielens_small)
        yield stack
    finally:
        stack.stop_all()
        redis.Redis.from_url(redis_url).flushdb()
        database.drop()


def _blocked_refresh(stack: Stack) -> int | None:
    """The backend pid of the worker's DELETE while it waits for the test's row lock."""
    rows = stack.sql("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' "
                     "AND query LIKE 'DELETE FROM recommender_userscore%%'")
    return rows[0][0] if rows else None


def _gone(stack: Stack, pid: int) -> bool:
    return not stack.sql("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,))


def test_worker_killed_mid_refresh_leaves_the_old_rows_then_a_rerun_writes_the_new(stack):
    """A refresh killed inside its transaction leaves exactly the old rows; the next worker writes exactly the new."""
    import redis

    old = stack.user_rows(USER_ID)
    assert len(old) == 100
    top = old[0][0]
    stack.sql("INSERT INTO recommender_rating (user_id, movie_id, rating, timestamp) "
              "VALUES (%s, %s, 1.0, now()) RETURNING 1", (USER_ID, top))
    queue = Queue("default", connection=redis.Redis.from_url(stack.redis_url))

    locker = psycopg2.connect(stack.dsn)
    try:
        with locker.cursor() as cursor:  # a row in the middle of the user's list: the DELETE stops there
            cursor.execute("SELECT 1 FROM recommender_userscore s JOIN progress_activerun a ON a.run_id = s.run_id "
                           "WHERE s.user_id = %s AND s.rank = 50 FOR UPDATE OF s", (USER_ID,))
            assert cursor.fetchall() == [(1,)]
        worker = stack.start("worker")
        queue.enqueue("web.recommender.tasks.refresh_user", USER_ID)
        backend = wait_for(lambda: _blocked_refresh(stack), 60, "the worker's DELETE to wait inside its transaction")
        # RQ's work-horse (when the worker forks one) runs in a session of its own (setsid), so a process
        # group kill would miss it: the worker's whole process tree is killed by pid.
        horses = psutil.Process(worker.pid).children(recursive=True)
        for process in [*horses, psutil.Process(worker.pid)]:
            process.send_signal(signal.SIGKILL)
        worker.wait()
        psutil.wait_procs(horses, timeout=10)
    finally:
        locker.rollback()
        locker.close()
    wait_for(lambda: _gone(stack, backend), 30, "PostgreSQL to end the killed worker's session")
    assert stack.user_rows(USER_ID) == old  # all of the old rows, none of the new

    stack.start("worker")
    queue.enqueue("web.recommender.tasks.refresh_user", USER_ID)
    wait_for(lambda: stack.user_rows(USER_ID) != old, 60, "the restarted worker to refresh the user")
    new = stack.user_rows(USER_ID)
    assert len(new) == 100 and [rank for _, _, rank in new] == list(range(1, 101))
    assert top not in {movie for movie, _, _ in new}  # all new: the just-rated movie is gone
