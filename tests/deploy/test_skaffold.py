"""skaffold.yaml and skaffold-db.yaml: valid against the v4beta14 schema and true to the repository.

skaffold.yaml holds the config `app`, skaffold-db.yaml the config `db` (the
database, apart, so that no bare `skaffold dev` selects it). Each config is
validated on its own against ../shared/schemas/skaffold-v4beta14.json, then
checked against what it names: manifests, Dockerfiles, images, sync
destinations and the forwarded port, with each profile applied as Skaffold
would apply it.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess

import jsonschema
import pytest

from .manifests import (
    KUSTOMIZATIONS,
    NAMESPACE,
    REPO,
    SKAFFOLD_API_VERSION,
    SKAFFOLD_DB_FILE,
    SKAFFOLD_FILE,
    SKAFFOLD_SCHEMA,
    WEB_PORT,
    containers,
    dockerfile_stages,
    effective_configs,
    full_command,
    pod_spec,
    render_kustomization,
    rendered,
    skaffold_configs,
)

MODULES = {"db", "app"}
# The file each config lives in: `skaffold dev`/`run`/`delete` in the checkout read skaffold.yaml only.
MODULE_FILES = {"db": SKAFFOLD_DB_FILE, "app": SKAFFOLD_FILE}
# The kustomizations each module (with any of its profiles) may deploy.
MODULE_KUSTOMIZATIONS = {"db": {"k8s/db"}, "app": {"k8s/overlays/prod", "k8s/overlays/dev"}}


def schema_validator() -> jsonschema.protocols.Validator:
    path = SKAFFOLD_SCHEMA.resolve()
    if not path.exists():
        pytest.fail(f"Skaffold schema not found at {path}: the repository expects ../shared beside it")
    schema = json.loads(path.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def schema_errors(document: dict) -> list[str]:
    return [
        f"{'/'.join(map(str, error.absolute_path)) or '<root>'}: {error.message[:300]}"
        for error in schema_validator().iter_errors(document)
    ]


def configs_by_name(configs: list[dict]) -> dict[str, dict]:
    return {c.get("metadata", {}).get("name"): c for c in configs}


def artifacts(config: dict) -> list[dict]:
    return config.get("build", {}).get("artifacts", [])


def kustomize_paths(config: dict) -> list[str]:
    return config.get("manifests", {}).get("kustomize", {}).get("paths", [])


def objects_of(entry: str, repo=REPO) -> list[dict]:
    """The rendered objects of a kustomization named in skaffold.yaml (from the cache when it is one of ours)."""
    for name, path in KUSTOMIZATIONS.items():
        if (repo / entry).resolve() == path.resolve():
            return rendered(name)
    return render_kustomization(repo / entry)


def final_workdir(dockerfile) -> str | None:
    """The WORKDIR in force at the end of the last stage (what `sync` writes next to)."""
    workdir = None
    for stage in dockerfile_stages(dockerfile):
        workdir = next((rest for key, rest in reversed(stage["instructions"]) if key == "WORKDIR"), workdir)
    return workdir


def consistency_problems(configs: list[dict], repo=REPO) -> list[str]:
    """List everything in skaffold.yaml that does not match the repository."""
    problems = []
    by_name = configs_by_name(configs)
    if set(by_name) != MODULES or len(configs) != len(MODULES):
        problems.append(f"modules are {sorted(map(str, by_name))}, expected {sorted(MODULES)} once each")
    app = by_name.get("app", {})
    for where in [app, *app.get("profiles", [])]:
        if where.get("requires"):
            problems.append("the app module must not `require` another (it would deploy and delete db)")
    for config in configs:
        for label, effective in effective_configs(config):
            problems += module_problems(label, effective, repo)
    return problems


def module_problems(label: str, config: dict, repo) -> list[str]:
    """Problems of one module with one set of profiles applied."""
    problems = []
    paths = kustomize_paths(config)
    if not paths or config.get("manifests", {}).get("rawYaml"):
        problems.append(f"{label}: manifests must be kustomize paths only")
    objects = []
    for entry in paths:
        if not (repo / entry / "kustomization.yaml").is_file():
            problems.append(f"{label}: kustomization {entry} does not exist")
            continue
        objects += objects_of(entry, repo)
    images_used = {c["image"] for obj in objects if pod_spec(obj) for c in containers(pod_spec(obj))}

    for artifact in artifacts(config):
        image = artifact["image"]
        context = repo / artifact.get("context", ".")
        dockerfile = context / artifact.get("docker", {}).get("dockerfile", "Dockerfile")
        if not dockerfile.is_file():
            problems.append(f"{label}: {image} builds from missing {dockerfile.relative_to(repo)}")
            continue
        if image not in images_used:
            problems.append(f"{label}: builds {image} but no container in its manifests runs it")
        target = artifact.get("docker", {}).get("target")
        stages = dockerfile_stages(dockerfile)
        if target and target not in {s["name"] for s in stages}:
            problems.append(f"{label}: {image} targets stage {target!r}, which {dockerfile.name} lacks")
        workdir = final_workdir(dockerfile)
        for rule in artifact.get("sync", {}).get("manual", []):
            if rule["dest"].rstrip("/") != (workdir or "").rstrip("/"):
                problems.append(f"{label}: sync {rule['src']} -> {rule['dest']}, but {dockerfile.name} WORKDIR is {workdir}")
    built = {a["image"] for a in artifacts(config)}
    for image in sorted(i for i in images_used if i.startswith("movielens-") and i not in built):
        problems.append(f"{label}: manifests run {image}, which this module does not build (its tag would never be set)")

    services = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Service"}
    for forward in config.get("portForward", []):
        if forward.get("resourceType", "").lower() != "service":
            continue
        service = services.get(forward.get("resourceName"))
        if service is None:
            problems.append(f"{label}: port-forward of service {forward.get('resourceName')}, not in its manifests")
        elif forward.get("port") not in {p["port"] for p in service["spec"]["ports"]} | {
            p.get("name") for p in service["spec"]["ports"]
        }:
            problems.append(f"{label}: port-forward port {forward.get('port')} is not a port of service {service['metadata']['name']}")
    return problems


def selected_by_a_bare_command(configs: list[dict], repo=REPO) -> list[tuple[str, dict]]:
    """(label, config) for what `skaffold dev`, `run` or `delete` without -m/-f selects in the checkout: every config
    of skaffold.yaml and every config they `require` (same file or another), each alone and with each profile."""
    selected, queue, seen = [], [(config, repo) for config in configs], set()
    while queue:
        config, folder = queue.pop(0)
        key = (str(folder), config.get("metadata", {}).get("name"))
        if key in seen:
            continue
        seen.add(key)
        selected += effective_configs(config)
        for required in config.get("requires", []):
            path = folder / required["path"] if required.get("path") else None
            if path is not None and path.is_dir():
                path = path / "skaffold.yaml"
            pool = skaffold_configs(path) if path is not None else configs
            names = set(required.get("configs") or [c.get("metadata", {}).get("name") for c in pool])
            queue += [(c, path.parent if path else folder) for c in pool if c.get("metadata", {}).get("name") in names]
    return selected


@pytest.fixture(scope="module")
def configs() -> list[dict]:
    """Both configs, db then app."""
    return skaffold_configs(SKAFFOLD_DB_FILE) + skaffold_configs(SKAFFOLD_FILE)


# --- schema ------------------------------------------------------------------


def test_each_file_holds_its_one_named_config():
    """skaffold.yaml holds the app config alone, skaffold-db.yaml the db config alone, each skaffold/v4beta14."""
    for name, path in MODULE_FILES.items():
        (config,) = skaffold_configs(path)
        assert config["metadata"]["name"] == name, path.name
        assert config["apiVersion"] == SKAFFOLD_API_VERSION
        assert config["kind"] == "Config"


def test_each_config_validates_against_the_schema(configs):
    """Each document passes the v4beta14 JSON schema (which describes one config)."""
    for config in configs:
        assert schema_errors(config) == [], config["metadata"]["name"]


@pytest.mark.parametrize(
    "breakage",
    [
        pytest.param(lambda c: c["deploy"]["kubectl"].update(manifests=["k8s/app/*.yaml"]), id="v1-style-kubectl-manifests"),
        pytest.param(lambda c: c.update(portForward=[{"resourceType": "service", "port": [8000]}]), id="port-as-list"),
        pytest.param(lambda c: c["build"]["artifacts"][0].update(dockerfile="Dockerfile"), id="dockerfile-outside-docker"),
        pytest.param(lambda c: c["profiles"][0]["activation"][0].update(command=["dev"]), id="activation-command-list"),
    ],
)
def test_schema_rejects_a_broken_config(configs, breakage):
    """The schema check fails for a misplaced or mistyped field in a copy of the app config."""
    broken = copy.deepcopy(configs_by_name(configs)["app"])
    breakage(broken)
    assert schema_errors(broken)


# --- consistency with the repository ----------------------------------------


def test_everything_named_exists_and_matches(configs):
    """Manifests, Dockerfiles, images, sync destinations and the forwarded port all exist and agree."""
    assert consistency_problems(configs) == []


@pytest.mark.parametrize(
    "breakage, expected",
    [
        (lambda c: c[1]["manifests"]["kustomize"]["paths"].append("k8s/overlays/missing"), "does not exist"),
        (lambda c: c[1]["manifests"].update(rawYaml=["k8s/app/web-deployment.yaml"]), "kustomize paths only"),
        (lambda c: c[1].update(requires=[{"configs": ["db"]}]), "must not `require`"),
        (lambda c: c[1]["portForward"][0].update(port=8080), "not a port of service web"),
        (lambda c: c[1]["build"]["artifacts"][0].update(image="movielens-site"), "no container"),
        (lambda c: c[1]["build"]["artifacts"][1]["docker"].update(dockerfile="Dockerfile.jobs"), "missing"),
        (lambda c: c[1]["profiles"][0]["build"]["artifacts"][0]["sync"]["manual"][0].update(dest="/srv"), "WORKDIR"),
        (lambda c: c[1]["profiles"][0]["build"]["artifacts"][0]["docker"].update(target="dev"), "lacks"),
        (lambda c: c[1]["build"]["artifacts"].pop(1), "does not build"),
        (lambda c: c.pop(0), "expected"),
    ],
)
def test_consistency_check_catches_mismatches(configs, breakage, expected):
    """Each kind of mismatch between skaffold.yaml and the repository is reported."""
    broken = copy.deepcopy(configs)
    breakage(broken)
    problems = consistency_problems(broken)
    assert any(expected in p for p in problems), problems


def test_modules_deploy_their_own_kustomizations_only(configs):
    """db deploys k8s/db; app deploys the prod overlay, and the dev overlay in its dev profile; nothing else."""
    for config in configs:
        name = config["metadata"]["name"]
        for label, effective in effective_configs(config):
            assert set(kustomize_paths(effective)) <= MODULE_KUSTOMIZATIONS[name], label
    app = configs_by_name(configs)["app"]
    assert kustomize_paths(app) == ["k8s/overlays/prod"]
    assert kustomize_paths(dict(effective_configs(app))["app[dev]"]) == ["k8s/overlays/dev"]


def test_db_module_builds_nothing_and_holds_the_statefulset(configs):
    """db deploys Postgres (StatefulSet) and Redis and has no build and no profile; no module deploys a Namespace."""
    db = configs_by_name(configs)["db"]
    assert not artifacts(db)
    assert not db.get("profiles")
    kinds = {(o["kind"], o["metadata"]["name"]) for p in kustomize_paths(db) for o in objects_of(p)}
    assert ("StatefulSet", "postgres") in kinds and ("Deployment", "redis") in kinds
    for config in configs:
        for label, effective in effective_configs(config):
            assert not [o for p in kustomize_paths(effective) for o in objects_of(p) if o["kind"] == "Namespace"], label


def test_app_module_builds_both_images_and_forwards_the_web_port(configs):
    """app builds movielens-web and movielens-job and forwards service web:8000 in the namespace to localhost:8000."""
    app = configs_by_name(configs)["app"]
    assert [(a["image"], a.get("docker", {}).get("dockerfile", "Dockerfile")) for a in artifacts(app)] == [
        ("movielens-web", "Dockerfile"), ("movielens-job", "Dockerfile.job"),
    ]
    assert app["portForward"] == [
        {"resourceType": "service", "resourceName": "web", "namespace": NAMESPACE, "port": WEB_PORT,
         "address": "127.0.0.1", "localPort": WEB_PORT}
    ]


def test_status_check_tolerates_failures_until_the_deadline(configs):
    """`skaffold dev`/`run` of app does not give up at the first restart of `migrate` while Postgres starts."""
    app = configs_by_name(configs)["app"]
    for label, effective in effective_configs(app):
        assert effective["deploy"].get("tolerateFailuresUntilDeadline") is True, label
        assert effective["deploy"].get("statusCheckDeadlineSeconds", 0) >= 300, label


def test_dev_profile_syncs_code_reloads_the_web_server_and_rebuilds_the_job_image(configs):
    """The dev profile syncs Python, templates and static files, HUPs the web server, never kills a PID 1, and builds
    movielens-job too (so runs started in the dev loop use the current code)."""
    app = configs_by_name(configs)["app"]
    profiles = {p["name"]: p for p in app["profiles"]}
    dev = profiles["dev"]
    assert dev["activation"] == [{"command": "dev"}]
    web, job = artifacts(dev)
    assert web["image"] == "movielens-web" and job["image"] == "movielens-job"
    assert "sync" not in job, "the job image is rebuilt, not synced: its pods start from the image"
    assert "target" not in web.get("docker", {}), "dev runs the production image"
    assert web["docker"]["buildArgs"] == {"DEV_LOOP": "1"}, "watchfiles for the worker"
    sources = {rule["src"] for rule in web["sync"]["manual"]}
    assert "**/*.py" in sources
    assert any("templates" in s for s in sources) and any("static" in s for s in sources)
    (hook,) = web["sync"]["hooks"]["after"]
    script = " ".join(hook["container"]["command"])
    assert "kill -HUP 1" in script and "collectstatic" in script
    assert "TERM" not in script and "KILL" not in script, "a sync must never end a container"


def test_sync_hook_finds_the_web_container_by_its_command_line(configs):
    """The hook's test of /proc/1/cmdline is true of the dev web container's command and of no other container of
    movielens-web that a sync reaches (the worker), so it HUPs the web server and never the worker's PID 1."""
    app = configs_by_name(configs)["app"]
    (hook,) = artifacts(app["profiles"][0])[0]["sync"]["hooks"]["after"]
    script = hook["container"]["command"][2]
    found = re.search(r"grep -qF (\S+) /proc/1/cmdline", script)
    assert found, f"the hook no longer tells the web container by a fixed string in /proc/1/cmdline: {script}"
    word = found.group(1)
    dev = rendered("dev")
    commands = {(obj["metadata"]["name"], item["name"]): "\0".join(full_command(item))
                for obj in dev if pod_spec(obj) for item in containers(pod_spec(obj), init=False)
                if item["image"] == "movielens-web"}
    assert word in commands.pop(("web", "web")), f"{word!r} is not in the web container's command line"
    assert commands, "the worker runs movielens-web too"
    assert not [name for name, cmdline in commands.items() if word in cmdline], f"{word!r} matches another container too"


def test_sync_hook_script_is_valid_shell(configs):
    """The after-sync hook parses as POSIX sh."""
    sh = shutil.which("sh")
    assert sh, "no sh on PATH"
    app = configs_by_name(configs)["app"]
    artifact = artifacts(app["profiles"][0])[0]
    command = artifact["sync"]["hooks"]["after"][0]["container"]["command"]
    assert command[:2] == ["sh", "-c"]
    result = subprocess.run([sh, "-n", "-c", command[2]], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_schema_cli_validates_each_module(tmp_path):
    """`python -m tests.deploy.skaffold_schema` (used by make check-k8s) passes both Skaffold files and fails when a
    config of either is broken."""
    import sys

    command = [sys.executable, "-m", "tests.deploy.skaffold_schema", str(SKAFFOLD_SCHEMA.resolve())]
    good = subprocess.run([*command, str(SKAFFOLD_FILE), str(SKAFFOLD_DB_FILE)], capture_output=True, text=True,
                          check=False, cwd=REPO)
    assert good.returncode == 0, good.stderr
    assert good.stdout.count("every config is valid") == 2, good.stdout
    broken = tmp_path / "skaffold.yaml"
    broken.write_text(SKAFFOLD_FILE.read_text().replace("statusCheckDeadlineSeconds: 600\nportForward", "statusCheckDeadlineSeconds: soon\nportForward"))
    bad = subprocess.run([*command, str(SKAFFOLD_DB_FILE), str(broken)], capture_output=True, text=True, check=False, cwd=REPO)
    assert bad.returncode == 1
    assert "config app: deploy/statusCheckDeadlineSeconds" in bad.stderr, bad.stderr
    broken_db = tmp_path / "skaffold-db.yaml"
    broken_db.write_text(SKAFFOLD_DB_FILE.read_text().replace("statusCheckDeadlineSeconds: 600", "statusCheckDeadlineSeconds: soon"))
    bad = subprocess.run([*command, str(SKAFFOLD_FILE), str(broken_db)], capture_output=True, text=True, check=False, cwd=REPO)
    assert bad.returncode == 1
    assert "config db: deploy/statusCheckDeadlineSeconds" in bad.stderr, bad.stderr


def test_a_bare_skaffold_command_never_selects_the_database():
    """`skaffold dev` as a developer types it (no -m), or a bare `skaffold run` / `skaffold delete`, selects every config
    of skaffold.yaml and all they `require`: none may deploy the database module, or the dev loop restarts Postgres as
    it starts (a new skaffold.dev/run-id on its pod template) and deletes the StatefulSet and Redis when it exits."""
    database = {(o["kind"], o["metadata"]["name"]) for o in rendered("db")}
    assert ("StatefulSet", "postgres") in database
    for label, effective in selected_by_a_bare_command(skaffold_configs(SKAFFOLD_FILE)):
        deployed = {(o["kind"], o["metadata"]["name"]) for p in kustomize_paths(effective) for o in objects_of(p)}
        assert not deployed & database, f"a bare `skaffold dev` selects {label}, which deploys {sorted(deployed & database)}"


@pytest.mark.parametrize(
    "breakage",
    [
        pytest.param(lambda app, db: [*app, *db], id="db-back-in-skaffold.yaml"),
        pytest.param(lambda app, db: [{**app[0], "requires": [{"path": SKAFFOLD_DB_FILE.name}]}], id="app-requires-db-file"),
        pytest.param(lambda app, db: [{**app[0], "requires": [{"configs": ["db"]}]}, *db], id="app-requires-db-same-file"),
    ],
)
def test_bare_command_check_follows_the_file_and_its_requires(breakage):
    """The db config in skaffold.yaml again, or required from it (by file or by name), is what a bare `skaffold dev`
    would select."""
    selected = selected_by_a_bare_command(breakage(skaffold_configs(SKAFFOLD_FILE), skaffold_configs(SKAFFOLD_DB_FILE)))
    assert any(("k8s/db" in kustomize_paths(effective)) for _, effective in selected), [label for label, _ in selected]
