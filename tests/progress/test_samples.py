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


def test_a_stalled_run_shows_no_rate_and_no_eta(settings):
    """A running run whose heartbeat stopped (a killed job) has done nothing lately: its last rate and ETA would
    say it is about to finish. Seen on the page: a SIGKILLed shard's run read 62.9 users/s, ETA 1 s, for good."""
    settings.PROGRESS_STALL_SECONDS = 30
    start = timezone.now() - timedelta(seconds=200)
    run = Run(algorithm="popularity", status=RunStatus.RUNNING, stage=Stage.COMPUTE, started_at=start,
              heartbeat_at=start + timedelta(seconds=40), users_total=1000, users_done=400)
    samples = [_sample(run, 10, 0), _sample(run, 20, 100), _sample(run, 30, 200), _sample(run, 40, 400)]
    assert run.is_stalled
    figures = measure(run, samples, now=start + timedelta(seconds=200))
    assert figures.users_per_second == 0 and figures.rows_per_second == 0
    assert figures.eta_seconds is None
    assert figures.elapsed_seconds == pytest.approx(200)


def test_a_restarted_shard_never_makes_the_rate_negative():
    """A shard that restarts (after a SIGKILL) counts its users again from 0, so the run's sum drops for a while;
    a rate measured across that drop was negative (the page read -15,832 users/s). The rate is measured after it."""
    start = timezone.now() - timedelta(seconds=60)
    run = Run(algorithm="item_knn", status=RunStatus.RUNNING, stage=Stage.FIT, started_at=start,
              heartbeat_at=start + timedelta(seconds=50), users_total=305, users_done=305, shards=2)
    samples = [_sample(run, 10, 0), _sample(run, 14, 560), _sample(run, 40, 565),
               _sample(run, 41, 305, Stage.QUEUED), _sample(run, 42, 305, Stage.FIT)]  # the restarted shard's beats
    figures = measure(run, samples, now=start + timedelta(seconds=50))
    assert figures.users_per_second is None and figures.rows_per_second is None

    samples += [_sample(run, 45, 305), _sample(run, 47, 405), _sample(run, 49, 505)]  # its compute resumes
    run.stage = Stage.COMPUTE
    figures = measure(run, samples, now=start + timedelta(seconds=50))
    assert figures.users_per_second == pytest.approx(50)


def test_a_finished_sharded_run_is_not_credited_with_all_users_in_one_shards_time():
    """A sharded run records the stage seconds of the shard that published it, which scored only its own share (a
    resumed one, only what was left). All the run's users over that shard's compute seconds read 591.7 users/s for a
    run that did about 60: without its samples such a run has no rate; with them, the stage's wall-clock average."""
    start = timezone.now() - timedelta(seconds=100)
    run = Run(algorithm="item_knn", status=RunStatus.SUCCEEDED, stage=Stage.DONE, started_at=start,
              finished_at=start + timedelta(seconds=60), users_total=610, users_done=610, rows_written=6100, shards=2,
              metrics={"seconds": {"compute": 1.031}, "chunks_resumed": 14})
    assert measure(run, []).users_per_second is None
    samples = [_sample(run, 5, 0), _sample(run, 10, 300), _sample(run, 15, 610, Stage.WRITE)]
    assert measure(run, samples).users_per_second == pytest.approx(61)

    single = Run(algorithm="item_knn", status=RunStatus.SUCCEEDED, stage=Stage.DONE, started_at=start,
                 finished_at=start + timedelta(seconds=60), users_total=610, users_done=610, rows_written=6100,
                 shards=1, metrics={"seconds": {"compute": 10.0}})
    assert measure(single, []).users_per_second == pytest.approx(61)  # one process scored every user in that time
