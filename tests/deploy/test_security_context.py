"""Every container of every rendered kustomization (init containers and the dev overlay too) runs locked down, and
no credential sits in a ConfigMap, an env value or an image's build context."""

from __future__ import annotations

import copy
import re

import pytest

from .manifests import (
    REPO,
    containers,
    copy_sources,
    dockerignore_excludes,
    pod_spec,
    read_dockerignore,
    rendered,
)

OBJECTS = rendered("db") + rendered("prod") + rendered("dev")
WORKLOADS = [obj for obj in OBJECTS if pod_spec(obj) is not None]
PASSWORD_WORDS = re.compile(r"pass(word)?|secret|token|credential|api[_-]?key", re.IGNORECASE)
URL_WITH_PASSWORD = re.compile(r"://[^/\s:@]*:(?P<password>[^@\s]+)@")


def container_problems(obj: dict) -> list[str]:
    """What each container's effective security context lacks (the container's setting wins over the pod's)."""
    spec = pod_spec(obj)
    pod_context = spec.get("securityContext", {})
    problems = []
    for item in containers(spec, init=True):
        where = f"{obj['kind']}/{obj['metadata']['name']} container {item['name']}"
        context = item.get("securityContext", {})
        if context.get("runAsNonRoot", pod_context.get("runAsNonRoot")) is not True:
            problems.append(f"{where}: runAsNonRoot is not true")
        if context.get("runAsUser", pod_context.get("runAsUser")) == 0:
            problems.append(f"{where}: runs as uid 0")
        if context.get("readOnlyRootFilesystem") is not True:
            problems.append(f"{where}: readOnlyRootFilesystem is not true")
        if context.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{where}: allowPrivilegeEscalation is not false")
        if "ALL" not in context.get("capabilities", {}).get("drop", []):
            problems.append(f"{where}: capabilities do not drop ALL")
    return problems


def test_every_workload_was_found():
    """The renderings hold eight workloads (Postgres, Redis; web, worker and job of each overlay)."""
    names = sorted(f"{o['kind']}/{o['metadata']['name']}" for o in WORKLOADS)
    assert len(names) == 8, names
    assert any(pod_spec(o).get("initContainers") for o in WORKLOADS), "the web Deployment's migrate init container"


@pytest.mark.parametrize("obj", WORKLOADS, ids=lambda o: f"{o['metadata']['name']}-{o['kind']}")
def test_every_container_is_non_root_read_only_and_without_privileges(obj):
    """runAsNonRoot, readOnlyRootFilesystem, allowPrivilegeEscalation false and drop ALL hold for every container."""
    assert container_problems(obj) == []


@pytest.mark.parametrize(
    ("breakage", "expected"),
    [
        (lambda c, pod: c["securityContext"].update(runAsNonRoot=False), "runAsNonRoot is not true"),
        (lambda c, pod: c["securityContext"].pop("readOnlyRootFilesystem"), "readOnlyRootFilesystem is not true"),
        (lambda c, pod: c["securityContext"].update(allowPrivilegeEscalation=True), "allowPrivilegeEscalation"),
        (lambda c, pod: c["securityContext"]["capabilities"].update(drop=["NET_RAW"]), "drop ALL"),
        (lambda c, pod: pod.pop("runAsNonRoot"), "runAsNonRoot is not true"),
    ],
    ids=["container-root", "writable-root", "escalation", "capabilities", "pod-root"],
)
def test_the_check_catches_a_weakened_init_container(breakage, expected):
    """Weakening the web Deployment's init container (or the pod default it inherits) is reported."""
    web = copy.deepcopy(next(o for o in WORKLOADS if o["kind"] == "Deployment" and pod_spec(o).get("initContainers")))
    spec = pod_spec(web)
    breakage(spec["initContainers"][0], spec.setdefault("securityContext", {}))
    assert any(expected in p for p in container_problems(web)), container_problems(web)


def literal_credentials(objects: list[dict]) -> list[str]:
    """Credentials written into manifests: a password-like ConfigMap key, env value, or a URL with a literal password."""
    found = []
    for obj in objects:
        name = f"{obj['kind']}/{obj['metadata']['name']}"
        if obj["kind"] == "ConfigMap":
            for key, value in (obj.get("data") or {}).items():
                match = URL_WITH_PASSWORD.search(str(value))
                if PASSWORD_WORDS.search(key) or (match and not match["password"].startswith("$(")):
                    found.append(f"{name}: data.{key}")
        spec = pod_spec(obj)
        for item in containers(spec, init=True) if spec else []:
            for env in item.get("env", []):
                if "value" not in env:
                    continue
                match = URL_WITH_PASSWORD.search(env["value"])
                if PASSWORD_WORDS.search(env["name"]) or (match and not match["password"].startswith("$(")):
                    found.append(f"{name} container {item['name']}: env {env['name']}")
    return found


def test_credentials_come_from_secrets_only():
    """No ConfigMap or env value holds a password; DATABASE_URL only refers to a role's password variable from a Secret."""
    assert literal_credentials(OBJECTS) == []
    for obj in WORKLOADS:
        for item in containers(pod_spec(obj), init=True):
            env = {e["name"]: e for e in item.get("env", [])}
            for secret_name in ("POSTGRES_PASSWORD", "DATABASE_OWNER_PASSWORD", "DATABASE_APP_PASSWORD", "SECRET_KEY"):
                if secret_name in env:
                    assert "secretKeyRef" in env[secret_name].get("valueFrom", {}), f"{item['name']}: {secret_name}"


def test_the_credential_check_catches_a_literal_password():
    """A literal password in a ConfigMap or in DATABASE_URL is reported."""
    config = {"kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"DATABASE_URL": "postgres://u:hunter2@db/x"}}
    job = copy.deepcopy(next(o for o in WORKLOADS if o["kind"] == "CronJob"))
    containers(pod_spec(job))[0]["env"].append({"name": "POSTGRES_PASSWORD", "value": "hunter2"})
    assert len(literal_credentials([config, job])) == 2


@pytest.mark.parametrize("dockerfile", ["Dockerfile", "Dockerfile.job"])
def test_images_copy_no_env_files_or_local_state(dockerfile):
    """The Dockerfiles COPY only code folders and requirements, never .env, .local, .venv or .git."""
    sources = copy_sources(REPO / dockerfile)
    assert sources
    for source in sources:
        first = source.removeprefix("./").strip("/").split("/", 1)[0]
        assert first and first not in {".", ".local", ".venv", ".git"} and not first.startswith(".env"), source


def test_dockerignore_keeps_local_state_out_of_the_build_context():
    """.dockerignore leaves .local (embedded databases), .venv, .git and .env files out of the build context."""
    patterns = read_dockerignore(REPO / ".dockerignore")
    for private in (".local", ".local/services", ".venv", ".git", ".env", "web/.env"):
        assert dockerignore_excludes(patterns, private), private
    assert not dockerignore_excludes(patterns, "web"), "the check must tell an allowed path from an ignored one"
