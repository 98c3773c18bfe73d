"""The libraries people would pick instead of ours, wrapped for :mod:`scoring.evaluation`'s runner.

Installed only for the benchmark (requirements-bench.txt): nothing at run
time imports this module. Each wrapper has the runner's estimator shape -
keyword hyperparameters, ``get_params()``, ``fit(RatingsMatrix)``,
``score_users(rows) -> (b, n_items) float32`` - and uses the library's own
fitted model to score, so the figures are the library's, not ours:

* ``most_popular``: number of ratings per movie (the popularity row of the
  Microsoft Recommenders table; our ``popularity`` ranks by damped mean instead);
* ``implicit_als`` / ``implicit_bpr``: ``implicit`` 0.7's ALS and BPR on the
  binary rated/not matrix; score = user factors · item factors (what its
  ``recommend`` computes);
* ``surprise_svd``: Surprise's SVD (biased MF on the stars); score =
  ``mu + b_u + b_i + p_u·q_i`` from its fitted arrays (its ``estimate``,
  vectorised, unclipped so that ranks do not tie at 5 stars);
* ``surprise_knn_means``: Surprise's KNNWithMeans (user-based), scored by
  calling its own ``estimate`` for every (user, movie) pair - slow (minutes),
  so it is tuned on fewer points.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd

from scoring.matrix import RatingsMatrix


class Anchor:
    """Keyword hyperparameters stored as given (the Scorer convention), plus the fitted id maps."""

    name = ""
    predicts_ratings = False

    def __init__(self, **params: Any) -> None:
        self._params = dict(self.defaults, **params)
        unknown = set(params) - set(self.defaults)
        if unknown:
            raise ValueError(f"{self.name} does not take {sorted(unknown)}; it accepts {sorted(self.defaults)}")

    defaults: dict[str, Any] = {}

    def get_params(self) -> dict[str, Any]:
        return dict(self._params)

    def fit(self, ratings: RatingsMatrix) -> Anchor:
        self.n_items_ = ratings.n_items
        self._fit(ratings)
        return self

    def _fit(self, ratings: RatingsMatrix) -> None:
        raise NotImplementedError


class MostPopular(Anchor):
    """Movies ranked by how many users rated them; the same list for everyone."""

    name = "most_popular"

    def _fit(self, ratings: RatingsMatrix) -> None:
        self.counts_ = np.bincount(ratings.matrix.indices, minlength=ratings.n_items).astype(np.float32)

    def score_users(self, rows: np.ndarray) -> np.ndarray:
        return np.repeat(self.counts_[np.newaxis, :], len(rows), axis=0)


def _binary(ratings: RatingsMatrix):
    matrix = ratings.matrix.copy()
    matrix.data[:] = 1.0
    return matrix


def _threads() -> int:
    return len(os.sched_getaffinity(0))


class ImplicitALS(Anchor):
    """``implicit.cpu.als.AlternatingLeastSquares`` on the binary matrix (confidence 1 + alpha)."""

    name = "implicit_als"
    defaults = {"factors": 64, "regularization": 0.05, "alpha": 1.0, "iterations": 15, "seed": 0}

    def _fit(self, ratings: RatingsMatrix) -> None:
        from implicit.cpu.als import AlternatingLeastSquares  # optional (requirements-bench.txt): loaded only when this anchor runs

        p = self._params
        model = AlternatingLeastSquares(
            factors=p["factors"], regularization=p["regularization"], alpha=p["alpha"],
            iterations=p["iterations"], random_state=p["seed"], num_threads=_threads(),
        )
        model.fit(_binary(ratings).tocsr(), show_progress=False)
        self.user_factors_, self.item_factors_ = model.user_factors, model.item_factors

    def score_users(self, rows: np.ndarray) -> np.ndarray:
        return (self.user_factors_[rows] @ self.item_factors_.T).astype(np.float32)


class ImplicitBPR(ImplicitALS):
    """``implicit.cpu.bpr.BayesianPersonalizedRanking`` on the binary matrix."""

    name = "implicit_bpr"
    defaults = {"factors": 64, "learning_rate": 0.01, "regularization": 0.01, "iterations": 100, "seed": 0}

    def _fit(self, ratings: RatingsMatrix) -> None:
        from implicit.cpu.bpr import BayesianPersonalizedRanking  # optional (requirements-bench.txt): loaded only when this anchor runs

        p = self._params
        model = BayesianPersonalizedRanking(
            factors=p["factors"], learning_rate=p["learning_rate"], regularization=p["regularization"],
            iterations=p["iterations"], random_state=p["seed"], num_threads=_threads(),
        )
        model.fit(_binary(ratings).tocsr(), show_progress=False)
        self.user_factors_, self.item_factors_ = model.user_factors, model.item_factors


def _surprise_trainset(ratings: RatingsMatrix):
    """A Surprise trainset whose raw ids are our row and column indices, and the inner id of each."""
    from surprise import Dataset, Reader  # optional (requirements-bench.txt): loaded only when this anchor runs

    matrix = ratings.matrix.tocoo()
    frame = pd.DataFrame({"user": matrix.row.astype(np.int64), "item": matrix.col.astype(np.int64),
                          "rating": matrix.data.astype(np.float64)})
    trainset = Dataset.load_from_df(frame, Reader(rating_scale=(0.5, 5.0))).build_full_trainset()
    inner_user = np.array([trainset.to_inner_uid(u) for u in range(ratings.n_users)])
    inner_item = np.array([trainset.to_inner_iid(i) for i in range(ratings.n_items)])
    return trainset, inner_user, inner_item


class SurpriseSVD(Anchor):
    """Surprise's SVD (Funk-style biased MF on the stars, SGD)."""

    name = "surprise_svd"
    predicts_ratings = True
    defaults = {"n_factors": 100, "n_epochs": 20, "lr_all": 0.005, "reg_all": 0.02, "seed": 0}

    def _fit(self, ratings: RatingsMatrix) -> None:
        from surprise import SVD  # optional (requirements-bench.txt): loaded only when this anchor runs

        p = self._params
        trainset, inner_user, inner_item = _surprise_trainset(ratings)
        model = SVD(n_factors=p["n_factors"], n_epochs=p["n_epochs"], lr_all=p["lr_all"], reg_all=p["reg_all"],
                    random_state=p["seed"])
        model.fit(trainset)
        self.mean_ = trainset.global_mean
        self.user_bias_, self.user_factors_ = model.bu[inner_user], model.pu[inner_user]
        self.item_bias_, self.item_factors_ = model.bi[inner_item], model.qi[inner_item]

    def score_users(self, rows: np.ndarray) -> np.ndarray:
        scores = self.user_factors_[rows] @ self.item_factors_.T
        scores += self.mean_ + self.user_bias_[rows, np.newaxis] + self.item_bias_[np.newaxis, :]
        return scores.astype(np.float32)


class SurpriseKNNWithMeans(Anchor):
    """Surprise's KNNWithMeans, user-based, scoring every pair with the library's own ``estimate``."""

    name = "surprise_knn_means"
    predicts_ratings = True
    defaults = {"k": 40, "sim": "pearson", "min_support": 1}

    def _fit(self, ratings: RatingsMatrix) -> None:
        from surprise import KNNWithMeans  # optional (requirements-bench.txt): loaded only when this anchor runs

        p = self._params
        trainset, self._inner_user, self._inner_item = _surprise_trainset(ratings)
        self.model_ = KNNWithMeans(
            k=p["k"], sim_options={"name": p["sim"], "user_based": True, "min_support": p["min_support"]},
            verbose=False,
        )
        self.model_.fit(trainset)

    def score_users(self, rows: np.ndarray) -> np.ndarray:
        from surprise import PredictionImpossible  # optional (requirements-bench.txt): loaded only when this anchor runs

        estimate = self.model_.estimate
        scores = np.full((len(rows), self.n_items_), np.nan, dtype=np.float32)
        for position, row in enumerate(rows):
            user = int(self._inner_user[row])
            for column, item in enumerate(self._inner_item.tolist()):
                try:
                    value = estimate(user, item)
                except PredictionImpossible:
                    continue
                scores[position, column] = value[0] if isinstance(value, tuple) else value
        return scores


ANCHORS: dict[str, type[Anchor]] = {
    cls.name: cls for cls in (MostPopular, ImplicitALS, ImplicitBPR, SurpriseSVD, SurpriseKNNWithMeans)
}
