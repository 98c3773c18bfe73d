"""No command prints a connection string's password: the precompute job (help, a real run, a failed connection) and the worker."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings

from tests.helpers import drop_run_tables
from web.progress.models import Run

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "Zq9-pw-that-must-never-be-printed"


def _url_with_password(host: str, port: str | int, name: str) -> str:
    user = settings.DATABASES["default"]["USER"] or "postgres"
    return f"postgres://{quote(user, safe='')}:{PASSWORD}@{quote(str(host), safe='')}:{port}/{name}"


def _run(argv: list[str], **env: str) -> subprocess.CompletedProcess:
    environ = dict(os.environ, PYTHONPATH=str(REPO), **env)
    return subprocess.run(argv, cwd=REPO, env=environ, capture_output=True, text=True, timeout=300)


def _assert_no_password(result: subprocess.CompletedProcess) -> None:
    output = result.stdout + result.stderr
    assert output.strip(), "the command printed nothing, so the check would prove nothing"
    assert PASSWORD not in output


def test_precompute_help_prints_no_password():
    """`python -m jobs.precompute --help` with a password in DATABASE_URL does not echo it."""
    result = _run([sys.executable, "-m", "jobs.precompute", "--help"], DATABASE_URL=_url_with_password("db", 5432, "x"))
    assert result.returncode == 0
    _assert_no_password(result)


def test_a_real_precompute_run_prints_no_password(catalogue):
    """A tiny real run on the test database, reached by a URL with a password, publishes and prints no password.

    The embedded server trusts local connections, so the password is sent but not needed.
    """
    db = settings.DATABASES["default"]
    url = _url_with_password(db["HOST"], db["PORT"] or 5432, db["NAME"])
    result = _run([sys.executable, "-m", "jobs.precompute", "--algorithm", "popularity", "--top-n", "5", "--workers", "1"],
                  DATABASE_URL=url)
    try:
        assert result.returncode == 0, result.stderr[-3000:]
        assert Run.objects.active() is not None
        _assert_no_password(result)
    finally:
        drop_run_tables()


@pytest.mark.parametrize(
    "argv",
    [
        [sys.executable, "-m", "jobs.precompute", "--algorithm", "popularity", "--top-n", "5", "--workers", "1"],
        [sys.executable, "manage.py", "migrate", "--noinput"],
        [sys.executable, "manage.py", "rqworker"],
    ],
    ids=["precompute", "migrate", "rqworker"],
)
def test_a_failed_connection_prints_no_password(argv):
    """When PostgreSQL refuses the connection, the job, migrate and the worker fail without printing the password."""
    result = _run(argv, DATABASE_URL=_url_with_password("127.0.0.1", 1, "movielens"),
                  REDIS_URL=f"redis://:{PASSWORD}@127.0.0.1:1/0")
    assert result.returncode != 0
    assert "127.0.0.1" in result.stdout + result.stderr, "the failure should name the host it could not reach"
    _assert_no_password(result)


def test_an_unreachable_database_is_one_clear_line_from_the_job():
    """The job facing a refused connection exits 1 with one line naming the fix, not a traceback."""
    result = _run([sys.executable, "-m", "jobs.precompute", "--workers", "1"],
                  DATABASE_URL=_url_with_password("127.0.0.1", 1, "movielens"))
    assert result.returncode == 1
    assert "precompute: cannot use the database" in result.stderr and "check DATABASE_URL" in result.stderr
    assert "Traceback" not in result.stderr
    _assert_no_password(result)
