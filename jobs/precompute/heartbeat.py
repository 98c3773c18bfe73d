"""The run's progress in PostgreSQL: a background thread writes it about once a second.

The progress page only reads ``progress_run`` and ``progress_shardprogress``,
so it survives a redeploy of the web app and shows a job that stops writing
(killed, node lost) as stalled once ``heartbeat_at`` is older than
``web.runs.models.stall_after``.

Why a thread: the beat must continue while the main thread is busy for
minutes inside one call (loading 25M ratings, fitting a kNN model), or the
run would look stalled while it works. The thread owns a connection of its
own in autocommit, so each beat is a short transaction of its own, visible at
once, and never part of the job's other work. It writes only the progress
columns (never ``status``); the main thread writes the final status after
:meth:`DbHeartbeat.close`, so a late beat can never overwrite it.

Each beat also writes the log lines the job handed over since the last one
(:meth:`DbHeartbeat.log`) and deletes the run's lines beyond the newest
``LOG_LINES_KEPT``, so the page can show a run's log without a pod's.

The beat also reads the run's status back: an operator who sets it to
``cancelled`` (the progress page) makes :meth:`DbHeartbeat.raise_if_cancelled`
raise in the main thread at the next chunk or stage.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from jobs.precompute.progress import ProgressReporter
from web.runs.errors import RunCancelled
from web.runs.models import LOG_LINES_KEPT, Stage

logger = logging.getLogger("jobs.precompute")

HEARTBEAT_SECONDS = 1.0
"""Seconds between two progress writes (a stage change is written at once)."""
ERROR_LOG_SECONDS = 30.0
"""Seconds between two log lines about failing progress writes."""
STAGE_ORDER = [stage.value for stage in Stage]
"""The stages in the order a run goes through them: a sharded run's stage is its least advanced working shard's."""


class DbHeartbeat(ProgressReporter):
    """Writes stage, counts and ``heartbeat_at`` of run ``run_id`` and its shard row, from a thread.

    ``connect`` returns a new DB-API connection (the job passes Django's
    settings through ``DatabaseWrapper.get_new_connection``).
    """

    def __init__(
        self,
        run_id: int,
        connect: Callable[[], object],
        *,
        run_table: str,
        shard_table: str,
        shard: int = 0,
        interval: float = HEARTBEAT_SECONDS,
        log_table: str | None = None,
    ) -> None:
        self.run_id, self.shard, self.interval = run_id, shard, interval
        self._connect = connect
        self._sql = (
            f"UPDATE {shard_table} SET stage = %(stage)s, users_total = %(total)s, users_done = %(done)s, "
            f"rows_written = %(rows)s, heartbeat_at = now() WHERE run_id = %(run)s AND shard = %(shard)s; "
            # The run's counts are the sums over its shards, and its stage is its least advanced working shard's (the
            # run is as far as its slowest shard; a shard that finished its part, status succeeded or stage done, no
            # longer counts, but the beating one does: the last shard writes, indexes and publishes after finishing).
            f"UPDATE {run_table} r SET stage = coalesce((SELECT stage FROM {shard_table} WHERE run_id = %(run)s "
            f"AND (status = 'running' OR shard = %(shard)s) AND stage <> 'done' "
            f"ORDER BY array_position(%(stages)s::text[], stage::text) LIMIT 1), r.stage), "
            f"users_total = s.total, users_done = s.done, rows_written = s.rows, heartbeat_at = now() "
            f"FROM (SELECT coalesce(sum(users_total), 0) AS total, coalesce(sum(users_done), 0) AS done, "
            f"coalesce(sum(rows_written), 0) AS rows FROM {shard_table} WHERE run_id = %(run)s) s "
            f"WHERE r.id = %(run)s RETURNING r.status"
        )
        # A log line is inserted with the beat; then the run's lines older than the newest LOG_LINES_KEPT go.
        self._log_sql = None if log_table is None else (
            f"INSERT INTO {log_table} (run_id, shard, at, line) SELECT %(run)s, %(shard)s, now(), line "
            f"FROM unnest(%(lines)s::text[]) WITH ORDINALITY AS t(line, n) ORDER BY n; "
            f"DELETE FROM {log_table} WHERE run_id = %(run)s AND id <= (SELECT id FROM {log_table} "
            f"WHERE run_id = %(run)s ORDER BY id DESC OFFSET {LOG_LINES_KEPT} LIMIT 1)"
        )
        self._log_lines: deque[str] = deque(maxlen=LOG_LINES_KEPT)  # a job that logs faster than it beats keeps the newest
        self._logged = 0  # lines handed over so far: what was logged while a beat wrote stays for the next one
        self.current_stage: str | None = None
        self.users_total = self.users_done = self.rows_written = 0
        self._state_lock = threading.Lock()  # guards the counters between the two threads
        self._io_lock = threading.Lock()  # held while writing, and while the job forks
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._cancelled = threading.Event()
        self._connection = None
        self._last_error_log = 0.0
        self._thread = threading.Thread(target=self._loop, name=f"heartbeat-run-{run_id}", daemon=True)

    # -- ProgressReporter ---------------------------------------------------
    def start(self) -> DbHeartbeat:
        self._thread.start()
        return self

    def stage(self, stage: str, total: int | None = None) -> None:
        with self._state_lock:
            self.current_stage = stage
            if total is not None:
                self.users_total = total
        self._wake.set()

    def advance(self, done: int, rows: int = 0) -> None:
        with self._state_lock:
            self.users_done += done
            self.rows_written += rows

    def log(self, line: str) -> None:
        with self._state_lock:
            self._log_lines.append(line)
            self._logged += 1

    def close(self) -> None:
        """Stop the thread after one last write of the latest counts."""
        if self._thread.is_alive():
            self._stopping.set()
            self._wake.set()
            self._thread.join()
        with self._io_lock:
            self._disconnect()

    # -- cancellation -------------------------------------------------------
    def raise_if_cancelled(self) -> None:
        """Raise :class:`RunCancelled` if a beat saw the run's status become ``cancelled``."""
        if self._cancelled.is_set():
            raise RunCancelled(f"run {self.run_id} was cancelled by an operator")

    # -- fork safety --------------------------------------------------------
    @contextmanager
    def paused(self) -> Iterator[None]:
        """No write in flight and no open connection while the block runs (the job forks its pool in it)."""
        with self._io_lock:
            self._disconnect()
            yield

    # -- the thread ---------------------------------------------------------
    def _loop(self) -> None:
        while True:
            self._wake.wait(self.interval)
            self._wake.clear()
            self._beat()
            if self._stopping.is_set():
                return

    def _beat(self) -> None:
        with self._state_lock:
            if self.current_stage is None:
                return
        with self._io_lock:
            try:
                if self._connection is None:
                    self._connection = self._connect()
                    self._connection.autocommit = True
                # The counts are read after connecting, not before: a beat must not write counts older than
                # what the job has written since (finish_shard's, while this beat waited for its connection).
                with self._state_lock:
                    values = {
                        "stage": self.current_stage,
                        "total": self.users_total,
                        "done": self.users_done,
                        "rows": self.rows_written,
                        "run": self.run_id,
                        "shard": self.shard,
                        "stages": STAGE_ORDER,
                    }
                    lines = list(self._log_lines) if self._log_sql else []
                    logged = self._logged
                with self._connection.cursor() as cursor:
                    cursor.execute(self._sql, values)
                    row = cursor.fetchone()
                    self._write_log(cursor, lines, logged)
                if row is not None and row[0] == "cancelled":
                    self._cancelled.set()
            except Exception as exc:  # a lost beat must not stop the job: the next one retries
                self._disconnect()
                now = time.monotonic()
                if now - self._last_error_log >= ERROR_LOG_SECONDS:
                    self._last_error_log = now
                    logger.warning("run %s: could not write progress: %s", self.run_id, exc)

    def _write_log(self, cursor, lines: list[str], logged: int) -> None:
        """Insert ``lines`` (the first ``logged`` handed over), trim the run's log, and forget what was written."""
        if not lines:
            return
        cursor.execute(self._log_sql, {"run": self.run_id, "shard": self.shard, "lines": lines})
        with self._state_lock:  # only what was written: lines logged meanwhile wait for the next write
            unwritten = min(self._logged - logged, len(self._log_lines))
            while len(self._log_lines) > unwritten:
                self._log_lines.popleft()

    def write_log(self) -> None:
        """Write the lines logged since the last beat, from the calling thread: the job's last lines (its outcome,
        retention) come after :meth:`close`, which has to precede the final status."""
        with self._state_lock:
            lines, logged = (list(self._log_lines) if self._log_sql else []), self._logged
        if not lines:
            return
        with self._io_lock:
            try:
                self._connection = self._connect()
                self._connection.autocommit = True
                with self._connection.cursor() as cursor:
                    self._write_log(cursor, lines, logged)
            except Exception as exc:  # noqa: BLE001 - the log is for reading; the run's outcome is already recorded
                logger.warning("run %s: could not keep its last log lines: %s", self.run_id, exc)
            finally:
                self._disconnect()

    def _disconnect(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            except Exception:  # noqa: BLE001 - closing a broken connection may fail too
                pass
            self._connection = None
