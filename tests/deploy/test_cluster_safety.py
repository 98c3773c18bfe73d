"""The points of issue 13 on the rendered objects: production safe by default, precompute Jobs that fail well, sizes
that add up on the documented minikube, and a launcher that can start precompute Jobs and nothing else."""

from __future__ import annotations

import re

import celpy
import pytest
from celpy import celtypes

from jobs.precompute import cli
from jobs.precompute.runlock import AnotherRunRunning
from web.runs.models import RunNotPending
from web.progress import kubernetes

from .manifests import K8S_DIR, NAMESPACE, REPO, container, containers, find_object, pod_spec, render_kustomization, rendered

DIGEST = re.compile(r"^[a-z0-9./-]+:[\w.-]+@sha256:[0-9a-f]{64}$")
MIB = {"Mi": 1, "Gi": 1024}
# The documented minikube (k8s/k8s.mk: MINIKUBE_CPUS, MINIKUBE_MEMORY) less what Kubernetes itself takes there.
NODE_MEMORY_MIB = 8 * 1024
SYSTEM_RESERVE_MIB = 1536
RUN_SHARDS = 4


def mebibytes(quantity: str) -> int:
    number, unit = re.fullmatch(r"(\d+)(Mi|Gi)", quantity).groups()
    return int(number) * MIB[unit]


def cpu_millis(quantity: str) -> int:
    return int(quantity[:-1]) if quantity.endswith("m") else int(float(quantity) * 1000)


def pod_total(obj: dict, field: str, resource: str) -> int:
    """A pod's effective request/limit: the larger of its biggest init container and the sum of its containers."""
    spec = pod_spec(obj)
    read = mebibytes if resource == "memory" else cpu_millis
    main = sum(read(c["resources"][field][resource]) for c in spec["containers"])
    init = max((read(c["resources"][field][resource]) for c in spec.get("initContainers", [])), default=0)
    return max(main, init)


def prod_load(objects: list[dict], field: str, resource: str, web_pods: int) -> int:
    """Postgres, Redis, `web_pods` web pods, the worker and a 4-shard run."""
    by_name = {o["metadata"]["name"]: o for o in objects if pod_spec(o) is not None}
    return (pod_total(by_name["postgres"], field, resource) + pod_total(by_name["redis"], field, resource)
            + web_pods * pod_total(by_name["web"], field, resource) + pod_total(by_name["worker"], field, resource)
            + RUN_SHARDS * pod_total(by_name["precompute"], field, resource))


# --- precompute Jobs ------------------------------------------------------------


@pytest.mark.parametrize("overlay", ["prod", "dev"])
def test_exit_2_fails_the_shard_at_once_and_evictions_do_not_count(overlay):
    """The Job template's podFailurePolicy: exit 2 of the precompute container fails its index (no retry); a pod
    disrupted by an eviction or preemption is ignored (its retry does not use up backoffLimitPerIndex)."""
    job = find_object(rendered(overlay), "CronJob", "precompute")["spec"]["jobTemplate"]["spec"]
    assert job["backoffLimitPerIndex"] >= 1 and job["template"]["spec"]["restartPolicy"] == "Never"
    rules = job["podFailurePolicy"]["rules"]
    exit_2 = [r for r in rules if "onExitCodes" in r]
    assert exit_2 == [{"action": "FailIndex", "onExitCodes": {"containerName": "precompute", "operator": "In",
                                                               "values": [2]}}]
    assert {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]} in rules
    assert 0 < job["activeDeadlineSeconds"] <= 24 * 3600


@pytest.mark.parametrize("refusal", [AnotherRunRunning("run 7 is computing"), RunNotPending("run 8 was cancelled")])
def test_the_job_cli_exits_2_when_it_will_not_run(monkeypatch, refusal):
    """What the podFailurePolicy relies on: the job's CLI exits 2 when another run holds the lock or the run is not
    pending (cancelled), and the message says why."""
    def refuse(options):
        raise refusal

    monkeypatch.setattr("jobs.precompute.run.run_job", refuse)
    assert cli.main(["--algorithm", "popularity"]) == 2


# --- production settings ------------------------------------------------------------

# The pod CIDR of minikube (with the Calico CNI that `make k8s-cluster` starts), where ingress-nginx's pods live.
MINIKUBE_POD_NETWORK = "10.244.0.0/16"


def test_base_configmap_is_safe_by_default_and_overlays_set_what_they_need():
    """Base and prod: HTTPS on, no SECURE_COOKIES=0; prod trusts forwarded addresses only from the pod network,
    where its ingress controller runs; dev (plain port-forward) turns HTTPS off; base and dev trust no proxy."""
    base = find_object(render_kustomization(K8S_DIR / "app"), "ConfigMap", "movielens-config")["data"]
    assert base["HTTPS"] == "1" and not base.get("TRUSTED_PROXIES") and "SECURE_COOKIES" not in base
    prod = find_object(rendered("prod"), "ConfigMap", "movielens-config")["data"]
    assert prod["HTTPS"] == "1" and prod["TRUSTED_PROXIES"] == MINIKUBE_POD_NETWORK and "SECURE_COOKIES" not in prod
    ingress = find_object(rendered("prod"), "Ingress", "web")
    (host,) = {rule["host"] for rule in ingress["spec"]["rules"]}
    assert host in prod["ALLOWED_HOSTS"].split(",")
    assert ingress["spec"]["tls"] == [{"hosts": [host], "secretName": "movielens-tls"}]
    dev = find_object(rendered("dev"), "ConfigMap", "movielens-config")["data"]
    assert dev["HTTPS"] == "0" and not dev.get("TRUSTED_PROXIES")
    for data in (base, prod, dev):
        assert "TRUSTED_PROXY_HOPS" not in data, "the settings refuse the replaced TRUSTED_PROXY_HOPS"
    assert not [o for o in rendered("dev") if o["kind"] == "Ingress"]


def test_network_policies_deny_by_default_and_allow_only_the_apps_flows():
    """default-deny on every pod both ways; Postgres from web, worker and the shards; Redis from web and worker."""
    policies = {o["metadata"]["name"]: o["spec"] for o in rendered("prod") if o["kind"] == "NetworkPolicy"}
    assert policies["default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}

    def sources(name: str) -> set[str]:
        return {peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
                for rule in policies[name]["ingress"] for peer in rule["from"] if "podSelector" in peer}

    assert sources("postgres-from-app") == {"web", "worker", "precompute"}
    assert sources("redis-from-app") == {"web", "worker"}
    ingress_from = policies["web-from-ingress"]["ingress"][0]["from"][0]["namespaceSelector"]["matchLabels"]
    assert ingress_from == {"kubernetes.io/metadata.name": "ingress-nginx"}
    egress_of = {p["podSelector"]["matchLabels"]["app.kubernetes.io/name"] for n, p in policies.items()
                 if n.endswith("-egress")}
    assert egress_of == {"web", "worker", "precompute"}


def test_web_has_a_disruption_budget_and_an_autoscaler_that_owns_its_replicas():
    prod = rendered("prod")
    assert find_object(prod, "PodDisruptionBudget", "web")["spec"]["minAvailable"] == 1
    hpa = find_object(prod, "HorizontalPodAutoscaler", "web")["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}
    assert hpa["minReplicas"] >= 2, "a PDB of minAvailable 1 needs 2 pods to let a drain through"
    assert "replicas" not in find_object(prod, "Deployment", "web")["spec"], "the HPA owns the replica count"


def test_third_party_images_are_pinned_by_digest():
    """Postgres and Redis by digest (the Python base of the Dockerfiles: test_dockerfiles.py)."""
    for obj in rendered("db"):
        for item in containers(pod_spec(obj) or {}):
            assert DIGEST.match(item["image"]), item["image"]


def test_worker_has_a_liveness_probe_that_asks_redis():
    worker = container(pod_spec(find_object(rendered("prod"), "Deployment", "worker")), "worker")
    command = " ".join(worker["livenessProbe"]["exec"]["command"])
    assert "rq:workers" in command and "REDIS_URL" in command and "gethostname" in command


# --- sizes -------------------------------------------------------------------------


def test_postgres_is_guaranteed():
    """requests = limits for CPU and memory: the database is the last pod the node kills or evicts."""
    postgres = container(pod_spec(find_object(rendered("db"), "StatefulSet", "postgres")), "postgres")
    assert postgres["resources"]["requests"] == postgres["resources"]["limits"]


def test_postgres_buffers_fit_its_memory_limit():
    """shared_buffers, set on the command line, is at most a quarter of the pod's memory: the rest is for the
    sessions' sorts (load_events sorts in 256 MB of work_mem) and the page cache."""
    postgres = container(pod_spec(find_object(rendered("db"), "StatefulSet", "postgres")), "postgres")
    settings = dict(value.split("=", 1) for flag, value in zip(postgres["args"][::2], postgres["args"][1::2], strict=True)
                    if flag == "-c")
    buffers = re.fullmatch(r"(\d+)MB", settings["shared_buffers"])
    assert buffers and int(buffers.group(1)) * 4 <= mebibytes(postgres["resources"]["limits"]["memory"])


def test_sizes_add_up_on_the_documented_minikube_and_the_quota_holds_them():
    """Postgres, Redis, 2 web pods, the worker and a 4-shard run fit in the quota, and the quota fits the node;
    a third web pod beside that run does not fit the quota (it waits; the node is never overcommitted)."""
    objects = rendered("db") + rendered("prod")
    quota = find_object(objects, "ResourceQuota", "movielens")["spec"]["hard"]
    limits = prod_load(objects, "limits", "memory", web_pods=2)
    assert limits <= mebibytes(quota["limits.memory"]) <= NODE_MEMORY_MIB - SYSTEM_RESERVE_MIB
    assert prod_load(objects, "limits", "memory", web_pods=3) > mebibytes(quota["limits.memory"])
    assert prod_load(objects, "requests", "memory", web_pods=2) <= mebibytes(quota["requests.memory"])
    assert prod_load(objects, "requests", "cpu", web_pods=2) <= cpu_millis(quota["requests.cpu"]) <= 4000
    dev = rendered("db") + rendered("dev")
    assert prod_load(dev, "limits", "memory", web_pods=1) <= NODE_MEMORY_MIB - SYSTEM_RESERVE_MIB


# --- the launcher ----------------------------------------------------------------------


def test_admission_policy_narrows_the_web_service_accounts_jobs_to_the_template():
    """The ValidatingAdmissionPolicy matches Job creation by the web ServiceAccount only, takes the CronJob as its
    parameter, and compares image, service account and volumes with the template's; the binding denies."""
    cluster = rendered("cluster")
    policy = find_object(cluster, "ValidatingAdmissionPolicy", "movielens-launcher-jobs")["spec"]
    assert policy["paramKind"] == {"apiVersion": "batch/v1", "kind": "CronJob"}
    assert policy["matchConstraints"]["resourceRules"][0]["resources"] == ["jobs"]
    assert ':web"' in policy["matchConditions"][0]["expression"]
    expressions = " ".join(v["expression"] for v in policy["validations"])
    for field in ("image", "serviceAccountName", "volumes", "initContainers", "hostNetwork"):
        assert field in expressions, field
    binding = find_object(cluster, "ValidatingAdmissionPolicyBinding", "movielens-launcher-jobs")["spec"]
    assert binding["validationActions"] == ["Deny"]
    assert binding["paramRef"] == {"name": "precompute", "namespace": NAMESPACE, "parameterNotFoundAction": "Deny"}


# --- Checkov's exceptions ---------------------------------------------------------------

CHECKOV_ANNOTATION = re.compile(r"^checkov\.io/skip\d+$")
CHECKOV_SKIP = re.compile(r"^CKV2?_[A-Z0-9]+_\d+=(?P<reason>.+)$")


def checkov_skip_problems(objects: list[dict]) -> list[str]:
    """Every `checkov.io/skipN` annotation names one check and gives a reason of some words."""
    problems = []
    for obj in objects:
        for key, value in (obj["metadata"].get("annotations") or {}).items():
            if not CHECKOV_ANNOTATION.match(key):
                continue
            match = CHECKOV_SKIP.match(value)
            if not match or len(match.group("reason").split()) < 4:
                problems.append(f"{obj['kind']}/{obj['metadata']['name']} {key}: {value!r} lacks a check id or a reason")
    return problems


def test_every_checkov_exception_says_why_beside_what_it_excuses():
    """Manifests: `checkov.io/skipN: CKV_..=reason` on the object; Dockerfiles: `# checkov:skip=CKV_..:reason`."""
    objects = rendered("db") + rendered("prod") + rendered("dev") + rendered("cluster")
    assert checkov_skip_problems(objects) == []
    assert any(CHECKOV_ANNOTATION.match(k) for o in objects for k in (o["metadata"].get("annotations") or {}))
    for dockerfile in (REPO / "Dockerfile", REPO / "Dockerfile.job"):
        for line in dockerfile.read_text().splitlines():
            if "checkov:skip" in line:
                assert re.match(r"^# checkov:skip=CKV2?_[A-Z0-9]+_\d+:\S.{15,}$", line), line


def test_the_checkov_exception_check_catches_a_bare_skip():
    web = find_object(rendered("prod"), "Deployment", "web")
    web["metadata"]["annotations"]["checkov.io/skip9"] = "CKV_K8S_8"
    assert checkov_skip_problems([web])


# --- the admission policy, evaluated ---------------------------------------------------------

WEB_ACCOUNT = f"system:serviceaccount:{NAMESPACE}:web"


def to_cel(value):
    """JSON to CEL values (celpy.json_to_cel makes booleans integers, so `x == false` would not type-check)."""
    if isinstance(value, bool):
        return celtypes.BoolType(value)
    if isinstance(value, dict):
        return celtypes.MapType({celtypes.StringType(k): to_cel(v) for k, v in value.items()})
    if isinstance(value, list):
        return celtypes.ListType([to_cel(v) for v in value])
    if isinstance(value, int):
        return celtypes.IntType(value)
    if isinstance(value, float):
        return celtypes.DoubleType(value)
    return celtypes.StringType(value)


def admission(job: dict, username: str = WEB_ACCOUNT) -> list[str] | None:
    """Evaluate the rendered ValidatingAdmissionPolicy on a Job creation as the API server would (cel-python):
    None if its match conditions leave the request alone, else the messages of the failed validations."""
    policy = find_object(rendered("cluster"), "ValidatingAdmissionPolicy", "movielens-launcher-jobs")["spec"]
    cronjob = find_object(rendered("prod"), "CronJob", "precompute")
    env = celpy.Environment()

    def evaluate(expression: str, activation: dict):
        return env.program(env.compile(expression)).evaluate(activation)

    activation = {"object": to_cel(job), "params": to_cel(cronjob),
                  "request": to_cel({"userInfo": {"username": username}, "namespace": NAMESPACE})}
    if not all(evaluate(c["expression"], activation) for c in policy["matchConditions"]):
        return None
    variables = {}
    for variable in policy["variables"]:
        variables[variable["name"]] = evaluate(variable["expression"],
                                               {**activation, "variables": celtypes.MapType(variables)})
    activation["variables"] = celtypes.MapType(variables)
    return [v["message"] for v in policy["validations"] if not evaluate(v["expression"], activation)]


def launcher_job() -> dict:
    """The Job the progress page's launcher posts for a 4-shard run, from the rendered CronJob."""
    cronjob = find_object(rendered("prod"), "CronJob", "precompute")
    cronjob["metadata"]["uid"] = "0b5c7f0e-0000-4000-8000-000000000001"
    return kubernetes.job_for_run(cronjob, "precompute-run-7-1767225600", "popularity", {"top_n": 100}, [], shards=4)


def test_the_policy_admits_the_launchers_job():
    assert admission(launcher_job()) == []


@pytest.mark.parametrize("change, refused", [
    (lambda spec: spec["containers"][0].update(image="attacker/miner:latest"), "image"),
    (lambda spec: spec.update(serviceAccountName="web"), "service account"),
    (lambda spec: spec["volumes"].append({"name": "host", "hostPath": {"path": "/"}}), "volumes"),
    (lambda spec: spec.update(initContainers=[{"name": "x", "image": "busybox"}]), "init containers"),
    (lambda spec: spec.update(hostNetwork=True), "host namespace"),
    (lambda spec: spec.update(automountServiceAccountToken=True), "API token"),
    (lambda spec: spec["containers"].append(dict(spec["containers"][0], name="second")), "containers"),
])
def test_the_policy_refuses_a_job_unlike_the_template(change, refused):
    job = launcher_job()
    change(job["spec"]["template"]["spec"])
    messages = admission(job)
    assert messages and any(refused in message for message in messages), messages


def test_the_policy_leaves_other_users_alone():
    """An operator's `make k8s-precompute` (or anyone but the web ServiceAccount) is not matched."""
    job = launcher_job()
    job["spec"]["template"]["spec"]["containers"][0]["image"] = "movielens-job:hand-built"
    assert admission(job, username="minikube-user") is None


# --- Pod Security "restricted" --------------------------------------------------------------

RESTRICTED_VOLUME_TYPES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
                           "projected", "secret"}


def restricted_problems(obj: dict) -> list[str]:
    """What in a workload the namespace's Pod Security `restricted` (enforced) would refuse."""
    name = f"{obj['kind']}/{obj['metadata']['name']}"
    spec = pod_spec(obj)
    pod_context = spec.get("securityContext", {})
    problems = [f"{name}: {field}" for field in ("hostNetwork", "hostPID", "hostIPC") if spec.get(field)]
    for volume in spec.get("volumes", []):
        kinds = set(volume) - {"name"}
        if not kinds <= RESTRICTED_VOLUME_TYPES:
            problems.append(f"{name}: volume {volume['name']} of type {sorted(kinds)}")
    for item in containers(spec) + list(spec.get("ephemeralContainers", [])):
        context = item.get("securityContext", {})
        seccomp = context.get("seccompProfile", pod_context.get("seccompProfile", {})).get("type")
        if seccomp not in {"RuntimeDefault", "Localhost"}:
            problems.append(f"{name}/{item['name']}: seccompProfile {seccomp}")
        if context.get("runAsNonRoot", pod_context.get("runAsNonRoot")) is not True:
            problems.append(f"{name}/{item['name']}: runAsNonRoot")
        if context.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{name}/{item['name']}: allowPrivilegeEscalation")
        capabilities = context.get("capabilities", {})
        if "ALL" not in capabilities.get("drop", []) or set(capabilities.get("add", [])) - {"NET_BIND_SERVICE"}:
            problems.append(f"{name}/{item['name']}: capabilities")
        if any(port.get("hostPort") for port in item.get("ports", [])):
            problems.append(f"{name}/{item['name']}: hostPort")
    return problems


@pytest.mark.parametrize("kustomization", ["db", "prod", "dev"])
def test_every_pod_meets_pod_security_restricted(kustomization):
    """The namespace enforces `restricted`: none of our own pods (Jobs from the CronJob included) may be refused."""
    workloads = [o for o in rendered(kustomization) if pod_spec(o) is not None]
    assert workloads
    assert [p for o in workloads for p in restricted_problems(o)] == []


def test_the_restricted_check_catches_a_host_mount_and_a_missing_seccomp_profile():
    job = find_object(rendered("prod"), "CronJob", "precompute")
    spec = pod_spec(job)
    spec["volumes"].append({"name": "host", "hostPath": {"path": "/"}})
    del spec["securityContext"]["seccompProfile"]
    problems = restricted_problems(job)
    assert any("hostPath" in p for p in problems) and any("seccompProfile" in p for p in problems)


def test_redis_refuses_writes_when_full_instead_of_evicting_queued_jobs():
    """An evicting Redis would drop queued refresh and run jobs silently; noeviction makes a full Redis refuse the
    write, which the app answers (tests/web/test_security_redis.py). The cap sits under the container's memory limit,
    with room for a background save's fork and the clients' buffers."""
    server = container(pod_spec(find_object(rendered("db"), "Deployment", "redis")), "redis")
    args = server["args"]
    assert args[args.index("--maxmemory-policy") + 1] == "noeviction"
    cap = args[args.index("--maxmemory") + 1]
    assert re.fullmatch(r"\d+mb", cap), cap
    limit = mebibytes(server["resources"]["limits"]["memory"])
    assert int(cap[:-2]) * 1000 * 1000 <= 0.7 * limit * 1024 * 1024, f"maxmemory {cap} leaves too little of the {limit} MiB limit"
