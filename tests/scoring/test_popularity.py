"""Popularity: the damped mean per movie, compared with a slow, obviously correct reference."""

import numpy as np
import pytest

from scoring import NotFittedError, Popularity, RatingsMatrix
from tests.scoring.conftest import random_ratings


def reference_popularity(users, movies, values, damping):
    """One Python loop per movie: (sum + damping * global mean) / (count + damping)."""
    global_mean = sum(values) / len(values)
    by_movie: dict[int, list[float]] = {}
    for movie, value in zip(movies.tolist(), values.tolist(), strict=True):
        by_movie.setdefault(movie, []).append(value)
    return {movie: (sum(v) + damping * global_mean) / (len(v) + damping) for movie, v in by_movie.items()}


@pytest.mark.parametrize("damping", [0.0, 5.0, 20.0])
def test_scores_equal_the_reference(damping):
    """Every movie's score equals the reference damped mean to 1e-6."""
    users, movies, values = random_ratings(seed=3)
    ratings = RatingsMatrix.from_arrays(users, movies, values)
    model = Popularity(damping=damping).fit(ratings)
    expected = reference_popularity(users, movies, values, damping)
    np.testing.assert_allclose(model.scores_, [expected[m] for m in ratings.movie_ids.tolist()], rtol=0, atol=1e-6)


def test_every_user_gets_the_same_scores(ratings):
    """score_users repeats the per-movie scores for each requested user."""
    model = Popularity().fit(ratings)
    scores = model.score_users(np.array([0, 5, 5]))
    assert scores.shape == (3, ratings.n_items) and scores.dtype == np.float32
    np.testing.assert_array_equal(scores, np.vstack([model.scores_] * 3))


@pytest.mark.parametrize("damping", [-1, float("nan"), "5", True, None])
def test_bad_damping_is_refused_at_fit(ratings, damping):
    """fit raises a ValueError that names the parameter and repeats the value received."""
    with pytest.raises(ValueError, match=rf"damping must be a finite number >= 0; got {damping!r}"):
        Popularity(damping=damping).fit(ratings)


def test_scoring_before_fit_raises_not_fitted():
    """Using an unfitted model is a NotFittedError that says to call fit."""
    with pytest.raises(NotFittedError, match=r"Popularity is not fitted yet; call fit"):
        Popularity().score_history(np.array([0]), np.array([4.0]))
