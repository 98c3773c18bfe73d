"""The recommendation API under concurrent load, and the time from a rating to the refreshed list.

``python -m bench --api`` (part of ``make bench``) or ``python -m bench.api_load``:

1. a database of its own (``movielens_apibench`` on the embedded PostgreSQL, or
   ``BENCH_DATABASE_URL``) with ml-latest-small and one published precompute run,
   and Redis database ``BENCH_REDIS_DB`` (default 10) of the embedded Redis;
2. gunicorn with the web Deployment's own settings (2 sync workers) and the RQ
   worker, as local processes on loopback;
3. a bounded load client (asyncio + httpx, one process, stops itself after a
   fixed time): 50 concurrent clients on ``GET /api/users/<id>/recommendations?n=10``
   for random MovieLens users, first closed-loop (each client sends its next
   request when the last answered: the saturation throughput), then paced at
   half that rate (the latency a served user sees when the site is busy but not
   overloaded). The baseline, measured in the same run, is ``GET /healthz``
   (no database: gunicorn, Django and the client's own cost);
4. rating to refreshed list: ``POST`` a rating with a staff token, then poll the
   user's refresh status (what the page's "updating" banner polls) until the
   worker has rewritten the user's rows.

Each figure is the median of ``--runs`` runs. The load client shares the two
cores with gunicorn and PostgreSQL, so the throughput is a floor.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SMALL = Path(os.environ.get("MOVIELENS_DIR", REPO.parent / "shared" / "data" / "movielens" / "ml-latest-small"))
PY = sys.executable
CLIENTS = 50
SECONDS = 5.0
"""Measured seconds of each load phase (after a one-second warm-up)."""
MAX_REQUESTS = 200_000
"""Hard bound on the requests of one phase, whatever the timing does."""
HEADING = "## Recommendation API under load"
GUNICORN = ["-m", "gunicorn", "web.wsgi:application", "--workers", "2", "--worker-tmp-dir", "/dev/shm",
            "--graceful-timeout", "20", "--timeout", "60"]
"""The web Deployment's gunicorn command (k8s/app/web-deployment.yaml), without its access log."""


@dataclass
class LoadResult:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


def bench_env() -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(REPO), DJANGO_SETTINGS_MODULE="web.settings", APP_ENV="local", DEBUG="0")
    sys.path.insert(0, str(REPO))
    from web import embedded

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
from rest_framework.authtoken.models import Token
from web.progress.models import Run
from web.recommender.models import Movie
staff, _ = User.objects.get_or_create(username="bench", defaults={"is_staff": True})
print(Token.objects.get_or_create(user=staff)[0].key, Movie.objects.count(), Run.objects.active() is not None)
redis.Redis.from_url(settings.REDIS_URL).flushdb()
"""


def prepare(env: dict[str, str], algorithm: str | None) -> str:
    """Migrate, load ml-latest-small once, publish a run; returns a staff API token."""
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
    raise SystemExit(f"gunicorn did not answer {url}/healthz within {timeout} s")


async def _load(base: str, paths: list[str], rate: float | None) -> LoadResult:
    """``CLIENTS`` concurrent clients for ``SECONDS`` (+1 s warm-up); closed-loop, or paced to ``rate`` requests/s in all."""
    import httpx

    latencies: list[float] = []
    errors = 0
    sent = 0
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=10, headers={"Host": "localhost"}) as client:
        begin = time.perf_counter()
        warm_until, stop_at = begin + 1.0, begin + 1.0 + SECONDS

        async def one_client(index: int) -> None:
            nonlocal errors, sent
            rng = random.Random(index)
            interval = CLIENTS / rate if rate else 0.0
            next_at = begin + rng.random() * interval
            while sent < MAX_REQUESTS:
                if interval:
                    delay = next_at - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    next_at += interval
                started = time.perf_counter()
                if started >= stop_at:
                    return
                sent += 1
                try:
                    response = await client.get(rng.choice(paths))
                    ok = response.status_code == 200
                except httpx.HTTPError:
                    ok = False
                done = time.perf_counter()
                if started >= warm_until:
                    latencies.append(done - started)
                    errors += not ok

        await asyncio.gather(*(one_client(i) for i in range(CLIENTS)))
    latencies.sort()
    if not latencies:
        raise SystemExit("the load client completed no request")
    return LoadResult(
        rps=len(latencies) / SECONDS,
        p50_ms=1000 * latencies[len(latencies) // 2],
        p99_ms=1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        errors=errors,
    )


def load(base: str, paths: list[str], rate: float | None = None) -> LoadResult:
    return asyncio.run(_load(base, paths, rate))


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


def measure(runs: int, algorithm: str | None = None) -> str:
    env = bench_env()
    token = prepare(env, algorithm)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    web = start([PY, *GUNICORN, "--bind", f"127.0.0.1:{port}"], env)
    worker = start([PY, "manage.py", "rqworker"], env)
    try:
        wait_until_up(base)
        users = [f"/api/users/{u}/recommendations?n=10" for u in range(1, 611)]
        results: dict[str, list[LoadResult]] = {"rec": [], "rec-paced": [], "health": [], "health-paced": []}
        refresh: list[float] = []
        rng = random.Random(7)
        for _ in range(runs):
            results["rec"].append(load(base, users))
            results["health"].append(load(base, ["/healthz"]))
            results["rec-paced"].append(load(base, users, rate=results["rec"][-1].rps / 2))
            results["health-paced"].append(load(base, ["/healthz"], rate=results["rec"][-1].rps / 2))
            for _ in range(3):
                refresh.append(rating_to_refresh(base, token, rng.randrange(1, 611)))
    finally:
        stop(web)
        stop(worker)
    return table(results, refresh, runs)


def _median(results: list[LoadResult], field: str) -> float:
    return statistics.median(getattr(r, field) for r in results)


def table(results: dict[str, list[LoadResult]], refresh: list[float], runs: int) -> str:
    rec, health = results["rec"], results["health"]
    paced, health_paced = results["rec-paced"], results["health-paced"]
    errors = sum(r.errors for rs in results.values() for r in rs)
    lines = [
        HEADING,
        "",
        f"Made by `python -m bench --api` (part of `make bench`): gunicorn as the web Deployment runs it "
        f"(2 sync workers) on ml-latest-small with the embedded PostgreSQL, {CLIENTS} concurrent clients of an "
        f"asyncio/httpx load client on loopback, {SECONDS:g} s per phase after a 1 s warm-up; median of {runs} runs, "
        f"measured {time.strftime('%Y-%m-%d')} on {os.cpu_count()} cores shared by the server, PostgreSQL and the client "
        f"(a shared, noisy machine). Failed requests: {errors}.",
        "",
        "| load | endpoint | requests/s | p50 | p99 | baseline `/healthz` p50 / p99 | ratio p99 |",
        "|---|---|---:|---:|---:|---:|---:|",
        f"| {CLIENTS} clients, closed loop (saturation) | `/api/users/<id>/recommendations?n=10` | {_median(rec, 'rps'):.0f} | "
        f"{_median(rec, 'p50_ms'):.1f} ms | {_median(rec, 'p99_ms'):.1f} ms | "
        f"{_median(health, 'p50_ms'):.1f} / {_median(health, 'p99_ms'):.1f} ms ({_median(health, 'rps'):.0f}/s) | "
        f"{_median(rec, 'p99_ms') / _median(health, 'p99_ms'):.2f}x |",
        f"| {CLIENTS} clients paced at half the saturation rate | the same | {_median(paced, 'rps'):.0f} | "
        f"{_median(paced, 'p50_ms'):.1f} ms | {_median(paced, 'p99_ms'):.1f} ms | "
        f"{_median(health_paced, 'p50_ms'):.1f} / {_median(health_paced, 'p99_ms'):.1f} ms | "
        f"{_median(paced, 'p99_ms') / _median(health_paced, 'p99_ms'):.2f}x |",
        "",
        f"Rating to refreshed list (POST a rating, then poll `/users/<id>/status` until the worker has rewritten "
        f"the user's rows): median {1000 * statistics.median(refresh):.0f} ms, max {1000 * max(refresh):.0f} ms "
        f"over {len(refresh)} ratings.",
        "",
        "With closed-loop clients the latency is the queue in front of the two workers (Little's law: "
        "clients / throughput), so the p99 target of the issue is read off the paced row.",
    ]
    return "\n".join(lines)


def write_section(text: str, doc: Path = REPO / "docs" / "benchmarks.md") -> None:
    """Replace (or append) this benchmark's own section of docs/benchmarks.md, leaving the rest as it is."""
    current = doc.read_text() if doc.exists() else "# Benchmarks\n"
    if HEADING in current:
        before, after = current.split(HEADING, 1)
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
    args = parser.parse_args(argv)
    run_and_report(args.runs, args.write, args.algorithm)


def run_and_report(runs: int, write: bool, algorithm: str | None = None) -> None:
    if not (SMALL / "ratings.csv").is_file():
        raise SystemExit(f"ml-latest-small not found at {SMALL}; set MOVIELENS_DIR")
    text = measure(runs, algorithm)
    print(text)
    if write:
        write_section(text)


if __name__ == "__main__":
    main()
