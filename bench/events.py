"""Events in: bulk ingest at ml-25m-shape table sizes, one event POST under load, event to refreshed list.

``python -m bench.events`` (part of ``python -m bench --api``, so of ``make bench``):

1. bulk ingest, on a database of its own (``movielens_bench_events`` on the
   embedded PostgreSQL, or ``BENCH_EVENTS_DATABASE_URL``) whose users and
   movies tables have ml-25m's sizes (162,541 users with 20 ratings each from
   ``generate_movielens``, 59,047 movies; generated once under
   ``.local/bench``), and whose events table grows with every run:

   * ``manage.py load_events`` of a CSV file of :data:`COMMAND_EVENTS` new
     events, a whole process, against the floor any loader pays: a bare
     ``COPY`` of the same file into an unindexed table (measured alternately);
   * ``POST /api/events`` with JSON arrays of 1,000 new events, from
     :data:`BATCH_CLIENTS` concurrent clients to the web server as the web
     Deployment runs it (``python -m web.serve``, 2 workers x 2 threads), for :data:`api_load.SECONDS` s;

2. on ml-latest-small with a published run (the API benchmark's database,
   :func:`bench.api_load.prepare`), the web server and the RQ worker:

   * one event per ``POST /api/events`` from 50 clients, closed loop (the
     saturation rate), then paced at half of it, beside ``/healthz`` paced at
     the same rate (the load client and pacing of :mod:`bench.api_load`);
   * event to refreshed list: a ``watched`` event of the user's top movie,
     then polling the list until the movie is gone and the user's refresh
     status until the worker has rewritten the list, beside a rating's
     (:func:`bench.api_load.rating_to_refresh`) in the same run.

Both servers run with the service's write limit raised
(``RATING_WRITES_PER_SERVICE_ACCOUNT``): the benchmark measures the server, not
the limit. Each figure is the median of ``--runs`` runs.

``--command-only`` runs just the ``load_events`` part (each run printed with the
load average, the events table's size before and after), writing nothing: a
quicker measure while working on the bulk path.
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import dj_database_url
import numpy as np
import pandas as pd
import psycopg2

from bench import api_load
from bench.api_load import CLIENTS, LoadResult, Planned, _request, drive, run_coroutine
from bench.common import PY, REPO, SMALL, Timing, sql, timed

HEADING = "## Events in (bench/events.py)"
DATA = Path(os.environ.get("BENCH_EVENTS_DATA", REPO / ".local" / "bench" / "events-shape"))
USERS, MOVIES, RATINGS_PER_USER = 162_541, 59_047, 20
"""ml-25m's users and movies; 20 ratings each (ml-25m's minimum) keep the set quick to make and load."""
COMMAND_EVENTS = int(os.environ.get("BENCH_EVENTS_COMMAND_EVENTS", "500000"))
"""Events in each file ``load_events`` loads."""
BATCH = 1_000
"""Events in one JSON array (the most ``POST /api/events`` takes)."""
BATCH_CLIENTS = 4
"""Concurrent clients sending batches: two per web worker process, so a worker never waits for the client."""
TYPES = np.array(["watched", "watchlist_add", "watchlist_remove", "not_interested"])
TYPE_SHARES = [0.7, 0.15, 0.05, 0.1]
"""The mix of a browsing service's events: mostly watches."""
WRITE_LIMIT = {"RATING_WRITES_PER_SERVICE_ACCOUNT": "100000000"}
EPOCH = 1_700_000_000
"""Events happen in the year after this Unix time (November 2023)."""


def shape_env() -> dict[str, str]:
    """The API benchmark's environment (Redis database, log level) on the events database, with the write limit raised."""
    env = api_load.bench_env() | WRITE_LIMIT
    if "BENCH_EVENTS_DATABASE_URL" in os.environ:
        env["DATABASE_URL"] = os.environ["BENCH_EVENTS_DATABASE_URL"]
    else:
        from web import embedded  # api_load.bench_env put the repository on the path

        data_dir = Path(env.get("EMBEDDED_DATA_DIR", embedded.default_data_dir()))
        env["DATABASE_URL"] = embedded.postgres_url(data_dir, "movielens_bench_events")
    return env


def prepare_shape(env: dict[str, str], log) -> tuple[str, np.ndarray, np.ndarray]:
    """Generate and load the set once; a service's API key, and the user and movie ids events may name."""
    if not (DATA / "ratings.csv").is_file():
        log(f"generating {USERS:,} users x {MOVIES:,} movies into {DATA}")
        api_load.manage(env, "generate_movielens", str(DATA), "--users", str(USERS), "--movies", str(MOVIES),
                        "--ratings", str(USERS * RATINGS_PER_USER), "-v", "0")
    api_load.manage(env, "migrate", "--noinput", "-v", "0")
    (movies,), = sql(env, "SELECT count(*) FROM recommender_movie")
    if movies != MOVIES:
        log("loading it (load_movielens)")
        sql(env, "TRUNCATE recommender_event, recommender_rating, recommender_tag, recommender_movie CASCADE")
        api_load.manage(env, "load_movielens", str(DATA), "--quiet")
    token = api_load.manage(env, "shell", "-c", api_load.SETUP).strip().splitlines()[-1].split()[0]
    users = np.array([u for (u,) in sql(env, "SELECT DISTINCT user_id FROM recommender_rating")], dtype=np.int64)
    movie_ids = np.array([m for (m,) in sql(env, "SELECT movie_id FROM recommender_movie")], dtype=np.int64)
    return token, users, movie_ids


def random_events(n: int, prefix: str, users: np.ndarray, movies: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
    """``n`` events with ids ``<prefix>-<i>``, random known users and movies, the type mix of :data:`TYPE_SHARES`."""
    types = rng.choice(TYPES, size=n, p=TYPE_SHARES)
    fraction = np.where(types == "watched", np.round(rng.random(n), 2), np.nan)
    seconds = EPOCH + rng.integers(0, 365 * 86_400, size=n)
    return pd.DataFrame({
        "event_id": np.char.add(f"{prefix}-", np.arange(n).astype(str)),
        "user_id": rng.choice(users, size=n),
        "movie_id": rng.choice(movies, size=n),
        "type": types,
        "time": np.char.add(np.datetime_as_string(seconds.astype("datetime64[s]")), "Z"),
        "fraction": fraction,
    })


def copy_floor(env: dict[str, str], path: Path) -> float:
    """Seconds a bare COPY of the file takes into an unindexed temporary table: the floor of any loader."""
    params = dj_database_url.parse(env["DATABASE_URL"])
    started = time.perf_counter()
    with psycopg2.connect(dbname=params["NAME"], user=params["USER"], password=params["PASSWORD"] or None,
                          host=params["HOST"], port=params["PORT"] or None) as conn, conn.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE floor (event_id varchar(100), user_id integer, movie_id integer, "
                       "type varchar(20), time timestamptz, fraction double precision) ON COMMIT DROP")
        with path.open() as handle:
            cursor.copy_expert("COPY floor FROM STDIN WITH (FORMAT csv, HEADER)", handle)
    conn.close()
    return time.perf_counter() - started


@dataclass
class BulkFigures:
    command: list[Timing]
    floor: list[float]
    api_rate: list[float]
    """Events/s through the API."""
    api_p50_ms: list[float]
    api_errors: int
    events_before: int
    events_after: int


def command_runs(env: dict[str, str], users: np.ndarray, movies: np.ndarray, runs: int, log) -> tuple[list[Timing], list[float]]:
    """``manage.py load_events`` of a new file of :data:`COMMAND_EVENTS` events, then a bare COPY of it, ``runs`` times."""
    stamp = int(time.time())
    rng = np.random.default_rng(stamp)
    command, floor = [], []
    path = DATA.parent / "events-bench.csv"
    for run in range(runs):
        random_events(COMMAND_EVENTS, f"cmd{stamp}-{run}", users, movies, rng).to_csv(path, index=False)
        log(f"load_events of {COMMAND_EVENTS:,} events, run {run + 1}")
        command.append(timed([PY, "manage.py", "load_events", str(path), "-v", "0"], env))
        floor.append(copy_floor(env, path))
        log(f"  {COMMAND_EVENTS / command[-1].wall:,.0f} events/s ({command[-1].wall:.1f} s), bare COPY "
            f"{COMMAND_EVENTS / floor[-1]:,.0f} rows/s; load average {os.getloadavg()[0]:.1f}")
    path.unlink()
    return command, floor


def bulk(runs: int, log) -> BulkFigures:
    env = shape_env()
    token, users, movies = prepare_shape(env, log)
    (before,), = sql(env, "SELECT count(*) FROM recommender_event")
    command, floor = command_runs(env, users, movies, runs, log)

    stamp = int(time.time())
    port = api_load.free_port()
    base = f"http://127.0.0.1:{port}"
    web = api_load.start(api_load.web_server(port), env)
    rates, p50, errors = [], [], 0
    try:
        api_load.wait_until_up(base)
        for run in range(runs):
            log(f"POST /api/events in batches of {BATCH:,}, run {run + 1}")
            samples = run_coroutine(drive(base, _batch_plan(token, users, movies, f"api{stamp}-{run}"), BATCH_CLIENTS,
                                          api_load.SECONDS))
            result = samples.result("batch")
            rates.append(result.rps * BATCH)
            p50.append(result.p50_ms)
            errors += result.errors
            if samples.error_examples:
                log(f"errors: {samples.error_examples[:3]}")
    finally:
        api_load.stop(web)
        api_load.manage(env, "shell", "-c", "import redis; from django.conf import settings; "
                                            "redis.Redis.from_url(settings.REDIS_URL).flushdb()")
    (after,), = sql(env, "SELECT count(*) FROM recommender_event")
    return BulkFigures(command, floor, rates, p50, errors, before, after)


def _batch_plan(token: str, users: np.ndarray, movies: np.ndarray, prefix: str):
    """A plan for :func:`bench.api_load.drive`: each request a JSON array of :data:`BATCH` new events."""
    counter = itertools.count()
    headers = {"Authorization": f"Token {token}"}

    def plan(index: int, rng: random.Random) -> Planned:
        batch = next(counter)
        frame = random_events(BATCH, f"{prefix}-{batch}", users, movies, np.random.default_rng(batch))
        body = [{key: value for key, value in row.items() if key != "fraction" or value == value}
                for row in frame.to_dict("records")]
        for event in body:
            event["user_id"], event["movie_id"] = int(event["user_id"]), int(event["movie_id"])
        return Planned("batch", "POST", "/api/events", body=body, headers=headers)

    return plan


@dataclass
class ServedFigures:
    saturation: list[LoadResult]
    paced: list[LoadResult]
    health_paced: list[LoadResult]
    event_refresh: list[float]
    rating_refresh: list[float]


def served(runs: int, log) -> ServedFigures:
    env = api_load.bench_env() | WRITE_LIMIT
    token = api_load.prepare(env, None)
    movies = [m for (m,) in sql(env, "SELECT movie_id FROM recommender_movie")]
    port = api_load.free_port()
    base = f"http://127.0.0.1:{port}"
    web = api_load.start(api_load.web_server(port), env)
    worker = api_load.start([PY, "manage.py", "rqworker"], env)
    figures = ServedFigures([], [], [], [], [])
    stamp = int(time.time())
    rng = random.Random(stamp)
    try:
        api_load.wait_until_up(base)
        for run in range(runs):
            log(f"one event per POST, 50 clients, run {run + 1}")
            plan = _single_plan(token, movies, f"one{stamp}-{run}")
            figures.saturation.append(run_coroutine(drive(base, plan, CLIENTS, api_load.SECONDS)).result("event"))
            rate = figures.saturation[-1].rps / 2
            _settle(base)  # the closed loop leaves refreshes queued: the paced phase starts from the steady state it measures
            figures.paced.append(run_coroutine(drive(base, plan, CLIENTS, api_load.SECONDS, rate=rate)).result("event"))
            figures.health_paced.append(api_load.load(base, ["/healthz"], rate=rate))
            _settle(base)
            for attempt in range(3):
                user = rng.randrange(1, 611)
                figures.event_refresh.append(event_to_refresh(base, token, user, f"refresh{stamp}-{run}-{attempt}"))
                figures.rating_refresh.append(api_load.rating_to_refresh(base, token, rng.randrange(1, 611)))
    finally:
        api_load.stop(web)
        api_load.stop(worker)
    return figures


def _single_plan(token: str, movies: list[int], prefix: str):
    counter = itertools.count()
    headers = {"Authorization": f"Token {token}"}
    types, shares = TYPES.tolist(), TYPE_SHARES

    def plan(index: int, rng: random.Random) -> Planned:
        type_ = rng.choices(types, shares)[0]
        event = {"event_id": f"{prefix}-{next(counter)}", "user_id": rng.randrange(1, 611), "movie_id": rng.choice(movies),
                 "type": type_, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        if type_ == "watched":
            event["fraction"] = round(rng.random(), 2)
        return Planned("event", "POST", "/api/events", body=event, headers=headers)

    return plan


def _settle(base: str, timeout: float = 60) -> None:
    """Wait until the worker has worked off the refreshes the load queued, so they do not delay the next measure."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(_request(f"{base}/users/{u}/status")["updating"] is False for u in range(1, 611, 7)):
            return
        time.sleep(0.5)


def event_to_refresh(base: str, token: str, user_id: int, event_id: str) -> float:
    """Seconds from sending a watch of the user's top movie to the worker having served the refreshed list.

    The movie leaves the served list at once (the read-time filter); the
    figure is the time until the worker has rewritten the user's rows.
    """
    top = _request(f"{base}/api/users/{user_id}/recommendations?n=1")["recommendations"][0]["movie"]["movie_id"]
    event = {"event_id": event_id, "user_id": user_id, "movie_id": top, "type": "watched",
             "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    started = time.perf_counter()
    answer = _request(f"{base}/api/events", "POST", event, token)
    if answer["accepted"] != 1:
        raise SystemExit(f"the event was not accepted: {answer}")
    deadline = started + 30
    gone = False
    while time.perf_counter() < deadline:
        if not gone:
            listed = _request(f"{base}/api/users/{user_id}/recommendations?n=10")["recommendations"]
            gone = all(item["movie"]["movie_id"] != top for item in listed)
            if not gone:
                raise SystemExit(f"user {user_id}'s list still shows movie {top} after it was watched")
        if _request(f"{base}/users/{user_id}/status")["updating"] is False:
            return time.perf_counter() - started
        time.sleep(0.005)
    raise SystemExit(f"user {user_id}'s list was not refreshed within 30 s: is the worker running?")


def table(bulk_figures: BulkFigures, served_figures: ServedFigures, runs: int) -> str:
    b, s = bulk_figures, served_figures
    command_rate = statistics.median(COMMAND_EVENTS / t.wall for t in b.command)
    floor_rate = statistics.median(COMMAND_EVENTS / f for f in b.floor)
    api_rate = statistics.median(b.api_rate)
    med = lambda results, name: statistics.median(getattr(r, name) for r in results)  # noqa: E731
    event_ms, rating_ms = 1000 * statistics.median(s.event_refresh), 1000 * statistics.median(s.rating_refresh)
    load = os.getloadavg()
    errors = b.api_errors + sum(r.errors for r in (*s.saturation, *s.paced))
    return "\n".join([
        HEADING,
        "",
        f"Made by `python -m bench.events` (part of `make bench`), median of {runs} runs, measured "
        f"{time.strftime('%Y-%m-%d')} on {os.cpu_count()} cores shared by the server, PostgreSQL and the client "
        f"(load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} when it finished). "
        f"Bulk ingest: a database with ml-25m's {USERS:,} users ({RATINGS_PER_USER} ratings each) and {MOVIES:,} movies, "
        f"its events table growing from {b.events_before:,} to {b.events_after:,} rows during the runs; events are "
        f"70 % watches (with a fraction), 15 % watchlist adds, 5 % removes, 10 % not interested, of random users "
        f"and movies. Failed requests: {errors}.",
        "",
        "| what | figure | baseline (same run) | baseline figure | ratio | aim |",
        "|---|---:|---|---:|---:|---|",
        f"| `load_events` of a {COMMAND_EVENTS:,}-event CSV (whole process: start-up, checks, COPY into a staging "
        f"table, unknown ids, `INSERT` of the events not stored yet) | {command_rate:,.0f} events/s "
        f"({statistics.median(t.wall for t in b.command):.1f} s, {statistics.median(t.peak_mib for t in b.command):.0f} MiB) "
        f"| bare `COPY` of the file into an unindexed table | {floor_rate:,.0f} rows/s | {floor_rate / command_rate:.1f}x slower "
        f"| >= 100,000/s |",
        f"| `POST /api/events`, JSON arrays of {BATCH:,}, {BATCH_CLIENTS} clients, web server 2 workers | "
        f"{api_rate:,.0f} events/s (p50 {statistics.median(b.api_p50_ms):.0f} ms a batch) | `load_events` above | "
        f"{command_rate:,.0f} events/s | {command_rate / api_rate:.1f}x slower | >= 20,000/s |",
        f"| one event per `POST /api/events`, {CLIENTS} clients, closed loop (saturation), ml-latest-small | "
        f"{med(s.saturation, 'rps'):.0f} requests/s, p99 {med(s.saturation, 'p99_ms'):.1f} ms | | | | |",
        f"| the same paced at half the saturation rate | p50 {med(s.paced, 'p50_ms'):.1f} ms, "
        f"p99 {med(s.paced, 'p99_ms'):.1f} ms ({med(s.paced, 'rps'):.0f}/s) | `/healthz` at the same rate | "
        f"p50 {med(s.health_paced, 'p50_ms'):.1f} ms, p99 {med(s.health_paced, 'p99_ms'):.1f} ms | "
        f"{med(s.paced, 'p99_ms') / med(s.health_paced, 'p99_ms'):.2f}x (p99) | p99 < 15 ms |",
        f"| event to refreshed list (a watch of the user's top movie: gone from the list at once, then polled "
        f"until the worker served the refreshed list) | median {event_ms:.0f} ms, max {1000 * max(s.event_refresh):.0f} ms "
        f"over {len(s.event_refresh)} | rating to refreshed list | median {rating_ms:.0f} ms | {event_ms / rating_ms:.2f}x | < 1 s |",
        "",
        "What bounds the bulk figures is PostgreSQL's side of each event: an insert into a table with a unique index "
        "on `event_id`, the (user, movie, type) index and the primary key, and at the commit the movie foreign key's "
        "deferred check of each row, none of which the bare `COPY` baseline pays. `load_events` does no Python work "
        "per line of a well-formed CSV file (PostgreSQL copies it as it is into a staging table and the checks run "
        "set-based there); the API checks each event in plain Python and stores a batch with one statement (known "
        "users and movies, the insert, the users' change counters) and one Redis script for the refreshes "
        "(docs/decisions.md, \"Events\"). All figures share the two cores with whatever else runs: read them against "
        "their baselines of the same run.",
    ])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (the median is reported)")
    parser.add_argument("--write", action="store_true", help="also write the section into docs/benchmarks.md")
    parser.add_argument("--command-only", action="store_true",
                        help="only time load_events against the bare COPY, printing each run (for profiling; "
                             "writes nothing)")
    args = parser.parse_args(argv)

    def log(message: str) -> None:
        print(f"[events] {message}", flush=True)

    if args.command_only:
        env = shape_env()
        _, users, movies = prepare_shape(env, log)
        (before,), = sql(env, "SELECT count(*) FROM recommender_event")
        command, floor = command_runs(env, users, movies, args.runs, log)
        (after,), = sql(env, "SELECT count(*) FROM recommender_event")
        rate = statistics.median(COMMAND_EVENTS / t.wall for t in command)
        log(f"median {rate:,.0f} events/s, {statistics.median(COMMAND_EVENTS / f for f in floor) / rate:.1f}x slower "
            f"than the bare COPY; events table {before:,} -> {after:,} rows")
        return
    if not (SMALL / "ratings.csv").is_file():
        raise SystemExit(f"ml-latest-small not found at {SMALL}; set MOVIELENS_DIR")
    text = table(bulk(args.runs, log), served(args.runs, log), args.runs)
    print(text)
    if args.write:
        api_load.write_section(text, heading=HEADING)


if __name__ == "__main__":
    main()
