"""The star widget's endpoint: rate, change or remove a rating as the signed-in profile."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from web.recommender.forms import RatingForm
from web.recommender.models import Movie, Rating
from web.recommender.views.access import viewer_user_id
from web.security import limit_rating_writes


def wants_json(request: HttpRequest) -> bool:
    """The page's script asked (``Accept: application/json``): it updates the page itself instead of a redirect."""
    return "application/json" in request.headers.get("Accept", "")


def back_to_page(request: HttpRequest, film: Movie) -> str:
    target = request.POST.get("next", "")
    # Only a path of this site: redirect() would take "-1" or "abc" for a view name (a 500 on NoReverseMatch).
    if target.startswith("/") and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return reverse("movie", args=[film.movie_id])


@require_POST
@limit_rating_writes
def rate(request: HttpRequest, movie_id: int) -> HttpResponse:
    """Store (or remove) the rating at once; the worker refreshes the recommendations in the background."""
    film = get_object_or_404(Movie, movie_id=movie_id)
    user_id = viewer_user_id(request)
    if user_id is None:
        if wants_json(request):
            return JsonResponse({"error": "Sign in to rate movies.", "status": 401}, status=401)
        return redirect(f"{reverse('login')}?next={reverse('movie', args=[movie_id])}")
    form = RatingForm(request.POST)
    if not form.is_valid():
        error = "; ".join(e for errors in form.errors.values() for e in errors)
        if wants_json(request):
            return JsonResponse({"error": error, "status": 400, "fields": form.errors}, status=400)
        messages.error(request, error)
        return redirect(back_to_page(request, film))
    if form.cleaned_data["remove"]:
        ticket = Rating.objects.unrate(user_id, film)
        value, saved = None, f"Removed your rating of {film.title}."
    else:
        value = form.cleaned_data["rating"]
        ticket = Rating.objects.rate(user_id, film, value).refresh
        saved = f"Saved: you rated {film.title} {value:g} stars."
    note = ticket.message if ticket is not None else ""
    if wants_json(request):
        queued = None if ticket is None else ticket.queued is not False
        rated = Rating.objects.filter(user_id=user_id).count()  # the page's "N ratings" follows without a reload
        return JsonResponse({"movie_id": movie_id, "rating": value, "message": f"{saved} {note}".strip(), "queued": queued,
                             "rated_count": rated})
    messages.success(request, f"{saved} {note}".strip())
    return redirect(back_to_page(request, film))
