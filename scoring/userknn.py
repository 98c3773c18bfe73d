"""User-user Pearson kNN: the classic; neighbours by correlation, significance-weighted, scores from their ratings."""

from __future__ import annotations


import numpy as np
import scipy.sparse as sp

from scoring.base import Scorer, require_number, require_whole_number
from scoring.itemknn import history_row
from scoring.matrix import RatingsMatrix
from scoring.similarity import (
    centre_rows,
    chunk_bounds,
    damped_prediction,
    neighbour_matrix,
    pair_overlap,
    pattern,
    row_means,
    top_candidates,
    top_k,
    unit_rows,
)



class UserKNN(Scorer):
    """User-user k nearest neighbours by Pearson correlation (Herlocker et al. 1999).

    Each user's ratings minus their mean, scaled to unit length (mean and
    deviation over all their ratings, the usual vectorised form of
    Pearson), so the correlation of two users is one dot product:
    ``corr(u, v) = c_u · c_v``. Significance weighting: ``w(u, v) =
    corr(u, v) · min(n_uv, significance) / significance`` with ``n_uv`` the
    movies both rated. Neighbours: the ``k`` users with the largest positive
    ``w`` among the ``candidates`` users with the largest ``corr(u, v)``,
    skipping users who rated nothing ``u`` has not (they cannot recommend
    anything - this also leaves ``u`` out of their own list). Weighting only
    the best-correlated candidates, not everyone, is what keeps ml-25m
    within minutes: an overlap for every pair would double the work.

    Score of movie ``i`` for ``u`` (mean ``m_u``)::

        m_u + sum_v w(u, v) * (r_vi - m_v) / (sum_v w(u, v) + damping)

    over the neighbours ``v`` who rated ``i``; NaN if none did.

    The correlations of a chunk of users with everyone are one dense float32
    BLAS product over the ``dense_items`` most rated movies (where the
    ratings are dense) plus one sparse product over the rest.

    Parameters
    ----------
    k : int, default 50
        Neighbours per user, >= 1.
    significance : int, default 50
        Co-rated movies at which a correlation counts in full, >= 1.
    candidates : int, default 300
        Best-correlated users whose correlation is significance-weighted, >= k.
    damping : float, default 10.0
        Added to the weight sum, >= 0 (10 beat 0, 1, 3 and matched 30 in the held-out check).
    dense_items : int, default 250
        Most-rated movies held as a dense block for BLAS, >= 0 (speed only).
        At ml-25m shape, 1,000 users took 6.1-6.4 s with 250, 6.4-7.4 s
        with 500 and 7.1-8.3 s with 1,000 (one process, BLAS on one thread).
    block_users : int, default 250
        Users whose correlations with everyone are held at once (memory: ~16 bytes × block × users).
    """

    name = "user_knn"

    def __init__(
        self, *, k: int = 50, significance: int = 50, candidates: int = 300, damping: float = 10.0,
        dense_items: int = 250, block_users: int = 250,
    ) -> None:
        self.k = k
        self.significance = significance
        self.candidates = candidates
        self.damping = damping
        self.dense_items = dense_items
        self.block_users = block_users

    def validate_params(self) -> None:
        for name, low in (("k", 1), ("significance", 1), ("dense_items", 0), ("block_users", 1)):
            require_whole_number(name, getattr(self, name), low)
        require_whole_number("candidates", self.candidates, self.k)  # at least k neighbours to choose from
        require_number("damping", self.damping, 0, finite=False)

    def _fit(self, ratings: RatingsMatrix, mapper=None) -> None:  # no chunked fit: the work is in scoring
        self._ratings = ratings.matrix
        self._derive()

    def _derive(self) -> None:
        """Everything scoring needs, from the ratings alone (so a pickle holds only the ratings)."""
        matrix = self._ratings
        n_items = matrix.shape[1]
        means = row_means(matrix)
        unit = unit_rows(centre_rows(matrix, means))  # users × movies, float32
        counts = np.bincount(matrix.indices, minlength=n_items)
        head = np.sort(np.argsort(-counts, kind="stable")[: min(int(self.dense_items), n_items)])
        is_head = np.zeros(n_items, dtype=bool)
        is_head[head] = True
        self.head_ = head
        self._is_head = is_head
        self._head_t = np.ascontiguousarray(unit[:, head].toarray().T)  # (h, n_users) float32: q_head @ this
        self._tail_t = _drop_columns(unit, is_head).T.tocsr()  # movies × users
        self.user_means_ = means
        self._pattern = pattern(matrix)  # users × movies, for overlaps and weight sums
        self._centred = centre_rows(matrix, means)  # users × movies, float64
        self._nnz = np.diff(matrix.indptr)

    _DERIVED = ("head_", "_is_head", "_head_t", "_tail_t", "user_means_", "_pattern", "_centred", "_nnz")

    def __getstate__(self) -> dict:
        # The derived arrays are ~4x the ratings (a dense head block among them): rebuild them on unpickling.
        return {key: value for key, value in self.__dict__.items() if key not in self._DERIVED}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        if "_ratings" in state:
            self._derive()

    # -- neighbours ------------------------------------------------------------
    def _correlations(self, unit_rows_: sp.csr_array) -> np.ndarray:
        """(b, n_users) correlations of the given unit rows with every fitted user."""
        head = unit_rows_[:, self.head_].toarray()
        block = head @ self._head_t
        tail = _drop_columns(unit_rows_, self._is_head)
        block += (tail @ self._tail_t).toarray()
        return block

    def _neighbours(self, unit_rows_: sp.csr_array, rated: sp.csr_array) -> tuple[np.ndarray, np.ndarray]:
        """Top-k significance-weighted neighbours of each query row: (indices (b, k) int32, weights (b, k) float32).

        Weighting needs each pair's overlap, and an overlap for every pair
        would double the cost of the correlations; so the ``candidates``
        users with the largest correlation are weighted and the best ``k``
        of them kept (all users when there are fewer).
        """
        k, n_users = int(self.k), len(self._nnz)
        raw = self._correlations(unit_rows_)
        raw[~(raw > 0)] = -np.inf  # only positive correlations make neighbours
        width = min(n_users, int(self.candidates))
        candidates = top_candidates(raw, width)
        values = np.take_along_axis(raw, candidates, axis=1)
        keep = np.isfinite(values)
        overlap = np.zeros(values.shape, dtype=np.int64)
        rows = np.broadcast_to(np.arange(raw.shape[0])[:, None], values.shape)
        overlap[keep] = pair_overlap(rated, self._pattern, rows[keep], candidates[keep])
        # Ties go to the lower user row, whatever order the candidates came in.
        order = np.argsort(candidates, axis=1, kind="stable")
        candidates = np.take_along_axis(candidates, order, axis=1)
        weights = self._weights(np.take_along_axis(values, order, axis=1), np.take_along_axis(overlap, order, axis=1),
                                candidates)
        local, best = top_k(weights, k)
        indices = np.where(local >= 0, np.take_along_axis(candidates, np.maximum(local, 0), axis=1), -1)
        return indices.astype(np.int32), best

    def _weights(self, raw: np.ndarray, overlap: np.ndarray, users: np.ndarray) -> np.ndarray:
        """Significance-weighted correlations (same shapes); NaN for pairs that are no neighbours."""
        significance = float(self.significance)
        with np.errstate(invalid="ignore"):  # -inf (not a candidate) × 0 overlap; masked just below
            weighted = raw.astype(np.float64) * np.minimum(overlap, significance) / significance
        useless = overlap >= self._nnz[users]  # rated nothing new for the query user
        weighted[~np.isfinite(raw) | useless] = np.nan
        return weighted.astype(np.float32)

    # -- scoring -------------------------------------------------------------
    def _predict(self, rows: sp.csr_array) -> np.ndarray:
        means = row_means(rows)
        unit = unit_rows(centre_rows(rows, means))
        rated = pattern(rows)
        out = np.empty(rows.shape, dtype=np.float32)
        for start, stop in chunk_bounds(rows.shape[0], int(self.block_users)):
            indices, weights = self._neighbours(unit[start:stop], rated[start:stop])
            w = neighbour_matrix(indices, weights, len(self._nnz))
            out[start:stop] = damped_prediction(w @ self._centred, w @ self._pattern, means[start:stop],
                                                float(self.damping))
        return out

    def _score_users(self, user_index: np.ndarray) -> np.ndarray:
        return self._predict(self._ratings[user_index])

    def _score_history(self, item_index: np.ndarray, ratings: np.ndarray, dismissed: np.ndarray) -> np.ndarray:
        if len(item_index) == 0:
            return np.full(self.n_items_, np.nan, dtype=np.float32)
        return self._predict(history_row(item_index, ratings, self.n_items_))[0]


def _drop_columns(matrix: sp.csr_array, drop: np.ndarray) -> sp.csr_array:
    """``matrix`` without the entries in columns where ``drop`` is True (same shape)."""
    keep = ~drop[matrix.indices]
    rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))[keep]
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=matrix.shape[0]))])
    return sp.csr_array((matrix.data[keep], matrix.indices[keep], indptr), shape=matrix.shape)
