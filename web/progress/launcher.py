"""Starting a precompute run from the progress page: ``PRECOMPUTE_LAUNCHER`` picks how.

* ``rq`` (local, ``make demo``): the run is created pending and
  :func:`web.progress.tasks.run_precompute` is queued for the RQ worker.
* ``kubernetes`` (the cluster's ConfigMap): the web pod creates a Job from
  the CronJob ``precompute`` through the Kubernetes API with its own
  service account (:mod:`web.progress.kubernetes`); the Job's pods claim the
  pending run by its name. ``make k8s-precompute`` (:data:`KUBERNETES_HINT`)
  does the same from a checkout.

Either way a launch that fails marks the run failed with the reason, so the
page shows it, and raises :class:`LaunchFailed`.
"""

from __future__ import annotations

from pathlib import Path

import redis
from django.conf import settings
from django.utils import timezone

from web.progress import kubernetes
from web.progress.tasks import run_precompute
from web.queue import get_queue
from web.runs.models import Run, RunStatus
from web.runs.spec import RUN_NAME_KEY

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
            job_id=f"precompute-run-{run.pk}", description=f"precompute run {run.pk} ({run.algorithm})",
        )
    except redis.RedisError as exc:
        _fail(run, f"queued: {type(exc).__name__}: could not queue the run for the worker ({exc})", exc)


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
