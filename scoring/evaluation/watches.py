"""What bare watches add: hide the stars of part of the training ratings, keep them as watches, compare.

A browsing service sends far more watches than ratings. To measure what a
watch is worth to a model without a data set of real watches, a share of
the training ratings lose their stars and become bare watches; the model is
then fitted three ways on the same split and scored on the same held-out part:

* ``all stars``: every training rating with its stars (what full ratings would give);
* ``watches used``: the rated part, plus the watches valued ``watch_value``
  (what the job does with unrated watches, ``WATCH_RATING``);
* ``watches ignored``: the rated part alone (what the job did before events).
"""

from __future__ import annotations

import numpy as np

from scoring.evaluation.data import Interactions
from scoring.evaluation.splits import Split

VARIANTS = ("all stars", "watches used", "watches ignored")


def hide_stars(parts: Split, hidden_fraction: float, watch_value: float, seed: int) -> dict[str, Split]:
    """The three training sets of the module docstring, each with ``parts.test`` unchanged, by variant name.

    ``hidden_fraction`` (0 to 1) of the training entries, drawn with ``seed``,
    lose their stars; ``watch_value`` is what a bare watch is valued at.
    """
    if not 0 <= hidden_fraction <= 1:
        raise ValueError(f"hidden_fraction must be from 0 to 1; got {hidden_fraction!r}")
    train = parts.train
    hidden = np.random.default_rng(seed).random(len(train)) < hidden_fraction
    watched = train.take(hidden)
    as_watches = Interactions(users=watched.users, movies=watched.movies,
                              ratings=np.full(len(watched), watch_value, dtype=np.float32))
    rated = train.take(~hidden)
    used = Interactions(users=np.concatenate([rated.users, as_watches.users]),
                        movies=np.concatenate([rated.movies, as_watches.movies]),
                        ratings=np.concatenate([rated.ratings, as_watches.ratings]))
    trains = {"all stars": train, "watches used": used, "watches ignored": rated}
    return {name: Split(train=trains[name], test=parts.test, protocol=parts.protocol, seed=parts.seed) for name in VARIANTS}
