"""Popularity: every user gets the same damped-mean ranking (the cold-start fallback)."""

from __future__ import annotations


import numpy as np

from scoring.base import Scorer, require_number
from scoring.matrix import RatingsMatrix


class Popularity(Scorer):
    """Damped mean rating per movie: ``(sum + damping * global_mean) / (count + damping)``.

    The damping pulls movies with few ratings towards the global mean, so a
    movie rated 5.0 by one person does not outrank one rated 4.3 by 215.
    Not personal: every user gets the same scores, whatever their history.

    Parameters
    ----------
    damping : float, default 20.0
        How many "virtual ratings at the global mean" each movie starts with; >= 0.
        20 keeps movies rated by a handful of people off the top of
        ml-latest-small's list and barely moves movies with hundreds of ratings.

    Attributes
    ----------
    scores_ : ndarray of shape (n_items,), float32
        The damped mean of each movie.
    counts_ : ndarray of shape (n_items,), int64
        How many users rated each movie.
    global_mean_ : float
        The mean of all ratings.
    """

    name = "popularity"

    def __init__(self, *, damping: float = 20.0) -> None:
        self.damping = damping

    def validate_params(self) -> None:
        require_number("damping", self.damping, 0)

    def _fit(self, ratings: RatingsMatrix, mapper=None) -> None:  # one pass over the data: nothing to chunk
        matrix = ratings.matrix
        # Column sums and counts in float64: float32 sums of 80k ratings lose digits.
        counts = np.bincount(matrix.indices, minlength=ratings.n_items).astype(np.int64)
        sums = np.bincount(matrix.indices, weights=matrix.data.astype(np.float64), minlength=ratings.n_items)
        global_mean = float(sums.sum() / counts.sum())
        damping = float(self.damping)
        with np.errstate(invalid="ignore", divide="ignore"):
            # 0/0 (an unrated movie with damping 0) is NaN: unscorable, as the interface asks.
            self.scores_ = ((sums + damping * global_mean) / (counts + damping)).astype(np.float32)
        self.counts_ = counts
        self.global_mean_ = global_mean

    def _score_users(self, user_index: np.ndarray) -> np.ndarray:
        return np.repeat(self.scores_[np.newaxis, :], len(user_index), axis=0)

    def _score_history(self, item_index: np.ndarray, ratings: np.ndarray, dismissed: np.ndarray) -> np.ndarray:
        return self.scores_.copy()
