"""Small random rating sets for the algorithm tests (no database)."""

from __future__ import annotations

import numpy as np
import pytest

from scoring.content import MovieContent
from scoring.matrix import RatingsMatrix

GENRES = ["Action", "Comedy", "Drama", "Sci-Fi", "Horror", "Romance"]


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


def random_content(movie_ids: np.ndarray, seed: int = 0, extra: int = 2) -> MovieContent:
    """Metadata for ``movie_ids`` plus ``extra`` movies nobody rated (ids above every rated one): genres, years, titles, tags."""
    rng = np.random.default_rng(seed)
    ids = np.concatenate([np.sort(np.asarray(movie_ids)), np.max(movie_ids) + 1 + np.arange(extra)]).astype(np.int32)
    genres = np.array(["|".join(rng.choice(GENRES, size=rng.integers(1, 4), replace=False)) for _ in ids], dtype=object)
    years = rng.integers(1950, 2020, size=len(ids)).astype(np.float32)
    words = np.array(["star", "night", "love", "blood", "city", "dream"])
    titles = np.array([f"{' '.join(rng.choice(words, size=2))} ({int(y)})" for y in years], dtype=object)
    n_tags = 3 * len(ids)
    return MovieContent(
        movie_ids=ids, titles=titles, genres=genres, years=years,
        tag_movie_ids=rng.choice(ids, size=n_tags), tag_user_ids=rng.integers(1, 30, size=n_tags).astype(np.int32),
        tags=rng.choice(np.array(["Funny", "dark ", "space", "twist ending", "classic"], dtype=object), size=n_tags),
    )


@pytest.fixture
def ratings() -> RatingsMatrix:
    """A 40 users × 60 movies matrix with about 20 % of the cells rated, and the metadata of those and 2 unrated movies."""
    users, movies, stars = random_ratings()
    return RatingsMatrix.from_arrays(users, movies, stars, content=random_content(np.unique(movies)))
