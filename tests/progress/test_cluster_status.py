"""Why a page-started Kubernetes Job has not started: the reading of the Job, its pods and events, and the page's feed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from web.runs.spec import RUN_NAME_KEY
from web.progress import cluster_status, kubernetes
from web.runs.models import Run, RunStatus

JOB = "precompute-run-7-1767225600"


def pending_pod(**status) -> dict:
    return {"metadata": {"name": f"{JOB}-0-abcde"}, "status": {"phase": "Pending", **status}}


UNSCHEDULABLE = pending_pod(conditions=[{
    "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
    "message": "0/1 nodes are available: 1 Insufficient memory. preemption: 0/1 nodes are available."}])
IMAGE_PULL = pending_pod(conditions=[{"type": "PodScheduled", "status": "True"}], containerStatuses=[{
    "name": "precompute", "state": {"waiting": {"reason": "ImagePullBackOff",
                                                "message": 'Back-off pulling image "movielens-job:3f2a9c1"'}}}])
CREATING = pending_pod(conditions=[{"type": "PodScheduled", "status": "True"}], containerStatuses=[{
    "name": "precompute", "state": {"waiting": {"reason": "ContainerCreating"}}}])
QUOTA_EVENT = {"type": "Warning", "reason": "FailedCreate", "lastTimestamp": "2026-01-01T00:00:05Z",
               "message": f'Error creating: pods "{JOB}-0-x" is forbidden: exceeded quota: movielens, '
                          "requested: limits.memory=768Mi, used: limits.memory=6Gi, limited: limits.memory=6656Mi"}


def test_unschedulable_pods_are_explained_with_the_schedulers_words():
    assert cluster_status.explain({"status": {}}, [UNSCHEDULABLE], []) == (
        "A pod cannot be scheduled: Unschedulable: 0/1 nodes are available: 1 Insufficient memory. "
        "preemption: 0/1 nodes are available.")


def test_an_image_that_cannot_be_pulled_is_named():
    reason = cluster_status.explain({"status": {}}, [IMAGE_PULL], [])
    assert reason.startswith("Container precompute cannot start: ImagePullBackOff: Back-off pulling image")


def test_pods_the_quota_refuses_show_the_jobs_warning_event():
    """No pod exists: the Job's latest Warning event (the quota's refusal) is the reason."""
    older = {"type": "Warning", "reason": "FailedCreate", "lastTimestamp": "2026-01-01T00:00:01Z", "message": "older"}
    normal = {"type": "Normal", "reason": "SuccessfulCreate", "lastTimestamp": "2026-01-01T00:00:09Z", "message": "x"}
    reason = cluster_status.explain({"status": {}}, [], [older, QUOTA_EVENT, normal])
    assert reason.startswith("Kubernetes cannot create the Job's pods: FailedCreate: Error creating")
    assert "exceeded quota" in reason


def test_a_failed_job_comes_first():
    job = {"status": {"conditions": [{"type": "Failed", "status": "True", "reason": "DeadlineExceeded",
                                      "message": "Job was active longer than specified deadline"}]}}
    assert cluster_status.explain(job, [UNSCHEDULABLE], []) == (
        "The Job failed: DeadlineExceeded: Job was active longer than specified deadline")


def test_a_pod_that_is_merely_starting_is_no_reason():
    assert cluster_status.explain({"status": {}}, [CREATING], [QUOTA_EVENT]) is None
    assert cluster_status.explain({"status": {}}, [], []) is None


class RecordingApi:
    """Answers the three reads like the API server; records (call, name, query)."""

    def __init__(self, answers: dict) -> None:
        self.answers = answers
        self.calls: list[tuple] = []

    def call(self, call, body=None, *, name=None, query=None):
        self.calls.append((call, name, query))
        answer = self.answers[call]
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_read_reason_asks_for_the_job_its_pods_and_its_events_only():
    api = RecordingApi({kubernetes.GET_JOB: {"status": {}}, kubernetes.LIST_PODS: {"items": [UNSCHEDULABLE]},
                        kubernetes.LIST_EVENTS: {"items": []}})
    assert "Insufficient memory" in cluster_status.read_reason(api, JOB)
    assert api.calls == [
        (kubernetes.GET_JOB, JOB, None),
        (kubernetes.LIST_PODS, None, {"labelSelector": f"batch.kubernetes.io/job-name={JOB}"}),
        (kubernetes.LIST_EVENTS, None, {"fieldSelector": f"involvedObject.kind=Job,involvedObject.name={JOB}"}),
    ]
    assert {call for call, _, _ in api.calls} <= set(kubernetes.API_CALLS), "the Role grants these reads"


def test_read_reason_says_when_the_job_is_gone():
    api = RecordingApi({kubernetes.GET_JOB: kubernetes.KubernetesError("the API server answered 404 to get ...")})
    assert cluster_status.read_reason(api, JOB) == f"The Job {JOB} does not exist (deleted, or expired after it finished)."


def test_the_reads_go_to_the_core_and_batch_api_paths():
    assert kubernetes.LIST_PODS.path("movielens") == "/api/v1/namespaces/movielens/pods"
    assert kubernetes.LIST_EVENTS.path("movielens") == "/api/v1/namespaces/movielens/events"
    assert kubernetes.GET_JOB.path("movielens", JOB) == f"/apis/batch/v1/namespaces/movielens/jobs/{JOB}"
    assert kubernetes.GET_CRONJOB.path("movielens") == "/apis/batch/v1/namespaces/movielens/cronjobs/precompute"
    assert kubernetes.LIST_PODS.method == kubernetes.GET_JOB.method == "GET"


def pending_run(age_seconds: float = 60, **fields) -> Run:
    run = Run.objects.create(algorithm="popularity", **{"status": RunStatus.PENDING, "metrics": {RUN_NAME_KEY: JOB},
                                                        **fields})
    Run.objects.filter(pk=run.pk).update(created_at=timezone.now() - timedelta(seconds=age_seconds))
    return Run.objects.get(pk=run.pk)


@pytest.fixture
def fresh_cache():
    cluster_status._cache.clear()
    yield
    cluster_status._cache.clear()


@pytest.mark.django_db
def test_the_feed_shows_the_reason_for_a_pending_job_run_only(operator_client, settings, monkeypatch, fresh_cache):
    """GET /api/runs: a pending run with a Job name gets the cluster's reason; a running one and an rq run get none."""
    settings.PRECOMPUTE_LAUNCHER = "kubernetes"
    monkeypatch.setattr(kubernetes.InClusterApi, "from_pod", classmethod(lambda cls, credentials: object()))
    asked = []
    monkeypatch.setattr(cluster_status, "read_reason",
                        lambda api, job_name: asked.append(job_name) or "A pod cannot be scheduled: Unschedulable: x")
    pending = pending_run()
    running = pending_run(status=RunStatus.RUNNING, metrics={RUN_NAME_KEY: "other"})
    just_started = pending_run(age_seconds=1, metrics={RUN_NAME_KEY: "precompute-run-9-1767225601"})
    by_id = {run["id"]: run for run in operator_client.get("/api/runs").json()["runs"]}
    assert by_id[pending.pk]["waiting_reason"] == "A pod cannot be scheduled: Unschedulable: x"
    assert by_id[running.pk]["waiting_reason"] is None
    assert by_id[just_started.pk]["waiting_reason"] is None, "a run pending for a second is just starting"
    operator_client.get("/api/runs")
    assert asked == [JOB], "the page's polls within a few seconds reuse one reading"

    settings.PRECOMPUTE_LAUNCHER = "rq"
    assert operator_client.get(f"/api/runs/{pending.pk}").json()["waiting_reason"] is None


@pytest.mark.django_db
def test_a_cluster_that_cannot_be_read_is_a_reason_not_an_error(operator_client, settings, monkeypatch, fresh_cache):
    settings.PRECOMPUTE_LAUNCHER = "kubernetes"
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    pending = pending_run()
    response = operator_client.get(f"/api/runs/{pending.pk}")
    assert response.status_code == 200
    assert response.json()["waiting_reason"].startswith("Cannot read the Job's state from the cluster: ")
