"""The RQ worker's own metrics and log lines: each job's outcome and duration, under the request id that queued it.

RQ runs every job in a fresh fork (the work horse) that exits when the job
ends, so a count kept in the horse would die with it. The worker's parent,
which lives as long as the pod, waits for each horse and then reads the
job's outcome and timings from the job's own record in Redis, which the
horse (or, for a killed horse, the parent) wrote. So the counts live in one
long-lived process and need no multi-process mode; the parent serves them on
``WORKER_METRICS_PORT`` (docs/operations.md).
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from prometheus_client import Counter, Histogram, start_http_server
from rq import Worker
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.queue import Queue

from web.observability import requestid
from web.observability.metrics import PREFIX

logger = logging.getLogger(__name__)

# A refresh takes ~10-100 ms; a precompute run that the worker runs (PRECOMPUTE_LAUNCHER=rq) minutes to hours.
JOB_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0, 7200.0)

WORKER_JOBS = Counter(
    f"{PREFIX}_worker_jobs",
    "Jobs the RQ worker ended, by function (its name without the module, e.g. refresh_user) and final status.",
    ["function", "status"],
)
ALERTED_FUNCTIONS = ("refresh_due", "refresh_user")
"""The jobs whose failures an alert rates (k8s/overlays/monitoring/prometheus-rule.yaml, MovielensRefreshesFailing)."""
OUTCOMES = ("finished", "failed")
WORKER_JOB_DURATION = Histogram(
    f"{PREFIX}_worker_job_duration_seconds",
    "Seconds a job ran in the RQ worker, by function and final status.",
    ["function", "status"],
    buckets=JOB_BUCKETS,
)


def function_label(job: Job) -> str:
    """``refresh_user`` for ``web.recommender.tasks.refresh_user``: stable when code moves between modules."""
    return (job.func_name or "unknown").rsplit(".", 1)[-1]


class MeasuredWorker(Worker):
    """A forking RQ worker that counts and times each job, logs a line for it, and runs it under its request id."""

    def work(self, *args: object, **kwargs: object) -> bool:
        # Served at 0 from the start: rate() over a series born at 1 would miss its first failure.
        for function in ALERTED_FUNCTIONS:
            for status in OUTCOMES:
                WORKER_JOBS.labels(function, status)
        if settings.WORKER_METRICS_PORT:
            start_http_server(settings.WORKER_METRICS_PORT)
            logger.info("worker metrics on port %d", settings.WORKER_METRICS_PORT)
        return super().work(*args, **kwargs)

    def execute_job(self, job: Job, queue: Queue) -> None:
        # Bound before the fork: the horse inherits it, so its log lines carry the id as well as this process's.
        token = requestid.bind(job.meta.get(requestid.JOB_META_KEY))
        started = time.monotonic()
        try:
            super().execute_job(job, queue)
        finally:
            self._record(job, time.monotonic() - started)
            requestid.unbind(token)

    def _record(self, job: Job, wall_seconds: float) -> None:
        try:
            job.refresh()  # what the horse wrote: status, started_at, ended_at
            status = getattr(job.get_status(refresh=False), "value", None) or "unknown"
            ran = (job.ended_at - job.started_at).total_seconds() if job.ended_at and job.started_at else wall_seconds
        except NoSuchJobError:  # already removed (a result_ttl of 0): it finished
            status, ran = "finished", wall_seconds
        function = function_label(job)
        WORKER_JOBS.labels(function, status).inc()
        WORKER_JOB_DURATION.labels(function, status).observe(ran)
        logger.info(
            "job %s %s %s in %.1fms", job.id, function, status, ran * 1000,
            extra={"job_id": job.id, "function": function, "status": status, "duration_ms": round(ran * 1000, 2)},
        )
