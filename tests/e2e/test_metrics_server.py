"""/metrics under the web Deployment's own server command with 2 worker processes: the counts of both add up.

Each worker process counts into its own files of the server's fresh
PROMETHEUS_MULTIPROC_DIR (web/serve.py, web/observability/multiprocess.py);
whichever worker answers a scrape adds them all up. A worker that exits
takes nothing with it: the server starts a new one, and the counts stay.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.conf import settings

from bench.api_load import free_port
from tests.deploy.manifests import WEB_COMMAND
from tests.helpers import database_url, stop_process_group, wait_for
from tests.observability.conftest import value

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
REQUESTS = 60


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read().decode()


@pytest.fixture
def server(transactional_db, tmp_path):
    """The contract server line (2 workers) on a free loopback port, logging JSON to a file."""
    port = free_port()
    argv = [sys.executable, *WEB_COMMAND[1:]]  # the contract's "python" is this interpreter
    argv[argv.index("0.0.0.0:8000")] = f"127.0.0.1:{port}"
    env = {key: value for key, value in os.environ.items() if key != "PROMETHEUS_MULTIPROC_DIR"} | {
        "APP_ENV": "local", "DATABASE_URL": database_url(), "REDIS_URL": settings.REDIS_URL,
        "DJANGO_SETTINGS_MODULE": "web.settings", "LOG_FORMAT": "json", "ALLOWED_HOSTS": "127.0.0.1",
    }
    log = tmp_path / "server.log"
    with open(log, "w") as out:
        process = subprocess.Popen(argv, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        try:
            return _get(f"{base}/healthz")[0] == 200
        except OSError:
            return False

    try:
        wait_for(answers, 60, "the web server to answer /healthz")
        yield base, process, log
    finally:
        stop_process_group(process, timeout=30)


def _healthz_count(base: str) -> float:
    return value(_get(f"{base}/metrics")[1], "movielens_http_requests_total", route="healthz", method="GET", status="200")


def _worker_pids(master: int) -> set[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return {int(pid) for pid in children}


def _served_by(log: Path) -> list[dict]:
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("logger") == "web.access" and line.get("route") == "healthz"]


def test_counts_of_two_workers_add_up_and_outlive_a_worker(server):
    """N concurrent requests served by both workers count exactly N more; after one worker is stopped and replaced, still N."""
    base, process, log = server
    before, logged_before = _healthz_count(base), len(_served_by(log))
    sent = 0
    # Batches of concurrent requests until both processes have served some (the second may still be starting).
    while sent < 20 * REQUESTS and len({line["process"] for line in _served_by(log)[logged_before:]}) < 2:
        with ThreadPoolExecutor(max_workers=10) as pool:
            statuses = list(pool.map(lambda _: _get(f"{base}/healthz")[0], range(REQUESTS)))
        assert statuses == [200] * REQUESTS
        sent += REQUESTS
    served = _served_by(log)[logged_before:]
    assert len({line["process"] for line in served}) == 2, "both worker processes should have served requests"
    assert len(served) == sent
    assert _healthz_count(base) - before == sent
    assert all(len(line["request_id"]) == 32 for line in served)

    workers = _worker_pids(process.pid)
    assert len(workers) == 2
    os.kill(min(workers), signal.SIGTERM)
    wait_for(lambda: len(_worker_pids(process.pid) - workers) == 1 and len(_worker_pids(process.pid)) == 2, 30,
             "the web server to replace the stopped worker")
    assert _healthz_count(base) - before == sent
