"""The run lock is gone the moment ``release()`` returns, so a run started right after is never refused by it."""

from __future__ import annotations

import pytest
from django.db import connection

from jobs.precompute.options import JobOptions
from jobs.precompute.run import _new_connection
from jobs.precompute.runlock import RUN_NAMESPACE, RunLock
from web.runs.models import Run

pytestmark = pytest.mark.django_db(transaction=True)


def _run_locks() -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT objid, pid FROM pg_locks WHERE locktype = 'advisory' AND classid = %s AND granted "
                       "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                       [RUN_NAMESPACE])
        return cursor.fetchall()


def test_release_drops_the_lock_before_it_returns():
    for _ in range(20):  # closing alone ended the session a moment later: a query right after could still see it
        lock = RunLock(_new_connection)
        run = lock.acquire(JobOptions(algorithm="popularity"), lambda: Run.objects.start(shard=0, shards=1))
        assert [objid for objid, _ in _run_locks()] == [run.pk]
        lock.release()
        assert _run_locks() == []
        run.delete()
