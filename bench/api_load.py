"""The recommendation API under concurrent load, and the time from a rating to the refreshed list.

``python -m bench --api`` (part of ``make bench``) or ``python -m bench.api_load``:

1. a database of its own (``movielens_apibench`` on the embedded PostgreSQL, or
   ``BENCH_DATABASE_URL``) with ml-latest-small and one published precompute run,
   and Redis database ``BENCH_REDIS_DB`` (default 10) of the embedded Redis;
2. the web server as the web Deployment runs it (``python -m web.serve``, 2 workers x 2 threads) and the RQ
   worker, as local processes on loopback;
3. a bounded load client (asyncio and :mod:`bench.http_client`, one process,
   stops itself after a fixed time): 50 concurrent clients on
   ``GET /api/users/<id>/recommendations?n=10`` for random MovieLens users,
   first closed-loop (each client sends its next request when the last
   answered: the saturation throughput), then paced at half that rate (the
   latency a served user sees when the site is busy but not overloaded) and at
   three quarters of it (the headroom). The baseline, measured in the same
   run, is ``GET /healthz`` (no database: the server, Django and the client's
   own cost);
4. rating to refreshed list: ``POST`` a rating with a service's token, then poll the
   user's refresh status (what the page's "updating" banner polls) until the
   worker has rewritten the user's rows;
5. conditional requests: the same closed loop, each request naming the
   list's current ETag in ``If-None-Match`` (read just before), so each is
   answered ``304 Not Modified``, beside the full request of the same run;
6. CPU per request: a closed-loop phase of up to ``CPU_REQUESTS`` requests of each
   endpoint, with the user + system CPU time that the web server (main process and workers),
   the database's server processes and the load client spent, read from
   ``/proc`` before and after. Other work on a shared machine moves it far
   less than latency and throughput (docs/benchmarks.md), so set against a
   figure of the same run it shows what a change to the read path saved.

Each figure is the median of ``--runs`` runs. The load client shares the two
cores with the web server and PostgreSQL, so the throughput is a floor.

The server logs at ``WARNING`` (``LOG_LEVEL``): it runs the Deployment's
command without its access log, so the per-request line of
``web.observability`` (to /dev/null here) is not part of the figures either.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import dj_database_url
import psycopg2

from bench.common import PY, REPO, SMALL
from bench.http_client import AsyncClient, HTTPError, Response

CLIENTS = 50
SECONDS = 5.0
"""Measured seconds of each load phase (after a one-second warm-up)."""
MAX_REQUESTS = 200_000
"""Hard bound on the requests of one phase, whatever the timing does."""
CPU_REQUESTS = 2_000
"""Requests of the phase that measures CPU per request (closed loop, after the timed phases)."""
PACED_SHARES = (50, 75)
"""The paced phases' rates, in percent of the closed-loop (saturation) throughput measured just before."""
PACED_WORDS = {50: "half", 75: "three quarters of"}
HEADING = "## Recommendation API under load"
T = TypeVar("T")
WEB_SERVER = ["-m", "web.serve", "--workers", "2", "--threads", "2", "--graceful-timeout", "20"]
"""The web Deployment's command (k8s/app/web-deployment.yaml) after ``python``, less its ``--bind``: 2 workers x 2 threads,
with the multi-process metrics as in production (their cost is part of the figures)."""
WORKERS, THREADS = (int(WEB_SERVER[WEB_SERVER.index(option) + 1]) for option in ("--workers", "--threads"))
"""The server's processes and threads a process: at most one database connection a thread."""


def web_server(port: int, command: str | None = None) -> list[str]:
    """The server's argv on a loopback port: :data:`WEB_SERVER`, or ``command`` (``--server``: another server to compare,
    which must take ``--bind``)."""
    return [*(shlex.split(command) if command else [PY, *WEB_SERVER]), "--bind", f"127.0.0.1:{port}"]


@dataclass
class LoadResult:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


def bench_env() -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(REPO), DJANGO_SETTINGS_MODULE="web.settings", APP_ENV="local", DEBUG="0",
               LOG_LEVEL="WARNING")
    sys.path.insert(0, str(REPO))
    from web import embedded  # after the path is set: this file also runs as a script from anywhere

    data_dir = Path(env.get("EMBEDDED_DATA_DIR", embedded.default_data_dir()))
    if "BENCH_DATABASE_URL" in env:
        env["DATABASE_URL"] = env["BENCH_DATABASE_URL"]
    else:
        env["DATABASE_URL"] = embedded.postgres_url(data_dir, "movielens_apibench")
    if "BENCH_REDIS_URL" in env:
        env["REDIS_URL"] = env["BENCH_REDIS_URL"]
    else:
        base = embedded.redis_url(data_dir)
        db = int(env.get("BENCH_REDIS_DB", "10"))
        env["REDIS_URL"] = base.rsplit("db=", 1)[0] + f"db={db}" if base.startswith("unix://") else base.rsplit("/", 1)[0] + f"/{db}"
    return env


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run([PY, "manage.py", *args], cwd=REPO, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}")
    return result.stdout


SETUP = """
import redis
from django.conf import settings
from django.contrib.auth.models import User
from web.accounts.models import ApiToken
from web.accounts.permissions import SERVICES, join_group
from web.recommender.models import Movie
from web.runs.models import Run
service, _ = User.objects.get_or_create(username="bench")
join_group(service, SERVICES)
ApiToken.objects.revoke_all(service)  # only digests are stored: each benchmark issues itself a new key
print(ApiToken.objects.issue(service), Movie.objects.count(), Run.objects.active() is not None)
redis.Redis.from_url(settings.REDIS_URL).flushdb()
"""


def prepare(env: dict[str, str], algorithm: str | None) -> str:
    """Migrate, load ml-latest-small once, publish a run; returns a service's API key."""
    manage(env, "migrate", "--noinput", "-v", "0")
    token, movies, active = manage(env, "shell", "-c", SETUP).strip().splitlines()[-1].split()
    if int(movies) == 0:
        manage(env, "load_movielens", str(SMALL), "--quiet")
    if active != "True" or algorithm:
        job = [PY, "-m", "jobs.precompute", *(["--algorithm", algorithm] if algorithm else [])]
        subprocess.run(job, cwd=REPO, env=env, check=True, capture_output=True)
    return token


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(argv: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def wait_until_up(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"the web server did not answer {url}/healthz within {timeout} s")


@dataclass
class Planned:
    """One request of a load client: what to send, which statuses count as success, and what to do on success."""

    endpoint: str
    """The label its latency and errors are reported under."""
    method: str
    url: str
    body: dict | None = None
    headers: dict[str, str] | None = None
    ok: tuple[int, ...] = (200,)
    on_success: Callable[[Response], None] | None = None


@dataclass
class Samples:
    """What :func:`drive` saw: latencies per endpoint after the warm-up, errors and requests of the whole run."""

    latencies: dict[str, list[float]] = field(default_factory=dict)
    sent_at: dict[str, list[float]] = field(default_factory=dict)
    """``time.perf_counter()`` when each request of ``latencies`` was sent (the same order)."""
    errors: dict[str, int] = field(default_factory=dict)
    requests: dict[str, int] = field(default_factory=dict)
    error_examples: list[str] = field(default_factory=list)
    measured_seconds: float = 0.0

    def p99_within(self, start: float, end: float) -> tuple[tuple[int, float], tuple[int, float]]:
        """(requests, p99 ms) of all endpoints for the requests sent in ``[start, end)`` of ``perf_counter()``, and for the rest."""
        inside, outside = [], []
        for name, latencies in self.latencies.items():
            for sent, latency in zip(self.sent_at[name], latencies, strict=True):
                (inside if start <= sent < end else outside).append(latency)
        return _count_p99(inside), _count_p99(outside)

    def result(self, endpoint: str | None = None) -> LoadResult:
        """Requests/s and latency percentiles of one endpoint (or of all together)."""
        names = [endpoint] if endpoint else list(self.latencies)
        latencies = sorted(x for name in names for x in self.latencies.get(name, []))
        if not latencies:
            raise SystemExit(f"the load client completed no request{' of ' + endpoint if endpoint else ''}")
        return LoadResult(
            rps=len(latencies) / self.measured_seconds,
            p50_ms=1000 * latencies[len(latencies) // 2],
            p99_ms=_p99_ms(latencies),
            errors=sum(self.errors.get(name, 0) for name in names),
        )


def _p99_ms(ordered: list[float]) -> float:
    return 1000 * ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def _count_p99(latencies: list[float]) -> tuple[int, float]:
    return len(latencies), _p99_ms(sorted(latencies)) if latencies else float("nan")


async def drive(
    base: str,
    plan: Callable[[int, random.Random], Planned],
    clients: int,
    seconds: float,
    rate: float | None = None,
    warmup: float = 1.0,
    stop_at: Callable[[float], float] | None = None,
    max_requests: int = MAX_REQUESTS,
) -> Samples:
    """``clients`` concurrent clients on loopback, each sending ``plan(client index, rng)`` until the time is up.

    Closed loop (each client sends its next request when the last answered),
    or paced to ``rate`` requests/s in all. The run lasts ``warmup + seconds``,
    or until ``stop_at(default end)`` when given (re-read before every
    request, so a caller can extend a run until something has happened; it
    must return a bounded time). Latencies are kept after the warm-up;
    errors (a status not in ``Planned.ok``, or no answer) are counted for the
    whole run. At most ``max_requests`` are sent, whatever the timing does.
    """
    samples = Samples()
    sent = 0
    async with AsyncClient(base, timeout=10, headers={"Host": "localhost"}) as client:
        begin = time.perf_counter()
        warm_until, planned_end = begin + warmup, begin + warmup + seconds

        async def one_client(index: int) -> None:
            nonlocal sent
            rng = random.Random(index)
            interval = clients / rate if rate else 0.0
            next_at = begin + rng.random() * interval
            while sent < max_requests:
                if interval:
                    delay = next_at - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    next_at += interval
                started = time.perf_counter()
                if started >= (stop_at(planned_end) if stop_at else planned_end):
                    return
                sent += 1
                request = plan(index, rng)
                try:
                    response = await client.request(request.method, request.url, json=request.body, headers=request.headers)
                    ok = response.status_code in request.ok
                    problem = f"{request.method} {request.url}: {response.status_code} {response.text[:200]}"
                except HTTPError as error:
                    ok, problem = False, f"{request.method} {request.url}: {type(error).__name__} {error}"
                done = time.perf_counter()
                name = request.endpoint
                samples.requests[name] = samples.requests.get(name, 0) + 1
                if ok and request.on_success is not None:
                    request.on_success(response)
                if not ok:
                    samples.errors[name] = samples.errors.get(name, 0) + 1
                    if len(samples.error_examples) < 10:
                        samples.error_examples.append(problem)
                if started >= warm_until:
                    samples.latencies.setdefault(name, []).append(done - started)
                    samples.sent_at.setdefault(name, []).append(started)

        await asyncio.gather(*(one_client(i) for i in range(clients)))
        samples.measured_seconds = max(time.perf_counter() - warm_until, 1e-9)
    return samples


def _get(path: str, etags: dict[str, str] | None, headers: dict[str, str] | None = None) -> Planned:
    """``GET path`` (with ``headers``); with ``etags``, conditional on the path's ETag, and only a 304 counts as success."""
    if etags is None:
        return Planned("get", "GET", path, headers=headers)
    return Planned("get", "GET", path, headers={**(headers or {}), "If-None-Match": etags[path]}, ok=(304,))


async def _load(base: str, paths: list[str], rate: float | None, etags: dict[str, str] | None = None) -> LoadResult:
    """``CLIENTS`` concurrent clients on ``GET`` of random ``paths`` for ``SECONDS`` (+1 s warm-up), conditional with ``etags``."""
    samples = await drive(base, lambda _, rng: _get(rng.choice(paths), etags), CLIENTS, SECONDS, rate)
    return samples.result("get")


def run_coroutine(coroutine: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` in a thread of its own, so it also works where this thread runs an event loop (Playwright in tests)."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, coroutine).result()


def load(base: str, paths: list[str], rate: float | None = None, etags: dict[str, str] | None = None) -> LoadResult:
    return run_coroutine(_load(base, paths, rate, etags))


def current_etags(base: str, paths: list[str]) -> dict[str, str]:
    """Each path's ETag as the server gives it now (ratings in between change some: read them just before use)."""
    etags = {}
    for path in paths:
        request = urllib.request.Request(base + path, headers={"Host": "localhost"})
        with urllib.request.urlopen(request, timeout=10) as response:
            etags[path] = response.headers["ETag"]
    if not all(etags.values()):
        raise SystemExit("the recommendations carry no ETag")
    return etags


def _request(url: str, method: str = "GET", body: dict | None = None, token: str = "") -> dict:
    headers = {"Host": "localhost", "Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Token {token}"
    data = json.dumps(body).encode() if body is not None else None
    with urllib.request.urlopen(urllib.request.Request(url, data=data, method=method, headers=headers), timeout=10) as r:
        return json.loads(r.read())


def rating_to_refresh(base: str, token: str, user_id: int) -> float:
    """Seconds from sending a rating of the user's top movie to the worker having refreshed the user's list."""
    top = _request(f"{base}/api/users/{user_id}/recommendations?n=1")["recommendations"][0]["movie"]["movie_id"]
    started = time.perf_counter()
    written = _request(f"{base}/api/users/{user_id}/ratings", "POST", {"movie_id": top, "rating": 1.0}, token)
    if written["refresh"] != "queued":
        raise SystemExit(f"the refresh was not queued: {written}")
    deadline = started + 30
    while time.perf_counter() < deadline:
        if _request(f"{base}/users/{user_id}/status")["updating"] is False:
            return time.perf_counter() - started
        time.sleep(0.005)
    raise SystemExit(f"user {user_id}'s list was not refreshed within 30 s: is the worker running?")


@dataclass
class CpuPerRequest:
    """CPU milliseconds one request costs each side, measured from ``/proc`` (a shared machine moves them far less than the throughput)."""

    web_ms: float
    postgres_ms: float | None
    """None when the database server's processes are not on this machine (``BENCH_DATABASE_URL`` elsewhere)."""
    client_ms: float


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds the process has used so far; None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (the web server's workers, the postmaster's backends)."""
    try:  # the kernel's list, when it keeps one: far cheaper than reading every process's stat
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        pass
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return found


def _postmaster(env: dict[str, str]) -> tuple[int | None, str]:
    """The database server's postmaster pid if it runs on this machine (else None), and the database name."""
    params = dj_database_url.parse(env["DATABASE_URL"])
    with psycopg2.connect(dbname=params["NAME"], user=params["USER"], password=params["PASSWORD"] or None,
                          host=params["HOST"], port=params["PORT"] or None) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (backend,) = cursor.fetchone()
        try:
            parent = int(Path(f"/proc/{backend}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except OSError:
            parent = None  # the server runs elsewhere
    conn.close()
    return parent, params["NAME"]


class _CpuMeter:
    """CPU seconds of a changing set of processes: the web server's, and the backends of one database.

    Connections are recycled (``CONN_MAX_AGE``), so backends come and go
    during a phase: the set is sampled every 0.1 s and each process counts
    from its first sample (0 if it started during the phase) to its last.
    """

    def __init__(self, web: int, postmaster: int | None, database: str) -> None:
        self.postmaster, self.title = postmaster, f" {database} "
        self.workers = [("web", pid) for pid in [web, *_children(web)]]
        self.first: dict[tuple[str, int], float] = {}
        self.last: dict[tuple[str, int], float] = {}
        self.own_seconds = 0.0
        """CPU the sampling itself cost the client process (not a cost of the requests)."""

    def sample(self, starting: bool = False) -> None:
        began = time.process_time()
        pids = list(self.workers)
        for pid in _children(self.postmaster) if self.postmaster else []:
            try:
                if self.title in Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"):
                    pids.append(("postgres", pid))
            except OSError:
                continue
        for key in pids:
            seconds = _cpu_seconds(key[1])
            if seconds is not None:
                self.first.setdefault(key, seconds if starting else 0.0)
                self.last[key] = seconds
        self.own_seconds += time.process_time() - began

    def seconds(self, side: str) -> float:
        return sum(self.last[key] - self.first[key] for key in self.last if key[0] == side)


def cpu_per_request(base: str, web: subprocess.Popen, env: dict[str, str], paths: list[str],
                    etags: dict[str, str] | None = None, headers: dict[str, str] | None = None) -> CpuPerRequest:
    """Closed-loop requests of random ``paths`` (at most :data:`CPU_REQUESTS`, conditional with ``etags``, with
    ``headers``) and the CPU each side spent per request."""
    postmaster, database = _postmaster(env)
    meter = _CpuMeter(web.pid, postmaster, database)
    meter.sample(starting=True)
    client_before = time.process_time()
    plan = lambda _, rng: _get(rng.choice(paths), etags, headers)  # noqa: E731

    async def phase() -> Samples:
        async def sampler() -> None:
            while True:
                await asyncio.sleep(0.1)
                meter.sample()

        sampling = asyncio.create_task(sampler())
        try:
            return await drive(base, plan, CLIENTS, SECONDS, warmup=0.0, max_requests=CPU_REQUESTS)
        finally:
            sampling.cancel()

    samples = asyncio.run(phase())
    meter.sample()
    requests = max(1, sum(samples.requests.values()))
    client_ms = 1000 * (time.process_time() - client_before - meter.own_seconds) / requests
    return CpuPerRequest(
        web_ms=1000 * meter.seconds("web") / requests,
        postgres_ms=1000 * meter.seconds("postgres") / requests if postmaster else None,
        client_ms=client_ms,
    )


def measure(runs: int, algorithm: str | None = None, server: str | None = None) -> str:
    env = bench_env()
    token = prepare(env, algorithm)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    web = start(web_server(port, server), env)
    worker = start([PY, "manage.py", "rqworker"], env)
    try:
        wait_until_up(base)
        users = [f"/api/users/{u}/recommendations?n=10" for u in range(1, 611)]
        results: dict[str, list[LoadResult]] = {"rec": [], "health": [], "rec-304": []}
        for share in PACED_SHARES:
            results[f"rec-paced-{share}"], results[f"health-paced-{share}"] = [], []
        refresh: list[float] = []
        cpu: dict[str, list[CpuPerRequest]] = {"rec": [], "health": [], "rec-304": [], "rec-token": []}
        rng = random.Random(7)
        for _ in range(runs):
            results["rec"].append(load(base, users))
            results["rec-304"].append(load(base, users, etags=current_etags(base, users)))
            results["health"].append(load(base, ["/healthz"]))
            for share in PACED_SHARES:
                rate = results["rec"][-1].rps * share / 100
                results[f"rec-paced-{share}"].append(load(base, users, rate=rate))
                results[f"health-paced-{share}"].append(load(base, ["/healthz"], rate=rate))
            for _ in range(3):
                refresh.append(rating_to_refresh(base, token, rng.randrange(1, 611)))
            cpu["rec"].append(cpu_per_request(base, web, env, users))
            cpu["rec-304"].append(cpu_per_request(base, web, env, users, current_etags(base, users)))
            cpu["rec-token"].append(cpu_per_request(base, web, env, users, headers={"Authorization": f"Token {token}"}))
            cpu["health"].append(cpu_per_request(base, web, env, ["/healthz"]))
    finally:
        stop(web)
        stop(worker)
    cpu["rec-unstored"], results["rec-unstored"] = unstored(env, users, runs, server)
    return table(results, refresh, runs, cpu, server)


def unstored(env: dict[str, str], users: list[str], runs: int,
             server: str | None = None) -> tuple[list[CpuPerRequest], list[LoadResult]]:
    """The full request with no stored answers (``ANSWER_CACHE_BYTES=0``: every read runs the list's query and
    builds its JSON), on a server of its own: what the first read of each list costs, and a server whose reads never repeat."""
    env = dict(env, ANSWER_CACHE_BYTES="0")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    web = start(web_server(port, server), env)
    try:
        wait_until_up(base)
        loads = [load(base, users) for _ in range(runs)]
        return [cpu_per_request(base, web, env, users) for _ in range(runs)], loads
    finally:
        stop(web)


def _median(results: list[LoadResult], field: str) -> float:
    return statistics.median(getattr(r, field) for r in results)


CPU_ROWS = (
    ("health", "`/healthz` (baseline: no database)"),
    ("rec", "recommendations, anonymous (the stored answer, early: web/recommender/middleware.py)"),
    ("rec-304", "the same with `If-None-Match` of the current list: 304"),
    ("rec-token", "the same with a service's token (full path: authentication, permissions, DRF; the stored answer)"),
    ("rec-unstored", "the same, anonymous, on a server with `ANSWER_CACHE_BYTES=0` (every read runs the list's query): a first read"),
)


def _server_ms(c: CpuPerRequest) -> float:
    return c.web_ms + (c.postgres_ms or 0.0)


def _cpu_table(cpu: dict[str, list[CpuPerRequest]]) -> list[str]:
    """CPU per request of each kind, and the throughput those costs allow on the machine's cores if nothing else ran."""

    def median(kind: str, field: str) -> float:
        values = [getattr(c, field) for c in cpu[kind] if getattr(c, field) is not None]
        return statistics.median(values) if values else 0.0

    full = statistics.median(_server_ms(c) for c in cpu["rec"])
    lines = [
        f"CPU per request, the cost behind those figures (median of {len(cpu['rec'])} closed-loop phases of up to "
        f"{CPU_REQUESTS:,} requests each, user + system time of the processes from `/proc`, which other work on the machine "
        f"moves far less than the throughput). The ceiling is what {os.cpu_count()} cores would serve if they ran nothing "
        "but the server, PostgreSQL and this load client: cores / (server + client CPU per request).",
        "",
        "| request | web server | PostgreSQL | server | load client | ceiling | server CPU vs the anonymous read |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for kind, words in CPU_ROWS:
        if not cpu.get(kind):
            continue
        server = statistics.median(_server_ms(c) for c in cpu[kind])
        client = median(kind, "client_ms")
        ceiling = 1000 * (os.cpu_count() or 1) / (server + client)
        lines.append(
            f"| {words} | {median(kind, 'web_ms'):.2f} ms | {median(kind, 'postgres_ms'):.2f} ms | {server:.2f} ms | "
            f"{client:.2f} ms | {ceiling:,.0f}/s | {server / full:.2f}x |"
        )
    if cpu.get("rec-304"):
        unstored = [_server_ms(c) for c in cpu.get("rec-unstored", [])]
        conditional = statistics.median(_server_ms(c) for c in cpu["rec-304"])
        lines += ["", (
            f"The 304 costs the server {conditional:.2f} ms, the anonymous read {full:.2f} ms: {full / conditional:.1f}x"
            + (f"; against a read that runs the list's query ({statistics.median(unstored):.2f} ms), "
               f"{statistics.median(unstored) / conditional:.1f}x cheaper." if unstored else ".")
        )]
    return lines


def _paced_row(share: int, paced: list[LoadResult], health_paced: list[LoadResult]) -> str:
    return (
        f"| {CLIENTS} clients paced at {PACED_WORDS[share]} the saturation rate | the same | {_median(paced, 'rps'):.0f} | "
        f"{_median(paced, 'p50_ms'):.1f} ms | {_median(paced, 'p99_ms'):.1f} ms | "
        f"{_median(health_paced, 'p50_ms'):.1f} / {_median(health_paced, 'p99_ms'):.1f} ms | "
        f"{_median(paced, 'p99_ms') / _median(health_paced, 'p99_ms'):.2f}x |"
    )


def _conditional_row(conditional: list[LoadResult], full: list[LoadResult], health: list[LoadResult]) -> str:
    return (
        f"| {CLIENTS} clients, closed loop, `If-None-Match` of the current list (each answered 304) | the same | "
        f"{_median(conditional, 'rps'):.0f} ({_median(conditional, 'rps') / _median(full, 'rps'):.1f}x the full request) | "
        f"{_median(conditional, 'p50_ms'):.1f} ms | {_median(conditional, 'p99_ms'):.1f} ms | "
        f"{_median(health, 'p50_ms'):.1f} / {_median(health, 'p99_ms'):.1f} ms | "
        f"{_median(conditional, 'p99_ms') / _median(health, 'p99_ms'):.2f}x |"
    )


def table(results: dict[str, list[LoadResult]], refresh: list[float], runs: int,
          cpu: dict[str, list[CpuPerRequest]] | None = None, server: str | None = None) -> str:
    rec, health = results["rec"], results["health"]
    served_by = (f"`{server}` (`--server`, not the web Deployment's command)" if server else
                 "the web server as the web Deployment runs it (`python -m web.serve`: granian, 2 workers x 2 threads, "
                 "connections kept alive)")
    errors = sum(r.errors for rs in results.values() for r in rs)
    lines = [
        HEADING,
        "",
        f"Made by `python -m bench --api` (part of `make bench`): {served_by} on ml-latest-small with the embedded PostgreSQL, {CLIENTS} concurrent clients of an "
        f"asyncio load client (`bench/http_client.py`) on loopback, {SECONDS:g} s per phase after a 1 s warm-up; median of {runs} runs, "
        f"measured {time.strftime('%Y-%m-%d')} on {os.cpu_count()} cores shared by the server, PostgreSQL and the client "
        f"(a shared, noisy machine). Failed requests: {errors}.",
        "",
        "| load | endpoint | requests/s | p50 | p99 | baseline `/healthz` p50 / p99 | ratio p99 |",
        "|---|---|---:|---:|---:|---:|---:|",
        f"| {CLIENTS} clients, closed loop (saturation) | `/api/users/<id>/recommendations?n=10` | {_median(rec, 'rps'):.0f} | "
        f"{_median(rec, 'p50_ms'):.1f} ms | {_median(rec, 'p99_ms'):.1f} ms | "
        f"{_median(health, 'p50_ms'):.1f} / {_median(health, 'p99_ms'):.1f} ms ({_median(health, 'rps'):.0f}/s) | "
        f"{_median(rec, 'p99_ms') / _median(health, 'p99_ms'):.2f}x |",
        *(_paced_row(share, results[f"rec-paced-{share}"], results[f"health-paced-{share}"]) for share in PACED_SHARES),
        *([_conditional_row(results["rec-304"], rec, health)] if results.get("rec-304") else []),
        "",
        f"Rating to refreshed list (POST a rating, then poll `/users/<id>/status` until the worker has rewritten "
        f"the user's rows): median {1000 * statistics.median(refresh):.0f} ms, max {1000 * max(refresh):.0f} ms "
        f"over {len(refresh)} ratings.",
        "",
        "With closed-loop clients the latency is the queue in front of the server (Little's law: "
        "clients / throughput), so the p99 target of the issue is read off the paced rows: at half the saturation "
        "rate (busy, not overloaded) and at three quarters of it (the headroom left).",
    ]
    if results.get("rec-unstored"):
        unstored = results["rec-unstored"]
        lines += ["", f"With no stored answers (`ANSWER_CACHE_BYTES=0`, a server of its own, same closed loop): "
                      f"{_median(unstored, 'rps'):.0f} requests/s, p50 {_median(unstored, 'p50_ms'):.1f} ms, "
                      f"p99 {_median(unstored, 'p99_ms'):.1f} ms."]
    if cpu and cpu["rec"]:
        lines += ["", *_cpu_table(cpu)]
    return "\n".join(lines)


def write_section(text: str, doc: Path = REPO / "docs" / "benchmarks.md", heading: str = HEADING, title: str = "# Benchmarks") -> None:
    """Replace (or append) the section under ``heading`` of ``doc`` with ``text``, leaving the rest as it is."""
    current = doc.read_text() if doc.exists() else title + "\n"
    if heading in current:
        before, after = current.split(heading, 1)
        rest = after.split("\n## ", 1)
        current = before.rstrip("\n") + "\n\n" + text + ("\n\n## " + rest[1] if len(rest) > 1 else "\n")
    else:
        current = current.rstrip("\n") + "\n\n" + text + "\n"
    doc.write_text(current)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (the median is reported)")
    parser.add_argument("--write", action="store_true", help="also write the section into docs/benchmarks.md")
    parser.add_argument("--algorithm", help="precompute a run of this algorithm first (default: keep the active run)")
    parser.add_argument("--server", help="another web server's command to measure instead, as one string taking --bind "
                        "(say, to compare a gunicorn line with the same client); not with --write")
    args = parser.parse_args(argv)
    if args.server and args.write:
        parser.error("--server measures another server: its figures do not belong in docs/benchmarks.md")
    run_and_report(args.runs, args.write, args.algorithm, args.server)


def run_and_report(runs: int, write: bool, algorithm: str | None = None, server: str | None = None) -> None:
    if not (SMALL / "ratings.csv").is_file():
        raise SystemExit(f"ml-latest-small not found at {SMALL}; set MOVIELENS_DIR")
    text = measure(runs, algorithm, server)
    print(text)
    if write:
        write_section(text)


if __name__ == "__main__":
    main()
