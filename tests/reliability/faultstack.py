"""The processes the fault tests break: the web server, the RQ worker and commands, on a database and Redis of the test's own.

Each fault test owns the servers it stops (a pgserver data directory or a
Redis under ``tmp_path``) or a scratch database on the test server, so the
shared embedded servers under ``.local/services`` are never stopped.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path

import psycopg2

from bench.api_load import free_port
from tests.helpers import wait_for

REPO = Path(__file__).resolve().parents[2]


def postgres_pids(pgdata: Path) -> list[int]:
    """The postmaster of ``pgdata`` and every process it started (backends, checkpointer, WAL writer...)."""
    postmaster = int((pgdata / "postmaster.pid").read_text().split()[0])
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # The command name, in parentheses, may hold spaces: the parent pid is the second field after it.
            if int(stat.read_text().rpartition(")")[2].split()[1]) == postmaster:
                children.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):  # a process that ended while we looked
            continue
    return [postmaster, *children]


def redis_pid(data_dir: Path) -> int:
    """The pid of the embedded Redis under ``data_dir`` (web.embedded.redis_url's layout)."""
    return int((data_dir / "redis" / "redis.pid").read_text().strip())


@contextmanager
def stalled(pids: list[int]) -> Iterator[None]:
    """The processes ``pids`` stopped (SIGSTOP), alive but answering nothing, as a hung server is; always continued."""
    stopped = []
    try:
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
            stopped.append(pid)
        yield
    finally:
        for pid in stopped:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass


def stop_group(process: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 20) -> None:
    """Send ``sig`` to the process group of ``process`` (started with a new session); SIGKILL if it lingers."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, sig)
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        process.wait()


@dataclass
class Stack:
    """Environment and handles for the site's processes on one database and one Redis."""

    database_url: str
    """``postgres://`` URL (DATABASE_URL of the processes)."""
    dsn: str
    """libpq string for the test's own psycopg2 connections."""
    redis_url: str
    log_dir: Path
    port: int = field(default_factory=free_port)
    token: str = ""
    serving_env: dict[str, str] = field(default_factory=dict)
    """What the web server and the worker get on top of ``env`` (another role's DATABASE_URL, shorter timeouts)."""
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        return os.environ | {
            "APP_ENV": "local", "DATABASE_URL": self.database_url, "REDIS_URL": self.redis_url,
            "DJANGO_SETTINGS_MODULE": "web.settings", "PYTHONPATH": str(REPO), "PRECOMPUTE_WORKERS": "1",
            "CONN_MAX_AGE": "60",
        }

    # -- commands and processes --------------------------------------------
    def manage(self, *args: str, timeout: float = 300, **extra_env: str) -> str:
        result = subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=self.env | extra_env,
                                capture_output=True, text=True, timeout=timeout)
        assert result.returncode == 0, f"manage.py {args}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        return result.stdout

    def precompute(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "jobs.precompute", *args], cwd=REPO, env=self.env,
                              capture_output=True, text=True, timeout=timeout)

    def prepare(self, movielens: Path) -> None:
        """Migrate, load ml-latest-small, issue a service's API key and publish a popularity run."""
        self.manage("migrate", "--noinput")
        self.manage("load_movielens", str(movielens))
        self.token = self.manage("create_service_token", "faults").splitlines()[-1]
        done = self.precompute("--algorithm", "popularity", "--workers", "1")
        assert done.returncode == 0, done.stderr[-3000:]

    def start(self, name: str) -> subprocess.Popen:
        """Start ``web`` (``python -m web.serve``, as the Deployment runs it, with one worker) or ``worker`` (manage.py rqworker)."""
        argv = {
            "web": [sys.executable, "-m", "web.serve", "--bind", f"127.0.0.1:{self.port}", "--workers", "1", "--threads", "2"],
            "worker": [sys.executable, "manage.py", "rqworker"],
        }[name]
        log = open(self.log_dir / f"{name}.log", "a")
        process = subprocess.Popen(argv, cwd=REPO, env=self.env | self.serving_env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        self.processes[name] = process
        if name == "web":
            wait_for(lambda: self._answers("/healthz"), 60, "the web server to answer /healthz")
        return process

    def stop_all(self) -> None:
        for process in self.processes.values():
            stop_group(process)

    def _answers(self, path: str) -> bool:
        try:
            return self.request("GET", path)[0] == 200
        except OSError:
            return False

    # -- HTTP -----------------------------------------------------------------
    def request(self, method: str, path: str, payload: dict | None = None, headers: dict | None = None,
                data: bytes | None = None, timeout: float = 15) -> tuple[int, Message, bytes]:
        """One HTTP request (the API token unless ``headers`` say otherwise); returns status, headers, body.

        ``timeout``: seconds the client waits for the answer (``TimeoutError`` after that). A header given as
        ``None`` is not sent (``{"Authorization": None}``: an anonymous request).

        The headers are looked up without regard to case, as HTTP defines them (the server sends them lower-case).
        """
        sent = {"Host": "localhost"} | ({"Authorization": f"Token {self.token}"} if self.token else {})
        if payload is not None:
            data = json.dumps(payload).encode()
            sent["Content-Type"] = "application/json"
        sent = {name: value for name, value in (sent | (headers or {})).items() if value is not None}  # None: not sent
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=sent)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read()

    # -- SQL ------------------------------------------------------------------
    def sql(self, query: str, params: tuple = ()) -> list[tuple]:
        with psycopg2.connect(self.dsn) as conn, conn.cursor() as cursor:
            cursor.execute(query, params)
            rows = cursor.fetchall() if cursor.description else []
        conn.close()
        return rows

    def user_rows(self, user_id: int) -> list[tuple]:
        """The active run's rows of ``user_id`` in rank order: (movie, score, rank)."""
        return self.sql(
            "SELECT s.movie_id, s.score, s.rank FROM recommender_userscore s JOIN progress_activerun a "
            "ON a.run_id = s.run_id WHERE s.user_id = %s ORDER BY s.rank", (user_id,))
