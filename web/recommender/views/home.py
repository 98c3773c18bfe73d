from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from web.recommender.models import Movie, PopularMovie
from web.recommender.views.access import marks_of, ratings_of, viewer_user_id
from web.runs.models import Run

HOME_POPULAR = 12


def home(request: HttpRequest) -> HttpResponse:
    """Pick or create a profile, search the catalogue, and see what is popular."""
    run = Run.objects.active()
    popular = list(PopularMovie.objects.of_run(run)[:HOME_POPULAR])
    me = viewer_user_id(request)
    context = {
        "run": run,
        "popular": popular,
        "genres": Movie.objects.genre_names(),
        "my_ratings": ratings_of(me, [row.movie_id for row in popular]),
        **marks_of(me, [row.movie_id for row in popular]),
        "can_rate": me is not None,
    }
    return render(request, "recommender/home.html", context)
