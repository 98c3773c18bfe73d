"""Why a movie is recommended, in words: the one place the served reasons are written.

Which rated movie explains a recommendation is found in SQL, in the same
query that reads the user's list (``UserScoreQuerySet._personal``: the
user's best-rated movie, 3.5 stars or more, among the recommended movie's
similar movies in the run). The scorers have no ``explain`` of their own:
the web never loads a fitted model (docs/decisions.md, "Reasons").
"""

from __future__ import annotations

POPULAR = "popular with everyone: among the most-rated, best-liked movies"
"""The reason of every movie of the cold-start (popular) list."""
PERSONAL = "people who rate like you loved it"
"""A personal list's reason for a movie no rated similar movie explains."""
BY_ALGORITHM = {"popularity": "one of the best-liked movies you have not rated yet"}
"""Instead of :data:`PERSONAL`, for a run of these algorithms (a popularity run's list is not about taste)."""


def because_you_rated(title: str, rating: float) -> str:
    """The reason named after a rated movie: ``because you rated Heat 4.5 stars``."""
    stars = f"{rating:g} star" + ("" if rating == 1 else "s")
    return f"because you rated {title} {stars}"


def general(algorithm: str) -> str:
    """The reason of a personal list's movie that no rated similar movie explains, by the run's algorithm."""
    return BY_ALGORITHM.get(algorithm, PERSONAL)
