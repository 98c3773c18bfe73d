"""Item-item kNN: adjusted-cosine neighbours per movie, scores from the user's own ratings of those neighbours."""

from __future__ import annotations


import numpy as np
import scipy.sparse as sp

from scoring.base import Scorer, require_number, require_whole_number
from scoring.matrix import RatingsMatrix
from scoring.similarity import (
    Mapper,
    centre_rows,
    chunk_bounds,
    damped_prediction,
    neighbour_matrix,
    pattern,
    row_means,
    serial_map,
    top_k,
    unit_rows,
)


class ItemKNN(Scorer):
    """Item-item k nearest neighbours with adjusted-cosine similarity (Sarwar et al. 2001).

    Fit: every rating minus its user's mean rating (that is what makes the
    cosine "adjusted"), each movie's column scaled to unit length, then
    ``sim(i, j)`` is the dot product of the two columns; each movie keeps its
    ``k`` most similar movies with a positive similarity (these are also the
    run's "similar movies"). Computed in chunks of ``chunk_items`` movies as
    sparse products, each chunk an independent task for a pool.

    Score of movie ``i`` for a user ``u`` with mean rating ``m_u``::

        m_u + sum_j sim(i, j) * (r_uj - m_u) / (sum_j sim(i, j) + damping)

    over the neighbours ``j`` of ``i`` that ``u`` rated; NaN if they rated none.

    Parameters
    ----------
    k : int, default 20
        Neighbours kept per movie, >= 1 (also the run's similar movies per movie).
    damping : float, default 10.0
        Added to the similarity sum, >= 0: pulls movies backed by one weak
        neighbour towards the user's mean. The defaults won the quick
        held-out check in docs/precompute.md ("Choosing the default").
    chunk_items : int, default 1000
        Movies per similarity task (memory: about 12 bytes × chunk × movies).

    Attributes
    ----------
    neighbours_ : ndarray (n_items, k) int32 - the neighbour columns of each movie, best first, -1 padded.
    similarities_ : ndarray (n_items, k) float32 - their similarities, NaN padded.
    """

    name = "item_knn"

    def __init__(self, *, k: int = 20, damping: float = 10.0, chunk_items: int = 1000) -> None:
        self.k = k
        self.damping = damping
        self.chunk_items = chunk_items

    def validate_params(self) -> None:
        for name in ("k", "chunk_items"):
            require_whole_number(name, getattr(self, name), 1)
        require_number("damping", self.damping, 0, finite=False)

    def _fit(self, ratings: RatingsMatrix, mapper: Mapper = serial_map) -> None:
        matrix = ratings.matrix
        means = row_means(matrix)
        centred = centre_rows(matrix, means)  # users × movies, float64
        by_movie = unit_rows(centred.T.tocsr())  # movies × users, unit columns of the centred matrix
        by_user = by_movie.T.tocsr()  # users × movies
        k = int(self.k)

        def task(start: int, stop: int) -> tuple[int, np.ndarray, np.ndarray]:
            block = (by_movie[start:stop] @ by_user).toarray()  # (chunk, n_items) similarities
            indices, values = top_k(block, k, np.arange(start, stop))
            return start, indices, values

        neighbours = np.full((ratings.n_items, k), -1, dtype=np.int32)
        similarities = np.full((ratings.n_items, k), np.nan, dtype=np.float32)
        for start, indices, values in mapper(task, chunk_bounds(ratings.n_items, int(self.chunk_items))):
            neighbours[start:start + len(indices)] = indices
            similarities[start:start + len(indices)] = values
        self.neighbours_, self.similarities_ = neighbours, similarities
        self.user_means_ = means.astype(np.float32)
        # (rated movie j) × (movie i) weights sim(i, j): a user's row of ratings times this sums over i's neighbours.
        self._weights_t = neighbour_matrix(neighbours, similarities, ratings.n_items).T.tocsr()
        self._ratings = matrix

    # -- scoring -------------------------------------------------------------
    def _predict(self, rows: sp.csr_array, means: np.ndarray) -> np.ndarray:
        centred = centre_rows(rows, means.astype(np.float64))
        numerator = centred @ self._weights_t
        denominator = pattern(rows) @ self._weights_t
        return damped_prediction(numerator, denominator, means.astype(np.float64), float(self.damping))

    def _score_users(self, user_index: np.ndarray) -> np.ndarray:
        if not hasattr(self, "_ratings"):
            raise ValueError("an unpickled ItemKNN scores histories only (score_history); fit it to score users in bulk")
        rows = self._ratings[user_index]
        return self._predict(rows, row_means(rows))

    def _score_history(self, item_index: np.ndarray, ratings: np.ndarray, dismissed: np.ndarray) -> np.ndarray:
        if len(item_index) == 0:
            return np.full(self.n_items_, np.nan, dtype=np.float32)
        row = history_row(item_index, ratings, self.n_items_)
        return self._predict(row, row_means(row))[0]

    def __getstate__(self) -> dict:
        # The ratings are needed only to score fitted users in bulk; the worker scores histories.
        state = dict(self.__dict__)
        state.pop("_ratings", None)
        return state


def history_row(item_index: np.ndarray, ratings: np.ndarray, n_items: int) -> sp.csr_array:
    """One history as a (1, n_items) CSR with sorted columns (the same layout as a fitted row)."""
    order = np.argsort(item_index, kind="stable")
    indices = np.asarray(item_index)[order].astype(np.int32)
    data = np.asarray(ratings, dtype=np.float32)[order]
    return sp.csr_array((data, indices, np.array([0, len(indices)])), shape=(1, n_items))
