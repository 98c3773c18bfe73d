"""Starting a precompute run from the progress page: ``PRECOMPUTE_LAUNCHER`` picks how.

* ``rq`` (local, ``make demo``): the run is created pending and
  :func:`web.progress.tasks.run_precompute` is queued for the RQ worker.
* ``kubernetes``: not started from the page yet (the web pod's service account
  would need RBAC to create Jobs; see the cluster issue). The page shows the
  command that starts one instead, :data:`KUBERNETES_HINT`.
"""

from __future__ import annotations

import redis
from django.conf import settings
from django.utils import timezone

from web.progress.models import Run, RunStatus
from web.queue import get_queue

KUBERNETES_HINT = "make k8s-precompute"
"""What an operator runs to start the precompute Job on the cluster (k8s/k8s.mk)."""


class LaunchFailed(Exception):
    """The run could not be handed to anything that would run it; the run is marked failed."""


def can_start_from_page() -> bool:
    return settings.PRECOMPUTE_LAUNCHER == "rq"


def launch(run: Run, extra_args: list[str]) -> None:
    """Hand the pending ``run`` to the configured launcher; a failure marks it failed and raises LaunchFailed."""
    if not can_start_from_page():
        raise LaunchFailed(f"PRECOMPUTE_LAUNCHER={settings.PRECOMPUTE_LAUNCHER}: start the Job with `{KUBERNETES_HINT}`")
    from web.progress.tasks import run_precompute

    try:
        get_queue().enqueue_call(
            run_precompute, args=(run.pk, extra_args), timeout=settings.PRECOMPUTE_JOB_TIMEOUT,
            job_id=f"precompute-run-{run.pk}", description=f"precompute run {run.pk} ({run.algorithm})",
        )
    except redis.RedisError as exc:
        error = f"queued: {type(exc).__name__}: could not queue the run for the worker ({exc})"
        Run.objects.filter(pk=run.pk, status=RunStatus.PENDING).update(
            status=RunStatus.FAILED, error=error, finished_at=timezone.now()
        )
        raise LaunchFailed(error) from exc
