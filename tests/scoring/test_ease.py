"""EASE: the closed form against a direct inverse, its limits, and its explanations."""

import numpy as np
import pytest

from scoring.ease import EASE
from scoring.matrix import RatingsMatrix


def small() -> RatingsMatrix:
    """4 users × 4 movies (ids 10..40); the stars differ but EASE only uses who rated what."""
    users = np.array([1, 1, 1, 2, 2, 3, 3, 4])
    movies = np.array([10, 20, 30, 10, 20, 20, 40, 30])
    stars = np.array([5.0, 4.0, 1.0, 3.0, 2.0, 4.5, 1.0, 2.0])
    return RatingsMatrix.from_arrays(users, movies, stars)


def test_weights_equal_the_textbook_formula():
    """B = I - P·diag(1/diag(P)) with P = (XᵀX + l2·I)⁻¹ in float64, and scores are x·B."""
    ratings = small()
    x = (ratings.matrix.toarray() > 0).astype(np.float64)
    p = np.linalg.inv(x.T @ x + 2.0 * np.eye(4))
    expected = np.eye(4) - p / np.diag(p)[np.newaxis, :]
    model = EASE(l2=2.0).fit(ratings)
    np.testing.assert_allclose(model.weights_, expected, atol=1e-5)
    np.testing.assert_allclose(model.score_users(np.arange(4)), (x @ expected).astype(np.float32), atol=1e-5)
    assert np.all(np.diag(model.weights_) == 0.0)


def test_min_ratings_leaves_rare_movies_unscored():
    """Movies with fewer than min_ratings ratings are NaN for everyone and ignored in histories."""
    model = EASE(l2=1.0, min_ratings=2).fit(small())
    assert model.modelled_.tolist() == [0, 1, 2]  # movie 40 has one rating
    scores = model.score_users(np.arange(4))
    assert np.isnan(scores[:, 3]).all() and np.isfinite(scores[:, :3]).all()
    np.testing.assert_array_equal(model.score_history(np.array([1, 3]), np.array([4.0, 1.0])),
                                  model.score_history(np.array([1]), np.array([4.0])))


def test_too_large_a_catalogue_is_refused():
    """Over max_items the fit refuses, naming the count and the way out, instead of exhausting memory."""
    with pytest.raises(ValueError, match="EASE would model 4 movies, over max_items=3 .* raise min_ratings"):
        EASE(max_items=3).fit(small())


@pytest.mark.parametrize(
    ("params", "message"),
    [({"l2": 0}, "l2 must be a finite number > 0; got 0"), ({"min_ratings": 0}, "min_ratings must be an integer >= 1"),
     ({"l2": float("nan")}, "l2 must be"), ({"max_items": 2.5}, "max_items must be an integer >= 1; got 2.5")],
)
def test_bad_parameters_are_named(params, message):
    """Each invalid hyperparameter is a ValueError naming it and the value."""
    with pytest.raises(ValueError, match=message):
        EASE(**params).fit(small())


def test_explain_names_the_rated_movie_that_contributes_most():
    """The reason is the history movie with the largest weight towards the recommended one."""
    ratings = small()
    model = EASE(l2=1.0).fit(ratings)
    history, stars = np.array([0, 3]), np.array([5.0, 1.0])  # movies 10 and 40
    best = int(np.argmax(model.weights_[history, 1]))
    assert model.weights_[history[best], 1] > 0
    movie = int(ratings.movie_ids[history[best]])
    assert model.explain(1, history, stars) == f"because you rated movie {movie} {stars[best]:g} stars"
    assert model.explain(1, np.array([], dtype=np.int64), np.array([])) is None
