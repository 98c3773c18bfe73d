"""What the benchmarks share: where the repository and the data are, and how a command is timed."""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import dj_database_url
import psycopg2

REPO = Path(__file__).resolve().parent.parent
SMALL = Path(os.environ.get("MOVIELENS_DIR", REPO.parent / "shared" / "data" / "movielens" / "ml-latest-small"))
PY = sys.executable


@dataclass
class Timing:
    wall: float
    peak_mib: float


@dataclass
class Figure:
    name: str
    runs: list[Timing]

    @property
    def median_wall(self) -> float:
        return statistics.median(t.wall for t in self.runs)

    @property
    def median_peak(self) -> float:
        return statistics.median(t.peak_mib for t in self.runs)


def bench_env(database: str = "movielens_bench", url_variable: str = "BENCH_DATABASE_URL") -> dict[str, str]:
    """The environment of the benchmarked commands: ``url_variable`` if set, else ``database`` on the embedded server."""
    env = dict(os.environ)
    if url_variable in env:
        env["DATABASE_URL"] = env[url_variable]
    else:
        sys.path.insert(0, str(REPO))
        from web import embedded

        data_dir = Path(env.get("EMBEDDED_DATA_DIR", embedded.default_data_dir()))
        env["DATABASE_URL"] = embedded.postgres_url(data_dir, database)
    env.setdefault("PYTHONPATH", str(REPO))
    return env


def timed(command: list[str], env: dict[str, str]) -> Timing:
    """Run ``command`` under ``/usr/bin/time -v``; fail loudly if it fails."""
    start = time.perf_counter()
    result = subprocess.run(["/usr/bin/time", "-v", *command], cwd=REPO, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"benchmark command failed: {' '.join(command)}\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}")
    peak_kib = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr).group(1))
    return Timing(wall=wall, peak_mib=peak_kib / 1024)


def sql(env: dict[str, str], statement: str) -> list[tuple]:
    """Run one statement on the benchmark database and return its rows (if any)."""
    params = dj_database_url.parse(env["DATABASE_URL"])
    with psycopg2.connect(
        dbname=params["NAME"], user=params["USER"], password=params["PASSWORD"] or None,
        host=params["HOST"], port=params["PORT"] or None,
    ) as conn, conn.cursor() as cursor:
        cursor.execute(statement)
        return cursor.fetchall() if cursor.description else []
