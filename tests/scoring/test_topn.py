"""top_n: best first, never a rated or unscorable movie, the same answer as a full sort."""

import numpy as np
import pytest
import scipy.sparse as sp

from scoring.topn import rated_matrix, top_n


def reference_top_n(scores, rated, n):
    """Per row: sort the unrated, scorable columns by (-score, column) and take n, padded with -1/NaN."""
    items = np.full((len(scores), n), -1)
    values = np.full((len(scores), n), np.nan, dtype=np.float32)
    for row in range(len(scores)):
        candidates = [c for c in range(scores.shape[1]) if not rated[row, c] and not np.isnan(scores[row, c])]
        best = sorted(candidates, key=lambda c: (-scores[row, c], c))[:n]
        items[row, : len(best)] = best
        values[row, : len(best)] = scores[row, best]
    return items, values


def random_case(seed, b=30, n_items=50, ties=False):
    rng = np.random.default_rng(seed)
    scores = (rng.integers(0, 6, (b, n_items)) if ties else rng.normal(size=(b, n_items))).astype(np.float32)
    scores[rng.random((b, n_items)) < 0.1] = np.nan
    dense = rng.random((b, n_items)) < 0.3
    dense[b - 1] = True  # a user who rated every movie gets only padding
    dense[b - 2, 3:] = True  # and one with fewer candidates than n
    return scores, sp.csr_array(dense), dense


@pytest.mark.parametrize(("seed", "ties"), [(0, False), (1, True), (2, True)])
@pytest.mark.parametrize("n", [1, 7, 60])
def test_matches_a_sort_based_reference(seed, ties, n):
    """Items and scores equal the reference, ties (integer scores) and short rows (n > candidates) included."""
    scores, rated, dense = random_case(seed, ties=ties)
    items, values = top_n(scores, rated, n)
    expected_items, expected_values = reference_top_n(scores, dense, n)
    np.testing.assert_array_equal(items, expected_items)
    np.testing.assert_array_equal(values, expected_values)
    assert items.dtype == np.int32 and values.dtype == np.float32 and items.shape == (len(scores), n)


def test_never_returns_a_rated_movie():
    """No returned item is marked rated for its row, even when rated movies have the best scores."""
    scores, rated, dense = random_case(4)
    scores[dense] = 100.0  # rated movies would win if they were not excluded
    items, _ = top_n(scores, rated, 20)
    rows = np.repeat(np.arange(len(items)), items.shape[1]).reshape(items.shape)
    found = items >= 0
    assert not dense[rows[found], items[found]].any()


def test_explicit_zero_counts_as_rated():
    """A stored entry is "rated" whatever its value, so an explicit 0 is excluded too."""
    rated = sp.csr_array((np.array([0.0], dtype=np.float32), np.array([1]), np.array([0, 1])), shape=(1, 3))
    items, _ = top_n(np.array([[1.0, 3.0, 2.0]], dtype=np.float32), rated, 3)
    assert items.tolist() == [[2, 0, -1]]


def test_negative_scores_and_signed_zeros_rank_like_floats():
    """Negative, zero, -0.0 and infinite scores keep float order; -0.0 ties with 0.0 and goes by column."""
    scores = np.array([[-np.inf, -2.0, 0.0, -0.0, 3.5, np.inf, -1e-30]], dtype=np.float32)
    items, values = top_n(scores, None, 7)
    assert items.tolist() == [[5, 4, 2, 3, 6, 1, 0]]
    assert values[0, 0] == np.inf and values[0, -1] == -np.inf


def test_rated_matrix_excludes_one_users_history():
    """rated_matrix builds the (1, n_items) exclusion of a one-user top_n."""
    items, _ = top_n(np.arange(5, dtype=np.float32)[None, :], rated_matrix(np.array([4, 2]), 5), 2)
    assert items.tolist() == [[3, 1]]


def test_bad_arguments_name_what_was_received():
    """A 1-D score array, a wrong-shaped exclusion or n < 1 is refused with what was received."""
    with pytest.raises(ValueError, match=r"2-D \(users × movies\); got shape \(3,\)"):
        top_n(np.zeros(3, np.float32), None, 1)
    with pytest.raises(ValueError, match=r"shape of scores \(2, 3\); got \(2, 4\)"):
        top_n(np.zeros((2, 3), np.float32), sp.csr_array((2, 4)), 1)
    with pytest.raises(ValueError, match="n must be an integer >= 1; got 0"):
        top_n(np.zeros((2, 3), np.float32), None, 0)
