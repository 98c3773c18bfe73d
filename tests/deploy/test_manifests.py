"""The Kubernetes manifests under k8s/ and the targets of k8s/k8s.mk.

Every manifest must pass kubernetes-validate in strict mode, and the set must
hang together: the Secrets and ConfigMaps it reads exist with those keys, the
containers run the contract commands as non-root, the database lives apart
from the app, and the precompute CronJob is an Indexed Job whose shard count
agrees with JOB_COMPLETIONS.
"""

from __future__ import annotations

import copy
import difflib
import json
import re
import shlex
import shutil
import subprocess

import kubernetes_validate
import pytest
import yaml

from web.dbroles import roles

from .manifests import (
    APP_SECRET,
    CONFIGMAP,
    DB_APP_SECRET,
    DB_OWNER_SECRET,
    DB_SECRET,
    JOB_COMMAND,
    JOB_IMAGE,
    K8S_DIR,
    K8S_MAKEFILE,
    KUBERNETES_VERSION,
    KUBERNETES_VERSIONS,
    KUSTOMIZATIONS,
    NAMESPACE,
    MIGRATE_LOCK,
    REDIS_SECRET,
    REPO,
    SKAFFOLD_DB_FILE,
    WEB_COMMAND,
    WEB_IMAGE,
    WEB_PORT,
    WORKER_COMMAND,
    container,
    containers,
    env_value,
    find_object,
    find_tool,
    full_command,
    deployed_objects,
    render_kustomization,
    rendered,
    makefile_secrets,
    makefile_targets,
    makefile_text,
    makefile_variables,
    pod_spec,
    pod_template,
)

# What the old per-folder layout called db/, app/ + job/ and app/dev/ is now each kustomization rendered.
DB, PROD, DEV = "db", "prod", "dev"
# What the dev overlay adds to the base Deployments (the writable copy of /app), and nothing else.
DEV_COPY_CONTAINER = "copy-app"
DEV_COPY_VOLUME = "app-code"


def rel(path) -> str:
    return str(path.relative_to(REPO))


def all_objects() -> list[dict]:
    """Everything any kustomization renders: cluster objects, database, prod and dev overlays."""
    return deployed_objects() + rendered(DEV)


def workloads(objects: list[dict]) -> list[dict]:
    return [obj for obj in objects if pod_spec(obj) is not None]


# --- checks that return problems, so that the negative tests can feed them
# --- broken copies ----------------------------------------------------------


def security_problems(obj: dict) -> list[str]:
    """List how a workload falls short of the pod and container hardening rules."""
    name = f"{obj['kind']}/{obj['metadata']['name']}"
    spec = pod_spec(obj)
    problems = []
    pod_context = spec.get("securityContext", {})
    if pod_context.get("runAsNonRoot") is not True:
        problems.append(f"{name}: pod securityContext.runAsNonRoot is not true")
    if not isinstance(pod_context.get("runAsUser"), int) or pod_context.get("runAsUser") == 0:
        problems.append(f"{name}: pod securityContext.runAsUser is not a non-zero uid")
    if spec.get("automountServiceAccountToken") is not False:
        problems.append(f"{name}: automountServiceAccountToken is not false (no pod here calls the API)")
    mounted_volumes = {v["name"] for v in spec.get("volumes", [])}
    mounted_volumes |= {c["metadata"]["name"] for c in obj["spec"].get("volumeClaimTemplates", [])}
    for item in containers(spec):
        where = f"{name} container {item['name']}"
        context = item.get("securityContext", {})
        if context.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{where}: allowPrivilegeEscalation is not false")
        if context.get("capabilities", {}).get("drop") != ["ALL"]:
            problems.append(f"{where}: capabilities.drop is not [ALL]")
        if context.get("readOnlyRootFilesystem") is not True:
            problems.append(f"{where}: readOnlyRootFilesystem is not true")
        if context.get("privileged"):
            problems.append(f"{where}: privileged")
        resources = item.get("resources", {})
        for section in ("requests", "limits"):
            for resource in ("cpu", "memory"):
                if resource not in resources.get(section, {}):
                    problems.append(f"{where}: no resources.{section}.{resource}")
        for mount in item.get("volumeMounts", []):
            if mount["name"] not in mounted_volumes:
                problems.append(f"{where}: mounts undeclared volume {mount['name']}")
    return problems


def tmp_problems(obj: dict) -> list[str]:
    """List the app containers whose read-only root has no writable /tmp."""
    spec = pod_spec(obj)
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    problems = []
    for item in containers(spec):
        if item["image"] not in {WEB_IMAGE, JOB_IMAGE} or item["name"] == DEV_COPY_CONTAINER:
            continue
        mounts = {m["mountPath"]: m["name"] for m in item.get("volumeMounts", [])}
        volume = volumes.get(mounts.get("/tmp"), {})
        if "emptyDir" not in volume:
            problems.append(f"{obj['metadata']['name']}/{item['name']}: no emptyDir at /tmp")
    return problems


def env_reference_problems(obj: dict) -> list[str]:
    """List $(VAR) references that Kubernetes would leave unexpanded.

    Kubernetes expands $(VAR) in env values, command and args only from
    variables defined earlier in the env list, so order matters.
    """
    problems = []
    for item in containers(pod_spec(obj)):
        defined: set[str] = set()
        for entry in item.get("env", []):
            for ref in re.findall(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", entry.get("value", "")):
                if ref not in defined:
                    problems.append(f"{item['name']}: env {entry['name']} uses $({ref}) before it is defined")
            defined.add(entry["name"])
        for word in full_command(item):
            for ref in re.findall(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", word):
                if ref not in defined:
                    problems.append(f"{item['name']}: command uses undefined $({ref})")
    return problems


def secret_references(objects: list[dict]) -> dict[str, set[str]]:
    """Return {secret name: keys read} over every container and volume (None = whole secret)."""
    refs: dict[str, set] = {}
    for obj in workloads(objects):
        spec = pod_spec(obj)
        for item in containers(spec):
            for entry in item.get("env", []):
                ref = entry.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    refs.setdefault(ref["name"], set()).add(ref["key"])
            for source in item.get("envFrom", []):
                if "secretRef" in source:
                    refs.setdefault(source["secretRef"]["name"], set()).add(None)
        for volume in spec.get("volumes", []):
            if "secret" in volume:
                refs.setdefault(volume["secret"]["secretName"], set()).add(None)
    return refs


def secret_problems(objects: list[dict], created: dict[str, set[str]]) -> list[str]:
    """List Secret names or keys the manifests read but k8s.mk does not create."""
    problems = []
    for name, keys in sorted(secret_references(objects).items()):
        if name not in created:
            problems.append(f"secret {name} is read but `make k8s-secrets` does not create it")
            continue
        for key in sorted(k for k in keys if k is not None):
            if key not in created[name]:
                problems.append(f"secret {name} has no key {key} in k8s.mk")
    return problems


def configmap_problems(objects: list[dict], available: list[dict]) -> list[str]:
    """List ConfigMap names or keys that containers read but `available` lacks."""
    maps = {obj["metadata"]["name"]: obj.get("data", {}) for obj in available if obj["kind"] == "ConfigMap"}
    problems = []
    for obj in workloads(objects):
        for item in containers(pod_spec(obj)):
            for source in item.get("envFrom", []):
                name = source.get("configMapRef", {}).get("name")
                if name and name not in maps and not source["configMapRef"].get("optional"):
                    problems.append(f"{item['name']}: envFrom ConfigMap {name} is not in the same module")
            for entry in item.get("env", []):
                ref = entry.get("valueFrom", {}).get("configMapKeyRef")
                if ref and (ref["name"] not in maps or ref["key"] not in maps[ref["name"]]):
                    problems.append(f"{item['name']}: ConfigMap {ref['name']} has no key {ref['key']}")
    return problems


def service_problems(objects: list[dict]) -> list[str]:
    """List Services that select no pod template, or target a port no container names."""
    templates = [pod_template(obj) for obj in workloads(objects)]
    problems = []
    for service in (obj for obj in objects if obj["kind"] == "Service"):
        name = service["metadata"]["name"]
        selector = service["spec"].get("selector", {})
        matches = [
            t for t in templates
            if selector and all(t["metadata"].get("labels", {}).get(k) == v for k, v in selector.items())
        ]
        if not matches:
            problems.append(f"Service {name} selects no pod template in its module")
            continue
        for port in service["spec"]["ports"]:
            target = port.get("targetPort", port["port"])
            for template in matches:
                ports = [p for c in template["spec"]["containers"] for p in c.get("ports", [])]
                if not any(target in (p.get("name"), p["containerPort"]) for p in ports):
                    problems.append(f"Service {name} port {port['port']} targets {target!r}, which no container exposes")
    return problems


def selector_problems(obj: dict) -> list[str]:
    """List workloads whose selector does not match their own pod template."""
    if obj["kind"] not in {"Deployment", "StatefulSet"}:
        return []
    labels = obj["spec"]["template"]["metadata"].get("labels", {})
    selector = obj["spec"]["selector"]["matchLabels"]
    return [
        f"{obj['kind']}/{obj['metadata']['name']}: selector {k}={v} not on the pod template"
        for k, v in selector.items() if labels.get(k) != v
    ]


def strip_dev_copy(obj: dict) -> dict:
    """Remove the dev-only writable copy of /app from a dev Deployment."""
    stripped = copy.deepcopy(obj)
    spec = pod_spec(stripped)
    spec["initContainers"] = [c for c in spec.get("initContainers", []) if c["name"] != DEV_COPY_CONTAINER]
    if not spec["initContainers"]:
        del spec["initContainers"]
    spec["volumes"] = [v for v in spec.get("volumes", []) if v["name"] != DEV_COPY_VOLUME]
    for item in containers(spec):
        item["volumeMounts"] = [m for m in item.get("volumeMounts", []) if m["name"] != DEV_COPY_VOLUME]
    return stripped


def dev_variant_problems(production: dict, dev: dict) -> list[str]:
    """List how a dev Deployment differs from production beyond the /app copy."""
    if strip_dev_copy(dev) == production:
        return []
    left = yaml.safe_dump(production, sort_keys=True).splitlines()
    right = yaml.safe_dump(strip_dev_copy(dev), sort_keys=True).splitlines()
    diff = "\n".join(difflib.unified_diff(left, right, "production", "dev", lineterm="", n=1))
    return [f"{dev['metadata']['name']}: dev variant drifted from production:\n{diff}"]


# --- schema validation -------------------------------------------------------


def test_every_kustomization_renders():
    """Each kustomization (dev and prod overlays, database, cluster objects) renders with kubectl kustomize."""
    for name in KUSTOMIZATIONS:
        assert rendered(name), f"{name} rendered nothing"


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("name", sorted(KUSTOMIZATIONS))
def test_rendering_passes_strict_kubernetes_schema(name, version):
    """Each rendered object validates in strict mode (unknown fields rejected) against the newest and oldest supported Kubernetes."""
    for document in rendered(name):
        try:
            kubernetes_validate.validate(document, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{name} {document.get('kind')}/{document['metadata']['name']}: {error.message} at {list(error.path)}")


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_kubernetes_validate_cli_passes_every_rendering(version, tmp_path):
    """The kubernetes-validate CLI, as `make check-k8s` runs it on the rendered files, accepts them all."""
    tool = find_tool("kubernetes-validate")
    assert tool, "kubernetes-validate is not installed (pip install kubernetes-validate)"
    files = []
    for name in KUSTOMIZATIONS:
        files.append(tmp_path / f"{name}.yaml")
        files[-1].write_text(yaml.safe_dump_all(rendered(name)))
    result = subprocess.run([tool, "--strict", "--quiet", "-k", version, *map(str, files)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_validated_version_is_the_newest_the_validator_knows():
    """KUBERNETES_VERSION is kubernetes-validate's default, i.e. the newest release it ships schemas for."""
    tool = find_tool("kubernetes-validate")
    result = subprocess.run([tool, "--help"], capture_output=True, text=True, check=False)
    match = re.search(r"Defaults to\s+(\d+\.\d+\.\d+)", result.stdout)
    assert match, result.stdout
    assert match.group(1) == KUBERNETES_VERSION


def test_strict_validation_rejects_unknown_and_mistyped_fields(tmp_path):
    """A misspelt field or a wrong type in a copy of the web Deployment is refused."""
    web = find_object(rendered(PROD), "Deployment", "web")
    misspelt = copy.deepcopy(web)
    container(pod_spec(misspelt), "web")["securityContext"]["runAsNonroot"] = True
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(misspelt, KUBERNETES_VERSION, strict=True)

    mistyped = copy.deepcopy(web)
    mistyped["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(mistyped, KUBERNETES_VERSION, strict=True)

    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(misspelt))
    result = subprocess.run(
        [find_tool("kubernetes-validate"), "--strict", "--quiet", "-k", KUBERNETES_VERSION, str(broken)],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode != 0, "the CLI accepted a misspelt field"


# --- layout: the database apart from the app ---------------------------------


def test_only_the_cluster_objects_hold_the_namespace():
    """No Skaffold module renders a Namespace (deleting a module never deletes one with the data in it); every
    namespaced object lands in `movielens`, whose Pod Security level is `restricted`, enforced."""
    for name in (DB, PROD, DEV):
        assert not [o for o in rendered(name) if o["kind"] == "Namespace"], name
        for obj in rendered(name):
            assert obj["metadata"].get("namespace") == NAMESPACE, (name, obj["kind"], obj["metadata"]["name"])
    (namespace,) = [o for o in rendered("cluster") if o["kind"] == "Namespace"]
    assert namespace["metadata"]["name"] == NAMESPACE
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    for obj in rendered("cluster"):
        assert "namespace" not in obj["metadata"], f"{obj['kind']} is cluster-scoped"


def test_no_secret_objects_in_repository():
    """Secrets are generated by `make k8s-secrets`, never committed as manifests."""
    assert not [obj for obj in all_objects() if obj["kind"] == "Secret"]


def test_every_object_is_labelled_part_of_movielens():
    """`kubectl get -l app.kubernetes.io/part-of=movielens` finds everything deployed."""
    for obj in all_objects():
        labels = obj["metadata"].get("labels", {})
        assert labels.get("app.kubernetes.io/part-of") == "movielens", obj["metadata"]["name"]


def test_database_module_holds_postgres_and_redis_only():
    """k8s/db/ has the Postgres StatefulSet, its headless Service and Redis; the app folders have none of them."""
    db = rendered(DB)
    assert {(o["kind"], o["metadata"]["name"]) for o in db} == {
        ("StatefulSet", "postgres"), ("Service", "postgres"), ("Deployment", "redis"), ("Service", "redis"),
    }
    elsewhere = rendered(PROD) + rendered(DEV)
    assert not [o for o in elsewhere if o["kind"] in {"StatefulSet", "PersistentVolumeClaim"}]


def test_postgres_statefulset_keeps_its_volume():
    """Postgres 16 keeps its data in a volume claim that outlives the StatefulSet."""
    db = rendered(DB)
    postgres = find_object(db, "StatefulSet", "postgres")
    spec = postgres["spec"]
    assert spec["serviceName"] == "postgres"
    assert spec["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}
    claims = {claim["metadata"]["name"] for claim in spec["volumeClaimTemplates"]}
    main = container(pod_spec(postgres), "postgres")
    assert main["image"].startswith("postgres:16"), main["image"]
    data_mount = next(m for m in main["volumeMounts"] if m["mountPath"] == "/var/lib/postgresql/data")
    assert data_mount["name"] in claims
    assert env_value(main, "PGDATA")["value"].startswith("/var/lib/postgresql/data/")
    readiness = " ".join(main["readinessProbe"]["exec"]["command"])
    assert "pg_isready" in readiness

    service = find_object(db, "Service", "postgres")
    assert service["spec"]["clusterIP"] == "None", "the StatefulSet's governing Service must be headless"
    assert [p["port"] for p in service["spec"]["ports"]] == [5432]


def test_redis_service_matches_redis_url():
    """The Redis Service is where every REDIS_URL points: redis:6379."""
    db = rendered(DB)
    redis = find_object(db, "Deployment", "redis")
    assert container(pod_spec(redis), "redis")["image"].startswith("redis:7")
    assert [p["port"] for p in find_object(db, "Service", "redis")["spec"]["ports"]] == [6379]
    urls = [env_value(item, "REDIS_URL")["value"] for obj in workloads(all_objects())
            for item in containers(pod_spec(obj)) if env_value(item, "REDIS_URL")]
    assert len(urls) == 8  # web + its init container, worker, the precompute job, in each overlay
    assert all(url.split("@")[-1] == "redis:6379/0" or url == "redis://redis:6379/0" for url in urls), urls


def test_redis_requires_the_password_every_client_but_the_job_is_given():
    """Redis starts with --requirepass from movielens-redis; app containers put it in REDIS_URL; the job, which never connects, has none."""
    secret = {"name": REDIS_SECRET, "key": "REDIS_PASSWORD"}
    redis = container(pod_spec(find_object(rendered(DB), "Deployment", "redis")), "redis")
    assert redis["args"][:2] == ["--requirepass", "$(REDIS_PASSWORD)"]
    assert env_value(redis, "REDIS_PASSWORD")["valueFrom"]["secretKeyRef"] == secret
    assert env_value(redis, "REDISCLI_AUTH")["valueFrom"]["secretKeyRef"] == secret  # the probes' redis-cli
    for obj in workloads(all_objects()):
        for item in containers(pod_spec(obj)):
            if item["image"] == WEB_IMAGE and env_value(item, "DATABASE_URL"):  # not dev's copy-app
                assert env_value(item, "REDIS_PASSWORD")["valueFrom"]["secretKeyRef"] == secret, item["name"]
                assert env_value(item, "REDIS_URL")["value"] == "redis://:$(REDIS_PASSWORD)@redis:6379/0", item["name"]
            elif item["image"] == JOB_IMAGE:
                assert env_value(item, "REDIS_PASSWORD") is None
                assert env_value(item, "REDIS_URL")["value"] == "redis://redis:6379/0"


@pytest.mark.parametrize("name", [DB, PROD, DEV])
def test_services_select_their_pods(name):
    """Each Service selects a pod template of its own kustomization, on a port a container names."""
    objects = rendered(name)
    assert service_problems(objects) == []
    assert [p for o in objects for p in selector_problems(o)] == []


def test_service_check_catches_a_wrong_target_port():
    """The Service check fails when targetPort names no container port."""
    objects = copy.deepcopy(rendered(PROD))
    find_object(objects, "Service", "web")["spec"]["ports"][0]["targetPort"] = "https"
    assert service_problems(objects)


# --- secrets, config and environment ----------------------------------------


def test_secrets_read_are_created_by_the_makefile():
    """Every Secret name and key the pods read is one `make k8s-secrets` creates."""
    created = makefile_secrets()
    assert created.get(DB_SECRET) == {"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"}
    assert created.get(DB_OWNER_SECRET) == {"DATABASE_OWNER_PASSWORD"}
    assert created.get(DB_APP_SECRET) == {"DATABASE_APP_PASSWORD"}
    assert created.get(APP_SECRET) == {"SECRET_KEY", "SECRET_KEY_FALLBACKS"}  # the second by k8s-rotate-secret-key
    assert created.get(REDIS_SECRET) == {"REDIS_PASSWORD"}
    assert secret_problems(all_objects(), created) == []


def test_secret_check_catches_an_unknown_secret_or_key():
    """The Secret check fails for a name or a key the Makefile does not create."""
    objects = copy.deepcopy(rendered(PROD))
    web = container(pod_spec(find_object(objects, "Deployment", "web")), "web")
    env_value(web, "SECRET_KEY")["valueFrom"]["secretKeyRef"]["key"] = "DJANGO_SECRET_KEY"
    env_value(web, "POSTGRES_DB")["valueFrom"]["secretKeyRef"]["name"] = "postgres-credentials"
    problems = secret_problems(objects, makefile_secrets())
    assert any("DJANGO_SECRET_KEY" in p for p in problems)
    assert any("postgres-credentials" in p for p in problems)


def test_configmap_has_the_settings_keys():
    """movielens-config carries the non-secret settings and nothing secret."""
    config = find_object(rendered(PROD), "ConfigMap", CONFIGMAP)
    data = config["data"]
    assert {"APP_ENV", "ALLOWED_HOSTS", "DEBUG"} <= set(data)
    assert data["APP_ENV"] == "production"
    assert data["DEBUG"] in {"0", "1"}
    assert not {"SECRET_KEY", "DATABASE_URL", "POSTGRES_PASSWORD", "REDIS_URL", "REDIS_PASSWORD"} & set(data)


@pytest.mark.parametrize("name", [DB, PROD, DEV])
def test_configmaps_read_exist_in_the_same_module(name):
    """A ConfigMap a pod reads is deployed by the same kustomization (or it would vanish with another)."""
    objects = available = rendered(name)
    assert configmap_problems(objects, available) == []


def test_configmap_check_catches_a_missing_map():
    """The ConfigMap check fails when the map is not in the module."""
    app = rendered(PROD)
    without = [o for o in app if o["kind"] != "ConfigMap"]
    assert configmap_problems(app, without)


@pytest.mark.parametrize("obj", workloads(all_objects()), ids=lambda o: o["metadata"]["name"])
def test_env_references_are_defined_first(obj):
    """$(VAR) in env values and args only refers to variables defined above it."""
    assert env_reference_problems(obj) == []


def test_env_reference_check_catches_wrong_order():
    """Moving DATABASE_URL above the POSTGRES_* variables it uses is caught."""
    web = copy.deepcopy(find_object(rendered(PROD), "Deployment", "web"))
    item = container(pod_spec(web), "web")
    item["env"].sort(key=lambda entry: entry["name"] != "DATABASE_URL")
    assert env_reference_problems(web)


DATABASE_URLS = {
    "owner": f"postgres://{roles.OWNER_ROLE}:$(DATABASE_OWNER_PASSWORD)@postgres:5432/$(POSTGRES_DB)",
    "app": f"postgres://{roles.APP_ROLE}:$(DATABASE_APP_PASSWORD)@postgres:5432/$(POSTGRES_DB)",
}
ROLE_SECRETS = {"owner": (DB_OWNER_SECRET, "DATABASE_OWNER_PASSWORD"), "app": (DB_APP_SECRET, "DATABASE_APP_PASSWORD")}
EXPECTED_ROLES = {"migrate": "owner", "precompute": "owner", "web": "app", "worker": "app"}
"""Container name -> the database role it connects as (issue #16, item 5): schema changes are the owner's."""


def database_role_problems(objects: list[dict]) -> list[str]:
    """Containers of the app's images whose DATABASE_URL or database Secrets are not those of their role."""
    problems = []
    for obj in workloads(objects):
        for item in containers(pod_spec(obj), init=True):
            if item["image"] not in {WEB_IMAGE, JOB_IMAGE} or item["name"] not in EXPECTED_ROLES:
                continue
            role = EXPECTED_ROLES[item["name"]]
            url = env_value(item, "DATABASE_URL")
            if url is None or url.get("value") != DATABASE_URLS[role]:
                problems.append(f"{item['name']}: DATABASE_URL is not the {role} role's: {url}")
            secret, key = ROLE_SECRETS[role]
            password = env_value(item, key)
            if password is None or password.get("valueFrom", {}).get("secretKeyRef") != {"name": secret, "key": key}:
                problems.append(f"{item['name']}: {key} does not come from the Secret {secret}")
            for entry in item.get("env", []):
                ref = entry.get("valueFrom", {}).get("secretKeyRef") or {}
                others = {s for r, (s, _) in ROLE_SECRETS.items() if r != role}
                if ref.get("name") in others or (ref.get("name") == DB_SECRET and ref.get("key") != "POSTGRES_DB"):
                    problems.append(f"{item['name']}: reads {ref['name']}/{ref['key']}, a password not of its role")
    return problems


def test_each_container_connects_as_its_database_role():
    """web and worker connect as the data-only role, migrate and the job as the owner; none reads another role's password or the superuser's."""
    objects = all_objects()
    seen = {item["name"] for obj in workloads(objects) for item in containers(pod_spec(obj), init=True)}
    assert set(EXPECTED_ROLES) <= seen
    assert database_role_problems(objects) == []
    for obj in workloads(all_objects()):
        for item in containers(pod_spec(obj), init=True):
            if item["image"] in {WEB_IMAGE, JOB_IMAGE} and env_value(item, "DATABASE_URL"):
                key = env_value(item, "SECRET_KEY")["valueFrom"]["secretKeyRef"]
                assert key == {"name": APP_SECRET, "key": "SECRET_KEY"}


def test_a_secret_key_rotation_keeps_the_old_key_as_a_fallback():
    """web and worker read SECRET_KEY_FALLBACKS from the app Secret, optional (a Secret made before it has none), and
    `make k8s-rotate-secret-key` moves the key there: signed-in users stay signed in and the worker still loads the
    serving run's model, signed with the old key (before, the only documented rotation ended every session and
    failed every refresh until the next run)."""
    for overlay in (PROD, DEV):
        objects = rendered(overlay)
        for name in ("web", "worker"):
            item = container(pod_spec(find_object(objects, "Deployment", name)), name)
            assert env_value(item, "SECRET_KEY_FALLBACKS")["valueFrom"]["secretKeyRef"] == {
                "name": APP_SECRET, "key": "SECRET_KEY_FALLBACKS", "optional": True}, (overlay, name)
    recipe = makefile_targets()["k8s-rotate-secret-key"]
    assert "jsonpath='{.data.SECRET_KEY}'" in recipe
    assert '--from-literal=SECRET_KEY="$$' in recipe and '--from-literal=SECRET_KEY_FALLBACKS="$$' in recipe
    assert "rollout restart deployment/web deployment/worker" in recipe
    assert "make k8s-rotate-secret-key" in (REPO / "docs" / "kubernetes.md").read_text()


def test_only_the_postgres_pod_reads_the_superuser_password():
    """POSTGRES_PASSWORD (the superuser's) is in the Postgres pod's env only."""
    readers = {
        f"{obj['metadata']['name']}/{item['name']}"
        for obj in workloads(all_objects())
        for item in containers(pod_spec(obj), init=True)
        for entry in item.get("env", [])
        if (entry.get("valueFrom", {}).get("secretKeyRef") or {}).get("key") == "POSTGRES_PASSWORD"
    }
    assert readers == {"postgres/postgres"}


def test_database_role_check_catches_a_web_pod_with_the_owner_password():
    """Giving the web container the owner's URL and password, or the worker the superuser's, is reported."""
    objects = copy.deepcopy(rendered(PROD))
    web = container(pod_spec(find_object(objects, "Deployment", "web")), "web")
    web["env"].insert(0, {"name": "DATABASE_OWNER_PASSWORD", "valueFrom": {"secretKeyRef": {"name": DB_OWNER_SECRET, "key": "DATABASE_OWNER_PASSWORD"}}})
    env_value(web, "DATABASE_URL")["value"] = DATABASE_URLS["owner"]
    worker = container(pod_spec(find_object(objects, "Deployment", "worker")), "worker")
    worker["env"].insert(0, {"name": "POSTGRES_PASSWORD", "valueFrom": {"secretKeyRef": {"name": DB_SECRET, "key": "POSTGRES_PASSWORD"}}})
    problems = database_role_problems(objects)
    assert any(p.startswith("web: DATABASE_URL") for p in problems), problems
    assert any(p.startswith("web: reads movielens-db-owner") for p in problems), problems
    assert any(p.startswith("worker: reads movielens-db/POSTGRES_PASSWORD") for p in problems), problems


def test_makefile_role_names_match_the_code():
    """k8s.mk's role names (the loader's owner URL, the roles' step) are web/dbroles/roles.py's."""
    variables = makefile_variables(makefile_text())
    assert (variables["DB_OWNER_ROLE"], variables["DB_APP_ROLE"]) == (roles.OWNER_ROLE, roles.APP_ROLE)
    db = makefile_targets()["k8s-db"]
    assert "k8s-db-roles" in db.split("run --filename $(SKAFFOLD_DB_FILE)", 1)[1], "the roles are set up after Postgres is up"
    recipe = makefile_targets()["k8s-db-roles"]
    assert "-m web.dbroles" in recipe and "exec -i statefulset/postgres" in recipe
    # Run alone (a Secret's rotation, an upgrade) or right after a first deploy, Postgres may still be starting:
    # `kubectl exec` then fails with "container not found" instead of waiting.
    wait = re.search(r"\$\(K8S\) rollout status statefulset/postgres --timeout=\S+", recipe)
    assert wait and wait.start() < recipe.index("exec -i statefulset/postgres"), "k8s-db-roles waits for Postgres first"
    load = makefile_targets()["k8s-load"]
    assert "$(DB_OWNER_ROLE)" in load and "read -r DATABASE_URL" in load


# --- hardening ---------------------------------------------------------------


@pytest.mark.parametrize("obj", workloads(all_objects()), ids=lambda o: o["metadata"]["name"])
def test_workloads_are_hardened(obj):
    """Non-root, no privilege escalation, no capabilities, read-only root, requests and limits."""
    assert security_problems(obj) == []
    assert tmp_problems(obj) == []


def test_hardening_check_catches_a_weak_container():
    """The hardening check fails for escalation, a writable root or missing limits."""
    worker = copy.deepcopy(find_object(rendered(PROD), "Deployment", "worker"))
    item = container(pod_spec(worker), "worker")
    item["securityContext"]["allowPrivilegeEscalation"] = True
    item["securityContext"]["readOnlyRootFilesystem"] = False
    del item["resources"]["limits"]
    problems = security_problems(worker)
    assert len(problems) == 4, problems


def test_app_images_run_as_the_image_user():
    """Pods of the project's images run as uid/gid 10001, the user the Dockerfiles create."""
    for obj in workloads(all_objects()):
        spec = pod_spec(obj)
        if any(c["image"] in {WEB_IMAGE, JOB_IMAGE} for c in containers(spec)):
            context = spec["securityContext"]
            assert (context["runAsUser"], context["runAsGroup"], context["fsGroup"]) == (10001, 10001, 10001)


# --- the web app, the worker and the job -------------------------------------


def test_web_deployment_runs_the_contract_commands():
    """web runs the web server (`python -m web.serve`) on port 8000 after a migrate init container, both from movielens-web."""
    web = find_object(rendered(PROD), "Deployment", "web")
    spec = pod_spec(web)
    migrate = container(spec, "migrate")
    assert migrate in spec["initContainers"]
    argv = full_command(migrate)
    assert argv[:2] == ["python", "-c"], "the migrate init container runs its lock-and-migrate script"
    script = argv[2]
    assert 'call_command("migrate", interactive=False' in script  # = MIGRATE_COMMAND's `migrate --noinput`
    assert script.index(MIGRATE_LOCK) < script.index('call_command("migrate"'), "the lock is taken first"
    assert "ensure_connection" in script, "it waits for the database instead of crash-looping"
    main = container(spec, "web")
    assert full_command(main) == WEB_COMMAND
    assert main["image"] == migrate["image"] == WEB_IMAGE
    assert main["ports"] == [{"name": "http", "containerPort": WEB_PORT}]
    for item in (migrate, main):
        assert {"configMapRef": {"name": CONFIGMAP}} in item["envFrom"]


def test_web_probes_use_health_endpoints_with_an_allowed_host():
    """startup+liveness probe /healthz, readiness /readyz, with a Host header in ALLOWED_HOSTS."""
    main = container(pod_spec(find_object(rendered(PROD), "Deployment", "web")), "web")
    allowed = find_object(rendered(PROD), "ConfigMap", CONFIGMAP)["data"]["ALLOWED_HOSTS"].split(",")
    expected = {"startupProbe": "/healthz", "livenessProbe": "/healthz", "readinessProbe": "/readyz"}
    for probe, path in expected.items():
        http = main[probe]["httpGet"]
        assert http["path"] == path, probe
        assert http["port"] in ("http", WEB_PORT), probe
        hosts = [h["value"] for h in http.get("httpHeaders", []) if h["name"].lower() == "host"]
        assert hosts and hosts[0] in allowed, f"{probe} Host header {hosts} not in ALLOWED_HOSTS {allowed}"


def test_web_service_exposes_port_8000_as_http():
    """The web Service maps port 8000 (name http) to the container port named http."""
    service = find_object(rendered(PROD), "Service", "web")
    assert service["spec"]["ports"] == [{"name": "http", "port": WEB_PORT, "targetPort": "http"}]


def test_worker_runs_rqworker_from_the_web_image():
    """The worker runs `python manage.py rqworker` from movielens-web, with no HTTP probes."""
    worker = find_object(rendered(PROD), "Deployment", "worker")
    main = container(pod_spec(worker), "worker")
    assert full_command(main) == WORKER_COMMAND
    assert main["image"] == WEB_IMAGE
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert "httpGet" not in main.get(probe, {})
    assert {"configMapRef": {"name": CONFIGMAP}} in main["envFrom"]


def test_precompute_cronjob_is_a_suspended_indexed_job():
    """precompute: suspended CronJob of an Indexed Job with per-index retries and a TTL."""
    cronjob = find_object(rendered(PROD), "CronJob", "precompute")
    assert cronjob["spec"]["suspend"] is True
    assert len(cronjob["spec"]["schedule"].split()) == 5
    job = cronjob["spec"]["jobTemplate"]["spec"]
    assert job["completionMode"] == "Indexed"
    assert job["completions"] >= 1 and 1 <= job["parallelism"] <= job["completions"]
    assert job["backoffLimitPerIndex"] >= 0
    assert job["ttlSecondsAfterFinished"] > 0
    assert job["template"]["spec"]["restartPolicy"] == "Never"


def test_precompute_schedule_comes_from_the_configmap():
    """Both overlays copy PRECOMPUTE_SCHEDULE and PRECOMPUTE_SCHEDULE_SUSPEND into the CronJob; off by default."""
    for overlay in (PROD, DEV):
        objects = rendered(overlay)
        cronjob = find_object(objects, "CronJob", "precompute")
        config = find_object(objects, "ConfigMap", CONFIGMAP)["data"]
        assert cronjob["spec"]["schedule"] == config["PRECOMPUTE_SCHEDULE"], overlay
        assert cronjob["spec"]["suspend"] is (config["PRECOMPUTE_SCHEDULE_SUSPEND"] == "true"), overlay
        assert config["PRECOMPUTE_SCHEDULE_SUSPEND"] == "true", f"{overlay}: the schedule is off by default"
        assert config["RETRAIN_THRESHOLD"] == "0", f"{overlay}: the worker may not create Jobs, so the threshold is off"


def test_precompute_container_matches_the_contract():
    """The job runs `python -m jobs.precompute` from movielens-job, pool sized by the CPU limit."""
    cronjob = find_object(rendered(PROD), "CronJob", "precompute")
    job = cronjob["spec"]["jobTemplate"]["spec"]
    spec = pod_spec(cronjob)
    assert [c["name"] for c in spec["containers"]] == ["precompute"]
    main = spec["containers"][0]
    assert main["image"] == JOB_IMAGE
    command = full_command(main)
    assert command[:3] == JOB_COMMAND
    assert command[command.index("--algorithm") + 1]
    assert int(command[command.index("--top-n") + 1]) > 0
    assert command[command.index("--workers") + 1] == "$(PRECOMPUTE_WORKERS)"

    # JOB_COMPLETIONS first (k8s-precompute patches env/0) and equal to completions.
    assert main["env"][0] == {"name": "JOB_COMPLETIONS", "value": str(job["completions"])}
    workers = env_value(main, "PRECOMPUTE_WORKERS")["valueFrom"]["resourceFieldRef"]
    assert workers["resource"] == "limits.cpu"
    assert workers.get("containerName", main["name"]) == main["name"]
    assert "cpu" in main["resources"]["limits"]

    volumes = {v["name"]: v for v in spec["volumes"]}
    shm = next(m for m in main["volumeMounts"] if m["mountPath"] == "/dev/shm")
    assert volumes[shm["name"]]["emptyDir"]["medium"] == "Memory"


def test_precompute_run_name_is_the_job_name():
    """PRECOMPUTE_RUN_NAME comes from the pod's batch.kubernetes.io/job-name label, so all shards (and retries) share it."""
    main = pod_spec(find_object(rendered(PROD), "CronJob", "precompute"))["containers"][0]
    field = env_value(main, "PRECOMPUTE_RUN_NAME")["valueFrom"]["fieldRef"]
    assert field["fieldPath"] == "metadata.labels['batch.kubernetes.io/job-name']"
    assert not env_value(main, "JOB_COMPLETION_INDEX"), "Kubernetes sets JOB_COMPLETION_INDEX in Indexed Jobs"


# --- RBAC: the web app may start precompute runs, nothing more ---------------

# (apiGroup, resource) -> (verbs, resourceNames or None for any name)
LAUNCHER_RULES = {("batch", "cronjobs"): ({"get"}, ["precompute"]), ("batch", "jobs"): ({"create", "get"}, None),
                  ("", "pods"): ({"list"}, None), ("", "events"): ({"list"}, None)}
TOKEN_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
TOKEN_MAX_SECONDS = 3600


def rbac_problems(objects: list[dict]) -> list[str]:
    """List RBAC objects that grant more than starting precompute runs, or that do not fit together."""
    problems = []
    by_kind: dict[str, dict[str, dict]] = {}
    for obj in objects:
        by_kind.setdefault(obj["kind"], {})[obj["metadata"]["name"]] = obj
    for kind in ("ClusterRole", "ClusterRoleBinding"):
        problems += [f"{kind}/{name}: cluster-wide rights are not needed" for name in by_kind.get(kind, {})]
    for name, role in by_kind.get("Role", {}).items():
        for rule in role.get("rules", []):
            for group in rule.get("apiGroups", []):
                for resource in rule.get("resources", []):
                    allowed = LAUNCHER_RULES.get((group, resource))
                    if allowed is None:
                        problems.append(f"Role/{name}: grants {group}/{resource}")
                        continue
                    verbs, names = allowed
                    if not set(rule.get("verbs", [])) <= verbs:
                        problems.append(f"Role/{name}: {group}/{resource} verbs {rule['verbs']} beyond {sorted(verbs)}")
                    if names is not None and rule.get("resourceNames") != names:
                        problems.append(f"Role/{name}: {group}/{resource} not limited to {names}")
    for name, binding in by_kind.get("RoleBinding", {}).items():
        ref = binding["roleRef"]
        if ref["kind"] != "Role" or ref["name"] not in by_kind.get("Role", {}):
            problems.append(f"RoleBinding/{name}: binds {ref['kind']}/{ref['name']}, not a Role of this module")
        for subject in binding["subjects"]:
            if subject["kind"] != "ServiceAccount" or subject["name"] not in by_kind.get("ServiceAccount", {}):
                problems.append(f"RoleBinding/{name}: subject {subject['kind']}/{subject['name']} is not a ServiceAccount of this module")
            if subject.get("namespace", binding["metadata"].get("namespace")) != binding["metadata"].get("namespace"):
                problems.append(f"RoleBinding/{name}: subject in another namespace than the binding's own")
    for name, account in by_kind.get("ServiceAccount", {}).items():
        if account.get("automountServiceAccountToken") is not False:
            problems.append(f"ServiceAccount/{name}: mounts a token into every pod by default")
    return problems


def token_problems(obj: dict, accounts: set[str]) -> list[str]:
    """List how a workload's API credentials differ from: none, or a short-lived token in the web container only."""
    name = obj["metadata"]["name"]
    spec = pod_spec(obj)
    account = spec.get("serviceAccountName")
    problems = []
    if account and account not in accounts:
        problems.append(f"{name}: serviceAccountName {account} is not in its module")
    token_volumes = {
        v["name"]: source["serviceAccountToken"]
        for v in spec.get("volumes", []) for source in v.get("projected", {}).get("sources", [])
        if "serviceAccountToken" in source
    }
    for volume, token in token_volumes.items():
        if token.get("expirationSeconds", 3607) > TOKEN_MAX_SECONDS:
            problems.append(f"{name}: token in {volume} lives longer than {TOKEN_MAX_SECONDS} s")
    for item in containers(spec):
        mounts = [m for m in item.get("volumeMounts", []) if m["name"] in token_volumes]
        wanted = (obj["kind"], name, item["name"]) == ("Deployment", "web", "web")
        if mounts and not wanted:
            problems.append(f"{name}/{item['name']}: mounts an API token it does not need")
        for mount in mounts:
            if mount["mountPath"] != TOKEN_PATH or mount.get("readOnly") is not True:
                problems.append(f"{name}/{item['name']}: token mounted at {mount['mountPath']}, not read-only at {TOKEN_PATH}")
        if wanted and (not mounts or account != "web"):
            problems.append(f"{name}/{item['name']}: runs as {account}, token mounted: {bool(mounts)}")
    return problems


def test_rbac_allows_starting_precompute_runs_only():
    """The Role lets the web app read the CronJob precompute and create Jobs, nothing else; its binding fits."""
    app = rendered(PROD)
    assert rbac_problems(app) == []
    role = find_object(app, "Role", "precompute-launcher")
    granted = {(g, r) for rule in role["rules"] for g in rule["apiGroups"] for r in rule["resources"]}
    assert granted == set(LAUNCHER_RULES)
    assert find_object(rendered(PROD), "CronJob", LAUNCHER_RULES[("batch", "cronjobs")][1][0])


@pytest.mark.parametrize(
    "breakage, expected",
    [
        (lambda objs: find_object(objs, "Role", "precompute-launcher")["rules"][1]["verbs"].append("delete"), "beyond"),
        (lambda objs: find_object(objs, "Role", "precompute-launcher")["rules"][0].pop("resourceNames"), "not limited"),
        (lambda objs: find_object(objs, "Role", "precompute-launcher")["rules"].append(
            {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}), "grants /secrets"),
        (lambda objs: find_object(objs, "RoleBinding", "web-precompute-launcher")["subjects"][0].update(name="default"), "not a ServiceAccount"),
        (lambda objs: find_object(objs, "ServiceAccount", "web").pop("automountServiceAccountToken"), "by default"),
        (lambda objs: objs.append({"kind": "ClusterRoleBinding", "metadata": {"name": "x"}}), "cluster-wide"),
    ],
)
def test_rbac_check_catches_wider_rights(breakage, expected):
    """More verbs, any-name reads, other resources, a wrong subject or a cluster-wide grant are reported."""
    objects = copy.deepcopy(rendered(PROD))
    breakage(objects)
    problems = rbac_problems(objects)
    assert any(expected in p for p in problems), problems


@pytest.mark.parametrize("obj", workloads(all_objects()), ids=lambda o: o["metadata"]["name"])
def test_only_the_web_container_holds_an_api_token(obj):
    """web runs as ServiceAccount web with a short-lived token in the web container alone; no other pod has one."""
    accounts = {o["metadata"]["name"] for o in rendered(PROD) if o["kind"] == "ServiceAccount"}
    assert token_problems(obj, accounts) == []


def test_token_check_catches_a_token_in_the_wrong_container():
    """Mounting the token into the migrate init container, or a long-lived token, is reported."""
    web = copy.deepcopy(find_object(rendered(PROD), "Deployment", "web"))
    spec = pod_spec(web)
    container(spec, "migrate")["volumeMounts"].append({"name": "kube-api-access", "mountPath": TOKEN_PATH, "readOnly": True})
    next(v for v in spec["volumes"] if v["name"] == "kube-api-access")["projected"]["sources"][0]["serviceAccountToken"]["expirationSeconds"] = 86400
    problems = token_problems(web, {"web"})
    assert any("migrate: mounts an API token" in p for p in problems), problems
    assert any("lives longer" in p for p in problems), problems


def test_precompute_job_does_not_depend_on_the_app_module():
    """The job reads no ConfigMap: deleting the app module must not break the next run."""
    main = pod_spec(find_object(rendered(PROD), "CronJob", "precompute"))["containers"][0]
    assert not main.get("envFrom")
    for name in ("APP_ENV", "REDIS_URL", "DATABASE_URL", "SECRET_KEY"):
        assert env_value(main, name), name
    assert env_value(main, "APP_ENV")["value"] == "production"


# --- the dev variants --------------------------------------------------------


def base_deployment(name: str) -> dict:
    """The base (k8s/app) Deployment as the dev overlay gets it: in the namespace; the worker's command is the
    target of the dev overlay's watchfiles (test_dev_worker_runs_rqworker_under_watchfiles checks that)."""
    base = find_object(render_kustomization(K8S_DIR / "app"), "Deployment", name)
    base["metadata"]["namespace"] = NAMESPACE
    return base


def without_watchfiles(dev: dict) -> dict:
    dev = copy.deepcopy(dev)
    for item in containers(pod_spec(dev)):
        if item.get("command", [""])[0] == "watchfiles":
            item["command"] = shlex.split(item["command"][-2])
    return dev


@pytest.mark.parametrize("name", ["web", "worker"])
def test_dev_variant_only_adds_a_writable_copy_of_app(name):
    """The dev overlay's <name> equals the base's plus the copy-app init container and volume (and watchfiles)."""
    dev = find_object(rendered(DEV), "Deployment", name)
    assert dev_variant_problems(base_deployment(name), without_watchfiles(dev)) == []

    spec = pod_spec(dev)
    copier = container(spec, DEV_COPY_CONTAINER)
    # The other init container (migrate) runs the image's own /app, so the copy's place among them is free.
    assert copier["image"] == WEB_IMAGE
    assert copier["command"][:2] == ["cp", "-R"] and copier["command"][2] == "/app/."
    copy_target = next(m["mountPath"] for m in copier["volumeMounts"] if m["name"] == DEV_COPY_VOLUME)
    assert copier["command"][3].rstrip("/") == copy_target
    main = container(spec, name)
    assert {"name": DEV_COPY_VOLUME, "mountPath": "/app"} in main["volumeMounts"]
    assert "emptyDir" in next(v for v in spec["volumes"] if v["name"] == DEV_COPY_VOLUME)


def test_dev_worker_runs_rqworker_under_watchfiles():
    """The dev worker's PID 1 is watchfiles, watching the synced /app and running the base's rqworker command."""
    worker = container(pod_spec(find_object(rendered(DEV), "Deployment", "worker")), "worker")
    assert worker["command"][0] == "watchfiles" and worker["command"][-1] == "/app"
    assert shlex.split(worker["command"][-2]) == WORKER_COMMAND
    assert "--filter" in worker["command"]


def test_dev_variant_check_catches_drift():
    """A change made to the base Deployment only is reported."""
    production = base_deployment("web")
    dev = find_object(rendered(DEV), "Deployment", "web")
    container(pod_spec(production), "web")["resources"]["limits"]["memory"] = "1Gi"
    assert dev_variant_problems(production, dev)


# --- k8s/k8s.mk --------------------------------------------------------------


def test_makefile_has_the_deploy_targets():
    """k8s.mk defines the targets docs/kubernetes.md walks through."""
    targets = makefile_targets()
    for name in ("k8s-cluster-objects", "k8s-secrets", "k8s-db", "k8s-dev", "k8s-run", "k8s-job", "k8s-precompute",
                 "k8s-operator", "k8s-operator-password", "k8s-delete"):
        assert name in targets, f"k8s/k8s.mk has no target {name}"


def test_check_k8s_runs_every_static_check():
    """`make check-k8s` renders every kustomization and runs kubernetes-validate --strict on the renderings for the
    tested versions, hadolint, the schema check, Checkov (pinned, in its own virtualenv) and tests/deploy.

    The command-line checks sit in `check-k8s-tools`, which `make test` runs before the whole suite.
    """
    targets = makefile_targets()
    recipe = re.sub(r"\s+", " ", "".join(targets[t] for t in ("check-k8s-tools", "check-k8s", "check-k8s-render",
                                                             "check-k8s-checkov")))
    assert "check-k8s-tools" in re.search(r"^test:.*$", makefile_text(REPO / "Makefile"), re.MULTILINE).group(0)
    variables = dict(re.findall(r"^(K8S_VALIDATE_VERSIONS) := (.*)$", makefile_text(), re.MULTILINE))
    assert tuple(variables["K8S_VALIDATE_VERSIONS"].split()) == KUBERNETES_VERSIONS
    assert "kubernetes-validate --strict" in recipe and "$(K8S_RENDERED)/*.yaml" in recipe
    assert "kustomize $$dir" in recipe
    assert "--framework kubernetes" in recipe and "--framework dockerfile -f Dockerfile -f Dockerfile.job" in recipe
    assert re.fullmatch(r"checkov==\d+\.\d+\.\d+", (REPO / "requirements-checkov.txt").read_text().split("\n# ")[-1]
                        .strip().splitlines()[-1]), "checkov is pinned"
    assert "hadolint" in recipe and "Dockerfile Dockerfile.job" in recipe
    assert "-m tests.deploy.skaffold_schema $(SKAFFOLD_SCHEMA) skaffold.yaml $(SKAFFOLD_DB_FILE)" in recipe
    assert makefile_variables(makefile_text())["SKAFFOLD_DB_FILE"] == SKAFFOLD_DB_FILE.name
    assert "-m pytest" in recipe and "tests/deploy" in recipe
    result = subprocess.run(
        [shutil.which("make"), "-n", "check-k8s"], capture_output=True, text=True, check=False, cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    for path in KUSTOMIZATIONS.values():
        assert rel(path) in result.stdout, f"check-k8s does not render {rel(path)}"


def test_makefile_targets_run_the_documented_commands():
    """db once from its own file with a fixed run id; dev, run and delete of skaffold.yaml alone (the app), as a bare
    `skaffold dev` in the checkout; jobs from the CronJob."""
    targets = makefile_targets()
    text = makefile_text()
    db = re.sub(r"\s+", " ", targets["k8s-db"])
    assert "run --filename $(SKAFFOLD_DB_FILE)" in db
    assert re.search(r"--label[ =]skaffold\.dev/run-id=\S+", db), "k8s-db needs a fixed run id"
    assert re.search(r"^K8S_DB_RUN_ID \?= \S+", text, re.MULTILINE)
    for target, command in (("k8s-dev", "dev"), ("k8s-run", "run"), ("k8s-delete", "delete")):
        assert targets[target].strip().endswith(f"$(SKAFFOLD) {command}"), (target, targets[target])
    assert "--from=cronjob/precompute" in targets["k8s-precompute"]
    assert "precompute-$$(date +%s)" in targets["k8s-precompute"]


def test_makefile_never_overwrites_or_embeds_secrets():
    """Secrets are created only when absent, from generated values, applied idempotently."""
    recipe = makefile_targets()["k8s-secrets"]
    generic = makefile_secrets()
    assert generic["movielens-operator"] == {"OPERATOR_USERNAME", "OPERATOR_PASSWORD"}
    secrets = len(generic) + 1  # and the TLS Secret of the prod Ingress (`create secret tls`)
    assert secrets == 7
    assert "create secret tls movielens-tls" in makefile_text().replace("$(K8S_TLS_SECRET)", "movielens-tls")
    assert recipe.count("--ignore-not-found") == secrets, "each Secret is checked for before it is created"
    assert recipe.count("--dry-run=client -o yaml") == secrets
    assert recipe.count("apply") >= secrets
    for literal in re.findall(r"--from-literal=(\w+)=(\S+)", recipe):
        key, value = literal
        if key in {"POSTGRES_PASSWORD", "SECRET_KEY", "REDIS_PASSWORD", "OPERATOR_PASSWORD", "DATABASE_OWNER_PASSWORD",
                   "DATABASE_APP_PASSWORD"}:
            assert value.startswith('"$$'), f"{key} must come from a generated value, got {value}"
    assert "openssl rand" in makefile_text() or "secrets.token" in makefile_text()


def test_makefile_parses_with_make():
    """make reads k8s.mk (tabs, continuations) and prints the recipes without running them."""
    make = shutil.which("make")
    assert make, "GNU make is not installed"
    result = subprocess.run(
        [make, "-n", "-f", str(K8S_MAKEFILE), "k8s-secrets", "k8s-db", "k8s-db-roles", "k8s-load", "k8s-dev", "k8s-precompute",
         "k8s-rotate-secret-key"],
        capture_output=True, text=True, check=False, cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    assert f"skaffold run --filename {SKAFFOLD_DB_FILE.name} --label skaffold.dev/run-id=" in result.stdout


def json_patch(document: dict, operations: list[dict]) -> dict:
    """Apply RFC 6902 `test` and `replace` operations (all the Makefile uses)."""
    patched = copy.deepcopy(document)
    for operation in operations:
        *parents, last = operation["path"].lstrip("/").split("/")
        node = patched
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        key = int(last) if isinstance(node, list) else last
        if operation["op"] == "test":
            assert node[key] == operation["value"], f"test failed at {operation['path']}"
        elif operation["op"] == "replace":
            node[key] = operation["value"]
        else:
            raise AssertionError(f"unexpected op {operation['op']}")
    return patched


def sharding_patch(shards: int, parallelism: int) -> list[dict]:
    recipe = makefile_targets()["k8s-precompute"]
    match = re.search(r"-p '(\[.*?\])'", recipe.replace("\\\n", " "))
    assert match, "k8s-precompute has no JSON patch"
    text = match.group(1).replace("$(SHARDS)", str(shards)).replace("$(PARALLELISM)", str(parallelism))
    return json.loads(text)


def test_sharding_patch_sets_completions_and_job_completions_together():
    """`make k8s-precompute SHARDS=4` gives a Job of 4 indexes with JOB_COMPLETIONS=4."""
    cronjob = find_object(rendered(PROD), "CronJob", "precompute")
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "precompute-1"},
           "spec": copy.deepcopy(cronjob["spec"]["jobTemplate"]["spec"])}
    patched = json_patch(job, sharding_patch(4, 2))
    assert patched["spec"]["completions"] == 4
    assert patched["spec"]["parallelism"] == 2
    main = patched["spec"]["template"]["spec"]["containers"][0]
    assert env_value(main, "JOB_COMPLETIONS")["value"] == "4"
    kubernetes_validate.validate(patched, KUBERNETES_VERSION, strict=True)


def test_sharding_patch_refuses_a_reordered_env():
    """If JOB_COMPLETIONS stops being env/0, the patch's test operation fails instead of patching another variable."""
    cronjob = copy.deepcopy(find_object(rendered(PROD), "CronJob", "precompute"))
    job = {"spec": cronjob["spec"]["jobTemplate"]["spec"]}
    job["spec"]["template"]["spec"]["containers"][0]["env"].reverse()
    with pytest.raises(AssertionError, match="test failed"):
        json_patch(job, sharding_patch(4, 4))


# --- edits the docs tell an operator to make -----------------------------------

# "set `FIELD: VALUE` in `k8s/...yaml`", wrapped over lines as prose is.
DOCUMENTED_EDIT = re.compile(r"[Ss]et\s+`(?P<field>[A-Za-z_][\w.]*):\s*(?P<value>[^`]+)`\s+in\s+`(?P<path>k8s/[^`]+\.yaml)`")
EDIT_DOCS = ("README.md", "docs/kubernetes.md", "k8s/README.md")


def documented_edits() -> list[tuple[str, str, str, str]]:
    """(doc, file, field, value) for each manifest edit the docs tell the reader to make."""
    return [(doc, m["path"], m["field"], m["value"].strip())
            for doc in EDIT_DOCS for m in DOCUMENTED_EDIT.finditer((REPO / doc).read_text(encoding="utf-8"))]


def apply_documented_edit(k8s_copy, path: str, field: str, value: str) -> None:
    """Set the first `FIELD:` line of the file in a copy of k8s/ to VALUE, as the reader would."""
    target = k8s_copy / path.removeprefix("k8s/")
    text, count = re.subn(rf"^(\s*){re.escape(field)}:[^\n]*$", rf"\g<1>{field}: {value}", target.read_text(), count=1,
                          flags=re.MULTILINE)
    assert count == 1, f"{path} has no `{field}:` line to set"
    target.write_text(text)


def test_every_documented_manifest_edit_reaches_the_cluster(tmp_path):
    """Each "set `FIELD: VALUE` in `k8s/...`" of the docs, made in a copy of k8s/, changes what both overlays deploy
    (an edit kustomize overrides, e.g. the CronJob's `suspend`, which the overlays copy from the ConfigMap, would do
    nothing), and the rendered objects carry the value."""
    edits = documented_edits()
    assert {doc for doc, *_ in edits} >= {"README.md", "docs/kubernetes.md"}, edits
    for doc, path, field, value in edits:
        k8s_copy = tmp_path / f"{len(list(tmp_path.iterdir()))}" / "k8s"
        shutil.copytree(K8S_DIR, k8s_copy)
        apply_documented_edit(k8s_copy, path, field, value)
        wanted = yaml.safe_load(f"{field}: {value}")[field]
        for overlay in (PROD, DEV):
            edited = render_kustomization(k8s_copy / KUSTOMIZATIONS[overlay].relative_to(K8S_DIR))
            assert edited != rendered(overlay), f"{doc}: setting `{field}: {value}` in {path} changes nothing in {overlay}"
            changed = [o for o in edited if o not in rendered(overlay)]
            assert any(found == wanted for o in changed for found in field_values(o, field)), (
                f"{doc}: setting `{field}: {value}` in {path}: no object {overlay} renders has it")


def field_values(node, field: str) -> list:
    """Every value of a key named `field` anywhere in a rendered object."""
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == field] + [x for v in node.values() for x in field_values(v, field)]
    if isinstance(node, list):
        return [x for v in node for x in field_values(v, field)]
    return []


# --- what a newcomer installs ----------------------------------------------------

# The k8s.mk variables that name a program on the operator's machine (K8S is kubectl with the namespace).
PROGRAM_VARIABLES = ("MINIKUBE", "KUBECTL", "K8S", "SKAFFOLD", "PYTHON")


def programs_run_by_the_cluster_targets() -> set[str]:
    """The programs the k8s-* targets run on the operator's machine, by the names they are installed under."""
    text = makefile_text()
    variables = makefile_variables(text)
    recipes = " ".join(recipe for name, recipe in makefile_targets().items() if name.startswith("k8s-"))
    programs = set()
    for name in set(re.findall(r"\$\(([A-Z0-9_]+)\)", recipes)) & set(PROGRAM_VARIABLES):
        value = variables["KUBECTL"] if name == "K8S" else variables[name]
        programs.add(value.split()[0])
    programs |= {word for word in ("openssl",) if re.search(rf"^\t.*\b{word}\b", K8S_MAKEFILE.read_text(), re.MULTILINE)}
    return programs


def prerequisite_texts() -> dict[str, str]:
    """Where a newcomer reads what to install: the quick start and section 1 of docs/kubernetes.md, the README's
    cluster section."""
    docs = (REPO / "docs" / "kubernetes.md").read_text(encoding="utf-8")
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    return {
        "docs/kubernetes.md quick start": re.search(r"^With minikube.*?installed:", docs, re.MULTILINE | re.DOTALL).group(0),
        "docs/kubernetes.md 1. Prerequisites": re.search(r"^## 1\. Prerequisites\n(.*?)^## ", docs, re.MULTILINE | re.DOTALL).group(1),
        "README.md": re.search(r"^## On a cluster.*?\n\n(.*?)\n\n", readme, re.MULTILINE | re.DOTALL).group(1),
    }


def test_the_prerequisites_name_every_program_the_make_targets_run():
    """minikube, kubectl, skaffold, openssl and python3 (k8s-db-roles prints the roles' SQL with it, before any
    virtualenv exists) are each named wherever the docs say what to install."""
    programs = programs_run_by_the_cluster_targets()
    assert {"minikube", "kubectl", "skaffold", "python3", "openssl"} <= programs, programs
    for where, text in prerequisite_texts().items():
        missing = sorted(p for p in programs if p.lower() not in text.lower())
        assert not missing, f"{where} does not name {missing}:\n{text}"
