"""Fit a scorer on a split's train part and measure its top-k lists on the test part.

Anything with the estimator shape can be evaluated: a registered
:class:`scoring.Scorer` or a benchmark anchor (``bench/anchors.py``) - it
needs ``get_params()``, a constructor taking those params as keywords,
``fit(RatingsMatrix)`` and ``score_users(rows) -> (b, n_items)`` with NaN
for "cannot score". A class attribute ``predicts_ratings = True`` says the
scores are ratings (1-5 stars), and then RMSE/MAE are reported too.

The scorer given is never fitted itself: a fresh copy with the same
parameters is, on the train part only, so the job's fitted model stays as
it was. Users are scored in chunks (``score_users`` + :func:`scoring.topn.top_n`,
movies in the train part excluded), as the job does.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from scoring.content import MovieContent, genre_matrix
from scoring.evaluation.data import Interactions
from scoring.evaluation.metrics import beyond_accuracy, catalogue_coverage, ranking_metrics, rating_errors
from scoring.evaluation.splits import Split, split
from scoring.matrix import RatingsMatrix, sorted_unique
from scoring.topn import top_n

LIKED_THRESHOLD = 4.0
"""The second relevance view: held-out ratings of at least this many stars ("liked")."""


def clone(scorer: Any) -> Any:
    """An unfitted copy of ``scorer`` with the same hyperparameters."""
    return type(scorer)(**scorer.get_params())


def scorer_name(scorer: Any) -> str:
    return getattr(scorer, "name", "") or type(scorer).__name__


def evaluate_scorer(
    scorer: Any,
    data: Interactions,
    *,
    protocol: str = "stratified",
    seed: int = 0,
    k: int = 10,
    chunk_size: int = 1000,
    content: MovieContent | None = None,
) -> dict[str, Any]:
    """Split ``data`` by ``protocol`` with ``seed``, fit a copy of ``scorer`` on the train part, score the test part.

    This is what a precompute run calls to record its own figures in
    ``Run.metrics["evaluation"]`` (key names in docs/evaluation.md).
    ``content`` is the catalogue's metadata, for scorers that read it.
    """
    return evaluate_split(scorer, split(data, protocol, seed), k=k, chunk_size=chunk_size, content=content)


def uses_content(scorer: Any) -> bool:
    """Whether ``scorer`` reads the catalogue's metadata (``RatingsMatrix.content``)."""
    return bool(getattr(scorer, "uses_content", False))


def training_matrix(scorer: Any, train: Interactions, content: MovieContent | None,
                    dismissed: Interactions | None = None) -> RatingsMatrix:
    """What ``scorer`` is fitted on: the ratings, with the catalogue (every movie, rated or not) for a content scorer,
    and the not-interested pairs of ``dismissed`` if any."""
    return train.to_matrix(content if uses_content(scorer) else None, dismissed)


def evaluate_split(
    scorer: Any, parts: Split, *, k: int = 10, chunk_size: int = 1000, content: MovieContent | None = None
) -> dict[str, Any]:
    """Fit a copy of ``scorer`` on ``parts.train`` only and measure its top-``k`` on ``parts.test``.

    Returns a flat JSON-friendly dict: ``algorithm``, ``params``, ``protocol``,
    ``seed``, ``k``, ``users``, ``fit_seconds``, ``score_seconds``, then
    ``precision@k``, ``recall@k``, ``ndcg@k``, ``map@k``, ``coverage@k`` (every
    held-out rating relevant), the same four with ``_liked`` appended (only
    held-out ratings >= 4 relevant; ``users_liked`` counts those users), and
    ``rmse``/``mae`` when the scorer predicts ratings.
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be an integer >= 1; got {k!r}")
    if len(parts.test) == 0:
        raise ValueError("the test part is empty: nothing to evaluate")
    train = training_matrix(scorer, parts.train, content, parts.dismissed)
    model = clone(scorer)
    started = time.perf_counter()
    model.fit(train)
    fit_seconds = time.perf_counter() - started

    test = parts.test
    rows = train.user_index(test.users)
    cols = train.movie_index(test.movies)
    liked = test.ratings >= LIKED_THRESHOLD
    n_all = np.bincount(rows[rows >= 0], minlength=train.n_users)
    n_liked = np.bincount(rows[(rows >= 0) & liked], minlength=train.n_users)
    users = np.flatnonzero(n_all > 0)

    started = time.perf_counter()
    recommended, predictions = _rank(model, train, users, rows, cols, k, chunk_size)
    score_seconds = time.perf_counter() - started

    keys = users[:, np.newaxis].astype(np.int64) * train.n_items + recommended
    known = (rows >= 0) & (cols >= 0)
    result: dict[str, Any] = {
        "algorithm": scorer_name(scorer),
        "params": model.get_params(),
        "protocol": parts.protocol,
        "seed": parts.seed,
        "k": int(k),
        "users": int(len(users)),
        "unknown_test_users": int(len(np.unique(test.users[rows < 0]))),
        "fit_seconds": round(fit_seconds, 4),
        "score_seconds": round(score_seconds, 4),
    }
    for suffix, relevant, counts in (("", known, n_all), ("_liked", known & liked, n_liked)):
        relevant_keys = np.sort(rows[relevant].astype(np.int64) * train.n_items + cols[relevant])
        hits = _isin_sorted(keys, relevant_keys) & (recommended >= 0)
        has_relevant = counts[users] > 0
        per_user = ranking_metrics(hits[has_relevant], counts[users][has_relevant])
        for metric, values in per_user.items():
            result[f"{metric}@{k}{suffix}"] = float(values.mean()) if len(values) else float("nan")
        if suffix:
            result[f"users{suffix}"] = int(has_relevant.sum())
    raters = np.bincount(train.matrix.indices, minlength=train.n_items)
    # Over the movies rated in training, for every scorer alike: a content scorer's matrix also has the
    # unrated catalogue as columns, and a movie it shows from there counts as one more movie covered.
    result[f"coverage@{k}"] = catalogue_coverage(recommended, int(np.count_nonzero(raters)))
    genres = genre_matrix(content, train.movie_ids) if content is not None else None
    for metric, value in beyond_accuracy(recommended, raters, train.n_users, genres).items():
        result[f"{metric}@{k}"] = value
    if predictions is not None:
        # A pair the model cannot score (NaN, a movie or user unseen in training) is predicted
        # as the training mean, as rating libraries do, so every held-out rating counts.
        fallback = float(train.matrix.data.astype(np.float64).mean())
        filled = np.where(np.isnan(predictions), fallback, predictions)
        result.update(rating_errors(filled, test.ratings))
        result["predicted_share"] = float(np.mean(~np.isnan(predictions)))
    return result


def _rank(
    model: Any,
    train: RatingsMatrix,
    users: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    k: int,
    chunk_size: int,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Top-k of ``users`` without their training movies (nor dismissed ones: the site hides them), and (for rating
    predictors) the score of every test pair."""
    recommended = np.empty((len(users), k), dtype=np.int32)
    predicts = bool(getattr(model, "predicts_ratings", False))
    predictions = np.full(len(rows), np.nan, dtype=np.float64) if predicts else None
    known = np.flatnonzero((rows >= 0) & (cols >= 0))
    for start in range(0, len(users), chunk_size):
        chunk = users[start : start + chunk_size]
        scores = model.score_users(chunk)
        recommended[start : start + len(chunk)], _ = top_n(scores, train.hidden(chunk), k)
        if predictions is not None:
            pairs = known[np.isin(rows[known], chunk)]
            predictions[pairs] = scores[np.searchsorted(chunk, rows[pairs]), cols[pairs]]
    return recommended, predictions


def _isin_sorted(values: np.ndarray, sorted_keys: np.ndarray) -> np.ndarray:
    """``np.isin(values, sorted_keys)`` for an ascending ``sorted_keys`` (binary search, any shape)."""
    if len(sorted_keys) == 0:
        return np.zeros(values.shape, dtype=bool)
    position = np.minimum(np.searchsorted(sorted_keys, values), len(sorted_keys) - 1)
    return sorted_keys[position] == values


def evaluate_cold_items(
    scorer: Any, parts: Split, content: MovieContent, *, k: int = 10, page: int = 20, chunk_size: int = 1000
) -> dict[str, Any]:
    """How well a copy of ``scorer`` fitted on ``parts.train`` places the held-out movies (a ``cold_items`` split).

    Each user with a held-out rating and a training history gets their
    ranking of the held-out movies only (NaN scores rank last); relevant = the held-out movies they rated. Returns
    ``cold_ndcg@k``, ``cold_recall@k`` over those rankings and
    ``cold_share@k`` and ``cold_share@page``: the share of the users' ordinary top-k, and of their first ``page``
    (the site's first page), every movie they have not rated, that are held-out movies. Ties - and the NaN of a
    scorer that cannot score a movie it has never seen rated - are ordered
    at random (seeded), so such a scorer places them as random placement does.
    """
    train = parts.train.to_matrix(content)
    model = clone(scorer)
    model.fit(train)
    held = np.flatnonzero(np.isin(train.movie_ids, parts.test.movies))
    rows = train.user_index(parts.test.users)
    cols = train.movie_index(parts.test.movies)
    known = (rows >= 0) & (cols >= 0)
    users = sorted_unique(rows[known])
    position = np.full(train.n_items, -1, dtype=np.int64)
    position[held] = np.arange(len(held))
    relevant = np.zeros((len(users), len(held)), dtype=bool)
    relevant[np.searchsorted(users, rows[known]), position[cols[known]]] = True
    ranked = np.empty((len(users), k), dtype=np.int64)
    shown = np.empty((len(users), max(k, page)), dtype=np.int32)
    rng = np.random.default_rng(parts.seed)
    for start in range(0, len(users), chunk_size):
        chunk = users[start : start + chunk_size]
        scores = model.score_users(chunk)
        block = np.where(np.isnan(scores[:, held]), -np.inf, scores[:, held])
        # Equal scores (and NaN: a movie the scorer cannot score) are ordered at random, not by column: movie ids
        # follow the age of the catalogue, so column order would place the held-out movies by a popularity proxy.
        order = np.lexsort((rng.random(block.shape), -block), axis=1)
        ranked[start : start + len(chunk)] = order[:, :k]
        shown[start : start + len(chunk)], _ = top_n(scores, train.matrix[chunk], shown.shape[1])
    hits = np.take_along_axis(relevant, np.maximum(ranked, 0), axis=1) & (ranked >= 0)
    per_user = ranking_metrics(hits, relevant.sum(axis=1))
    return {
        "algorithm": scorer_name(scorer), "params": model.get_params(), "protocol": parts.protocol,
        "seed": parts.seed, "k": int(k), "users": int(len(users)), "held_out_movies": int(len(held)),
        f"cold_ndcg@{k}": float(per_user["ndcg"].mean()), f"cold_recall@{k}": float(per_user["recall"].mean()),
        f"cold_share@{k}": _share_of(shown[:, :k], held), f"cold_share@{page}": _share_of(shown[:, :page], held),
    }


def _share_of(shown: np.ndarray, held: np.ndarray) -> float:
    """The share of the movies in ``shown`` (-1: no movie) that are in ``held``."""
    listed = shown[shown >= 0]
    return float(np.isin(listed, held).mean()) if len(listed) else 0.0
