"""Runs as the progress page and /api/runs show them."""

import json
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from web.progress import views
from web.runs.models import ActiveRun, Run, RunSample, RunStatus, ShardProgress, Stage

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


def test_runs_feed_names_the_serving_run_and_the_stalled_one(operator_client, settings):
    """/api/runs lists runs newest first with status, progress, heartbeat age and which one is serving."""
    settings.PROGRESS_STALL_SECONDS = 5
    serving = _run(status=RunStatus.SUCCEEDED, stage=Stage.DONE, users_total=10, users_done=10)
    serving.activate()
    stalled = _run(users_total=10, users_done=4, heartbeat_at=timezone.now() - timedelta(seconds=60))
    ShardProgress.objects.create(run=stalled, shard=0, host="pod-a", users_total=10, users_done=4,
                                 heartbeat_at=timezone.now() - timedelta(seconds=60))
    body = operator_client.get("/api/runs").json()
    assert body["active_run_id"] == serving.pk
    assert body["now_run_id"] == stalled.pk
    by_id = {run["id"]: run for run in body["runs"]}
    assert [run["id"] for run in body["runs"]] == [stalled.pk, serving.pk]
    assert by_id[stalled.pk]["status"] == "stalled" and by_id[stalled.pk]["fraction_done"] == pytest.approx(0.4)
    assert by_id[stalled.pk]["heartbeat_age_seconds"] == pytest.approx(60, abs=2)
    assert by_id[stalled.pk]["shard_progress"][0] | {"heartbeat_at": None, "heartbeat_age_seconds": None} == {
        "shard": 0, "host": "pod-a", "status": "stalled", "stage": "queued", "users_total": 10, "users_done": 4,
        "rows_written": 0, "heartbeat_at": None, "heartbeat_age_seconds": None}
    assert by_id[stalled.pk]["can_cancel"] is True and by_id[serving.pk]["can_cancel"] is False
    assert by_id[serving.pk]["is_active"] is True
    assert operator_client.get(f"/api/runs/{stalled.pk}").json()["users_done"] == 4
    assert operator_client.get("/api/runs/999999").status_code == 404


def test_stage_bars_mark_done_current_and_waiting_stages(operator_client):
    """Each work stage has an entry: the ones before the run's stage done, its own current, the rest waiting."""
    run = _run(stage=Stage.COMPUTE, users_total=8, users_done=2)
    failed = _run(status=RunStatus.FAILED, stage=Stage.INDEX, error="index: OSError: disk full")
    body = operator_client.get("/api/runs").json()
    stages = {r["id"]: r["stages"] for r in body["runs"]}
    assert [(s["stage"], s["state"]) for s in stages[run.pk]] == [
        ("load", "done"), ("matrix", "done"), ("fit", "done"), ("compute", "current"),
        ("write", "waiting"), ("evaluate", "waiting"), ("index", "waiting"), ("publish", "waiting")]
    assert stages[run.pk][3]["fraction"] == pytest.approx(0.25)
    assert [s["state"] for s in stages[failed.pk]][5:7] == ["skipped", "failed"]  # it was not asked to evaluate


def test_quality_figures_come_from_the_runs_evaluation_metrics(operator_client):
    """The history shows the numbers a run recorded under metrics["evaluation"], and nothing for a run without."""
    evaluated = _run(status=RunStatus.SUCCEEDED, metrics={"evaluation": {"ndcg@10": 0.21, "note": "text"}})
    plain = _run(status=RunStatus.SUCCEEDED, metrics={"seconds": {"compute": 2.0}})
    by_id = {r["id"]: r for r in operator_client.get("/api/runs").json()["runs"]}
    assert by_id[evaluated.pk]["quality"] == {"ndcg@10": 0.21}
    assert by_id[plain.pk]["quality"] == {}


def test_progress_page_embeds_the_feed_and_the_registered_algorithms(operator_client):
    """/progress/ renders the runs (with a failed run's error) and the start form's choices from scoring.registry."""
    from scoring.registry import ALGORITHMS

    run = _run(status=RunStatus.FAILED, error="compute: MemoryError")
    response = operator_client.get("/progress/")
    html = response.content.decode()
    feed = json.loads(html.split('<script id="initial-feed" type="application/json">', 1)[1].split("</script>", 1)[0])
    assert feed["runs"][0]["id"] == run.pk and feed["runs"][0]["error"] == "compute: MemoryError"
    for name in ALGORITHMS:
        assert f'<option value="{name}"' in html
    assert response["Cache-Control"].startswith("max-age=0")


def test_kubernetes_launcher_keeps_the_form_and_says_a_job_starts_the_run(operator_client, settings):
    """With PRECOMPUTE_LAUNCHER=kubernetes the page offers the start form and says it creates a Job from the CronJob."""
    settings.PRECOMPUTE_LAUNCHER = "kubernetes"
    html = operator_client.get("/progress/").content.decode()
    assert 'id="start-form"' in html and 'data-launcher="kubernetes"' in html
    assert "CronJob <code>precompute</code>" in html and "make k8s-precompute" in html
    settings.PRECOMPUTE_LAUNCHER = "rq"
    assert "CronJob <code>precompute</code>" not in operator_client.get("/progress/").content.decode()


def test_the_feed_answers_a_poll_304_while_nothing_it_shows_has_changed(operator_client):
    """With every run finished, the page's next poll names the ETag it has and is answered 304 Not Modified,
    however much later; a new run, a publish or new interactions give a new ETag."""
    first = _run(status=RunStatus.SUCCEEDED, stage=Stage.DONE, finished_at=timezone.now(),
                 heartbeat_at=timezone.now() - timedelta(minutes=5))
    full = operator_client.get("/api/runs")
    etag = full["ETag"]
    assert full.status_code == 200 and etag and "no-cache" in full["Cache-Control"] and "private" in full["Cache-Control"]
    time.sleep(0.3)  # the finished run's heartbeat age (in the body, not on the page) moves on

    again = operator_client.get("/api/runs", HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304 and again["ETag"] == etag and again.content == b""

    first.activate()
    published = operator_client.get("/api/runs", HTTP_IF_NONE_MATCH=etag)
    assert published.status_code == 200 and published["ETag"] != etag
    assert published.json()["active_run_id"] == first.pk


def test_the_feed_is_never_304_while_a_run_is_unfinished(operator_client):
    """A running (or pending) run's heartbeat age and stall are read against the clock: every poll gets the feed."""
    _run(users_total=10, users_done=4)
    etag = operator_client.get("/api/runs")["ETag"]
    time.sleep(0.3)
    assert operator_client.get("/api/runs", HTTP_IF_NONE_MATCH=etag).status_code == 200


def test_a_feed_etag_is_no_pass_for_someone_who_may_not_read_it(operator_client, visitor_client):
    """The permission check comes first: a visitor who has an operator's ETag still gets 403."""
    _run(status=RunStatus.SUCCEEDED, stage=Stage.DONE, finished_at=timezone.now())
    etag = operator_client.get("/api/runs")["ETag"]
    assert visitor_client.get("/api/runs", HTTP_IF_NONE_MATCH=etag).status_code == 403


def test_a_publish_while_the_feed_is_read_never_shows_a_run_serving_while_it_runs(operator_client, monkeypatch):
    """The feed reads the runs and the serving run in separate statements: a publish that commits between them must
    not show the new run serving with a "running" row (the page drew "Serving: run N" beside "running" for a second)."""
    old = _run(status=RunStatus.SUCCEEDED, stage=Stage.DONE, finished_at=timezone.now())
    old.activate()
    new = _run()
    read_runs = views._recent_runs

    def publish_right_after_reading_the_runs():
        runs = read_runs()
        Run.objects.publish(new.pk, metrics={})
        return runs

    monkeypatch.setattr(views, "_recent_runs", publish_right_after_reading_the_runs)
    feed = operator_client.get("/api/runs").json()

    serving = [run for run in feed["runs"] if run["is_active"]]
    assert [run["id"] for run in serving] == [feed["active_run_id"]]
    assert serving[0]["status"] == "succeeded"


def test_the_last_runs_rate_comes_from_its_samples(operator_client):
    """When nothing is working the Now panel shows the newest run, finished: its users/s is measured on its samples
    (a sharded run's recorded seconds are one shard's), so the feed carries them for that run too."""
    start = timezone.now() - timedelta(seconds=100)
    last = _run(algorithm="item_knn", shards=2, started_at=start, users_total=610, users_done=0)
    for seconds, users, stage in [(5, 0, Stage.COMPUTE), (10, 300, Stage.COMPUTE), (15, 610, Stage.WRITE)]:
        RunSample.objects.create(run=last, at=start + timedelta(seconds=seconds), stage=stage, users_done=users,
                                 rows_written=users * 10)
    Run.objects.filter(pk=last.pk).update(status=RunStatus.SUCCEEDED, stage=Stage.DONE, users_done=610,
                                          finished_at=start + timedelta(seconds=20), metrics={"seconds": {"compute": 1.0}})
    feed = operator_client.get("/api/runs").json()
    assert feed["now_run_id"] == last.pk
    assert feed["runs"][0]["throughput"]["users_per_second"] == pytest.approx(61)
