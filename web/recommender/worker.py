"""The RQ worker of ``manage.py rqworker``: every work horse inherits the active run's model, also after a publish."""

from __future__ import annotations

import logging
import time

from django.db import connections
from rq.job import Job
from rq.queue import Queue

from web.observability.worker import MeasuredWorker
from web.recommender.tasks import refresh_missed_by_publish, warm_model_cache

logger = logging.getLogger(__name__)

MODEL_CHECK_SECONDS = 1.0
"""How often (at most) the worker asks whether a new run was published before it forks."""
MAINTENANCE_SECONDS = 60
"""How often the worker cleans RQ's registries (RQ's default is 10 minutes), also when idle: its blocking wait for a
job ends this often (RQ's waits 405 s). A worker killed during a drain leaves that job "started" until its heartbeat
lapses (about 90 s) and a cleanup, of any worker, finds it and runs it again (web/recommender/refresh.py): this bounds
how much later the users that drain had taken are refreshed."""


class ModelWarmWorker(MeasuredWorker):
    """A forking RQ worker that keeps the active run's model loaded in the parent.

    RQ runs each job in a fresh fork: a model loaded in the parent is
    inherited by every fork for free, one loaded in a fork dies with it.
    So before a fork the parent checks (at most every
    :data:`MODEL_CHECK_SECONDS`) whether another run is active and loads its
    model. Without that, after each publish every refresh read and unpickled
    the model again, several times the refresh itself (figures in
    docs/decisions.md, "Scores and runs"), until the worker restarted.
    """

    _next_check = 0.0

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("maintenance_interval", MAINTENANCE_SECONDS)
        super().__init__(*args, **kwargs)

    @property
    def dequeue_timeout(self) -> int:
        """Seconds one blocking wait for a job lasts: an idle worker looks at its registries between two."""
        return MAINTENANCE_SECONDS

    def warm(self) -> int | None:
        """Load the active run's model here if it is not loaded; its run id (None before the first run or if the DB is down).

        A run published since the last look also gets the refreshes it missed
        queued (:func:`~web.recommender.tasks.refresh_missed_by_publish`).
        """
        self._next_check = time.monotonic() + MODEL_CHECK_SECONDS
        try:
            run_id = warm_model_cache()
        except Exception:  # noqa: BLE001 - only a warm-up: the job itself reports the outage or the bad model
            # Raised here it would stop the worker (RQ quits on an error outside a job) and, at its restart, again.
            logger.exception("could not load the active run's model before forking; each job loads it instead")
            run_id = None
        try:
            missed = refresh_missed_by_publish()
            if missed:
                logger.info("queued the refresh of %d users who changed while the active run computed", len(missed))
        except Exception:  # noqa: BLE001 - as above; the next look tries again
            logger.exception("could not queue the refreshes the active run missed")
        finally:
            # A connection open at the fork would be one socket in two processes.
            connections.close_all()
        return run_id

    def run_maintenance_tasks(self) -> None:
        super().run_maintenance_tasks()
        self.warm()  # idle too: a publish's missed refreshes do not wait for the next job

    def execute_job(self, job: Job, queue: Queue) -> None:
        if time.monotonic() >= self._next_check:
            self.warm()
        super().execute_job(job, queue)
