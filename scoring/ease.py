"""EASE: a closed-form linear item-item model (Steck, "Embarrassingly Shallow Autoencoders", 2019).

With ``X`` the binary users × movies matrix (rated or not; the stars are
not used, as in the published method: it ranks what a user will watch),

    P = (XᵀX + l2·I)⁻¹,    B = -P / diag(P) (column-wise),    diag(B) = 0,

and a user's scores are ``x_u B``: every movie is scored by how strongly
the movies they rated predict it, with no movie predicting itself.

Cost and limits: the Gram matrix and its inverse are dense m × m float32
over the modelled movies (m = movies with at least ``min_ratings``
ratings). That is 4·m² bytes for ``B`` (what is pickled for the worker),
about 3x that at the peak of the fit, and m³/3 flops for the Cholesky
inverse: ml-latest-small's 9.7k movies take ~0.4 GB and a few seconds on
2 cores. ml-25m's 59k movies would need ~14 GB per copy; use
``min_ratings`` (e.g. 20 keeps ~13k of them) - movies under it are left
unscored (NaN), which the cold-start popular list covers. ``max_items``
refuses a catalogue that would not fit rather than swapping.
"""

from __future__ import annotations


import numpy as np
import scipy.linalg.lapack as lapack
import scipy.sparse as sp

from scoring.base import Scorer, require_number, require_whole_number
from scoring.matrix import RatingsMatrix


class EASE(Scorer):
    """Closed-form item-item regression on who rated what.

    Parameters
    ----------
    l2 : float, default 200.0
        The ridge penalty on ``B`` (> 0); larger favours popular movies.
        200 was the point of the grid {50, 100, 200, 400} chosen on
        ml-latest-small's validation splits (docs/evaluation.md).
    min_ratings : int, default 1
        Model only movies rated by at least this many users (>= 1); the
        rest get NaN scores and do not count in anyone's history.
    max_items : int, default 30000
        Refuse to fit when more movies than this would be modelled (>= 1):
        the dense m × m matrices would need about 12·m² bytes.

    Attributes
    ----------
    modelled_ : ndarray of shape (m,), int64
        The columns (into ``movie_ids_``) the model covers.
    weights_ : ndarray of shape (m, m), float32
        ``B``: ``weights_[j, i]`` is how much having rated modelled movie j adds to movie i.
    """

    name = "ease"

    def __init__(self, *, l2: float = 200.0, min_ratings: int = 1, max_items: int = 30000) -> None:
        self.l2 = l2
        self.min_ratings = min_ratings
        self.max_items = max_items

    def validate_params(self) -> None:
        require_number("l2", self.l2, 0, above=True)
        for name in ("min_ratings", "max_items"):
            require_whole_number(name, getattr(self, name), 1, wording="an integer")

    def _fit(self, ratings: RatingsMatrix, mapper=None) -> None:  # one dense inverse: nothing to chunk
        counts = np.bincount(ratings.matrix.indices, minlength=ratings.n_items)
        modelled = np.flatnonzero(counts >= self.min_ratings)
        if len(modelled) > self.max_items:
            raise ValueError(
                f"EASE would model {len(modelled):,} movies, over max_items={self.max_items:,} "
                f"(~{12 * len(modelled) ** 2 / 2**30:.0f} GiB); raise min_ratings to model fewer"
            )
        if len(modelled) == 0:
            raise ValueError(f"no movie has min_ratings={self.min_ratings} ratings; lower min_ratings")
        # Column position of every movie in the modelled block, -1 where it is not modelled.
        position = np.full(ratings.n_items, -1, dtype=np.int64)
        position[modelled] = np.arange(len(modelled))
        history = _binary_rows(ratings.matrix, position, len(modelled))
        gram = (history.T @ history).toarray().astype(np.float32)
        gram[np.diag_indices_from(gram)] += np.float32(self.l2)
        self.weights_ = _weights_from_gram(gram)
        self.modelled_ = modelled
        self._position = position
        self._history = history

    def _scores(self, rows: sp.csr_array) -> np.ndarray:
        """Full (b, n_items) float32 scores from binary rows over the modelled block."""
        scores = np.full((rows.shape[0], len(self._position)), np.nan, dtype=np.float32)
        scores[:, self.modelled_] = rows @ self.weights_
        return scores

    def _score_users(self, user_index: np.ndarray) -> np.ndarray:
        return self._scores(self._history[user_index])

    def _score_history(self, item_index: np.ndarray, ratings: np.ndarray) -> np.ndarray:
        return self._scores(self._history_row(item_index))[0]

    def _history_row(self, item_index: np.ndarray) -> sp.csr_array:
        """One history as a (1, m) binary CSR laid out like a fitted row (sorted columns), so scores match exactly."""
        columns = np.sort(self._position[np.asarray(item_index, dtype=np.int64)])
        columns = columns[columns >= 0].astype(np.int32)
        data = np.ones(len(columns), dtype=np.float32)
        return sp.csr_array((data, columns, np.array([0, len(columns)])), shape=(1, len(self.modelled_)))

    # -- explaining ----------------------------------------------------------
    def because_of(self, item: int, item_index: np.ndarray, ratings: np.ndarray) -> tuple[int, float] | None:
        """The rated column (and its rating) that adds most to ``item``'s score, or None if none adds anything."""
        self.check_fitted()
        item_index, ratings = self._check_history(item_index, ratings)
        target = self._position[int(item)]
        rated = self._position[item_index.astype(np.int64)]
        usable = rated >= 0
        if target < 0 or not usable.any():
            return None
        contribution = self.weights_[rated[usable], target]
        best = int(np.argmax(contribution))
        if contribution[best] <= 0:
            return None
        return int(item_index[usable][best]), float(ratings[usable][best])

    def _explain(self, item: int, item_index: np.ndarray, ratings: np.ndarray) -> str | None:
        found = self.because_of(item, item_index, ratings)
        if found is None:
            return None
        column, rating = found
        return f"because you rated movie {int(self.movie_ids_[column])} {rating:g} stars"


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
