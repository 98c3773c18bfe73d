"""The browser pages: thin views that find the objects and hand them to a template."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Avg, Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from web.progress.models import Run
from web.recommender.forms import RatingForm
from web.recommender.models import Movie, PopularMovie, Rating, UserScore

PAGE_SIZE = 20


def home(request: HttpRequest) -> HttpResponse:
    """Pick a user, search the catalogue, and see what is popular."""
    query = request.GET.get("q", "").strip()
    found = Movie.objects.filter(title__icontains=query)[:PAGE_SIZE] if query else []
    run = Run.objects.active()
    popular = PopularMovie.objects.filter(run=run).select_related("movie").order_by("rank")[:PAGE_SIZE] if run else []
    return render(request, "recommender/home.html", {"query": query, "found": found, "popular": popular, "run": run})


def user_redirect(request: HttpRequest) -> HttpResponse:
    """The home page's user picker submits ``?user=<id>``."""
    try:
        user_id = int(request.GET.get("user", ""))
    except ValueError:
        messages.error(request, "A user id is a whole number, such as 1.")
        return redirect("home")
    return redirect("user", user_id=user_id)


def user(request: HttpRequest, user_id: int) -> HttpResponse:
    """A user's top recommendations from the active run, and what they rated last."""
    if not UserScore.objects.knows_user(user_id):
        raise Http404(f"No user with id {user_id}.")
    recommendations = UserScore.objects.recommend(user_id, PAGE_SIZE)
    recent = Rating.objects.filter(user_id=user_id).select_related("movie").order_by("-timestamp")[:10]
    return render(request, "recommender/user.html", {"user_id": user_id, "recs": recommendations, "recent": recent})


def movie(request: HttpRequest, movie_id: int) -> HttpResponse:
    """A movie with its average rating and a form to rate it as a user."""
    film = get_object_or_404(Movie, movie_id=movie_id)
    stats = film.ratings.aggregate(average=Avg("rating"), count=Count("id"))
    user_id = request.GET.get("user", "")
    current = film.ratings.filter(user_id=int(user_id)).values_list("rating", flat=True).first() if user_id.isdigit() else None
    form = RatingForm(initial={"user_id": user_id, "rating": str(current if current is not None else 4.0)})
    return render(request, "recommender/movie.html", {"movie": film, "stats": stats, "form": form})


@require_POST
def rate(request: HttpRequest, movie_id: int) -> HttpResponse:
    """Store the rating now; the worker refreshes the user's recommendations in the background."""
    film = get_object_or_404(Movie, movie_id=movie_id)
    form = RatingForm(request.POST)
    if not form.is_valid():
        stats = film.ratings.aggregate(average=Avg("rating"), count=Count("id"))
        return render(request, "recommender/movie.html", {"movie": film, "stats": stats, "form": form}, status=400)
    user_id = form.cleaned_data["user_id"]
    Rating.objects.rate(user_id, film, form.cleaned_data["rating"])
    messages.success(request, f"Saved: you rated {film.title} {form.cleaned_data['rating']:g} stars. Your recommendations are updating.")
    return redirect("user", user_id=user_id)
