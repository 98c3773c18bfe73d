"""How a score and a rating summary are drawn: the card's stars and their words, the movie page's bar chart.

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


def card_stars(item: ScoredMovie) -> float:
    """The score on the five-star bar of a card: a predicted rating as is, a match as 5 x its strength."""
    if item.scale == "match":
        return 5.0 * match_strength(item)
    return float(item.score)


def score_label(item: ScoredMovie) -> str:
    """What the card's bar means, in words (its tooltip)."""
    if item.scale == "match":
        if not item.best or item.best <= 0:
            return "a weak match: nothing stands out for you yet"
        strength = match_strength(item)
        if strength >= 0.995:
            return "your strongest match"
        return f"{round(100 * strength)}% as strong a match as your strongest"
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
