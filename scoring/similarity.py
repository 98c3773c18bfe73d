"""The maths the neighbourhood algorithms share: centring, unit length, top-k neighbours, overlaps, predictions.

Everything here works on whole sparse matrices or dense blocks at once (no
Python loop per rating or per pair), so item-item and user-user kNN differ
only in which axis they look along.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

import numpy as np
import scipy.sparse as sp

from scoring.topn import top_n

T = TypeVar("T")
Mapper = Callable[[Callable[[int, int], T], Sequence[tuple[int, int]]], Iterable[T]]
"""``mapper(task, chunks)`` calls ``task(start, stop)`` for every chunk and yields the results in any order.

The default runs them in turn; the precompute job passes one that runs them
in its forked pool (``jobs.precompute.pool.map_forked``).
"""


def serial_map(task: Callable[[int, int], T], chunks: Sequence[tuple[int, int]]) -> Iterable[T]:
    """The default :data:`Mapper`: run the chunks one after another in this process."""
    for start, stop in chunks:
        yield task(start, stop)


def chunk_bounds(n: int, size: int) -> list[tuple[int, int]]:
    """``[start, stop)`` ranges of at most ``size`` covering ``0..n``."""
    return [(start, min(start + size, n)) for start in range(0, n, size)]


def row_means(matrix: sp.csr_array) -> np.ndarray:
    """Mean of the stored entries of each row, float64 (NaN for an empty row)."""
    counts = np.diff(matrix.indptr)
    sums = np.bincount(_row_of_entry(matrix), weights=matrix.data.astype(np.float64), minlength=matrix.shape[0])
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / counts


def centre_rows(matrix: sp.csr_array, means: np.ndarray) -> sp.csr_array:
    """A copy of ``matrix`` with each row's ``means`` subtracted from its stored entries (same structure), float64."""
    data = matrix.data.astype(np.float64) - means[_row_of_entry(matrix)]
    return sp.csr_array((data, matrix.indices.copy(), matrix.indptr.copy()), shape=matrix.shape)


def unit_rows(matrix: sp.csr_array) -> sp.csr_array:
    """``matrix`` with every row scaled to unit Euclidean length, float32 (an all-zero row stays zero)."""
    data = matrix.data.astype(np.float64)
    rows = _row_of_entry(matrix)
    norms = np.sqrt(np.bincount(rows, weights=data * data, minlength=matrix.shape[0]))
    with np.errstate(invalid="ignore", divide="ignore"):
        inverse = np.where(norms > 0, 1.0 / norms, 0.0)
    return sp.csr_array(((data * inverse[rows]).astype(np.float32), matrix.indices.copy(), matrix.indptr.copy()),
                        shape=matrix.shape)


def _row_of_entry(matrix: sp.csr_array) -> np.ndarray:
    return np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))


def pattern(matrix: sp.csr_array) -> sp.csr_array:
    """The structure of ``matrix`` as 1.0s, float32 (a stored entry means "rated")."""
    return sp.csr_array((np.ones(matrix.nnz, dtype=np.float32), matrix.indices, matrix.indptr), shape=matrix.shape)


def top_k(block: np.ndarray, k: int, exclude_columns: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` largest *positive* entries of each row of ``block``, best first.

    ``exclude_columns`` (b,) names one column per row to leave out (the row's
    own item or user), -1 for none. Returns (indices int32 (b, k), values
    float32 (b, k)), padded with -1 / NaN; ties go to the lower column.
    """
    block = np.asarray(block, dtype=np.float32)
    masked = np.where(block > 0, block, np.float32(np.nan))  # also turns NaN into NaN
    if exclude_columns is not None:
        rows = np.flatnonzero(exclude_columns >= 0)
        masked[rows, exclude_columns[rows]] = np.nan
    return top_n(masked, None, k)


def pair_overlap(left: sp.csr_array, right: sp.csr_array, left_rows: np.ndarray, right_rows: np.ndarray) -> np.ndarray:
    """How many columns row ``left_rows[p]`` of ``left`` and row ``right_rows[p]`` of ``right`` both store, per pair p.

    Both are 0/1 pattern matrices with sorted indices; one sparse elementwise
    product over the stacked pairs, no loop per pair.
    """
    if len(left_rows) == 0:
        return np.zeros(0, dtype=np.int64)
    both = left[left_rows].multiply(right[right_rows])
    return np.asarray(both.sum(axis=1)).ravel().round().astype(np.int64)


def neighbour_matrix(indices: np.ndarray, weights: np.ndarray, n_columns: int) -> sp.csr_array:
    """A (b, n_columns) CSR with ``weights[r, j]`` at column ``indices[r, j]`` (entries where the index is -1 are left out)."""
    valid = indices >= 0
    counts = valid.sum(axis=1)
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    matrix = sp.csr_array((weights[valid].astype(np.float32), indices[valid].astype(np.int32), indptr),
                          shape=(indices.shape[0], n_columns))
    matrix.sort_indices()
    return matrix


def damped_prediction(
    numerator: sp.csr_array, denominator: sp.csr_array, offset: np.ndarray, damping: float
) -> np.ndarray:
    """``offset + numerator / (denominator + damping)`` per cell, float32; NaN where the denominator is 0.

    ``numerator`` is the similarity-weighted sum of centred ratings and
    ``denominator`` the sum of the similarities that took part (both sparse,
    (b, n)); the damping pulls movies backed by little evidence towards the
    user's mean, so one enthusiastic neighbour does not put an obscure movie
    on top. Only the stored cells are computed (about 5 % of a block at
    ml-25m shape): going through two dense float64 blocks of 1,000 × 59k took
    6.7 s per chunk, this 0.8 s, on the same (busy) machine.
    """
    numerator, denominator = sp.csr_array(numerator), sp.csr_array(denominator)
    numerator.sort_indices()
    denominator.sort_indices()
    b, n = denominator.shape
    den_rows = _row_of_entry(denominator)
    den_keys = den_rows.astype(np.int64) * n + denominator.indices
    num_keys = _row_of_entry(numerator).astype(np.int64) * n + numerator.indices
    # Both key arrays are sorted (CSR with sorted indices): find each denominator cell's numerator, if stored.
    position = np.minimum(np.searchsorted(num_keys, den_keys), max(len(num_keys) - 1, 0))
    found = (num_keys[position] == den_keys) if len(num_keys) else np.zeros(len(den_keys), dtype=bool)
    num_values = np.where(found, numerator.data[position] if len(num_keys) else 0.0, 0.0).astype(np.float64)
    den_values = denominator.data.astype(np.float64)
    scores = np.full((b, n), np.nan, dtype=np.float32)
    valid = den_values > 0
    predicted = offset[den_rows[valid]] + num_values[valid] / (den_values[valid] + damping)
    scores[den_rows[valid], denominator.indices[valid]] = predicted
    return scores


def top_candidates(block: np.ndarray, width: int, sample_step: int = 16) -> np.ndarray:
    """Column indices (b, width) of the ``width`` largest entries of each row of ``block`` (in no order).

    ``argpartition`` over a wide row is slow (docs/precompute.md); instead a
    threshold is read off every ``sample_step``-th column, the columns at or
    above it (typically ~2 × width) are gathered, and only those are
    partitioned. Rows where the sample misleads (too few or far too many
    columns pass) fall back to a full ``argpartition``, so the result is the
    same set either way (up to ties at the cut).
    """
    b, n = block.shape
    if width >= n:
        return np.broadcast_to(np.arange(n), (b, n)).copy()
    sample = block[:, ::sample_step]
    rank = min(sample.shape[1] - 1, max(1, (2 * width) // sample_step))
    threshold = -np.partition(-sample, rank, axis=1)[:, rank]
    above = block >= threshold[:, None]
    counts = above.sum(axis=1)
    easy = (counts >= width) & (counts <= 8 * width)
    result = np.empty((b, width), dtype=np.int64)
    hard = np.flatnonzero(~easy)
    if len(hard):
        result[hard] = np.argpartition(-block[hard], width - 1, axis=1)[:, :width]
    easy_rows = np.flatnonzero(easy)
    if len(easy_rows):
        rows, cols = np.nonzero(above[easy_rows])
        # Lay each row's passing columns out in a padded (rows, max count) array, then partition that.
        offsets = np.concatenate([[0], np.cumsum(counts[easy_rows])])[:-1]
        slot = np.arange(len(cols)) - offsets[rows]
        padded_cols = np.zeros((len(easy_rows), int(counts[easy_rows].max())), dtype=np.int64)
        padded_vals = np.full(padded_cols.shape, -np.inf, dtype=np.float32)
        padded_cols[rows, slot] = cols
        padded_vals[rows, slot] = block[easy_rows[rows], cols]
        local = np.argpartition(-padded_vals, width - 1, axis=1)[:, :width]
        result[easy_rows] = np.take_along_axis(padded_cols, local, axis=1)
    return result
