"""The events' weighting (scoring/feedback.py) and the not-interested pairs a RatingsMatrix keeps."""

import numpy as np
import pytest

from scoring.feedback import DISMISSED_WEIGHT, MIN_WATCH_FRACTION, counted_watches
from scoring.matrix import RatingsMatrix


def test_a_watch_counts_from_min_fraction_and_a_missing_fraction_is_a_full_watch():
    fraction = np.array([0.0, 0.29, 0.3, 1.0, np.nan])
    assert counted_watches(fraction, 0.3).tolist() == [False, False, True, True, True]
    assert counted_watches(fraction, 0.0).all()
    assert counted_watches(fraction, 1.0).tolist() == [False, False, False, True, True]


def test_the_chosen_weights_are_in_range():
    """The documented defaults: a share of a movie, and a dismissal that never counts as a positive."""
    assert 0.0 <= MIN_WATCH_FRACTION <= 1.0
    assert DISMISSED_WEIGHT <= 0.0


@pytest.mark.parametrize("min_fraction", [-0.1, 1.5, float("nan")])
def test_a_min_fraction_outside_0_to_1_is_refused(min_fraction):
    with pytest.raises(ValueError, match="min_fraction must be from 0 to 1"):
        counted_watches(np.array([0.5]), min_fraction)


def test_the_matrix_keeps_dismissals_of_known_unrated_pairs_once():
    """A dismissal of a rated pair, of an unknown user or of an unknown movie is dropped; a repeated one counts once."""
    users, movies, stars = np.array([1, 1, 2, 2]), np.array([10, 20, 10, 30]), np.array([4.0, 3.0, 5.0, 2.0])
    dismissed = (np.array([1, 1, 1, 2, 9, 1]), np.array([30, 30, 10, 20, 10, 99]))
    ratings = RatingsMatrix.from_arrays(users, movies, stars, dismissed=dismissed)
    pairs = {(int(ratings.user_ids[u]), int(ratings.movie_ids[m])) for u, m in zip(*ratings.dismissed.nonzero(), strict=True)}
    assert pairs == {(1, 30), (2, 20)}
    assert ratings.dismissed.data.tolist() == [1.0, 1.0]
    assert ratings.nnz == 4  # no dismissal is a rating
    hidden = ratings.hidden(np.array([0, 1]))
    assert sorted(hidden[[0]].indices.tolist()) == [0, 1, 2] and sorted(hidden[[1]].indices.tolist()) == [0, 1, 2]
