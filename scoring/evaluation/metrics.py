"""Ranking metrics over a top-k hit matrix, catalogue coverage, and rating errors.

Conventions (docs/evaluation.md):

* ``hits[u, j]`` is True when user ``u``'s recommendation at rank ``j``
  (0-based) is relevant; ``n_relevant[u]`` counts *all* their relevant
  held-out movies, including movies the training part never saw (which
  no scorer can recommend: they lower recall, honestly).
* precision@k divides by k even when fewer than k were recommended.
* nDCG@k uses binary gains ``1 / log2(rank + 2)``; the ideal list puts
  ``min(k, n_relevant)`` hits first.
* MAP@k: the sum of precision@j at each hit j, divided by ``min(k, n_relevant)``.
* Users with no relevant held-out movie are left out of the means.
"""

from __future__ import annotations

import numpy as np


def ranking_metrics(hits: np.ndarray, n_relevant: np.ndarray) -> dict[str, np.ndarray]:
    """Per-user precision, recall, nDCG and AP at k = ``hits.shape[1]``.

    Parameters
    ----------
    hits : ndarray of shape (n_users, k), bool
    n_relevant : ndarray of shape (n_users,), int, all > 0

    Returns a dict ``{"precision", "recall", "ndcg", "map"}`` of (n_users,) float64 arrays.
    """
    hits = np.asarray(hits, dtype=bool)
    n_relevant = np.asarray(n_relevant, dtype=np.int64)
    if hits.ndim != 2 or n_relevant.shape != (hits.shape[0],):
        raise ValueError(f"hits must be (n_users, k) and n_relevant (n_users,); got {hits.shape} and {n_relevant.shape}")
    if (n_relevant <= 0).any():
        raise ValueError("every user given to ranking_metrics needs at least one relevant movie")
    k = hits.shape[1]
    gains = 1.0 / np.log2(np.arange(2, k + 2))
    hit_count = hits.sum(axis=1)
    ideal_hits = np.minimum(n_relevant, k)
    ideal_dcg = np.cumsum(gains)[ideal_hits - 1]
    precision_at_rank = np.cumsum(hits, axis=1) / np.arange(1, k + 1)
    return {
        "precision": hit_count / k,
        "recall": hit_count / n_relevant,
        "ndcg": (hits @ gains) / ideal_dcg,
        "map": (precision_at_rank * hits).sum(axis=1) / ideal_hits,
    }


def catalogue_coverage(recommended: np.ndarray, n_items: int) -> float:
    """The share of the ``n_items`` catalogue that appears in at least one list (-1 = empty slot, ignored)."""
    recommended = np.asarray(recommended)
    shown = np.unique(recommended[recommended >= 0])
    return len(shown) / n_items if n_items else 0.0


def rating_errors(predicted: np.ndarray, actual: np.ndarray) -> dict[str, float]:
    """RMSE and MAE of predicted against actual ratings (equal-length, finite)."""
    predicted, actual = np.asarray(predicted, np.float64), np.asarray(actual, np.float64)
    if predicted.shape != actual.shape or not len(actual):
        raise ValueError(f"need equal, non-empty shapes; got {predicted.shape} and {actual.shape}")
    error = predicted - actual
    return {"rmse": float(np.sqrt(np.mean(error**2))), "mae": float(np.mean(np.abs(error)))}
