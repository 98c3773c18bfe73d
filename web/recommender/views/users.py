"""Pick a MovieLens user; a user's recommendations and rating history."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseNotModified, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from web.recommender import caching
from web.recommender.models import RATING_ORDER, Movie, Rating, UserScore, is_profile_id
from web.recommender.refresh import is_updating
from web.recommender.views.access import marks_of, viewer_user_id, visible_user, voice_for
from web.runs.spec import DEFAULT_TOP_N

PAGE_SIZE = 20
PICKER_PAGE = 50
MAX_PAGES = -(-DEFAULT_TOP_N // PAGE_SIZE)
"""A run keeps a user's top ``DEFAULT_TOP_N`` by default: that many pages of ``PAGE_SIZE`` (rounded up)."""
MAX_USER_ID = 2**31 - 1
"""User ids are PostgreSQL integers."""


def _int(value: str | None, default: int, low: int = 1) -> int:
    try:
        return max(low, int(value)) if value not in (None, "") else default
    except ValueError:
        return default


def user_picker(request: HttpRequest) -> HttpResponse:
    """MovieLens users by id with how many ratings each has; ``?user=<id>`` opens one, ``?from=<id>`` pages on."""
    if "user" in request.GET:
        user_id = _int(request.GET["user"], default=0, low=0)
        if not 1 <= user_id <= MAX_USER_ID:  # "-1" was a 500: the user URL takes digits only
            messages.error(request, "A user id is a whole number from 1, such as 1.")
            return redirect("user-picker")
        return redirect("user", user_id=user_id)
    start = _int(request.GET.get("from"), 1)
    users = Rating.objects.user_counts(start, PICKER_PAGE + 1)
    context = {
        "users": users[:PICKER_PAGE],
        "start": start,
        "next_from": users[PICKER_PAGE][0] if len(users) > PICKER_PAGE else None,
    }
    return render(request, "recommender/user_picker.html", context)


def to_own(request: HttpRequest, name: str) -> HttpResponse:
    """A member's own page under ``/me/``, keeping the query (``/me/?page=2&genre=Sci-Fi``): a member's address
    bar never shows their profile id."""
    url = reverse(name)
    query = request.GET.urlencode()
    return redirect(f"{url}?{query}" if query else url)


def user(request: HttpRequest, user_id: int) -> HttpResponse:
    """A user's recommendations; one's own are at ``/me/``."""
    if user_id == viewer_user_id(request):
        return to_own(request, "me")
    return recommendations_page(request, user_id)


def recommendations_page(request: HttpRequest, user_id: int) -> HttpResponse:
    """A user's recommendations with reasons, paged and filtered by genre; ``?fragment=1`` renders just the list.

    The fragment is what the page's poller fetches once the refresh is done, with the ETag that the
    page put on the list (``data-etag``): 304 when the list has not changed (web/recommender/caching.py).
    """
    if is_profile_id(user_id):
        visible_user(request, user_id)  # a private profile: refused before any work
    page = min(_int(request.GET.get("page"), 1), MAX_PAGES)
    genres = Movie.objects.genre_names()
    genre = request.GET.get("genre") or None
    if genre not in genres:
        genre = None
    list_etag = caching.site_list_etag(request, user_id, page, genre)
    fragment = bool(request.GET.get("fragment"))
    if fragment and caching.matches(request, list_etag, exists=False):  # the poller already shows this list
        return caching.label(HttpResponseNotModified(), list_etag, caching.SITE_PRIVATE)
    me = viewer_user_id(request)
    recs = UserScore.objects.recommend(user_id, PAGE_SIZE, genre=genre, offset=(page - 1) * PAGE_SIZE,
                                       voice=voice_for(me, user_id))
    rated_count = Rating.objects.filter(user_id=user_id).count()
    if not is_profile_id(user_id) and recs.source != "personal" and not rated_count:
        # A personal list or a rating proves a MovieLens user exists (one query fewer per page); else ask, 404 if unknown.
        visible_user(request, user_id)
    if fragment and caching.names_any(request):  # "*": a 304 now that the list is known to exist
        return caching.label(HttpResponseNotModified(), list_etag, caching.SITE_PRIVATE)
    context = {
        "user_id": user_id,
        "recs": recs,
        "page": page,
        "genre": genre or "",
        "genres": genres,
        "has_next": recs.has_more and page < MAX_PAGES,
        "own": me == user_id,
        "can_rate": me == user_id,
        **marks_of(user_id if me == user_id else None, [item.movie.movie_id for item in recs.items]),
        "is_profile": is_profile_id(user_id),
        "updating": is_updating(user_id),
        "rated_count": rated_count,
        "status_url": reverse("my-status") if me == user_id else reverse("refresh-status", args=[user_id]),
        "list_etag": list_etag,
        "as_user": user_id if me != user_id and not is_profile_id(user_id) else None,  # movie pages say this user's match
    }
    if fragment:
        return caching.label(render(request, "recommender/_recommendations.html", context), list_etag, caching.SITE_PRIVATE)
    return render(request, "recommender/user.html", context)


def refresh_status(request: HttpRequest, user_id: int) -> JsonResponse:
    """``{"updating": true|false|null}`` for the page's poller (null: the queue cannot be asked)."""
    visible_user(request, user_id)
    return status_of(user_id)


def status_of(user_id: int) -> JsonResponse:
    return JsonResponse({"updating": is_updating(user_id)})


SORTS = {"recent": "newest first", "oldest": "oldest first", "highest": "highest first", "lowest": "lowest first", "title": "by title"}


def user_ratings(request: HttpRequest, user_id: int) -> HttpResponse:
    """A user's rating history; one's own is at ``/me/ratings/``."""
    if user_id == viewer_user_id(request):
        return to_own(request, "my-ratings")
    return ratings_page(request, user_id)


def ratings_page(request: HttpRequest, user_id: int) -> HttpResponse:
    """The user's rating history, sortable, 50 a page."""
    visible_user(request, user_id)
    sort = request.GET.get("sort") if request.GET.get("sort") in RATING_ORDER else "recent"
    ratings = Rating.objects.history(user_id, sort)
    page = Paginator(ratings, 50).get_page(request.GET.get("page"))
    me = viewer_user_id(request)
    context = {"user_id": user_id, "page": page, "sort": sort, "sorts": SORTS, "can_rate": me == user_id}
    return render(request, "recommender/ratings.html", context)
