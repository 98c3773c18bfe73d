"""No leakage: nothing from the test part reaches fitting or tuning."""

import numpy as np

from scoring import Popularity
from scoring.evaluation import evaluate_split, stratified_split, temporal_split, tune, validation_split
from scoring.matrix import RatingsMatrix

FITTED_ON: list[set[tuple[int, int]]] = []


class RecordingPopularity(Popularity):
    """Popularity that records every (user, movie) pair it is fitted on."""

    name = "recording"

    def _fit(self, ratings: RatingsMatrix, mapper=None) -> None:
        rows, cols = ratings.matrix.nonzero()
        FITTED_ON.append(set(zip(ratings.user_ids[rows].tolist(), ratings.movie_ids[cols].tolist(), strict=True)))
        super()._fit(ratings)


def pairs(part) -> set[tuple[int, int]]:
    return set(zip(part.users.tolist(), part.movies.tolist(), strict=True))


def test_tuning_and_final_fit_never_see_the_test_part(interactions):
    """Every fit of a tune-then-evaluate run excludes the test pairs; tuning fits exclude the validation pairs too."""
    for make_split in (stratified_split, temporal_split):
        outer = make_split(interactions, seed=4)
        FITTED_ON.clear()
        best, results = tune(RecordingPopularity, {"damping": [0.0, 5.0, 50.0]}, outer)
        evaluate_split(RecordingPopularity(**best), outer)
        assert len(FITTED_ON) == 4 and len(results) == 3
        test, inner = pairs(outer.test), validation_split(outer)
        for fitted in FITTED_ON:
            assert not fitted & test
        for fitted in FITTED_ON[:3]:
            assert fitted == pairs(inner.train) and not fitted & pairs(inner.test)
        assert FITTED_ON[3] == pairs(outer.train)


def test_tuning_picks_by_validation_not_test(interactions):
    """The chosen point is the best on the validation split's own scores."""
    outer = stratified_split(interactions, seed=2)
    best, results = tune(Popularity, {"damping": [0.0, 1000.0]}, outer, metric="ndcg@10")
    scores = {r["params"]["damping"]: r["ndcg@10"] for r in results}
    assert scores[best["damping"]] == max(scores.values())
    assert all(r["protocol"] == "stratified-validation" for r in results)
    assert np.isfinite(list(scores.values())).all()
