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


def test_explain_names_the_mean_and_the_count():
    """The reason gives the plain mean to one decimal and how many people rated the movie."""
    ratings = RatingsMatrix.from_arrays(np.array([1, 2, 3]), np.array([10, 10, 20]), np.array([4.0, 4.5, 2.0]))
    model = Popularity().fit(ratings)
    assert model.explain(0, np.array([], dtype=np.int64), np.array([])) == (
        "popular with viewers: rated 4.2 on average by 2 people"
    )
    assert model.explain(1, np.array([0]), np.array([4.0])).endswith("by 1 person")


@pytest.mark.parametrize("damping", [-1, float("nan"), "5", True, None])
def test_bad_damping_is_refused_at_fit(ratings, damping):
    """fit raises a ValueError that names the parameter and repeats the value received."""
    with pytest.raises(ValueError, match=rf"damping must be a finite number >= 0; got {damping!r}"):
        Popularity(damping=damping).fit(ratings)


def test_scoring_before_fit_raises_not_fitted():
    """Using an unfitted model is a NotFittedError that says to call fit."""
    with pytest.raises(NotFittedError, match=r"Popularity is not fitted yet; call fit"):
        Popularity().score_history(np.array([0]), np.array([4.0]))
