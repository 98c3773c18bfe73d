"""The runner end to end on synthetic data: wiring of fit, exclusion, metrics and rating errors."""

import numpy as np
import pytest

from scoring import Popularity
from scoring.evaluation import evaluate_scorer, evaluate_split, stratified_split
from scoring.matrix import RatingsMatrix


class Oracle:
    """Scores exactly the given (user, movie) pairs 1 and every other movie 0: a perfect recommender."""

    name = "oracle"

    def __init__(self, *, pairs: tuple = (), only_known: bool = False) -> None:
        self.pairs = pairs
        self.only_known = only_known

    def get_params(self) -> dict:
        return {"pairs": self.pairs, "only_known": self.only_known}

    def fit(self, ratings: RatingsMatrix) -> "Oracle":
        self.ratings_ = ratings
        return self

    def score_users(self, rows: np.ndarray) -> np.ndarray:
        fill = np.nan if self.only_known else 0.0
        scores = np.full((len(rows), self.ratings_.n_items), fill, dtype=np.float32)
        for position, row in enumerate(rows):
            user = self.ratings_.user_ids[row]
            movies = [m for u, m in self.pairs if u == user]
            columns = self.ratings_.movie_index(np.array(movies, dtype=np.int64))
            scores[position, columns[columns >= 0]] = 1.0
        return scores


def test_a_perfect_recommender_gets_ndcg_one(interactions):
    """Scoring the held-out movies highest gives nDCG and AP of 1 and precision min(k, n)/k per user."""
    parts = stratified_split(interactions, seed=0)
    test_pairs = tuple(zip(parts.test.users.tolist(), parts.test.movies.tolist(), strict=True))
    known_movies = set(parts.train.movies.tolist())
    result = evaluate_split(Oracle(pairs=test_pairs), parts, k=3)
    held_out = {}
    for user, movie in test_pairs:
        held_out.setdefault(user, []).append(movie)
    expected_precision = np.mean([min(3, sum(m in known_movies for m in ms)) / 3 for ms in held_out.values()])
    assert result["precision@3"] == pytest.approx(expected_precision)
    assert result["users"] == len(held_out)
    assert all(m in known_movies for _, m in test_pairs)  # so a perfect list is reachable
    assert result["ndcg@3"] == pytest.approx(1.0) and result["map@3"] == pytest.approx(1.0)


def test_training_movies_are_never_recommended(interactions):
    """A scorer that only scores the user's training movies recommends nothing: every metric and coverage is 0."""
    parts = stratified_split(interactions, seed=0)
    train_pairs = tuple(zip(parts.train.users.tolist(), parts.train.movies.tolist(), strict=True))
    result = evaluate_split(Oracle(pairs=train_pairs, only_known=True), parts, k=5)
    assert result["precision@5"] == 0.0 and result["ndcg@5"] == 0.0 and result["coverage@5"] == 0.0


def test_evaluate_scorer_reports_the_documented_keys(interactions):
    """The job's entry point returns the keys docs/evaluation.md names, with values in [0, 1]."""
    result = evaluate_scorer(Popularity(damping=5.0), interactions, protocol="temporal", seed=1, k=10)
    for key in ("precision@10", "recall@10", "ndcg@10", "map@10", "coverage@10", "ndcg@10_liked", "precision@10_liked"):
        assert 0.0 <= result[key] <= 1.0, key
    assert result["algorithm"] == "popularity" and result["protocol"] == "temporal" and result["params"] == {"damping": 5.0}
    assert "rmse" not in result


def test_rating_predictors_get_rmse_and_mae(interactions):
    """A scorer flagged predicts_ratings gets RMSE/MAE over every held-out rating, from its own predictions."""

    class Constant(Oracle):
        predicts_ratings = True

        def score_users(self, rows):
            return np.full((len(rows), self.ratings_.n_items), 3.0, dtype=np.float32)

    parts = stratified_split(interactions, seed=0)
    result = evaluate_split(Constant(), parts, k=5)
    assert result["rmse"] == pytest.approx(float(np.sqrt(np.mean((parts.test.ratings - 3.0) ** 2))), rel=1e-6)
    assert result["mae"] == pytest.approx(float(np.mean(np.abs(parts.test.ratings - 3.0))), rel=1e-6)


def test_the_given_scorer_is_not_fitted(interactions):
    """Evaluation fits a copy, so a job's fitted model is not refitted on a part of its data."""
    model = Popularity()
    evaluate_scorer(model, interactions)
    assert not hasattr(model, "movie_ids_")


def test_bad_k_is_refused(interactions):
    """k must be a positive integer."""
    with pytest.raises(ValueError, match="k must be an integer >= 1; got 0"):
        evaluate_scorer(Popularity(), interactions, k=0)
