"""How a browsing service's events weigh in what the models learn from (docs/precompute.md, "Events as feedback").

Next to the star ratings, two kinds of event teach the models:

* **A watch** is implicit positive feedback. It counts when at least
  :data:`MIN_WATCH_FRACTION` of the movie was watched
  (:func:`counted_watches`); a watch that reports no fraction counts as a
  full one, and of several watches of a movie the longest decides. A watch
  that counts is one entry of the users × movies matrix: binary models
  (EASE) see it like a rating, star models read it as
  :data:`WATCH_RATING` stars. A watch too
  short to count is no entry at all, for every model. A rated movie counts
  once, with its stars.
* **Not interested** is a negative, for the models that can use one: EASE
  puts :data:`DISMISSED_WEIGHT` in the user's history row where a positive
  entry would be 1, so the movies its viewers predict score lower
  (``EASE(dismissed=...)``). It applies only to a movie the user neither
  rated nor watched (what they did outweighs a click), it is never a
  positive, and the read hides the movie from the served list as before.
  Star models ignore it. A later ``not_interested_remove`` takes it back
  (the web layer leaves such pairs out before they get here).

Both values were chosen on the validation splits of a simulated protocol
(docs/evaluation.md, "Watches"). The job (``jobs/precompute/store.py``) and
the worker's refresh of one user (``web/recommender/tasks.py``) both read
the events through ``Event.objects.feedback``, which applies this module,
so a refresh and the next run build the same history row.
"""

from __future__ import annotations

import numpy as np

WATCH_RATING = 4.5
"""The stars a counted watch with no rating has in the users × movies matrix, for the star models (kNN).

EASE, the default, uses only whether an entry exists, so there a watch counts
exactly like a rating whatever this value. 4.5 ranked best for item-item on
the validation splits of ml-latest-small (of 2.5, 3.5, 4.5 and 5.0), in
keeping with a watch being a choice the user made. A rated movie counts
once, with its stars: the rating says more than the watch.
"""

MIN_WATCH_FRACTION = 0.0
"""A watch of less than this share of the movie (0 to 1) counts not at all; one of no reported fraction counts in full."""

DISMISSED_WEIGHT = -0.25
"""EASE's history entry of a not-interested movie (<= 0; a positive entry is 1, and 0 ignores dismissals)."""


def counted_watches(fraction: np.ndarray, min_fraction: float = MIN_WATCH_FRACTION) -> np.ndarray:
    """Which watches count as feedback: a boolean mask over ``fraction`` (0 to 1; NaN where none was reported).

    A NaN fraction is a full watch: the sender told us a watch happened and nothing about its length.
    """
    if not 0.0 <= min_fraction <= 1.0:
        raise ValueError(f"min_fraction must be from 0 to 1; got {min_fraction!r}")
    fraction = np.asarray(fraction, dtype=np.float64)
    return np.isnan(fraction) | (fraction >= min_fraction)
