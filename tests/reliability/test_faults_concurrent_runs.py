"""Fault: two precompute runs are started at once.

The job holds a PostgreSQL advisory lock for its whole life
(``jobs/precompute/runlock.py``): a process of another run is refused at
start, with a message naming the run that is computing, before it creates
or claims anything; shards of one run share the lock and are let in.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from tests.helpers import REPO, database_url, wait_for
from web.runs.models import ActiveRun, Run, RunStatus, Stage
from web.runs.spec import job_command

pytestmark = pytest.mark.e2e  # it starts the job as processes


def _job(*args: str, **env: str) -> subprocess.Popen:
    environment = dict(os.environ, DATABASE_URL=database_url(), PYTHONPATH=str(REPO), **env)
    return subprocess.Popen([sys.executable, "-m", "jobs.precompute", "--algorithm", "popularity", "--top-n", "3",
                             "--workers", "1", *args], cwd=REPO, env=environment, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def _finish(job: subprocess.Popen, timeout: float = 120) -> tuple[int, str]:
    try:
        _, stderr = job.communicate(timeout=timeout)
    finally:
        if job.poll() is None:
            os.killpg(job.pid, signal.SIGKILL)
            job.communicate()
    return job.returncode, stderr


def test_a_second_run_is_refused_while_one_computes(catalogue):
    """While one run computes, a new run and a pending run's start are refused with a clear message and change nothing."""
    # Long enough for two more job processes to start and be refused on a loaded 2-core machine.
    first = _job(PRECOMPUTE_TEST_PAUSE_AT="fit=20")
    try:
        running = wait_for(lambda: Run.objects.filter(status=RunStatus.RUNNING, stage=Stage.FIT).first(),
                           timeout=60, what="the first run to reach fit")
        pending = Run.objects.create_pending("popularity", {"top_n": 3})
        runs_before = set(Run.objects.values_list("pk", flat=True))

        second = _job()
        code, stderr = _finish(second)
        assert code == 2, stderr
        assert f"precompute run {running.pk} is being computed" in stderr and "only one run computes at a time" in stderr
        started = _job(*job_command(pending.pk)[3:])
        code, stderr = _finish(started)
        assert code == 2 and f"precompute run {running.pk} is being computed" in stderr, stderr
        assert set(Run.objects.values_list("pk", flat=True)) == runs_before  # no run created
        assert Run.objects.get(pk=pending.pk).status == RunStatus.PENDING  # the pending one untouched
    finally:
        code, stderr = _finish(first)
    assert code == 0, stderr
    assert ActiveRun.current_run_id() == running.pk

    after = _job(*job_command(pending.pk)[3:])  # once the first has finished, the refused run starts normally
    code, stderr = _finish(after)
    assert code == 0, stderr
    assert ActiveRun.current_run_id() == pending.pk
    assert Run.objects.filter(status=RunStatus.SUCCEEDED).count() == 2


def test_shards_of_one_run_compute_together_and_publish_once(catalogue):
    """Two shards of one named run started at once share the lock: both finish and the run is published exactly once."""
    shards = [_job("--run-name", "together", "--shards", "2", "--shard", str(i), "--chunk-size", "5",
                   PRECOMPUTE_TEST_CHUNK_DELAY="0.3") for i in range(2)]
    results = [_finish(shard) for shard in shards]
    assert [code for code, _ in results] == [0, 0], results
    (run,) = Run.objects.filter(metrics__run_name="together")
    assert run.status == RunStatus.SUCCEEDED and ActiveRun.current_run_id() == run.pk
    assert run.users_done == 30 and run.rows_written == 30 * 3  # each user scored once, by one of the shards
