"""EASE: the closed form against a direct inverse, its cuts (movies, weights), similar movies and explanations."""

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
    model = EASE(l2=2.0, min_ratings=1).fit(ratings)  # keep_weights (300) >= 4 movies: B is kept whole
    np.testing.assert_allclose(model.weights_.toarray(), expected, atol=1e-5)
    np.testing.assert_allclose(model.score_users(np.arange(4)), (x @ expected).astype(np.float32), atol=1e-5)
    assert np.all(model.weights_.diagonal() == 0.0)


def test_min_ratings_leaves_rare_movies_unscored():
    """Movies with fewer than min_ratings ratings are NaN for everyone and ignored in histories."""
    model = EASE(l2=1.0, min_ratings=2).fit(small())
    assert model.modelled_.tolist() == [0, 1, 2]  # movie 40 has one rating
    scores = model.score_users(np.arange(4))
    assert np.isnan(scores[:, 3]).all() and np.isfinite(scores[:, :3]).all()
    np.testing.assert_array_equal(model.score_history(np.array([1, 3]), np.array([4.0, 1.0])),
                                  model.score_history(np.array([1]), np.array([4.0])))


def test_max_items_models_the_most_rated_movies():
    """Over max_items only the most-rated movies are modelled (ties in column order); the rest are NaN."""
    model = EASE(l2=1.0, min_ratings=1, max_items=2).fit(small())
    assert model.modelled_.tolist() == [0, 1]  # movies 10 and 20 (2 and 3 ratings) beat 30 (2, later) and 40 (1)
    scores = model.score_users(np.arange(4))
    assert np.isnan(scores[:, 2:]).all() and np.isfinite(scores[:3, :2]).all()
    assert np.isnan(scores[3]).all()  # user 4 rated only movie 30: nothing modelled to go on


def test_a_history_without_a_modelled_movie_gets_no_scores():
    """All NaN (so no list), not a row of zeros that top-n would rank in column order."""
    model = EASE(l2=1.0, min_ratings=2).fit(small())  # movie 40 (column 3) is not modelled
    assert np.isnan(model.score_history(np.array([3]), np.array([5.0]))).all()
    assert np.isnan(model.score_history(np.array([], dtype=np.int64), np.array([]))).all()
    assert np.isfinite(model.score_history(np.array([3, 0]), np.array([5.0, 4.0]))[:3]).all()
    lone = RatingsMatrix.from_arrays(np.array([1, 1, 2, 2, 3]), np.array([10, 20, 10, 20, 40]),
                                     np.array([5.0, 4.0, 3.0, 2.0, 1.0]))
    model = EASE(l2=1.0, min_ratings=2).fit(lone)  # user 3 rated only the unmodelled movie 40
    compact, columns = model.score_users_compact(np.arange(3))
    assert np.isnan(compact[2]).all() and np.isfinite(compact[:2]).all()
    assert np.isnan(model.score_users(np.array([2]))).all()


def test_keep_weights_keeps_each_rows_largest_effects():
    """Each row of the pruned B holds exactly its keep_weights entries of largest magnitude from the whole B."""
    rng = np.random.default_rng(3)
    users, movies = np.nonzero(rng.random((60, 40)) < 0.3)
    ratings = RatingsMatrix.from_arrays(users + 1, movies + 1, np.full(len(users), 4.0))
    whole = EASE(l2=5.0).fit(ratings).weights_.toarray()
    pruned = EASE(l2=5.0, keep_weights=7).fit(ratings).weights_.toarray()
    for row_whole, row_pruned in zip(whole, pruned, strict=True):
        kept = np.flatnonzero(row_pruned)
        assert len(kept) == 7
        np.testing.assert_allclose(row_pruned[kept], row_whole[kept], atol=1e-6)
        assert np.abs(row_whole[kept]).min() >= np.sort(np.abs(row_whole))[-7] - 1e-6


def test_similar_movies_are_the_strongest_positive_predictors():
    """neighbours_[i] lists the movies j with the largest positive B[j, i], best first, never i itself."""
    rng = np.random.default_rng(4)
    users, movies = np.nonzero(rng.random((80, 30)) < 0.25)
    ratings = RatingsMatrix.from_arrays(users + 1, movies + 1, np.full(len(users), 3.0))
    model = EASE(l2=5.0, similar=4).fit(ratings)
    whole = model.weights_.toarray()
    for i in range(ratings.n_items):
        column = whole[:, i]
        expected = [j for j in np.argsort(-column, kind="stable")[:4] if column[j] > 0]
        assert model.neighbours_[i][: len(expected)].tolist() == expected
        assert i not in model.neighbours_[i]


@pytest.mark.parametrize(
    ("params", "message"),
    [({"l2": 0}, "l2 must be a finite number > 0; got 0"), ({"min_ratings": 0}, "min_ratings must be an integer >= 1"),
     ({"l2": float("nan")}, "l2 must be"), ({"max_items": 2.5}, "max_items must be an integer >= 1; got 2.5"),
     ({"keep_weights": 0}, "keep_weights must be an integer >= 1; got 0"), ({"similar": -1}, "similar must be")],
)
def test_bad_parameters_are_named(params, message):
    """Each invalid hyperparameter is a ValueError naming it and the value."""
    with pytest.raises(ValueError, match=message):
        EASE(**params).fit(small())


def test_gram_in_column_blocks_gives_the_same_model(monkeypatch):
    """Building the upper triangle of XᵀX block by block (as the job's pool does) fits the same B as one block."""
    import scoring.ease as ease

    rng = np.random.default_rng(5)
    users, movies = np.nonzero(rng.random((70, 45)) < 0.3)
    ratings = RatingsMatrix.from_arrays(users + 1, movies + 1, np.full(len(users), 4.0))
    whole = EASE(l2=3.0, min_ratings=1).fit(ratings).weights_.toarray()
    monkeypatch.setattr(ease, "GRAM_BLOCK", 7)
    blocked = EASE(l2=3.0, min_ratings=1).fit(ratings).weights_.toarray()
    np.testing.assert_allclose(blocked, whole, atol=1e-5)


def _two_tastes() -> RatingsMatrix:
    """Two groups of movies watched together: 10, 20, 30 (ids 10-30) and 40, 50, 60; movie 70 is watched with both."""
    rng = np.random.default_rng(0)
    users, movies = [], []
    for user in range(1, 61):
        group = [10, 20, 30] if user <= 30 else [40, 50, 60]
        chosen = [m for m in group if rng.random() < 0.8] + ([70] if rng.random() < 0.5 else [])
        users += [user] * len(chosen)
        movies += chosen
    users.append(99)
    movies.append(70)  # the user of the test below: watched only movie 70
    return RatingsMatrix.from_arrays(np.array(users), np.array(movies), np.full(len(users), 4.0))


def test_a_dismissed_movie_pushes_its_neighbours_down():
    """User 99 watched movie 70 (liked by both groups) and dismissed 10: the 10-20-30 group ranks below 40-50-60.
    Without the negative entry (dismissed=0: as if no dismissal) the first group is not below; the worker's history
    gives the job's scores."""
    plain = _two_tastes()
    user = int(np.flatnonzero(plain.user_ids == 99)[0])
    column = {int(m): i for i, m in enumerate(plain.movie_ids)}
    watched, _ = plain.history(user)
    dismissing = RatingsMatrix.from_arrays(*_entries(plain), dismissed=(np.array([99]), np.array([10])))
    for weight in (-0.5, -1.0):
        model = EASE(l2=5.0, min_ratings=1, dismissed=weight).fit(dismissing)
        scores = model.score_users(np.array([user]))[0]
        assert max(scores[column[20]], scores[column[30]]) < min(scores[column[40]], scores[column[50]], scores[column[60]])
        np.testing.assert_array_equal(model.score_history(watched, np.array([4.0]), np.array([column[10]])), scores)
    ignoring = EASE(l2=5.0, min_ratings=1, dismissed=0.0).fit(dismissing).score_users(np.array([user]))[0]
    assert max(ignoring[column[20]], ignoring[column[30]]) > min(ignoring[column[40]], ignoring[column[50]])
    np.testing.assert_array_equal(ignoring, EASE(l2=5.0, min_ratings=1, dismissed=0.0).fit(plain).score_users(np.array([user]))[0])


def test_a_dismissal_is_no_evidence_and_a_rated_movie_is_no_dismissal():
    """Only dismissals, or dismissing a movie also watched: the scores are what the watched movies alone give."""
    model = EASE(l2=5.0, min_ratings=1, dismissed=-1.0).fit(_two_tastes())
    assert np.isnan(model.score_history(np.array([], dtype=np.int64), np.array([]), np.array([0, 1]))).all()
    np.testing.assert_array_equal(model.score_history(np.array([6]), np.array([4.0]), np.array([6])),
                                  model.score_history(np.array([6]), np.array([4.0])))


@pytest.mark.parametrize("dismissed", [0.5, float("nan"), True, "-1"])
def test_a_positive_or_non_numeric_dismissed_weight_is_refused(dismissed):
    with pytest.raises(ValueError, match="dismissed must be a finite number <= 0"):
        EASE(dismissed=dismissed).fit(small())


def _entries(ratings: RatingsMatrix) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows = np.repeat(np.arange(ratings.n_users), np.diff(ratings.matrix.indptr))
    return ratings.user_ids[rows], ratings.movie_ids[ratings.matrix.indices], ratings.matrix.data
