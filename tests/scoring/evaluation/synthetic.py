"""Small synthetic rating sets with timestamps for the evaluation tests (no database)."""

from __future__ import annotations

import numpy as np

from scoring.evaluation import Interactions


def synthetic_interactions(seed: int = 0, n_users: int = 30, n_movies: int = 50, density: float = 0.3) -> Interactions:
    """Users with 5+ ratings each, non-contiguous ids, half-star ratings and shuffled timestamps."""
    rng = np.random.default_rng(seed)
    mask = rng.random((n_users, n_movies)) < density
    mask[:, :5] = True  # every user has at least 5 ratings
    rows, cols = np.nonzero(mask)
    order = rng.permutation(len(rows))
    rows, cols = rows[order], cols[order]
    return Interactions(
        users=(rows * 3 + 2).astype(np.int32),
        movies=(cols * 7 + 1).astype(np.int32),
        ratings=(rng.integers(1, 11, size=len(rows)) / 2).astype(np.float32),
        timestamps=rng.integers(1_000_000, 1_000_500, size=len(rows)).astype(np.int64),
    )
