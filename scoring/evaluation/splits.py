"""Seeded train/test splits, per user, so every user is both fitted on and evaluated.

* ``stratified``: each user's ratings are shuffled and 75 % (rounded half up,
  so at least one) stay in training, the rest are the test part - the
  protocol of the Microsoft Recommenders MovieLens benchmark.
* ``temporal``: each user's latest 20 % (rounded half up; ties in time broken
  by the seed) are the test part - closer to production, where the past
  predicts the future.
* ``cold_items``: every rating of a random 10 % of the movies is the test
  part - how well a model places movies it has never seen rated.
* :func:`validation_split` applies the same protocol again to the *training*
  part only, for tuning; the test part never enters it.

Vectorised: one ``lexsort`` by (user, key) ranks every rating inside its user.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from scoring.evaluation.data import Interactions
from scoring.matrix import sorted_unique

STRATIFIED_TEST_FRACTION = 0.25
TEMPORAL_TEST_FRACTION = 0.2
COLD_ITEM_FRACTION = 0.1


@dataclass(frozen=True, eq=False)
class Split:
    """A train part and a test part of the same ratings, and how they were made.

    ``dismissed`` (the ratings column unused) are not-interested events known at
    training time, for the simulated watches protocol (:mod:`scoring.evaluation.watches`).
    """

    train: Interactions
    test: Interactions
    protocol: str
    seed: int
    dismissed: Interactions | None = None


def _rank_within_user(users: np.ndarray, *keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each entry's 0-based position among its user's entries ordered by ``keys`` (last key primary), and its user's count."""
    user_ids = sorted_unique(users)
    codes = np.searchsorted(user_ids, users)
    order = np.lexsort((*keys, codes))
    counts = np.bincount(codes, minlength=len(user_ids))
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    rank = np.empty(len(users), dtype=np.int64)
    rank[order] = np.arange(len(users)) - starts[codes[order]]
    return rank, counts[codes]


def _round_half_up(values: np.ndarray) -> np.ndarray:
    return np.floor(values + 0.5).astype(np.int64)


def stratified_split(data: Interactions, seed: int, test_fraction: float = STRATIFIED_TEST_FRACTION) -> Split:
    """Hold out a random ``test_fraction`` of each user's ratings; each user keeps round(75 %) >= 1 for training."""
    _check_fraction(test_fraction)
    rng = np.random.default_rng(seed)
    rank, count = _rank_within_user(data.users, rng.random(len(data)))
    in_train = rank < _round_half_up((1.0 - test_fraction) * count)
    return Split(train=data.take(in_train), test=data.take(~in_train), protocol="stratified", seed=seed)


def temporal_split(data: Interactions, seed: int, test_fraction: float = TEMPORAL_TEST_FRACTION) -> Split:
    """Hold out each user's latest round(20 %) ratings; equal timestamps are ordered by the seed."""
    _check_fraction(test_fraction)
    if data.timestamps is None:
        raise ValueError("the temporal protocol needs timestamps; these ratings have none (use stratified)")
    rng = np.random.default_rng(seed)
    rank, count = _rank_within_user(data.users, rng.random(len(data)), data.timestamps)
    in_test = rank >= count - _round_half_up(test_fraction * count)
    return Split(train=data.take(~in_test), test=data.take(in_test), protocol="temporal", seed=seed)


def cold_item_split(data: Interactions, seed: int, test_fraction: float = COLD_ITEM_FRACTION) -> Split:
    """Hold out every rating of a random ``test_fraction`` of the rated movies: new movies nobody has rated yet.

    The movies stay in the catalogue (a content scorer is given their
    metadata); a user all of whose ratings are of held-out movies has no
    training history and is not measured.
    """
    _check_fraction(test_fraction)
    movie_ids = sorted_unique(data.movies)
    rng = np.random.default_rng(seed)
    held = rng.choice(movie_ids, size=max(1, _round_half_up(np.array(test_fraction * len(movie_ids)))), replace=False)
    in_test = np.isin(data.movies, held)
    return Split(train=data.take(~in_test), test=data.take(in_test), protocol="cold_items", seed=seed)


PROTOCOLS: dict[str, Callable[[Interactions, int], Split]] = {
    "stratified": stratified_split,
    "temporal": temporal_split,
}
"""The protocols every algorithm's lists are measured on (``manage.py evaluate``'s choices)."""
SPLITS: dict[str, Callable[[Interactions, int], Split]] = {**PROTOCOLS, "cold_items": cold_item_split}
"""Every split :func:`split` makes: the protocols, and the cold-item split (measured by ``evaluate_cold_items``)."""


def split(data: Interactions, protocol: str, seed: int) -> Split:
    """Split ``data`` by the named protocol (``stratified``, ``temporal`` or ``cold_items``)."""
    try:
        make = SPLITS[protocol]
    except KeyError:
        raise ValueError(f"unknown protocol {protocol!r}; choose from: {', '.join(SPLITS)}") from None
    return make(data, seed)


def validation_split(outer: Split) -> Split:
    """The same protocol applied to ``outer.train`` alone: tune on this, never on ``outer.test``.

    Its seed is derived from the outer seed, so the inner shuffle differs
    from the outer one but is just as repeatable.
    """
    inner_seed = int(np.random.SeedSequence([outer.seed, 1]).generate_state(1)[0])
    inner = split(outer.train, outer.protocol, inner_seed)
    return Split(train=inner.train, test=inner.test, protocol=f"{outer.protocol}-validation", seed=outer.seed)


def _check_fraction(fraction: float) -> None:
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"test_fraction must be between 0 and 1 (exclusive); got {fraction!r}")
