"""The RQ job that runs ``python -m jobs.precompute --run-id N`` as a subprocess."""

import pytest
from django.utils import timezone

from tests.helpers import REPO, database_url
from web.progress.tasks import mark_unfinished_run_failed, run_precompute
from web.runs.models import ActiveRun, Run, RunStatus, ShardProgress, Stage

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def job_env(monkeypatch):
    """The subprocess finds the test database the way the worker's job would find the real one: DATABASE_URL."""
    monkeypatch.setenv("DATABASE_URL", database_url())
    monkeypatch.setenv("PYTHONPATH", str(REPO))


def test_run_precompute_runs_the_pending_run_to_success(catalogue, job_env):
    """The task starts the recorded pending run with the extra args and it becomes the serving run."""
    run = Run.objects.create_pending("popularity", {"top_n": 5})
    assert run_precompute(run.pk, ["--workers", "1", "--chunk-size", "7"]) == 0
    run.refresh_from_db()
    assert run.status == "succeeded" and run.metrics["chunk_size"] == 7
    assert ActiveRun.current_run_id() == run.pk


def test_a_run_cancelled_before_the_worker_got_to_it_is_never_started(catalogue, job_env):
    """The job refuses a run that is no longer pending (exit 2) and the run stays cancelled."""
    run = Run.objects.create_pending("popularity", {})
    run.cancel()
    assert run_precompute(run.pk, ["--workers", "1"]) == 2
    run.refresh_from_db()
    assert run.status == "cancelled" and run.started_at is None


def test_a_job_that_died_leaves_its_run_failed_with_the_exit_and_stage():
    """After the process ends, a run still marked running is failed with the stage, the signal and the last line."""
    run = Run.objects.create(algorithm="popularity", status=RunStatus.RUNNING, stage=Stage.COMPUTE,
                             started_at=timezone.now(), heartbeat_at=timezone.now())
    ShardProgress.objects.create(run=run, shard=0, host="h")
    assert mark_unfinished_run_failed(run.pk, -9, ["loading", "computing 40 %", ""]) is True
    run.refresh_from_db()
    assert run.status == "failed"
    assert run.error == ("compute: JobExited: the job process ended (killed by signal 9) without finishing the run; "
                         "last line: computing 40 %")
    assert ShardProgress.objects.get(run=run).status == "failed"
    done = Run.objects.create(algorithm="popularity", status=RunStatus.SUCCEEDED)
    assert mark_unfinished_run_failed(done.pk, 0, []) is False
