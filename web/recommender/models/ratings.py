"""Ratings: a user's half stars for a movie, stored at once, and the refresh of their list queued after commit."""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

import numpy as np
from django.db import connection, models, transaction
from django.utils import timezone

from web.pgcopy import in_ids_sql, read_columns
from web.recommender.models.profiles import PROFILE_USER_ID_START
from web.recommender.models.versions import MOVIE, USER, bump
from web.recommender.refresh import RefreshTicket, request_refresh
from web.runs.retrain import request_check

if TYPE_CHECKING:
    from web.recommender.models.catalogue import Movie

RATING_VALUES = tuple(x / 2 for x in range(1, 11))
"""The ratings MovieLens allows: 0.5 to 5.0 in half stars."""


RATING_ORDER = {
    "recent": ["-timestamp", "movie_id"],
    "oldest": ["timestamp", "movie_id"],
    "highest": ["-rating", "-timestamp"],
    "lowest": ["rating", "-timestamp"],
    "title": ["movie__title", "movie_id"],
}
"""The ``sort`` choices of a rating history (the API's and the site's history page), the first the default."""


class RatingQuerySet(models.QuerySet):
    def columns(self, *, with_time: bool = False, user_ids: Collection[int] | None = None) -> list[np.ndarray]:
        """Every rating (of ``user_ids`` only, if given) as NumPy columns by binary COPY: user_id int32, movie_id int32,
        rating float32.

        ``with_time`` adds the timestamp (int64 microseconds since 2000-01-01, PostgreSQL's
        binary ``timestamptz``). The job's load, the worker's refresh of a batch of users
        (both through ``Event.objects.feedback``) and the offline evaluation read through here.
        """
        names, types = ["user_id", "movie_id", "rating::real"], ["integer", "integer", "real"]
        if with_time:
            names, types = [*names, "timestamp"], [*types, "timestamptz"]
        query = f"SELECT {', '.join(names)} FROM {self.model._meta.db_table}"
        if user_ids is not None:
            query += f" WHERE user_id {in_ids_sql(user_ids)}"
        with connection.cursor() as cursor:
            return read_columns(cursor.cursor, query, types)

    def public(self) -> RatingQuerySet:
        """The ratings that public figures count: the MovieLens data's, not a member's or a browsing service's user's.

        A figure that counts members' ratings gives a member's rating away: alone on a new movie it is the
        "average from 1 rating", and among others it is the difference between two readings
        (docs/decisions.md, "Site"). The (movie, rating) index carries the user id, so this stays index-only.
        """
        return self.filter(user_id__lt=PROFILE_USER_ID_START)

    def averages(self, movie_ids: list[int]) -> dict[int, tuple[float, int]]:
        """``{movie_id: (average rating, number of ratings)}`` of the public ratings (:meth:`public`) for the movies
        of a list page: one grouped query, answered by the (movie, rating) index."""
        if not movie_ids:
            return {}
        rows = (self.public().filter(movie_id__in=movie_ids).values("movie_id")
                .annotate(average=models.Avg("rating"), n=models.Count("*")).values_list("movie_id", "average", "n"))
        return {movie_id: (float(average), n) for movie_id, average, n in rows}

    def history(self, user_id: int, sort: str = "recent") -> RatingQuerySet:
        """The user's ratings with their movies, in the order ``sort`` names (a key of :data:`RATING_ORDER`)."""
        return self.filter(user_id=user_id).select_related("movie").order_by(*RATING_ORDER[sort])

    def rate(self, user_id: int, movie: Movie, value: float) -> Rating:
        """Store (or change) a rating now and queue the refresh of the user's recommendations after commit.

        ``rating.refresh`` is the :class:`~web.recommender.refresh.RefreshTicket`
        saying whether the refresh was queued (``None`` until the commit).
        """
        with transaction.atomic():
            rating, _ = self.update_or_create(
                user_id=user_id, movie=movie, defaults={"rating": value, "timestamp": timezone.now()}
            )
            bump(_changed(user_id, movie))
            rating.refresh = request_refresh(user_id)
            request_check()  # a new interaction: maybe time for the next run (RETRAIN_THRESHOLD)
        return rating

    def unrate(self, user_id: int, movie: Movie) -> RefreshTicket | None:
        """Remove a rating (a no-op if there is none) and queue the refresh; returns the ticket or None."""
        with transaction.atomic():
            deleted, _ = self.filter(user_id=user_id, movie=movie).delete()
            if not deleted:
                return None
            bump(_changed(user_id, movie))
            return request_refresh(user_id)

    def user_counts(self, start: int = 1, limit: int = 50) -> list[tuple[int, int]]:
        """``(user_id, number of ratings)`` of MovieLens users from ``start`` on, by id (an index range scan)."""
        return list(
            self.filter(user_id__gte=start, user_id__lt=PROFILE_USER_ID_START)
            .values("user_id")
            .annotate(n=models.Count("id"))
            .order_by("user_id")
            .values_list("user_id", "n")[:limit]
        )


def _changed(user_id: int, movie: Movie) -> list[tuple[str, int]]:
    """The counters a rating moves (the ETags it changes): the user's list, and the movie's summary only for a public
    rating, since a member's leaves the movie's answer as it was, and a new ETag would say that someone rated it."""
    return [(USER, user_id), *([(MOVIE, movie.movie_id)] if user_id < PROFILE_USER_ID_START else [])]


class Rating(models.Model):
    """One user's rating of one movie; a user rates a movie at most once."""

    user_id = models.IntegerField()
    # Indexed together with the rating below, which also serves the foreign key.
    movie = models.ForeignKey("recommender.Movie", on_delete=models.CASCADE, related_name="ratings", db_index=False)
    rating = models.FloatField()
    timestamp = models.DateTimeField(default=timezone.now)

    objects = RatingQuerySet.as_manager()

    class Meta:
        indexes = [
            # A movie page's rating distribution from the index alone: a much-rated movie's ratings lie on
            # nearly as many heap pages (figures in docs/decisions.md, "Data and schema"). The user id rides
            # along so that counting only the public ratings (RatingQuerySet.public) needs no heap page either.
            models.Index(fields=["movie", "rating"], include=["user_id"], name="rating_movie_rating_user"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["user_id", "movie"], name="rating_user_movie_unique"),
            models.CheckConstraint(condition=models.Q(rating__in=RATING_VALUES), name="rating_half_stars_0_5_to_5"),
            models.CheckConstraint(condition=models.Q(user_id__gt=0), name="rating_user_id_positive"),
        ]

    def __str__(self) -> str:
        return f"user {self.user_id} rated {self.movie_id}: {self.rating}"
