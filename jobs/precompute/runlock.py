"""One precompute run at a time: a PostgreSQL advisory lock held for the whole life of the job process.

Two runs computing at once would double the load on the database and the
CPUs, and the one that finishes last would publish over the other, however
much older its data was. So every job process holds the session-level
advisory lock ``(RUN_NAMESPACE, run id)`` in *shared* mode on a connection
of its own until it exits: the shards of one run (the pods of an Indexed
Job, a restarted shard) share it, and a process of any *other* run is
refused at start, before it creates or claims anything, with the run that
holds the lock named in the message (exit code 2).

Because the lock belongs to the session, PostgreSQL drops it the moment
the process dies, even by SIGKILL or a lost node: a killed run never
blocks the re-run, while its ``Run`` row (still ``running``) shows stalled.
The check and the take happen under a transaction-scoped lock
``(START_NAMESPACE, 0)``, so two processes starting at the same instant
cannot both pass the check.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import psycopg2

from jobs.precompute.options import JobOptions
from web.runs.models import Run, RunStatus

RUN_NAMESPACE = 0x5052  # "PR": held in shared mode, second key = run id
START_NAMESPACE = 0x5053  # "PS": serialises the check-and-take of RUN_NAMESPACE


HELD_CONNECTIONS: list[Any] = []
"""The lock connections of this process. A forked child (the scoring pool) inherits their sockets."""


def _drop_inherited_sockets() -> None:
    # In a forked child: close the child's copy of each lock socket, so it can never write on the parent's
    # session. Not conn.close(), which would send PostgreSQL a Terminate and end the parent's lock; and the
    # objects stay referenced, so no finaliser does that either.
    for conn in HELD_CONNECTIONS:
        try:
            os.close(conn.fileno())
        except OSError:
            pass


os.register_at_fork(after_in_child=_drop_inherited_sockets)


class AnotherRunRunning(Exception):
    """A process of another precompute run holds the lock: this one is refused before it changes anything."""


class RunLock:
    """The job process's hold on "its run is the one being computed"; ``release()`` (or process exit) lets go."""

    def __init__(self, connect: Callable[[], Any]) -> None:
        self._connect = connect
        self._conn: Any = None

    def acquire(self, options: JobOptions, start: Callable[[], Run]) -> Run:
        """Refuse if another run is being computed; otherwise call ``start()`` and hold its run's lock.

        ``start`` creates, claims or joins the run (``Run.objects.start``); it
        runs only after the check, so a refused process leaves nothing behind.
        """
        self._conn = self._connect()
        self._conn.autocommit = False
        HELD_CONNECTIONS.append(self._conn)
        try:
            with self._conn.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s, 0)", [START_NAMESPACE])
                cursor.execute(  # advisory locks are per database: other databases on the server do not count
                    "SELECT objid::bigint, pid FROM pg_locks WHERE locktype = 'advisory' AND classid = %s "
                    "AND objsubid = 2 AND granted "
                    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                    [RUN_NAMESPACE],
                )
                holders = cursor.fetchall()
                allowed = _run_to_join(options)
                others = sorted({(int(run_id), pid) for run_id, pid in holders if int(run_id) != allowed})
                if others:
                    run_id, pid = others[0]
                    raise AnotherRunRunning(
                        f"precompute run {run_id} is being computed (database backend pid {pid}); only one run "
                        "computes at a time. Wait for it to finish, or cancel it on the progress page, then start again"
                    )
                run = start()
                cursor.execute("SELECT pg_advisory_lock_shared(%s, %s)", [RUN_NAMESPACE, int(run.pk) & 0x7FFFFFFF])
            self._conn.commit()  # ends the start lock; the session's run lock stays until release()
        except BaseException:
            self.release()
            raise
        return run

    def release(self) -> None:
        """Drop the run's lock, then close its connection (idempotent).

        Dropped by a statement first: a closed connection ends its session a moment later, in the server's own
        time, and a run started right after (the next run of a test, a chained job) could still find this one's
        lock held and refuse to start.
        """
        if self._conn is not None:
            try:
                HELD_CONNECTIONS.remove(self._conn)
                try:
                    with self._conn.cursor() as cursor:
                        cursor.execute("SELECT pg_advisory_unlock_all()")
                except psycopg2.Error:
                    pass  # a broken connection: its session ends with it, and the lock with the session
                self._conn.close()
            finally:
                self._conn = None


def _run_to_join(options: JobOptions) -> int | None:
    """The id of the run this process would join or claim (its shards may hold the lock), if it names one."""
    if options.run_id is not None:
        return int(options.run_id)
    if options.run_name is not None:
        return (Run.objects.named(options.run_name).exclude(status__in=(RunStatus.SUCCEEDED, RunStatus.CANCELLED))
                .values_list("id", flat=True).first())
    return None
