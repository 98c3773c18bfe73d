"""The metric code against small cases worked out by hand."""

import math

import numpy as np
import pytest

from scoring.evaluation.metrics import catalogue_coverage, ranking_metrics, rating_errors


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
