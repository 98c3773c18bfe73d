"""LOG_FORMAT=json in the processes as they are started: the precompute job and the RQ worker write JSON lines only,
and the worker's lines carry the request id of the request that queued the job; bad settings stop the start."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from tests.helpers import database_url, start_job
from tests.recommender.conftest import published  # noqa: F401  (fixture)
from web.observability.requestid import JOB_META_KEY
from web.queue import get_queue, new_redis_client
from web.recommender.tasks import refresh_user

REPO = Path(__file__).resolve().parents[2]


def _json_lines(text: str) -> list[dict]:
    """Every non-empty line parsed as JSON (a line that is not JSON fails the test)."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _worker_burst() -> subprocess.CompletedProcess:
    """``manage.py rqworker --burst`` under LOG_FORMAT=json, as the worker's container starts it; it must end well."""
    env = os.environ | {"DATABASE_URL": database_url(), "REDIS_URL": settings.REDIS_URL, "LOG_FORMAT": "json",
                        "DJANGO_SETTINGS_MODULE": "web.settings"}
    result = subprocess.run([sys.executable, "manage.py", "rqworker", "--burst"], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return result


def test_the_precompute_job_logs_json_lines(catalogue, monkeypatch):
    """A whole run of ``python -m jobs.precompute`` under LOG_FORMAT=json: its log on stderr is JSON lines only."""
    monkeypatch.setenv("LOG_FORMAT", "json")
    job = start_job("--algorithm", "popularity", "--top-n", "3", chunk_delay=0)
    stdout, stderr = job.communicate(timeout=300)
    assert job.returncode == 0, stderr[-2000:]
    lines = _json_lines(stderr)
    assert any(line["logger"] == "jobs.precompute" and "succeeded" in line["message"] for line in lines)
    assert "succeeded and is active" in stdout  # the final message is printed for people, as before


def test_the_worker_logs_json_lines_with_the_request_id_of_the_job(catalogue):
    """``manage.py rqworker --burst`` under LOG_FORMAT=json: JSON lines only; the job's lines carry the id from its meta."""
    queue = get_queue(new_redis_client())
    job = queue.enqueue_call(refresh_user, args=(101,), meta={JOB_META_KEY: "from-a-rating-9"})
    result = _worker_burst()
    lines = _json_lines(result.stderr)
    (done,) = [line for line in lines if line.get("job_id") == job.id]
    assert (done["function"], done["status"], done["request_id"]) == ("refresh_user", "finished", "from-a-rating-9")
    assert any(line["logger"] == "rq.worker" and job.id in line["message"] and line["request_id"] == "from-a-rating-9"
               for line in lines), "RQ's own line about the job carries the id too"


def test_the_worker_says_which_model_it_loaded_in_a_json_line(published):  # noqa: F811  (the fixture imported above)
    """With a run published the worker loads its model before the first job and says so: a JSON line too, on either
    stream (a container's log is its stdout and its stderr together), naming the run."""
    result = _worker_burst()
    lines = _json_lines(result.stdout + result.stderr)
    assert any(f"loaded the model of run {published.pk}" in line["message"] for line in lines)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT must be 'plain' or 'json'"),
        ({"METRICS_TOKEN": "too-short"}, "METRICS_TOKEN must be at least 32 characters"),
        ({"METRICS_NETWORKS": "10.0.0.0/33"}, "METRICS_NETWORKS must be comma-separated networks"),
    ],
)
def test_bad_observability_settings_stop_the_start(env, message):
    """A typo in these settings is refused with a message at start, never silently taken."""
    result = subprocess.run([sys.executable, "-c", "import web.settings"], cwd=REPO, env=os.environ | env,
                            capture_output=True, text=True)
    assert result.returncode != 0 and message in result.stderr


@pytest.mark.parametrize(("pod_ip", "host"), [("10.244.1.7", "10.244.1.7"), ("fd00::7", "[fd00::7]")])
def test_the_pods_own_address_is_an_allowed_host(pod_ip, host):
    """POD_IP (the downward API's status.podIP) joins ALLOWED_HOSTS, an IPv6 address in brackets as in a Host header."""
    probe = "import web.settings as s; print(s.ALLOWED_HOSTS[-1])"
    result = subprocess.run([sys.executable, "-c", probe], cwd=REPO, env=os.environ | {"POD_IP": pod_ip},
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-500:]
    assert result.stdout.strip().splitlines()[-1] == host
