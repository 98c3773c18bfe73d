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
import scipy.sparse as sp


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


LONG_TAIL_HEAD = 0.1
"""The "head" of the catalogue for the long-tail share: the most-rated 10 % of the movies rated in training."""


def beyond_accuracy(recommended: np.ndarray, raters: np.ndarray, n_users: int,
                    genres: sp.csr_array | None = None) -> dict[str, float]:
    """What the lists are like apart from hits, over every list of ``recommended`` (b, k) column indices (-1 = empty).

    ``raters`` (n_items,) is each column's number of raters in training.

    * ``long_tail``: share of the recommended movies outside the most-rated
      :data:`LONG_TAIL_HEAD` of the movies rated in training (a movie nobody
      rated in training is in the tail);
    * ``novelty``: mean self-information ``-log2(raters / n_users)`` of a
      recommended movie, a movie nobody rated counted as rated by one person;
    * ``diversity`` (with ``genres``, (n_items, n_genres) 0/1): mean over
      lists of the mean ``1 - Jaccard`` of the genre sets of two movies of the
      list (0: every movie has the same genres; 1: no two share one).
    """
    recommended = np.asarray(recommended)
    shown = recommended >= 0
    rated = np.flatnonzero(raters > 0)
    head_size = max(1, int(round(LONG_TAIL_HEAD * len(rated))))
    head = np.zeros(len(raters), dtype=bool)
    head[rated[np.argsort(-raters[rated], kind="stable")[:head_size]]] = True
    items = recommended[shown]
    result = {
        "long_tail": float(np.mean(~head[items])) if len(items) else float("nan"),
        "novelty": float(np.mean(-np.log2(np.maximum(raters[items], 1) / n_users))) if len(items) else float("nan"),
    }
    if genres is not None:
        result["diversity"] = genre_diversity(recommended, genres)
    return result


def genre_diversity(recommended: np.ndarray, genres: sp.csr_array) -> float:
    """Mean intra-list ``1 - Jaccard`` of genre sets over lists of at least two movies (NaN if none)."""
    dense = genres.toarray().astype(np.float32)  # (n_items, g): a few dozen genres
    lists = np.where(recommended[..., np.newaxis] >= 0, dense[np.maximum(recommended, 0)], 0.0)  # (b, k, g)
    valid = recommended >= 0
    inter = lists @ lists.transpose(0, 2, 1)  # (b, k, k)
    size = lists.sum(axis=2)
    union = size[:, :, np.newaxis] + size[:, np.newaxis, :] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        distance = np.where(union > 0, 1.0 - inter / union, 0.0)
    pair = valid[:, :, np.newaxis] & valid[:, np.newaxis, :] & ~np.eye(recommended.shape[1], dtype=bool)
    pairs = pair.sum(axis=(1, 2))
    keep = pairs > 0
    if not keep.any():
        return float("nan")
    return float(np.mean((distance * pair).sum(axis=(1, 2))[keep] / pairs[keep]))


def rating_errors(predicted: np.ndarray, actual: np.ndarray) -> dict[str, float]:
    """RMSE and MAE of predicted against actual ratings (equal-length, finite)."""
    predicted, actual = np.asarray(predicted, np.float64), np.asarray(actual, np.float64)
    if predicted.shape != actual.shape or not len(actual):
        raise ValueError(f"need equal, non-empty shapes; got {predicted.shape} and {actual.shape}")
    error = predicted - actual
    return {"rmse": float(np.sqrt(np.mean(error**2))), "mae": float(np.mean(np.abs(error)))}
