"""``python -m bench.scoring_core``: EASE against the hybrid at ml-25m shape, the job's scoring core in one process.

No database: the synthetic ml-25m-shaped set that ``bench.large`` generates
(``.local/bench/ml-25m-synthetic``, or ``--path``) is read with the
evaluation loaders; EASE and the hybrid (their defaults, and the content
part alone unless ``--no-content-part``) are fitted with 2 BLAS threads;
then the same random 1,000-user chunks are scored and ranked as the job's
``score_chunk`` does (``score_users_compact(users, n=100)`` + ``top_n``, 1
BLAS thread), EASE and the hybrid alternating chunk by chunk so that both
see the same machine. ``--baseline <checkout>`` adds a third in the
alternation: that checkout's ``Hybrid.score_users_compact`` (the code before
a change) on the same fitted hybrid, and counts the chunks whose lists
(movies and scores) are the same as the current code's. Prints the fit times
and each chunk's time as JSON; figures go in docs/benchmarks.md with the load
average.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from bench.large import DATA
from scoring.evaluation import load_movielens
from scoring.evaluation.data import load_movielens_content
from scoring.registry import make_scorer
from scoring.topn import top_n


def baseline_compact(checkout: Path) -> Callable:
    """``Hybrid.score_users_compact`` as ``checkout``'s scoring/hybrid.py defines it, with that file's module-level
    helpers; the methods it calls on the fitted model, and the file's imports, are this checkout's."""
    spec = importlib.util.spec_from_file_location("baseline_hybrid", checkout / "scoring" / "hybrid.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Hybrid.score_users_compact


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", type=Path, default=DATA, help="MovieLens folder (default: %(default)s)")
    parser.add_argument("--chunks", type=int, default=8, help="1,000-user chunks scored by each (default: 8)")
    parser.add_argument("--no-content-part", action="store_true", help="do not fit the content part alone")
    parser.add_argument("--baseline", type=Path, help="a checkout whose hybrid compact scoring is timed too")
    args = parser.parse_args(argv)
    data, content = load_movielens(args.path), load_movielens_content(args.path)
    plain, with_content = data.to_matrix(None), data.to_matrix(content)
    models, fits = {}, {}
    fitted = (("ease", "ease", plain), ("hybrid", "hybrid", with_content), ("content part", "content", with_content))
    for label, name, matrix in fitted[:2] if args.no_content_part else fitted:
        with threadpool_limits(2):
            started = time.perf_counter()
            models[label] = make_scorer(name).fit(matrix)
            fits[label] = time.perf_counter() - started
    scorers = {"ease": (models["ease"].score_users_compact, plain),
               "hybrid": (models["hybrid"].score_users_compact, with_content)}
    if args.baseline:
        old = baseline_compact(args.baseline)
        scorers["hybrid baseline"] = (lambda users, n: old(models["hybrid"], users, n=n), with_content)
    starts = np.random.default_rng(1).choice(plain.n_users - 1000, args.chunks, replace=False)
    times: dict[str, list[float]] = {label: [] for label in scorers}
    same_lists = 0
    with threadpool_limits(1):
        for start in starts:
            users = np.arange(start, start + 1000)
            lists = {}
            for label, (compact, matrix) in scorers.items():
                started = time.perf_counter()
                scores, columns = compact(users, n=100)
                rated = matrix.matrix[users]
                items, values = top_n(scores, rated if columns is None else rated[:, columns], 100)
                times[label].append(time.perf_counter() - started)
                movies = items if columns is None else np.where(items >= 0, columns[np.maximum(items, 0)], -1)
                lists[label] = (movies, values)
            if args.baseline:
                (items, values), (old_items, old_values) = lists["hybrid"], lists["hybrid baseline"]
                same_lists += np.array_equal(items, old_items) and np.array_equal(values, old_values, equal_nan=True)
    result = {"fit_s": {k: round(v, 1) for k, v in fits.items()},
              "chunk_median_s": {k: round(statistics.median(v), 3) for k, v in times.items()},
              "chunk_s": {k: [round(x, 2) for x in v] for k, v in times.items()}}
    if args.baseline:
        result["chunks_with_the_baselines_lists"] = f"{same_lists} of {args.chunks}"
    print(json.dumps(result))


if __name__ == "__main__":
    main()
