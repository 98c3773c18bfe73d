"""Catalogue search and the movie page."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from web.recommender import presenters
from web.recommender.models import CATALOGUE_SORTS, Movie, Rating, ScoredMovie, SimilarMovie, UserScore, is_profile_id
from web.recommender.views.access import marks_of, ratings_of, viewer_user_id, voice_for
from web.recommender.views.users import MAX_USER_ID

SEARCH_PAGE = 20
SIMILAR_SHOWN = 10


def movies(request: HttpRequest) -> HttpResponse:
    """Search titles (word prefixes, indexed) and filter by genre and year."""
    query = request.GET.get("q", "").strip()[:200]
    genres = Movie.objects.genre_names()
    genre = request.GET.get("genre") if request.GET.get("genre") in genres else None
    year_text = request.GET.get("year", "").strip()
    year = int(year_text) if year_text.isdigit() and 1800 <= int(year_text) <= 2100 else None
    sort = request.GET.get("sort") if request.GET.get("sort") in CATALOGUE_SORTS else "popular"
    found = Movie.objects.catalogue(search=query, genre=genre, year=year, sort=sort)
    page = Paginator(found, SEARCH_PAGE).get_page(request.GET.get("page"))
    me = viewer_user_id(request)
    averages = Rating.objects.averages([m.movie_id for m in page])
    context = {
        "query": query, "genre": genre or "", "genres": genres, "year": year or "", "bad_year": bool(year_text) and year is None,
        "year_typed": year_text[:20],  # the box keeps a bad year for the member to correct
        "page": page, "searched": bool(query or genre or year), "sort": sort, "sorts": CATALOGUE_SORTS,
        "rated": {movie_id: presenters.rated_words(*summary) for movie_id, summary in averages.items()},
        "my_ratings": ratings_of(me, [m.movie_id for m in page]), "can_rate": me is not None,
        **marks_of(me, [m.movie_id for m in page]),
    }
    return render(request, "recommender/movies.html", context)


def _match_for(request: HttpRequest, film: Movie, me: int | None) -> tuple[int | None, ScoredMovie | None]:
    """Whose match the page shows and the match: ``?user=<id>`` of a MovieLens user (public, as their
    recommendations are), else the signed-in member's; (None, None) for anyone else or a bad id."""
    asked = request.GET.get("user", "")
    if asked.isdigit() and 0 < int(asked) <= MAX_USER_ID and not is_profile_id(int(asked)) and int(asked) != me:
        return int(asked), UserScore.objects.match(int(asked), film, voice_for(me, int(asked)))
    return (me, UserScore.objects.match(me, film)) if me is not None else (None, None)


def movie(request: HttpRequest, movie_id: int) -> HttpResponse:
    """A movie: average, count and distribution of its ratings, tags, links, similar movies, your rating and match."""
    film = get_object_or_404(Movie, movie_id=movie_id)
    me = viewer_user_id(request)
    match_user, match = _match_for(request, film, me)
    similar = SimilarMovie.objects.of(movie_id, SIMILAR_SHOWN)
    context = {
        "movie": film,
        "summary": film.rating_summary(),
        "tags": film.top_tags(),
        "similar": similar,
        "my_ratings": ratings_of(me, [movie_id, *[row.neighbour_id for row in similar]]),
        "can_rate": me is not None,
        **marks_of(me, [movie_id, *[row.neighbour_id for row in similar]]),
        "match": match, "match_is_mine": match_user == me,
        "match_user": match_user,
    }
    return render(request, "recommender/movie.html", context)
