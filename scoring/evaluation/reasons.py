"""The reason rules of the site, applied offline to a fitted model's lists, to measure how true they are.

The site finds reasons in SQL (``web.recommender.models.scores``); these
are the same rules over NumPy arrays, so ``bench/reasons.py`` can say, for
a model's top-10 lists, how often a reason names a movie and how often that
movie resembles the recommendation:

* ``best_rated`` (the rule before issue #18): among the recommended movie's
  similar movies the user rated ``liked_from`` stars or more, the best
  rated, ties to the more similar;
* ``strongest_alike`` (the rule now): among those that also share a genre
  with the recommendation, the most similar (the strongest predictor).

A named movie *resembles* the recommendation when it shares a genre with it
or is one of its ``strong`` most similar movies (a strong co-rating).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

RULES = ("best_rated", "strongest_alike")


def named_movies(
    recommended: np.ndarray, users: np.ndarray, ratings: sp.csr_array, neighbours: np.ndarray, genres: sp.csr_array,
    rule: str, liked_from: float = 3.5,
) -> np.ndarray:
    """The column each reason names, (b, k) int64, -1 where it names none.

    ``recommended`` (b, k) columns (-1 = empty), ``users`` (b,) rows of
    ``ratings`` (users × movies), ``neighbours`` (n_items, s) each movie's
    similar movies best first (-1 padded), ``genres`` (n_items, g) 0/1.
    """
    if rule not in RULES:
        raise ValueError(f"unknown rule {rule!r}; choose from: {', '.join(RULES)}")
    b, k = recommended.shape
    s = neighbours.shape[1]
    candidates = np.where(recommended[..., np.newaxis] >= 0, neighbours[np.maximum(recommended, 0)], -1)  # (b, k, s)
    valid = candidates >= 0
    user_of = np.broadcast_to(users[:, np.newaxis, np.newaxis], candidates.shape)
    stars = np.zeros(candidates.shape, dtype=np.float32)
    stars[valid] = ratings[user_of[valid], candidates[valid]]
    eligible = valid & (stars >= liked_from)
    if rule == "strongest_alike":
        eligible &= shares_genre(np.broadcast_to(recommended[..., np.newaxis], candidates.shape), candidates, genres)
        key = np.broadcast_to(np.arange(s), candidates.shape).astype(np.float64)  # the lowest rank wins
    else:
        key = -stars.astype(np.float64) * s + np.arange(s)  # the highest stars, then the lowest rank
    key = np.where(eligible, key, np.inf)
    best = np.argmin(key, axis=2)
    named = np.take_along_axis(candidates, best[..., np.newaxis], axis=2)[..., 0]
    return np.where(np.isfinite(np.min(key, axis=2)), named, -1).astype(np.int64)


def shares_genre(left: np.ndarray, right: np.ndarray, genres: sp.csr_array) -> np.ndarray:
    """Elementwise: do columns ``left`` and ``right`` (same shape, -1 = none) share a genre?"""
    dense = genres.toarray().astype(bool)
    ok = (left >= 0) & (right >= 0)
    a, b = dense[np.maximum(left, 0)], dense[np.maximum(right, 0)]
    return ok & (a & b).any(axis=-1)


def reason_quality(
    named: np.ndarray, recommended: np.ndarray, neighbours: np.ndarray, genres: sp.csr_array, strong: int = 5
) -> dict[str, float]:
    """``named_share``: share of recommendations whose reason names a movie; ``alike_share``: of those, the share
    whose named movie shares a genre with the recommendation or is one of its ``strong`` most similar movies."""
    shown = recommended >= 0
    has_name = shown & (named >= 0)
    top = neighbours[np.maximum(recommended, 0)][..., :strong]
    strong_pair = (top == named[..., np.newaxis]).any(axis=-1)
    alike = has_name & (shares_genre(recommended, named, genres) | strong_pair)
    return {
        "named_share": float(has_name.sum() / max(shown.sum(), 1)),
        "alike_share": float(alike.sum() / has_name.sum()) if has_name.any() else float("nan"),
    }
