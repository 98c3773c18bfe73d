"""The operators' run endpoints in /api/schema/: documented with their bodies, and every answer matches its documented schema."""

from __future__ import annotations

import pytest
from openapi_schema_validator import OAS30Validator, validate

from web.runs.models import Run, RunStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def spec(client):
    response = client.get("/api/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def check(spec: dict, path: str, method: str, response) -> dict:
    """Assert the answer's status is documented for the operation and its JSON body matches that schema."""
    documented = spec["paths"][path][method]["responses"]
    code = str(response.status_code)
    assert code in documented, f"{method.upper()} {path}: {code} not documented ({sorted(documented)})"
    schema = documented[code]["content"]["application/json"]["schema"]
    body = response.json()
    validate(body, {**schema, "components": spec["components"]}, cls=OAS30Validator)
    return body


def test_run_endpoints_document_their_bodies(spec):
    """/api/runs and /api/runs/{run_id} name a response schema, and the start form's fields as the request body."""
    feed = spec["paths"]["/api/runs"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    feed_props = spec["components"]["schemas"][feed["$ref"].rsplit("/", 1)[1]]["properties"]
    assert set(feed_props) == {"active_run_id", "now_run_id", "stall_after_seconds", "server_time", "retraining", "runs"}
    detail = spec["paths"]["/api/runs/{run_id}"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    run_props = spec["components"]["schemas"][detail["$ref"].rsplit("/", 1)[1]]["properties"]
    assert {"id", "status", "stage", "shards", "throughput", "stages", "shard_progress", "error"} <= set(run_props)
    start = spec["paths"]["/api/runs"]["post"]
    body = start["requestBody"]["content"]["application/json"]["schema"]
    assert set(spec["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]["properties"]) == {
        "algorithm", "parameters", "top_n", "popular", "chunk_size", "workers", "evaluate", "shards"}
    assert {"201", "400", "403", "503"} <= set(start["responses"])


def test_start_cancel_and_activate_answer_as_documented(spec, operator_client, client, settings, monkeypatch):
    """201, 400 and 503 of a start, 200 and 409 of a cancel, 409 and 404 of an activate, 403 to a stranger: each as documented."""
    settings.PRECOMPUTE_LAUNCHER = "rq"
    created = check(spec, "/api/runs", "post", operator_client.post(
        "/api/runs", {"algorithm": "popularity", "top_n": 5}, content_type="application/json"))
    assert created["status"] == "pending"
    refused = check(spec, "/api/runs", "post", operator_client.post(
        "/api/runs", {"algorithm": "no-such"}, content_type="application/json"))
    assert refused["status"] == 400 and "algorithm" in refused["fields"]

    settings.PRECOMPUTE_LAUNCHER = "kubernetes"  # no pod here: the launch fails and says why
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    failed = check(spec, "/api/runs", "post", operator_client.post(
        "/api/runs", {"algorithm": "popularity"}, content_type="application/json"))
    assert failed["status"] == 503 and Run.objects.get(pk=failed["run_id"]).status == RunStatus.FAILED

    cancel = "/api/runs/{run_id}/cancel"
    assert check(spec, cancel, "post", operator_client.post(f"/api/runs/{created['id']}/cancel")) == {
        "id": created["id"], "status": "cancelled"}
    assert check(spec, cancel, "post", operator_client.post(f"/api/runs/{created['id']}/cancel"))["status"] == 409
    activate = "/api/runs/{run_id}/activate"
    assert check(spec, activate, "post", operator_client.post(f"/api/runs/{created['id']}/activate"))["status"] == 409
    assert check(spec, activate, "post", operator_client.post("/api/runs/999999/activate"))["status"] == 404
    assert check(spec, "/api/runs/{run_id}", "get", operator_client.get("/api/runs/999999"))["status"] == 404
    assert check(spec, "/api/runs", "get", client.get("/api/runs"))["status"] == 403
