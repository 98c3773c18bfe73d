"""Catalogue, ratings and the precomputed per-user scores (PCS).

The score table ``recommender_userscore`` is partitioned by run in PostgreSQL
(see migration 0002): the precompute job fills a run's partition with COPY
while readers keep reading the active run's partition, then publishes the
run by switching :class:`web.progress.models.ActiveRun` in one UPDATE.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models, transaction
from django.utils import timezone

from web.progress.models import Run

RATING_VALUES = tuple(x / 2 for x in range(1, 11))
"""The ratings MovieLens allows: 0.5 to 5.0 in half stars."""


class Movie(models.Model):
    """A MovieLens movie; the primary key is MovieLens' own movieId."""

    movie_id = models.IntegerField(primary_key=True)
    title = models.CharField(max_length=500)
    year = models.SmallIntegerField(null=True, blank=True, help_text="Parsed from the '(1995)' suffix of the title.")
    genres = ArrayField(models.CharField(max_length=40), default=list, blank=True)
    imdb_id = models.CharField(max_length=16, blank=True, help_text="IMDb number without the 'tt', as MovieLens gives it.")
    tmdb_id = models.IntegerField(null=True, blank=True)

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


class RatingQuerySet(models.QuerySet):
    def rate(self, user_id: int, movie: Movie, value: float) -> Rating:
        """Store (or change) a rating now and queue the refresh of the user's recommendations after commit."""
        from web.queue import enqueue_on_commit
        from web.recommender.tasks import refresh_user

        with transaction.atomic():
            rating, _ = self.update_or_create(
                user_id=user_id, movie=movie, defaults={"rating": value, "timestamp": timezone.now()}
            )
            enqueue_on_commit(refresh_user, user_id)
        return rating


class Rating(models.Model):
    """One user's rating of one movie; a user rates a movie at most once."""

    user_id = models.IntegerField()
    movie = models.ForeignKey(Movie, on_delete=models.CASCADE, related_name="ratings")
    rating = models.FloatField()
    timestamp = models.DateTimeField(default=timezone.now)

    objects = RatingQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user_id", "movie"], name="rating_user_movie_unique"),
            models.CheckConstraint(condition=models.Q(rating__in=RATING_VALUES), name="rating_half_stars_0_5_to_5"),
            models.CheckConstraint(condition=models.Q(user_id__gt=0), name="rating_user_id_positive"),
        ]

    def __str__(self) -> str:
        return f"user {self.user_id} rated {self.movie_id}: {self.rating}"


class Tag(models.Model):
    """A free-text tag a user put on a movie."""

    user_id = models.IntegerField()
    movie = models.ForeignKey(Movie, on_delete=models.CASCADE, related_name="tags")
    tag = models.TextField(help_text="MovieLens does not bound a tag's length.")
    timestamp = models.DateTimeField(default=timezone.now)


@dataclass
class Recommendations:
    """What the site and the API show a user: the list, where it came from, and which run made it."""

    user_id: int
    source: str  # "personal" (the user's PCS rows) or "popular" (cold-start fallback)
    run: Run | None
    items: list[ScoredMovie] = field(default_factory=list)


@dataclass
class ScoredMovie:
    movie: Movie
    score: float
    rank: int


class UserScoreQuerySet(models.QuerySet):
    def knows_user(self, user_id: int) -> bool:
        """A user exists for the site once they have rated something or the active run scored them."""
        if Rating.objects.filter(user_id=user_id).exists():
            return True
        run = Run.objects.active()
        return run is not None and self.filter(run=run, user_id=user_id).exists()

    def recommend(self, user_id: int, n: int) -> Recommendations:
        """The user's top ``n`` from the active run, minus what they rated since; else the popular list."""
        run = Run.objects.active()
        if run is None:
            return Recommendations(user_id=user_id, source="popular", run=None)
        rated = Rating.objects.filter(user_id=user_id).values("movie_id")
        personal = list(
            self.filter(run=run, user_id=user_id)
            .exclude(movie_id__in=rated)
            .select_related("movie")
            .order_by("rank")[:n]
        )
        if personal:
            items = [ScoredMovie(row.movie, row.score, i + 1) for i, row in enumerate(personal)]
            return Recommendations(user_id=user_id, source="personal", run=run, items=items)
        popular = (
            PopularMovie.objects.filter(run=run).exclude(movie_id__in=rated).select_related("movie").order_by("rank")[:n]
        )
        items = [ScoredMovie(row.movie, row.score, i + 1) for i, row in enumerate(popular)]
        return Recommendations(user_id=user_id, source="popular", run=run, items=items)


class UserScore(models.Model):
    """One row of the precomputed per-user scores: ``run``'s ``rank``-th movie for ``user_id``.

    The table is created by hand in migration 0002 as a PostgreSQL table
    partitioned by ``run_id``, one partition per run, so Django does not
    manage it. Its primary key (run, user, rank) is the serving index.
    """

    pk = models.CompositePrimaryKey("run_id", "user_id", "rank")
    run = models.ForeignKey(Run, on_delete=models.DO_NOTHING, db_constraint=False)
    user_id = models.IntegerField()
    movie = models.ForeignKey(Movie, on_delete=models.DO_NOTHING, db_constraint=False)
    score = models.FloatField()
    rank = models.SmallIntegerField()

    objects = UserScoreQuerySet.as_manager()

    class Meta:
        managed = False
        db_table = "recommender_userscore"


class SimilarMovie(models.Model):
    """A run's ``rank``-th most similar movie to ``movie`` (item-item neighbours, for "similar movies").

    Like :class:`UserScore`, a table partitioned by run (migration 0004) that
    the job fills with COPY and attaches before it publishes the run.
    """

    pk = models.CompositePrimaryKey("run_id", "movie_id", "rank")
    run = models.ForeignKey(Run, on_delete=models.DO_NOTHING, db_constraint=False)
    movie = models.ForeignKey(Movie, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    neighbour = models.ForeignKey(Movie, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    score = models.FloatField()
    rank = models.SmallIntegerField()

    class Meta:
        managed = False
        db_table = "recommender_similarmovie"


class PopularMovie(models.Model):
    """A run's cold-start list: the movies everyone is shown before the run knows them."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="popular_movies")
    movie = models.ForeignKey(Movie, on_delete=models.CASCADE)
    score = models.FloatField()
    rank = models.PositiveIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "rank"], name="popularmovie_run_rank_unique")]


class FittedModel(models.Model):
    """The pickled model a run fitted, so the worker can score one user against the active run."""

    run = models.OneToOneField(Run, on_delete=models.CASCADE, primary_key=True, related_name="fitted_model")
    algorithm = models.CharField(max_length=40)
    data = models.BinaryField()
    created_at = models.DateTimeField(default=timezone.now)

