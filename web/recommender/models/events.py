"""A browsing service's users and events: users it creates by external id, and watch/watchlist/not-interested events.

Service users take their ids from the profile sequence
(``recommender_profile_user_id_seq``, from :data:`PROFILE_USER_ID_START` on),
so a service user, a site profile and a MovieLens user never share an id, and
the rule "ids from 1,000,000,000 on are private to their owner and staff"
(:mod:`web.recommender.api.permissions`) covers service users unchanged.

Events are idempotent by the sender's ``event_id``: one unique constraint and
``INSERT ... ON CONFLICT DO NOTHING``, so a retried batch stores nothing twice.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import itertools
import uuid
from collections.abc import Collection, Iterable
from dataclasses import dataclass

import numpy as np
from django.db import IntegrityError, connection, models, transaction
from django.db.models.expressions import RawSQL
from django.utils import timezone

from scoring.feedback import MIN_WATCH_FRACTION, WATCH_RATING, counted_watches
from web import prepared
from web.pgcopy import in_ids_sql, read_columns
from web.recommender.models.catalogue import Movie
from web.recommender.models.profiles import PROFILE_USER_ID_START, Profile, next_profile_user_id
from web.recommender.models.ratings import Rating
from web.recommender.models.versions import USER, bump, bump_sql
from web.recommender.refresh import request_refreshes
from web.runs.retrain import request_check

NOT_INTERESTED, NOT_INTERESTED_REMOVE = "not_interested", "not_interested_remove"

EVENT_TYPES = ("watched", "watchlist_add", "watchlist_remove", NOT_INTERESTED, NOT_INTERESTED_REMOVE)
"""What a browsing service reports; ``watched`` may carry the ``fraction`` of the movie watched (0 to 1).
``not_interested_remove`` takes back a ``not_interested``, as ``watchlist_remove`` takes back an add."""

SITE_EVENT_TYPES = ("watchlist_add", "watchlist_remove", NOT_INTERESTED, NOT_INTERESTED_REMOVE)
"""What a signed-in person may record on the site's movie cards and pages (watches come from a browsing service)."""

HIDING_TYPES = ("watched", NOT_INTERESTED)
"""Event types that take the movie out of the user's served list at once (the read-time filter,
:func:`hiding_event_sql`): a watch for good, a not-interested until a later ``not_interested_remove``."""

REFRESHING_TYPES = (*HIDING_TYPES, NOT_INTERESTED_REMOVE)
"""Event types after which the worker refreshes the user's list: what hides a movie, and the undo that brings one back."""

EARLIEST_EVENT_TIME = dt.datetime(1995, 1, 1, tzinfo=dt.UTC)
"""No event is older than MovieLens itself (1995): an older time is a sender's bug, refused."""

CLOCK_SKEW = dt.timedelta(minutes=5)
"""How far in the future an event's time may lie (the sender's clock may run ahead); later is refused."""

EVENT_ID_UNIQUE = "event_event_id_unique"
"""The unique constraint on ``Event.event_id`` (the name a unique violation reports)."""


class ServiceUserManager(models.Manager):
    def for_external_id(self, external_id: str) -> tuple[ServiceUser, bool]:
        """The user of ``external_id``, created if new: ``(user, created)``.

        Idempotent under concurrent requests too: two requests racing for the
        same new id both try the insert; the unique constraint lets one win,
        and the loser (IntegrityError, in its own savepoint) reads the winner's row.
        """
        existing = self.filter(external_id=external_id).first()
        if existing is not None:
            return existing, False
        try:
            with transaction.atomic():
                return self.create(external_id=external_id), True
        except IntegrityError:
            return self.get(external_id=external_id), False


class ServiceUser(models.Model):
    """A user a browsing service created: its own ``external_id`` and the ``user_id`` the recommender knows it by."""

    external_id = models.CharField(max_length=200, unique=True)
    user_id = models.IntegerField(unique=True, default=next_profile_user_id, editable=False)
    created_at = models.DateTimeField(default=timezone.now)

    objects = ServiceUserManager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(user_id__gte=PROFILE_USER_ID_START), name="serviceuser_user_id_above_movielens"
            )
        ]

    def __str__(self) -> str:
        return f"{self.external_id} (user {self.user_id})"


@dataclass(frozen=True, eq=False)
class Feedback:
    """What the models learn from (:meth:`EventQuerySet.feedback`), as columns ready for ``RatingsMatrix.from_arrays``."""

    users: np.ndarray
    """int32, one per entry: the ratings, then the watches that count."""
    movies: np.ndarray
    values: np.ndarray
    """float32: a rating's stars, a watch's :data:`WATCH_RATING`."""
    dismissed: tuple[np.ndarray, np.ndarray] | None
    """(user ids, movie ids) of the not-interested events not taken back since; None when events were not read."""


@dataclass
class EventOutcome:
    """What became of one event of a request: ``accepted``, ``duplicate`` or ``refused`` (with the reason)."""

    position: int
    """Where the event was: its index in a JSON array (from 0), or its line in NDJSON (from 1)."""
    event_id: str | None
    status: str
    reason: str = ""


@dataclass
class EventBatch:
    """Validated events and the outcomes of those already refused while parsing or validating."""

    valid: list[tuple[int, dict]]
    """``(position, validated data)``: data has event_id, user_id, movie_id, type, fraction (or None), time."""
    refused: list[EventOutcome]


def _undone_sql(event: str) -> str:
    """SQL: the not-interested events row aliased ``event`` was taken back: a ``not_interested_remove`` of the same
    user and movie is later by (time, id), the order the watchlist follows too. An index probe of (user, movie, type)."""
    return (f"EXISTS (SELECT 1 FROM {Event._meta.db_table} undo WHERE undo.user_id = {event}.user_id "
            f"AND undo.movie_id = {event}.movie_id AND undo.type = '{NOT_INTERESTED_REMOVE}' "
            f"AND (undo.time, undo.id) > ({event}.time, {event}.id))")


def hiding_event_sql(event: str) -> str:
    """SQL: the events row aliased ``event`` hides its movie from the served list: a watch, or a not-interested that
    no later ``not_interested_remove`` took back. So per (user, movie) the latest of the two decides, as for the
    watchlist; an undo never brings back a watched movie."""
    types = ", ".join(f"'{t}'" for t in HIDING_TYPES)
    return f"({event}.type IN ({types}) AND ({event}.type <> '{NOT_INTERESTED}' OR NOT {_undone_sql(event)}))"


def known_user_ids(user_ids: Iterable[int], *, profiles: bool = True) -> set[int]:
    """Which of ``user_ids`` exist: a service user, a site profile (unless ``profiles`` is false), or a MovieLens user
    (an id below the profiles' range) with ratings. One query (:func:`known_ids`)."""
    return known_ids(user_ids, (), profiles=profiles)[0]


def _known_user_sql(user: str, *, profiles: bool) -> str:
    """SQL: the user id ``user`` exists (:func:`known_user_ids`); each table one index probe, a MovieLens user's
    stopping at their first rating (a DISTINCT would read all of them).

    Ratings make a MovieLens user only below ``PROFILE_USER_ID_START``: a member who has rated has ratings too, and
    without the bound a service's events for that member's id were taken (a service never writes for a member).
    """
    profile = f"OR EXISTS (SELECT 1 FROM {Profile._meta.db_table} p WHERE p.user_id = {user})" if profiles else ""
    return (f"(EXISTS (SELECT 1 FROM {ServiceUser._meta.db_table} s WHERE s.user_id = {user}) {profile} "
            f"OR ({user} < {PROFILE_USER_ID_START} "
            f"AND EXISTS (SELECT 1 FROM {Rating._meta.db_table} r WHERE r.user_id = {user})))")


@functools.cache
def _insert_sql(for_profiles: bool, bump_changed: bool) -> str:
    """SQL of :meth:`EventQuerySet._insert`, written once per variant (it is a prepared statement's text)."""
    table = Event._meta.db_table
    changed_rows = f"SELECT '{USER}', user_id, 1 FROM (SELECT DISTINCT user_id FROM inserted) changed ORDER BY user_id"
    bumped = f", bumped AS ({bump_sql(changed_rows)})" if bump_changed else ""
    return f"""
            WITH e AS (
                SELECT * FROM unnest(%s::integer[], %s::varchar[], %s::integer[], %s::integer[], %s::varchar[],
                                     %s::double precision[], %s::timestamptz[])
                    AS e(position, event_id, user_id, movie_id, type, fraction, time)),
            users AS (
                SELECT u FROM (SELECT DISTINCT user_id AS u FROM e) named WHERE {_known_user_sql("u", profiles=for_profiles)}),
            movies AS (SELECT movie_id FROM {Movie._meta.db_table} WHERE movie_id IN (SELECT movie_id FROM e)),
            fresh AS (
                SELECT DISTINCT ON (event_id) * FROM e
                WHERE user_id IN (SELECT u FROM users) AND movie_id IN (SELECT movie_id FROM movies)
                  AND event_id <> ALL(%s::varchar[])
                ORDER BY event_id, position),
            arrived AS MATERIALIZED (
                SELECT nextval(pg_get_serial_sequence('{table}', 'id')) AS id, *
                FROM (SELECT * FROM fresh ORDER BY position) in_order),
            inserted AS (
                INSERT INTO {table} (id, event_id, user_id, movie_id, type, fraction, time, received_at)
                SELECT id, event_id, user_id, movie_id, type, fraction, time, now() FROM arrived ORDER BY event_id
                ON CONFLICT (event_id) DO NOTHING
                RETURNING event_id, user_id){bumped}
            SELECT ARRAY(SELECT u FROM users), ARRAY(SELECT movie_id FROM movies), ARRAY(SELECT event_id FROM inserted)"""


def known_ids(user_ids: Iterable[int], movie_ids: Iterable[int], *, profiles: bool = True) -> tuple[set[int], set[int]]:
    """Which of ``user_ids`` exist (as :func:`known_user_ids` says) and which of ``movie_ids``: one round trip."""
    users, movies = sorted({int(u) for u in user_ids}), sorted({int(m) for m in movie_ids})
    if not users and not movies:
        return set(), set()
    with connection.cursor() as cursor:
        cursor.execute(f"""
            SELECT ARRAY(SELECT u FROM unnest(%s::integer[]) u WHERE {_known_user_sql("u", profiles=profiles)}),
                   ARRAY(SELECT movie_id FROM {Movie._meta.db_table} WHERE movie_id = ANY(%s::integer[]))""",
                       [users, movies])
        known_users, known_movies = cursor.fetchone()
    return set(known_users), set(known_movies)


def _array_literal(values: Iterable[object]) -> str:
    """A PostgreSQL array literal of ``values`` (None is NULL), to pass as one string and cast to the array type.

    psycopg2 passes a list as ``ARRAY[...]`` with one literal per element,
    which it adapts one by one and PostgreSQL parses as as many expressions:
    for a batch of 1,000 events that took about half of the batch's statement
    (docs/decisions.md, "Events"). A literal string is parsed by the array
    type's input function in one pass.
    """
    return "{" + ",".join("NULL" if value is None else '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
                          for value in values) + "}"


class EventQuerySet(models.QuerySet):
    def record(self, batches: Iterable[EventBatch], *, for_profiles: bool = False) -> list[EventOutcome]:
        """Store the batches' valid events in one transaction; every event's outcome, in the order given.

        An event is refused when its user or movie is unknown; one whose
        ``event_id`` is stored already (or came earlier in this request) is a
        duplicate and changes nothing. The others are inserted with ``ON
        CONFLICT DO NOTHING``, so a concurrent retry of the same event counts
        once too. After the commit, each user whose list an accepted event
        changes is refreshed (deduplicated, as after a rating), and the
        change counter of each user with an accepted event moves in the same
        transaction, so the HTTP validators of their lists change.

        A browsing service writes for its own users and MovieLens users, never
        for a site profile (docs/api.md, "Who may do what"): a profile's id is an
        unknown user here unless ``for_profiles`` (the site's own events for
        the signed-in member, :meth:`record_own`).
        """
        outcomes: list[EventOutcome] = []
        seen: set[str] = set()
        users_to_refresh: set[int] = set()
        changed: set[int] = set()
        batches = iter(batches)
        first = list(itertools.islice(batches, 2))
        # One batch (a JSON body, the site's own event) is one statement, counters included, and a statement is a
        # transaction of its own: no BEGIN and COMMIT round trips around it. Over several batches, each would lock
        # its users' counters in its own order: they are bumped at the end, sorted, in one transaction.
        single = len(first) == 1
        with contextlib.nullcontext() if single else transaction.atomic():
            for batch in itertools.chain(first, batches):
                outcomes.extend(batch.refused)
                outcomes.extend(self._record_batch(batch.valid, seen, users_to_refresh, changed, for_profiles, single))
            if not single:
                bump((USER, user_id) for user_id in changed)  # one statement: user_data_changed for each
            request_refreshes(users_to_refresh)
            request_check()
        outcomes.sort(key=lambda o: o.position)
        return outcomes

    def record_own(self, user_id: int, movie_id: int, type_: str) -> EventOutcome:
        """An event the site records for a signed-in profile now, under an id of its own (``site-<uuid>``)."""
        if type_ not in SITE_EVENT_TYPES:
            raise ValueError(f"the site records only {', '.join(SITE_EVENT_TYPES)}, not {type_!r}")
        data = {"event_id": f"site-{uuid.uuid4()}", "user_id": user_id, "movie_id": movie_id, "type": type_,
                "fraction": None, "time": timezone.now()}
        return self.record([EventBatch(valid=[(0, data)], refused=[])], for_profiles=True)[0]

    def _record_batch(self, valid: list[tuple[int, dict]], seen: set[str], users_to_refresh: set[int], changed: set[int],
                      for_profiles: bool, bump_changed: bool) -> list[EventOutcome]:
        users, movies, inserted = self._insert(valid, seen, for_profiles, bump_changed)
        outcomes: list[EventOutcome] = []
        for position, data in valid:  # the statement's rules again, to word each event's outcome
            event_id = data["event_id"]
            if data["user_id"] not in users:
                outcomes.append(EventOutcome(position, event_id, "refused", f"unknown user {data['user_id']}"))
            elif data["movie_id"] not in movies:
                outcomes.append(EventOutcome(position, event_id, "refused", f"unknown movie {data['movie_id']}"))
            elif event_id in seen:
                outcomes.append(EventOutcome(position, event_id, "duplicate", "the same event_id came earlier in this request"))
            elif event_id in inserted:
                seen.add(event_id)
                outcomes.append(EventOutcome(position, event_id, "accepted"))
                changed.add(data["user_id"])
                if data["type"] in REFRESHING_TYPES:
                    users_to_refresh.add(data["user_id"])
            else:
                seen.add(event_id)
                outcomes.append(EventOutcome(position, event_id, "duplicate", "an event with this event_id is stored already"))
        return outcomes

    def _insert(self, valid: list[tuple[int, dict]], seen: set[str], for_profiles: bool,
                bump_changed: bool) -> tuple[set[int], set[int], set[str]]:
        """Insert the events of known users and movies, each event_id once, skipping stored and ``seen`` event ids.

        One statement: ``(known users, known movies, event ids inserted)``;
        with ``bump_changed``, it also moves the change counter of each user
        with an inserted event, locking the counters in order (:func:`bump`).

        The rows are inserted in event_id order, so two requests sending some
        of the same event ids (a retry batched differently) wait for each
        other on the unique index in one order and cannot deadlock; their ids
        are drawn in the order the events came, which the watchlist takes
        for arrival when two events have the same time.
        """
        if not valid:
            return set(), set(), set()
        params = [_array_literal(position for position, _ in valid)]
        params += [_array_literal(d[name] for _, d in valid)
                   for name in ("event_id", "user_id", "movie_id", "type", "fraction", "time")]
        params.append(_array_literal(d["event_id"] for _, d in valid if d["event_id"] in seen))
        sql = _insert_sql(for_profiles, bump_changed)
        with connection.cursor() as cursor:
            if len(valid) == 1:  # the stream of single events: planning the statement cost as much as running it
                prepared.execute(cursor, f"event_insert_{int(for_profiles)}{int(bump_changed)}", sql, params)
            else:  # a batch is planned for its own arrays (one plan for any size made 1,000 events a fifth slower)
                cursor.execute(sql, params)
            users, movies, inserted = cursor.fetchone()
        return set(users), set(movies), set(inserted)

    def feedback(self, user_ids: Collection[int] | None = None, *, with_events: bool = True,
                 min_fraction: float = MIN_WATCH_FRACTION) -> Feedback:
        """What the models learn from, for every user or only ``user_ids``: ratings, the watches that count, dismissals.

        The one reader of it: the job's load (``jobs/precompute/store.py``)
        and the worker's refresh of a batch of users (``web/recommender/tasks.py``)
        both call it, so they build the same history row. The weighting is
        :mod:`scoring.feedback`'s: an unrated watch counts if its longest
        watch reaches ``min_fraction`` (no fraction reported is a full
        watch), valued :data:`WATCH_RATING`; a rated movie counts once, with
        its stars. Not-interested movies come as pairs of their own, never as
        a positive (the matrix keeps those of a movie the user neither rated
        nor watched). Binary COPY for the whole table, so the job's load stays
        one pass; ``with_events`` false reads the ratings alone.
        """
        users, movies, values = Rating.objects.columns(user_ids=user_ids)
        if not with_events:
            return Feedback(users, movies, values, None)
        with connection.cursor() as cursor:
            watch_users, watch_movies, fraction = read_columns(
                cursor.cursor, self._watches_sql(user_ids), ["integer", "integer", "real"])
            dismissed = read_columns(cursor.cursor, self._dismissed_sql(user_ids), ["integer", "integer"])
        counted = counted_watches(fraction, min_fraction)
        return Feedback(np.concatenate([users, watch_users[counted]]), np.concatenate([movies, watch_movies[counted]]),
                        np.concatenate([values, np.full(int(counted.sum()), WATCH_RATING, dtype=np.float32)]),
                        (dismissed[0], dismissed[1]))

    def _watches_sql(self, user_ids: Collection[int] | None) -> str:
        """Each watched (user, movie) with no rating once, with its longest fraction (NaN where a watch reported none)."""
        table, ratings = self.model._meta.db_table, Rating._meta.db_table
        one = "" if user_ids is None else f"AND e.user_id {in_ids_sql(user_ids)}"
        # PostgreSQL orders NaN above every number, so MAX picks it: a watch of unknown length is a full watch.
        return f"""
            SELECT e.user_id, e.movie_id, MAX(COALESCE(e.fraction, 'NaN'))::real FROM {table} e
            WHERE e.type = 'watched' {one}
              AND NOT EXISTS (SELECT 1 FROM {ratings} r WHERE r.user_id = e.user_id AND r.movie_id = e.movie_id)
            GROUP BY e.user_id, e.movie_id"""

    def _dismissed_sql(self, user_ids: Collection[int] | None) -> str:
        """Each (user, movie) whose latest not-interested event is not taken back by a later ``not_interested_remove``."""
        one = "" if user_ids is None else f"AND e.user_id {in_ids_sql(user_ids)}"
        return (f"SELECT DISTINCT e.user_id, e.movie_id FROM {self.model._meta.db_table} e "
                f"WHERE e.type = '{NOT_INTERESTED}' AND NOT {_undone_sql('e')} {one}")

    def hidden_movie_ids(self, user_id: int) -> RawSQL:
        """The movies the read-time filter hides from ``user_id``'s served list (:func:`hiding_event_sql`), as a
        subquery for ``movie_id__in``."""
        return RawSQL(f"SELECT ev.movie_id FROM {self.model._meta.db_table} ev "
                      f"WHERE ev.user_id = %s AND {hiding_event_sql('ev')}", [user_id])

    def marks(self, user_id: int, movie_ids: Collection[int]) -> tuple[set[int], set[int]]:
        """Which of ``movie_ids`` are on the user's watchlist, and which they are not interested in (the buttons of
        their cards): each by the latest of its two events (add/remove, not_interested/its undo). One query, an
        index probe per movie."""
        table = self.model._meta.db_table
        sql = f"""
            SELECT movie_id, type FROM (
                SELECT DISTINCT ON (movie_id, type IN ('watchlist_add', 'watchlist_remove')) movie_id, type
                FROM {table}
                WHERE user_id = %s AND movie_id = ANY(%s)
                  AND type IN ('watchlist_add', 'watchlist_remove', '{NOT_INTERESTED}', '{NOT_INTERESTED_REMOVE}')
                ORDER BY movie_id, type IN ('watchlist_add', 'watchlist_remove'), time DESC, id DESC
            ) latest
            WHERE type IN ('watchlist_add', '{NOT_INTERESTED}')"""
        with connection.cursor() as cursor:
            cursor.execute(sql, [user_id, list(movie_ids)])
            latest = cursor.fetchall()
        return ({movie_id for movie_id, type_ in latest if type_ == "watchlist_add"},
                {movie_id for movie_id, type_ in latest if type_ == NOT_INTERESTED})

    def watchlist(self, user_id: int) -> list[tuple[int, dt.datetime]]:
        """The user's watchlist: ``(movie_id, added at)`` of each movie whose latest watchlist event is an add, newest
        first (the buttons of a page's cards read :meth:`marks`)."""
        table = self.model._meta.db_table
        sql = f"""
            SELECT movie_id, time FROM (
                SELECT DISTINCT ON (movie_id) movie_id, type, time
                FROM {table}
                WHERE user_id = %s AND type IN ('watchlist_add', 'watchlist_remove')
                ORDER BY movie_id, time DESC, id DESC
            ) latest
            WHERE type = 'watchlist_add'
            ORDER BY time DESC, movie_id"""
        with connection.cursor() as cursor:
            cursor.execute(sql, [user_id])
            return [(movie_id, time) for movie_id, time in cursor.fetchall()]


class Event(models.Model):
    """One event a browsing service reported: ``user_id`` did ``type`` with ``movie`` at ``time``."""

    # Unique by a constraint, not unique=True: for a unique CharField Django adds a second index (varchar_pattern_ops,
    # for LIKE) as large as the unique one, which no query uses and every insert would maintain. Collation "C": the
    # unique index compares bytes (memcmp) rather than by the database's locale (strcoll, en_US.utf8 in the cluster's
    # image), about 20 times per insert and probe; no query orders event ids for a reader.
    event_id = models.CharField(max_length=100, db_collation="C",
                                help_text="Chosen by the sender; a retry with the same id is ignored.")
    user_id = models.IntegerField()
    # Indexed with the user below (the read-time filter and the watchlist look events up by user and movie).
    movie = models.ForeignKey(Movie, on_delete=models.CASCADE, related_name="events", db_index=False)
    type = models.CharField(max_length=30, choices=[(t, t) for t in EVENT_TYPES])
    fraction = models.FloatField(null=True, blank=True)
    time = models.DateTimeField()
    received_at = models.DateTimeField(default=timezone.now)

    objects = EventQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["user_id", "movie", "type"], name="event_user_movie_type")]
        constraints = [
            models.UniqueConstraint(fields=["event_id"], name=EVENT_ID_UNIQUE),
            models.CheckConstraint(condition=models.Q(type__in=EVENT_TYPES), name="event_type_known"),
            models.CheckConstraint(
                condition=models.Q(fraction__isnull=True) | models.Q(fraction__gte=0, fraction__lte=1, type="watched"),
                name="event_fraction_0_to_1_of_a_watch",
            ),
            models.CheckConstraint(condition=models.Q(user_id__gt=0), name="event_user_id_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.event_id}: user {self.user_id} {self.type} {self.movie_id}"
