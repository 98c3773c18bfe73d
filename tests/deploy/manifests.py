"""What the tests of tests/deploy share: where things are, the contract commands, the rendered overlays, and small
readers for YAML, Dockerfiles, k8s/k8s.mk and skaffold.yaml.

The manifests are checked as Kubernetes receives them: each kustomization (the dev and prod overlays, the database
module, the cluster-scoped objects) rendered by ``kubectl kustomize``, which needs no cluster.
"""

from __future__ import annotations

import copy
import functools
import json
import re
import shlex
import shutil
import subprocess
import sys
from fnmatch import fnmatch
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
K8S_DIR = REPO / "k8s"
NAMESPACE = "movielens"
# Every kustomization under k8s/ that is deployed as it is, by name: the two overlays of the app module, the
# database module and the cluster-scoped objects (`make check-k8s` renders the same list, K8S_KUSTOMIZATIONS).
KUSTOMIZATIONS = {
    "dev": K8S_DIR / "overlays" / "dev",
    "prod": K8S_DIR / "overlays" / "prod",
    "db": K8S_DIR / "db",
    "cluster": K8S_DIR / "cluster",
}
MONITORING_KUSTOMIZATION = K8S_DIR / "overlays" / "monitoring"
"""Optional: prod plus the Prometheus Operator's objects and the Grafana dashboard (tests/deploy/test_monitoring.py)."""
MONITORING_CRD_GROUP = "monitoring.coreos.com"
"""API group of the Prometheus Operator's kinds, for which kubernetes-validate has no schema."""
KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"
K8S_MAKEFILE = K8S_DIR / "k8s.mk"
SKAFFOLD_FILE = REPO / "skaffold.yaml"
"""The app's config: what `skaffold dev`, `run` and `delete` read in the checkout."""
SKAFFOLD_DB_FILE = REPO / "skaffold-db.yaml"
"""The database's config, named only by `make k8s-db` (-f), so no bare Skaffold command selects it."""
# CI clones the repository beside a copy of shared/, so the schema is found
# relative to the clone, not to the current directory.
SKAFFOLD_SCHEMA = REPO / ".." / "shared" / "schemas" / "skaffold-v4beta14.json"
SKAFFOLD_API_VERSION = "skaffold/v4beta14"

# The Kubernetes versions the manifests are validated against (strict
# schemas shipped by kubernetes-validate): the newest release it knows, and
# the oldest the manifests support: 1.33, where backoffLimitPerIndex (the
# per-shard retries of the precompute Job) became GA. `make check-k8s` runs
# the CLI against the same two (K8S_VALIDATE_VERSIONS in k8s/k8s.mk).
KUBERNETES_VERSION = "1.37.0"
OLDEST_KUBERNETES_VERSION = "1.33.0"
KUBERNETES_VERSIONS = (OLDEST_KUBERNETES_VERSION, KUBERNETES_VERSION)

WEB_IMAGE = "movielens-web"
JOB_IMAGE = "movielens-job"

# The container commands of the contract (web.serve, manage.py, jobs.precompute).
WEB_COMMAND = ["python", "-m", "web.serve", "--bind", "0.0.0.0:8000", "--workers", "2", "--threads", "2", "--graceful-timeout", "20"]
"""The web server (granian serving web.wsgi, web/serve.py): the web Deployment's command and the web image's CMD."""
MIGRATE_COMMAND = ["python", "manage.py", "migrate", "--noinput"]
"""What the migrate init container runs, inside `python -c` (with a wait for the database and a lock around it)."""
MIGRATE_LOCK = "pg_advisory_lock"
WORKER_COMMAND = ["python", "manage.py", "rqworker"]
JOB_COMMAND = ["python", "-m", "jobs.precompute"]
WEB_PORT = 8000

DB_SECRET = "movielens-db"
"""The superuser's credentials: read by the Postgres pod only."""
DB_OWNER_SECRET = "movielens-db-owner"
"""The owner role's password (web/dbroles/roles.py): migrations and the precompute job."""
DB_APP_SECRET = "movielens-db-app"
"""The data-only app role's password: web and worker."""
APP_SECRET = "movielens-app"
REDIS_SECRET = "movielens-redis"
CONFIGMAP = "movielens-config"

# Kinds whose pod template this package knows how to find.
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod"}


def find_tool(name: str) -> str | None:
    """Return the path of a console script installed beside this Python, else on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    return shutil.which(name)


# --- YAML and kustomize -------------------------------------------------------


def render_kustomization(path: Path) -> list[dict]:
    """The objects ``kubectl kustomize PATH`` renders, in its order; AssertionError with kubectl's message if it fails."""
    result = subprocess.run([KUBECTL, "kustomize", str(path)], capture_output=True, text=True, check=False, timeout=120)
    assert result.returncode == 0, f"kubectl kustomize {path} failed:\n{result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc is not None]


@functools.cache
def _rendered(name: str) -> tuple[dict, ...]:
    return tuple(render_kustomization(KUSTOMIZATIONS[name]))


def rendered(name: str) -> list[dict]:
    """A fresh copy of the objects of one kustomization of KUSTOMIZATIONS (tests may change what they get)."""
    return copy.deepcopy(list(_rendered(name)))


def deployed_objects() -> list[dict]:
    """Everything a production cluster gets: the cluster objects, the database module and the prod overlay."""
    return rendered("cluster") + rendered("db") + rendered("prod")



def load_yaml_documents(path: Path) -> list[dict]:
    """Return the non-empty documents of a YAML file, in order."""
    with open(path, encoding="utf-8") as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc is not None]


def find_object(objects: list[dict], kind: str, name: str) -> dict | None:
    """Return the object of this kind and name, or None."""
    for obj in objects:
        if obj.get("kind") == kind and obj.get("metadata", {}).get("name") == name:
            return obj
    return None


def pod_template(obj: dict) -> dict | None:
    """Return the pod template ({metadata, spec}) of a workload, else None."""
    kind = obj.get("kind")
    if kind == "Pod":
        return obj
    if kind == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]
    if kind in WORKLOAD_KINDS:
        return obj["spec"]["template"]
    return None


def pod_spec(obj: dict) -> dict | None:
    """Return the pod spec of a workload, else None."""
    template = pod_template(obj)
    return None if template is None else template["spec"]


def containers(spec: dict, *, init: bool = True) -> list[dict]:
    """Return the containers of a pod spec, init containers first if asked."""
    found = list(spec.get("initContainers", [])) if init else []
    return found + list(spec.get("containers", []))


def container(spec: dict, name: str) -> dict:
    """Return the (init) container of this name; KeyError if there is none."""
    for item in containers(spec):
        if item["name"] == name:
            return item
    raise KeyError(f"no container {name!r}; have {[c['name'] for c in containers(spec)]}")


def full_command(item: dict) -> list[str]:
    """Return a container's command followed by its args."""
    return list(item.get("command", [])) + list(item.get("args", []))


def env_value(item: dict, name: str) -> dict | None:
    """Return the env entry of this name in a container, or None."""
    for entry in item.get("env", []):
        if entry["name"] == name:
            return entry
    return None


# --- Dockerfiles -------------------------------------------------------------


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """Return (INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        pending += line
        keyword, _, rest = pending.strip().partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
        pending = ""
    if pending.strip():
        keyword, _, rest = pending.strip().partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
    return instructions


def dockerfile_stages(path: Path) -> list[dict]:
    """Split a Dockerfile into stages: {'from': image, 'name': alias, 'instructions': [...]}."""
    stages: list[dict] = []
    for keyword, rest in dockerfile_instructions(path):
        if keyword == "FROM":
            words = [w for w in rest.split() if not w.startswith("--")]
            name = words[2] if len(words) >= 3 and words[1].lower() == "as" else None
            stages.append({"from": words[0], "name": name, "instructions": []})
        elif stages:
            stages[-1]["instructions"].append((keyword, rest))
    return stages


def exec_form(arguments: str) -> list[str] | None:
    """Parse a JSON-array (exec form) CMD/ENTRYPOINT argument, else None."""
    try:
        value = json.loads(arguments)
    except ValueError:
        return None
    return value if isinstance(value, list) else None


def copy_sources(path: Path) -> list[str]:
    """Return the build-context paths a Dockerfile COPYs (not --from other stages)."""
    sources: list[str] = []
    for keyword, rest in dockerfile_instructions(path):
        if keyword not in {"COPY", "ADD"}:
            continue
        words = shlex.split(rest)
        if any(w.startswith("--from") for w in words):
            continue
        words = [w for w in words if not w.startswith("--")]
        sources.extend(words[:-1])
    return sources


def dockerignore_excludes(patterns: list[str], relpath: str) -> bool:
    """Tell whether .dockerignore patterns exclude a top-level context path.

    Last match wins and `!` re-includes, as in Docker; this reader handles the
    plain names and `*` wildcards that the allow-list in .dockerignore uses.
    """
    relpath = relpath.strip("/").removeprefix("./")
    excluded = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        body = pattern[1:] if negate else pattern
        body = body.strip("/").removeprefix("./")
        if fnmatch(relpath, body) or relpath.startswith(body + "/"):
            excluded = not negate
    return excluded


def read_dockerignore(path: Path) -> list[str]:
    """Return the patterns of a .dockerignore file, comments and blanks dropped."""
    if not path.exists():
        return []
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


# --- k8s/k8s.mk --------------------------------------------------------------


def makefile_text(path: Path = K8S_MAKEFILE) -> str:
    """Return the Makefile with backslash-continued lines joined."""
    return re.sub(r"\\\n\s*", " ", path.read_text(encoding="utf-8"))


def makefile_variables(text: str) -> dict[str, str]:
    """Return the simple `NAME := value` / `NAME ?= value` assignments."""
    found = {}
    for match in re.finditer(r"^([A-Z0-9_]+)\s*[:?]?=\s*(.*?)\s*$", text, re.MULTILINE):
        found.setdefault(match.group(1), match.group(2))
    return found


def expand_make(text: str, variables: dict[str, str]) -> str:
    """Expand $(NAME) references to simple variables (one level is enough here)."""
    return re.sub(r"\$\(([A-Z0-9_]+)\)", lambda m: variables.get(m.group(1), m.group(0)), text)


def makefile_secrets(path: Path = K8S_MAKEFILE) -> dict[str, set[str]]:
    """Return {secret name: keys} for each `kubectl create secret generic` in k8s.mk."""
    text = makefile_text(path)
    text = expand_make(text, makefile_variables(text))
    secrets: dict[str, set[str]] = {}
    for match in re.finditer(r"create secret generic (\S+)(.*?)(?:--dry-run|$)", text, re.MULTILINE):
        keys = set(re.findall(r"--from-literal=([A-Za-z_][A-Za-z0-9_]*)=", match.group(2)))
        secrets.setdefault(match.group(1), set()).update(keys)
    return secrets


def makefile_targets(path: Path = K8S_MAKEFILE) -> dict[str, str]:
    """Return {target: recipe text} for the explicit targets of a Makefile."""
    targets: dict[str, str] = {}
    current = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("\t") and current:
            targets[current] += line[1:] + "\n"
            continue
        match = re.match(r"^([A-Za-z0-9_.-]+)\s*:(?!=)", line)
        if match and not line.startswith("."):
            current = match.group(1)
            targets[current] = ""
        elif line and not line.startswith("#"):
            current = None
    return targets


# --- skaffold.yaml -----------------------------------------------------------


def skaffold_configs(path: Path = SKAFFOLD_FILE) -> list[dict]:
    """Return the config documents of a Skaffold file (skaffold.yaml unless told)."""
    return load_yaml_documents(path)


def overlay(base, patch):
    """Apply a Skaffold profile field to a config field: maps merge, the rest replaces."""
    if isinstance(base, dict) and isinstance(patch, dict):
        merged = dict(base)
        for key, value in patch.items():
            merged[key] = overlay(base.get(key), value) if key in base else value
        return merged
    return patch


def with_profile(config: dict, profile: dict) -> dict:
    """Return the config as Skaffold sees it with this profile active."""
    effective = {k: v for k, v in config.items() if k != "profiles"}
    for key, value in profile.items():
        if key in {"name", "activation", "requiresAllActivations", "patches"}:
            continue
        effective[key] = overlay(effective.get(key), value) if key in effective else value
    return effective


def effective_configs(config: dict) -> list[tuple[str, dict]]:
    """Return (label, config) for the config alone and with each of its profiles."""
    name = config.get("metadata", {}).get("name", "?")
    variants = [(name, {k: v for k, v in config.items() if k != "profiles"})]
    for profile in config.get("profiles", []):
        variants.append((f"{name}[{profile['name']}]", with_profile(config, profile)))
    return variants
