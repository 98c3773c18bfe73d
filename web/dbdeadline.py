"""Client-side deadlines on the database: a PostgreSQL that stalls ends a wait, not a thread.

The server's own limits (the app role's ``statement_timeout`` and ``lock_timeout``, web/dbroles/roles.py) end a
slow query and a lock wait, but only a server that runs can enforce them. A stopped or frozen one (SIGSTOP, a hung
node or disk) still lets its kernel take the connection's bytes and never answers, and libpq waits for the answer
with no limit of its own. Inside :func:`deadline` a watchdog thread shuts down the socket of the calling thread's
connection once the time is up: the waiting call returns at once with "server closed the connection unexpectedly"
(Django's ``OperationalError``, which the site answers with a 503; web/middleware.py), and Django opens a new
connection for a later request. Opening one is bounded by libpq's ``connect_timeout`` instead
(``DATABASE_CONNECT_TIMEOUT``); past the deadline, :func:`expired` tells callers not to start another.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.db import DEFAULT_DB_ALIAS, OperationalError, connections
from django.db.backends.base.base import BaseDatabaseWrapper

logger = logging.getLogger(__name__)


@dataclass
class _Watch:
    wrapper: BaseDatabaseWrapper
    """The watched thread's own connection handler (Django keeps one per thread)."""
    ends: float
    """``time.monotonic()`` when the wait is cut."""
    seconds: float
    cut: bool = False


_lock = threading.Lock()
_wake = threading.Condition(_lock)
_watches: dict[int, list[_Watch]] = {}
"""Each thread's deadlines, innermost last (it never ends later than the one around it)."""
_watchdog_pid: int | None = None
_sleeping_until = float("inf")
"""``time.monotonic()`` when the watchdog wakes next by itself: only a sooner deadline needs to wake it."""


def _reset_after_fork() -> None:
    # A forked child (a granian worker, RQ's work horse) has none of the parent's threads: it starts its own watchdog.
    global _lock, _wake, _watches, _watchdog_pid, _sleeping_until
    _lock = threading.Lock()
    _wake = threading.Condition(_lock)
    _watches, _watchdog_pid, _sleeping_until = {}, None, float("inf")


os.register_at_fork(after_in_child=_reset_after_fork)


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Within the block, this thread's database connection is cut when ``seconds`` have passed (or an enclosing
    deadline ends, if sooner); a call waiting on it then raises ``OperationalError``."""
    global _watchdog_pid
    thread = threading.get_ident()
    with _wake:
        if _watchdog_pid != os.getpid():
            threading.Thread(target=_watch, name="database-deadlines", daemon=True).start()
            _watchdog_pid = os.getpid()
        stack = _watches.setdefault(thread, [])
        ends = min([time.monotonic() + seconds, *(w.ends for w in stack[-1:])])
        # The watchdog sleeps until the soonest deadline it knows of, or a finished request's: a later one (every
        # request's, as a rule, under traffic) needs no wake-up, so the watchdog wakes about once a timeout, not per request.
        if ends < _sleeping_until:
            _wake.notify()
        stack.append(_Watch(connections[DEFAULT_DB_ALIAS], ends, seconds))
    try:
        yield
    finally:
        with _wake:
            stack.pop()
            if not stack:
                del _watches[thread]


def expired() -> bool:
    """Whether this thread's innermost deadline has passed (its connection was cut, or will be at once)."""
    with _lock:
        stack = _watches.get(threading.get_ident())
        return bool(stack) and (stack[-1].cut or stack[-1].ends <= time.monotonic())


def require_time_left() -> None:
    """Raise ``OperationalError`` when this thread's deadline has passed: for code that reads on after an error (the
    scrape's collectors), where a new connection would wait its own connect timeout for the same silent server."""
    if expired():
        raise OperationalError("the database deadline has passed")


def _watch() -> None:
    global _sleeping_until
    with _wake:
        while True:
            now = time.monotonic()
            pending = [stack[-1] for stack in _watches.values() if not stack[-1].cut]
            for watch in pending:
                if watch.ends <= now:
                    _cut(watch)
            upcoming = [watch.ends - now for watch in pending if not watch.cut]
            _sleeping_until = now + min(upcoming) if upcoming else float("inf")
            _wake.wait(timeout=min(upcoming) if upcoming else None)


def _cut(watch: _Watch) -> None:
    watch.cut = True
    connection = watch.wrapper.connection  # psycopg2's; None while it connects (connect_timeout bounds that)
    if connection is None or connection.closed:
        return
    try:
        # shutdown() acts on the socket itself, which the duplicate descriptor shares: the blocked poll in libpq
        # wakes up and reads end-of-file. Closing the duplicate leaves libpq's own descriptor to libpq.
        with socket.socket(fileno=os.dup(connection.fileno())) as sock:
            sock.shutdown(socket.SHUT_RDWR)
    except OSError as exc:  # closed meanwhile: the thread has already finished with it
        logger.debug("database deadline: nothing to cut (%s)", exc)
        return
    logger.warning("the database did not answer within %g s: the connection was cut", watch.seconds)
