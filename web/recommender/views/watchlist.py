"""The watchlist and "not interested" (and its undo) on the site: the same events a browsing service sends, recorded
for the signed-in profile."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from web.recommender.models import SITE_EVENT_TYPES, Event, Movie
from web.recommender.views.access import marks_of, ratings_of, viewer_user_id
from web.recommender.views.rating import back_to_page, wants_json
from web.security import limit_rating_writes

SAID = {
    "watchlist_add": "Added {title} to your watchlist.",
    "watchlist_remove": "Removed {title} from your watchlist.",
    "not_interested": "{title} won't be recommended to you again.",
    "not_interested_remove": "{title} can be recommended to you again.",
}


@require_POST
@limit_rating_writes
def movie_event(request: HttpRequest, movie_id: int) -> HttpResponse:
    """Add to or remove from the watchlist, or mark "not interested" or take it back; back to the page the button was on."""
    film = get_object_or_404(Movie, movie_id=movie_id)
    user_id = viewer_user_id(request)
    if user_id is None:
        if wants_json(request):
            return JsonResponse({"error": "Sign in to keep a watchlist.", "status": 401}, status=401)
        return redirect(f"{reverse('login')}?next={reverse('movie', args=[movie_id])}")
    action = request.POST.get("action", "")
    if action not in SITE_EVENT_TYPES:
        refused = "That button did nothing: choose add to watchlist, remove, not interested, or show it again."
        if wants_json(request):
            return JsonResponse({"error": refused, "status": 400}, status=400)
        messages.error(request, refused)
        return redirect(back_to_page(request, film))
    Event.objects.record_own(user_id, movie_id, action)
    said = SAID[action].format(title=film.title)
    if wants_json(request):  # the page's script changes the button in place: no reload, the reader keeps their place
        return JsonResponse({"movie_id": movie_id, "action": action, "message": said})
    messages.success(request, said)
    return redirect(back_to_page(request, film))


EMPTY = 'Nothing yet: add movies with "Add to watchlist" on any movie.'
"""The watchlist page's words for an empty list (the page's script says them too when the last movie is removed)."""


@login_required
def my_watchlist(request: HttpRequest) -> HttpResponse:
    """The signed-in profile's watchlist, last added first."""
    me = viewer_user_id(request)
    entries = Event.objects.watchlist(me)
    movies = Movie.objects.in_bulk([movie_id for movie_id, _ in entries])
    listed = [movies[movie_id] for movie_id, _ in entries]
    context = {"movies": listed, "empty": EMPTY, "my_ratings": ratings_of(me, [m.movie_id for m in listed]), "can_rate": True,
               "my_dismissed": marks_of(me, [m.movie_id for m in listed])["my_dismissed"]}
    return render(request, "recommender/watchlist.html", context)
