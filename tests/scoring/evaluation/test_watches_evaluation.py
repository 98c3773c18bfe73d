"""The simulated-events experiment: the events it makes from a training part, and the four training sets."""

from __future__ import annotations

import numpy as np
import pytest

from scoring.evaluation.data import Interactions
from scoring.evaluation.splits import Split
from scoring.evaluation.watches import DISLIKED, VARIANTS, simulate_events, variants, watch_fractions


def _split() -> Split:
    rng = np.random.default_rng(0)
    users, movies = np.repeat(np.arange(1, 51), 20), np.tile(np.arange(1, 21), 50)
    train = Interactions(users=users, movies=movies, ratings=rng.choice([1.0, 3.0, 5.0], len(users)).astype(np.float32))
    test = Interactions(users=np.array([1]), movies=np.array([99]), ratings=np.array([4.0], np.float32))
    return Split(train=train, test=test, protocol="stratified", seed=0)


def _pairs(data: Interactions) -> set[tuple[int, int]]:
    return set(zip(data.users.tolist(), data.movies.tolist(), strict=True))


def test_hidden_ratings_become_watches_or_dismissals_by_their_stars():
    parts = _split()
    events = simulate_events(parts.train, 0.4, seed=1)
    hidden = len(events.watched) + len(events.dismissed)
    assert 0.3 * len(parts.train) < hidden < 0.5 * len(parts.train)
    assert _pairs(events.rated) | _pairs(events.watched) | _pairs(events.dismissed) == _pairs(parts.train)
    assert (events.dismissed.ratings <= DISLIKED).all() and (events.watched.ratings > DISLIKED).all()
    reported = ~np.isnan(events.fraction)
    assert 0.6 < reported.mean() < 0.95 and ((events.fraction[reported] >= 0) & (events.fraction[reported] <= 1)).all()


def test_fractions_grow_with_the_stars():
    rng = np.random.default_rng(0)
    low, high = watch_fractions(np.full(2000, 1.0), rng), watch_fractions(np.full(2000, 5.0), rng)
    assert low.mean() < 0.3 and high.mean() > 0.8


def test_the_variants_weigh_the_events_as_named():
    parts = _split()
    events = simulate_events(parts.train, 0.4, seed=1)
    sets = variants(parts, events, 3.5, min_fraction=0.5)
    assert list(sets) == list(VARIANTS) and all(v.test is parts.test for v in sets.values())
    assert sets["all stars"].train is parts.train and sets["all stars"].dismissed is None
    assert _pairs(sets["watches ignored"].train) == _pairs(events.rated)
    assert _pairs(sets["uniform"].train) == _pairs(events.rated) | _pairs(events.watched)
    long_enough = np.isnan(events.fraction) | (events.fraction >= 0.5)
    assert _pairs(sets["weights used"].train) == _pairs(events.rated) | _pairs(events.watched.take(long_enough))
    assert 0 < long_enough.sum() < len(events.watched)
    for name in ("weights used", "uniform", "watches ignored"):
        assert sets[name].dismissed is events.dismissed
    used = sets["weights used"].train
    watch_values = set(used.ratings[len(events.rated):].tolist())
    assert watch_values == {3.5}


def test_a_fraction_outside_0_to_1_is_refused():
    with pytest.raises(ValueError, match="from 0 to 1"):
        simulate_events(_split().train, 1.5, seed=0)
