"""The contract every algorithm in the registry keeps; a new algorithm joins by being registered."""

import pickle

import numpy as np
import pytest

from scoring import ALGORITHMS, NotFittedError, make_scorer
from scoring.evaluation.data import Interactions
from scoring.matrix import RatingsMatrix
from scoring.topn import top_n

ALL = sorted(ALGORITHMS)


@pytest.fixture(params=ALL)
def algorithm(request) -> str:
    return request.param


def test_score_history_equals_score_users_for_a_fitted_user(algorithm, ratings):
    """For users in the matrix, scoring their fitted history gives their score_users row."""
    model = make_scorer(algorithm).fit(ratings)
    users = np.array([0, 7, ratings.n_users - 1])
    batch = model.score_users(users)
    for row, user in enumerate(users):
        # atol: a dense float32 product (the content model's) rounds differently for one row than for three
        # (BLAS picks another kernel), by about 1e-8 on scores of about 1.
        np.testing.assert_allclose(model.score_history(*ratings.history(user)), batch[row], rtol=1e-6, atol=1e-6,
                                   equal_nan=True)


def test_score_histories_is_score_history_row_by_row(algorithm, ratings):
    """A batch of histories (one empty, one with a dismissal) scores each row as score_history scores it alone."""
    model = make_scorer(algorithm).fit(ratings)
    items, values = ratings.history(7)
    histories = [(*ratings.history(0), None), (np.array([], dtype=np.int64), np.array([], dtype=np.float32), None),
                 (items[1:], values[1:], items[:1])]
    batch = model.score_histories(histories)
    assert batch.shape == (3, ratings.n_items) and batch.dtype == np.float32
    for row, history in enumerate(histories):
        np.testing.assert_allclose(batch[row], model.score_history(*history), rtol=1e-6, atol=1e-6, equal_nan=True)


def test_shapes_and_dtypes(algorithm, ratings):
    """score_users is (b, n_items) float32 and score_history (n_items,) float32, also for an empty history."""
    model = make_scorer(algorithm).fit(ratings)
    assert model.score_users(np.arange(4)).shape == (4, ratings.n_items)
    assert model.score_users(np.arange(4)).dtype == np.float32
    empty = model.score_history(np.array([], dtype=np.int64), np.array([], dtype=np.float32))
    assert empty.shape == (ratings.n_items,) and empty.dtype == np.float32


def test_unfitted_model_raises_not_fitted(algorithm):
    """Every scoring method of an unfitted model raises NotFittedError."""
    model = make_scorer(algorithm)
    for call in (
        lambda: model.score_users(np.array([0])),
        lambda: model.score_history(np.array([0]), np.array([3.0])),
    ):
        with pytest.raises(NotFittedError):
            call()


def test_fit_keeps_params_and_is_repeatable(algorithm, ratings):
    """fit does not change get_params, and fitting twice gives the same scores."""
    model = make_scorer(algorithm)
    params = model.get_params()
    first = model.fit(ratings).score_users(np.arange(5))
    assert model.get_params() == params
    np.testing.assert_array_equal(model.fit(ratings).score_users(np.arange(5)), first)


def test_pickle_round_trip_scores_the_same(algorithm, ratings):
    """A fitted model survives pickling (the FittedModel row) with identical scores."""
    model = make_scorer(algorithm).fit(ratings)
    clone = pickle.loads(pickle.dumps(model))
    items, values = ratings.history(3)
    np.testing.assert_array_equal(clone.score_history(items, values), model.score_history(items, values))


def test_out_of_range_indices_are_refused(algorithm, ratings):
    """A user row or a movie column outside the fit is a ValueError naming the bad index."""
    model = make_scorer(algorithm).fit(ratings)
    with pytest.raises(ValueError, match=rf"\[0, {ratings.n_users}\); got \[{ratings.n_users}\]"):
        model.score_users(np.array([0, ratings.n_users]))
    with pytest.raises(ValueError, match=r"map ids with history_index\); got \[-1\]"):
        model.score_history(np.array([-1]), np.array([4.0]))


def test_history_index_drops_unknown_movies(algorithm, ratings):
    """Mapping a history by movie id keeps known movies and drops movies the fit never saw."""
    model = make_scorer(algorithm).fit(ratings)
    known = ratings.movie_ids[[2, 5]]
    items, values = model.history_index(np.array([known[0], -7, known[1]]), np.array([1.0, 2.0, 3.0]))
    assert items.tolist() == [2, 5] and values.tolist() == [1.0, 3.0]


def test_fit_refuses_an_empty_matrix(algorithm):
    """Fitting on no ratings is a ValueError, not NaN scores."""
    empty = RatingsMatrix.from_arrays(np.array([], np.int32), np.array([], np.int32), np.array([], np.float32))
    with pytest.raises(ValueError, match="at least one rating; got an empty 0 × 0 matrix"):
        make_scorer(algorithm).fit(empty)


def test_registry_refuses_unknown_names_and_parameters():
    """An unknown algorithm lists the choices; an unknown parameter lists the accepted ones."""
    with pytest.raises(ValueError, match="unknown algorithm 'svd'; choose from: content, ease, hybrid, item_knn, popularity, user_knn"):
        make_scorer("svd")
    with pytest.raises(ValueError, match="popularity does not take parameter\\(s\\) k; it accepts: damping"):
        make_scorer("popularity", {"k": 3})


def test_compact_scores_are_score_users_on_their_columns(algorithm, ratings):
    """Without a list length, score_users_compact equals score_users on the columns it names, every other column NaN."""
    model = make_scorer(algorithm).fit(ratings)
    users = np.arange(ratings.n_users)
    whole = model.score_users(users)
    compact, columns = model.score_users_compact(users)
    columns = np.arange(ratings.n_items) if columns is None else columns
    np.testing.assert_array_equal(compact, whole[:, columns])
    assert np.isnan(np.delete(whole, columns, axis=1)).all()


@pytest.mark.parametrize("n", [1, 3, 10, 20, 40])
def test_the_compact_top_n_is_the_whole_top_n(algorithm, ratings, n):
    """Told the list length, score_users_compact may leave out more columns, but the job's top n is unchanged."""
    model = make_scorer(algorithm, {"min_ratings": 8} if "min_ratings" in make_scorer(algorithm).get_params() else {})
    model.fit(ratings)
    users = np.arange(ratings.n_users)
    whole, _ = top_n(model.score_users(users), ratings.matrix, n)
    compact, columns = model.score_users_compact(users, n=n)
    rated = ratings.matrix if columns is None else ratings.matrix[:, columns]
    items, _ = top_n(compact, rated, n)
    if columns is not None:
        items = np.where(items >= 0, columns[np.maximum(items, 0)], -1)
    np.testing.assert_array_equal(items, whole)


def test_score_history_with_dismissals_equals_score_users(algorithm, ratings):
    """With not-interested movies in the matrix, a fitted user's history and dismissals give their score_users row
    (the worker's refresh and the job score a user alike), whether or not the algorithm reads dismissals."""
    entries = Interactions.from_matrix(ratings)
    users, movies = entries.users, entries.movies
    unrated = np.setdiff1d(ratings.movie_ids, movies[users == ratings.user_ids[3]])[:4]
    dismissing = RatingsMatrix.from_arrays(users, movies, entries.ratings, content=ratings.content,
                                           dismissed=(np.full(len(unrated), ratings.user_ids[3]), unrated))
    model = make_scorer(algorithm).fit(dismissing)
    items, values = dismissing.history(3)
    dismissed = dismissing.dismissed[[3]].indices
    assert len(dismissed) == 4
    np.testing.assert_allclose(model.score_history(items, values, dismissed), model.score_users(np.array([3]))[0],
                               rtol=1e-6, atol=1e-6, equal_nan=True)
