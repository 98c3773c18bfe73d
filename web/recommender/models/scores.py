"""Reading the precomputed per-user scores (PCS): a user's list from the active run, similar movies, the popular list.

The score table ``recommender_userscore`` is partitioned by run in PostgreSQL
(see migration 0002): the precompute job fills a run's partition with COPY
while readers keep reading the active run's partition, then publishes the
run by switching :class:`web.runs.models.ActiveRun` in one UPDATE. The
tables' schema and their one writer are :mod:`web.runs.scores`; the models
here read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import connection, models
from django.utils import timezone

from scoring.registry import ALGORITHMS
from web.recommender import reasons
from web.recommender.models.catalogue import Movie
from web.recommender.models.events import Event, ServiceUser, hiding_event_sql
from web.recommender.models.profiles import PROFILE_USER_ID_START, Profile
from web.recommender.models.ratings import Rating
from web.runs.models import ActiveRun, Run
from web.runs.scores import SCORE_TABLE, SIMILAR_TABLE


@dataclass
class ScoredMovie:
    """One recommended movie as read: how it is shown is :mod:`web.recommender.presenters`'s."""

    movie: Movie
    score: float
    rank: int
    reason: str = ""
    scale: str = "stars"
    """The scorer's ``score_scale``: ``stars`` (a predicted rating) or ``match`` (a strength with no fixed top);
    ``average`` for a popular pick (the movie's damped average rating)."""
    best: float | None = None
    """For a match: the score of the user's first stored item, the strongest match the run found for them."""
    by_metadata: bool = False
    """A pick that the run's collaborative part does not model, found by its metadata alone: its score places it (the
    hybrid's exploration sets it under the user's eighteenth) and is no match strength to show."""
    voice: reasons.Voice = reasons.YOU
    """Whom the reason and the score's words speak of: "you", or another user by name to someone else reading."""


CONTENT_ALGORITHMS = sorted(name for name, scorer in ALGORITHMS.items() if getattr(scorer, "uses_content", False))
"""Algorithms that score movies from their metadata too: their picks without a named movie get a taste reason."""


def score_scale(algorithm: str) -> str:
    """The ``score_scale`` of a registered algorithm (``stars`` for a name no longer registered)."""
    scorer = ALGORITHMS.get(algorithm)
    return scorer.score_scale if scorer is not None else "stars"


@dataclass
class Recommendations:
    """What the site and the API show a user: the list, where it came from, and which run made it."""

    user_id: int
    source: str  # "personal" (the user's PCS rows) or "popular" (cold-start fallback)
    run: Run | None
    items: list[ScoredMovie] = field(default_factory=list)
    has_more: bool = False
    """Whether rows follow the last item (for paging)."""
    has_personal: bool = False
    """For a popular list: whether the run has a personal list for the user all the same (which the genre
    filter, or the user's ratings since, emptied)."""


class UserScoreQuerySet(models.QuerySet):
    def knows_user(self, user_id: int) -> bool:
        """A user exists once they have rated something, have a profile or were created by a service, or the active run scored them."""
        if (Rating.objects.filter(user_id=user_id).exists() or Profile.objects.filter(user_id=user_id).exists()
                or ServiceUser.objects.filter(user_id=user_id).exists()):
            return True
        run = Run.objects.active()
        return run is not None and self.filter(run=run, user_id=user_id).exists()

    def recommend(self, user_id: int, n: int, genre: str | None = None, offset: int = 0,
                  voice: reasons.Voice = reasons.YOU) -> Recommendations:
        """The user's top ``n`` (after ``offset``) from the active run, minus what they rated, watched or dismissed since; else the popular list.

        ``genre`` keeps only movies of that genre. Each item carries a reason, in ``voice``.
        A user the run scored costs one query (:meth:`_personal`); the popular
        fallback a few more.
        """
        run, rows = self._personal(user_id, n + 1, genre, offset)
        if rows:
            scale = score_scale(run.algorithm)
            items = [
                ScoredMovie(movie, score, offset + i + 1, why.words(run.algorithm, voice), scale, best,
                            by_metadata=why.new_to_try(run.algorithm), voice=voice)
                for i, (movie, score, why, best) in enumerate(rows[:n])
            ]
            return Recommendations(user_id=user_id, source="personal", run=run, items=items, has_more=len(rows) > n)
        run = Run.objects.active()
        if run is None:
            return Recommendations(user_id=user_id, source="popular", run=None)
        rated = Rating.objects.filter(user_id=user_id).values("movie_id")
        dismissed = Event.objects.hidden_movie_ids(user_id)
        in_genre = {"movie__genres__contains": [genre]} if genre else {}
        unrated_rows = self.filter(run=run, user_id=user_id).exclude(movie_id__in=rated).exclude(movie_id__in=dismissed)
        if offset and unrated_rows.filter(**in_genre).exists():
            return Recommendations(user_id=user_id, source="personal", run=run)  # paged past the end of the list
        has_personal = unrated_rows.exists()
        popular = list(
            PopularMovie.objects.of_run(run).exclude(movie_id__in=rated).exclude(movie_id__in=dismissed)
            .filter(**in_genre)[offset : offset + n + 1]
        )
        items = [ScoredMovie(row.movie, row.score, offset + i + 1, reasons.POPULAR, "average", voice=voice)
                 for i, row in enumerate(popular[:n])]
        return Recommendations(user_id=user_id, source="popular", run=run, items=items, has_more=len(popular) > n,
                               has_personal=has_personal)

    def match(self, user_id: int, movie: Movie, voice: reasons.Voice = reasons.YOU) -> ScoredMovie | None:
        """``movie``'s precomputed score for the user in the active run, as a card shows it (a movie page's "your
        match"); None when the run kept no score for it (not in the user's top N, or no run). Two indexed reads, and
        for a content-reading run a third: whether its collaborative part models the movie (as the list's query)."""
        run = Run.objects.active()
        if run is None:
            return None
        row = self.filter(run=run, user_id=user_id, movie_id=movie.movie_id).values_list("score", "rank").first()
        if row is None:
            return None
        best = self.filter(run=run, user_id=user_id, rank=1).values_list("score", flat=True).first()
        by_metadata = (run.algorithm in CONTENT_ALGORITHMS and run.algorithm not in reasons.BY_METADATA_ALONE
                       and not SimilarMovie.objects.filter(run=run, movie_id=movie.movie_id).exists())
        return ScoredMovie(movie, row[0], row[1], scale=score_scale(run.algorithm), best=best, by_metadata=by_metadata,
                           voice=voice)

    @staticmethod
    def _personal(user_id: int, limit: int, genre: str | None, offset: int) -> tuple[Run | None, list]:
        """The active run's rows for the user, minus rated, watched and not-interested (not taken back) movies, with movies
        and reasons: one query.

        The reason of a row (:mod:`web.recommender.reasons` says the rules) is
        the strongest of the row's movie's similar movies in the run that the
        user liked and that shares a genre with it; else, for a content-reading
        run's movie with no similar movies, its genre the user most often rates
        4 stars or more.

        The page (``LIMIT``/``OFFSET`` after the rated-since and genre filters)
        is cut first, in ``page``, and only its rows look for a reason: looking
        for reasons before the cut made PostgreSQL do it for all of the user's
        stored rows (figures in docs/decisions.md, "API").
        """
        genre_filter = "AND m.genres @> ARRAY[%s]::varchar(40)[]" if genre else ""
        # Every column of the movie, so a field added to Movie is read (and built below) without touching this query.
        movie_fields = [(f.attname, f.column) for f in Movie._meta.concrete_fields]
        page_columns = ", ".join(f"m.{column}" for _, column in movie_fields)
        row_columns = ", ".join(f"p.{column}" for _, column in movie_fields)
        sql = f"""
            WITH page AS (
                SELECT s.run_id, s.user_id, s.rank, s.score, {page_columns}
                FROM {UserScore._meta.db_table} s
                JOIN {Movie._meta.db_table} m ON m.movie_id = s.movie_id
                WHERE s.run_id = (SELECT active.run_id FROM {ActiveRun._meta.db_table} active WHERE active.id = %s)
                  AND s.user_id = %s
                  AND NOT EXISTS (SELECT 1 FROM {Rating._meta.db_table} rr
                                  WHERE rr.user_id = s.user_id AND rr.movie_id = s.movie_id)
                  AND NOT EXISTS (SELECT 1 FROM {Event._meta.db_table} ev
                                  WHERE ev.user_id = s.user_id AND ev.movie_id = s.movie_id
                                    AND {hiding_event_sql("ev")})
                  {genre_filter}
                ORDER BY s.rank
                LIMIT %s OFFSET %s
            )
            SELECT run.id, run.algorithm, p.score, wm.title, why.rating, pick.unrated, taste.genre,
                   -- Not correlated with the row, so PostgreSQL evaluates it once for the page.
                   (SELECT b.score FROM {UserScore._meta.db_table} b
                    WHERE b.run_id = (SELECT active.run_id FROM {ActiveRun._meta.db_table} active WHERE active.id = %s)
                      AND b.user_id = %s AND b.rank = 1) AS best,
                   {row_columns}
            FROM page p
            JOIN {Run._meta.db_table} run ON run.id = p.run_id
            LEFT JOIN LATERAL (
                -- The strongest of the movie's predictors in the run (its similar movies, by rank) that the user
                -- liked and that shares a genre with it: a movie that drives the score and resembles the pick.
                SELECT sm.neighbour_id, r.rating
                FROM {SimilarMovie._meta.db_table} sm
                JOIN {Rating._meta.db_table} r ON r.user_id = p.user_id AND r.movie_id = sm.neighbour_id
                JOIN {Movie._meta.db_table} nm ON nm.movie_id = sm.neighbour_id
                WHERE sm.run_id = p.run_id AND sm.movie_id = p.movie_id AND r.rating >= %s
                  AND nm.genres && p.genres
                ORDER BY sm.rank
                LIMIT 1
            ) why ON true
            LEFT JOIN {Movie._meta.db_table} wm ON wm.movie_id = why.neighbour_id
            LEFT JOIN LATERAL (
                -- A content-reading run's pick that its collaborative part does not model (no similar movies in
                -- the run): a movie the model is unsure of, labelled as something new; has anyone in the public data
                -- rated it yet? (Counting members' ratings, "little known" would tell that a member rated it.)
                SELECT NOT EXISTS (SELECT 1 FROM {Rating._meta.db_table} ar
                                   WHERE ar.movie_id = p.movie_id AND ar.user_id < {PROFILE_USER_ID_START}) AS unrated
                WHERE run.algorithm = ANY(%s) AND why.neighbour_id IS NULL
                  AND NOT EXISTS (SELECT 1 FROM {SimilarMovie._meta.db_table} cs
                                  WHERE cs.run_id = p.run_id AND cs.movie_id = p.movie_id)
            ) pick ON true
            LEFT JOIN LATERAL (
                -- Its genre the user most often rates 4 stars or more.
                SELECT g.genre
                FROM unnest(p.genres) AS g(genre)
                JOIN {Rating._meta.db_table} tr ON tr.user_id = p.user_id AND tr.rating >= 4
                JOIN {Movie._meta.db_table} tm ON tm.movie_id = tr.movie_id AND g.genre = ANY(tm.genres)
                WHERE pick.unrated IS NOT NULL
                GROUP BY g.genre
                ORDER BY count(*) DESC, g.genre
                LIMIT 1
            ) taste ON true
            ORDER BY p.rank"""
        params = [ActiveRun.SINGLETON_ID, user_id, *([genre] if genre else []), limit, offset,
                  ActiveRun.SINGLETON_ID, user_id, reasons.LIKED_FROM, CONTENT_ALGORITHMS]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            fetched = cursor.fetchall()
        if not fetched:
            return None, []
        run = Run(id=fetched[0][0], algorithm=fetched[0][1])
        names = [attname for attname, _ in movie_fields]
        rows = [
            (Movie(**dict(zip(names, movie, strict=True))), score,
             reasons.Why(why_title, why_rating, unrated is not None, bool(unrated), taste_genre), best)
            for _, _, score, why_title, why_rating, unrated, taste_genre, best, *movie in fetched
        ]
        return run, rows


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
        db_table = SCORE_TABLE


class SimilarMovieQuerySet(models.QuerySet):
    def of(self, movie_id: int, n: int = 10) -> list[SimilarMovie]:
        """The active run's ``n`` nearest neighbours of ``movie_id``, most similar first (empty before item-item runs)."""
        run = Run.objects.active()
        if run is None:
            return []
        return list(self.filter(run=run, movie_id=movie_id).select_related("neighbour").order_by("rank")[:n])


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

    objects = SimilarMovieQuerySet.as_manager()

    class Meta:
        managed = False
        db_table = SIMILAR_TABLE


class PopularMovieQuerySet(models.QuerySet):
    def of_run(self, run: Run | None) -> PopularMovieQuerySet:
        """``run``'s popular list with its movies, best first (none without a run)."""
        if run is None:
            return self.none()
        return self.filter(run=run).select_related("movie").order_by("rank")


class PopularMovie(models.Model):
    """A run's cold-start list: the movies everyone is shown before the run knows them."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="popular_movies")
    movie = models.ForeignKey(Movie, on_delete=models.CASCADE)
    score = models.FloatField()
    rank = models.PositiveIntegerField()

    objects = PopularMovieQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "rank"], name="popularmovie_run_rank_unique")]


class FittedModel(models.Model):
    """The pickled model a run fitted, so the worker can score one user against the active run."""

    run = models.OneToOneField(Run, on_delete=models.CASCADE, primary_key=True, related_name="fitted_model")
    algorithm = models.CharField(max_length=40)
    data = models.BinaryField()
    created_at = models.DateTimeField(default=timezone.now)
