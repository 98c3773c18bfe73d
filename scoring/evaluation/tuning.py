"""Grid search on the validation split: the held-out test part is never seen while choosing parameters."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from scoring.evaluation.runner import evaluate_split
from scoring.evaluation.splits import Split, validation_split


def grid_points(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of the grid's values, in a stable order (an empty grid is one point: the defaults)."""
    names = list(grid)
    return [dict(zip(names, values, strict=True)) for values in itertools.product(*(grid[name] for name in names))]


def tune(
    make: Callable[..., Any],
    grid: Mapping[str, Sequence[Any]],
    outer: Split,
    *,
    metric: str = "ndcg@10",
    k: int = 10,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The grid point of ``make(**params)`` with the best validation ``metric``, and every point's result.

    The candidates are fitted on ``validation_split(outer).train`` and scored
    on its held-out part, both carved from ``outer.train``; ``outer.test``
    is not touched. Ties go to the earlier grid point.
    """
    inner = validation_split(outer)
    results = []
    for params in grid_points(grid):
        result = evaluate_split(make(**params), inner, k=k)
        result["params"] = params
        results.append(result)
    best = max(results, key=lambda r: (r[metric], -results.index(r)))
    return dict(best["params"]), results
