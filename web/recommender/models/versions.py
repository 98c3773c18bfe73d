"""Change counters that HTTP validators (ETags) are made of: one small row per thing whose answers can change.

A counter is bumped in the same transaction as the change it stands for,
so a reader that reads the counter first and the data second can only pair
a counter with data at least as new (web/recommender/caching.py). Rows:

* ``(load, 0)``: bumped by every MovieLens load that changed a row (movies,
  ratings, tags change in bulk then, for any user and movie), by a movie
  saved or deleted one at a time (the admin: ``movie_changed`` in
  :mod:`~web.recommender.models.catalogue`) and by every events back-fill
  (``manage.py load_events``) that stored an event;
* ``(user, <user id>)``: the user's ratings, their rows in the active run
  (the worker's refresh), and their events (the events writer must call
  :func:`user_data_changed` in its transaction);
* ``(movie, <movie id>)``: the movie's ratings (its rating summary).

Reading any of them is a primary-key lookup; a missing row reads as 0.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import DEFAULT_DB_ALIAS, connection, connections, models

from web import prepared
from web.runs.models import ActiveRun

LOAD, USER, MOVIE = "load", "user", "movie"
"""The scopes of a counter."""
KEY_RANGE = (-(2**31), 2**31 - 1)
"""What ``DataVersion.key`` (an ``integer`` column) can hold."""
ACTIVE_RUN = ("run", 0)
"""Not a counter: asking :func:`versions` for it reads the active run's id (0 before the first publish)."""


class DataVersion(models.Model):
    """How many times the answers about ``(scope, key)`` may have changed."""

    pk = models.CompositePrimaryKey("scope", "key")
    scope = models.CharField(max_length=8, choices=[(LOAD, LOAD), (USER, USER), (MOVIE, MOVIE)])
    key = models.IntegerField(help_text="A user id, a movie id, or 0 for the load counter.")
    version = models.BigIntegerField(default=0)


def bump(keys: Iterable[tuple[str, int]], using: str = DEFAULT_DB_ALIAS) -> None:
    """Add one to each ``(scope, key)`` counter, in the caller's transaction: one statement.

    The rows are locked in sorted order, so two transactions bumping the
    same counters (a user and a movie) cannot deadlock each other.
    """
    ordered = sorted(set(keys))
    if not ordered:
        return
    values = ", ".join(["(%s, %s, 1)"] * len(ordered))
    with connections[using].cursor() as cursor:
        cursor.execute(bump_sql(f"VALUES {values}"), [part for pair in ordered for part in pair])


def bump_sql(rows: str) -> str:
    """The statement that adds one to the counters of ``rows``, SQL giving ``(scope, key, 1)`` rows (VALUES or a
    SELECT) in the order to lock them; a counter never bumped starts at 1. :func:`bump` and the events' insert use it."""
    table = DataVersion._meta.db_table
    return (f"INSERT INTO {table} (scope, key, version) {rows} "
            f"ON CONFLICT (scope, key) DO UPDATE SET version = {table}.version + 1")


def user_data_changed(user_id: int) -> None:
    """Say, inside the transaction that changes it, that ``user_id``'s list may read differently now.

    Called by a rating, its removal and the worker's refresh; the events
    writer (watched, watchlist, not interested) must call it too, or a
    client keeps a list with a dismissed movie on a 304.
    """
    bump([(USER, int(user_id))])


def versions(keys: Iterable[tuple[str, int]]) -> dict[tuple[str, int], int]:
    """The current counters of ``keys`` (0 for a counter never bumped), and the active run for :data:`ACTIVE_RUN`: one query.

    One scalar subquery per key, each a primary-key probe: PostgreSQL plans
    that several times faster than a row-constructor ``IN`` list with a
    ``UNION`` (docs/decisions.md, "HTTP caching"), and this is what a
    conditional request costs before it is answered 304. Prepared (:mod:`web.prepared`): planned once per
    connection, not on every read.
    """
    asked = list(dict.fromkeys(keys))
    # The prepared statement's key parameter is an integer: an id from a URL beyond its range (a hostile path) is
    # no counter, and sent it would be an error rather than no row.
    wanted = [pair for pair in asked if pair == ACTIVE_RUN or KEY_RANGE[0] <= pair[1] <= KEY_RANGE[1]]
    if not wanted:
        return dict.fromkeys(asked, 0)
    columns, params = [], []
    for pair in wanted:
        if pair == ACTIVE_RUN:
            columns.append(f"(SELECT run_id FROM {ActiveRun._meta.db_table} WHERE id = %s)")
            params.append(ActiveRun.SINGLETON_ID)
        else:
            columns.append(f"(SELECT version FROM {DataVersion._meta.db_table} WHERE scope = %s AND key = %s)")
            params += list(pair)
    shape = "".join("r" if pair == ACTIVE_RUN else "c" for pair in wanted)  # one prepared statement a shape
    with connection.cursor() as cursor:
        prepared.execute(cursor, f"versions_{shape}", f"SELECT {', '.join(columns)}", params)
        row = cursor.fetchone()
    found = {pair: value or 0 for pair, value in zip(wanted, row, strict=True)}
    return {pair: found.get(pair, 0) for pair in asked}
