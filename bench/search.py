"""Title search on a catalogue of ml-25m's size: ``python -m bench.search`` (part of ``python -m bench --api``).

A scratch database on the embedded PostgreSQL gets ml-latest-small and a
popularity run, then five more copies of every title ("Toy Story (1995) 1"
... "5"): 58k titles, the size of ml-25m's catalogue, with the same words.
Each term is searched through the API as a client would
(``GET /api/movies?search=<term>``, Django's test client in one process:
count, page of 50 best known first, JSON), against a baseline measured
alternately in the same run: the GIN index lookup alone (the first 50
matching ids, unordered). "the" is the worst case: it matches 18k titles.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from bench.api_load import PY, REPO, SMALL, bench_env, manage, write_section

HEADING = "## Title search at 58k titles"
TERMS = ("the", "love", "star", "the lord", "matrix")
RUNS = 15
COPIES = 5

MEASURE = r"""
import json, os, statistics, time
from django.test import Client
from web.recommender.models import Movie

terms, runs = json.loads(os.environ["SEARCH_BENCH"])
client = Client(SERVER_NAME="localhost")  # an allowed host of the local settings
figures = []
for term in terms:
    search, lookup = [], []
    for _ in range(runs + 1):  # the first of each is a warm-up
        started = time.perf_counter()
        response = client.get("/api/movies", {"search": term})
        search.append(time.perf_counter() - started)
        assert response.status_code == 200, response.content[:300]
        started = time.perf_counter()
        list(Movie.objects.search(term).values_list("movie_id", flat=True)[:50])
        lookup.append(time.perf_counter() - started)
    figures.append([term, response.json()["count"], statistics.median(search[1:]), statistics.median(lookup[1:])])
print(json.dumps(figures))
"""


def measure(runs: int = RUNS) -> str:
    env = bench_env()
    os.environ.update(env)
    sys.path.insert(0, str(REPO))
    # Here, not at the top: the environment (database) is set just above, and tests.helpers imports Django models.
    import django

    django.setup()
    import psycopg2

    from tests.helpers import ScratchDatabase

    database = ScratchDatabase("searchbench")
    try:
        scratch = env | {"DATABASE_URL": database.url}
        manage(scratch, "migrate", "--noinput", "-v", "0")
        manage(scratch, "load_movielens", str(SMALL), "--quiet")
        subprocess.run([PY, "-m", "jobs.precompute", "--algorithm", "popularity"], cwd=REPO, env=scratch,
                       check=True, capture_output=True)
        conn = psycopg2.connect(database.dsn)
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute(
                "INSERT INTO recommender_movie (movie_id, title, year, genres, imdb_id, tmdb_id) "
                "SELECT 1000000 + k * 1000000 + movie_id, title || ' ' || k, year, genres, imdb_id, tmdb_id "
                "FROM recommender_movie, generate_series(1, %s) k", (COPIES,))
            cursor.execute("VACUUM ANALYZE recommender_movie")
            cursor.execute("SELECT count(*) FROM recommender_movie")
            (titles,) = cursor.fetchone()
        conn.close()
        out = manage(scratch | {"SEARCH_BENCH": json.dumps([TERMS, runs])}, "shell", "-c", MEASURE)
        figures = json.loads(out.strip().splitlines()[-1])
    finally:
        database.drop()
    return table(figures, titles, runs)


def table(figures: list[list], titles: int, runs: int) -> str:
    lines = [
        HEADING,
        "",
        f"Made by `python -m bench.search` (part of `make bench`): {titles:,} titles (ml-latest-small's and {COPIES} "
        f"numbered copies of each) on the embedded PostgreSQL, one popularity run; each term searched through "
        f"the API in one process (Django's test client: count, the page of 50 best known first, JSON), median of "
        f"{runs}, measured {time.strftime('%Y-%m-%d')}. Baseline, alternating with it: the title index lookup alone "
        "(50 matching ids, unordered).",
        "",
        "| term | matches | `GET /api/movies?search=` | index lookup alone | ratio |",
        "|---|---:|---:|---:|---:|",
    ]
    for term, count, search, lookup in figures:
        lines.append(f"| {term} | {count:,} | {1000 * search:.1f} ms | {1000 * lookup:.2f} ms | {search / lookup:.1f}x |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=RUNS, help="runs per term (the median is reported)")
    parser.add_argument("--write", action="store_true", help="also write the section into docs/benchmarks.md")
    args = parser.parse_args(argv)
    if not (SMALL / "ratings.csv").is_file():
        raise SystemExit(f"ml-latest-small not found at {SMALL}; set MOVIELENS_DIR")
    text = measure(args.runs)
    print(text)
    if args.write:
        write_section(text, heading=HEADING)


if __name__ == "__main__":
    main()
