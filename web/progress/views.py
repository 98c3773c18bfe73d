"""The progress page, its charts and its JSON feed and actions; all state is read from PostgreSQL.

Staff only (:mod:`web.progress.access`). Thin views: the queries live on the
models, the figures in :mod:`~web.progress.throughput`, the validation in
:mod:`~web.progress.serializers`, the start in :mod:`~web.progress.launcher`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseNotModified
from django.shortcuts import get_object_or_404, render
from django.views.decorators.cache import never_cache
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from web.progress import charts, launcher
from web.progress.access import OperatorsOnly, operator_required
from web.progress.algorithms import JOB_DEFAULTS, catalogue
from web.progress.serializers import (
    MAX_PAGE_SHARDS, LaunchFailedSerializer, RunActivatedSerializer, RunCancelledSerializer, RunSerializer, RunsFeedSerializer,
    StartRunSerializer, feed_context,
)
from web.restapi import IF_NONE_MATCH, NOT_MODIFIED, ErrorSerializer, matches
from web.runs.errors import RollbackRefused
from web.runs.models import LOG_LINES_KEPT, ActiveRun, Run, RunSample
from web.runs.retrain import retrain_status

RUNS_SHOWN = 50
DURATION_CHART_RUNS = 30


def _recent_runs() -> list[Run]:
    return list(Run.objects.prefetch_related("shard_progress")[:RUNS_SHOWN])


def runs_feed() -> dict[str, Any]:
    """Everything the page shows, as JSON: the runs newest first, the serving run, the run for the Now panel,
    and the retraining policy with the count of interactions since the serving run's data."""
    launcher.fail_lost_queued_runs()  # else a run whose job Redis lost would wait here for ever
    # The serving run first: a publish (one transaction: serving, and the row succeeded) that commits between the two
    # reads then shows its run succeeded a poll before it shows it serving, never serving while its row runs.
    active = ActiveRun.current_run_id()
    runs = _recent_runs()
    context = feed_context(runs, active)
    data = RunSerializer(runs, many=True, context=context).data
    # The Now panel: the newest run that is working, else the newest pending or stalled one, else the newest.
    candidates = [run["id"] for run in data if run["status"] == "running"] or [
        run["id"] for run in data if run["can_cancel"]] or [run["id"] for run in data[:1]]
    active = context["active_run_id"]
    if active is not None and all(run["id"] != active for run in data):  # an old run rolled back to
        older = Run.objects.prefetch_related("shard_progress").filter(pk=active)
        data = data + RunSerializer(older, many=True, context=context).data
    return {
        "active_run_id": active,
        "now_run_id": candidates[0] if candidates else None,
        "stall_after_seconds": settings.PROGRESS_STALL_SECONDS,
        "server_time": context["now"].isoformat(),
        "retraining": asdict(retrain_status()),
        "runs": data,
    }


FEED_CACHE_CONTROL = "private, no-cache"
"""The feed is an operator's: no shared cache keeps it, and the browser asks again before each use."""


def feed_etag(feed: dict[str, Any]) -> str:
    """A validator of what the page draws from ``feed``, for its poll's ``If-None-Match``.

    While a run is pending or running, the page reads its heartbeat's age
    against the clock (and a run stalls by the clock alone), so the
    validator covers the whole feed, ``server_time`` included: every poll
    gets a new one. Once every run has finished nothing on the page moves
    with time, and the validator leaves out the clock and the ages read
    against it: the page polls every second, and while nothing happens each
    poll is a 304 instead of the feed again.
    """
    unfinished = any(run["can_cancel"] for run in feed["runs"])
    shown = feed if unfinished else _without_clock(feed)
    digest = hashlib.sha256(json.dumps(shown, sort_keys=True, default=str).encode()).hexdigest()[:32]
    return f'W/"{digest}"'


def _without_clock(value: Any) -> Any:
    """``value`` without ``server_time`` and the ``*_age_seconds`` read against it, at any depth."""
    if isinstance(value, dict):
        return {key: _without_clock(item) for key, item in value.items()
                if key != "server_time" and not key.endswith("_age_seconds")}
    if isinstance(value, list):
        return [_without_clock(item) for item in value]
    return value


@never_cache
@operator_required
def progress_page(request: HttpRequest) -> HttpResponse:
    """The operators' page; ``progress.js`` redraws it from ``/api/runs`` every second."""
    return render(request, "progress/runs.html", {
        "feed": runs_feed(),
        "algorithms": catalogue(),
        "job_defaults": JOB_DEFAULTS,
        "launcher": settings.PRECOMPUTE_LAUNCHER,
        "kubernetes_hint": launcher.KUBERNETES_HINT,
        "max_shards": MAX_PAGE_SHARDS,
    })


@never_cache
@operator_required
def throughput_chart(request: HttpRequest, run_id: int) -> HttpResponse:
    """``/progress/runs/<id>/throughput.svg``: users/s over the run's time."""
    run = get_object_or_404(Run, pk=run_id)
    samples = list(RunSample.objects.filter(run=run).order_by("at"))
    return HttpResponse(charts.throughput_svg(run, samples), content_type="image/svg+xml")


@never_cache
@operator_required
def durations_chart(request: HttpRequest) -> HttpResponse:
    """``/progress/durations.svg``: durations of the recent finished runs, oldest left."""
    runs = list(Run.objects.exclude(finished_at=None)[:DURATION_CHART_RUNS])[::-1]
    return HttpResponse(charts.durations_svg(runs), content_type="image/svg+xml")


def _errors(**described: str) -> dict:
    """Documented error answers, all in the API's error shape: ``_errors(e404="No such run.")``."""
    return {int(code[1:]): OpenApiResponse(ErrorSerializer, description=text) for code, text in described.items()}


OPERATORS_ONLY = {"e403": "Not an operator's session or token (anonymous too), or a session POST without its CSRF token."}


class RunListView(OperatorsOnly, APIView):
    """``GET /api/runs``: the latest runs and which one is serving; ``POST /api/runs``: start a run."""

    @extend_schema(operation_id="runs_feed", parameters=[IF_NONE_MATCH],
                   responses={200: RunsFeedSerializer, **NOT_MODIFIED, **_errors(**OPERATORS_ONLY)},
                   summary="The latest precompute runs, which one is serving, and which one the Now panel shows")
    def get(self, request):
        feed = runs_feed()
        etag = feed_etag(feed)
        answer = HttpResponseNotModified() if matches(request, etag, exists=True) else Response(feed)  # the feed always exists
        answer["ETag"], answer["Cache-Control"] = etag, FEED_CACHE_CONTROL
        return answer

    @extend_schema(
        request=StartRunSerializer,
        responses={
            201: RunSerializer,
            **_errors(e400="The algorithm, a hyperparameter or an option is invalid; `fields` says which.",
                      e411="The body was sent chunked, without a Content-Length.", **OPERATORS_ONLY),
            503: OpenApiResponse(LaunchFailedSerializer, description=(
                "The run was created but could not be started (Redis down, or the Kubernetes API refused "
                "the Job); it is marked failed with the same error.")),
        },
        summary="Start a precompute run (RQ worker or Kubernetes Job, by PRECOMPUTE_LAUNCHER)",
    )
    def post(self, request):
        form = StartRunSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        run = form.save()
        try:
            launcher.launch(run, form.job_args(), shards=form.validated_data.get("shards"))
        except launcher.LaunchFailed as exc:
            return Response({"error": str(exc), "status": 503, "run_id": run.pk},
                            status=status.HTTP_503_SERVICE_UNAVAILABLE)
        run.refresh_from_db()
        context = feed_context([run], ActiveRun.current_run_id())
        return Response(RunSerializer(run, context=context).data, status=status.HTTP_201_CREATED)


class RunDetailView(OperatorsOnly, APIView):
    """``GET /api/runs/<id>``."""

    @extend_schema(operation_id="runs_retrieve",
                   responses={200: RunSerializer, **_errors(**OPERATORS_ONLY, e404="No run with this id.")},
                   summary="One precompute run with its shards, stages and throughput")
    def get(self, request, run_id: int):
        run = get_object_or_404(Run.objects.prefetch_related("shard_progress"), pk=run_id)
        context = feed_context([run], ActiveRun.current_run_id(), extra_sample_runs=(run.pk,), log_lines=LOG_LINES_KEPT)
        return Response(RunSerializer(run, context=context).data)


class RunCancelView(OperatorsOnly, APIView):
    """``POST /api/runs/<id>/cancel``: cooperative; the job stops at its next chunk or stage."""

    @extend_schema(request=None, responses={
        200: RunCancelledSerializer,
        **_errors(**OPERATORS_ONLY, e404="No run with this id.", e409="The run is already finished."),
    }, summary="Cancel a pending or running run")
    def post(self, request, run_id: int):
        run = get_object_or_404(Run, pk=run_id)
        if not run.cancel():
            return Response({"error": f"run {run_id} is {run.status}; only a pending or running run can be cancelled",
                             "status": 409}, status=status.HTTP_409_CONFLICT)
        return Response({"id": run.pk, "status": run.status})


class RunActivateView(OperatorsOnly, APIView):
    """``POST /api/runs/<id>/activate``: serve this older successful run again (roll back)."""

    @extend_schema(request=None, responses={
        200: RunActivatedSerializer,
        **_errors(**OPERATORS_ONLY, e404="No run with this id.",
                  e409="The run did not succeed, or its scores were dropped by retention."),
    }, summary="Serve an older successful run again (roll back)")
    def post(self, request, run_id: int):
        get_object_or_404(Run, pk=run_id)
        try:
            run = Run.objects.roll_back_to(run_id)
        except RollbackRefused as exc:
            return Response({"error": str(exc), "status": 409}, status=status.HTTP_409_CONFLICT)
        return Response({"id": run.pk, "active_run_id": run.pk})
