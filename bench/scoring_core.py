"""``python -m bench.scoring_core``: EASE against the hybrid at ml-25m shape, the job's scoring core in one process.

No database: the synthetic ml-25m-shaped set that ``bench.large`` generates
(``.local/bench/ml-25m-synthetic``, or ``--path``) is read with the
evaluation loaders; EASE and the hybrid (their defaults, and the content
part alone) are fitted with 2 BLAS threads; then the same random 1,000-user
chunks are scored and ranked as the job's ``score_chunk`` does
(``score_users_compact(users, n=100)`` + ``top_n``, 1 BLAS thread), EASE
and the hybrid alternating chunk by chunk so that both see the same
machine. Prints the fit times and each chunk's time as JSON; figures go in
docs/benchmarks.md with the load average.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from bench.large import DATA
from scoring.evaluation import load_movielens
from scoring.evaluation.data import load_movielens_content
from scoring.registry import make_scorer
from scoring.topn import top_n


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", type=Path, default=DATA, help="MovieLens folder (default: %(default)s)")
    parser.add_argument("--chunks", type=int, default=8, help="1,000-user chunks scored by each (default: 8)")
    args = parser.parse_args(argv)
    data, content = load_movielens(args.path), load_movielens_content(args.path)
    plain, with_content = data.to_matrix(None), data.to_matrix(content)
    models, fits = {}, {}
    for label, name, matrix in (("ease", "ease", plain), ("hybrid", "hybrid", with_content),
                                ("content part", "content", with_content)):
        with threadpool_limits(2):
            started = time.perf_counter()
            models[label] = make_scorer(name).fit(matrix)
            fits[label] = time.perf_counter() - started
    starts = np.random.default_rng(1).choice(plain.n_users - 1000, args.chunks, replace=False)
    times: dict[str, list[float]] = {"ease": [], "hybrid": []}
    with threadpool_limits(1):
        for start in starts:
            users = np.arange(start, start + 1000)
            for label, matrix in (("ease", plain), ("hybrid", with_content)):
                started = time.perf_counter()
                scores, columns = models[label].score_users_compact(users, n=100)
                rated = matrix.matrix[users]
                top_n(scores, rated if columns is None else rated[:, columns], 100)
                times[label].append(time.perf_counter() - started)
    print(json.dumps({"fit_s": {k: round(v, 1) for k, v in fits.items()},
                      "chunk_median_s": {k: round(statistics.median(v), 3) for k, v in times.items()},
                      "chunk_s": {k: [round(x, 2) for x in v] for k, v in times.items()}}))


if __name__ == "__main__":
    main()
