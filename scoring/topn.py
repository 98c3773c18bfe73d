"""Top-N selection: the one step that drops rated (and unscorable) movies and ranks the rest.

Per row: ``argpartition`` finds the best ``n`` columns, then only those
``n`` are sorted, by score and then by column. The answer equals a full sort
by (score descending, column ascending) - also when equal scores straddle
the cut, where the few rows concerned are redone with a stable full sort -
so it never depends on how users were chunked.

Memory: a float32 copy of the block and argpartition's int64 index array,
about 12 bytes per (user, movie): 0.7 GB for 1,000 users × 59k movies. Size
chunks with that.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from scoring.matrix import index_rows


def top_n(scores: np.ndarray, exclude: sp.sparray | sp.spmatrix | None, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``n`` best movies per row of ``scores``, leaving out the ``exclude``\\ d ones and NaN.

    Parameters
    ----------
    scores : ndarray of shape (b, n_items), float32
        One row of scores per user (NaN = cannot score). Not modified.
    exclude : sparse matrix of shape (b, n_items), or None
        The movies each user has already rated: any stored entry (its value
        is ignored) is left out.
    n : int
        How many to return per user, >= 1.

    Returns
    -------
    item_index : ndarray of shape (b, n), int32
        Column indices, best first, ties to the lower column; -1 where the
        row had fewer than ``n`` candidates (always at the end of the row).
    score : ndarray of shape (b, n), float32
        Their scores; NaN where ``item_index`` is -1.
    """
    scores = np.asarray(scores)
    if scores.ndim != 2:
        raise ValueError(f"scores must be 2-D (users × movies); got shape {scores.shape}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be an integer >= 1; got {n!r}")
    b, n_items = scores.shape
    # Negated, so ascending order is best first; NaN (unscorable, or masked below) sorts after every number.
    negated = np.negative(scores, dtype=np.float32)
    if exclude is not None:
        exclude = sp.csr_array(exclude)
        if exclude.shape != scores.shape:
            raise ValueError(f"exclude must have the shape of scores {scores.shape}; got {exclude.shape}")
        rows = np.repeat(np.arange(b), np.diff(exclude.indptr))
        negated[rows, exclude.indices] = np.nan

    k = min(int(n), n_items)
    if k < n_items:
        items = np.argpartition(negated, k - 1, axis=1)[:, :k]
    else:
        items = np.broadcast_to(np.arange(n_items), (b, n_items))
    values = np.take_along_axis(negated, items, axis=1)
    order = np.lexsort((items, values), axis=1)  # by value, then column
    items = np.take_along_axis(items, order, axis=1)
    values = np.take_along_axis(values, order, axis=1)
    if 0 < k < n_items:
        # argpartition picks arbitrarily among values equal to the k-th; where such a tie crosses
        # the cut, redo the row with a stable sort so the lower columns win.
        kth = values[:, -1:]
        tied = np.flatnonzero((negated == kth).sum(axis=1) > (values == kth).sum(axis=1))
        if len(tied):
            exact = np.argsort(negated[tied], axis=1, kind="stable")[:, :k]
            items[tied] = exact
            values[tied] = np.take_along_axis(negated[tied], exact, axis=1)

    found = ~np.isnan(values)
    item = np.where(found, items, -1).astype(np.int32)
    score = np.where(found, -values, np.nan).astype(np.float32)
    if k < n:
        item = np.pad(item, ((0, 0), (0, n - k)), constant_values=-1)
        score = np.pad(score, ((0, 0), (0, n - k)), constant_values=np.nan)
    return item, score


def rated_matrix(item_index: np.ndarray, n_items: int) -> sp.csr_array:
    """A (1, n_items) CSR marking one user's rated columns, the ``exclude`` of a one-user :func:`top_n`."""
    return index_rows([item_index], n_items)
