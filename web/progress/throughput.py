"""Throughput, elapsed time and ETA of a run, from its samples (:class:`~web.runs.models.RunSample`).

Rates are measured over the last :data:`RATE_WINDOW_SECONDS` of the
``compute`` stage (where users and rows are counted), so the ETA follows the
current speed rather than the average since the start; a finished run gets
its average over the whole stage. A stalled run (no heartbeat for
``PROGRESS_STALL_SECONDS``) is doing nothing: 0 users/s and no ETA, not the
rate it had when it stopped. A shard that restarts counts its users again
from 0, so the run's sum drops for a while: rates are measured after the last
drop, never across it (which gave a negative rate). Without samples (the
feed reads them only for unfinished runs and the newest one), a finished
run's rate is its users over its recorded compute seconds, where those are
the time of all its users: not for a sharded or resumed run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from web.runs.models import RunSample, RunStatus, Stage, stall_after

RATE_WINDOW_SECONDS = 15.0
"""Seconds of recent samples that the current users/s and rows/s are measured over."""


@dataclass(frozen=True)
class Throughput:
    elapsed_seconds: float | None
    users_per_second: float | None
    rows_per_second: float | None
    eta_seconds: float | None


def _rate(first: RunSample, last: RunSample) -> tuple[float, float] | None:
    seconds = (last.at - first.at).total_seconds()
    if seconds <= 0:
        return None
    return (last.users_done - first.users_done) / seconds, (last.rows_written - first.rows_written) / seconds


def _since_last_drop(samples: list[RunSample]) -> list[RunSample]:
    """The samples from the last one whose count fell below its predecessor's (a shard that restarted) onwards."""
    drops = [i for i in range(1, len(samples)) if samples[i].users_done < samples[i - 1].users_done]
    return samples[drops[-1]:] if drops else samples


def _scored_every_user_in_its_compute_seconds(run) -> bool:
    """Whether the run's recorded compute seconds are the time its users took: one process, nothing resumed.

    A sharded run records the stages of the shard that published it, which scored only its share (a resumed run,
    only what was left), so the run's users over those seconds would overstate its rate many times over.
    """
    metrics = run.metrics if isinstance(run.metrics, dict) else {}
    return bool(metrics.get("seconds", {}).get("compute")) and run.shards == 1 and not metrics.get("chunks_resumed")


def measure(run, samples: Sequence[RunSample], now: datetime | None = None) -> Throughput:
    """Elapsed seconds, users/s and rows/s, and the ETA of ``run`` given its samples in time order."""
    now = now or timezone.now()
    elapsed = ((run.finished_at or now) - run.started_at).total_seconds() if run.started_at else None
    # The compute stage counts users; the sample that ended it (stage change) closes the interval.
    computing = [s for s in samples if s.stage == Stage.COMPUTE]
    after = [s for s in samples if computing and s.at > computing[-1].at]
    if after:
        computing.append(after[0])
    computing = _since_last_drop(computing)
    finished = run.status not in (RunStatus.PENDING, RunStatus.RUNNING)
    if not finished and run.heartbeat_at is not None and now - run.heartbeat_at > stall_after():
        return Throughput(elapsed, 0.0, 0.0, None)  # stalled: nothing is being done, and no end is in sight
    if not finished and computing:
        recent = [s for s in computing if (computing[-1].at - s.at).total_seconds() <= RATE_WINDOW_SECONDS]
        window = recent if len(recent) >= 2 else computing[-2:]
    else:
        window = computing
    rates = _rate(window[0], window[-1]) if len(window) >= 2 else None
    if rates is None and finished and _scored_every_user_in_its_compute_seconds(run):
        seconds = float(run.metrics["seconds"]["compute"])
        rates = (run.users_done / seconds, run.rows_written / seconds)
    users_rate, rows_rate = rates if rates else (None, None)
    eta = None
    if not finished and run.stage == Stage.COMPUTE and users_rate and run.users_total:
        eta = max(run.users_total - run.users_done, 0) / users_rate
    return Throughput(elapsed, users_rate, rows_rate, eta)
