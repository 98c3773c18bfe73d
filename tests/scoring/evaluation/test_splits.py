"""The stratified, temporal and validation splits: sizes per user, repeatability, no overlap."""

import numpy as np
import pytest

from scoring.evaluation import Interactions, split, stratified_split, temporal_split, validation_split


def pairs(part: Interactions) -> set[tuple[int, int]]:
    return set(zip(part.users.tolist(), part.movies.tolist(), strict=True))


def per_user(part: Interactions) -> dict[int, int]:
    ids, counts = np.unique(part.users, return_counts=True)
    return dict(zip(ids.tolist(), counts.tolist(), strict=True))


def test_stratified_keeps_three_quarters_of_each_user(interactions):
    """Each user keeps floor(0.75 n + 0.5) ratings in training and the rest are held out, with no overlap."""
    parts = stratified_split(interactions, seed=3)
    total, train, test = per_user(interactions), per_user(parts.train), per_user(parts.test)
    for user, n in total.items():
        assert train[user] == int(np.floor(0.75 * n + 0.5))
        assert test.get(user, 0) == n - train[user]
    assert not pairs(parts.train) & pairs(parts.test)
    assert len(parts.train) + len(parts.test) == len(interactions)


def test_stratified_is_seeded(interactions):
    """The same seed gives the same split and another seed a different one."""
    first, again, other = (stratified_split(interactions, seed=s) for s in (1, 1, 2))
    assert pairs(first.test) == pairs(again.test)
    assert pairs(first.test) != pairs(other.test)


def test_temporal_holds_out_each_users_latest_fifth(interactions):
    """Every held-out rating of a user is at least as recent as all of that user's training ratings."""
    parts = temporal_split(interactions, seed=0)
    for user, n in per_user(interactions).items():
        test_times = parts.test.timestamps[parts.test.users == user]
        train_times = parts.train.timestamps[parts.train.users == user]
        assert len(test_times) == int(np.floor(0.2 * n + 0.5))
        assert test_times.min() >= train_times.max()


def test_a_single_rating_stays_in_training():
    """A user with one rating keeps it for training under both protocols (nothing to learn from otherwise)."""
    one = Interactions(np.array([1, 2, 2, 2, 2]), np.array([5, 5, 6, 7, 8]), np.full(5, 4.0), np.arange(5))
    for protocol in ("stratified", "temporal"):
        parts = split(one, protocol, seed=0)
        assert 1 in parts.train.users.tolist() and 1 not in parts.test.users.tolist()


def test_validation_split_is_carved_from_training_only(interactions):
    """The validation split's train and held-out parts together are exactly the outer training part."""
    outer = stratified_split(interactions, seed=0)
    inner = validation_split(outer)
    assert pairs(inner.train) | pairs(inner.test) == pairs(outer.train)
    assert not (pairs(inner.train) | pairs(inner.test)) & pairs(outer.test)


def test_bad_protocol_and_missing_timestamps_are_clear_errors(interactions):
    """An unknown protocol lists the choices; temporal without timestamps says so."""
    with pytest.raises(ValueError, match="unknown protocol 'random'; choose from: stratified, temporal"):
        split(interactions, "random", seed=0)
    untimed = Interactions(interactions.users, interactions.movies, interactions.ratings)
    with pytest.raises(ValueError, match="needs timestamps"):
        temporal_split(untimed, seed=0)
