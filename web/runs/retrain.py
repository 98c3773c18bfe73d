"""Retraining on a threshold: how many interactions arrived since the serving run's data, and starting the next run.

An interaction is a rating or an event (watch, watchlist change, not
interested). Every run records, when it starts reading its data, the highest
rating id and event id stored then (``Run.data_rating_id``,
``Run.data_event_id``); the rows above them arrived since. Both are
primary-key range counts, cheap enough for the progress page's feed every
second. A rating changed in place (a new star value for the same movie) keeps
its row and is not counted as new; a rating or an event stored between the
run's start and its read of the data is counted though the run saw it (the
count errs towards retraining sooner).

With ``RETRAIN_THRESHOLD`` = N > 0, whatever stores interactions calls
:func:`request_check`: after its commit, one deduplicated check is queued for
the RQ worker (:data:`CHECK_JOB = "web.progress.retrain.retrain_if_due"
CHECK_JOB`), which starts a run when N or more arrived
since the serving run's data and no run is pending or running
(:func:`claim_due_run`, under an advisory lock, so two workers checking at once
start one run), and not within :data:`RETRY_AFTER` of a run that failed or was
cancelled. docs/decisions.md, "Retraining on a policy".

The tables are the recommender app's, named by the constants of :mod:`web.runs.watermark`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

import redis
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from web.queue import get_queue
from web.runs.locks import advisory_xact_lock
from web.runs.models import FINISHED, Run, RunStatus
from web.runs.watermark import EVENT_TABLE, RATING_TABLE

logger = logging.getLogger(__name__)

CHECK_JOB = "web.progress.retrain.retrain_if_due"
"""The worker's check, by dotted path as RQ stores it (the progress app starts runs; this module is below it)."""
CHECK_PENDING_KEY = "retrain:check:pending"
"""Set (``SET NX``) while a check is queued: a burst of writes queues one check, as a burst of ratings queues one refresh."""
CHECK_PENDING_TTL = 600
"""Seconds the pending flag lives if no worker takes the check (then the next write queues a new one)."""
LOCK_KEY = 0x52455452  # "RETR"
"""The advisory lock two checks serialise on."""
RETRY_AFTER = timedelta(hours=1)
"""How long after a run that failed or was cancelled the threshold starts no run: past the threshold, every write
would otherwise start the same failing run again (or undo an operator's cancel) as soon as the last one ended."""


def new_interactions(run: Run | None) -> int | None:
    """Ratings and events stored since ``run`` read its data; None without a run or for a run from before the count."""
    if run is None or run.data_rating_id is None or run.data_event_id is None:
        return None
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT (SELECT count(*) FROM {RATING_TABLE} WHERE id > %s) "
                       f"+ (SELECT count(*) FROM {EVENT_TABLE} WHERE id > %s)",
                       [run.data_rating_id, run.data_event_id])
        (count,) = cursor.fetchone()
    return int(count)


@dataclass
class RetrainStatus:
    """What the progress page shows about the policy."""

    serving_run_id: int | None
    new_interactions: int | None
    threshold: int
    """0: off (runs start by hand or on the schedule only)."""
    schedule: str
    """The CronJob's schedule as configured (``PRECOMPUTE_SCHEDULE``), empty when it is off."""


def retrain_status() -> RetrainStatus:
    active = Run.objects.active()
    return RetrainStatus(
        serving_run_id=active.pk if active else None,
        new_interactions=new_interactions(active),
        threshold=settings.RETRAIN_THRESHOLD,
        schedule=settings.PRECOMPUTE_SCHEDULE,
    )


def request_check() -> None:
    """After the current transaction commits, queue one threshold check for the worker (none if one is queued).

    Does nothing when the threshold is off. A Redis outage is logged: the
    interactions are stored, and the next write (or an operator) starts the run.
    """
    if settings.RETRAIN_THRESHOLD <= 0:
        return

    def enqueue() -> None:
        try:
            queue = get_queue()
            if not queue.connection.set(CHECK_PENDING_KEY, 1, nx=True, ex=CHECK_PENDING_TTL):
                return
            try:
                queue.enqueue_call(CHECK_JOB, job_id="retrain-check", description="retraining threshold check")
            except redis.RedisError:
                queue.connection.delete(CHECK_PENDING_KEY)
                raise
        except redis.RedisError:
            logger.warning("could not queue the retraining check: Redis is unavailable")

    transaction.on_commit(enqueue)


def clear_check_pending() -> None:
    """The check has started: a write from now on queues the next one (so none is left out)."""
    try:
        get_queue().connection.delete(CHECK_PENDING_KEY)
    except redis.RedisError:
        logger.warning("could not clear the retraining check's pending flag: Redis is unavailable")


def claim_due_run() -> Run | None:
    """A new pending run if the threshold is crossed and no run is pending or running; else None.

    The new run repeats the serving run's algorithm and parameters on the
    newer data, through the page's own path (:meth:`RunQuerySet.create_pending`).
    Checks serialise on an advisory lock, so two at once create one run.
    """
    threshold = settings.RETRAIN_THRESHOLD
    if threshold <= 0:
        return None
    with transaction.atomic(), connection.cursor() as cursor:
        advisory_xact_lock(cursor, LOCK_KEY)
        if Run.objects.unfinished().exists() or _waiting_after_a_failure():
            return None
        active = Run.objects.active()
        count = new_interactions(active)
        if count is None or count < threshold:
            return None
        run = Run.objects.create_pending(active.algorithm, active.parameters)
        Run.objects.filter(pk=run.pk).update(metrics={**run.metrics, "started_by": f"threshold: {count:,} new interactions"})
        run.refresh_from_db()
        return run


def _waiting_after_a_failure() -> bool:
    """Whether the newest finished run failed or was cancelled less than :data:`RETRY_AFTER` ago."""
    newest = Run.objects.filter(status__in=FINISHED).exclude(finished_at=None).order_by("-finished_at").first()
    if newest is None or newest.status == RunStatus.SUCCEEDED or newest.finished_at < timezone.now() - RETRY_AFTER:
        return False
    logger.info("retraining: the threshold is waiting until %s, %s after run %s %s",
                (newest.finished_at + RETRY_AFTER).isoformat(timespec="seconds"), RETRY_AFTER, newest.pk, newest.status)
    return True
