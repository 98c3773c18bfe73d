"""Starting a precompute run from the progress page: ``PRECOMPUTE_LAUNCHER`` picks how.

* ``rq`` (local, ``make demo``): the run is created pending and
  :func:`web.progress.tasks.run_precompute` is queued for the RQ worker.
* ``kubernetes`` (the cluster's ConfigMap): the web pod creates a Job from
  the CronJob ``precompute`` through the Kubernetes API with its own
  service account (:mod:`web.progress.kubernetes`); the Job's pods claim the
  pending run by its name. ``make k8s-precompute`` (:data:`KUBERNETES_HINT`)
  does the same from a checkout.

Either way a launch that fails marks the run failed with the reason, so the
page shows it, and raises :class:`LaunchFailed`. With ``rq`` a run whose
queued job Redis lost later (restarted without persistence, flushed) is
failed by :func:`fail_lost_queued_runs`, since nothing would ever start it.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import redis
from django.conf import settings
from django.utils import timezone
from rq.job import Job

from web.progress import kubernetes
from web.progress.tasks import run_precompute
from web.queue import get_queue
from web.runs.models import Run, RunStatus
from web.runs.spec import RUN_NAME_KEY

LOST_AFTER_SECONDS = 60
"""Age from which a pending run's queued job is looked for: the start queues it right after creating the run."""
LOST_JOB_ERROR = (
    "queued: JobLost: the worker's queue no longer holds this run's job (Redis lost its data: restarted without "
    "persistence, or flushed), so nothing would start it; start it again"
)

KUBERNETES_HINT = "make k8s-precompute"
"""What an operator runs to start the precompute Job from a checkout with cluster access (k8s/k8s.mk)."""


class LaunchFailed(Exception):
    """The run could not be handed to anything that would run it; the run is marked failed."""


def launch(run: Run, extra_args: list[str], shards: int | None = None) -> None:
    """Hand the pending ``run`` to the configured launcher; a failure marks it failed and raises LaunchFailed.

    ``shards`` (Kubernetes only; the form refuses it otherwise) overrides the CronJob's number of pods.
    """
    if settings.PRECOMPUTE_LAUNCHER == "kubernetes":
        _launch_job(run, extra_args, shards)
    else:
        _enqueue(run, extra_args)


def _enqueue(run: Run, extra_args: list[str]) -> None:
    try:
        get_queue().enqueue_call(
            run_precompute, args=(run.pk, extra_args), timeout=settings.PRECOMPUTE_JOB_TIMEOUT,
            job_id=_job_id(run.pk), description=f"precompute run {run.pk} ({run.algorithm})",
        )
    except redis.RedisError as exc:
        _fail(run, f"queued: {type(exc).__name__}: could not queue the run for the worker ({exc})", exc)


def _job_id(run_id: int) -> str:
    return f"precompute-run-{run_id}"


def fail_lost_queued_runs() -> list[int]:
    """With the ``rq`` launcher, fail the pending runs whose queued job Redis no longer holds; their ids.

    Pending for ever otherwise: the page's Now panel would stay on them and the retraining policy, which waits
    while a run is pending, would never start another. Conditional on the run still being pending, so the
    worker taking it meanwhile, or two polls at once, change nothing. Redis unreachable: nothing is decided.
    """
    if settings.PRECOMPUTE_LAUNCHER != "rq":
        return []
    waited = Run.objects.filter(status=RunStatus.PENDING,
                                created_at__lt=timezone.now() - timedelta(seconds=LOST_AFTER_SECONDS))
    pending = list(waited.values_list("pk", flat=True))
    if not pending:
        return []
    try:
        connection = get_queue().connection
        lost = [run_id for run_id in pending if not Job.exists(_job_id(run_id), connection=connection)]
    except redis.RedisError:
        return []
    failed = [run_id for run_id in lost if Run.objects.filter(pk=run_id, status=RunStatus.PENDING).update(
        status=RunStatus.FAILED, error=LOST_JOB_ERROR, finished_at=timezone.now())]
    return failed


def _launch_job(run: Run, extra_args: list[str], shards: int | None) -> None:
    """GET the CronJob, record the Job's name (and shard count) on the pending run, POST the Job."""
    try:
        api = kubernetes.InClusterApi.from_pod(Path(settings.KUBERNETES_SERVICE_ACCOUNT_DIR))
        cronjob = api.call(kubernetes.GET_CRONJOB)
        name = kubernetes.job_name(run.pk)
        job = kubernetes.job_for_run(cronjob, name, run.algorithm, run.parameters, extra_args, shards)
        # The pods find the run by this name; they refuse a run whose shard count differs from theirs.
        recorded = Run.objects.filter(pk=run.pk, status=RunStatus.PENDING).update(
            shards=kubernetes.shards_of(kubernetes.job_container(job)),
            metrics={**run.metrics, RUN_NAME_KEY: name},
        )
        if not recorded:
            raise kubernetes.KubernetesError(f"run {run.pk} is no longer pending (cancelled?); no Job was created")
        api.call(kubernetes.CREATE_JOB, job)
    except kubernetes.KubernetesError as exc:
        _fail(run, f"queued: KubernetesError: could not start the run as a Job: {exc}", exc)


def _fail(run: Run, error: str, cause: Exception) -> None:
    Run.objects.filter(pk=run.pk, status=RunStatus.PENDING).update(
        status=RunStatus.FAILED, error=error, finished_at=timezone.now()
    )
    raise LaunchFailed(error) from cause
