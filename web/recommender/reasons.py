"""Why a movie is recommended, in words: the one place the served reasons are written.

What a reason rests on is found in SQL, in the same query that reads the
user's list (``UserScoreQuerySet._personal``), and is true of the score:

* a rated movie is named only when it is one of the recommended movie's
  predictors in the run (its similar movies: for EASE the largest weights
  B[j, i], so the largest terms of the user's score), the user liked it
  (:data:`LIKED_FROM` stars or more) and it shares a genre with the
  recommendation; of those, the strongest predictor is named;
* a pick of a content-reading run (the hybrid) that its collaborative part
  does not model - a movie with few or no ratings, found by its metadata,
  the model's exploration - is labelled "something new to try" and
  explained by its genre the user most often rates 4 stars or more
  ("something new to try: new, and like the science fiction you rate highly");
  a run of the content model alone (:data:`BY_METADATA_ALONE`) finds every
  movie by its metadata, the most-rated too, so its picks get that genre
  without the label ("like the science fiction you rate highly");
* anything else gets the run's general reason, which names no movie.

The scorers have no ``explain`` of their own: the web never loads a fitted
model (docs/decisions.md, "Reasons").
"""

from __future__ import annotations

from dataclasses import dataclass

LIKED_FROM = 3.5
"""A rated movie is named in a reason only if the user rated it at least this many stars."""
POPULAR = "popular with everyone: among the most-rated, best-liked movies"
"""The reason of every movie of the cold-start (popular) list."""
PERSONAL = "popular with people whose ratings are like yours"
"""A personal list's reason for a movie no liked, similar predictor explains."""
BY_ALGORITHM = {
    "popularity": "one of the best-liked movies you have not rated yet",
    "content": "its genres and tags are like those of the movies you rate highly",
}
"""Instead of :data:`PERSONAL`, for a run of these algorithms (a popularity run's list is not about taste; a content
run's reads no one else's ratings)."""
BY_METADATA_ALONE = frozenset({"content"})
"""Content-reading algorithms with no collaborative part: a movie is not "new to try" for being found by its metadata."""
GENRE_WORDS = {
    "Action": "action", "Adventure": "adventure", "Animation": "animation", "Children": "children's films",
    "Comedy": "comedy", "Crime": "crime", "Documentary": "documentaries", "Drama": "drama", "Fantasy": "fantasy",
    "Film-Noir": "film noir", "Horror": "horror", "IMAX": "IMAX films", "Musical": "musicals",
    "Mystery": "mystery", "Romance": "romance", "Sci-Fi": "science fiction", "Thriller": "thrillers",
    "War": "war films", "Western": "westerns",
}
"""MovieLens genres as a sentence says them; a genre not listed is said as it is written."""


def because_you_rated(title: str, rating: float) -> str:
    """The reason named after a rated movie: ``because you rated Heat 4.5 stars``."""
    stars = f"{rating:g} star" + ("" if rating == 1 else "s")
    return f"because you rated {title} {stars}"


NEW_TO_TRY = "something new to try"
"""The label of a pick the model is unsure of (few or no ratings; found by the movie's own metadata)."""


def new_to_try(unrated: bool, genre: str | None) -> str:
    """The reason of a pick made from the movie's own metadata:
    ``something new to try: new, and like the science fiction you rate highly``."""
    lead = "new" if unrated else "little known so far"
    if genre is None:
        return f"{NEW_TO_TRY}: {lead}"
    return f"{NEW_TO_TRY}: {lead}, and {like_your(genre)}"


def like_your(genre: str) -> str:
    """A genre the user rates highly, as a reason: ``like the science fiction you rate highly``."""
    return f"like the {GENRE_WORDS.get(genre, genre)} you rate highly"


def general(algorithm: str) -> str:
    """The reason of a personal list's movie that nothing more specific explains, by the run's algorithm."""
    return BY_ALGORITHM.get(algorithm, PERSONAL)


@dataclass(frozen=True)
class Why:
    """What the list's query found for one row: a named movie, or a content pick (and the user's genre), or nothing."""

    title: str | None = None
    rating: float | None = None
    content_pick: bool = False
    unrated: bool = False
    genre: str | None = None

    def new_to_try(self, algorithm: str) -> bool:
        """Whether it is a pick the run's collaborative part does not model, found by its metadata (labelled new)."""
        return self.title is None and self.content_pick and algorithm not in BY_METADATA_ALONE

    def words(self, algorithm: str) -> str:
        """The reason in words in a run of ``algorithm``; its general reason when nothing specific was found."""
        if self.title is not None:
            return because_you_rated(self.title, self.rating)
        if self.new_to_try(algorithm):
            return new_to_try(self.unrated, self.genre)
        if self.content_pick and self.genre is not None:
            return like_your(self.genre)
        return general(algorithm)
