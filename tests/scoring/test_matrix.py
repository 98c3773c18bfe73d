"""RatingsMatrix: id maps and the users × movies CSR built from three arrays."""

import numpy as np
import pytest

from scoring.matrix import RatingsMatrix, index_of, sorted_unique
from tests.scoring.conftest import random_ratings


def test_sorted_unique_matches_numpy_unique():
    """The sort-based distinct values equal np.unique's, empty input included."""
    rng = np.random.default_rng(1)
    values = rng.integers(-50, 50, size=1_000)
    np.testing.assert_array_equal(sorted_unique(values), np.unique(values))
    assert len(sorted_unique(np.array([], dtype=np.int32))) == 0


def test_matrix_holds_every_rating_at_its_ids():
    """Each (user, movie, rating) is found at the row and column of its ids, and ids are sorted int32."""
    users, movies, values = random_ratings(seed=2)
    ratings = RatingsMatrix.from_arrays(users, movies, values)
    assert ratings.user_ids.dtype == np.int32 and ratings.movie_ids.dtype == np.int32
    assert (np.diff(ratings.user_ids) > 0).all() and (np.diff(ratings.movie_ids) > 0).all()
    assert ratings.matrix.shape == (ratings.n_users, ratings.n_items) and ratings.nnz == len(values)
    assert ratings.matrix.dtype == np.float32
    dense = ratings.matrix.toarray()
    np.testing.assert_array_equal(dense[ratings.user_index(users), ratings.movie_index(movies)], values)


def test_history_is_the_users_row():
    """history(u) gives the rated columns and ratings of row u."""
    ratings = RatingsMatrix.from_arrays(np.array([7, 7, 3]), np.array([20, 10, 10]), np.array([4.0, 2.5, 1.0]))
    items, values = ratings.history(1)  # user 7
    assert ratings.movie_ids[items].tolist() == [10, 20] and values.tolist() == [2.5, 4.0]


def test_unknown_ids_map_to_minus_one():
    """Ids not in the matrix (below, between and above the known ones) get index -1."""
    ratings = RatingsMatrix.from_arrays(np.array([5, 9]), np.array([100, 300]), np.array([3.0, 4.0]))
    assert ratings.user_index(np.array([1, 5, 7, 9, 12])).tolist() == [-1, 0, -1, 1, -1]
    assert ratings.movie_index(np.array([300, 200, 999])).tolist() == [1, -1, -1]
    assert index_of(np.array([], dtype=np.int32), np.array([1, 2])).tolist() == [-1, -1]


def test_repeated_pair_is_refused():
    """A user who rated the same movie twice is a ValueError that counts the repeats."""
    with pytest.raises(ValueError, match="got 1 repeated pairs among 3 ratings"):
        RatingsMatrix.from_arrays(np.array([1, 1, 2]), np.array([5, 5, 5]), np.array([1.0, 2.0, 3.0]))


def test_unequal_lengths_and_nan_are_refused():
    """Arrays of different lengths and NaN ratings are refused, naming what was received."""
    with pytest.raises(ValueError, match=r"equal length; got shapes .*'ratings': \(1,\)"):
        RatingsMatrix.from_arrays(np.array([1, 2]), np.array([5, 6]), np.array([1.0]))
    with pytest.raises(ValueError, match="got 1 NaN or infinite"):
        RatingsMatrix.from_arrays(np.array([1]), np.array([5]), np.array([np.nan]))
