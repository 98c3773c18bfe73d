"""The deployment files against the code: what they name must exist in it.

Every command a container, the dev sync hook, k8s/k8s.mk or
docs/kubernetes.md runs is checked against the code it names: management
commands through Django's own registry (`get_commands()`) and their option
parsers, `python -m` modules through their argument parser, and the web
server's line (`python -m web.serve`) through its parser too, with its
application imported and its port, stop timing and metrics directory checked
against the container. Probe paths
are resolved by Django's URL resolver, with the probe's Host header checked
against the ConfigMap's ALLOWED_HOSTS. Every environment variable and
ConfigMap key given to the project's containers is read by the code (or used
by a `$(VAR)` expansion in the manifest). Every sync rule matches files of
the build context, and each synced file lands where the image has it.

So a renamed management command, URL, option, setting or folder fails here.
The check functions return problems so that the negative tests can feed
them broken copies.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import copy
import importlib
import importlib.util
import io
import math
import re
import shlex
from pathlib import Path, PurePosixPath

import pytest
from django.core.management import CommandError, get_commands, load_command_class
from django.http.request import validate_host
from django.urls import Resolver404, resolve

from web import serve as web_serve
from web.observability import multiprocess as web_multiprocess

from .manifests import (
    CONFIGMAP,
    JOB_IMAGE,
    REPO,
    WEB_IMAGE,
    containers,
    dockerfile_instructions,
    dockerignore_excludes,
    effective_configs,
    env_value,
    find_object,
    full_command,
    deployed_objects,
    makefile_targets,
    pod_spec,
    read_dockerignore,
    rendered,
    skaffold_configs,
)

PROJECT_IMAGES = {WEB_IMAGE, JOB_IMAGE}
# Where the code that reads settings lives (tests and migrations excluded).
CODE_DIRS = ("web", "jobs", "scoring")
DOCS = REPO / "docs" / "kubernetes.md"
# Commands in a shell script or a Makefile recipe: `python manage.py NAME args`.
MANAGE_IN_TEXT = re.compile(r"python manage\.py ([A-Za-z_]\w*)([^;|&\n`\"'\\)]*)")
VAR_REF = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")
# `make k8s-manage ARGS="NAME args"` in the docs: the same, through kubectl exec.
MANAGE_ARGS_IN_TEXT = re.compile(r'k8s-manage ARGS="([A-Za-z_]\w*)([^"]*)"')


# --- what the code offers ----------------------------------------------------


def code_string_constants(dirs=CODE_DIRS, root: Path = REPO) -> set[str]:
    """Every upper-case string literal in the project's Python code: the names it can read from the environment."""
    names: set[str] = set()
    for folder in dirs:
        for path in sorted((root / folder).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    if re.fullmatch(r"[A-Z][A-Z0-9_]*", node.value):
                        names.add(node.value)
    return names


def module_parser(module: str) -> argparse.ArgumentParser | None:
    """The argparse parser of a `python -m` module: `build_parser()` of the module or of its `cli`."""
    for name in (module, f"{module}.cli"):
        if importlib.util.find_spec(name) is None:
            continue
        builder = getattr(importlib.import_module(name), "build_parser", None)
        if callable(builder):
            return builder()
    return None


def parse_quietly(parser, args: list[str]) -> str | None:
    """Parse args with an argparse parser; return its error text, or None if they parse."""
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):
            parser.parse_args(args)
    except SystemExit:
        return stderr.getvalue().strip().splitlines()[-1] if stderr.getvalue().strip() else "parse error"
    except CommandError as error:
        return str(error)
    return None


# --- what the deployment files run -------------------------------------------


def env_sample(item: dict, name: str) -> str:
    """A value Kubernetes would give $(name) in this container (for parsing its args)."""
    entry = env_value(item, name)
    if entry is None:
        return f"$({name})"
    if "value" in entry:
        return entry["value"]
    field = entry.get("valueFrom", {}).get("resourceFieldRef")
    if field and field["resource"] == "limits.cpu":
        limit = item["resources"]["limits"]["cpu"]
        cores = int(limit[:-1]) / 1000 if str(limit).endswith("m") else float(limit)
        return str(math.ceil(cores))
    return "1"


def container_commands(objects: list[dict]) -> list[tuple[str, dict, list[str]]]:
    """(where, container, argv with $(VAR) expanded) for every container of the project's images."""
    found = []
    for obj in objects:
        spec = pod_spec(obj)
        if spec is None:
            continue
        for item in containers(spec):
            if item["image"] not in PROJECT_IMAGES or not full_command(item):
                continue
            argv = [VAR_REF.sub(lambda m, c=item: env_sample(c, m.group(1)), word) for word in full_command(item)]
            found.append((f"{obj['kind']}/{obj['metadata']['name']}/{item['name']}", item, argv))
    return found


def text_commands(where: str, text: str) -> list[tuple[str, list[str] | None]]:
    """`python manage.py NAME args` found in a script or a recipe: (where, argv); argv None if args are templated."""
    found = []
    for match in [*MANAGE_IN_TEXT.finditer(text), *MANAGE_ARGS_IN_TEXT.finditer(text)]:
        rest = match.group(2).strip()
        args = [None] if "$" in rest else shlex.split(rest, comments=True)
        found.append((where, ["python", "manage.py", match.group(1), *args]))
    return found


def hook_scripts(configs: list[dict]) -> list[tuple[str, str]]:
    """The shell scripts of every sync hook in skaffold.yaml, profiles applied."""
    scripts = []
    for config in configs:
        for label, effective in effective_configs(config):
            for artifact in effective.get("build", {}).get("artifacts", []):
                hooks = artifact.get("sync", {}).get("hooks", {})
                for phase in ("before", "after"):
                    for hook in hooks.get(phase, []):
                        command = hook.get("container", hook.get("host", {})).get("command", [])
                        scripts.append((f"skaffold {label} {phase}-sync hook", " ".join(command)))
    return scripts


def manage_problems(where: str, argv: list) -> list[str]:
    """Problems of one `python manage.py NAME args` (args None = not checked)."""
    name = argv[2]
    commands = get_commands()
    if name not in commands:
        return [f"{where}: `manage.py {name}` is not a management command"]
    if argv[3:] == [None]:
        return []
    command = load_command_class(commands[name], name)
    error = parse_quietly(command.create_parser("manage.py", name), argv[3:])
    return [f"{where}: `manage.py {name} {' '.join(argv[3:])}`: {error}"] if error else []


def module_problems(where: str, argv: list[str]) -> list[str]:
    """Problems of one `python -m MODULE args`."""
    module, args = argv[2], argv[3:]
    spec = importlib.util.find_spec(module)
    if spec is None:
        return [f"{where}: module {module} does not exist"]
    if spec.submodule_search_locations is not None and importlib.util.find_spec(f"{module}.__main__") is None:
        return [f"{where}: package {module} has no __main__"]
    parser = module_parser(module)
    if parser is None:
        return [f"{where}: {module} (or {module}.cli) has no build_parser() to check the arguments with"]
    error = parse_quietly(parser, args)
    return [f"{where}: `python -m {module} {' '.join(args)}`: {error}"] if error else []


def web_serve_problems(where: str, argv: list[str], item: dict | None, spec: dict | None) -> list[str]:
    """Problems of a `python -m web.serve` line: its options, its application, and in a container its address,
    its stop timing and a writable place for its metrics directory."""
    args = argv[3:]
    error = parse_quietly(web_serve.build_parser(), args)
    if error:
        return [f"{where}: `python -m web.serve {' '.join(args)}`: {error}"]
    options = web_serve.build_parser().parse_args(args)
    problems = []
    module, _, attribute = web_serve.APPLICATION.partition(":")
    try:
        target = getattr(importlib.import_module(module), attribute or "application", None)
    except ImportError as exc:
        target, problems = None, [f"{where}: web.serve's application module {module}: {exc}"]
    if not callable(target):
        problems.append(f"{where}: web.serve's application {web_serve.APPLICATION} is not a callable WSGI application")
    given = {word.split("=", 1)[0] for word in args}
    if not {"--workers", "--graceful-timeout"} <= given:
        problems.append(f"{where}: web.serve needs explicit --workers and --graceful-timeout (not its defaults)")
    if item is None or spec is None:
        return problems
    host, port = options.bind
    ports = {p["containerPort"] for p in item.get("ports", [])}
    if {port} != ports:
        problems.append(f"{where}: web.serve binds port {port}, the container declares {sorted(ports)}")
    if host not in {"0.0.0.0", "::"}:
        problems.append(f"{where}: web.serve listens on {host} only: the probes and the Service cannot reach it")
    pre_stop = item.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
    sleep = int(pre_stop[1]) if pre_stop[:1] == ["sleep"] else 0
    grace = spec.get("terminationGracePeriodSeconds", 30)
    if sleep + options.graceful_timeout >= grace:
        problems.append(f"{where}: preStop {sleep} s + graceful timeout {options.graceful_timeout} s >= grace period {grace} s")
    return problems + metrics_dir_problems(where, item)


def metrics_dir_problems(where: str, item: dict) -> list[str]:
    """web.serve makes its PROMETHEUS_MULTIPROC_DIR (else a temporary directory) before any worker starts: under a
    read-only root file system a volume must be mounted there, or the server cannot start."""
    if not item.get("securityContext", {}).get("readOnlyRootFilesystem"):
        return []
    directory = "/tmp"
    for name in ("TMPDIR", web_multiprocess.VARIABLE):
        entry = env_value(item, name)
        if entry is not None and "value" in entry:
            directory = entry["value"]
    mounts = [m["mountPath"] for m in item.get("volumeMounts", []) if not m.get("readOnly")]
    if not any(PurePosixPath(directory).is_relative_to(mount) for mount in mounts):
        return [f"{where}: web.serve's metrics directory {directory} is on the read-only root file system (no volume there)"]
    return []


def command_problems(objects: list[dict], scripts: list[tuple[str, str]]) -> list[str]:
    """Check every command the containers, the hooks, k8s.mk and the docs run."""
    problems = []
    specs = {id(item): pod_spec(obj) for obj in objects if pod_spec(obj) for item in containers(pod_spec(obj))}
    for where, item, argv in container_commands(objects):
        problems += argv_problems(where, argv, item, specs.get(id(item)))
    for where, text in scripts:
        for found_where, argv in text_commands(where, text):
            problems += manage_problems(found_where, argv)
    return problems


def argv_problems(where: str, argv: list[str], item: dict | None = None, spec: dict | None = None) -> list[str]:
    """Dispatch one container command to the check of its kind."""
    if argv[:2] == ["python", "manage.py"]:
        return manage_problems(where, argv)
    if argv[:3] == ["python", "-m", "web.serve"]:
        return web_serve_problems(where, argv, item, spec)
    if argv[:2] == ["python", "-m"]:
        return module_problems(where, argv)
    if argv[:2] == ["python", "-c"]:
        return inline_python_problems(where, argv[2])
    if argv[0] == "watchfiles":
        return watchfiles_problems(where, argv, item, spec)
    if argv[0] in {"cp", "sleep", "sh"}:
        return []
    return [f"{where}: unknown command {argv[0]!r}; teach tests/deploy/test_code_contract.py to check it"]


def inline_python_problems(where: str, code: str) -> list[str]:
    """`python -c CODE`: it must compile, and each management command it calls must exist and take its options."""
    try:
        tree = ast.parse(code)
    except SyntaxError as exc:
        return [f"{where}: python -c does not compile: {exc}"]
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "call_command":
            name = node.args[0].value if node.args and isinstance(node.args[0], ast.Constant) else None
            if not isinstance(name, str):
                problems.append(f"{where}: call_command with a name that is not a literal")
                continue
            problems += manage_problems(where, ["python", "manage.py", name])
    return problems


WATCHFILES_VALUE_OPTIONS = {"--ignore-paths", "--target-type", "--filter", "--args", "--verbosity", "--sigint-timeout",
                            "--grace-period", "--sigkill-timeout"}


def watchfiles_problems(where: str, argv: list[str], item: dict | None, spec: dict | None) -> list[str]:
    """`watchfiles [options] TARGET PATHS...` (the dev worker): TARGET is checked as a command, PATHS must be /app."""
    words, rest = argv[1:], []
    while words:
        word = words.pop(0)
        if word in WATCHFILES_VALUE_OPTIONS:
            words.pop(0)
        elif not word.startswith("-"):
            rest.append(word)
    if not rest:
        return [f"{where}: watchfiles without a target command"]
    target, paths = shlex.split(rest[0]), rest[1:]
    problems = [] if paths == ["/app"] else [f"{where}: watchfiles watches {paths}, not the synced /app"]
    return problems + argv_problems(f"{where} (watchfiles target)", target, item, spec)


# --- probes ------------------------------------------------------------------


def probe_problems(objects: list[dict], allowed_hosts: list[str]) -> list[str]:
    """Every HTTP probe path resolves to a Django view, with a Host that ALLOWED_HOSTS accepts."""
    problems = []
    for obj in objects:
        spec = pod_spec(obj)
        if spec is None:
            continue
        for item in containers(spec):
            for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
                http = item.get(kind, {}).get("httpGet")
                if not http:
                    continue
                where = f"{obj['metadata']['name']}/{item['name']} {kind}"
                try:
                    resolve(http["path"])
                except Resolver404:
                    problems.append(f"{where}: path {http['path']} matches no URL of web/urls.py")
                hosts = [h["value"] for h in http.get("httpHeaders", []) if h["name"].lower() == "host"]
                if not hosts:
                    problems.append(f"{where}: no Host header (the pod IP is not in ALLOWED_HOSTS)")
                elif not validate_host(hosts[0], allowed_hosts):
                    problems.append(f"{where}: Host {hosts[0]} is not accepted by ALLOWED_HOSTS {allowed_hosts}")
    return problems


# --- environment -------------------------------------------------------------


def env_problems(objects: list[dict], read_by_code: set[str]) -> list[str]:
    """Every variable and ConfigMap key given to a project container is read by the code or expanded in the manifest."""
    maps = {o["metadata"]["name"]: o.get("data", {}) for o in objects if o["kind"] == "ConfigMap"}
    problems = []
    for obj in objects:
        spec = pod_spec(obj)
        if spec is None:
            continue
        for item in containers(spec):
            if item["image"] not in PROJECT_IMAGES:
                continue
            expanded = {ref for entry in item.get("env", []) for ref in VAR_REF.findall(entry.get("value", ""))}
            expanded |= {ref for word in full_command(item) for ref in VAR_REF.findall(word)}
            given = [(entry["name"], "env") for entry in item.get("env", [])]
            for source in item.get("envFrom", []):
                name = source.get("configMapRef", {}).get("name")
                given += [(key, f"ConfigMap {name}") for key in maps.get(name, {})]
            for name, origin in given:
                if name not in read_by_code and name not in expanded:
                    problems.append(
                        f"{obj['metadata']['name']}/{item['name']}: {origin} sets {name}, which no code in "
                        f"{', '.join(CODE_DIRS)} reads and no $({name}) uses"
                    )
    return problems


# --- sync ----------------------------------------------------------------------


def glob_regex(pattern: str) -> re.Pattern:
    """Skaffold's sync glob as a regex: `**/` spans folders (or none), `*` and `?` stay within one."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + r"\Z")


def context_files(context: Path) -> list[str]:
    """The files Docker would send as build context (after .dockerignore), caches left out."""
    patterns = read_dockerignore(context / ".dockerignore")
    files = []
    for path in sorted(context.rglob("*")):
        relative = path.relative_to(context).as_posix()
        if not path.is_file() or "__pycache__" in path.parts or path.suffix in {".pyc", ".pyo"}:
            continue
        if relative.split("/", 1)[0] in {".git", ".venv", ".local"}:
            continue
        if not dockerignore_excludes(patterns, relative):
            files.append(relative)
    return files


def image_path(dockerfile: Path, relative: str) -> str | None:
    """Where a build-context file ends up in the image (COPY src dest, relative to WORKDIR), else None."""
    workdir, location = "/", None
    for keyword, rest in dockerfile_instructions(dockerfile):
        if keyword == "WORKDIR":
            workdir = str(PurePosixPath(workdir) / rest)
        if keyword != "COPY" or "--from" in rest:
            continue
        *sources, dest = [w for w in shlex.split(rest) if not w.startswith("--")]
        target = PurePosixPath(workdir) / dest
        for source in sources:
            source = source.rstrip("/")
            if relative == source:
                location = str(target / PurePosixPath(relative).name if dest.endswith("/") else target)
            elif relative.startswith(source + "/"):
                location = str(target / relative[len(source) + 1:])
    return location


def sync_problems(configs: list[dict], repo: Path = REPO) -> list[str]:
    """Each manual sync rule matches build-context files, and each lands where the image has that file."""
    problems = []
    for config in configs:
        for label, effective in effective_configs(config):
            for artifact in effective.get("build", {}).get("artifacts", []):
                rules = artifact.get("sync", {}).get("manual", [])
                if not rules:
                    continue
                context = repo / artifact.get("context", ".")
                dockerfile = context / artifact.get("docker", {}).get("dockerfile", "Dockerfile")
                files = context_files(context)
                for rule in rules:
                    regex = glob_regex(rule["src"])
                    matched = [f for f in files if regex.match(f)]
                    if not matched:
                        problems.append(f"{label}: sync {rule['src']} matches no file of the build context")
                    for relative in matched:
                        stripped = relative[len(rule.get("strip", "")):] if relative.startswith(rule.get("strip", "")) else relative
                        synced = str(PurePosixPath(rule["dest"]) / stripped)
                        in_image = image_path(dockerfile, relative)
                        if in_image != synced:
                            problems.append(f"{label}: sync puts {relative} at {synced}, the image has it at {in_image}")
    return problems


# --- fixtures and tests --------------------------------------------------------


@pytest.fixture(scope="module")
def objects() -> list[dict]:
    """Every object deployed by either overlay, the database module or the cluster objects, as rendered."""
    return deployed_objects() + rendered("dev")


@pytest.fixture(scope="module")
def configs() -> list[dict]:
    return skaffold_configs()


@pytest.fixture(scope="module")
def scripts(configs) -> list[tuple[str, str]]:
    recipes = [(f"k8s.mk {name}", recipe) for name, recipe in makefile_targets().items()]
    docs = [(str(path.relative_to(REPO)), path.read_text(encoding="utf-8")) for path in (DOCS, REPO / "README.md")]
    return hook_scripts(configs) + recipes + [part for where, text in docs for part in markdown_parts(where, text)]


def markdown_parts(where: str, text: str) -> list[tuple[str, str]]:
    """A Markdown file as (where, text) to check: fenced code in full, prose for command names only.

    Prose wraps commands across lines, so its arguments are not checked: they
    are replaced by `$`, which text_commands() treats as templated.
    """
    blocks = re.findall(r"^```[^\n]*\n(.*?)^```", text, re.MULTILINE | re.DOTALL)
    prose = re.sub(r"^```[^\n]*\n.*?^```", "", text, flags=re.MULTILINE | re.DOTALL)
    prose = MANAGE_IN_TEXT.sub(lambda m: f"python manage.py {m.group(1)} $", prose)
    prose = MANAGE_ARGS_IN_TEXT.sub(lambda m: f'k8s-manage ARGS="{m.group(1)} $"', prose)
    return [(f"{where} (code)", "\n".join(blocks)), (f"{where} (prose)", prose)]


@pytest.fixture(scope="module")
def allowed_hosts(objects) -> list[str]:
    return find_object(objects, "ConfigMap", CONFIGMAP)["data"]["ALLOWED_HOSTS"].split(",")


def test_every_command_exists_in_the_code(objects, scripts):
    """Containers, sync hooks, make targets and docs run management commands, modules and options that exist."""
    assert command_problems(objects, scripts) == []


def test_commands_are_found_where_expected(objects, scripts):
    """The checks above see the migrate, rqworker, web.serve, precompute, collectstatic and load_movielens commands."""
    argvs = [argv for _, _, argv in container_commands(objects)]
    assert any(argv[:2] == ["python", "-c"] and 'call_command("migrate"' in argv[2] for argv in argvs)
    assert ["python", "manage.py", "rqworker"] in argvs
    assert any(argv[:3] == ["python", "-m", "web.serve"] for argv in argvs)
    assert any(argv[:3] == ["python", "-m", "jobs.precompute"] for argv in argvs)
    named = {argv[2] for where, text in scripts for _, argv in text_commands(where, text)}
    assert {"collectstatic", "load_movielens", "download_movielens"} <= named


SERVE = ["python", "-m", "web.serve"]


@pytest.mark.parametrize(
    "breakage, expected",
    [
        (lambda c: c.update(command=["python", "manage.py", "rqworkers"]), "not a management command"),
        (lambda c: c.update(command=["python", "manage.py", "rqworker", "--bursty"]), "unrecognized"),
        (lambda c: c.update(command=["python", "-m", "jobs.precompte"]), "does not exist"),
        (lambda c: c.update(command=["python", "-m", "jobs.precompute", "--algorithm", "nope"]), "invalid choice"),
        (lambda c: c.update(command=[*SERVE, "--bind", "0.0.0.0:8080", "--workers", "2", "--graceful-timeout", "20"]),
         "binds port 8080"),
        (lambda c: c.update(command=[*SERVE, "--bind", "127.0.0.1:8000", "--workers", "2", "--graceful-timeout", "20"]),
         "listens on 127.0.0.1 only"),
        (lambda c: c.update(command=[*SERVE, "--bind", "0.0.0.0:8000", "--graceful-timeout", "20"]), "explicit --workers"),
        (lambda c: c.update(command=[*SERVE, "--bind", "0.0.0.0:8000", "--workers", "2", "--graceful-timeout", "40"]),
         "grace period"),
        (lambda c: c.update(command=[*SERVE, "--bind", "0.0.0.0:8000", "--workers", "2", "--graceful-timeout", "20",
                                     "--timeout", "60"]), "unrecognized arguments: --timeout"),
        (lambda c: c.update(command=[*SERVE, "--bind", "0.0.0.0:8000", "--workers", "0", "--graceful-timeout", "20"]),
         "at least 1"),
        (lambda c: c.update(volumeMounts=[m for m in c["volumeMounts"] if m["mountPath"] != "/tmp"]),
         "metrics directory /tmp is on the read-only root file system"),
        (lambda c: c.update(env=[*c["env"], {"name": "PROMETHEUS_MULTIPROC_DIR", "value": "/app/metrics"}]),
         "metrics directory /app/metrics"),
        (lambda c: c.update(command=["uwsgi", "--http", ":8000"]), "unknown command"),
        (lambda c: c.update(command=["python", "-c", 'call_command("migrat")']), "not a management command"),
        (lambda c: c.update(command=["python", "-c", "call_command('migrate'"]), "does not compile"),
    ],
)
def test_command_check_catches_a_renamed_or_mistyped_command(objects, breakage, expected):
    """A renamed command, module or app, a bad option or a port mismatch is reported."""
    broken = copy.deepcopy(objects)
    web = find_object(broken, "Deployment", "web")
    item = next(c for c in pod_spec(web)["containers"] if c["name"] == "web")
    item.pop("args", None)
    breakage(item)
    problems = command_problems([web], [])
    assert any(expected in p for p in problems), problems


def test_command_check_imports_the_web_servers_application(objects, monkeypatch):
    """web.serve's application target must import to a callable: a renamed one is reported."""
    web = find_object(copy.deepcopy(objects), "Deployment", "web")
    assert command_problems([web], []) == []
    monkeypatch.setattr(web_serve, "APPLICATION", "web.wsgi:app")
    assert any("web.wsgi:app is not a callable" in p for p in command_problems([web], []))
    monkeypatch.setattr(web_serve, "APPLICATION", "web.wsgy:application")
    assert any("application module web.wsgy" in p for p in command_problems([web], []))


def test_command_check_reads_scripts_and_recipes():
    """A management command named in a hook script or a recipe must exist too."""
    problems = command_problems([], [("hook", "cd /app && python manage.py collectstatics --noinput")])
    assert any("collectstatics" in p for p in problems), problems
    assert command_problems([], [("recipe", "python manage.py load_movielens /tmp/movielens")]) == []
    problems = command_problems([], [("docs", 'make k8s-manage ARGS="download_movielens ml-latest-small --destination /tmp"')])
    assert any("--destination" in p for p in problems), problems
    (code, prose) = markdown_parts("doc", "Run `python manage.py loadmovies\nPATH`.\n```sh\npython manage.py migrate --fake-it\n```\n")
    assert any("loadmovies" in p for p in command_problems([], [prose]))
    assert any("--fake-it" in p for p in command_problems([], [code]))


def test_probe_paths_resolve_to_views(objects, allowed_hosts):
    """Each HTTP probe path is a URL of the site, sent with a Host that ALLOWED_HOSTS accepts."""
    assert probe_problems(objects, allowed_hosts) == []
    web = next(c for c in pod_spec(find_object(objects, "Deployment", "web"))["containers"] if c["name"] == "web")
    assert {resolve(web[p]["httpGet"]["path"]).url_name for p in ("livenessProbe", "readinessProbe")} == {"healthz", "readyz"}


def test_liveness_probe_answers_without_the_database(client, settings, objects, allowed_hosts):
    """GET of the liveness path with the probe's Host header answers 200 (and touches no database: no db mark here)."""
    settings.ALLOWED_HOSTS = allowed_hosts
    web = next(c for c in pod_spec(find_object(objects, "Deployment", "web"))["containers"] if c["name"] == "web")
    http = web["livenessProbe"]["httpGet"]
    host = next(h["value"] for h in http["httpHeaders"] if h["name"].lower() == "host")
    response = client.get(http["path"], HTTP_HOST=host)
    assert response.status_code == 200, response.content[:300]


@pytest.mark.parametrize(
    "breakage, expected",
    [
        (lambda c: c["readinessProbe"]["httpGet"].update(path="/ready"), "matches no URL"),
        (lambda c: c["livenessProbe"]["httpGet"].update(httpHeaders=[{"name": "Host", "value": "web.example"}]), "not accepted"),
        (lambda c: c["startupProbe"]["httpGet"].pop("httpHeaders"), "no Host header"),
    ],
)
def test_probe_check_catches_a_renamed_path_or_wrong_host(objects, allowed_hosts, breakage, expected):
    """A probe on a URL the site lacks, or with a Host Django would refuse, is reported."""
    web = copy.deepcopy(find_object(objects, "Deployment", "web"))
    breakage(next(c for c in pod_spec(web)["containers"] if c["name"] == "web"))
    problems = probe_problems([web], allowed_hosts)
    assert any(expected in p for p in problems), problems


def test_every_setting_given_is_read_by_the_code(objects):
    """Env variables and ConfigMap keys of the web, worker and job containers are names the code reads."""
    assert env_problems(objects, code_string_constants()) == []


def test_env_check_catches_a_key_the_code_does_not_read(objects):
    """A misspelt ConfigMap key or env variable is reported."""
    broken = copy.deepcopy(objects)
    for configmap in (o for o in broken if o["kind"] == "ConfigMap" and o["metadata"]["name"] == CONFIGMAP):
        configmap["data"]["ALLOWED_HOST"] = "localhost"
    cronjob = find_object(broken, "CronJob", "precompute")
    pod_spec(cronjob)["containers"][0]["env"].append({"name": "REDIS_URI", "value": "redis://redis:6379/0"})
    problems = env_problems(broken, code_string_constants())
    assert any("ALLOWED_HOST," in p for p in problems), problems
    assert any("REDIS_URI" in p for p in problems), problems


def test_code_constants_see_the_settings_names():
    """The reader of the code finds the names web/settings.py reads (so the check above is not vacuous)."""
    names = code_string_constants()
    assert {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "ALLOWED_HOSTS", "APP_ENV", "DEBUG"} <= names


def test_sync_rules_match_files_where_the_image_has_them(configs):
    """Every sync rule of skaffold.yaml matches files, and each lands at the path the Dockerfile copies it to."""
    assert sync_problems(configs) == []


@pytest.mark.parametrize(
    "rule, expected",
    [
        ({"src": "**/*.pyx", "dest": "/app"}, "matches no file"),
        ({"src": "web/**/*.py", "dest": "/app/web"}, "the image has it at /app/web/"),
        ({"src": "**/*.py", "dest": "/app", "strip": "web/"}, "the image has it at"),
        ({"src": "tests/**/*.py", "dest": "/app"}, "matches no file"),
    ],
)
def test_sync_check_catches_wrong_rules(configs, rule, expected):
    """A rule that matches nothing (or only files outside the context), or syncs to the wrong place, is reported."""
    broken = copy.deepcopy(configs)
    app = next(c for c in broken if c["metadata"]["name"] == "app")
    app["profiles"][0]["build"]["artifacts"][0]["sync"]["manual"] = [rule]
    problems = sync_problems(broken)
    assert any(expected in p for p in problems), problems


def test_image_path_follows_copy_and_workdir(tmp_path):
    """COPY of a folder and of a file map build-context paths under WORKDIR."""
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM python:3.11-slim\nWORKDIR /app\nCOPY manage.py ./\nCOPY web/ web/\nCOPY conf/x.ini /etc/x.ini\n")
    assert image_path(dockerfile, "manage.py") == "/app/manage.py"
    assert image_path(dockerfile, "web/a/b.py") == "/app/web/a/b.py"
    assert image_path(dockerfile, "conf/x.ini") == "/etc/x.ini"
    assert image_path(dockerfile, "tests/t.py") is None


def test_k8s_folder_is_read(objects):
    """The checks read the rendered kustomizations: both overlays' web, worker and CronJob, and the database."""
    names = [(o["kind"], o["metadata"]["name"]) for o in objects]
    for kind, name in [("Deployment", "web"), ("Deployment", "worker"), ("CronJob", "precompute")]:
        assert names.count((kind, name)) == 2, (kind, name)
    assert ("StatefulSet", "postgres") in names and ("Namespace", "movielens") in names


def test_job_reads_what_kubernetes_gives_its_pods():
    """The job code reads the shard index Kubernetes sets and the shard count, run name and pool size the CronJob sets
    (the run name's variable is defined once, beside the run's other settings, in web/runs/spec.py)."""
    names = code_string_constants(("jobs", "web/runs"))
    assert {"JOB_COMPLETION_INDEX", "JOB_COMPLETIONS", "PRECOMPUTE_RUN_NAME", "PRECOMPUTE_WORKERS"} <= names


def test_sync_hook_checks_the_module_the_web_workers_import(configs):
    """The after-sync hook reloads only if `python -c "import M"` succeeds, and M is the module of the web server's
    application (web.serve's APPLICATION): what each fresh worker imports, and dies on if it does not load."""
    (where, script), = [(w, s) for w, s in hook_scripts(configs) if "kill -HUP" in s]
    checked = re.findall(r'python -c "import ([\w.]+)"', script)
    assert checked == [web_serve.APPLICATION.split(":")[0]], (where, script)
    assert script.index("import ") < script.index("kill -HUP"), "the check comes before the reload"
