"""``python -m bench.evaluate --write``: our algorithms and the anchors on the same splits of ml-latest-small.

For each protocol (stratified 75/25, temporal latest 20 %):

1. for each seed 0, 1, 2, every algorithm's grid is searched on the
   **validation split** carved from that seed's training part
   (``scoring.evaluation.tune``; the test part is never seen), by nDCG@10;
2. the chosen parameters are fitted on that seed's whole training part (an
   anchor with a random state also gets the seed) and measured on its test
   part;
3. mean ± std over the seeds goes into docs/evaluation.md, with fit times
   and a PNG of nDCG@10 against fit time.

The anchors (``bench/anchors.py``) need ``pip install -r requirements-bench.txt``;
one that is not installed is reported as such and left out. The machine may
be shared: fit times are single measurements per seed, so read them as
orders of magnitude.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.anchors import ANCHORS  # noqa: E402
from scoring.evaluation import evaluate_split, load_movielens, split, tune  # noqa: E402
from scoring.evaluation.report import markdown_table, summarise  # noqa: E402
from scoring.registry import ALGORITHMS  # noqa: E402

SMALL = Path(os.environ.get("MOVIELENS_DIR", REPO.parent / "shared" / "data" / "movielens" / "ml-latest-small"))
DOC = REPO / "docs" / "evaluation.md"
PLOT = REPO / "docs" / "evaluation-ndcg-vs-fit-time.png"
PROTOCOL_NAMES = ("stratified", "temporal")

OUR_GRIDS: dict[str, dict[str, list[Any]]] = {
    "ease": {"l2": [100.0, 200.0, 400.0], "min_ratings": [5, 10, 20]},
    "item_knn": {"k": [20, 50, 200], "damping": [1.0, 10.0]},
    "user_knn": {"k": [20, 50, 100]},
    "popularity": {"damping": [0.0, 20.0, 100.0, 500.0, 2000.0]},
}
"""Grids of our algorithms; a registered algorithm not listed runs with its defaults."""

ANCHOR_GRIDS: dict[str, dict[str, list[Any]]] = {
    "most_popular": {},
    "implicit_als": {"factors": [64, 128], "regularization": [0.05], "alpha": [1.0, 10.0]},
    "implicit_bpr": {"factors": [32, 64, 128], "learning_rate": [0.01, 0.05]},
    "surprise_svd": {"n_factors": [50, 100], "reg_all": [0.02, 0.1]},
    "surprise_knn_means": {},  # its defaults (k=40): see KNN_NOTE
}

KNN_NOTE = (
    "Surprise's KNNWithMeans is not tuned: scoring every (user, movie) pair through its Python `estimate` takes "
    "minutes per fit on this machine, and an earlier run of this script that searched k ∈ [20, 40] on seed 0 "
    "chose k=20 and measured nDCG@10 0.001 on both protocols: it runs with the library's defaults (k=40)."
)

RATING_SCALE = {"popularity", "item_knn", "user_knn"}
"""Our scorers whose scores are predicted stars, so RMSE/MAE apply to them."""


def candidates(only: set[str] | None) -> dict[str, tuple[type, dict[str, list[Any]], str]]:
    """name -> (class, grid, "ours" | "anchor") of everything to evaluate that is installed."""
    found: dict[str, tuple[type, dict[str, list[Any]], str]] = {}
    for name, cls in ALGORITHMS.items():
        if name in RATING_SCALE and not getattr(cls, "predicts_ratings", False):
            cls = type(cls.__name__, (cls,), {"predicts_ratings": True})
        found[name] = (cls, OUR_GRIDS.get(name, {}), "ours")
    for name, cls in ANCHORS.items():
        found[name] = (cls, ANCHOR_GRIDS[name], "anchor")
    return {name: value for name, value in found.items() if not only or name in only}


def installed(name: str) -> str | None:
    """None if the anchor's library imports, else why not."""
    module = {"implicit_als": "implicit", "implicit_bpr": "implicit",
              "surprise_svd": "surprise", "surprise_knn_means": "surprise"}.get(name)
    if module is None:
        return None
    try:
        __import__(module)
    except ImportError as exc:
        return f"not installed ({exc}); pip install -r requirements-bench.txt"
    return None


def run_one(protocol: str, seed: int, path: Path, only: set[str] | None) -> dict[str, Any]:
    """Every candidate on one (protocol, seed) split, tuned on its validation split (one process; BLAS on one thread)."""
    from threadpoolctl import threadpool_limits  # in the forked child: the parent keeps its BLAS threads

    outer = split(load_movielens(path), protocol, seed)
    results, tuning, missing = [], {}, {}
    with threadpool_limits(1):
        for name, (cls, grid, kind) in candidates(only).items():
            why = installed(name)
            if why:
                missing[name] = why
                continue
            started = time.perf_counter()
            best, points = tune(cls, grid, outer)  # on validation_split(outer): outer.test is never seen
            tuning[(protocol, name)] = {"kind": kind, "grid": grid, "best": [best],
                                        "validation": [max(p["ndcg@10"] for p in points)],
                                        "seconds": time.perf_counter() - started}
            params = dict(best)
            if "seed" in getattr(cls, "defaults", {}):
                params["seed"] = seed
            result = evaluate_split(cls(**params), outer)
            result["algorithm"], result["kind"] = name, kind
            results.append(result)
            print(f"{protocol} seed {seed} {name} {best}: nDCG@10 {result['ndcg@10']:.4f} "
                  f"P@10 {result['precision@10']:.4f} fit {result['fit_seconds']:.2f}s", flush=True)
    return {"results": results, "tuning": tuning, "missing": missing}


def run(path: Path, seeds: int, only: set[str] | None) -> dict[str, Any]:
    """Every (protocol, seed) in a process of its own (fork): single-threaded processes use a shared machine best."""
    jobs = [(protocol, seed) for seed in range(seeds) for protocol in PROTOCOL_NAMES]
    workers = int(os.environ.get("BENCH_EVALUATE_WORKERS", len(jobs)))
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        futures = [pool.submit(run_one, protocol, seed, path, only) for protocol, seed in jobs]
        parts = [future.result() for future in futures]  # in (seed, protocol) order
    outcome: dict[str, Any] = {"results": [], "tuning": {}, "missing": {}, "n_ratings": len(load_movielens(path))}
    for part in parts:
        outcome["results"] += part["results"]
        outcome["missing"].update(part["missing"])
        for key, tuned in part["tuning"].items():
            merged = outcome["tuning"].setdefault(key, {**tuned, "best": [], "validation": [], "seconds": 0.0})
            merged["best"] += tuned["best"]
            merged["validation"] += tuned["validation"]
            merged["seconds"] += tuned["seconds"]
    return outcome


def plot(rows: list[dict[str, Any]], kinds: dict[str, str], target: Path) -> None:
    import matplotlib  # optional (requirements-bench.txt) and heavy: only the --write figure needs it

    matplotlib.use("Agg")  # before pyplot is imported: no display on the build machines
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.5), dpi=120)
    for row in rows:
        ours = kinds[row["algorithm"]] == "ours"
        axes.errorbar(max(row["fit_seconds"], 1e-3), row["ndcg@10"], yerr=row.get("ndcg@10_std", 0.0),
                      fmt="o" if ours else "s", color="tab:blue" if ours else "tab:orange", capsize=3)
        axes.annotate(row["algorithm"], (max(row["fit_seconds"], 1e-3), row["ndcg@10"]),
                      textcoords="offset points", xytext=(5, 4), fontsize=8)
    axes.set_xscale("log")
    axes.set_xlabel("fit time, seconds (log scale; shared 2-core machine)")
    axes.set_ylabel("nDCG@10 (mean of 3 seeds)")
    axes.set_title("ml-latest-small, stratified 75/25 split: ours (circles) vs anchors (squares)")
    axes.grid(True, which="both", alpha=0.3)
    figure.tight_layout()
    figure.savefig(target)
    plt.close(figure)


def recommendation(rows: list[dict[str, Any]], kinds: dict[str, str], tuning: dict) -> tuple[str, bool]:
    """The best of ours on the stratified protocol, and whether it beats every anchor on nDCG@10 and P@10."""
    stratified = [r for r in rows if r["protocol"] == "stratified"]
    ours = max((r for r in stratified if kinds[r["algorithm"]] == "ours"), key=lambda r: r["ndcg@10"])
    anchors = [r for r in stratified if kinds[r["algorithm"]] == "anchor"]
    beats = all(ours["ndcg@10"] > a["ndcg@10"] and ours["precision@10"] > a["precision@10"] for a in anchors)
    chosen = tuning[("stratified", ours["algorithm"])]["best"]
    common = max(chosen, key=lambda params: chosen.count(params))  # the point most seeds chose
    return f"`{ours['algorithm']}` with {json.dumps(common)}", beats


def render(outcome: dict[str, Any], seeds: int, command: str) -> str:
    kinds = {r["algorithm"]: r["kind"] for r in outcome["results"]}
    rows = summarise(outcome["results"])
    chosen, beats = recommendation(rows, kinds, outcome["tuning"])
    lines = [TEMPLATE_HEAD.format(command=command, n=outcome["n_ratings"], seeds=seeds,
                                  machine=f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")]
    lines.append(f"**Recommended default: {chosen}** - it "
                 + ("beats every anchor on both nDCG@10 and precision@10" if beats else
                    "does NOT beat every anchor on both nDCG@10 and precision@10")
                 + " on the stratified protocol (table below).\n")
    for protocol in PROTOCOL_NAMES:
        title = {"stratified": "Stratified 75/25 (per user, random)", "temporal": "Temporal (each user's latest 20 % held out)"}
        lines.append(f"## {title[protocol]}\n")
        protocol_rows = [r for r in rows if r["protocol"] == protocol]
        for row in protocol_rows:
            row["algorithm"] = f"{row['algorithm']}{'' if kinds[row['algorithm']] == 'ours' else ' (anchor)'}"
        lines.append(markdown_table(protocol_rows) + "\n")
        for row in protocol_rows:
            row["algorithm"] = row["algorithm"].removesuffix(" (anchor)")
    lines.append("![nDCG@10 against fit time, stratified protocol](evaluation-ndcg-vs-fit-time.png)\n")
    lines.append("## Grids and the parameters chosen on the validation split\n")
    lines.append("Each seed's grid is searched on the validation split of that seed's training part, so no")
    lines.append("choice ever saw a pair that the same seed holds out.\n")
    lines.append("| protocol | algorithm | grid | chosen (seed 0, 1, 2, ...) | validation nDCG@10 per seed | tuning s, all seeds |")
    lines.append("|---|---|---|---|---|---:|")
    for (protocol, name), tuned in sorted(outcome["tuning"].items()):
        grid = "; ".join(f"{k} ∈ {v}" for k, v in tuned["grid"].items()) or "(no parameters)"
        chosen = ", ".join(f"`{json.dumps(b)}`" for b in tuned["best"])
        scores = ", ".join(f"{v:.4f}" for v in tuned["validation"])
        lines.append(f"| {protocol} | {name} | {grid} | {chosen} | {scores} | {tuned['seconds']:.0f} |")
    lines.append("\n" + KNN_NOTE)
    if outcome["missing"]:
        lines.append("\nLeft out: " + "; ".join(f"{k}: {v}" for k, v in outcome["missing"].items()))
    lines.append(TEMPLATE_TAIL)
    return "\n".join(lines) + "\n"


TEMPLATE_HEAD = """# Offline evaluation

<!-- The tables and the plot are written by `{command}`; the prose lives in bench/evaluate.py. -->

How good are the lists? Every algorithm of ours (`scoring/`) and every
*anchor* (the libraries people would pick instead, `bench/anchors.py`) is
fitted on the same training part and scored on the same held-out part of
ml-latest-small ({n:,} ratings), top-10 with the movies seen in training
removed. Mean ± std over {seeds} seeds. Machine: {machine}, shared with other
work while it ran. Each (protocol, seed) runs in a single-threaded process of
its own, all at once, so the fit times are inflated several-fold and are
only good for comparing rows: EASE's fit, for one, took 4-20 s in a single
process with 2 BLAS threads on the same machine.

Made with:

```sh
make evaluate                                     # = the two lines below
.venv/bin/pip install -r requirements-bench.txt   # the anchors and matplotlib, only for this
{command}
```

For one algorithm on the site's own data: `python manage.py evaluate
[--path DIR] [--algorithm NAME --param NAME=VALUE] [--protocol stratified|temporal] [--seeds N] [--json]`.

## Protocol

- **Stratified** (`scoring.evaluation.stratified_split`): each user's ratings
  are shuffled with the seed; round(75 %) (half up, so at least one) stay
  in training, the rest are held out. This is the protocol of the Microsoft
  Recommenders MovieLens benchmark.
- **Temporal** (`temporal_split`): each user's latest round(20 %) ratings
  are held out (equal timestamps ordered by the seed). Closer to production.
- **Validation** (`validation_split`): the same protocol applied again to
  each seed's training part only (each (protocol, seed) runs in a process
  of its own); every grid is searched there by nDCG@10,
  and the chosen point is then fitted on that seed's whole training part. `tests/scoring/evaluation/test_leakage.py` checks with a recording
  scorer that no fit, tuning included, ever sees a held-out pair.
- **Relevant** = every held-out rating of the user (as in the Microsoft
  table), and, as a second view (`≥4` columns, `_liked` keys), only
  held-out ratings of 4 stars or more. Held-out movies unseen in training
  count as relevant, though nobody can recommend them.
- **Metrics** (`scoring/evaluation/metrics.py`, hand-checked in
  `tests/scoring/evaluation/test_metrics.py`): precision@k (÷ k), recall@k
  (÷ relevant), nDCG@k (binary gains, 1/log2(rank+1)), MAP@k (÷ min(k,
  relevant)), averaged over users with at least one relevant movie;
  coverage = share of the training catalogue shown to anyone; RMSE/MAE over
  every held-out rating for algorithms whose scores are stars (a pair a
  model cannot score is predicted as the training mean).

"""

TEMPLATE_TAIL = """
## Reading the numbers

The published Microsoft Recommenders table for this protocol is on
ML-100k (1,682 movies): popularity nDCG@10 0.25, SAR 0.38, BPR 0.44, the
best model 0.475. ml-latest-small has 9.7k movies, most rated by a handful
of people, so the same nDCG@10 is harder to reach here; compare rows of the
same table, which share the split. The rating-predicting kNN scorers rank
poorly for top-10 under this protocol: they predict *how much* a user would
like a movie given that they watch it, not *which* movies they will rate,
and so push rarely-rated movies with a few high ratings to the top.

## Key names (for `Run.metrics["evaluation"]`)

`scoring.evaluation.evaluate_scorer(scorer, Interactions(users, movies,
ratings[, timestamps]), protocol="stratified", seed=0, k=10)` fits a *copy*
of the scorer on the training part and returns a flat JSON-friendly dict.
A precompute run that evaluates itself stores it as
`Run.metrics["evaluation"]`; the progress page shows `"ndcg@10"`.

| key | meaning |
|---|---|
| `algorithm`, `params`, `protocol`, `seed`, `k` | what was measured |
| `users` | users with at least one held-out rating (the averages are over them) |
| `precision@10`, `recall@10`, `ndcg@10`, `map@10` | every held-out rating relevant |
| `precision@10_liked`, `recall@10_liked`, `ndcg@10_liked`, `map@10_liked`, `users_liked` | only held-out ratings ≥ 4 relevant |
| `coverage@10` | share of the training catalogue in anyone's top-10 |
| `rmse`, `mae`, `predicted_share` | only for scorers with `predicts_ratings = True` |
| `fit_seconds`, `score_seconds` | wall time of the fit and of scoring + ranking every user |
| `unknown_test_users` | held-out users with no training rating (0 under both protocols) |

## EASE at scale

`scoring/ease.py` inverts a dense m × m Gram matrix over the modelled
movies (float32, Cholesky in place): 4·m² bytes and m³ flops. Two cuts keep
that and the scoring affordable, both measured on the stratified split of
ml-latest-small (seed 0) before they were adopted:

- **Modelled movies**: at most `max_items` (10,000) of the most-rated
  movies, and only those with `min_ratings` ratings. On ml-latest-small,
  leaving out movies with few ratings did not cost quality (min_ratings
  1 → 10: nDCG@10 0.389 → 0.400) and made the fit ~30x cheaper; the grid
  above chose the value. The movies left out get no personal score; the
  cold-start popular list covers them. At ml-25m shape the cap of 10,000
  sets m (docs/benchmarks.md).
- **Sparse weights**: each rated movie keeps its `keep_weights` (300)
  strongest effects. Scoring with the dense B reads one m-wide row per
  rating (measured ~400 s for all users at ml-25m shape in one process);
  with 300 kept it is a sparse product like item-item kNN's. Per row
  (source) kept 200 / 300 / 500: nDCG@10 0.385 / 0.389 / 0.392 against
  0.403 for the dense B (min_ratings 1).

The similar movies of a movie i are the movies j with the largest positive
B[j, i] (the movies whose viewers most predict i), kept before the weights
are cut; the site's "because you rated" reasons come from them.
"""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", type=Path, default=SMALL, help="MovieLens folder (default: %(default)s)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--only", help="comma-separated algorithm/anchor names (default: all)")
    parser.add_argument("--write", action="store_true", help="write docs/evaluation.md and the PNG")
    parser.add_argument("--json-out", type=Path, help="also write every per-seed result as JSON here")
    args = parser.parse_args(argv)
    only = set(args.only.split(",")) if args.only else None
    outcome = run(args.path, args.seeds, only)
    command = "python -m bench.evaluate --write" + (f" --seeds {args.seeds}" if args.seeds != 3 else "")
    if args.json_out:
        args.json_out.write_text(json.dumps(outcome["results"], indent=1, default=str))  # every per-seed result
    document = render(outcome, args.seeds, command)
    print(document)
    if args.write:
        kinds = {r["algorithm"]: r["kind"] for r in outcome["results"]}
        rows = [r for r in summarise(outcome["results"]) if r["protocol"] == "stratified"]
        plot(rows, kinds, PLOT)
        DOC.write_text(document)
        print(f"wrote {DOC.relative_to(REPO)} and {PLOT.relative_to(REPO)}")


if __name__ == "__main__":
    main()
