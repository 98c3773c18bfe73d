"""Who is looking: the signed-in account's profile, and whose pages it may see or rate for."""

from __future__ import annotations

from django.http import Http404, HttpRequest

from web.recommender.api.permissions import may_read
from web.recommender.reasons import YOU, Voice
from web.recommender.models import Event, Profile, Rating, UserScore, is_profile_id


def viewer_user_id(request: HttpRequest) -> int | None:
    """The ratings user id of the signed-in account (its profile, created on first use), or None."""
    if not request.user.is_authenticated:
        return None
    return Profile.objects.for_account(request.user).user_id


def visible_user(request: HttpRequest, user_id: int) -> int:
    """``user_id`` if the page may be shown: MovieLens users to anyone, a profile only to its account (or a
    holder of ``recommender.read_private_profiles``)."""
    if is_profile_id(user_id):
        if not may_read(request.user, user_id):
            raise Http404("This profile is private.")
        return user_id
    if not UserScore.objects.knows_user(user_id):
        raise Http404(f"No user with id {user_id}.")
    return user_id


def ratings_of(user_id: int | None, movie_ids: list[int]) -> dict[int, float]:
    """``{movie_id: rating}`` of ``user_id`` for the movies on a page: one query."""
    if user_id is None or not movie_ids:
        return {}
    return dict(Rating.objects.filter(user_id=user_id, movie_id__in=movie_ids).values_list("movie_id", "rating"))


def marks_of(user_id: int | None, movie_ids: list[int]) -> dict[str, set[int]]:
    """The page context of the cards' buttons: ``my_watchlist``, the movies on ``user_id``'s watchlist (their cards
    offer removal), and ``my_dismissed``, those they said they are not interested in (their cards offer to show them
    again). One query."""
    if user_id is None or not movie_ids:
        return {"my_watchlist": set(), "my_dismissed": set()}
    watchlisted, dismissed = Event.objects.marks(user_id, movie_ids)
    return {"my_watchlist": watchlisted, "my_dismissed": dismissed}


def voice_for(viewer: int | None, user_id: int) -> Voice:
    """How a page speaks of ``user_id``'s list to ``viewer``: "you" to the user themself, else by the name the page
    gives them ("User 1"; "Profile N" to an account allowed to read private profiles)."""
    if viewer == user_id:
        return YOU
    return Voice.of_user(f"{'Profile' if is_profile_id(user_id) else 'User'} {user_id}")
