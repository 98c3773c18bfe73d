"""Template helpers of the site: the star widget, predicted-score stars, a card's score, the rating chart."""

from __future__ import annotations

from django import template

from web.recommender import presenters
from web.recommender.models import RATING_VALUES, RatingSummary, ScoredMovie

register = template.Library()


@register.inclusion_tag("recommender/_stars.html", takes_context=True)
def star_widget(context, movie, current=None):
    """The 0.5-5 star rating form for ``movie``, filled up to ``current`` (the viewer's rating, or None)."""
    request = context["request"]
    return {
        "movie": movie,
        "current": current,
        "halves": [(value, "l" if i % 2 == 0 else "r", current is not None and value <= current) for i, value in enumerate(RATING_VALUES)],
        "next": request.get_full_path(),
        "csrf_token": context.get("csrf_token"),
    }


@register.filter
def star_percent(score) -> float:
    """A predicted score (0-5) as the filled width of five stars, in percent, clamped to 0-100."""
    try:
        return round(max(0.0, min(100.0, float(score) * 20)), 1)
    except (TypeError, ValueError):
        return 0.0


@register.filter
def star_step(score) -> int:
    """:func:`star_percent` rounded to a multiple of 5 (a quarter star): site.css has one width rule per step.

    A width from the template would need a ``style`` attribute, which the Content-Security-Policy
    (web.security) forbids.
    """
    return int(round(star_percent(score) / 5) * 5)


@register.filter
def get_item(mapping, key):
    return mapping.get(key) if mapping else None


@register.filter
def card_stars(item: ScoredMovie) -> float:
    """A recommended movie's score on the card's five stars (:func:`web.recommender.presenters.card_stars`)."""
    return presenters.card_stars(item)


@register.filter
def score_label(item: ScoredMovie) -> str:
    """What a recommended movie's stars mean, in words (:func:`web.recommender.presenters.score_label`)."""
    return presenters.score_label(item)


@register.filter
def rating_bars(summary: RatingSummary) -> list[dict]:
    """A movie's rating histogram as the bars of its SVG chart (:func:`web.recommender.presenters.rating_bars`)."""
    return presenters.rating_bars(summary)
