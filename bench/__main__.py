"""``make bench``: time the ingest and the precompute as whole processes.

Every figure is the median of several runs of the real command under
``/usr/bin/time -v`` (wall seconds and peak resident memory), with a
baseline measured in the same run so a ratio survives a noisy machine:

* ingest of ml-latest-small vs. only parsing the same CSV files with pandas
  (the floor any loader pays);
* the precompute end to end vs. the floor every run pays: starting Python
  with Django set up and NumPy/SciPy imported (on this small set the pool
  is not used: one chunk is scored inline, see docs/precompute.md).

Per-stage seconds come from the run's own ``Run.metrics``.

It uses its own database (``movielens_bench``) on the embedded PostgreSQL,
or ``BENCH_DATABASE_URL`` when set, so the demo's data is not touched.
``--write`` stores the table in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time

from bench import api_load, events, large, search
from bench.common import PY, REPO, SMALL, Figure, bench_env, sql, timed

STAGE_SECONDS: dict[str, float] = {}
"""Median seconds per stage of the precompute runs, from their Run.metrics."""


def bench_small(runs: int, env: dict[str, str]) -> list[tuple[Figure, Figure | None]]:
    subprocess.run([PY, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=REPO, env=env, check=True)
    parse_only = [
        PY, "-c",
        "import pandas as pd, sys; [pd.read_csv(f'{sys.argv[1]}/{n}.csv') for n in ('movies', 'ratings', 'tags', 'links')]",
        str(SMALL),
    ]
    ingest, parse = Figure("ingest ml-latest-small (load_movielens, empty database)", []), Figure("baseline: pandas parse only", [])
    for _ in range(runs):
        sql(env, "TRUNCATE recommender_rating, recommender_tag, recommender_movie CASCADE")
        ingest.runs.append(timed([PY, "manage.py", "load_movielens", str(SMALL), "-v", "0"], env))
        parse.runs.append(timed(parse_only, env))

    startup_floor = [PY, "-c", "import django, numpy, scipy.sparse; django.setup()"]
    job = Figure("precompute ml-latest-small end to end (python -m jobs.precompute)", [])
    floor = Figure("baseline: Python + Django + NumPy start-up only", [])
    stages: list[dict[str, float]] = []
    for _ in range(runs):
        job.runs.append(timed([PY, "-m", "jobs.precompute"], env))
        floor.runs.append(timed(startup_floor, env | {"DJANGO_SETTINGS_MODULE": "web.settings"}))
        (metrics,), = sql(env, "SELECT metrics FROM progress_run WHERE status = 'succeeded' ORDER BY id DESC LIMIT 1")
        stages.append(metrics["seconds"] | {"inside the job": metrics["total_seconds"]})
    global STAGE_SECONDS
    order = ["queued", "load", "matrix", "fit", "compute", "write", "index", "publish", "inside the job"]
    names = sorted(stages[0], key=lambda name: order.index(name) if name in order else len(order))
    STAGE_SECONDS = {name: statistics.median(s.get(name, 0.0) for s in stages) for name in names}
    return [(ingest, parse), (job, floor)]


def table(rows: list[tuple[Figure, Figure | None]], runs: int) -> str:
    lines = [
        f"Machine: {os.cpu_count()} cores, {platform.python_implementation()} {platform.python_version()}; "
        f"median of {runs} runs each, measured {time.strftime('%Y-%m-%d')}.",
        "",
        "| what | median wall | peak memory | baseline | baseline median | ratio |",
        "|---|---:|---:|---|---:|---:|",
    ]
    for figure, baseline in rows:
        ratio = f"{figure.median_wall / baseline.median_wall:.2f}x" if baseline else ""
        lines.append(
            f"| {figure.name} | {figure.median_wall:.2f} s | {figure.median_peak:.0f} MiB | "
            f"{baseline.name if baseline else ''} | {baseline.median_wall:.2f} s | {ratio} |"
        )
    if STAGE_SECONDS:
        lines += ["", "Precompute stages of ml-latest-small (median seconds, from the runs' own metrics):", "",
                  "| " + " | ".join(STAGE_SECONDS) + " |", "|" + "---:|" * len(STAGE_SECONDS),
                  "| " + " | ".join(f"{v:.3f}" for v in STAGE_SECONDS.values()) + " |"]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="runs per figure (the median is reported)")
    parser.add_argument("--write", action="store_true", help="also write the table into docs/benchmarks.md")
    parser.add_argument("--large", action="store_true",
                        help="also run the ml-25m-shape precompute benchmark (bench/large.py; about 20 minutes, most of it Pearson)")
    parser.add_argument("--api", action="store_true",
                        help="also load-test the recommendation API under the web server (bench/api_load.py, 3 runs), "
                             "time title search at 58k titles (bench/search.py) and events in (bench/events.py)")
    args = parser.parse_args()
    if not (SMALL / "ratings.csv").is_file():
        raise SystemExit(f"ml-latest-small not found at {SMALL}; set MOVIELENS_DIR")
    env = bench_env()
    rows = bench_small(args.runs, env)
    text = table(rows, args.runs)
    print(text)
    if args.write:
        _write_doc(text, args.runs)
    if args.large:
        large.main(["--write"] if args.write else [])
    if args.api:
        api_load.run_and_report(runs=3, write=args.write)  # replaces or appends its own section of the doc
        search.main(["--write"] if args.write else [])
        events.main(["--write"] if args.write else [])


def _write_doc(text: str, runs: int) -> None:
    doc = REPO / "docs" / "benchmarks.md"
    # Keep the ml-25m section that bench/large.py writes (when --large is not given it stays as last measured).
    current = doc.read_text() if doc.exists() else ""
    large_section = current[current.index(large.HEADING):] if large.HEADING in current else ""
    doc.write_text(
        "# Benchmarks\n\n"
        "Made by `make bench` (that is `.venv/bin/python -m bench --write --api --large`; `BENCH_ARGS=` "
        f"leaves out the ml-25m section, about 20 of its 25 minutes; {runs} runs per figure here), "
        "which runs each command as a whole process under "
        "`/usr/bin/time -v` and reports the median wall time and the peak resident memory of the "
        "largest process. The ratio compares against a baseline measured in the same run, "
        "alternating with it, so it holds on a noisy shared machine.\n\n" + text + "\n"
        + ("\n" + large_section if large_section else "")
    )


if __name__ == "__main__":
    main()
