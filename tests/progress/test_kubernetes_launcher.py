"""The start button with PRECOMPUTE_LAUNCHER=kubernetes: the API calls, the Job they create, the errors, and RBAC.

No cluster runs here, so a real HTTPS server on 127.0.0.1 (stdlib
``http.server`` in a thread, a self-signed certificate made with the
``openssl`` command) stands in for the API server at the address the pod's
environment names, and a temporary folder holds the service-account files
(token, ca.crt, namespace) the kubelet would mount. It serves the CronJob
read from k8s/job/precompute-cronjob.yaml, as the API server returns it
(namespace, uid, the image tag Skaffold rendered), so a change to the
manifest changes what these tests expect.
"""

from __future__ import annotations

import copy
import json
import re
import secrets
import ssl
import subprocess
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from jobs.precompute.cli import parse_options
from jobs.precompute.progress import ProgressReporter
from jobs.precompute.run import run_job
from tests.deploy import KUBERNETES_VERSIONS
from web.progress import kubernetes
from web.runs.models import ActiveRun, Run, RunStatus

REPO = Path(__file__).resolve().parents[2]
CRONJOB_MANIFEST = REPO / "k8s" / "job" / "precompute-cronjob.yaml"
RBAC_MANIFEST = REPO / "k8s" / "app" / "rbac.yaml"
WEB_MANIFEST = REPO / "k8s" / "app" / "web-deployment.yaml"
CONFIGMAP_MANIFEST = REPO / "k8s" / "app" / "configmap.yaml"
NAMESPACE = "movielens-test"
RENDERED_IMAGE = "movielens-job:3f2a9c1"


def served_cronjob(shards: int = 1) -> dict:
    """The CronJob as the API server returns it after `make k8s-job`: the manifest plus server-set fields."""
    cronjob = yaml.safe_load(CRONJOB_MANIFEST.read_text(encoding="utf-8"))
    cronjob["metadata"].update(namespace=NAMESPACE, uid=str(uuid.uuid4()), resourceVersion="4711",
                               creationTimestamp="2026-01-01T00:00:00Z")
    spec = cronjob["spec"]["jobTemplate"]["spec"]
    spec["template"]["spec"]["containers"][0]["image"] = RENDERED_IMAGE
    if shards != 1:  # what editing the manifest's completions, parallelism and JOB_COMPLETIONS does
        spec["completions"] = spec["parallelism"] = shards
        env = spec["template"]["spec"]["containers"][0]["env"]
        next(e for e in env if e["name"] == "JOB_COMPLETIONS")["value"] = str(shards)
    cronjob["status"] = {}
    return cronjob


# -- a stand-in API server ----------------------------------------------------
@pytest.fixture(scope="session")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key."""
    folder = tmp_path_factory.mktemp("apiserver-tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )
    return cert, key


class ApiServer:
    """Records every request; answers from ``answers[(method, path)]`` = (status, body), else a 404 Status."""

    def __init__(self, cert: Path, key: Path) -> None:
        self.requests: list[dict] = []
        self.answers: dict[tuple[str, str], tuple[int, dict]] = {}
        self.on_request = None  # called with the request record before answering
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                record = {"method": self.command, "path": self.path, "authorization": self.headers.get("Authorization"),
                          "content_type": self.headers.get("Content-Type"), "body": json.loads(raw) if raw else None}
                outer.requests.append(record)
                if outer.on_request:
                    outer.on_request(record)
                code, body = outer.answers.get((self.command, self.path), (404, status_body(404, "NotFound", "not found")))
                payload = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _serve

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def status_body(code: int, reason: str, message: str) -> dict:
    """A Kubernetes ``Status`` object, the body of every API error."""
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": reason, "code": code}


CRONJOB_PATH = f"/apis/batch/v1/namespaces/{NAMESPACE}/cronjobs/precompute"
JOBS_PATH = f"/apis/batch/v1/namespaces/{NAMESPACE}/jobs"


@pytest.fixture
def api(certificate, tmp_path, settings, monkeypatch):
    """The stand-in API server, the pod's credentials pointing at it, and PRECOMPUTE_LAUNCHER=kubernetes."""
    server = ApiServer(*certificate)
    credentials = tmp_path / "serviceaccount"
    credentials.mkdir()
    server.token = f"test-token-{secrets.token_hex(8)}"
    (credentials / "token").write_text(server.token + "\n")
    (credentials / "ca.crt").write_bytes(certificate[0].read_bytes())
    (credentials / "namespace").write_text(NAMESPACE)
    server.credentials = credentials
    settings.KUBERNETES_SERVICE_ACCOUNT_DIR = str(credentials)
    settings.PRECOMPUTE_LAUNCHER = "kubernetes"
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(server.port))
    server.cronjob = served_cronjob()
    server.answers[("GET", CRONJOB_PATH)] = (200, server.cronjob)
    server.answers[("POST", JOBS_PATH)] = (201, {"kind": "Job", "apiVersion": "batch/v1"})
    yield server
    server.close()


def start(client, **form):
    return client.post("/api/runs", {"algorithm": "popularity", **form}, content_type="application/json")


# -- the happy path -------------------------------------------------------------
@pytest.mark.django_db
def test_start_gets_the_cronjob_and_posts_the_job_kubectl_would_make(api, operator_client):
    """One GET of the CronJob and one POST of a Job made from its jobTemplate, both with the pod's bearer token."""
    response = start(operator_client, algorithm="item_knn", parameters={"k": 7}, top_n=12, workers=3, chunk_size=50)
    assert response.status_code == 201, response.content
    run = Run.objects.get(pk=response.json()["id"])
    assert run.status == RunStatus.PENDING and run.shards == 1

    assert [(r["method"], r["path"]) for r in api.requests] == [("GET", CRONJOB_PATH), ("POST", JOBS_PATH)]
    assert all(r["authorization"] == f"Bearer {api.token}" for r in api.requests)
    assert api.requests[1]["content_type"] == "application/json"
    job = api.requests[1]["body"]
    template = api.cronjob["spec"]["jobTemplate"]
    name = job["metadata"]["name"]
    assert re.fullmatch(rf"precompute-run-{run.pk}-\d+", name) and len(name) <= 63
    assert run.metrics["run_name"] == name  # how the Job's pods find this run
    assert job["apiVersion"] == "batch/v1" and job["kind"] == "Job"
    assert job["metadata"] == {
        "name": name,
        "namespace": NAMESPACE,
        "labels": template["metadata"]["labels"],
        "annotations": {"cronjob.kubernetes.io/instantiate": "manual"},
        "ownerReferences": [{"apiVersion": "batch/v1", "kind": "CronJob", "name": "precompute",
                             "uid": api.cronjob["metadata"]["uid"], "controller": True}],
    }
    # The spec is the template's, the image as rendered, only the precompute container's args changed.
    posted, expected = copy.deepcopy(job["spec"]), copy.deepcopy(template["spec"])
    args = posted["template"]["spec"]["containers"][0].pop("args")
    expected["template"]["spec"]["containers"][0].pop("args")
    assert posted == expected and posted["template"]["spec"]["containers"][0]["image"] == RENDERED_IMAGE
    assert args[:2] == ["--workers", "$(PRECOMPUTE_WORKERS)"]  # the template's, minus --algorithm/--top-n
    assert args[-4:] == ["--chunk-size", "50", "--workers", "3"]  # the form's "how to compute" options
    assert args.count("--algorithm") == 1 and args.count("--top-n") == 1


@pytest.mark.django_db
def test_the_posted_job_is_a_valid_job_and_its_options_reproduce_the_run(api, operator_client, monkeypatch):
    """The Job passes strict schema validation, and its command line resolves to the run's algorithm and parameters."""
    response = start(operator_client, algorithm="user_knn", parameters={"k": 9, "damping": 2.5}, top_n=5, popular=40)
    run = Run.objects.get(pk=response.json()["id"])
    job = api.requests[1]["body"]
    for version in KUBERNETES_VERSIONS:
        kubernetes_validate.validate(job, version, strict=True)
    container = job["spec"]["template"]["spec"]["containers"][0]
    monkeypatch.setenv("PRECOMPUTE_RUN_NAME", job["metadata"]["name"])
    options = parse_options([a.replace("$(PRECOMPUTE_WORKERS)", "2") for a in container["args"]])
    spec = options.spec()
    assert (spec.algorithm, spec.run_parameters(spec.make_model())) == (run.algorithm, run.parameters)
    assert run.parameters["top_n"] == 5 and run.parameters["popular"] == 40 and run.parameters["k"] == 9 and run.parameters["damping"] == 2.5
    assert options.run_name == run.metrics["run_name"] and options.run_id is None


def pod_argv_and_env(job: dict, shard: int) -> tuple[list[str], dict[str, str]]:
    """What Kubernetes gives pod ``shard`` of the Job: its env (job name from the label, CPU limit 1) and expanded args."""
    container = job["spec"]["template"]["spec"]["containers"][0]
    env = {"JOB_COMPLETION_INDEX": str(shard)}
    for entry in container["env"]:
        source = entry.get("valueFrom", {})
        if "value" in entry:
            env[entry["name"]] = entry["value"]
        elif source.get("fieldRef", {}).get("fieldPath") == kubernetes.JOB_NAME_FIELD:
            env[entry["name"]] = job["metadata"]["name"]
        elif "resourceFieldRef" in source:
            env[entry["name"]] = "1"
    args = [re.sub(r"\$\((\w+)\)", lambda m: env[m.group(1)], word) for word in container["args"]]
    return args, {k: env[k] for k in ("JOB_COMPLETION_INDEX", "JOB_COMPLETIONS", "PRECOMPUTE_RUN_NAME")}


@pytest.mark.parametrize("shards", [1, 2])
def test_the_jobs_pods_publish_into_the_run_the_page_created(api, catalogue, operator_client, monkeypatch, shards):
    """Running the posted Job's command in each of its pods' environments fills and publishes the page's run, not a new one."""
    api.answers[("GET", CRONJOB_PATH)] = (200, served_cronjob(shards))
    response = start(operator_client, algorithm="item_knn", parameters={"k": 5}, top_n=4, popular=10)
    assert response.status_code == 201, response.content
    page_run = Run.objects.get(pk=response.json()["id"])
    assert page_run.shards == shards  # recorded before the Job exists, or the pods would refuse the run
    job = api.requests[1]["body"]
    for shard in range(shards):
        argv, env = pod_argv_and_env(job, shard)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        assert run_job(parse_options(argv), console=ProgressReporter()) == page_run.pk
    page_run.refresh_from_db()
    assert page_run.status == RunStatus.SUCCEEDED and ActiveRun.current_run_id() == page_run.pk
    assert page_run.algorithm == "item_knn" and page_run.parameters["k"] == 5 and page_run.parameters["top_n"] == 4
    assert Run.objects.count() == 1


@pytest.mark.django_db
def test_the_token_is_read_again_for_every_request(api, operator_client):
    """A token the kubelet renewed between the two calls is the one the POST carries."""
    def rotate(record):
        if record["method"] == "GET":
            api.token = "renewed-" + api.token
            (api.credentials / "token").write_text(api.token)

    api.on_request = rotate
    assert start(operator_client).status_code == 201
    assert api.requests[1]["authorization"] == f"Bearer {api.token}" != api.requests[0]["authorization"]


# -- errors: the run ends failed with the reason, and the page shows it ---------------
def assert_failed_with(response, *phrases: str) -> Run:
    assert response.status_code == 503, response.content
    body = response.json()
    run = Run.objects.get(pk=body["run_id"])
    assert run.status == RunStatus.FAILED and run.finished_at is not None and run.error == body["error"]
    assert run.error.startswith("queued: KubernetesError: could not start the run as a Job: ")
    for phrase in phrases:
        assert phrase in run.error, run.error
    return run


@pytest.mark.django_db
def test_forbidden_cronjob_read_fails_the_run_and_names_the_rbac_fix(api, operator_client):
    """A 403 on the CronJob: the run is failed with the verb, the resource, the fix and the server's message; no Job is posted."""
    message = 'cronjobs.batch "precompute" is forbidden: User "system:serviceaccount:movielens-test:web" cannot get resource'
    api.answers[("GET", CRONJOB_PATH)] = (403, status_body(403, "Forbidden", message))
    run = assert_failed_with(start(operator_client), "forbidden (403)", "get batch/cronjobs/precompute",
                             "k8s/app/rbac.yaml", message)
    assert [r["method"] for r in api.requests] == ["GET"]
    feed = operator_client.get("/api/runs").json()
    assert feed["runs"][0]["id"] == run.pk and feed["runs"][0]["status"] == "failed" and feed["runs"][0]["error"] == run.error


@pytest.mark.django_db
def test_forbidden_job_creation_fails_the_run(api, operator_client):
    """A 403 on creating the Job names that call."""
    api.answers[("POST", JOBS_PATH)] = (403, status_body(403, "Forbidden", "jobs.batch is forbidden"))
    assert_failed_with(start(operator_client), "forbidden (403)", "create batch/jobs", "jobs.batch is forbidden")
    assert [r["method"] for r in api.requests] == ["GET", "POST"]


@pytest.mark.django_db
def test_missing_cronjob_fails_the_run_and_says_to_deploy_it(api, operator_client):
    """A 404 on the CronJob says to run `make k8s-job`."""
    del api.answers[("GET", CRONJOB_PATH)]
    assert_failed_with(start(operator_client), "does not exist", "make k8s-job")


@pytest.mark.django_db
def test_refused_job_fails_the_run_with_the_servers_reason(api, operator_client):
    """A 422 (the API server's validation) fails the run with the server's message."""
    api.answers[("POST", JOBS_PATH)] = (422, status_body(422, "Invalid", 'Job.batch "x" is invalid: spec.completions'))
    assert_failed_with(start(operator_client), "answered 422", "spec.completions")


@pytest.mark.django_db
def test_unreachable_api_server_fails_the_run(api, operator_client, monkeypatch):
    """Nothing listening at the API address: the run is failed with 'cannot reach' and the address."""
    api.close()
    assert_failed_with(start(operator_client), "cannot reach the Kubernetes API", f"https://127.0.0.1:{api.port}")


@pytest.mark.django_db
def test_a_server_with_a_certificate_not_from_the_cluster_ca_is_refused(api, operator_client, tmp_path):
    """The answer of a server whose certificate the mounted ca.crt did not sign is never used."""
    other = tmp_path / "other"
    other.mkdir()
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", str(other / "key.pem"), "-out", str(other / "cert.pem"), "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    (api.credentials / "ca.crt").write_bytes((other / "cert.pem").read_bytes())
    assert_failed_with(start(operator_client), "cannot reach the Kubernetes API", "CERTIFICATE_VERIFY_FAILED")
    assert api.requests == []


@pytest.mark.django_db
def test_outside_a_pod_the_start_fails_with_the_reason(api, operator_client, monkeypatch):
    """Without the pod's service address, with an unreadable ca.crt or without the token, the run is failed saying so."""
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST")
    assert_failed_with(start(operator_client), "not running in a Kubernetes pod")
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    (api.credentials / "ca.crt").write_text("not a certificate\n")
    assert_failed_with(start(operator_client), "cannot read the service-account credentials")
    (api.credentials / "token").unlink()
    assert_failed_with(start(operator_client), "missing token", "kube-api-access")
    assert api.requests == []


@pytest.mark.django_db(transaction=True)
def test_a_run_cancelled_while_the_cronjob_is_read_gets_no_job(api, operator_client):
    """If the run stops being pending before the Job is created, no Job is posted and the run stays cancelled."""
    def cancel_as_an_operator(record):  # in the server's thread: its own connection, closed after use
        from django.db import connection

        Run.objects.filter(status=RunStatus.PENDING).update(status=RunStatus.CANCELLED)
        connection.close()

    api.on_request = cancel_as_an_operator
    response = start(operator_client)
    assert response.status_code == 503 and "no longer pending" in response.json()["error"]
    assert Run.objects.get(pk=response.json()["run_id"]).status == RunStatus.CANCELLED
    assert [r["method"] for r in api.requests] == ["GET"]


def test_result_options_are_removed_in_both_spellings():
    """`--top-n 5` and `--top-n=5` (and the other result options) are dropped; everything else is kept in order."""
    args = ["--algorithm", "ease", "--top-n=5", "--workers", "$(W)", "--param", "l2=3", "--popular=9", "--keep-runs", "2"]
    assert kubernetes.without_result_options(args) == ["--workers", "$(W)", "--keep-runs", "2"]


# -- RBAC: the Role grants what the launcher calls, and nothing more ---------------------
def documents(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


def granted(role: dict) -> set[tuple[str, str, str, str | None]]:
    """(verb, group, resource, name or None for any name) for every grant of the Role."""
    return {(verb, group, resource, name)
            for rule in role["rules"] for verb in rule["verbs"] for group in rule["apiGroups"]
            for resource in rule["resources"] for name in (rule.get("resourceNames") or [None])}


def test_the_role_grants_exactly_the_calls_the_launcher_makes():
    """rbac.yaml's Role equals the launcher's API_CALLS; its binding gives it to the ServiceAccount the web pod runs as."""
    rbac = {(d["kind"], d["metadata"]["name"]): d for d in documents(RBAC_MANIFEST)}
    role = rbac[("Role", "precompute-launcher")]
    assert granted(role) == {(c.verb, c.group, c.resource, c.name) for c in kubernetes.API_CALLS}
    binding = rbac[("RoleBinding", "web-precompute-launcher")]
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "precompute-launcher"}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "web"}]
    assert ("ServiceAccount", "web") in rbac
    pod = documents(WEB_MANIFEST)[0]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "web"
    web = next(c for c in pod["containers"] if c["name"] == "web")
    from django.conf import settings

    mount = next(m for m in web["volumeMounts"] if m["mountPath"] == settings.KUBERNETES_SERVICE_ACCOUNT_DIR)
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    paths = {s.get("serviceAccountToken", {}).get("path") for s in volume["projected"]["sources"]}
    paths |= {i["path"] for s in volume["projected"]["sources"] for key in ("configMap", "downwardAPI")
              for i in s.get(key, {}).get("items", [])}
    assert paths >= {"token", "ca.crt", "namespace"}  # the three files InClusterApi.from_pod reads
    assert documents(CRONJOB_MANIFEST)[0]["metadata"]["name"] == kubernetes.CRONJOB_NAME
    assert documents(CONFIGMAP_MANIFEST)[0]["data"]["PRECOMPUTE_LAUNCHER"] == "kubernetes"


def test_the_rbac_comparison_notices_a_call_the_role_does_not_grant():
    """A launcher call outside the Role (e.g. deleting Jobs) makes the sets differ."""
    role = next(d for d in documents(RBAC_MANIFEST) if d["kind"] == "Role")
    calls = (*kubernetes.API_CALLS, kubernetes.ApiCall("delete", "batch", "v1", "jobs"))
    assert granted(role) != {(c.verb, c.group, c.resource, c.name) for c in calls}


def test_the_forms_shards_make_a_job_of_that_many_pods_that_publishes_the_run(api, catalogue, operator_client, monkeypatch):
    """shards=3 on a 1-pod CronJob: completions, parallelism and JOB_COMPLETIONS become 3, and the 3 pods publish the run."""
    response = start(operator_client, algorithm="item_knn", parameters={"k": 5}, top_n=4, shards=3)
    assert response.status_code == 201, response.content
    page_run = Run.objects.get(pk=response.json()["id"])
    assert page_run.shards == 3
    job = api.requests[1]["body"]
    assert (job["spec"]["completions"], job["spec"]["parallelism"]) == (3, 3)
    for version in KUBERNETES_VERSIONS:
        kubernetes_validate.validate(job, version, strict=True)
    for shard in range(3):
        argv, env = pod_argv_and_env(job, shard)
        assert env["JOB_COMPLETIONS"] == "3"
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        assert run_job(parse_options(argv), console=ProgressReporter()) == page_run.pk
    page_run.refresh_from_db()
    assert page_run.status == RunStatus.SUCCEEDED and ActiveRun.current_run_id() == page_run.pk


@pytest.mark.django_db
@pytest.mark.parametrize(("launcher_name", "shards", "message"), [
    ("rq", 2, "only a Kubernetes Job runs shards"),
    ("kubernetes", 0, "greater than or equal to 1"),
    ("kubernetes", 65, "less than or equal to 64"),
])
def test_shards_the_launcher_cannot_run_are_refused_before_a_run_exists(operator_client, settings, launcher_name, shards, message):
    """A 400 naming the field; no run is created (so nothing is left pending)."""
    settings.PRECOMPUTE_LAUNCHER = launcher_name
    response = start(operator_client, shards=shards)
    assert response.status_code == 400
    assert any(message in text for text in response.json()["fields"]["shards"]), response.json()
    assert not Run.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(("launcher_name", "shown"), [("kubernetes", True), ("rq", False)])
def test_the_start_form_offers_shards_only_where_they_can_run(operator_client, settings, launcher_name, shown):
    settings.PRECOMPUTE_LAUNCHER = launcher_name
    html = operator_client.get("/progress/").content.decode()
    assert ('name="shards"' in html) is shown
