"""Runs as the progress page and /api/runs show them."""

from datetime import timedelta

import pytest
from django.utils import timezone

from web.progress.models import ActiveRun, Run, RunStatus, Stage

pytestmark = pytest.mark.django_db


def _run(**fields) -> Run:
    defaults = {"algorithm": "popularity", "status": RunStatus.RUNNING, "stage": Stage.COMPUTE,
                "started_at": timezone.now(), "heartbeat_at": timezone.now()}
    return Run.objects.create(**(defaults | fields))


def test_a_running_run_without_heartbeat_is_stalled(settings):
    """A running run whose heartbeat is older than PROGRESS_STALL_SECONDS is reported as stalled."""
    settings.PROGRESS_STALL_SECONDS = 30
    fresh = _run()
    old = _run(heartbeat_at=timezone.now() - timedelta(seconds=31))
    finished = _run(status=RunStatus.SUCCEEDED, heartbeat_at=timezone.now() - timedelta(hours=1))
    assert (fresh.display_status, old.display_status, finished.display_status) == ("running", "stalled", "succeeded")


def test_activate_switches_the_serving_run_in_one_update(django_assert_num_queries):
    """Publishing a run is a single UPDATE of the active-run row."""
    first, second = _run(status=RunStatus.SUCCEEDED), _run(status=RunStatus.SUCCEEDED)
    first.activate()
    with django_assert_num_queries(1):
        second.activate()
    assert ActiveRun.current_run_id() == second.pk
    assert Run.objects.active() == second


def test_runs_feed_names_the_serving_run_and_the_stalled_one(client, settings):
    """/api/runs lists runs newest first with status, progress and which one is serving."""
    settings.PROGRESS_STALL_SECONDS = 5
    serving = _run(status=RunStatus.SUCCEEDED, users_total=10, users_done=10)
    serving.activate()
    stalled = _run(users_total=10, users_done=4, heartbeat_at=timezone.now() - timedelta(seconds=60))
    body = client.get("/api/runs").json()
    assert body["active_run_id"] == serving.pk
    by_id = {run["id"]: run for run in body["runs"]}
    assert [run["id"] for run in body["runs"]] == [stalled.pk, serving.pk]
    assert by_id[stalled.pk]["status"] == "stalled" and by_id[stalled.pk]["fraction_done"] == pytest.approx(0.4)
    assert by_id[serving.pk]["is_active"] is True
    assert client.get(f"/api/runs/{stalled.pk}").json()["users_done"] == 4
    assert client.get("/api/runs/999999").status_code == 404


def test_progress_page_lists_runs(client):
    """/progress/ renders every recent run with its status."""
    run = _run(status=RunStatus.FAILED, error="compute: MemoryError")
    html = client.get("/progress/").content.decode()
    assert f'data-run="{run.pk}"' in html and "compute: MemoryError" in html
