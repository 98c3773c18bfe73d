"""The per-run tables of scores and similar movies: their schema, partitions, and the one writer of score rows.

Storage per run: the run's scores go into a table of their own,
``recommender_userscore_r<run_id>``, filled with binary COPY, indexed, then
attached as the run's partition of ``recommender_userscore`` (partitioned by
``run_id``, migration 0002); its item-item neighbours likewise into
``recommender_similarmovie_r<run_id>``. Serving readers always filter on the
active run's id, so an attached partition of a run that is not active is
invisible to them.

Shards and resume: every shard of a run COPYs into the same run table; each
chunk's COPY and its row in ``recommender_userscore_r<run_id>_done`` commit
in one transaction, so a chunk is either fully written and recorded or not
at all, and a restarted shard skips exactly the recorded chunks.

Score rows are written by :func:`write_scores` only: the job's chunks
(:func:`write_chunk`) and the worker's refresh of one user
(:func:`replace_user_scores`) both go through it, with one column type map.
The Django models that read these tables (``UserScore``, ``SimilarMovie``)
are the recommender app's; they name their tables with the constants here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from django.db import connection, transaction

from web.pgcopy import copy_columns
from web.runs.locks import advisory_xact_lock

SCORE_TABLE = "recommender_userscore"
"""The partitioned parent of every run's score table (the ``UserScore`` model's table)."""
SCORE_TYPES = {"run_id": "bigint", "user_id": "integer", "movie_id": "integer", "score": "real", "rank": "smallint"}
"""PostgreSQL types of the score table's columns, for binary COPY."""
SIMILAR_TABLE = "recommender_similarmovie"
"""The partitioned parent of every run's similar-movies table (the ``SimilarMovie`` model's table)."""
SIMILAR_TYPES = {"run_id": "bigint", "movie_id": "integer", "neighbour_id": "integer", "score": "real", "rank": "smallint"}
"""PostgreSQL types of the similar-movies table's columns, for binary COPY."""
_RUN_TABLE = re.compile(rf"^(?:{SCORE_TABLE}_r(\d+)(?:_done)?|{SIMILAR_TABLE}_r(\d+))$")


@dataclass
class ScoreRows:
    """Score rows of some users, one array per column, all of length n_rows; ``rank`` runs 1.. per user."""

    user_id: np.ndarray  # int32
    movie_id: np.ndarray  # int32
    score: np.ndarray  # float32
    rank: np.ndarray  # int16

    def __len__(self) -> int:
        return len(self.user_id)


def run_table(run_id: int) -> str:
    """The name of run ``run_id``'s own score table (its partition once attached)."""
    return f"{SCORE_TABLE}_r{int(run_id)}"


def similar_table(run_id: int) -> str:
    """The name of run ``run_id``'s similar-movies table (its partition of recommender_similarmovie once attached)."""
    return f"{SIMILAR_TABLE}_r{int(run_id)}"


def done_table(run_id: int) -> str:
    """The name of run ``run_id``'s record of finished chunks (shard, first and last user id, rows)."""
    return f"{SCORE_TABLE}_r{int(run_id)}_done"


# -- writing a run's scores ----------------------------------------------------
def create_run_table(run_id: int) -> None:
    """The run's unindexed score table (shaped like the partitioned parent, for fast COPY) and its chunk record.

    Idempotent and under the run's advisory lock: the shards of a run all call it.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        advisory_xact_lock(cursor, run_id)
        cursor.execute(f"CREATE TABLE IF NOT EXISTS {run_table(run_id)} (LIKE {SCORE_TABLE} INCLUDING DEFAULTS)")
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {done_table(run_id)} (shard smallint NOT NULL, first_user integer NOT NULL, "
            "last_user integer NOT NULL, users integer NOT NULL, rows bigint NOT NULL, PRIMARY KEY (shard, first_user))"
        )


def done_chunks(run_id: int, shard: int) -> dict[tuple[int, int], tuple[int, int]]:
    """Shard ``shard``'s finished chunks: (first user id, last user id) -> (users, rows)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT first_user, last_user, users, rows FROM {done_table(run_id)} WHERE shard = %s", [shard])
        return {(first, last): (users, rows) for first, last, users, rows in cursor.fetchall()}


def discard_chunks(run_id: int, shard: int, shards: int, keys: list[tuple[int, int]]) -> None:
    """Delete recorded chunks that no longer match this process's chunking (the ratings changed), rows and records.

    Rare (a restart after new users arrived), so a scan of the unindexed table is acceptable.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        for first, last in keys:
            cursor.execute(
                f"DELETE FROM {run_table(run_id)} WHERE user_id BETWEEN %s AND %s AND user_id %% %s = %s",
                [first, last, shards, shard],
            )
            cursor.execute(f"DELETE FROM {done_table(run_id)} WHERE shard = %s AND first_user = %s", [shard, first])


def write_chunk(run_id: int, shard: int, rows: ScoreRows, *, users: int, first_user: int, last_user: int) -> int:
    """COPY one chunk's rows and record the chunk (of ``users`` users) as done, in one transaction; returns rows."""
    with transaction.atomic():
        written = write_scores(run_table(run_id), run_id, rows)
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {done_table(run_id)} (shard, first_user, last_user, users, rows) VALUES (%s, %s, %s, %s, %s)",
                [shard, first_user, last_user, users, written],
            )
    return written


def replace_user_scores(run_id: int, user_ids: list[int], rows: ScoreRows) -> int:
    """Replace the users' rows of the (attached) run in one transaction: readers see a user's old list or the new one."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {SCORE_TABLE} WHERE run_id = %s AND user_id = ANY(%s)", [run_id, list(user_ids)])
        return write_scores(SCORE_TABLE, run_id, rows)


def write_scores(table: str, run_id: int, rows: ScoreRows) -> int:
    """COPY ``rows`` of run ``run_id`` into ``table`` (binary, one statement); returns the row count."""
    if len(rows) == 0:
        return 0
    columns = {
        "run_id": np.full(len(rows), run_id, dtype=np.int64),
        "user_id": rows.user_id,
        "movie_id": rows.movie_id,
        "score": rows.score,
        "rank": rows.rank,
    }
    with connection.cursor() as cursor:
        return copy_columns(cursor.cursor, table, columns, SCORE_TYPES)


# -- partitions ------------------------------------------------------------------
def index_and_attach(run_id: int) -> None:
    """Add the serving key to the run's score table, then attach it as the run's partition."""
    attach_partition(SCORE_TABLE, run_table(run_id), "run_id, user_id, rank", run_id)


def attach_partition(parent: str, table: str, key: str, run_id: int) -> None:
    """Primary key ``key`` and attach ``table`` to ``parent``; a step already done (a retried finish) is skipped.

    The CHECK constraint lets ATTACH skip its validation scan (PostgreSQL
    proves the partition bound from it); it is dropped afterwards as the
    PostgreSQL docs advise. ATTACH takes only SHARE UPDATE EXCLUSIVE on the
    parent, so serving reads of the active run go on meanwhile.
    """
    run_id = int(run_id)
    with connection.cursor() as cursor:
        if _is_attached(cursor, table):
            return
        cursor.execute("SELECT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = %s)", [f"{table}_pkey"])
        if not cursor.fetchone()[0]:
            cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {table}_pkey PRIMARY KEY ({key})")
        cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {table}_run")
        cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {table}_run CHECK (run_id IS NOT NULL AND run_id = {run_id})")
        cursor.execute(f"ANALYZE {table}")
        cursor.execute(f"ALTER TABLE {parent} ATTACH PARTITION {table} FOR VALUES IN ({run_id})")
        cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {table}_run")


def is_attached(table: str) -> bool:
    """Whether ``table`` is a partition of some table now."""
    with connection.cursor() as cursor:
        return _is_attached(cursor, table)


def _is_attached(cursor, table: str) -> bool:
    cursor.execute("SELECT EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = to_regclass(%s))", [table])
    return bool(cursor.fetchone()[0])


def attached_run_ids() -> set[int]:
    """Ids of the runs whose score table is attached to ``recommender_userscore`` (servable runs)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = to_regclass(%s)",
            [SCORE_TABLE],
        )
        names = [name for (name,) in cursor.fetchall()]
    prefix = f"{SCORE_TABLE}_r"
    return {int(name[len(prefix):]) for name in names if name.startswith(prefix) and name[len(prefix):].isdigit()}


# -- dropping them ----------------------------------------------------------------
def run_tables() -> list[int]:
    """Run ids that have a score or similar-movies table (attached or not) or a chunk record."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname FROM pg_class WHERE relkind = 'r' AND (relname LIKE %s OR relname LIKE %s) "
            "AND pg_table_is_visible(oid)",
            [f"{SCORE_TABLE}_r%", f"{SIMILAR_TABLE}_r%"],
        )
        names = [name for (name,) in cursor.fetchall()]
    return sorted({int(match.group(1) or match.group(2)) for name in names if (match := _RUN_TABLE.match(name))})


def drop_run_tables(run_id: int) -> None:
    """Detach (if attached) and drop run ``run_id``'s score and similar-movies tables and its chunk record."""
    with connection.cursor() as cursor:
        for parent, table in ((SCORE_TABLE, run_table(run_id)), (SIMILAR_TABLE, similar_table(run_id))):
            cursor.execute(
                "SELECT to_regclass(%s) IS NOT NULL, EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = to_regclass(%s))",
                [table, table],
            )
            exists, attached = cursor.fetchone()
            if attached:
                _detach(cursor, parent, table)
            if exists:
                cursor.execute(f"DROP TABLE {table}")
        cursor.execute(f"DROP TABLE IF EXISTS {done_table(run_id)}")


def drop_leftover_tables(run_id: int) -> None:
    """Drop whatever tables carry the id of run ``run_id``, which is starting for the first time, so none are its own.

    They are another run's that had the same id: restoring a backup into the running database (pg_restore
    --clean, docs/kubernetes.md) puts the run id sequence back, but leaves the chunk records and unattached
    tables of the runs made after the backup, which the dump does not name. Taken as this run's, their chunk
    record would skip every chunk and publish a run without scores. Plain DROPs (a partition too), so the
    caller's transaction holds them together with the start.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            f"DROP TABLE IF EXISTS {run_table(run_id)}, {similar_table(run_id)}, {done_table(run_id)}"
        )


def _detach(cursor, parent: str, table: str) -> None:
    """Detach without blocking serving reads of the other partitions (CONCURRENTLY, PostgreSQL 14+)."""
    try:
        cursor.execute(f"ALTER TABLE {parent} DETACH PARTITION {table} CONCURRENTLY")
    except Exception as exc:
        # An interrupted concurrent detach leaves the partition "detach pending"; FINALIZE completes it.
        if "pending" not in str(exc):
            raise
        cursor.execute(f"ALTER TABLE {parent} DETACH PARTITION {table} FINALIZE")
