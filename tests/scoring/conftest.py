"""Small random rating sets for the algorithm tests (no database)."""

from __future__ import annotations

import numpy as np
import pytest

from scoring.matrix import RatingsMatrix


def random_ratings(seed: int = 0, n_users: int = 40, n_movies: int = 60, density: float = 0.2):
    """(users, movies, ratings) arrays with sparse, non-contiguous ids and half-star ratings."""
    rng = np.random.default_rng(seed)
    user_ids = rng.choice(np.arange(1, 10 * n_users), size=n_users, replace=False)
    movie_ids = rng.choice(np.arange(1, 100 * n_movies), size=n_movies, replace=False)
    mask = rng.random((n_users, n_movies)) < density
    mask[:, 0] = True  # every user rates something; column 0 is a well-known movie
    rows, cols = np.nonzero(mask)
    order = rng.permutation(len(rows))  # the loaders give no particular order
    ratings = rng.integers(1, 11, size=len(rows)) / 2
    return user_ids[rows][order], movie_ids[cols][order], ratings[order].astype(np.float64)


@pytest.fixture
def ratings() -> RatingsMatrix:
    """A 40 users × 60 movies matrix with about 20 % of the cells rated."""
    return RatingsMatrix.from_arrays(*random_ratings())
