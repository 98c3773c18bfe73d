"""Fault: the precompute process (parent and pool workers) is SIGKILLed in each stage.

The job is a real ``python -m jobs.precompute`` process on the test
database. It is held in the stage under test by a test hook
(``PRECOMPUTE_TEST_PAUSE_AT=<stage>=<seconds>``; in ``compute`` by the
chunk delay), killed there with SIGKILL, and then the same run is started
again (same ``--run-name``, as a Kubernetes Job's retry does): the previous
run served throughout, the killed run was left ``running`` with a frozen
heartbeat (shown stalled), and the resumed run completes and is published
exactly once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from jobs.precompute.runlock import RUN_NAMESPACE
from tests.helpers import REPO, database_url, run, wait_for
from web.recommender.models import UserScore
from web.runs.models import ActiveRun, Run, RunStatus, Stage, stall_after

TOP_N = 3

pytestmark = pytest.mark.e2e  # it starts and kills the job as processes


def _start(run_name: str, stage: str) -> subprocess.Popen:
    env = dict(os.environ, DATABASE_URL=database_url(), PYTHONPATH=str(REPO))
    if stage == Stage.COMPUTE:
        env["PRECOMPUTE_TEST_CHUNK_DELAY"] = "1.0"  # 30 users in chunks of 5: about 6 s of compute
    else:
        env["PRECOMPUTE_TEST_PAUSE_AT"] = f"{stage}=60"
    argv = [sys.executable, "-m", "jobs.precompute", "--run-name", run_name, "--algorithm", "popularity",
            "--top-n", str(TOP_N), "--workers", "2", "--chunk-size", "5"]
    return subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def _in_stage(run_name: str, stage: str) -> Run | None:
    found = Run.objects.filter(metrics__run_name=run_name, stage=stage, status=RunStatus.RUNNING).first()
    if found is not None and stage == Stage.COMPUTE and found.users_done == 0:
        return None  # wait for a chunk to be written, so that the kill lands between chunks of a started compute
    return found


def _run_lock_released() -> bool:
    """PostgreSQL has ended the killed process's session, so its advisory lock is gone."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = %s AND database = "
                       "(SELECT oid FROM pg_database WHERE datname = current_database())", [RUN_NAMESPACE])
        return cursor.fetchone()[0] == 0


def _served() -> list[tuple[int, int, list[int]]]:
    """(user, run, movies) that every user of the catalogue is shown now."""
    shown = [(user, UserScore.objects.recommend(user, TOP_N)) for user in range(101, 131)]
    return [(user, recs.run.pk, [item.movie.pk for item in recs.items]) for user, recs in shown]


@pytest.mark.parametrize("stage", [Stage.LOAD, Stage.COMPUTE, Stage.WRITE, Stage.PUBLISH])
def test_kill_in_each_stage_keeps_serving_and_a_resume_publishes_once(catalogue, stage):
    """SIGKILL in load/compute/write/publish: the previous run serves on, the killed run stalls, the resume publishes once."""
    previous = run(top_n=TOP_N)
    served = _served()
    name = f"killed-in-{stage}"
    job = _start(name, stage)
    try:
        killed = wait_for(lambda: _in_stage(name, stage), timeout=60, what=f"the job to reach {stage}")
    finally:
        os.killpg(job.pid, signal.SIGKILL)  # the whole pod dies: parent and pool workers
        job.communicate(timeout=10)
    beat = Run.objects.get(pk=killed.pk).heartbeat_at
    time.sleep(2.5)  # more than two heartbeat intervals: nothing of the job is left to beat
    frozen = Run.objects.get(pk=killed.pk)
    assert (frozen.status, frozen.stage, frozen.heartbeat_at) == (RunStatus.RUNNING, stage, beat)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(timezone, "now", lambda: beat + stall_after() + timedelta(seconds=1))
        assert frozen.display_status == "stalled"
    assert ActiveRun.current_run_id() == previous.pk
    assert _served() == served

    wait_for(_run_lock_released, timeout=10, what="PostgreSQL to end the killed job's session")
    resumed = run(run_name=name, algorithm="popularity", top_n=TOP_N, chunk_size=5)
    assert resumed.pk == killed.pk and resumed.status == RunStatus.SUCCEEDED
    assert ActiveRun.current_run_id() == killed.pk
    assert list(Run.objects.filter(status=RunStatus.SUCCEEDED).order_by("pk").values_list("pk", flat=True)) == [
        previous.pk, killed.pk]  # published exactly once, and nothing else was
    assert resumed.users_done == 30 and resumed.rows_written == 30 * TOP_N
    assert UserScore.objects.filter(run_id=killed.pk).count() == 30 * TOP_N  # no chunk written twice
