"""End to end: the containers' own commands, run as local processes against real servers.

The commands come from the Kubernetes manifests (migrate init container,
precompute CronJob, web and worker Deployments), so what the cluster runs is
what this test runs: ml-latest-small goes in, a precompute run is published,
the web server (``python -m web.serve``) serves the pages and the API, and the RQ worker refreshes a user
after a rating.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2
import pytest
import yaml

from bench.api_load import free_port
from tests.helpers import ScratchDatabase, operator_session_cookie, redis_url_with_db

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "k8s"

pytestmark = [pytest.mark.e2e, pytest.mark.movielens]


def _container(manifest: str, name: str, init: bool = False) -> dict:
    document = yaml.safe_load((K8S / manifest).read_text())
    spec = document["spec"]
    if document["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    pod = spec["template"]["spec"]
    containers = pod["initContainers"] if init else pod["containers"]
    return next(c for c in containers if c["name"] == name)


def _local_command(container: dict, substitutions: dict[str, str]) -> list[str]:
    """A container's command + args as a local process: this venv's Python, local ports."""
    argv = [*container.get("command", []), *container.get("args", [])]
    argv = [substitutions.get(arg, arg) for arg in argv]
    for variable, value in substitutions.items():
        argv = [arg.replace(variable, value) for arg in argv]
    if argv[0] == "python":
        return [sys.executable, *argv[1:]]
    return [sys.executable, "-m", argv[0], *argv[1:]]


@dataclass
class Stack:
    url: str
    env: dict[str, str]
    database_url: str
    precompute: list[str] = field(default_factory=list)
    session_cookie: str = ""
    """A signed-in operator's session: the progress page and /api/runs are for operators."""
    token: str = ""
    """A service's API key (``create_service_token``): writes need authentication, and a service may rate for
    MovieLens users."""

    def sql(self, query: str, params: tuple = ()) -> list[tuple]:
        with psycopg2.connect(self.database_url) as conn, conn.cursor() as cursor:
            cursor.execute(query, params)
            return cursor.fetchall()

    def get(self, path: str) -> tuple[int, bytes]:
        headers = {"Host": "localhost"} | ({"Authorization": f"Token {self.token}"} if self.token else {})
        if self.session_cookie:
            headers["Cookie"] = self.session_cookie
        request = urllib.request.Request(self.url + path, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def get_json(self, path: str):
        import json

        status, body = self.get(path)
        assert status == 200, body[:500]
        return json.loads(body)

    def post_json(self, path: str, payload: dict) -> tuple[int, dict]:
        import json

        request = urllib.request.Request(
            self.url + path, data=json.dumps(payload).encode(), method="POST",
            headers={"Content-Type": "application/json", "Host": "localhost", "Authorization": f"Token {self.token}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def run(self, argv: list[str], timeout: float = 300) -> subprocess.CompletedProcess:
        result = subprocess.run(argv, cwd=REPO, env=self.env, capture_output=True, text=True, timeout=timeout)
        assert result.returncode == 0, f"{argv} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        return result

    def served_movie_ids(self, user_id: int, n: int) -> list[int]:
        body = self.get_json(f"/api/users/{user_id}/recommendations?n={n}")
        return [item["movie"]["movie_id"] for item in body["recommendations"]]

    def table_top_rows(self, user_id: int, n: int) -> list[int]:
        rows = self.sql(
            """SELECT s.movie_id FROM recommender_userscore s
               JOIN progress_activerun a ON a.run_id = s.run_id
               WHERE s.user_id = %s
                 AND s.movie_id NOT IN (SELECT movie_id FROM recommender_rating WHERE user_id = %s)
               ORDER BY s.rank LIMIT %s""",
            (user_id, user_id, n),
        )
        return [movie_id for (movie_id,) in rows]

    def active_run_id(self) -> int | None:
        return self.sql("SELECT run_id FROM progress_activerun")[0][0]


def _wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.fixture(scope="module")
def stack(movielens_small):
    """A fresh database with ml-latest-small and one published run; the web server and the worker running."""
    from django.conf import settings

    database = ScratchDatabase("e2e")

    redis_url = redis_url_with_db(settings.REDIS_URL, int(os.environ.get("E2E_REDIS_DB", "14")))
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    port = free_port()
    env = os.environ | {
        "APP_ENV": "local", "DATABASE_URL": database.url, "REDIS_URL": redis_url,
        "DJANGO_SETTINGS_MODULE": "web.settings", "PROGRESS_STALL_SECONDS": "3", "PRECOMPUTE_WORKERS": "2",
    }
    stack = Stack(url=f"http://127.0.0.1:{port}", env=env, database_url=database.dsn)
    substitutions = {"0.0.0.0:8000": f"127.0.0.1:{port}", "$(PRECOMPUTE_WORKERS)": "2"}

    stack.run(_local_command(_container("app/web-deployment.yaml", "migrate", init=True), substitutions))
    stack.run([sys.executable, "manage.py", "load_movielens", str(movielens_small)])
    stack.session_cookie = operator_session_cookie(env)
    stack.token = stack.run([sys.executable, "manage.py", "create_service_token", "e2e"]).stdout.splitlines()[-1]
    stack.precompute = _local_command(_container("job/precompute-cronjob.yaml", "precompute"), substitutions)
    stack.run(stack.precompute)

    logs = Path(os.environ.get("E2E_LOG_DIR", "/tmp")) / database.name
    logs.mkdir(parents=True, exist_ok=True)
    processes = []
    for manifest, container in [("app/web-deployment.yaml", "web"), ("app/worker-deployment.yaml", "worker")]:
        argv = _local_command(_container(manifest, container), substitutions)
        out = open(logs / f"{container}.log", "w")
        processes.append(subprocess.Popen(argv, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True))
    try:
        _wait_until(lambda: _answers(stack), 30, "the web server to answer /healthz")
        yield stack
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        database.drop()


def _answers(stack: Stack) -> bool:
    try:
        return stack.get("/healthz")[0] == 200
    except OSError:
        return False


def test_ingest_counts_match_ml_latest_small(stack):
    """The loaded set has exactly the published counts of ml-latest-small."""
    (movies, ratings, users, tags), = stack.sql(
        """SELECT (SELECT count(*) FROM recommender_movie), (SELECT count(*) FROM recommender_rating),
                  (SELECT count(DISTINCT user_id) FROM recommender_rating), (SELECT count(*) FROM recommender_tag)"""
    )
    assert (movies, ratings, users, tags) == (9742, 100836, 610, 3683)


def test_probes_answer_through_the_web_server(stack):
    """/healthz and /readyz answer 200 with the Host header the Kubernetes probes send."""
    assert stack.get("/healthz")[0] == 200
    assert stack.get("/readyz")[0] == 200


def test_served_list_for_user_1_is_the_score_tables_top_rows(stack):
    """The page and the API show user 1 exactly the active run's top rows, in rank order."""
    expected = stack.table_top_rows(1, 20)
    assert len(expected) == 20
    assert stack.served_movie_ids(1, 20) == expected
    status, html = stack.get("/users/1/")
    assert status == 200
    section = html.decode().split('id="recommendations"', 1)[1].split("</ol>", 1)[0]
    assert [int(m) for m in re.findall(r'href="/movies/(\d+)/', section)] == expected


def test_a_rating_changes_the_served_list_once_the_worker_has_run(stack):
    """Rating the top movie stores it at once and the worker rewrites the user's rows without it."""
    user_id = 7
    before = stack.served_movie_ids(user_id, 10)
    top = before[0]
    run_id = stack.active_run_id()
    status, body = stack.post_json(f"/api/users/{user_id}/ratings", {"movie_id": top, "rating": 2.0})
    assert status == 201, body
    assert stack.sql("SELECT rating FROM recommender_rating WHERE user_id = %s AND movie_id = %s", (user_id, top)) == [(2.0,)]

    def refreshed() -> bool:
        rows = stack.sql("SELECT movie_id FROM recommender_userscore WHERE run_id = %s AND user_id = %s", (run_id, user_id))
        return bool(rows) and top not in {m for (m,) in rows}

    _wait_until(refreshed, 30, "the worker to rewrite the user's rows")
    after = stack.served_movie_ids(user_id, 10)
    assert top not in after and after != before
    rated = {m for (m,) in stack.sql("SELECT movie_id FROM recommender_rating WHERE user_id = %s", (user_id,))}
    assert not rated & set(stack.served_movie_ids(user_id, 100))


def test_killing_the_precompute_leaves_the_previous_run_serving(stack):
    """A precompute killed mid-run never becomes active, is shown stalled, and users keep their lists."""
    serving = stack.active_run_id()
    before = stack.served_movie_ids(1, 20)
    env = stack.env | {"PRECOMPUTE_TEST_CHUNK_DELAY": "0.5"}
    job = subprocess.Popen(
        [*stack.precompute, "--chunk-size", "50"], cwd=REPO, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        _wait_until(
            lambda: stack.sql("SELECT count(*) FROM progress_run WHERE status = 'running' AND stage = 'compute'")[0][0] == 1,
            60, "the new run to reach the compute stage",
        )
    finally:
        os.killpg(job.pid, signal.SIGKILL)
        job.wait()
    (killed,), = stack.sql("SELECT max(id) FROM progress_run")
    assert stack.active_run_id() == serving
    assert stack.served_movie_ids(1, 20) == before

    def shown_stalled() -> bool:
        runs = {run["id"]: run for run in stack.get_json("/api/runs")["runs"]}
        return runs[killed]["status"] == "stalled"

    _wait_until(shown_stalled, 15, "the killed run to show as stalled")
    # The page draws its tables from /api/runs (checked above); the browser tests watch it show "stalled".
    assert stack.get("/progress/")[0] == 200
