"""How a score and a rating summary are shown: the card's words for its score, the movie page's bar chart.

Display only: the models say what was read (:class:`~web.recommender.models.ScoredMovie`,
:class:`~web.recommender.models.RatingSummary`); the template filters in
``templatetags/recommender.py`` call these.
"""

from __future__ import annotations

from web.recommender.models import RATING_VALUES, RatingSummary, ScoredMovie

CHART_HEIGHT = 30
"""Height of the tallest bar in the movie page's SVG chart (viewBox units; the box is 100 wide)."""


def match_strength(item: ScoredMovie) -> float:
    """A match as a share of the user's strongest, 0-1.

    EASE's scores grow with how much the run knows of the user (the top
    one is small after a few ratings and near 1 after a few hundred), so on a
    fixed scale a newcomer's best match would be one star.
    """
    if not item.best or item.best <= 0:
        return 0.0
    return min(max(float(item.score) / float(item.best), 0.0), 1.0)


METADATA_WORDS = "Matched on its genres and tags"
METADATA_LABEL = "too few ratings yet to say how strong a match: found by its genres, tags and year"
"""What a card says of a pick found by its metadata alone (:attr:`ScoredMovie.by_metadata`), and its tooltip."""
STRONG_MATCH = 0.7
GOOD_MATCH = 0.35
"""Shares of the user's strongest match from which a match is called strong or good (below: fair)."""


def score_words(item: ScoredMovie) -> str:
    """What a card says about its score, in words a person reads correctly (issue #19, item 2).

    A match has no fixed top, so stars (which read as a predicted rating) misled: a good match in a
    user's top 20 drew two stars. It is said in words instead; a predicted rating is said as one; a
    popular pick's score is the movie's (damped) average rating.
    """
    if item.by_metadata:
        return METADATA_WORDS
    if item.scale == "match":
        if not item.best or item.best <= 0:
            return "Weak match"
        strength = match_strength(item)
        if strength >= STRONG_MATCH:
            return "Strong match"
        return "Good match" if strength >= GOOD_MATCH else "Fair match"
    if item.scale == "average":
        return average_words(item.score)
    return f"We think {item.voice.would} rate it {float(item.score):.1f}"


def average_words(score: float) -> str:
    """A popular list's score: the movie's average rating, damped towards the overall average when it has few."""
    return f"Rated {float(score):.1f} on average"


def rated_words(average: float, count: int) -> str:
    """A catalogue card's average rating and how many gave it (not damped: the count says how far to trust it)."""
    return f"Rated {average:.1f} by {count:,} {'person' if count == 1 else 'people'}"


AVERAGE_LABEL = "the average rating, pulled towards the overall average for a movie with few ratings"


def score_label(item: ScoredMovie) -> str:
    """The card's words said in more detail (their tooltip)."""
    if item.by_metadata:
        return METADATA_LABEL
    if item.scale == "match":
        if not item.best or item.best <= 0:
            return f"a weak match: nothing stands out for {item.voice.name} yet"
        strength = match_strength(item)
        if strength >= 0.995:
            return f"{item.voice.possessive} strongest match"
        return f"{round(100 * strength)}% as strong a match as {item.voice.possessive} strongest"
    if item.scale == "average":
        return AVERAGE_LABEL
    return f"predicted {float(item.score):.2f} of 5"


def rating_bars(summary: RatingSummary) -> list[dict]:
    """The histogram as bars for the inline SVG chart: value, count, position and height (of :data:`CHART_HEIGHT`)."""
    peak = max(summary.histogram) or 1
    bars = []
    for i, (value, count) in enumerate(zip(RATING_VALUES, summary.histogram, strict=True)):
        height = round(CHART_HEIGHT * count / peak, 1)
        bars.append({"value": value, "count": count, "x": i * 10 + 1, "y": CHART_HEIGHT - height, "height": height,
                     "label": value == int(value)})
    return bars
