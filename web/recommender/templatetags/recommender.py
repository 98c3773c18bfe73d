"""Template helpers of the site: the star widget, a card's score in words, the rating chart."""

from __future__ import annotations

from django import template

from web.recommender import presenters
from web.recommender.models import RATING_VALUES, RatingSummary, ScoredMovie

register = template.Library()


@register.simple_tag(takes_context=True)
def page_path(context) -> str:
    """Where a form on this page leads back to: the request's address without ``fragment``.

    The user page's poller fetches the list alone (``?fragment=1``) and swaps it in; a form of that list must bring
    the member back to the whole page, not to the bare list.
    """
    request = context["request"]
    query = request.GET.copy()
    query.pop("fragment", None)
    return f"{request.path}?{query.urlencode()}" if query else request.path


@register.simple_tag(takes_context=True)
def back_path(context) -> str:
    """Where a card's form leads back to: :func:`page_path` at the card (``#pick-3``, ``#movie-260``), so the plain
    form's reload opens where the reader was in a long list, not at its top."""
    anchor = context.get("card_anchor")
    return f"{page_path(context)}#{anchor}" if anchor else page_path(context)


@register.simple_tag(takes_context=True)
def card_anchor(context, movie, place: int | str = "") -> str:
    """A card's id (``{% card_anchor movie as card_anchor %}``): a recommendation's by its rank (``pick-3``), a rating
    history's by its ``place`` on the page (``place-3``), so that when the card leaves the list (rated, dismissed, its
    rating removed) the one that takes its place has its id; any other card's by its movie (``movie-260``)."""
    if context.get("recommended"):
        return f"pick-{context['rank']}"
    return f"place-{place}" if place else f"movie-{movie.movie_id}"


@register.inclusion_tag("recommender/_stars.html", takes_context=True)
def star_widget(context, movie, current=None):
    """The 0.5-5 star rating form for ``movie``, filled up to ``current`` (the viewer's rating, or None).

    Each half star: its value, its side, whether it is filled, and whether it is the rating itself (aria-pressed:
    what a screen reader says of the control, where the filling is only seen)."""
    return {
        "movie": movie,
        "current": current,
        "halves": [(value, "l" if i % 2 == 0 else "r", current is not None and value <= current, value == current)
                   for i, value in enumerate(RATING_VALUES)],
        "next": back_path(context),
        "csrf_token": context.get("csrf_token"),
    }


@register.filter
def get_item(mapping, key):
    return mapping.get(key) if mapping else None


@register.filter
def score_words(item: ScoredMovie) -> str:
    """What a recommended movie's score means, in words (:func:`web.recommender.presenters.score_words`)."""
    return presenters.score_words(item)


@register.filter
def average_words(score: float) -> str:
    """A popular movie's score as its average rating, in words (:func:`web.recommender.presenters.average_words`)."""
    return presenters.average_words(score)


@register.simple_tag
def average_label() -> str:
    """What a popular movie's score is, in detail (a tooltip)."""
    return presenters.AVERAGE_LABEL


@register.filter
def score_label(item: ScoredMovie) -> str:
    """A recommended movie's score in more detail, for a tooltip (:func:`web.recommender.presenters.score_label`)."""
    return presenters.score_label(item)


@register.filter
def rating_bars(summary: RatingSummary) -> list[dict]:
    """A movie's rating histogram as the bars of its SVG chart (:func:`web.recommender.presenters.rating_bars`)."""
    return presenters.rating_bars(summary)
