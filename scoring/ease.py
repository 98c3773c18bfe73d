"""EASE: a closed-form linear item-item model (Steck, "Embarrassingly Shallow Autoencoders", 2019).

With ``X`` the binary users × movies matrix (rated or not; the stars are
not used, as in the published method: it ranks what a user will watch),

    P = (XᵀX + l2·I)⁻¹,    B = -P / diag(P) (column-wise),    diag(B) = 0,

and a user's scores are ``x_u B``: every movie is scored by how strongly
the movies they rated predict it, with no movie predicting itself.

Watches that count are entries of ``X`` like ratings. A movie the user
said they are not interested in is ``dismissed`` (<= 0) in their row
``x_u`` (scoring.feedback): the movies its viewers predict lose that much
of their pull. ``B`` is fitted on the positive entries alone, as published;
the negatives only move scores.

Two cuts make it fit ml-25m on a laptop (docs/evaluation.md, "EASE at scale"):

* **Modelled movies.** The Gram matrix and its inverse are dense m × m
  float32 (4·m² bytes, m³ flops to invert), so only the ``max_items``
  most-rated movies are modelled (and only those with ``min_ratings``);
  the rest get NaN scores, which the cold-start popular list covers. On
  real ml-25m the 10,000 most-rated of 59k movies hold about 97 % of the
  ratings.
* **Sparse weights.** Scoring with the dense ``B`` reads a 40 KB row per
  rating (about 400 s per process for ml-25m); each rated movie keeps only
  its ``keep_weights`` strongest effects (largest |B[j, i]| over targets
  i), so scoring is a sparse product like item-item kNN. On
  ml-latest-small's stratified split, keeping 300 costs 0.014 of nDCG@10
  (0.389 vs 0.403 dense).

The Gram matrix is built in column blocks through the ``mapper`` (the job's
forked pool); the inverse is one LAPACK call using the BLAS threads of the
calling process.
"""

from __future__ import annotations

import math
from numbers import Real

import numpy as np
import scipy.linalg.lapack as lapack
import scipy.sparse as sp

from scoring.base import Scorer, require_number, require_whole_number
from scoring.feedback import DISMISSED_WEIGHT
from scoring.matrix import RatingsMatrix, index_rows
from scoring.similarity import Mapper, chunk_bounds, serial_map, top_k

GRAM_BLOCK = 1000
"""Modelled movies per Gram task: a (m, 1000) float32 block is 40 MB at m = 10,000."""
PRUNE_BLOCK = 1000
"""Rows of ``B`` pruned at a time (argpartition needs 8 bytes per entry of the block)."""


class EASE(Scorer):
    """Closed-form item-item regression on who rated what, with sparse weights.

    Parameters
    ----------
    l2 : float, default 400.0
        The ridge penalty on ``B`` (> 0); larger favours popular movies.
        400 (and ``min_ratings`` 10) are the points of the grid l2 ∈ {100,
        200, 400} × min_ratings ∈ {5, 10, 20} chosen most often on the
        validation splits of ml-latest-small's stratified protocol
        (docs/evaluation.md).
    keep_weights : int, default 300
        Effects kept per rated movie (>= 1): the largest |B[j, i]| of each
        row j. Scoring costs about this many operations per rating; a value
        >= the modelled movies keeps ``B`` whole.
    similar : int, default 20
        Similar movies kept per movie (>= 1): the movies whose viewers most
        predict it (largest positive B[j, i] of column i), written by the job
        as the run's "similar movies" and used for "because you rated".
    min_ratings : int, default 10
        Model only movies rated by at least this many users (>= 1): on
        ml-latest-small, leaving out the rarely rated movies ranked better.
    max_items : int, default 10000
        Model at most this many movies (>= 1), the most-rated first; the
        dense m × m fit needs about 8·m² bytes at its peak.
    dismissed : float, default :data:`scoring.feedback.DISMISSED_WEIGHT`
        A not-interested movie's entry in the user's history row (<= 0;
        a rated or watched movie's is 1; 0 ignores dismissals).

    Attributes
    ----------
    modelled_ : ndarray of shape (m,), int64
        The columns (into ``movie_ids_``) the model covers, ascending.
    weights_ : csr_array of shape (m, m), float32
        The kept part of ``B``: ``weights_[j, i]`` is how much having rated modelled movie j adds to movie i.
    neighbours_ : ndarray of shape (n_items, similar), int32
        Each movie's similar movies (columns into ``movie_ids_``), best first, -1 padded.
    similarities_ : ndarray of shape (n_items, similar), float32
        Their weights B[j, i], NaN padded.
    """

    name = "ease"
    score_scale = "match"

    def __init__(
        self, *, l2: float = 400.0, keep_weights: int = 300, similar: int = 20,
        min_ratings: int = 10, max_items: int = 10000, dismissed: float = DISMISSED_WEIGHT,
    ) -> None:
        self.l2 = l2
        self.keep_weights = keep_weights
        self.similar = similar
        self.min_ratings = min_ratings
        self.max_items = max_items
        self.dismissed = dismissed

    def validate_params(self) -> None:
        require_number("l2", self.l2, 0, above=True)
        for name in ("keep_weights", "similar", "min_ratings", "max_items"):
            require_whole_number(name, getattr(self, name), 1, wording="an integer")
        require_dismissed_weight(self.dismissed)

    def _fit(self, ratings: RatingsMatrix, mapper: Mapper = serial_map) -> None:
        modelled = self._choose_movies(ratings)
        # Column position of every movie in the modelled block, -1 where it is not modelled.
        position = np.full(ratings.n_items, -1, dtype=np.int64)
        position[modelled] = np.arange(len(modelled))
        history = _binary_rows(ratings.matrix, position, len(modelled))
        gram = _gram(history, mapper)
        if ratings.dismissed is not None and self.dismissed != 0:
            # After the Gram: B is fitted on the positives; the negatives are part of the rows it scores.
            history = history + np.float32(self.dismissed) * _binary_rows(ratings.dismissed, position, len(modelled))
            history.sort_indices()
        gram[np.diag_indices_from(gram)] += np.float32(self.l2)
        dense = _weights_from_gram(gram)
        del gram  # the inverse was written over it
        neighbours, similarities = _similar(dense, int(self.similar))
        self.neighbours_ = np.full((ratings.n_items, neighbours.shape[1]), -1, dtype=np.int32)
        self.similarities_ = np.full(self.neighbours_.shape, np.nan, dtype=np.float32)
        found = neighbours >= 0
        self.neighbours_[modelled] = np.where(found, modelled[np.maximum(neighbours, 0)], -1)
        self.similarities_[modelled] = similarities
        self.weights_ = _prune_rows(dense, int(self.keep_weights))
        self.modelled_ = modelled
        self._position = position
        self._history = history

    def _choose_movies(self, ratings: RatingsMatrix) -> np.ndarray:
        counts = np.bincount(ratings.matrix.indices, minlength=ratings.n_items)
        eligible = np.flatnonzero(counts >= self.min_ratings)
        if len(eligible) == 0:
            raise ValueError(f"no movie has min_ratings={self.min_ratings} ratings; lower min_ratings")
        if len(eligible) > self.max_items:
            # The most-rated first; a stable sort keeps equal counts in column order, so the choice is reproducible.
            by_count = eligible[np.argsort(-counts[eligible], kind="stable")]
            eligible = np.sort(by_count[: int(self.max_items)])
        return eligible

    def _scores(self, rows: sp.csr_array) -> np.ndarray:
        """Full (b, n_items) float32 scores from binary rows over the modelled block."""
        scores = np.full((rows.shape[0], len(self._position)), np.nan, dtype=np.float32)
        scores[:, self.modelled_] = _with_evidence(rows, (rows @ self.weights_).toarray())
        return scores

    def _score_users(self, user_index: np.ndarray) -> np.ndarray:
        return self._scores(self._fitted_rows(user_index))

    def score_users_compact(self, user_index: np.ndarray, n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Scores of the modelled movies only (the others are NaN for everyone, whatever ``n``): (b, m) and ``modelled_``."""
        rows = self._fitted_rows(self._check_users(user_index))
        return _with_evidence(rows, (rows @ self.weights_).toarray()), self.modelled_

    def _fitted_rows(self, user_index: np.ndarray) -> sp.csr_array:
        if not hasattr(self, "_history"):
            raise ValueError("an unpickled EASE scores histories only (score_history); fit it to score users in bulk")
        return self._history[user_index]

    def _score_history(self, item_index: np.ndarray, ratings: np.ndarray, dismissed: np.ndarray) -> np.ndarray:
        return self._score_histories([(item_index, ratings, dismissed)])[0]

    def _score_histories(self, histories: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> np.ndarray:
        # One sparse product for the batch: per user, the product's set-up cost more than its arithmetic.
        return self._scores(self._history_rows(histories))

    def _history_rows(self, histories: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> sp.csr_array:
        """The histories as a (b, m) CSR built as the fit builds its rows, so scores match exactly: 1 for each
        modelled movie of a history's ``item_index``, ``self.dismissed`` for each of its dismissed (unless 0) that
        it did not rate or watch."""
        positives = index_rows([item_index for item_index, _, _ in histories], self.n_items_)
        rows = _binary_rows(positives, self._position, len(self.modelled_))
        if self.dismissed != 0:
            dismissed = index_rows([dismissed for _, _, dismissed in histories], self.n_items_)
            unrated = dismissed - dismissed.multiply(positives)
            unrated.eliminate_zeros()
            rows = rows + np.float32(self.dismissed) * _binary_rows(unrated, self._position, len(self.modelled_))
            rows.sort_indices()
        return rows

    def __getstate__(self) -> dict:
        # The fitted histories are needed only to score fitted users in bulk; the worker scores histories.
        state = dict(self.__dict__)
        state.pop("_history", None)
        return state


def require_dismissed_weight(value: object) -> None:
    """``dismissed`` must be a finite number <= 0 (a dismissal is never a positive); else a ValueError."""
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value) or value > 0:
        raise ValueError(f"dismissed must be a finite number <= 0 (a not-interested movie is no positive); got {value!r}")


def _with_evidence(rows: sp.csr_array, scores: np.ndarray) -> np.ndarray:
    """``scores`` with NaN rows for users none of whose movies is modelled (dismissed movies are no evidence).

    Their product with the weights is all zeros, or only pushes away: a list
    ranked by that is no recommendation, so they get none (the site shows
    the labelled popular list instead of a "0% match" list in column order).
    """
    row_of = np.repeat(np.arange(rows.shape[0]), np.diff(rows.indptr))
    scores[np.bincount(row_of[rows.data > 0], minlength=rows.shape[0]) == 0] = np.nan
    return scores


def _binary_rows(matrix: sp.csr_array, position: np.ndarray, n_modelled: int) -> sp.csr_array:
    """The rated/not pattern of ``matrix`` restricted to the modelled columns, renumbered, as float32 CSR."""
    columns = position[matrix.indices]
    keep = columns >= 0
    row_of = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    binary = sp.csr_array(
        (np.ones(int(keep.sum()), dtype=np.float32), (row_of[keep], columns[keep])),
        shape=(matrix.shape[0], n_modelled),
    )
    binary.sort_indices()
    return binary


def _gram(history: sp.csr_array, mapper: Mapper) -> np.ndarray:
    """The upper triangle of ``XᵀX`` as a dense (m, m) float32 (the lower one is left unset), a task per column block.

    The Cholesky factorisation below reads only the upper triangle, so each
    block of columns ``[start, stop)`` needs only rows ``[0, stop)``: half
    the sparse work of the whole product.
    """
    by_movie = history.T.tocsr()  # (m, users): row j lists who rated modelled movie j
    m = by_movie.shape[0]

    def task(start: int, stop: int) -> tuple[int, np.ndarray]:
        return start, (by_movie[:stop] @ by_movie[start:stop].T).toarray().astype(np.float32, copy=False)

    gram = np.empty((m, m), dtype=np.float32)
    for start, block in mapper(task, chunk_bounds(m, GRAM_BLOCK)):
        gram[: block.shape[0], start:start + block.shape[1]] = block
    return gram


def _weights_from_gram(gram: np.ndarray) -> np.ndarray:
    """``B = -P / diag(P)`` with a zero diagonal, ``P`` the inverse of the (regularised, SPD) ``gram``.

    Cholesky factor and inverse in place (LAPACK potrf/potri): about 3x
    faster than a general solve against the identity, and no second m × m array.
    """
    factor, info = lapack.spotrf(gram, lower=0, overwrite_a=1, clean=0)
    if info != 0:
        raise np.linalg.LinAlgError(f"Gram matrix is not positive definite (potrf info={info}); raise l2")
    inverse, info = lapack.spotri(factor, lower=0, overwrite_c=1)
    if info != 0:
        raise np.linalg.LinAlgError(f"Cholesky inverse failed (potri info={info})")
    # potri fills the upper triangle only; mirror it.
    upper = np.triu(inverse)
    upper += np.triu(inverse, 1).T
    diagonal = np.diag(upper).copy()
    upper /= -diagonal[np.newaxis, :]
    np.fill_diagonal(upper, 0.0)
    return upper


def _similar(dense: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per modelled movie i, the ``k`` sources j with the largest positive B[j, i], best first (-1/NaN padded)."""
    m = dense.shape[0]
    k = min(k, max(m - 1, 1))
    neighbours = np.empty((m, k), dtype=np.int32)
    similarities = np.empty((m, k), dtype=np.float32)
    for start, stop in chunk_bounds(m, PRUNE_BLOCK):
        # The diagonal is 0, so no movie is its own neighbour (top_k keeps positive entries only).
        neighbours[start:stop], similarities[start:stop] = top_k(dense[:, start:stop].T, k)
    return neighbours, similarities


def _prune_rows(dense: np.ndarray, keep: int) -> sp.csr_array:
    """``dense`` as CSR keeping each row's ``keep`` entries of largest magnitude (all of them if ``keep`` >= m)."""
    m = dense.shape[0]
    if keep >= m:
        pruned = sp.csr_array(dense)
    else:
        columns = np.empty((m, keep), dtype=np.int32)
        for start, stop in chunk_bounds(m, PRUNE_BLOCK):
            columns[start:stop] = np.argpartition(-np.abs(dense[start:stop]), keep - 1, axis=1)[:, :keep]
        columns.sort(axis=1)
        values = np.take_along_axis(dense, columns, axis=1)
        indptr = np.arange(0, m * keep + 1, keep, dtype=np.int64)
        pruned = sp.csr_array((values.ravel(), columns.ravel(), indptr), shape=(m, m))
    pruned.eliminate_zeros()  # the diagonal and exact zeros carry nothing
    pruned.sort_indices()
    return pruned
