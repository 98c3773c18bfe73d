"""Catalogue, ratings and the precomputed per-user scores (PCS).

The score table ``recommender_userscore`` is partitioned by run in PostgreSQL
(see migration 0002): the precompute job fills a run's partition with COPY
while readers keep reading the active run's partition, then publishes the
run by switching :class:`web.runs.models.ActiveRun` in one UPDATE. The
tables' schema and their one writer are :mod:`web.runs.scores`; the
models here read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchQuery, SearchVectorField
from django.db import connection, models, transaction
from django.db.models import F, FilteredRelation, Func, Q, Value
from django.db.models.functions import Length
from django.utils import timezone

from scoring.registry import ALGORITHMS
from web.recommender.refresh import request_refresh
from web.runs.models import ActiveRun, Run
from web.runs.scores import SCORE_TABLE, SIMILAR_TABLE

RATING_VALUES = tuple(x / 2 for x in range(1, 11))
"""The ratings MovieLens allows: 0.5 to 5.0 in half stars."""


GENRE_CACHE_SECONDS = 60
"""How long the list of genre names is cached per process."""

PROFILE_USER_ID_START = 1_000_000_000
"""First user id of a site profile; MovieLens user ids stay far below (ml-latest: ~330,000).

Profiles draw their ids from the PostgreSQL sequence ``recommender_profile_user_id_seq``
(migration 0005), which starts here and ends at the largest ``integer``, so a profile
can never take an id that a MovieLens file uses, whichever set is loaded later.
"""


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
        subquery per movie: "the" matches 18k of 58k titles, and probing the
        list once per match took 120 ms of the search; the join takes ~1 ms.
        """
        popular = FilteredRelation("popularmovie", condition=Q(popularmovie__run_id=ActiveRun.current_run_id()))
        return self.annotate(active_popular=popular).order_by(
            F("active_popular__rank").asc(nulls_last=True), Length("title"), "movie_id"
        )

    def in_genre(self, genre: str | None) -> MovieQuerySet:
        return self.filter(genres__contains=[genre]) if genre else self

    def catalogue(self, search: str = "", genre: str | None = None, year: int | None = None) -> MovieQuerySet:
        """Movies matching a title search, genre and year: the short titles first when searching, else by id."""
        movies = self.in_genre(genre)
        if year is not None:
            movies = movies.filter(year=year)
        if search.strip():
            movies = movies.search(search).best_known_first()
        return movies

    def genre_names(self) -> list[str]:
        """Every genre in the catalogue, sorted; cached for a minute (a scan of the catalogue)."""

        def query() -> list[str]:
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT DISTINCT unnest(genres) AS g FROM {Movie._meta.db_table} ORDER BY g")
                return [g for (g,) in cursor.fetchall() if g and g != "(no genres listed)"]

        return cache.get_or_set(f"genre-names:{connection.settings_dict['NAME']}", query, GENRE_CACHE_SECONDS)


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
        """Average, count and the number of ratings at each half star, in one grouped query.

        ``COUNT(*)``, not of a column: the index on (movie, rating) then answers it alone.
        """
        counts = dict(self.ratings.values_list("rating").annotate(n=models.Count("*")).values_list("rating", "n"))
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


@dataclass
class RatingSummary:
    average: float | None
    count: int
    histogram: list[int]
    """Number of ratings at 0.5, 1.0, ... 5.0 (the order of :data:`RATING_VALUES`)."""

    @property
    def bars(self) -> list[dict]:
        """The histogram as bars for the inline SVG chart: value, count, height in percent of the largest."""
        peak = max(self.histogram) or 1
        bars = []
        for i, (value, count) in enumerate(zip(RATING_VALUES, self.histogram, strict=True)):
            height = round(CHART_HEIGHT * count / peak, 1)
            bars.append({"value": value, "count": count, "x": i * 10 + 1, "y": CHART_HEIGHT - height, "height": height,
                         "label": value == int(value)})
        return bars


CHART_HEIGHT = 30
"""Height of the tallest bar in the movie page's SVG chart (viewBox units; the box is 100 wide)."""


RATING_ORDER = {
    "recent": ["-timestamp", "movie_id"],
    "oldest": ["timestamp", "movie_id"],
    "highest": ["-rating", "-timestamp"],
    "lowest": ["rating", "-timestamp"],
    "title": ["movie__title", "movie_id"],
}
"""The ``sort`` choices of a rating history (the API's and the site's history page), the first the default."""


class RatingQuerySet(models.QuerySet):
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
            rating.refresh = request_refresh(user_id)
        return rating

    def unrate(self, user_id: int, movie: Movie):
        """Remove a rating (a no-op if there is none) and queue the refresh; returns the ticket or None."""
        with transaction.atomic():
            deleted, _ = self.filter(user_id=user_id, movie=movie).delete()
            return request_refresh(user_id) if deleted else None

    def user_counts(self, start: int = 1, limit: int = 50) -> list[tuple[int, int]]:
        """``(user_id, number of ratings)`` of MovieLens users from ``start`` on, by id (an index range scan)."""
        return list(
            self.filter(user_id__gte=start, user_id__lt=PROFILE_USER_ID_START)
            .values("user_id")
            .annotate(n=models.Count("id"))
            .order_by("user_id")
            .values_list("user_id", "n")[:limit]
        )


class Rating(models.Model):
    """One user's rating of one movie; a user rates a movie at most once."""

    user_id = models.IntegerField()
    # Indexed together with the rating below, which also serves the foreign key.
    movie = models.ForeignKey(Movie, on_delete=models.CASCADE, related_name="ratings", db_index=False)
    rating = models.FloatField()
    timestamp = models.DateTimeField(default=timezone.now)

    objects = RatingQuerySet.as_manager()

    class Meta:
        indexes = [
            # A movie page's rating distribution from the index alone: at ml-25m size the most-rated
            # movie's 86k ratings lie on 76k heap pages, read in 330 ms; from this index, 10 ms.
            models.Index(fields=["movie", "rating"], name="rating_movie_rating"),
        ]
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
class ScoredMovie:
    movie: Movie
    score: float
    rank: int
    reason: str = ""
    scale: str = "stars"
    """The scorer's ``score_scale``: ``stars`` (a predicted rating) or ``match`` (a strength with no fixed top)."""
    best: float | None = None
    """For a match: the score of the user's first stored item, the strongest match the run found for them."""

    @property
    def strength(self) -> float:
        """A match as a share of the user's strongest, 0-1.

        EASE's scores grow with how much the run knows of the user (the top
        one is ~0.15 after five ratings, ~0.8 after a few hundred), so on a
        fixed scale a newcomer's best match would be one star.
        """
        if not self.best or self.best <= 0:
            return 0.0
        return min(max(float(self.score) / float(self.best), 0.0), 1.0)

    @property
    def stars(self) -> float:
        """The score on the five-star bar of a card: a predicted rating as is, a match as 5 x its strength."""
        if self.scale == "match":
            return 5.0 * self.strength
        return float(self.score)

    @property
    def label(self) -> str:
        """What the bar means, in words (its tooltip)."""
        if self.scale == "match":
            if not self.best or self.best <= 0:
                return "a weak match: nothing stands out for you yet"
            if self.strength >= 0.995:
                return "your strongest match"
            return f"{round(100 * self.strength)}% as strong a match as your strongest"
        return f"predicted {float(self.score):.2f} of 5"


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


POPULAR_REASON = "popular with everyone: among the most-rated, best-liked movies"
PERSONAL_REASON = "people who rate like you loved it"
ALGORITHM_REASONS = {"popularity": "one of the best-liked movies you have not rated yet"}
"""The general reason of a personal list by the run's algorithm, when no similar movie explains an item."""


def _stars(value: float) -> str:
    return f"{value:g} star" + ("" if value == 1 else "s")


class UserScoreQuerySet(models.QuerySet):
    def knows_user(self, user_id: int) -> bool:
        """A user exists for the site once they have rated something, has a profile, or the active run scored them."""
        if Rating.objects.filter(user_id=user_id).exists() or Profile.objects.filter(user_id=user_id).exists():
            return True
        run = Run.objects.active()
        return run is not None and self.filter(run=run, user_id=user_id).exists()

    def recommend(self, user_id: int, n: int, genre: str | None = None, offset: int = 0) -> Recommendations:
        """The user's top ``n`` (after ``offset``) from the active run, minus what they rated since; else the popular list.

        ``genre`` keeps only movies of that genre. Each item carries a reason.
        A user the run scored costs one query (:meth:`_personal`); the popular
        fallback a few more.
        """
        run, rows = self._personal(user_id, n + 1, genre, offset)
        if rows:
            general = ALGORITHM_REASONS.get(run.algorithm, PERSONAL_REASON)
            scale = score_scale(run.algorithm)
            items = [
                ScoredMovie(movie, score, offset + i + 1,
                            f"because you rated {why[0]} {_stars(why[1])}" if why else general, scale, best)
                for i, (movie, score, why, best) in enumerate(rows[:n])
            ]
            return Recommendations(user_id=user_id, source="personal", run=run, items=items, has_more=len(rows) > n)
        run = Run.objects.active()
        if run is None:
            return Recommendations(user_id=user_id, source="popular", run=None)
        rated = Rating.objects.filter(user_id=user_id).values("movie_id")
        in_genre = {"movie__genres__contains": [genre]} if genre else {}
        unrated_rows = self.filter(run=run, user_id=user_id).exclude(movie_id__in=rated)
        if offset and unrated_rows.filter(**in_genre).exists():
            return Recommendations(user_id=user_id, source="personal", run=run)  # paged past the end of the list
        has_personal = unrated_rows.exists()
        popular = list(
            PopularMovie.objects.filter(run=run)
            .exclude(movie_id__in=rated)
            .filter(**({"movie__genres__contains": [genre]} if genre else {}))
            .select_related("movie")
            .order_by("rank")[offset : offset + n + 1]
        )
        items = [ScoredMovie(row.movie, row.score, offset + i + 1, POPULAR_REASON) for i, row in enumerate(popular[:n])]
        return Recommendations(user_id=user_id, source="popular", run=run, items=items, has_more=len(popular) > n,
                               has_personal=has_personal)

    @staticmethod
    def _personal(user_id: int, limit: int, genre: str | None, offset: int) -> tuple[Run | None, list]:
        """The active run's rows for the user, minus rated movies, with their movies and reasons: one query.

        The reason of a row is the user's best-rated movie (3.5 stars or more)
        among the row's movie's similar movies in the same run, if any.

        The page (``LIMIT``/``OFFSET`` after the rated-since and genre filters)
        is cut first, in ``page``, and only its rows look for a reason: looking
        for reasons before the cut made PostgreSQL do it for all of the user's
        stored rows (100): ~6 ms a call instead of ~1 ms.
        """
        genre_filter = "AND m.genres @> ARRAY[%s]::varchar(40)[]" if genre else ""
        sql = f"""
            WITH page AS (
                SELECT s.run_id, s.user_id, s.rank, s.score,
                       m.movie_id, m.title, m.year, m.genres, m.imdb_id, m.tmdb_id
                FROM {UserScore._meta.db_table} s
                JOIN {Movie._meta.db_table} m ON m.movie_id = s.movie_id
                WHERE s.run_id = (SELECT active.run_id FROM {ActiveRun._meta.db_table} active WHERE active.id = %s)
                  AND s.user_id = %s
                  AND NOT EXISTS (SELECT 1 FROM {Rating._meta.db_table} rr
                                  WHERE rr.user_id = s.user_id AND rr.movie_id = s.movie_id)
                  {genre_filter}
                ORDER BY s.rank
                LIMIT %s OFFSET %s
            )
            SELECT run.id, run.algorithm, p.score, p.movie_id, p.title, p.year, p.genres, p.imdb_id, p.tmdb_id,
                   wm.title, why.rating,
                   -- Not correlated with the row, so PostgreSQL evaluates it once for the page.
                   (SELECT b.score FROM {UserScore._meta.db_table} b
                    WHERE b.run_id = (SELECT active.run_id FROM {ActiveRun._meta.db_table} active WHERE active.id = %s)
                      AND b.user_id = %s AND b.rank = 1) AS best
            FROM page p
            JOIN {Run._meta.db_table} run ON run.id = p.run_id
            LEFT JOIN LATERAL (
                SELECT sm.neighbour_id, r.rating
                FROM {SimilarMovie._meta.db_table} sm
                JOIN {Rating._meta.db_table} r ON r.user_id = p.user_id AND r.movie_id = sm.neighbour_id
                WHERE sm.run_id = p.run_id AND sm.movie_id = p.movie_id AND r.rating >= 3.5
                ORDER BY r.rating DESC, sm.rank
                LIMIT 1
            ) why ON true
            LEFT JOIN {Movie._meta.db_table} wm ON wm.movie_id = why.neighbour_id
            ORDER BY p.rank"""
        params = [ActiveRun.SINGLETON_ID, user_id, *([genre] if genre else []), limit, offset, ActiveRun.SINGLETON_ID, user_id]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            fetched = cursor.fetchall()
        if not fetched:
            return None, []
        run = Run(id=fetched[0][0], algorithm=fetched[0][1])
        rows = [
            (Movie(movie_id=movie_id, title=title, year=year, genres=genres, imdb_id=imdb_id, tmdb_id=tmdb_id),
             score, (why_title, why_rating) if why_title is not None else None, best)
            for _, _, score, movie_id, title, year, genres, imdb_id, tmdb_id, why_title, why_rating, best in fetched
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



def next_profile_user_id() -> int:
    """The next id from the profile sequence (>= :data:`PROFILE_USER_ID_START`)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval('recommender_profile_user_id_seq')")
        return int(cursor.fetchone()[0])


class ProfileManager(models.Manager):
    def for_account(self, account) -> Profile:
        """The signed-in account's profile, created on first use (a superuser made by ``createsuperuser`` too)."""
        try:
            return account.profile
        except Profile.DoesNotExist:
            profile, _ = self.get_or_create(account=account)
            return profile


class Profile(models.Model):
    """A site account's own rating identity: ``user_id`` is what its ratings and scores are stored under.

    Ids come from a sequence that starts at :data:`PROFILE_USER_ID_START`, far
    above any MovieLens user id, so own profiles and MovieLens users never share
    an id (a CHECK constraint enforces the range).
    """

    account = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    user_id = models.IntegerField(unique=True, default=next_profile_user_id, editable=False)
    created_at = models.DateTimeField(default=timezone.now)

    objects = ProfileManager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(user_id__gte=PROFILE_USER_ID_START), name="profile_user_id_above_movielens"
            )
        ]

    def __str__(self) -> str:
        return f"{self.account} (user {self.user_id})"


def is_profile_id(user_id: int) -> bool:
    """Whether ``user_id`` belongs to a site profile (not a MovieLens user)."""
    return user_id >= PROFILE_USER_ID_START
