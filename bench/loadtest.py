"""Load test: a mix of reads, rating writes and events while a precompute run publishes, and nothing acknowledged lost.

``make loadtest`` (``python -m bench.loadtest --write``):

1. a scratch database of its own (created on the embedded PostgreSQL, or on
   the server of ``DATABASE_URL``, and dropped at the end) with
   ml-latest-small, one published precompute run, and ``--accounts`` signed-up
   accounts, each with its profile and API token; Redis database
   ``LOADTEST_REDIS_DB`` (default 11) of the same Redis;
2. the web server as the web Deployment runs it (``python -m web.serve``, 2 workers x 2 threads) and the RQ worker,
   as local processes on loopback;
3. the bounded asyncio load client of :mod:`bench.api_load` (``drive``),
   paced to ``--rate`` requests/s in all for ``--seconds``: recommendation
   reads of random MovieLens users, catalogue searches, rating writes
   (``POST /api/users/<own profile>/ratings``, each client with its own
   account's token, so one user's writes are sequential and the last
   acknowledged value is well defined), and events of MovieLens users
   (``POST /api/events``, a JSON array of 1 to :data:`EVENTS_PER_POST` events
   with new ids, from a browsing service's token);
4. ``python -m jobs.precompute`` starts a third of the way in and publishes a
   new run while the load goes on (the load is extended, within
   ``--max-seconds``, until the job has finished plus two seconds);
5. afterwards every acknowledged (2xx) rating is looked up in the database:
   a (user, movie) written twice counts once, with its last acknowledged value;
   and every event answered ``accepted`` is looked up by its ``event_id``: it
   must be stored exactly once (and no event the client sent but never saw
   acknowledged may be stored twice either).

It reports requests/s and p50/p99 per endpoint, the errors (any non-2xx or
unanswered request), the peak PostgreSQL connections of each process kind,
and the ratings and events acknowledged, stored and lost. The short version of the same
run is tests/reliability/test_load_short.py (in ``make test``).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2

from bench import api_load
from bench.api_load import THREADS, WORKERS, Planned, Samples, drive, free_port, run_coroutine, start, stop, wait_until_up, web_server

REPO = Path(__file__).resolve().parent.parent
PY = sys.executable
DOC = REPO / "docs" / "reliability.md"
HEADING = "## Load\n"
SECONDS, RATE, ACCOUNTS = 60.0, 40.0, 16
"""Defaults: measured seconds, requests/s in all (about a quarter of the API's saturation rate), accounts (= clients)."""
MAX_SECONDS = 300.0
"""Hard bound on one load run, however long the precompute takes."""
MIX = (("recommendations", 0.45), ("search", 0.25), ("rate", 0.15), ("events", 0.15))
"""Share of each kind of request."""
SEARCH_TERMS = ("star", "the", "love", "war", "man", "toy", "lord", "matrix", "god", "dark", "american", "life")
EVENTS_PER_POST = 5
"""The most events of one ``POST /api/events`` of the load (1 to this many, of random types)."""
EVENT_TYPES = ("watched", "watchlist_add", "watchlist_remove", "not_interested")
RATED_MOVIES = 40
"""Writes go to the most rated movies, few enough that a user rates some of them twice."""
APP_NAMES = {"web": "loadtest-web", "worker": "loadtest-worker", "job": "loadtest-job"}
"""``application_name`` of each process kind's PostgreSQL connections (libpq's ``PGAPPNAME``)."""

ACCOUNTS_SCRIPT = """
import json, os
from django.contrib.auth.models import User
from web.accounts.models import ApiToken
from web.accounts.permissions import SERVICES, join_group
from web.recommender.models import Profile
out = []
for i in range(int(os.environ["LOADTEST_ACCOUNTS"])):
    account = User.objects.create_user(f"load-{i}", password=None)
    out.append([Profile.objects.for_account(account).user_id, ApiToken.objects.issue(account)])
service = User.objects.create_user("load-service", password=None)
join_group(service, SERVICES)
print(json.dumps({"writers": out, "service": ApiToken.objects.issue(service)}))
"""


CONNECTIONS = """### Connections: the arithmetic

Every process keeps a bounded number of PostgreSQL connections, so a burst of requests queues in the web server
instead of opening connections until PostgreSQL refuses them (`max_connections`, 100 by default and on the
embedded server):

| process (k8s manifest) | connections each | why |
|---|---:|---|
| web pod: `python -m web.serve`, 2 workers x 2 threads (`k8s/app/web-deployment.yaml`) | 4 | one persistent connection per worker thread: `CONN_MAX_AGE` (60 s) reuses it across requests, `CONN_HEALTH_CHECKS` replaces a broken one before use (a request's first read, the early answer to an anonymous list read or the token lookup of an API request, skips that check and is retried once on a new connection instead: `web/dbreads.py`) |
| worker pod: `manage.py rqworker` (`k8s/app/worker-deployment.yaml`) | 1 | the parent closes its connection before forking; one work horse at a time holds one |
| precompute job | 3 | its own, the heartbeat thread's and the run lock's; the forked pool's processes open none (`pg_stat_activity` may show one more while it builds an index: a parallel maintenance worker of PostgreSQL, counted against `max_worker_processes`, not `max_connections`) |
| operators (psql, migrate, the load test's sampler) | a few | |

With one replica each that is 4 + 1 + 3 = 8, far below 100: the web tier may grow to about 23 replicas
(4 connections each) before the bound needs a pooler such as PgBouncer (in session mode: the app prepares
statements per session, docs/decisions.md "API"). Checked by
`.venv/bin/python -m pytest -q tests/reliability/test_connections.py` (in `make test`): 40 closed-loop clients
against the web server never show more than 4 web connections in `pg_stat_activity`, and never more than 4 different
ones (they are reused, not opened per request); the RQ worker forks with no connection open in the parent,
and the precompute pool with only the run lock's (checked with `os.register_at_fork`). The lock's session must
stay open for the lock to hold, so `jobs/precompute/runlock.py` closes each forked child's copy of its socket
at the fork (not `close()`, which would end the parent's session); a test forks a child and shows its copy
closed and the parent's lock still held after the child exits. The short version of the load run above is
`.venv/bin/python -m pytest -q tests/reliability/test_load_short.py` (in `make test`: 4 s at 10 requests/s
around a publish, 0 errors, every acknowledged rating stored, every accepted event stored exactly once)."""


@dataclass
class Stack:
    """The web server + worker on a scratch database: where to send requests and whom to write as."""

    base: str
    env: dict[str, str]
    dsn: str
    writers: list[tuple[int, str]]
    """(profile user id, API token) of each account; client ``i`` writes as ``writers[i % len]``."""
    readers: list[int]
    movies: list[int]
    service_token: str = ""
    """A browsing service's API key: it sends the events."""

    def sql(self, query: str, params: tuple = ()) -> list[tuple]:
        with psycopg2.connect(self.dsn) as conn, conn.cursor() as cursor:
            cursor.execute(query, params)
            return cursor.fetchall()

    def active_run(self) -> int | None:
        return self.sql("SELECT run_id FROM progress_activerun")[0][0]


def _run(argv: list[str], env: dict[str, str], timeout: float = 600) -> str:
    result = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}")
    return result.stdout


@contextmanager
def scratch_stack(movielens: Path, accounts: int = ACCOUNTS, redis_db: int = 11, logs: Path | None = None) -> Iterator[Stack]:
    """A scratch database with ``movielens`` loaded and one run published; the web server and the worker serving it."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "web.settings")
    sys.path.insert(0, str(REPO))
    # Here, not at the top: the settings module is chosen just above, and tests.helpers imports Django models.
    import django
    from django.apps import apps

    if not apps.ready:
        django.setup()
    import redis
    from django.conf import settings

    from tests.helpers import ScratchDatabase, redis_url_with_db

    database = ScratchDatabase("loadtest")
    redis_url = redis_url_with_db(settings.REDIS_URL, redis_db)
    redis.Redis.from_url(redis_url).flushdb()
    env = dict(os.environ, APP_ENV="local", DEBUG="0", DATABASE_URL=database.url, REDIS_URL=redis_url,
               DJANGO_SETTINGS_MODULE="web.settings", PYTHONPATH=str(REPO))
    processes: list[subprocess.Popen] = []
    try:
        _run([PY, "manage.py", "migrate", "--noinput", "-v", "0"], env)
        _run([PY, "manage.py", "load_movielens", str(movielens), "--quiet"], env)
        made = json.loads(_run([PY, "manage.py", "shell", "-c", ACCOUNTS_SCRIPT], env | {"LOADTEST_ACCOUNTS": str(accounts)}).splitlines()[-1])
        writers = made["writers"]
        _run([PY, "-m", "jobs.precompute"], env | {"PGAPPNAME": APP_NAMES["job"]})
        port = free_port()
        stack = Stack(base=f"http://127.0.0.1:{port}", env=env, dsn=database.dsn,
                      writers=[tuple(w) for w in writers], readers=[], movies=[], service_token=made["service"])
        stack.readers = [u for (u,) in stack.sql("SELECT DISTINCT user_id FROM recommender_rating ORDER BY 1")]
        stack.movies = [m for (m,) in stack.sql(
            "SELECT movie_id FROM recommender_rating GROUP BY movie_id ORDER BY count(*) DESC, movie_id LIMIT %s",
            (RATED_MOVIES,))]
        for kind, argv in (("web", web_server(port)), ("worker", [PY, "manage.py", "rqworker"])):
            processes.append(_start_logged(argv, env | {"PGAPPNAME": APP_NAMES[kind]}, logs, kind))
        wait_until_up(stack.base)
        yield stack
    finally:
        for process in processes:
            stop(process)
        redis.Redis.from_url(redis_url).flushdb()
        database.drop()


def _start_logged(argv: list[str], env: dict[str, str], logs: Path | None, name: str) -> subprocess.Popen:
    if logs is None:
        return start(argv, env)
    logs.mkdir(parents=True, exist_ok=True)
    with open(logs / f"{name}.log", "w") as out:
        return subprocess.Popen(argv, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


@dataclass
class Ledger:
    """Every acknowledged write: the last acknowledged value of each (user, movie), and the events answered accepted."""

    acknowledged: int = 0
    last: dict[tuple[int, int], float] = field(default_factory=dict)
    events_sent: int = 0
    events_accepted: set[str] = field(default_factory=set)
    events_other: list[str] = field(default_factory=list)
    """Events of a 200 answer that were not ``accepted`` (each has a new id, so there should be none)."""

    def record(self, user_id: int, movie_id: int, value: float) -> None:
        self.acknowledged += 1
        self.last[(user_id, movie_id)] = value

    def record_events(self, response) -> None:
        for result in response.json()["results"]:
            if result["status"] == "accepted":
                self.events_accepted.add(result["event_id"])
            else:
                self.events_other.append(f"{result['event_id']}: {result['status']} {result.get('reason', '')}")


def mixed_plan(stack: Stack, ledger: Ledger):
    """The request plan of :func:`bench.api_load.drive`: the :data:`MIX` of reads, searches and own-profile writes."""
    kinds, weights = zip(*MIX, strict=True)
    posts = itertools.count()

    def plan(index: int, rng: random.Random) -> Planned:
        kind = rng.choices(kinds, weights)[0]
        if kind == "events":
            post = next(posts)
            events = [_event(f"load-{post}-{k}", rng, stack) for k in range(rng.randint(1, EVENTS_PER_POST))]
            ledger.events_sent += len(events)
            return Planned("events", "POST", "/api/events", body=events,
                           headers={"Authorization": f"Token {stack.service_token}"}, on_success=ledger.record_events)
        if kind == "recommendations":
            return Planned("recommendations", "GET", f"/api/users/{rng.choice(stack.readers)}/recommendations?n=10")
        if kind == "search":
            return Planned("search", "GET", f"/api/movies?search={rng.choice(SEARCH_TERMS)}")
        user_id, token = stack.writers[index % len(stack.writers)]
        movie_id, value = rng.choice(stack.movies), rng.randint(1, 10) / 2
        return Planned(
            "rate", "POST", f"/api/users/{user_id}/ratings", body={"movie_id": movie_id, "rating": value},
            headers={"Authorization": f"Token {token}"}, ok=(201,),
            on_success=lambda response: ledger.record(user_id, movie_id, value),
        )

    return plan


def _event(event_id: str, rng: random.Random, stack: Stack) -> dict:
    """One event of a MovieLens user on a popular movie, now."""
    type_ = rng.choice(EVENT_TYPES)
    event = {"event_id": event_id, "user_id": rng.choice(stack.readers), "movie_id": rng.choice(stack.movies),
             "type": type_, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    if type_ == "watched":
        event["fraction"] = round(rng.random(), 2)
    return event


@dataclass
class LoadRun:
    """The outcome of :func:`run_load`."""

    samples: Samples
    ledger: Ledger
    run_before: int | None
    run_after: int | None
    job_seconds: tuple[float, float]
    """When the precompute started and finished, in seconds after the load began."""
    job_output: str
    job_returncode: int
    peak_connections: dict[str, int]
    load_seconds: float
    """How long the load ran, warm-up included (the publish must fall inside it)."""
    began: float = 0.0
    """``time.perf_counter()`` when the load began (``job_seconds`` count from it, the samples' ``sent_at`` do not)."""
    stored: int = 0
    lost: list[str] = field(default_factory=list)
    unacknowledged_rows: int = 0
    events_stored_once: int = 0
    events_lost: list[str] = field(default_factory=list)
    """Accepted events not stored exactly once."""
    events_unacknowledged: int = 0
    """Events of the load stored but never answered accepted (a request that timed out after its commit)."""


async def _load_with_publish(stack: Stack, ledger: Ledger, seconds: float, rate: float, clients: int,
                             publish_at: float, max_seconds: float
                             ) -> tuple[Samples, tuple[float, float], str, int, dict[str, int], float, float]:
    begin = time.perf_counter()
    job: dict[str, object] = {}
    peaks = dict.fromkeys(APP_NAMES, 0)
    sampling = True

    async def precompute() -> None:
        await asyncio.sleep(publish_at)
        job["start"] = time.perf_counter() - begin
        process = await asyncio.create_subprocess_exec(
            PY, "-m", "jobs.precompute", cwd=REPO, env=stack.env | {"PGAPPNAME": APP_NAMES["job"]},
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        try:
            out, _ = await asyncio.wait_for(process.communicate(), timeout=max_seconds)
        except TimeoutError:
            process.kill()
            out, _ = await process.communicate()
        job.update(end=time.perf_counter() - begin, output=out.decode(errors="replace"), returncode=process.returncode)

    def count_connections() -> dict[str, int]:
        rows = stack.sql("SELECT application_name, count(*) FROM pg_stat_activity WHERE datname = current_database() "
                         "GROUP BY 1")
        return dict(rows)

    async def sample_connections() -> None:
        while sampling:
            counts = await asyncio.to_thread(count_connections)
            for kind, name in APP_NAMES.items():
                peaks[kind] = max(peaks[kind], counts.get(name, 0))
            await asyncio.sleep(0.25)

    def stop_at(planned_end: float) -> float:
        hard_end = begin + max_seconds
        if "end" not in job:  # keep the load on until the run is published
            return hard_end
        return min(hard_end, max(planned_end, begin + float(job["end"]) + 2.0))

    job_task = asyncio.create_task(precompute())
    sampler = asyncio.create_task(sample_connections())
    samples = await drive(stack.base, mixed_plan(stack, ledger), clients, seconds, rate=rate, stop_at=stop_at)
    load_seconds = time.perf_counter() - begin
    await job_task
    sampling = False
    await sampler
    return (samples, (float(job["start"]), float(job["end"])), str(job["output"]), int(job["returncode"]), peaks,
            load_seconds, begin)


def run_load(stack: Stack, seconds: float = SECONDS, rate: float = RATE, clients: int | None = None,
             publish_at: float | None = None, max_seconds: float = MAX_SECONDS) -> LoadRun:
    """The mixed load for ``seconds`` with a precompute started at ``publish_at``; then every acknowledged rating checked."""
    clients = clients or len(stack.writers)
    publish_at = seconds / 3 if publish_at is None else publish_at
    ledger = Ledger()
    run_before = stack.active_run()
    samples, job_seconds, output, returncode, peaks, load_seconds, began = run_coroutine(
        _load_with_publish(stack, ledger, seconds, rate, clients, publish_at, max_seconds))
    result = LoadRun(samples, ledger, run_before, stack.active_run(), job_seconds, output, returncode, peaks, load_seconds,
                     began)
    verify_ratings(stack, result)
    verify_events(stack, result)
    return result


def verify_ratings(stack: Stack, result: LoadRun) -> None:
    """Count the acknowledged ratings found in the database with their last value; list the lost ones."""
    writers = [user_id for user_id, _ in stack.writers]
    rows = stack.sql("SELECT user_id, movie_id, rating FROM recommender_rating WHERE user_id = ANY(%s)", (writers,))
    stored = {(user_id, movie_id): rating for user_id, movie_id, rating in rows}
    for pair, value in result.ledger.last.items():
        if pair not in stored:
            result.lost.append(f"user {pair[0]} movie {pair[1]}: acknowledged {value}, not in the database")
        elif abs(stored[pair] - value) > 1e-9:
            result.lost.append(f"user {pair[0]} movie {pair[1]}: acknowledged {value} last, the database has {stored[pair]}")
        else:
            result.stored += 1
    result.unacknowledged_rows = len(set(stored) - set(result.ledger.last))


def verify_events(stack: Stack, result: LoadRun) -> None:
    """Every event answered ``accepted`` must be stored exactly once, found by its ``event_id``."""
    rows = stack.sql("SELECT event_id, count(*) FROM recommender_event WHERE event_id LIKE %s GROUP BY event_id", ("load-%",))
    stored = dict(rows)
    for event_id in sorted(result.ledger.events_accepted):
        count = stored.get(event_id, 0)
        if count == 1:
            result.events_stored_once += 1
        else:
            result.events_lost.append(f"event {event_id}: accepted, stored {count} times")
    result.events_lost += [f"event {event_id}: stored {count} times" for event_id, count in stored.items() if count > 1
                           and event_id not in result.ledger.events_accepted]
    result.events_unacknowledged = len(set(stored) - result.ledger.events_accepted)


def _publish_tail(result: LoadRun) -> str:
    """Whether the publish is the tail: the p99 of the requests sent while the precompute ran, and of the others."""
    (during, p99_during), (others, p99_others) = result.samples.p99_within(
        result.began + result.job_seconds[0], result.began + result.job_seconds[1])
    return (f"- p99 of all requests sent while the precompute ran (its processes take both cores): {p99_during:.1f} ms "
            f"over {during} requests; of the other {others}: {p99_others:.1f} ms.")


def table(result: LoadRun, seconds: float, rate: float, clients: int, command: str) -> str:
    samples = result.samples
    errors = sum(samples.errors.values())
    load = os.getloadavg()
    lines = [
        HEADING.rstrip("\n"),
        "",
        f"Made by `{command}`: the web server as the web Deployment runs it (`python -m web.serve`, 2 workers x 2 threads) and the RQ worker on a scratch "
        f"database with ml-latest-small (embedded PostgreSQL and Redis), {clients} clients of the asyncio load "
        f"client of `bench/api_load.py` (`bench/http_client.py`) on loopback, paced to {rate:g} requests/s in all for {seconds:g} s after a 1 s "
        f"warm-up (extended until the precompute had finished); measured {time.strftime('%Y-%m-%d')} on "
        f"{os.cpu_count()} cores shared by the server, PostgreSQL, the worker, the job and the client (a shared, "
        f"noisy machine: load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} when it finished). The mix: "
        + ", ".join(f"{share:.0%} {name}" for name, share in MIX)
        + f"; each client writes ratings as its own account (token) to its own profile, on the {RATED_MOVIES} most rated "
        f"movies, and events (1 to {EVENTS_PER_POST} a request, of the four types, for random MovieLens users) as a "
        "browsing service.",
        "",
        "| endpoint | requests | requests/s | p50 | p99 | errors |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    labels = {"recommendations": "`GET /api/users/<id>/recommendations?n=10`", "search": "`GET /api/movies?search=<word>`",
              "rate": "`POST /api/users/<profile>/ratings`", "events": "`POST /api/events` (JSON array)"}
    for name, _ in MIX:
        figure = samples.result(name)
        lines.append(f"| {labels[name]} | {samples.requests.get(name, 0)} | {figure.rps:.1f} | {figure.p50_ms:.1f} ms | "
                     f"{figure.p99_ms:.1f} ms | {samples.errors.get(name, 0)} |")
    total = samples.result()
    lines += [
        f"| all | {sum(samples.requests.values())} | {total.rps:.1f} | {total.p50_ms:.1f} ms | {total.p99_ms:.1f} ms | {errors} |",
        "",
        f"- Publish in the middle: `python -m jobs.precompute` ran from {result.job_seconds[0]:.1f} s to "
        f"{result.job_seconds[1]:.1f} s of the load, which ran {result.load_seconds:.1f} s (exit {result.job_returncode}); "
        f"the active run went from "
        f"{result.run_before} to {result.run_after}.",
        _publish_tail(result),
        f"- Ratings: {result.ledger.acknowledged} writes acknowledged (201) for {len(result.ledger.last)} distinct "
        f"(user, movie) pairs; {result.stored} of them are in the database with their last acknowledged value; "
        f"lost: {len(result.lost)}; rows of the writers' profiles that were never acknowledged: {result.unacknowledged_rows}.",
        f"- Events: {result.ledger.events_sent} sent, {len(result.ledger.events_accepted)} answered accepted; "
        f"{result.events_stored_once} of them stored exactly once (looked up by event_id); lost or stored twice: "
        f"{len(result.events_lost)}; stored without an acknowledgement: {result.events_unacknowledged}; answered other "
        f"than accepted: {len(result.ledger.events_other)}.",
        f"- Errors (non-2xx or no answer): {errors}.",
        f"- Offered {rate:g} requests/s, served {total.rps:.1f}/s (a client waits for its previous answer, so on a busy "
        "machine the pace can fall behind).",
        f"- Peak PostgreSQL connections to the database (sampled every 0.25 s from `pg_stat_activity`): web "
        f"{result.peak_connections['web']} (bound {WORKERS} workers x {THREADS} threads = {WORKERS * THREADS}), worker {result.peak_connections['worker']}, "
        f"precompute {result.peak_connections['job']}.",
        "",
        CONNECTIONS,
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=SECONDS, help="measured seconds of load (default %(default)s)")
    parser.add_argument("--rate", type=float, default=RATE, help="requests/s in all (default %(default)s)")
    parser.add_argument("--accounts", type=int, default=ACCOUNTS, help="accounts, one client each (default %(default)s)")
    parser.add_argument("--write", action="store_true", help="also write the figures into docs/reliability.md (## Load)")
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.rate <= 0 or args.accounts < 1:
        parser.error("--seconds and --rate must be positive and --accounts at least 1")
    if args.seconds > MAX_SECONDS - 30:
        parser.error(f"--seconds must be at most {MAX_SECONDS - 30:g}: a load run is bounded by {MAX_SECONDS:g} s")
    if not (api_load.SMALL / "ratings.csv").is_file():
        raise SystemExit(f"ml-latest-small not found at {api_load.SMALL}; set MOVIELENS_DIR")
    redis_db = int(os.environ.get("LOADTEST_REDIS_DB", "11"))
    with scratch_stack(api_load.SMALL, args.accounts, redis_db) as stack:
        result = run_load(stack, args.seconds, args.rate)
    command = "make loadtest" + (f" LOADTEST_ARGS='--seconds {args.seconds:g} --rate {args.rate:g}'"
                                 if (args.seconds, args.rate) != (SECONDS, RATE) else "")
    text = table(result, args.seconds, args.rate, args.accounts, command)
    print(text)
    for problem in [*result.samples.error_examples, *result.lost[:10], *result.events_lost[:10], *result.ledger.events_other[:10]]:
        print("  ", problem, file=sys.stderr)
    if result.job_returncode != 0:
        print(result.job_output[-3000:], file=sys.stderr)
    if args.write:
        api_load.write_section(text, DOC, HEADING, "# Reliability")
    published = result.run_after != result.run_before and result.job_seconds[1] < result.load_seconds
    failed = (sum(result.samples.errors.values()) or result.lost or result.events_lost or result.ledger.events_other
              or result.job_returncode or not published)
    if failed:
        raise SystemExit("load test FAILED: errors, lost ratings or events, or no publish (see above)")


if __name__ == "__main__":
    main()
