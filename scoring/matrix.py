"""The ratings as a sparse users × movies matrix with sorted id maps.

Ids are mapped to row/column indices with a sort and ``np.searchsorted``,
never ``np.unique``: on ~20M ids ``np.unique`` took 40 s in NumPy 2.4 where
a sort-based equivalent took 0.6 s (PERFORMANCE.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

if TYPE_CHECKING:  # scoring.content maps ids with index_of from here
    from scoring.content import MovieContent


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """The distinct values of ``values`` in ascending order (sort + diff; see the module docstring)."""
    ordered = np.sort(values)
    if len(ordered) == 0:
        return ordered
    keep = np.empty(len(ordered), dtype=bool)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


def index_of(sorted_ids: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Positions of ``ids`` in ``sorted_ids`` (ascending, distinct) as int64; -1 where an id is absent."""
    ids = np.asarray(ids)
    if len(sorted_ids) == 0:
        return np.full(ids.shape, -1, dtype=np.int64)
    position = np.searchsorted(sorted_ids, ids).astype(np.int64)
    # searchsorted returns len(sorted_ids) past the end; clip before comparing.
    np.minimum(position, len(sorted_ids) - 1, out=position)
    position[sorted_ids[position] != ids] = -1
    return position


@dataclass(frozen=True, eq=False)
class RatingsMatrix:
    """Explicit ratings as a CSR matrix plus the ids of its rows and columns.

    Attributes
    ----------
    user_ids : ndarray of shape (n_users,), int32
        MovieLens user ids, ascending; row ``u`` of :attr:`matrix` is user ``user_ids[u]``.
    movie_ids : ndarray of shape (n_items,), int32
        MovieLens movie ids, ascending; column ``i`` is movie ``movie_ids[i]``.
    matrix : scipy.sparse.csr_array of shape (n_users, n_items), float32
        ``matrix[u, i]`` is the rating; a stored entry means "rated" (its
        value is never 0 for MovieLens data, but the structure is what counts).
    content : MovieContent or None
        The catalogue's metadata, for the scorers that read it (``uses_content``);
        with it, :attr:`movie_ids` holds every catalogue movie, rated or not
        (an unrated one is an empty column).
    dismissed : scipy.sparse.csr_array of shape (n_users, n_items), float32, or None
        The movies each user said they are not interested in and has no entry
        of :attr:`matrix` for (ones; docs in :mod:`scoring.feedback`): a
        negative for the scorers that read it (EASE), never a rating.
    """

    user_ids: np.ndarray
    movie_ids: np.ndarray
    matrix: sp.csr_array
    content: MovieContent | None = None
    dismissed: sp.csr_array | None = None

    @classmethod
    def from_arrays(
        cls, users: np.ndarray, movies: np.ndarray, ratings: np.ndarray, content: MovieContent | None = None,
        dismissed: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> RatingsMatrix:
        """Build from three equal-length 1-D arrays: one (user id, movie id, rating) per rating.

        With ``content``, the columns are every movie rated or in the
        catalogue, so a content scorer can score the movies nobody rated.
        ``dismissed`` is (user ids, movie ids) of not-interested events: those
        of a user and a movie in the matrix, not rated or watched by that
        user, become :attr:`dismissed` (repeats count once); the others
        carry nothing a model could use.

        Raises ``ValueError`` when the lengths differ, a rating is not finite,
        or a (user, movie) pair occurs twice (a user rates a movie at most once).
        """
        users, movies, ratings = np.asarray(users), np.asarray(movies), np.asarray(ratings)
        lengths = {"users": users.shape, "movies": movies.shape, "ratings": ratings.shape}
        if any(len(shape) != 1 for shape in lengths.values()) or len(set(lengths.values())) != 1:
            raise ValueError(f"users, movies and ratings must be 1-D arrays of equal length; got shapes {lengths}")
        if not np.isfinite(ratings).all():
            raise ValueError(f"ratings must be finite; got {int((~np.isfinite(ratings)).sum())} NaN or infinite values")
        user_ids = sorted_unique(users).astype(np.int32)
        catalogue = movies if content is None else np.concatenate([movies, content.movie_ids])
        movie_ids = sorted_unique(catalogue).astype(np.int32)
        rows = np.searchsorted(user_ids, users).astype(np.int32)
        cols = np.searchsorted(movie_ids, movies).astype(np.int32)
        shape = (len(user_ids), len(movie_ids))
        # COO -> CSR sorts by row and sums duplicates; a smaller nnz means a repeated pair.
        matrix = sp.csr_array((ratings.astype(np.float32), (rows, cols)), shape=shape)
        matrix.sum_duplicates()
        if matrix.nnz != len(ratings):
            raise ValueError(
                f"each (user, movie) pair must occur once; got {len(ratings) - matrix.nnz} repeated pairs "
                f"among {len(ratings)} ratings"
            )
        matrix.sort_indices()
        negatives = None if dismissed is None else _dismissed_matrix(matrix, user_ids, movie_ids, *dismissed)
        return cls(user_ids=user_ids, movie_ids=movie_ids, matrix=matrix, content=content, dismissed=negatives)

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.movie_ids)

    @property
    def nnz(self) -> int:
        """Number of ratings."""
        return int(self.matrix.nnz)

    def user_index(self, user_ids: np.ndarray) -> np.ndarray:
        """Row indices of ``user_ids`` (any shape), int64; -1 for users not in the matrix."""
        return index_of(self.user_ids, user_ids)

    def movie_index(self, movie_ids: np.ndarray) -> np.ndarray:
        """Column indices of ``movie_ids`` (any shape), int64; -1 for movies not in the matrix."""
        return index_of(self.movie_ids, movie_ids)

    def hidden(self, rows: np.ndarray) -> sp.csr_array:
        """The movies never recommended to the users of ``rows``: rated or watched, and dismissed; (b, n_items) CSR."""
        seen = self.matrix[rows]
        return seen if self.dismissed is None else seen + self.dismissed[rows]

    def history(self, user: int) -> tuple[np.ndarray, np.ndarray]:
        """Row ``user``'s rated column indices (k,) int32 and ratings (k,) float32, a view of the CSR."""
        if not 0 <= user < self.n_users:
            raise IndexError(f"user index must be in [0, {self.n_users}); got {user}")
        start, stop = self.matrix.indptr[user], self.matrix.indptr[user + 1]
        return self.matrix.indices[start:stop], self.matrix.data[start:stop]


def index_rows(indexes: Sequence[np.ndarray], n_items: int) -> sp.csr_array:
    """A (len(indexes), n_items) float32 CSR with a 1 at each row's column indices (a repeated index once), sorted."""
    lengths = np.array([len(index) for index in indexes], dtype=np.int64)
    columns = np.concatenate([np.empty(0, np.int64), *(np.asarray(index, dtype=np.int64) for index in indexes)])
    rows = sp.csr_array((np.ones(len(columns), dtype=np.float32), (np.repeat(np.arange(len(indexes)), lengths), columns)),
                        shape=(len(indexes), n_items))
    rows.sum_duplicates()  # also sorts each row's columns
    rows.data[:] = 1.0
    return rows


def _dismissed_matrix(matrix: sp.csr_array, user_ids: np.ndarray, movie_ids: np.ndarray,
                      users: np.ndarray, movies: np.ndarray) -> sp.csr_array:
    """The (user, movie) pairs among ``users``/``movies`` known to the matrix and not stored in it, as ones."""
    users, movies = np.asarray(users), np.asarray(movies)
    if users.shape != movies.shape or users.ndim != 1:
        raise ValueError(f"dismissed users and movies must be 1-D of equal length; got {users.shape} and {movies.shape}")
    rows, cols = index_of(user_ids, users), index_of(movie_ids, movies)
    known = (rows >= 0) & (cols >= 0)
    pairs = sp.csr_array((np.ones(int(known.sum()), dtype=np.float32), (rows[known], cols[known])), shape=matrix.shape)
    pairs.sum_duplicates()
    pairs.data[:] = 1.0  # a movie dismissed twice is dismissed once
    stored = sp.csr_array((np.ones(matrix.nnz, dtype=np.float32), matrix.indices, matrix.indptr), shape=matrix.shape)
    unrated = pairs - pairs.multiply(stored)
    unrated.eliminate_zeros()
    unrated.sort_indices()
    return sp.csr_array(unrated, dtype=np.float32)
