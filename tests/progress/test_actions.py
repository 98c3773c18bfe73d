"""Start, cancel and roll back from the page's JSON endpoints."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rq import Queue

from tests.helpers import run as run_job_in_process
from web.runs.models import ActiveRun, Run, RunStatus, ShardProgress, Stage

START = "/api/runs"


@pytest.mark.django_db
def test_start_creates_a_pending_run_and_queues_the_job_with_a_long_timeout(operator_client, redis_conn, settings):
    """A valid start records the run's parameters and queues run_precompute(run id, job args) with the job timeout."""
    settings.PRECOMPUTE_JOB_TIMEOUT = 7200
    response = operator_client.post(START, {"algorithm": "popularity", "parameters": {"damping": 5}, "top_n": 20,
                                            "chunk_size": 50}, content_type="application/json")
    assert response.status_code == 201, response.json()
    run = Run.objects.get(pk=response.json()["id"])
    assert (run.status, run.algorithm, run.parameters) == ("pending", "popularity", {"top_n": 20, "popular": 500, "damping": 5})
    jobs = Queue(settings.RQ_QUEUE, connection=redis_conn).jobs
    assert len(jobs) == 1
    assert jobs[0].func_name == "web.progress.tasks.run_precompute"
    assert jobs[0].args == (run.pk, ["--chunk-size", "50"]) and jobs[0].timeout == 7200


@pytest.mark.django_db
def test_start_with_evaluate_asks_the_job_to_evaluate_without_recording_it_as_a_parameter(operator_client, redis_conn, settings):
    """The start form's "Evaluate" is the job's --evaluate: it fills the run's quality figures, not its parameters."""
    response = operator_client.post(START, {"algorithm": "popularity", "evaluate": True}, content_type="application/json")
    assert response.status_code == 201, response.json()
    run = Run.objects.get(pk=response.json()["id"])
    assert "evaluate" not in run.parameters
    assert Queue(settings.RQ_QUEUE, connection=redis_conn).jobs[0].args == (run.pk, ["--evaluate"])


@pytest.mark.django_db
@pytest.mark.parametrize("payload, field", [
    ({"algorithm": "no-such-algorithm"}, "algorithm"),
    ({"algorithm": "popularity", "parameters": {"damping": -1}}, "parameters"),
    ({"algorithm": "popularity", "parameters": {"neighbours": 5}}, "parameters"),
    ({"algorithm": "popularity", "top_n": 0}, "top_n"),
    ({"algorithm": "popularity", "chunk_size": "many"}, "chunk_size"),
])
def test_bad_start_requests_are_refused_and_nothing_is_queued(operator_client, redis_conn, settings, payload, field):
    """A bad algorithm, hyperparameter or option is a 400 naming the field; no run is created and nothing queued."""
    response = operator_client.post(START, payload, content_type="application/json")
    assert response.status_code == 400
    assert field in response.json()["fields"]
    assert not Run.objects.exists()
    assert Queue(settings.RQ_QUEUE, connection=redis_conn).count == 0


@pytest.mark.django_db
def test_start_with_redis_down_marks_the_run_failed_and_says_so(operator_client, settings):
    """If the queue is unreachable the answer is 503 and the run is failed in 'queued', not left pending."""
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = operator_client.post(START, {"algorithm": "popularity"}, content_type="application/json")
    assert response.status_code == 503
    run = Run.objects.get(pk=response.json()["run_id"])
    assert run.status == "failed" and run.error.startswith("queued: ")


@pytest.mark.django_db
def test_a_run_whose_queued_job_redis_lost_is_failed_and_no_longer_blocks_the_page(operator_client, redis_conn, settings):
    """Redis lost its data (restarted without persistence, flushed) while a started run waited for the worker: nothing
    would ever start it. Once the run is past the queueing grace, the page's next poll finds its job gone and fails
    it, saying why, and the Now panel moves on; a run whose job is still queued stays pending. (Before: pending for
    ever, the Now panel stuck on it, and a retraining policy, which waits while a run is pending, never ran again.)"""
    lost, waiting = (operator_client.post(START, {"algorithm": "popularity"}, content_type="application/json").json()["id"]
                     for _ in range(2))
    redis_conn.delete(f"rq:job:precompute-run-{lost}")  # what a Redis that lost its data no longer holds
    Run.objects.filter(pk__in=[lost, waiting]).update(created_at=timezone.now() - timedelta(minutes=5))

    feed = operator_client.get(START).json()
    runs = {run["id"]: run for run in feed["runs"]}
    assert runs[lost]["status"] == "failed" and "Redis" in runs[lost]["error"] and "start it again" in runs[lost]["error"]
    assert runs[waiting]["status"] == "pending" and feed["now_run_id"] == waiting


@pytest.mark.django_db
def test_a_just_started_run_is_not_taken_for_lost(operator_client, redis_conn):
    """Within the grace a pending run is left alone whatever Redis holds: the start queues its job after creating it."""
    started = operator_client.post(START, {"algorithm": "popularity"}, content_type="application/json").json()["id"]
    redis_conn.delete(f"rq:job:precompute-run-{started}")
    assert Run.objects.get(pk=operator_client.get(START).json()["now_run_id"]).status == RunStatus.PENDING


@pytest.mark.django_db
def test_cancel_marks_an_unfinished_run_and_refuses_a_finished_one(operator_client):
    """Cancel turns a running run cancelled (the job stops itself) and answers 409 for a succeeded run."""
    running = Run.objects.create(algorithm="popularity", status=RunStatus.RUNNING, stage=Stage.COMPUTE,
                                 started_at=timezone.now(), heartbeat_at=timezone.now())
    done = Run.objects.create(algorithm="popularity", status=RunStatus.SUCCEEDED, stage=Stage.DONE)
    assert operator_client.post(f"/api/runs/{running.pk}/cancel").json() == {"id": running.pk, "status": "cancelled"}
    running.refresh_from_db()
    assert running.status == "cancelled"
    response = operator_client.post(f"/api/runs/{done.pk}/cancel")
    assert response.status_code == 409 and "succeeded" in response.json()["error"]


@pytest.mark.django_db(transaction=True)
def test_roll_back_serves_an_older_run_whose_partition_exists(operator_client, catalogue):
    """'Serve again' switches the active run to an older succeeded run; a run without scores is refused."""
    first = run_job_in_process(top_n=5)
    second = run_job_in_process(top_n=5)
    assert ActiveRun.current_run_id() == second.pk
    feed = {r["id"]: r for r in operator_client.get("/api/runs").json()["runs"]}
    assert feed[first.pk]["can_activate"] is True and feed[second.pk]["can_activate"] is False

    assert operator_client.post(f"/api/runs/{first.pk}/activate").json() == {"id": first.pk, "active_run_id": first.pk}
    assert ActiveRun.current_run_id() == first.pk

    no_scores = Run.objects.create(algorithm="popularity", status=RunStatus.SUCCEEDED, stage=Stage.DONE)
    response = operator_client.post(f"/api/runs/{no_scores.pk}/activate")
    assert response.status_code == 409 and "retention" in response.json()["error"]
    failed = Run.objects.create(algorithm="popularity", status=RunStatus.FAILED)
    assert operator_client.post(f"/api/runs/{failed.pk}/activate").status_code == 409
    assert ActiveRun.current_run_id() == first.pk


@pytest.mark.django_db
def test_cancelling_a_stalled_run_ends_it_on_the_page(operator_client):
    """A job killed with SIGKILL (no process left to record anything) leaves its run stalled; the operator cancels
    it. The page then showed it cancelled but still counting its duration up, with its shard 'stalled', for good:
    nothing would ever write its end. The cancel records it."""
    long_ago = timezone.now() - timedelta(minutes=10)
    last_heard = timezone.now() - timedelta(minutes=5)
    stalled = Run.objects.create(algorithm="popularity", status=RunStatus.RUNNING, stage=Stage.COMPUTE,
                                 started_at=long_ago, heartbeat_at=last_heard, users_total=610, users_done=80)
    ShardProgress.objects.create(run=stalled, shard=0, status=RunStatus.RUNNING, stage=Stage.COMPUTE,
                                 started_at=long_ago, heartbeat_at=last_heard, users_total=610, users_done=80)
    assert operator_client.post(f"/api/runs/{stalled.pk}/cancel").status_code == 200

    shown = next(r for r in operator_client.get("/api/runs").json()["runs"] if r["id"] == stalled.pk)
    assert shown["status"] == "cancelled" and shown["finished_at"] is not None
    assert shown["duration_seconds"] == pytest.approx(600, abs=30)
    assert [shard["status"] for shard in shown["shard_progress"]] == ["cancelled"]
    assert stalled.pk in [run.pk for run in Run.objects.exclude(finished_at=None)]  # in the durations chart
