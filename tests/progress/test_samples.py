"""Throughput samples: written by the database trigger on the heartbeat's UPDATEs, turned into rates and an ETA."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from web.progress.throughput import measure
from web.runs.models import Run, RunSample, RunStatus, Stage


@pytest.mark.django_db(transaction=True)
def test_trigger_samples_the_heartbeat_at_most_about_once_a_second():
    """UPDATEs of a running run leave a sample unless the last one is under 0.9 s old; stage and status changes always do."""
    run = Run.objects.create(algorithm="popularity", status=RunStatus.RUNNING, stage=Stage.COMPUTE,
                             started_at=timezone.now(), users_total=100)
    rows = Run.objects.filter(pk=run.pk)
    rows.update(users_done=10, rows_written=100)   # first sample
    rows.update(users_done=20, rows_written=200)   # too soon: none
    rows.update(stage=Stage.WRITE)                 # stage change: sampled
    time.sleep(1.0)
    rows.update(users_done=100, rows_written=1000)  # a second later: sampled
    rows.update(status=RunStatus.SUCCEEDED)        # status change: sampled
    samples = list(RunSample.objects.filter(run=run).values_list("stage", "users_done", "rows_written"))
    assert samples == [("compute", 10, 100), ("write", 20, 200), ("write", 100, 1000), ("write", 100, 1000)]


@pytest.mark.django_db(transaction=True)
def test_pending_runs_leave_no_samples():
    """A pending run (not started) is not sampled, so cancelling one before it starts leaves no chart points."""
    run = Run.objects.create(algorithm="popularity")
    Run.objects.filter(pk=run.pk).update(status=RunStatus.CANCELLED)
    assert not RunSample.objects.filter(run=run).exists()


def _sample(run, seconds: float, users: int, stage: str = Stage.COMPUTE) -> RunSample:
    return RunSample(run=run, at=run.started_at + timedelta(seconds=seconds), stage=stage, users_done=users,
                     rows_written=users * 10)


def test_rates_use_the_recent_window_and_give_an_eta():
    """users/s and rows/s come from the last 15 s of compute samples; the ETA is what is left at that rate."""
    start = timezone.now() - timedelta(seconds=60)
    run = Run(algorithm="popularity", status=RunStatus.RUNNING, stage=Stage.COMPUTE, started_at=start,
              users_total=1000, users_done=400)
    samples = [_sample(run, 0, 0, Stage.LOAD), _sample(run, 10, 0), _sample(run, 20, 100), _sample(run, 30, 200),
               _sample(run, 40, 400)]  # 10 users/s, then 20 users/s over the last 10 s
    figures = measure(run, samples, now=start + timedelta(seconds=41))
    assert figures.elapsed_seconds == pytest.approx(41)
    assert figures.users_per_second == pytest.approx(20)  # the samples at 30 and 40 s: within 15 s of the last
    assert figures.rows_per_second == pytest.approx(200)
    assert figures.eta_seconds == pytest.approx(600 / 20)


def test_a_finished_run_gets_its_average_and_no_eta():
    """After the run, the rate is the average over the compute stage (closed by the next stage's sample)."""
    start = timezone.now() - timedelta(seconds=100)
    run = Run(algorithm="popularity", status=RunStatus.SUCCEEDED, stage=Stage.DONE, started_at=start,
              finished_at=start + timedelta(seconds=50), users_total=500, users_done=500)
    samples = [_sample(run, 5, 0), _sample(run, 15, 300), _sample(run, 30, 500, Stage.WRITE)]
    figures = measure(run, samples)
    assert figures.users_per_second == pytest.approx(500 / 25)
    assert figures.elapsed_seconds == pytest.approx(50) and figures.eta_seconds is None
