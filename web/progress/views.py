"""The progress page and its JSON feed; all state is read from PostgreSQL."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from rest_framework.response import Response
from rest_framework.views import APIView

from web.progress.models import ActiveRun, Run
from web.progress.serializers import RunSerializer

RUNS_SHOWN = 50


def _recent_runs():
    return Run.objects.prefetch_related("shard_progress")[:RUNS_SHOWN]


def progress_page(request: HttpRequest) -> HttpResponse:
    """Runs with their status and a bar; ``progress.js`` refreshes them from ``/api/runs``."""
    return render(request, "progress/runs.html", {"runs": _recent_runs(), "active_run_id": ActiveRun.current_run_id()})


class RunListView(APIView):
    """``GET /api/runs``: the latest runs, newest first, and which one is serving."""

    def get(self, request):
        active = ActiveRun.current_run_id()
        runs = RunSerializer(_recent_runs(), many=True, context={"active_run_id": active}).data
        return Response({"active_run_id": active, "runs": runs})


class RunDetailView(APIView):
    """``GET /api/runs/<id>``."""

    def get(self, request, run_id: int):
        run = get_object_or_404(Run.objects.prefetch_related("shard_progress"), pk=run_id)
        return Response(RunSerializer(run, context={"active_run_id": ActiveRun.current_run_id()}).data)
