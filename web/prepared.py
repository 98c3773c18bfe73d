"""The hottest statements as PostgreSQL prepared statements, prepared once per database connection.

A request with an API key runs the token lookup, and a browsing service's
event runs the events' insert; PostgreSQL plans each of them anew every
time it is sent as text, which costs more than running them (figures in
docs/benchmarks.md, "Events in"). ``PREPARE`` plans a statement once for the
session and ``EXECUTE`` reuses the plan; web processes keep their
connections (``CONN_MAX_AGE``), so the plan serves many requests.

A prepared statement belongs to one session: it is remembered with the
connection it was made on, and a new connection (after a restart of the
database, or ``CONN_MAX_AGE``) prepares it again. It survives a rolled-back
transaction, and PostgreSQL plans it again by itself when a table it reads
changes. It does not survive a pooler that shares sessions between clients
per transaction (PgBouncer's transaction mode): such a pooler must keep
sessions (docs/decisions.md, "API").
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from functools import lru_cache

from django.db.backends.utils import CursorWrapper

_STATE = "_prepared_statements"
"""Attribute of Django's connection wrapper: ``(the driver's connection, names prepared on it)``."""
GENERIC = "plan_cache_mode"
"""In that set once the session plans its prepared statements once (``force_generic_plan``). PostgreSQL's default
planned the one-event insert for each call's values anyway (it guesses whether a plan for any values will do), which
left most of the cost in place; the statements prepared here do not change plan with their values. It touches only
prepared statements, and the app prepares no others (Django and psycopg2 send every other query as text)."""


@lru_cache(maxsize=64)
def numbered(sql: str) -> tuple[str, int]:
    """``sql`` written with ``%s`` placeholders, as PREPARE takes it (``$1``, ``$2``, ...), and how many there are.

    ValueError for any other ``%`` (an escaped ``%%``, a named placeholder): such SQL is not one of the statements
    this module is for.
    """
    numbers = itertools.count(1)
    text = re.sub(r"%s", lambda _: f"${next(numbers)}", sql)
    if "%" in text:
        raise ValueError("a prepared statement's SQL may hold no '%' but its %s placeholders")
    return text, next(numbers) - 1


def execute(cursor: CursorWrapper, name: str, sql: str, params: Sequence) -> None:
    """Run ``sql`` (with ``%s`` placeholders for ``params``) on ``cursor`` as this connection's prepared statement
    ``name``, preparing it first if this connection has not. One ``name`` must always stand for the same ``sql``."""
    text, count = numbered(sql)
    if count != len(params):
        raise ValueError(f"{name}: {count} placeholders, {len(params)} parameters")
    wrapper = cursor.db
    state = wrapper.__dict__.get(_STATE)
    if state is None or state[0] is not wrapper.connection:
        state = (wrapper.connection, set())
        wrapper.__dict__[_STATE] = state
    if GENERIC not in state[1] and not wrapper.in_atomic_block:  # inside a transaction a rollback would undo the SET
        cursor.execute("SET plan_cache_mode = force_generic_plan")
        state[1].add(GENERIC)
    if name not in state[1]:
        cursor.execute(f"PREPARE {name} AS {text}")
        state[1].add(name)
    cursor.execute(f"EXECUTE {name}({', '.join(['%s'] * count)})" if count else f"EXECUTE {name}", params)
