"""``python -m bench.large`` (or ``python -m bench --large``): the precompute at ml-25m shape, end to end.

What it measures, each command a whole process under ``/usr/bin/time -v``:

* the synthetic ml-25m-shaped set: ``generate_movielens --shape 25m`` (once, cached under
  ``.local/bench``) and ``load_movielens`` into an empty database (once);
* ``python -m jobs.precompute --top-n 100`` end to end (load, matrix, fit,
  compute, write, index, publish) for the default algorithm, ``--runs``
  times with 2 worker processes, and ``--single-runs`` times with 1, in
  the same invocation, so the speed-up of 2 processes over 1 on the
  compute stage is a ratio of the same data on the same machine state;
* the same for user-user Pearson (``--pearson-runs``, 2 workers);
* one user's refresh (the RQ worker's ``refresh_user``) against the active
  run, warm (the worker keeps the run's model loaded): compute only, and
  with the database read and write.

Per-stage seconds come from each run's own ``Run.metrics``. Its database is
``movielens_bench_large`` on the embedded PostgreSQL (or
``BENCH_LARGE_DATABASE_URL``). ``--write`` puts the table into
docs/benchmarks.md under its own heading, leaving the rest of the file alone.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.common import PY, REPO, Figure, bench_env, sql, timed
from scoring.registry import DEFAULT_ALGORITHM

DATA = Path(os.environ.get("BENCH_LARGE_DATA", REPO / ".local" / "bench" / "ml-25m-synthetic"))
HEADING = "## ml-25m-shaped synthetic set (bench/large.py)"
STAGES = ["load", "matrix", "fit", "compute", "write", "index", "publish"]
REFRESH_SCRIPT = r"""
import json, statistics, sys, time
import django
django.setup()
import numpy as np
from django.db import connection
from scoring.topn import rated_matrix, top_n
from web.recommender import tasks
from web.recommender.models import Rating
from web.runs.models import Run
run = Run.objects.active()
with connection.cursor() as cursor:
    cursor.execute("SELECT DISTINCT user_id FROM recommender_rating TABLESAMPLE SYSTEM (2) REPEATABLE (7)")
    sampled = np.array(sorted(u for (u,) in cursor.fetchall()))
users = np.random.default_rng(7).choice(sampled, size=min(40, len(sampled)), replace=False).tolist()
model = tasks._fitted_model(run)  # the worker's first refresh loads it; later ones reuse it
compute, whole = [], []
for user in users:
    history = list(Rating.objects.filter(user_id=user).values_list("movie_id", "rating"))
    items, values = model.history_index(np.array([m for m, _ in history]), np.array([r for _, r in history], np.float32))
    start = time.perf_counter()
    best = top_n(model.score_history(items, values)[None, :], rated_matrix(items, len(model.movie_ids_)), 100)
    compute.append(time.perf_counter() - start)
    start = time.perf_counter()
    tasks.refresh_user(user)
    whole.append(time.perf_counter() - start)
print(json.dumps({"algorithm": run.algorithm, "users": len(users),
                  "compute_ms": 1000 * statistics.median(compute), "compute_p95_ms": 1000 * float(np.percentile(compute, 95)),
                  "refresh_ms": 1000 * statistics.median(whole), "refresh_p95_ms": 1000 * float(np.percentile(whole, 95))}))
"""


def large_env() -> dict[str, str]:
    env = bench_env("movielens_bench_large", "BENCH_LARGE_DATABASE_URL")
    env.pop("PRECOMPUTE_RUN_NAME", None)
    env.pop("JOB_COMPLETION_INDEX", None)
    env.pop("JOB_COMPLETIONS", None)
    return env


def prepare(env: dict[str, str], log) -> list[Figure]:
    """Generate (if missing) and load (if the database does not hold it) the synthetic set; their timings."""
    figures = []
    if not (DATA / "ratings.csv").is_file():
        DATA.parent.mkdir(parents=True, exist_ok=True)
        log(f"generating the ml-25m-shaped set into {DATA}")
        figure = Figure("generate_movielens --shape 25m (synthetic, 25M ratings)", [])
        figure.runs.append(timed([PY, "manage.py", "generate_movielens", str(DATA), "--shape", "25m"], env))
        figures.append(figure)
    subprocess.run([PY, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=REPO, env=env, check=True)
    (count,), = sql(env, "SELECT count(*) FROM recommender_rating")
    if count != 25_000_000:
        log("loading it (load_movielens)")
        sql(env, "TRUNCATE recommender_rating, recommender_tag, recommender_movie CASCADE")
        figure = Figure("ingest ml-25m shape (load_movielens, empty database)", [])
        figure.runs.append(timed([PY, "manage.py", "load_movielens", str(DATA), "-v", "0"], env))
        figures.append(figure)
    return figures


def precompute(env: dict[str, str], algorithm: str, workers: int) -> tuple[float, float, dict]:
    """One end-to-end run; returns (wall s, peak MiB, the run's metrics)."""
    timing = timed([PY, "-m", "jobs.precompute", "--algorithm", algorithm, "--top-n", "100",
                    "--workers", str(workers), "--keep-runs", "1"], env)
    (metrics,), = sql(env, "SELECT metrics FROM progress_run WHERE status = 'succeeded' ORDER BY id DESC LIMIT 1")
    return timing.wall, timing.peak_mib, metrics


def refresh_times(env: dict[str, str]) -> dict:
    result = subprocess.run([PY, "-c", REFRESH_SCRIPT], cwd=REPO, env=env | {"DJANGO_SETTINGS_MODULE": "web.settings"},
                            capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def measure(env: dict[str, str], algorithm: str, runs: int, single_runs: int, log) -> dict:
    """Alternate 2-worker and 1-worker runs of ``algorithm``; medians of wall, peak and stages."""
    two, one = [], []
    for index in range(max(runs, single_runs)):
        if index < runs:
            two.append(precompute(env, algorithm, 2))
            log(f"{algorithm} 2 workers: {two[-1][0]:.0f} s, stages {two[-1][2]['seconds']}")
        if index < single_runs:
            one.append(precompute(env, algorithm, 1))
            log(f"{algorithm} 1 worker: {one[-1][0]:.0f} s, stages {one[-1][2]['seconds']}")
    result = {"algorithm": algorithm, "runs": len(two), "single_runs": len(one),
              "wall": statistics.median(w for w, _, _ in two), "peak_mib": max(p for _, p, _ in two),
              "stages": {s: statistics.median(m["seconds"].get(s, 0.0) for _, _, m in two) for s in STAGES},
              "rows": two[-1][2]["rows"]}
    if one:
        result["single_stages"] = {s: statistics.median(m["seconds"].get(s, 0.0) for _, _, m in one) for s in STAGES}
        result["single_wall"] = statistics.median(w for w, _, _ in one)
    return result


def table(prepared: list[Figure], results: list[dict], refresh: dict | None) -> str:
    lines = [f"Machine: {os.cpu_count()} cores, shared with other work while measured; "
             f"measured {time.strftime('%Y-%m-%d')} by `.venv/bin/python -m bench.large` "
             "(162,541 users × 59,047 movies × 25M ratings, top-100 per user).", "",
             "| what | runs | median wall | peak memory |", "|---|---:|---:|---:|"]
    for figure in prepared:
        lines.append(f"| {figure.name} | 1 | {figure.median_wall:.0f} s | {figure.median_peak:.0f} MiB |")
    for result in results:
        lines.append(f"| ml-25m shape precompute end to end, {result['algorithm']}, 2 workers | {result['runs']} | "
                     f"{result['wall']:.0f} s ({result['wall'] / 60:.1f} min) | {result['peak_mib'] / 1024:.2f} GiB |")
        if "single_wall" in result:
            lines.append(f"| ml-25m shape precompute end to end, {result['algorithm']}, 1 worker | "
                         f"{result['single_runs']} | {result['single_wall']:.0f} s | |")
    lines += ["", "Stages (median seconds, from the runs' own metrics; the compute stage includes the COPY of the "
              "scores; item-item's fit runs in the pool too):", "",
              "| algorithm | workers | " + " | ".join(STAGES) + " |", "|---|---:|" + "---:|" * len(STAGES)]
    for result in results:
        lines.append(f"| {result['algorithm']} | 2 | " + " | ".join(f"{result['stages'][s]:.1f}" for s in STAGES) + " |")
        if "single_stages" in result:
            lines.append(f"| {result['algorithm']} | 1 | "
                         + " | ".join(f"{result['single_stages'][s]:.1f}" for s in STAGES) + " |")
    speedups = [(r["algorithm"], stage, r["single_stages"][stage] / r["stages"][stage])
                for r in results if "single_stages" in r for stage in ("fit", "compute") if r["stages"][stage] > 1]
    if speedups:
        lines += ["", "Speed-up of 2 worker processes over 1 (same data, same invocation): "
                  + "; ".join(f"{a} {stage} {x:.2f}x" for a, stage, x in speedups) + "."]
    if refresh:
        lines += ["", f"One user's refresh ({refresh['algorithm']}, {refresh['users']} users, warm worker): "
                  f"compute median {refresh['compute_ms']:.1f} ms (p95 {refresh['compute_p95_ms']:.1f} ms); "
                  f"with the database read and write (`refresh_user`) median {refresh['refresh_ms']:.1f} ms "
                  f"(p95 {refresh['refresh_p95_ms']:.1f} ms)."]
    return "\n".join(lines)


def write_section(text: str) -> None:
    """Replace (or append) this benchmark's section of docs/benchmarks.md; the rest of the file is kept."""
    doc = REPO / "docs" / "benchmarks.md"
    current = doc.read_text() if doc.exists() else "# Benchmarks\n"
    before, found, after = current.partition(HEADING)
    rest = ""
    if found:
        next_heading = after.find("\n## ")
        rest = after[next_heading:] if next_heading >= 0 else ""
    doc.write_text(before.rstrip("\n") + "\n\n" + HEADING + "\n\n" + text + "\n" + rest)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="2-worker runs of the default algorithm (median)")
    parser.add_argument("--single-runs", type=int, default=1, help="1-worker runs of the default algorithm")
    parser.add_argument("--pearson-runs", type=int, default=1, help="2-worker runs of user-user Pearson (0 skips)")
    parser.add_argument("--algorithms", default=DEFAULT_ALGORITHM,
                        help="comma-separated algorithms measured like the default (default: %(default)s)")
    parser.add_argument("--write", action="store_true", help="also write the table into docs/benchmarks.md")
    args = parser.parse_args(argv)
    def log(message: str) -> None:
        print(f"[bench.large {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)

    env = large_env()
    prepared = prepare(env, log)
    results = [measure(env, algorithm, args.runs, args.single_runs, log) for algorithm in args.algorithms.split(",")]
    refresh = refresh_times(env)
    log(f"refresh: {refresh}")
    if args.pearson_runs and DEFAULT_ALGORITHM != "user_knn":
        results.append(measure(env, "user_knn", args.pearson_runs, 0, log))
    text = table(prepared, results, refresh)
    print(text)
    if args.write:
        write_section(text)


if __name__ == "__main__":
    main()
