"""``python -m bench.watches``: what bare watches add, on ml-latest-small (docs/evaluation.md, "Watches").

For seeds 0-2 of the stratified protocol, half of each training part loses
its stars (:func:`scoring.evaluation.watches.hide_stars`); EASE (the
default; binary, so the watch value does not matter to it) and item-item
kNN (star-based: the watch value does) are fitted with the watches used and
ignored, and with all stars for reference. The watch value for item-item is
chosen on the validation split of each seed (never on its test part) from
WATCH_VALUES. Prints a markdown table of nDCG@10 and recall@10 (mean ± std).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from scoring.ease import EASE
from scoring.evaluation.data import load_movielens
from scoring.evaluation.runner import evaluate_split
from scoring.evaluation.splits import split, validation_split
from scoring.evaluation.watches import VARIANTS, hide_stars
from scoring.itemknn import ItemKNN

REPO = Path(__file__).resolve().parents[1]
WATCH_VALUES = (2.5, 3.5, 4.5, 5.0)
HIDDEN_FRACTION = 0.5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", default=str(REPO.parent / "shared/data/movielens/ml-latest-small"))
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    data = load_movielens(args.path)
    results: dict[tuple[str, str], list[tuple[float, float]]] = {}
    chosen: list[float] = []
    for seed in range(args.seeds):
        outer = split(data, "stratified", seed)
        inner = validation_split(outer)
        tuned = max(WATCH_VALUES, key=lambda w: evaluate_split(
            ItemKNN(), hide_stars(inner, HIDDEN_FRACTION, w, seed)["watches used"])["ndcg@10"])
        chosen.append(tuned)
        for scorer, value in ((EASE(), 3.5), (ItemKNN(), tuned)):
            for name, parts in hide_stars(outer, HIDDEN_FRACTION, value, seed).items():
                result = evaluate_split(scorer, parts)
                results.setdefault((result["algorithm"], name), []).append((result["ndcg@10"], result["recall@10"]))
    print(f"watch value chosen for item-item on the validation splits: {chosen}")
    print("| algorithm | training part | nDCG@10 | recall@10 |\n|---|---|---|---|")
    for (algorithm, name), rows in sorted(results.items(), key=lambda kv: (kv[0][0], VARIANTS.index(kv[0][1]))):
        values = np.array(rows)
        print(f"| {algorithm} | {name} | {values[:, 0].mean():.3f} ± {values[:, 0].std():.3f} "
              f"| {values[:, 1].mean():.3f} ± {values[:, 1].std():.3f} |")


if __name__ == "__main__":
    main()
