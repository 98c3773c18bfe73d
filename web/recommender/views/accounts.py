"""Sign-up with an own profile, the onboarding page, and "my recommendations"."""

from __future__ import annotations

from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from web.progress.models import Run
from web.recommender.forms import SignUpForm
from web.recommender.models import PopularMovie, Profile, Rating
from web.recommender.views.access import ratings_of, viewer_user_id

ONBOARDING_GENRES = [
    "Drama", "Comedy", "Action", "Sci-Fi", "Animation", "Romance", "Thriller", "Crime", "Adventure", "Horror",
    "Fantasy", "Documentary",
]
"""One well-known movie of each, so a first handful of ratings says something about taste."""
ONBOARDING_POOL = 300
"""How far down the popular list onboarding looks."""


def signup(request: HttpRequest) -> HttpResponse:
    """Create an account and its profile (a user id from the profile sequence), sign in, go to onboarding."""
    if request.user.is_authenticated:
        return redirect("me")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            account = form.save()
            Profile.objects.for_account(account)
        login(request, account)
        return redirect("onboarding")
    return render(request, "registration/signup.html", {"form": form})


def onboarding_movies(run: Run | None) -> list:
    """Well-known, diverse movies: the most popular of each onboarding genre in the active run's popular list."""
    if run is None:
        return []
    pool = [row.movie for row in PopularMovie.objects.filter(run=run).select_related("movie").order_by("rank")[:ONBOARDING_POOL]]
    chosen: list = []
    for genre in ONBOARDING_GENRES:
        pick = next((m for m in pool if genre in m.genres and m not in chosen), None)
        if pick is not None:
            chosen.append(pick)
    return chosen


@login_required
def onboarding(request: HttpRequest) -> HttpResponse:
    """Ask a new profile to rate a handful of well-known movies before its first recommendations."""
    me = viewer_user_id(request)
    films = onboarding_movies(Run.objects.active())
    context = {
        "movies": films,
        "my_ratings": ratings_of(me, [m.movie_id for m in films]),
        "rated_count": Rating.objects.filter(user_id=me).count(),
        "user_id": me,
        "can_rate": True,
    }
    return render(request, "recommender/onboarding.html", context)


@login_required
def me(request: HttpRequest) -> HttpResponse:
    """The signed-in profile's recommendations."""
    return redirect("user", user_id=viewer_user_id(request))


@login_required
def my_ratings(request: HttpRequest) -> HttpResponse:
    """The signed-in profile's rating history."""
    return redirect("user-ratings", user_id=viewer_user_id(request))
