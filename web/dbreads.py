"""A request's first read, run without Django's connection health check and retried once instead.

``CONN_HEALTH_CHECKS`` sends ``SELECT 1`` before the first query of each
request that reuses a pooled connection: a round trip as dear as a small
query. A read outside any transaction can find a dead connection by using
it: on a connection error the connection is closed and the read runs once
more on a new one, which is what the check would have done, one round trip
cheaper when the connection is fine (docs/decisions.md, "HTTP caching").
A read cut by its deadline (web/dbdeadline.py: the server stalled) is not run again: the time is up.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from django.db import InterfaceError, OperationalError, connection

from web import dbdeadline

T = TypeVar("T")


def first_read(read: Callable[[], T]) -> T:
    """``read()`` (queries that only read, outside a transaction) with the request's health check skipped; on a
    connection error the connection is closed and ``read()`` runs once more (unless the thread's database deadline
    has passed), whose error, if any, is raised."""
    if connection.in_atomic_block:
        return read()  # a transaction's connection is checked when it began; it cannot be swapped mid-way
    if connection.connection is not None:
        connection.health_check_done = True  # Django's flag (4.1+): this request's check is done
    try:
        return read()
    except (OperationalError, InterfaceError):
        connection.close()  # a broken connection: the next attempt opens a new one
        if dbdeadline.expired():
            raise
        return read()
