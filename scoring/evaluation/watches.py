"""What watches and dismissals add, and how to weigh them: events simulated from a split's training ratings.

MovieLens has ratings only. To measure what a browsing service's events
are worth without a data set of real ones, a share of the training
ratings lose their stars and become events (:func:`simulate_events`):

* a hidden rating of :data:`DISLIKED` stars or fewer becomes a
  ``not_interested`` (the user would not have wanted it);
* any other becomes a bare watch, whose ``fraction`` is drawn from the
  stars (:func:`watch_fractions`: a 1-star movie is abandoned early, a
  5-star one watched to the end), or reported without a fraction
  (:data:`NO_FRACTION_SHARE` of them, counted as full watches).

The model is then fitted on four training sets of the same split and
scored on the same held-out part (:func:`variants`):

* ``all stars``: every training rating with its stars (what full ratings would give);
* ``weights used``: the rated part, the watches that count by ``min_fraction``
  (:func:`scoring.feedback.counted_watches`) and the dismissals (what the job does);
* ``uniform``: the rated part and every watch (the job before the weighting);
* ``watches ignored``: the rated part alone (what the job did before events).

The last three carry the dismissals (:attr:`Split.dismissed`), so the
dismissed movies are never recommended in any of them, as the site hides
them at read time whatever the model; whether they also weigh as
negatives is the scorer's parameter (``EASE(dismissed=...)``, 0 for none).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scoring.evaluation.data import Interactions
from scoring.evaluation.splits import Split
from scoring.feedback import counted_watches

VARIANTS = ("all stars", "weights used", "uniform", "watches ignored")
DISLIKED = 2.0
"""A hidden rating of this many stars or fewer becomes a not-interested event."""
NO_FRACTION_SHARE = 0.2
"""Share of the simulated watches that report no fraction."""
_CONCENTRATION = 4.0
"""Of the Beta distribution of a watch's fraction: lower spreads the fractions of one star value wider."""


@dataclass(frozen=True, eq=False)
class SimulatedEvents:
    """A training part split into the ratings kept and the events made of the others."""

    rated: Interactions
    watched: Interactions
    """The watches (their ``ratings`` are the hidden stars, for reference only: no model sees them)."""
    fraction: np.ndarray
    """Of each watch, 0 to 1, NaN where none is reported."""
    dismissed: Interactions


def watch_fractions(stars: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A fraction watched for each star value: Beta-distributed with a mean from 0.15 (0.5 stars) to 0.95 (5 stars)."""
    mean = 0.15 + 0.8 * (np.asarray(stars, dtype=np.float64) - 0.5) / 4.5
    return rng.beta(mean * _CONCENTRATION, (1.0 - mean) * _CONCENTRATION)


def simulate_events(train: Interactions, hidden_fraction: float, seed: int) -> SimulatedEvents:
    """``hidden_fraction`` (0 to 1) of ``train``, drawn with ``seed``, turned into events as the module docstring says."""
    if not 0 <= hidden_fraction <= 1:
        raise ValueError(f"hidden_fraction must be from 0 to 1; got {hidden_fraction!r}")
    rng = np.random.default_rng(seed)
    hidden = rng.random(len(train)) < hidden_fraction
    disliked = hidden & (train.ratings <= DISLIKED)
    watched = train.take(hidden & ~disliked)
    fraction = watch_fractions(watched.ratings, rng)
    fraction[rng.random(len(watched)) < NO_FRACTION_SHARE] = np.nan
    return SimulatedEvents(rated=train.take(~hidden), watched=watched, fraction=fraction, dismissed=train.take(disliked))


def variants(parts: Split, events: SimulatedEvents, watch_value: float, min_fraction: float) -> dict[str, Split]:
    """The four training sets of the module docstring, each with ``parts.test`` unchanged, by variant name.

    A watch enters a training set valued ``watch_value`` stars (what the job gives an unrated watch).
    """
    def with_watches(keep: np.ndarray) -> Interactions:
        watches = events.watched.take(keep)
        return Interactions(users=np.concatenate([events.rated.users, watches.users]),
                            movies=np.concatenate([events.rated.movies, watches.movies]),
                            ratings=np.concatenate([events.rated.ratings,
                                                    np.full(len(watches), watch_value, dtype=np.float32)]))

    trains = {
        "all stars": (parts.train, None),
        "weights used": (with_watches(counted_watches(events.fraction, min_fraction)), events.dismissed),
        "uniform": (with_watches(np.ones(len(events.watched), dtype=bool)), events.dismissed),
        "watches ignored": (events.rated, events.dismissed),
    }
    return {name: Split(train=train, test=parts.test, protocol=parts.protocol, seed=parts.seed, dismissed=dismissed)
            for name, (train, dismissed) in trains.items()}
