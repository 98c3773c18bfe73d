"""The metric code against small cases worked out by hand."""

import math

import numpy as np
import pytest
import scipy.sparse as sp

from scoring.evaluation.metrics import beyond_accuracy, catalogue_coverage, ranking_metrics, rating_errors


def test_one_user_with_hits_at_ranks_one_and_three():
    """Hits at ranks 1 and 3 of 3 with 2 relevant: P=2/3, R=1, nDCG=(1+1/2)/(1+1/log2 3), AP=(1+2/3)/2."""
    result = ranking_metrics(np.array([[True, False, True]]), np.array([2]))
    assert result["precision"][0] == pytest.approx(2 / 3)
    assert result["recall"][0] == pytest.approx(1.0)
    assert result["ndcg"][0] == pytest.approx(1.5 / (1 + 1 / math.log2(3)))
    assert result["map"][0] == pytest.approx((1 + 2 / 3) / 2)


def test_map_and_ndcg_normalise_by_min_k_and_relevant():
    """With 5 relevant and k=2, one hit at rank 2 gives AP=(1/2)/2 and nDCG=(1/log2 3)/(1+1/log2 3), recall 1/5."""
    result = ranking_metrics(np.array([[False, True]]), np.array([5]))
    assert result["map"][0] == pytest.approx(0.25)
    assert result["ndcg"][0] == pytest.approx((1 / math.log2(3)) / (1 + 1 / math.log2(3)))
    assert result["recall"][0] == pytest.approx(0.2)
    assert result["precision"][0] == pytest.approx(0.5)


def test_perfect_and_empty_lists_per_user():
    """A list of only hits scores 1 on nDCG and AP; a list with no hit scores 0 on every metric."""
    result = ranking_metrics(np.array([[True, True], [False, False]]), np.array([2, 3]))
    assert result["ndcg"].tolist() == pytest.approx([1.0, 0.0])
    assert result["map"].tolist() == pytest.approx([1.0, 0.0])
    assert result["precision"].tolist() == pytest.approx([1.0, 0.0])


def test_a_user_without_relevant_movies_is_refused():
    """n_relevant must be positive: such users are left out by the caller, not averaged in as zeros."""
    with pytest.raises(ValueError, match="at least one relevant"):
        ranking_metrics(np.array([[True]]), np.array([0]))


def test_coverage_counts_distinct_movies_and_ignores_empty_slots():
    """Lists [0, 1] and [1, -1] show 2 distinct movies of 8: coverage 0.25."""
    assert catalogue_coverage(np.array([[0, 1], [1, -1]]), 8) == pytest.approx(0.25)


def test_rating_errors_by_hand():
    """Errors of +1 and -3 give RMSE sqrt(5) and MAE 2."""
    errors = rating_errors(np.array([4.0, 1.0]), np.array([3.0, 4.0]))
    assert errors["rmse"] == pytest.approx(math.sqrt(5))
    assert errors["mae"] == pytest.approx(2.0)


def test_beyond_accuracy_by_hand():
    """Long tail, novelty and genre diversity of two hand-made lists over a 10-movie catalogue."""
    raters = np.array([50, 40, 30, 20, 10, 8, 6, 4, 2, 0])  # the head (10 % of the 9 rated) is movie 0
    genres = sp.csr_array(np.array([[1, 0], [1, 0], [0, 1], [1, 1]] + [[1, 0]] * 6, dtype=np.float32))
    recommended = np.array([[0, 1, -1], [2, 3, 9]])
    result = beyond_accuracy(recommended, raters, 100, genres)
    assert result["long_tail"] == pytest.approx(4 / 5)  # only movie 0 is in the head; the unrated movie 9 is tail
    expected_novelty = np.mean(-np.log2(np.array([50, 40, 30, 20, 1]) / 100))
    assert result["novelty"] == pytest.approx(expected_novelty)
    # list 1: {A} vs {A} -> 0. list 2: {B}-{A,B} 1/2, {B}-{A} 1, {A,B}-{A} 1/2 -> 2/3. Mean 1/3.
    assert result["diversity"] == pytest.approx(1 / 3)
