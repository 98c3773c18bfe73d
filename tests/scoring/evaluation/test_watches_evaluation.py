"""The hidden-stars experiment: the three training sets it builds from one split."""

from __future__ import annotations

import numpy as np
import pytest

from scoring.evaluation.data import Interactions
from scoring.evaluation.splits import Split
from scoring.evaluation.watches import hide_stars


def _split() -> Split:
    rng = np.random.default_rng(0)
    users, movies = np.repeat(np.arange(1, 51), 20), np.tile(np.arange(1, 21), 50)
    train = Interactions(users=users, movies=movies, ratings=rng.choice([1.0, 3.0, 5.0], len(users)).astype(np.float32))
    test = Interactions(users=np.array([1]), movies=np.array([99]), ratings=np.array([4.0], np.float32))
    return Split(train=train, test=test, protocol="stratified", seed=0)


def test_watches_used_keeps_every_pair_with_the_hidden_stars_replaced():
    parts = _split()
    variants = hide_stars(parts, 0.4, 3.5, seed=1)
    used, ignored = variants["watches used"].train, variants["watches ignored"].train
    assert len(used) == len(parts.train) and 0.3 * len(used) < len(used) - len(ignored) < 0.5 * len(used)
    key = lambda d: set(zip(d.users.tolist(), d.movies.tolist(), strict=True))  # noqa: E731
    assert key(used) == key(parts.train) and key(ignored) < key(used)
    hidden = key(used) - key(ignored)
    watch_values = {r for u, m, r in zip(used.users, used.movies, used.ratings, strict=True) if (u, m) in hidden}
    assert watch_values == {np.float32(3.5)}
    assert all(v.test is parts.test for v in variants.values())


def test_a_fraction_outside_0_to_1_is_refused():
    with pytest.raises(ValueError, match="from 0 to 1"):
        hide_stars(_split(), 1.5, 3.5, seed=0)
