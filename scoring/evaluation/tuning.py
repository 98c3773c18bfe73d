"""Grid search on the validation split: the held-out test part is never seen while choosing parameters."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from scoring.content import MovieContent
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
    content: MovieContent | None = None,
    choose: Callable[[list[dict[str, Any]]], dict[str, Any]] | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The grid point of ``make(**params)`` with the best validation ``metric``, and every point's result.

    The candidates are fitted on ``validation_split(outer).train`` and scored
    on its held-out part, both carved from ``outer.train``; ``outer.test``
    is not touched. Ties go to the earlier grid point. ``choose`` replaces
    "best ``metric``" with another rule over the points' results (e.g.
    :func:`widest_within`); ``content`` is the catalogue, for content scorers.
    """
    inner = validation_split(outer)
    results = []
    for params in grid_points(grid):
        result = evaluate_split(make(**params), inner, k=k, content=content)
        result["params"] = params
        results.append(result)
    best = choose(results) if choose else max(results, key=lambda r: (r[metric], -results.index(r)))
    return dict(best["params"]), results


def widest_within(tolerance: float, metric: str = "ndcg@10", wide: str = "coverage@10"):
    """A ``choose`` rule: the point with the largest ``wide`` among those within ``tolerance`` (0.01 = 1 %) of the
    grid's *first* point's ``metric`` (the reference, e.g. the hybrid with its extra terms off, which ranks as EASE)."""

    def choose(results: list[dict[str, Any]]) -> dict[str, Any]:
        floor = (1.0 - tolerance) * results[0][metric]
        eligible = [r for r in results if r[metric] >= floor]
        return max(eligible, key=lambda r: (r[wide], r[metric], -results.index(r)))

    return choose
