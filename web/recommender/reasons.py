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


@dataclass(frozen=True)
class Voice:
    """Whom a list's words speak of: "you" to the member reading their own list, "User 1" to anyone else reading
    another user's (issue: a visitor on MovieLens user 1's page read "because you rated ...", as if they were user 1).

    The API speaks as :data:`YOU`: a browsing service shows a user's list to that user.
    """

    name: str = "you"
    possessive: str = "your"
    second_person: bool = True

    @classmethod
    def of_user(cls, label: str) -> Voice:
        """Another user, by the name the page gives them: ``Voice.of_user("User 1")``."""
        return cls(name=label, possessive=f"{label}'s", second_person=False)

    def does(self, plain: str, third: str) -> str:
        """A verb agreeing with the subject: ``you rate`` / ``User 1 rates``."""
        return f"{self.name} {plain if self.second_person else third}"

    @property
    def theirs(self) -> str:
        """``yours`` / ``User 1's``."""
        return "yours" if self.second_person else self.possessive

    @property
    def would(self) -> str:
        """``you'd`` / ``User 1 would``."""
        return "you'd" if self.second_person else f"{self.name} would"


YOU = Voice()
"""The member's own list, and the API's."""


def personal(voice: Voice = YOU) -> str:
    """A personal list's reason for a movie no liked, similar predictor explains."""
    return f"popular with people whose ratings are like {voice.theirs}"


BY_ALGORITHM = {
    "popularity": lambda voice: f"one of the best-liked movies {voice.does('have', 'has')} not rated yet",
    "content": lambda voice: f"its genres and tags are like those of the movies {voice.does('rate', 'rates')} highly",
}
"""Instead of :func:`personal`, for a run of these algorithms (a popularity run's list is not about taste; a content
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


def because_you_rated(title: str, rating: float, voice: Voice = YOU) -> str:
    """The reason named after a rated movie: ``because you rated Heat 4.5 stars``."""
    stars = f"{rating:g} star" + ("" if rating == 1 else "s")
    return f"because {voice.name} rated {title} {stars}"


NEW_TO_TRY = "something new to try"
"""The label of a pick the model is unsure of (few or no ratings; found by the movie's own metadata)."""


def new_to_try(unrated: bool, genre: str | None, voice: Voice = YOU) -> str:
    """The reason of a pick made from the movie's own metadata:
    ``something new to try: new, and like the science fiction you rate highly``."""
    lead = "new" if unrated else "little known so far"
    if genre is None:
        return f"{NEW_TO_TRY}: {lead}"
    return f"{NEW_TO_TRY}: {lead}, and {like_your(genre, voice)}"


def like_your(genre: str, voice: Voice = YOU) -> str:
    """A genre the user rates highly, as a reason: ``like the science fiction you rate highly``."""
    return f"like the {GENRE_WORDS.get(genre, genre)} {voice.does('rate', 'rates')} highly"


def general(algorithm: str, voice: Voice = YOU) -> str:
    """The reason of a personal list's movie that nothing more specific explains, by the run's algorithm."""
    return BY_ALGORITHM.get(algorithm, personal)(voice)


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

    def words(self, algorithm: str, voice: Voice = YOU) -> str:
        """The reason in words in a run of ``algorithm``, spoken of ``voice``; its general reason when nothing specific
        was found."""
        if self.title is not None:
            return because_you_rated(self.title, self.rating, voice)
        if self.new_to_try(algorithm):
            return new_to_try(self.unrated, self.genre, voice)
        if self.content_pick and self.genre is not None:
            return like_your(self.genre, voice)
        return general(algorithm, voice)
