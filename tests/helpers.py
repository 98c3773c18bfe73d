"""Helpers shared by the tests: run the precompute job in or out of process, poll, reach the test DB.

The job commits (COPY, DDL, the publish), so tests that run it use
transactional databases; the score partitions are not Django tables and are
dropped by :func:`drop_run_tables`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

from jobs.precompute.options import JobOptions
from jobs.precompute.progress import ProgressReporter
from jobs.precompute.run import run_job
from web.runs.models import Run
from web.runs.scores import SCORE_TABLE, run_tables

REPO = Path(__file__).resolve().parents[1]
N_USERS, N_MOVIES = 30, 25
"""The shape of the ``catalogue`` fixture (tests/conftest.py)."""


def drop_run_tables() -> None:
    """Drop every run's score table: they are not Django tables, so test flushes leave them."""
    with connection.cursor() as cursor:
        for run_id in run_tables():
            cursor.execute(f"DROP TABLE IF EXISTS {SCORE_TABLE}_r{run_id}")


def redis_url_with_db(url: str, db: int) -> str:
    """``url`` (``unix://...?db=N`` or ``redis://host:port/N``) pointing at database ``db`` instead."""
    if url.startswith("unix://"):
        return url.rsplit("db=", 1)[0] + f"db={db}"
    return url.rsplit("/", 1)[0] + f"/{db}"


OPERATOR_SESSION_SCRIPT = """
from importlib import import_module
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
user = get_user_model().objects.get(username="e2e-operator")
session = import_module(settings.SESSION_ENGINE).SessionStore()
session[SESSION_KEY] = str(user.pk)
session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
session[HASH_SESSION_KEY] = user.get_session_auth_hash()
session.create()
print(f"{settings.SESSION_COOKIE_NAME}={session.session_key}")
"""
"""Signs the superuser e2e-operator in, as the login page would, and prints the session cookie."""


def operator_session_cookie(env: dict[str, str]) -> str:
    """Create the superuser ``e2e-operator`` (an operator, and more) in ``env``'s database and return a signed-in session cookie."""
    manage = [sys.executable, "manage.py"]
    for argv in (
        [*manage, "createsuperuser", "--noinput", "--username", "e2e-operator", "--email", "e2e@example.com"],
        [*manage, "shell", "-c", OPERATOR_SESSION_SCRIPT],
    ):
        result = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, f"{argv}:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
    return result.stdout.strip().splitlines()[-1]


class ScratchDatabase:
    """A database of its own on the test server, for end-to-end tests whose processes commit; ``drop()`` removes it."""

    def __init__(self, prefix: str) -> None:
        import uuid

        import psycopg2

        db = settings.DATABASES["default"]
        self.name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        self.host, self.port, self.user, self.password = db["HOST"], db["PORT"] or 5432, db["USER"], db["PASSWORD"]
        self._admin = psycopg2.connect(dbname="postgres", host=self.host, port=self.port, user=self.user, password=self.password)
        self._admin.autocommit = True
        self._admin.cursor().execute(f'CREATE DATABASE "{self.name}"')

    @property
    def url(self) -> str:
        """``postgres://`` URL for DATABASE_URL (the socket directory percent-encoded as the host)."""
        return f"postgres://{self.user}:{self.password or ''}@{quote(self.host, safe='')}:{self.port}/{self.name}"

    @property
    def dsn(self) -> str:
        """libpq connection string for psycopg2."""
        dsn = f"dbname={self.name} host={self.host} port={self.port} user={self.user}"
        return dsn + (f" password={self.password}" if self.password else "")

    def drop(self) -> None:
        self._admin.cursor().execute(f'DROP DATABASE "{self.name}" WITH (FORCE)')
        self._admin.close()


def run(**options) -> Run:
    """Run the job in this process, quietly, and return its run (raises JobFailed if it fails)."""
    options.setdefault("workers", 1)
    run_id = run_job(JobOptions(**options), console=ProgressReporter())
    return Run.objects.get(pk=run_id)


def database_url() -> str:
    """A URL to the test database (after pytest-django renamed it), for a job started as a subprocess."""
    db = settings.DATABASES["default"]
    auth = quote(db["USER"] or "", safe="") + (":" + quote(db["PASSWORD"], safe="") if db.get("PASSWORD") else "")
    host = quote(db["HOST"] or "", safe="") + (f":{db['PORT']}" if db.get("PORT") else "")
    return f"postgres://{auth}@{host}/{db['NAME']}"


def start_job(*args: str, chunk_delay: float) -> subprocess.Popen:
    """``python -m jobs.precompute ARGS`` on the test database, in a new process group, chunks slowed down."""
    env = dict(os.environ, DATABASE_URL=database_url(), PRECOMPUTE_TEST_CHUNK_DELAY=str(chunk_delay), PYTHONPATH=str(REPO))
    return subprocess.Popen(
        [sys.executable, "-m", "jobs.precompute", *args],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )


def stop_process_group(process: subprocess.Popen, timeout: float = 20) -> None:
    """SIGTERM a process started with ``start_new_session=True`` and its children; SIGKILL after ``timeout``."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def wait_for(predicate, timeout: float = 30.0, what: str = "condition"):
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")
