"""Progress reporters: the log lines stay few, the heartbeat writes the run's rows."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from jobs.precompute import progress
from jobs.precompute.heartbeat import DbHeartbeat
from jobs.precompute.progress import FanOut, LogLines, ProgressReporter, TerminalBar, console_reporter, logs_to
from jobs.precompute.run import _new_connection
from web.runs.errors import RunCancelled
from web.runs.models import LOG_LINES_KEPT, Run, RunLogLine, RunStatus, ShardProgress


class Recorder(ProgressReporter):
    def __init__(self):
        self.calls = []

    def stage(self, stage, total=None):
        self.calls.append(("stage", stage, total))

    def advance(self, done, rows=0):
        self.calls.append(("advance", done, rows))

    def log(self, line):
        self.calls.append(("log", line))

    def close(self):
        self.calls.append(("close",))


def test_log_lines_are_bounded_by_time_and_fraction(caplog):
    """A thousand one-user advances in a second log one line per 10 % passed, not one per advance."""
    caplog.set_level(logging.INFO, logger="jobs.precompute")
    reporter = LogLines("run 1", every_seconds=3600)
    reporter.stage("compute", total=1_000)
    caplog.clear()
    for _ in range(1_000):
        reporter.advance(1, rows=10)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 10
    assert lines[-1].startswith("run 1: compute 1,000/1,000 (100%) users, 10,000 rows")


def test_log_lines_also_come_after_enough_seconds(caplog, monkeypatch):
    """Without a 10 % step, a line still comes once the interval has passed."""
    caplog.set_level(logging.INFO, logger="jobs.precompute")
    reporter = LogLines("run 1", every_seconds=10)
    reporter.stage("compute", total=1_000_000)
    caplog.clear()
    clock = [time.monotonic()]
    monkeypatch.setattr(progress.time, "monotonic", lambda: clock[0])
    reporter.advance(1)
    clock[0] += 11
    reporter.advance(1)
    assert len(caplog.records) == 1 and "2/1,000,000" in caplog.records[0].getMessage()


def test_console_reporter_picks_the_bar_only_for_a_terminal():
    """A TTY gets the tqdm bar; a pipe (container logs) gets log lines."""

    class Stream:
        def __init__(self, tty):
            self.tty = tty

        def isatty(self):
            return self.tty

    assert isinstance(console_reporter("run 1", Stream(True)), TerminalBar)
    assert isinstance(console_reporter("run 1", Stream(False)), LogLines)


def test_fan_out_forwards_every_report():
    """FanOut passes stage, advance and close to each reporter in turn."""
    first, second = Recorder(), Recorder()
    fan = FanOut([first, second])
    fan.stage("compute", 5)
    fan.advance(2, 20)
    fan.close()
    assert first.calls == second.calls == [("stage", "compute", 5), ("advance", 2, 20), ("close",)]


@pytest.mark.django_db(transaction=True)
def test_heartbeat_writes_the_run_and_shard_rows_and_sees_a_cancel():
    """The heartbeat thread writes stage and counts to the run and its shard, and notices a cancel."""
    run = Run.objects.create(algorithm="popularity", status=RunStatus.RUNNING)
    ShardProgress.objects.create(run=run, shard=0)
    beat = DbHeartbeat(run.pk, _new_connection, run_table=Run._meta.db_table,
                       shard_table=ShardProgress._meta.db_table, interval=0.05).start()
    try:
        beat.stage("compute", total=10)
        beat.advance(4, rows=40)
        time.sleep(0.3)
        run.refresh_from_db()
        shard = ShardProgress.objects.get(run=run)
        assert (run.stage, run.users_total, run.users_done, run.rows_written) == ("compute", 10, 4, 40)
        assert (shard.stage, shard.users_done, shard.rows_written) == ("compute", 4, 40)
        assert run.heartbeat_at is not None
        beat.raise_if_cancelled()  # not cancelled yet: no error
        Run.objects.filter(pk=run.pk).update(status=RunStatus.CANCELLED)
        time.sleep(0.3)
        with pytest.raises(RunCancelled, match=f"run {run.pk} was cancelled by an operator"):
            beat.raise_if_cancelled()
    finally:
        beat.close()
    assert Run.objects.get(pk=run.pk).status == RunStatus.CANCELLED  # the beat never writes the status


@pytest.mark.django_db(transaction=True)
def test_a_beat_that_waited_for_its_connection_writes_the_latest_counts():
    """Counts that grew while a beat was connecting are the ones it writes, never the older ones."""
    run = Run.objects.create(algorithm="popularity", status=RunStatus.RUNNING)
    ShardProgress.objects.create(run=run, shard=0)
    connecting, release = threading.Event(), threading.Event()

    def slow_connect():
        connecting.set()
        release.wait(10)
        return _new_connection()

    beat = DbHeartbeat(run.pk, slow_connect, run_table=Run._meta.db_table,
                       shard_table=ShardProgress._meta.db_table, interval=60).start()
    try:
        beat.stage("compute", total=30)  # wakes the thread, which starts connecting
        assert connecting.wait(10)
        beat.advance(30, rows=90)  # the job finishes its chunks meanwhile
        release.set()
    finally:
        beat.close()
    shard = ShardProgress.objects.get(run=run)
    assert (shard.users_done, shard.rows_written) == (30, 90)


def test_the_job_logger_reaches_the_reporter_only_inside_logs_to():
    """Inside ``logs_to`` a line of the job's logger reaches ``reporter.log`` formatted; outside it does not."""
    recorder = Recorder()
    with logs_to(recorder):
        logging.getLogger("jobs.precompute").warning("run %s: a %s", 7, "warning")
    logging.getLogger("jobs.precompute").warning("after the run")
    lines = [call[1] for call in recorder.calls if call[0] == "log"]
    assert len(lines) == 1 and lines[0].endswith("WARNING run 7: a warning")


@pytest.mark.django_db(transaction=True)
def test_heartbeat_keeps_only_the_newest_log_lines_of_a_run():
    """Log lines reach the database with the beats, oldest first, and only the newest LOG_LINES_KEPT stay."""
    run = Run.objects.create(algorithm="popularity", status=RunStatus.RUNNING)
    other = Run.objects.create(algorithm="popularity", status=RunStatus.RUNNING)
    RunLogLine.objects.create(run=other, line="another run's line")
    ShardProgress.objects.create(run=run, shard=0)
    beat = DbHeartbeat(run.pk, _new_connection, run_table=Run._meta.db_table, shard_table=ShardProgress._meta.db_table,
                       log_table=RunLogLine._meta.db_table, interval=0.05).start()
    try:
        beat.stage("compute", total=10)
        for n in range(LOG_LINES_KEPT - 50):
            beat.log(f"line {n}")
        time.sleep(0.3)
        for n in range(LOG_LINES_KEPT - 50, LOG_LINES_KEPT + 30):
            beat.log(f"line {n}")
    finally:
        beat.close()
    kept = list(RunLogLine.objects.filter(run=run).order_by("id").values_list("line", flat=True))
    assert kept == [f"line {n}" for n in range(30, LOG_LINES_KEPT + 30)]
    assert RunLogLine.objects.tails([run.pk, other.pk], 3) == {
        run.pk: [f"line {n}" for n in range(LOG_LINES_KEPT + 27, LOG_LINES_KEPT + 30)], other.pk: ["another run's line"]}


@pytest.mark.django_db(transaction=True)
def test_a_sharded_runs_stage_is_its_least_advanced_working_shards():
    """Each shard's beat wrote its own stage into the run, so while one shard still fitted and another computed the
    run's stage (and its bars on the page) flipped between fit and compute every second. The run is as far as its
    slowest working shard; a shard that has finished its part no longer holds it back."""
    run = Run.objects.create(algorithm="item_knn", status=RunStatus.RUNNING, shards=2)
    for shard in range(2):
        ShardProgress.objects.create(run=run, shard=shard, stage="load")

    def beat(shard: int, stage: str) -> str:
        heartbeat = DbHeartbeat(run.pk, _new_connection, run_table=Run._meta.db_table,
                                shard_table=ShardProgress._meta.db_table, shard=shard, interval=60).start()
        heartbeat.stage(stage)
        heartbeat.close()  # one last write
        return Run.objects.get(pk=run.pk).stage

    assert beat(0, "fit") == "load"  # shard 1 is still loading
    assert beat(1, "fit") == "fit"
    assert beat(0, "compute") == "fit"  # shard 1 is still fitting
    assert beat(1, "compute") == "compute"
    ShardProgress.objects.filter(run=run, shard=0).update(status=RunStatus.SUCCEEDED)  # finish_shard: not the last
    assert beat(0, "done") == "compute"
    ShardProgress.objects.filter(run=run, shard=1).update(status=RunStatus.SUCCEEDED)  # the last: it publishes
    assert beat(1, "write") == "write"
