"""Why a run started as a Kubernetes Job has not started yet, in words for the operator watching the progress page.

A run launched from the page stays ``pending`` until the first pod of its Job
claims it. When that takes a while, the cause is in the cluster, not the
database: the pods cannot be scheduled ("0/1 nodes are available: 1
Insufficient memory"), their image cannot be pulled (``ImagePullBackOff``),
the ResourceQuota refuses to create them (a ``FailedCreate`` event on the
Job), or the Job itself failed. This module reads the Job, its pods and the
Job's events with the web pod's credentials (:data:`~web.progress.kubernetes.GET_JOB`,
:data:`~web.progress.kubernetes.LIST_PODS`, :data:`~web.progress.kubernetes.LIST_EVENTS`,
which the Role precompute-launcher grants read-only) and says the first
reason it finds. :func:`explain` is the pure part; :func:`pending_reason` adds
the API calls and a short cache, since the page polls every second.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

from web.progress import kubernetes
from web.runs.models import Run, RunStatus
from web.runs.spec import RUN_NAME_KEY

JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
QUIET_SECONDS = 10.0
"""A run pending for less than this is simply starting (pods take seconds to schedule and pull): nothing to explain,
and nothing to ask the API server while the start button's own request is answered."""
CACHE_SECONDS = 5.0
"""How long one reading serves the page's polls (every second) before the API server is asked again."""
WAITING_REASONS_SHOWN = {
    "ErrImagePull", "ImagePullBackOff", "InvalidImageName", "CreateContainerConfigError", "CreateContainerError",
    "CrashLoopBackOff", "RunContainerError",
}
"""Container waiting reasons that mean the pod will not get going by itself (ContainerCreating and PodInitializing
are normal and not reported)."""

_cache: dict[str, tuple[float, str | None]] = {}
_cache_lock = threading.Lock()


def explain(job: dict[str, Any] | None, pods: list[dict[str, Any]], events: list[dict[str, Any]]) -> str | None:
    """The first reason the Job's run has not started, from the Job, its pods and its events; None if none shows."""
    for condition in ((job or {}).get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Failed" and condition.get("status") == "True":
            return _sentence("The Job failed", condition.get("reason"), condition.get("message"))
    for pod in pods:
        status = pod.get("status") or {}
        for condition in status.get("conditions") or []:
            if condition.get("type") == "PodScheduled" and condition.get("status") == "False":
                return _sentence("A pod cannot be scheduled", condition.get("reason"), condition.get("message"))
        for container in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
            waiting = (container.get("state") or {}).get("waiting") or {}
            if waiting.get("reason") in WAITING_REASONS_SHOWN:
                return _sentence(f"Container {container.get('name', '?')} cannot start", waiting["reason"],
                                 waiting.get("message"))
    if not pods:
        warnings = [event for event in events if event.get("type") == "Warning"]
        if warnings:
            latest = max(warnings, key=lambda event: event.get("lastTimestamp") or event.get("eventTime") or "")
            return _sentence("Kubernetes cannot create the Job's pods", latest.get("reason"), latest.get("message"))
    return None


def _sentence(what: str, reason: str | None, message: str | None) -> str:
    detail = ": ".join(part.strip() for part in (reason or "", message or "") if part and part.strip())
    return f"{what}: {detail}" if detail else f"{what}."


def read_reason(api: kubernetes.InClusterApi, job_name: str) -> str | None:
    """Ask the API server about Job ``job_name`` (its state, its pods, its events) and :func:`explain` it."""
    try:
        job = api.call(kubernetes.GET_JOB, name=job_name)
    except kubernetes.KubernetesError as exc:
        if "answered 404" in str(exc):
            return f"The Job {job_name} does not exist (deleted, or expired after it finished)."
        raise
    pods = api.call(kubernetes.LIST_PODS, query={"labelSelector": f"{JOB_NAME_LABEL}={job_name}"}).get("items", [])
    events = api.call(kubernetes.LIST_EVENTS, query={
        "fieldSelector": f"involvedObject.kind=Job,involvedObject.name={job_name}"}).get("items", [])
    return explain(job, pods, events)


def pending_reason(run: Run) -> str | None:
    """For a pending run started as a Kubernetes Job: why it has not started, if the cluster says; else None.

    Errors reading the cluster are a reason too (the operator should know the page cannot see), never an exception.
    """
    job_name = (run.metrics or {}).get(RUN_NAME_KEY) if isinstance(run.metrics, dict) else None
    if settings.PRECOMPUTE_LAUNCHER != "kubernetes" or run.status != RunStatus.PENDING or not job_name:
        return None
    if run.created_at and timezone.now() - run.created_at < timedelta(seconds=QUIET_SECONDS):
        return None
    now = time.monotonic()
    with _cache_lock:
        cached = _cache.get(job_name)
        if cached and now - cached[0] < CACHE_SECONDS:
            return cached[1]
    try:
        api = kubernetes.InClusterApi.from_pod(Path(settings.KUBERNETES_SERVICE_ACCOUNT_DIR))
        reason = read_reason(api, job_name)
    except kubernetes.KubernetesError as exc:
        reason = f"Cannot read the Job's state from the cluster: {exc}"
    with _cache_lock:
        _cache[job_name] = (now, reason)
    return reason
