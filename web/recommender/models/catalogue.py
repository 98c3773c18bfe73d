"""The catalogue: movies (title search, genres, the rating summary of a movie page) and their tags."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchQuery, SearchVectorField
from django.core.cache import cache
from django.db import connection, connections, models
from django.db.models import F, FilteredRelation, Func, Q, Value
from django.db.models.functions import Length
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone

from scoring.content import MovieContent
from web.recommender.models.ratings import RATING_VALUES
from web.recommender.models.versions import LOAD, bump
from web.runs.models import ActiveRun

GENRE_CACHE_SECONDS = 60
"""How long the list of genre names is cached per process."""


class MovieQuerySet(models.QuerySet):
    def search(self, text: str) -> MovieQuerySet:
        """Movies whose title has a word starting with each word of ``text`` ("star wa" finds Star Wars).

        Uses the GIN index on ``to_tsvector('simple', title)`` (migration 0005):
        a prefix full-text match, fast on 60k titles, no trigram extension needed.
        """
        words = [w for w in "".join(c if c.isalnum() else " " for c in text.lower()).split() if w]
        if not words:
            return self.none()
        query = " & ".join(f"{w}:*" for w in words)
        title_words = Func(Value("simple"), "title", function="to_tsvector", output_field=SearchVectorField())
        return self.alias(title_words=title_words).filter(
            title_words=SearchQuery(query, search_type="raw", config=Value("simple"))
        )

    def best_known_first(self) -> MovieQuerySet:
        """Ordered by the active run's popular list first, then shorter (more exact) titles, then id.

        A LEFT JOIN on the run's popular list (a few hundred rows), not a
        subquery per movie: "the" matches a third of the titles, and probing
        the list once per match was most of the search (figures in
        docs/decisions.md, "API").
        """
        popular = FilteredRelation("popularmovie", condition=Q(popularmovie__run_id=ActiveRun.current_run_id()))
        return self.annotate(active_popular=popular).order_by(
            F("active_popular__rank").asc(nulls_last=True), Length("title"), "movie_id"
        )

    def in_genre(self, genre: str | None) -> MovieQuerySet:
        return self.filter(genres__contains=[genre]) if genre else self

    def catalogue(self, search: str = "", genre: str | None = None, year: int | None = None,
                  sort: str | None = None) -> MovieQuerySet:
        """Movies matching a title search, genre and year, in the order ``sort`` names (:data:`CATALOGUE_SORTS`);
        without one, the best known first when searching, else by id (the API's order)."""
        movies = self.in_genre(genre)
        if year is not None:
            movies = movies.filter(year=year)
        if search.strip():
            movies = movies.search(search)
        if sort == "title":
            return movies.order_by("title", "movie_id")
        # MovieStats has a row per movie (an inner join loses none) and an index in each of these orders, so
        # the first page is read from the index, not sorted from every movie; counted at the last load or run.
        if sort == "popular":  # most rated first
            return movies.filter(stats__ratings__gte=0).order_by("-stats__ratings", "movie_id")
        if sort == "rated":  # highest average first, among movies with enough ratings for it to mean something
            return movies.filter(stats__ratings__gte=0).order_by(
                "-stats__trusted", F("stats__average").desc(nulls_last=True), "-stats__ratings", "movie_id")
        if sort == "newest":
            return movies.order_by(F("year").desc(nulls_last=True), "title", "movie_id")
        if search.strip():
            return movies.best_known_first()
        return movies

    def content(self) -> MovieContent:
        """Every movie's title, genres and year and every tag, as the content model reads them (two plain queries).

        Text does not travel by binary COPY here; at ml-25m's 62k movies and
        1M tags the two queries take a few seconds of the job's load stage.
        """
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT movie_id, coalesce(title, ''), coalesce(array_to_string(genres, '|'), ''), "
                           f"coalesce(year::real, 'NaN') FROM {Movie._meta.db_table} ORDER BY movie_id")
            movie_ids, titles, genres, years = _columns(cursor.fetchall(), (np.int32, object, object, np.float32))
            cursor.execute(f"SELECT user_id, movie_id, coalesce(tag, '') FROM {Tag._meta.db_table}")
            tag_user_ids, tag_movie_ids, tags = _columns(cursor.fetchall(), (np.int32, np.int32, object))
        return MovieContent(movie_ids=movie_ids, titles=titles, genres=genres, years=years,
                            tag_movie_ids=tag_movie_ids, tag_user_ids=tag_user_ids, tags=tags)

    def genre_names(self) -> list[str]:
        """Every genre in the catalogue, sorted; cached for a minute (a scan of the catalogue)."""

        def query() -> list[str]:
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT DISTINCT unnest(genres) AS g FROM {Movie._meta.db_table} ORDER BY g")
                return [g for (g,) in cursor.fetchall() if g and g != "(no genres listed)"]

        return cache.get_or_set(f"genre-names:{connection.settings_dict['NAME']}", query, GENRE_CACHE_SECONDS)


CATALOGUE_SORTS = {"popular": "most rated first", "rated": "highest rated first", "title": "by title", "newest": "newest first"}
"""The catalogue's orders, as the site offers them."""
TRUSTED_AVERAGE_RATINGS = 10
""""Highest rated" puts movies with at least this many ratings first (``MovieStats.trusted``, computed by the
view of migration 0010): a single 5-star rating is not a top film."""


class Movie(models.Model):
    """A MovieLens movie; the primary key is MovieLens' own movieId."""

    movie_id = models.IntegerField(primary_key=True)
    title = models.CharField(max_length=500)
    year = models.SmallIntegerField(null=True, blank=True, help_text="Parsed from the '(1995)' suffix of the title.")
    genres = ArrayField(models.CharField(max_length=40), default=list, blank=True)
    imdb_id = models.CharField(max_length=16, blank=True, help_text="IMDb number without the 'tt', as MovieLens gives it.")
    tmdb_id = models.IntegerField(null=True, blank=True)

    objects = MovieQuerySet.as_manager()

    class Meta:
        ordering = ["movie_id"]
        indexes = [GinIndex(fields=["genres"], name="movie_genres_gin")]

    def __str__(self) -> str:
        return self.title

    @property
    def imdb_url(self) -> str:
        return f"https://www.imdb.com/title/tt{self.imdb_id}/" if self.imdb_id else ""

    @property
    def tmdb_url(self) -> str:
        return f"https://www.themoviedb.org/movie/{self.tmdb_id}" if self.tmdb_id else ""

    def rating_summary(self) -> RatingSummary:
        """Average, count and the number of ratings at each half star of the public ratings (the MovieLens data's:
        ``RatingQuerySet.public``), in one grouped query.

        ``COUNT(*)``, not of a column: the index on (movie, rating) then answers it alone.
        """
        counts = dict(self.ratings.public().values_list("rating").annotate(n=models.Count("*")).values_list("rating", "n"))
        histogram = [counts.get(value, 0) for value in RATING_VALUES]
        total = sum(histogram)
        average = sum(v * c for v, c in zip(RATING_VALUES, histogram, strict=True)) / total if total else None
        return RatingSummary(average=average, count=total, histogram=histogram)

    def top_tags(self, n: int = 20) -> list[tuple[str, int]]:
        """The movie's most used tags (case-folded) with how many times users gave them."""
        rows = (
            self.tags.annotate(text=models.functions.Lower("tag"))
            .values("text")
            .annotate(n=models.Count("id"))
            .order_by("-n", "text")
            .values_list("text", "n")[:n]
        )
        return list(rows)


@receiver([post_save, post_delete], sender=Movie, dispatch_uid="movie_changed_moves_the_load_counter")
def movie_changed(sender: type[Movie], instance: Movie, using: str, **kwargs: object) -> None:
    """A movie saved or deleted one at a time (the admin, a shell): move the counter that every ETag of the API names.

    The catalogue's and a movie's ETags change only with that counter, the
    active run and the movie's ratings (web/recommender/caching.py): without
    this, an added movie, a corrected title or a deleted movie (its ratings
    with it) would stay out of the answers kept by ETag, and clients would
    get 304s for the old ones, until the next load or publish. A load writes
    movies in bulk and moves the counter itself.
    """
    bump([(LOAD, 0)], using=using)


@dataclass
class RatingSummary:
    average: float | None
    count: int
    histogram: list[int]
    """Number of ratings at 0.5, 1.0, ... 5.0 (the order of :data:`RATING_VALUES`)."""


class Tag(models.Model):
    """A free-text tag a user put on a movie."""

    user_id = models.IntegerField()
    movie = models.ForeignKey(Movie, on_delete=models.CASCADE, related_name="tags")
    tag = models.TextField(help_text="MovieLens does not bound a tag's length.")
    timestamp = models.DateTimeField(default=timezone.now)


class MovieStats(models.Model):
    """How many public ratings a movie has (the MovieLens data's, as ``RatingQuerySet.public``) and their average,
    for the catalogue's sorts (migration 0016: a member's rating would place the movie, and its place say the rating).

    A materialized view over the ratings (migration 0010), refreshed by a load and by each precompute
    run (:meth:`refresh`), so that sorting 60k movies per page never groups the ratings; a rating made
    on the site counts from the next run. Every movie has a row (0 ratings and no average if unrated).
    """

    movie = models.OneToOneField(Movie, primary_key=True, on_delete=models.DO_NOTHING, db_constraint=False,
                                 related_name="stats")
    ratings = models.IntegerField()
    average = models.FloatField(null=True)
    trusted = models.BooleanField(help_text="At least TRUSTED_AVERAGE_RATINGS ratings.")

    class Meta:
        managed = False
        db_table = "recommender_moviestats"

    @classmethod
    def refresh(cls, using: str = "default") -> None:
        """Count again; CONCURRENTLY, so the catalogue keeps reading the old counts meanwhile."""
        with connections[using].cursor() as cursor:
            cursor.execute(f"REFRESH MATERIALIZED VIEW CONCURRENTLY {cls._meta.db_table}")


def _columns(rows: list[tuple], dtypes: tuple) -> list[np.ndarray]:
    """The columns of ``rows`` as arrays of ``dtypes`` (empty arrays for no rows)."""
    columns = list(zip(*rows, strict=True)) or [()] * len(dtypes)
    return [np.array(column, dtype=dtype) for column, dtype in zip(columns, dtypes, strict=True)]
