"""Every database read and write of the precompute job (Django must be set up).

Storage per run: the run's scores go into a table of their own,
``recommender_userscore_r<run_id>``, filled with binary COPY, indexed, then
attached as the run's partition of ``recommender_userscore``; its item-item
neighbours likewise into ``recommender_similarmovie_r<run_id>``. Serving
readers always filter on the active run's id, so an attached partition of a
run that is not active is invisible to them; publishing is the single
UPDATE of ``progress_activerun`` (with the run's success, in one
transaction). Retention detaches and drops old partitions.

Shards and resume: every shard of a run COPYs into the same run table; each
chunk's COPY and its row in ``recommender_userscore_r<run_id>_done`` commit
in one transaction, so a chunk is either fully written and recorded or not
at all, and a restarted shard skips exactly the recorded chunks.
"""

from __future__ import annotations

import pickle
import re
import socket
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db import connection, models, transaction
from django.utils import timezone

from jobs.precompute.copyout import read_columns
from jobs.precompute.heartbeat import RunCancelled
from jobs.precompute.options import DEFAULT_ALGORITHM, JobOptions, RunSpec, resolve
from jobs.precompute.pool import ChunkRows
from scoring.base import Scorer
from web.pgcopy import copy_columns
from web.progress.models import ActiveRun, Run, RunStatus, ShardProgress, Stage
from web.recommender.models import FittedModel, PopularMovie, Rating, SimilarMovie, UserScore
from web.security import sign_model

SCORE_TABLE = UserScore._meta.db_table
SCORE_TYPES = {"run_id": "bigint", "user_id": "integer", "movie_id": "integer", "score": "real", "rank": "smallint"}
SIMILAR_TABLE = SimilarMovie._meta.db_table
SIMILAR_TYPES = {"run_id": "bigint", "movie_id": "integer", "neighbour_id": "integer", "score": "real", "rank": "smallint"}
FINISHED = (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED)
SHARD = 0
"""The shard of an unsharded run."""
RUN_NAME_KEY = "run_name"
"""Key in ``Run.metrics`` of the name that shards (and restarts) of one run share (``--run-name``)."""
_LOCK_NAMESPACE = 0x5043  # "PC": first key of the job's advisory locks
_RUN_TABLE = re.compile(rf"^(?:{SCORE_TABLE}|{SIMILAR_TABLE})_r(\d+)$")


class RunNotPending(Exception):
    """``--run-id`` named a run that does not exist or is no longer pending."""


def run_table(run_id: int) -> str:
    """The name of run ``run_id``'s own score table (its partition once attached)."""
    return f"{SCORE_TABLE}_r{int(run_id)}"


def similar_table(run_id: int) -> str:
    """The name of run ``run_id``'s similar-movies table (its partition of recommender_similarmovie once attached)."""
    return f"{SIMILAR_TABLE}_r{int(run_id)}"


def done_table(run_id: int) -> str:
    """The name of run ``run_id``'s record of finished chunks (shard, first and last user id, rows)."""
    return f"{SCORE_TABLE}_r{int(run_id)}_done"


def _advisory_lock(cursor, key: int) -> None:
    """Take the job's transaction-scoped advisory lock ``key`` (released at commit or rollback)."""
    cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_LOCK_NAMESPACE, int(key) & 0x7FFFFFFF])


# -- the run row ------------------------------------------------------------
def create_pending_run(algorithm: str, parameters: dict[str, Any] | None = None) -> Run:
    """A pending run for ``python -m jobs.precompute --run-id <id>`` (the progress page's "start").

    ``parameters`` may hold ``top_n``, ``popular`` and the algorithm's
    hyperparameters; they are checked now, so a bad value is a ``ValueError``
    here and not a failed run later.
    """
    spec = resolve(JobOptions(), algorithm, parameters)
    model = spec.make_model()
    return Run.objects.create(
        algorithm=spec.algorithm, parameters=spec.run_parameters(model), status=RunStatus.PENDING, stage=Stage.QUEUED
    )


def start_run(options: JobOptions) -> Run:
    """Create a running run, claim the pending run ``options.run_id``, or join the run ``options.run_name``.

    Claiming is one conditional UPDATE, so two jobs can never take the same
    pending run. A run name (``--run-name``, the Indexed Job's name) is what
    the n shards of one run, and any restart of one of them, agree on: the
    first process creates the run, the others join it while it is running
    (or failed, which a retried shard resumes), all under an advisory lock.
    The process's shard row is (re)set to running either way.
    """
    now = timezone.now()
    if options.run_name is not None:
        run = _join_named_run(options, now)
    elif options.run_id is None:
        run = Run.objects.create(
            algorithm=options.algorithm or DEFAULT_ALGORITHM,  # the full record follows in record_spec
            parameters=dict(options.params),
            status=RunStatus.RUNNING,
            shards=options.shards,
            started_at=now,
            heartbeat_at=now,
        )
    else:
        claimed = Run.objects.filter(pk=options.run_id, status=RunStatus.PENDING).update(
            status=RunStatus.RUNNING, started_at=now, heartbeat_at=now, shards=options.shards
        )
        run = Run.objects.filter(pk=options.run_id).first()
        if run is None:
            raise RunNotPending(f"run {options.run_id} does not exist")
        if not claimed:
            joinable = options.shards > 1 and run.shards == options.shards and run.status == RunStatus.RUNNING
            if not joinable:
                raise RunNotPending(f"run {options.run_id} is {run.status}; only a pending run can be started")
            run.joined = True
    ShardProgress.objects.update_or_create(
        run=run,
        shard=options.shard,
        defaults={"host": socket.gethostname()[:255], "status": RunStatus.RUNNING, "stage": Stage.QUEUED,
                  "started_at": now, "heartbeat_at": now, "finished_at": None},
    )
    return run


def _join_named_run(options: JobOptions, now) -> Run:
    name = options.run_name
    with transaction.atomic(), connection.cursor() as cursor:
        _advisory_lock(cursor, zlib_crc(name))
        run = Run.objects.select_for_update().filter(**{f"metrics__{RUN_NAME_KEY}": name}).order_by("-id").first()
        if run is not None and run.status == RunStatus.CANCELLED:
            # An operator cancelled it (perhaps before its pods started): its late pods must not start it again.
            raise RunNotPending(f"run {run.pk} ({name!r}) was cancelled; start a new run under another name")
        if run is None or run.status == RunStatus.SUCCEEDED:
            return Run.objects.create(
                algorithm=options.algorithm or DEFAULT_ALGORITHM,
                parameters=dict(options.params),
                status=RunStatus.RUNNING,
                shards=options.shards,
                started_at=now,
                heartbeat_at=now,
                metrics={RUN_NAME_KEY: name},
            )
        if run.shards != options.shards:
            raise RunNotPending(
                f"run {run.pk} ({name!r}) has {run.shards} shard(s); this process was started as one of {options.shards}"
            )
        Run.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING, error="", finished_at=None, heartbeat_at=now,
                                             started_at=run.started_at or now)
        run.refresh_from_db()
        run.joined = True  # another process started it: this one must match its recorded settings
        return run


def zlib_crc(text: str) -> int:
    """A stable 31-bit key for ``text`` (Python's ``hash`` differs between processes)."""
    import zlib

    return zlib.crc32(text.encode()) & 0x7FFFFFFF


def record_spec(run_id: int, spec: RunSpec, model: Scorer, *, joined: bool = False) -> None:
    """Store the algorithm and every parameter (defaults included) that the run uses.

    A process that ``joined`` a run another process already recorded (a
    shard, a restart) must bring the same settings: their rows end up in one run.
    """
    parameters = spec.run_parameters(model)
    with transaction.atomic():
        run = Run.objects.select_for_update().get(pk=run_id)
        recorded = "top_n" in run.parameters  # set only by a record_spec or a pending run's create
        if joined and recorded and (run.algorithm, run.parameters) != (spec.algorithm, parameters):
            raise ValueError(
                f"this process's settings ({spec.algorithm} {parameters}) differ from those run {run_id} "
                f"was started with ({run.algorithm} {run.parameters}); start every shard with the same options"
            )
        Run.objects.filter(pk=run_id).update(algorithm=spec.algorithm, parameters=parameters)


# -- ratings ----------------------------------------------------------------
def load_ratings() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All ratings as (user_id int32, movie_id int32, rating float32) arrays, by binary COPY."""
    query = f"SELECT user_id, movie_id, rating::real FROM {Rating._meta.db_table}"
    with connection.cursor() as cursor:
        users, movies, ratings = read_columns(cursor.cursor, query, ["integer", "integer", "real"])
    if len(users) == 0:
        raise ValueError(
            f"{Rating._meta.db_table} is empty: load ratings first (python manage.py load_movielens DIR)"
        )
    return users, movies, ratings


# -- the run's score table --------------------------------------------------
def create_run_table(run_id: int) -> None:
    """The run's unindexed score table (shaped like the partitioned parent, for fast COPY) and its chunk record.

    Idempotent and under the run's advisory lock: the shards of a run all call it.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        _advisory_lock(cursor, run_id)
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


def write_chunk(run_id: int, shard: int, rows: ChunkRows, first_user: int, last_user: int) -> int:
    """COPY one chunk's rows and record the chunk as done, in one transaction; returns the row count."""
    with transaction.atomic():
        written = write_scores(run_id, rows)
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {done_table(run_id)} (shard, first_user, last_user, users, rows) VALUES (%s, %s, %s, %s, %s)",
                [shard, first_user, last_user, rows.users, written],
            )
    return written


def write_scores(run_id: int, rows: ChunkRows) -> int:
    """COPY one chunk's rows into the run's table (binary, one statement); returns the row count."""
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
        return copy_columns(cursor.cursor, run_table(run_id), columns, SCORE_TYPES)


def index_and_attach(run_id: int) -> None:
    """Add the serving key, then attach the table as the run's partition.

    The CHECK constraint lets ATTACH skip its validation scan (PostgreSQL
    proves the partition bound from it); it is dropped afterwards as the
    PostgreSQL docs advise. ATTACH takes only SHARE UPDATE EXCLUSIVE on the
    parent, so serving reads of the active run go on meanwhile.
    """
    _index_and_attach(SCORE_TABLE, run_table(run_id), "run_id, user_id, rank", run_id)


def _index_and_attach(parent: str, table: str, key: str, run_id: int) -> None:
    """Primary key ``key`` and attach ``table`` to ``parent``; a step already done (a retried finish) is skipped."""
    run_id = int(run_id)
    with connection.cursor() as cursor:
        cursor.execute("SELECT EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = to_regclass(%s))", [table])
        if cursor.fetchone()[0]:
            return
        cursor.execute("SELECT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = %s)", [f"{table}_pkey"])
        if not cursor.fetchone()[0]:
            cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {table}_pkey PRIMARY KEY ({key})")
        cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {table}_run")
        cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {table}_run CHECK (run_id IS NOT NULL AND run_id = {run_id})")
        cursor.execute(f"ANALYZE {table}")
        cursor.execute(f"ALTER TABLE {parent} ATTACH PARTITION {table} FOR VALUES IN ({run_id})")
        cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {table}_run")


def write_similar(run_id: int, movie_ids: np.ndarray, neighbours: np.ndarray, similarities: np.ndarray) -> int:
    """The run's similar movies: ``neighbours`` (n_items, k) columns best first, -1 padded; returns rows.

    Its own table, COPY, primary key, attached to ``recommender_similarmovie``
    like the scores; a retried finish starts the table afresh unless it is
    already attached.
    """
    table = similar_table(run_id)
    valid = neighbours >= 0
    per_movie = valid.sum(axis=1)
    columns = {
        "run_id": np.full(int(valid.sum()), run_id, dtype=np.int64),
        "movie_id": np.repeat(movie_ids, per_movie).astype(np.int32),
        "neighbour_id": movie_ids[neighbours[valid]].astype(np.int32),
        "score": similarities[valid].astype(np.float32),
        "rank": np.broadcast_to(np.arange(1, neighbours.shape[1] + 1, dtype=np.int16), neighbours.shape)[valid],
    }
    with connection.cursor() as cursor:
        cursor.execute("SELECT EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = to_regclass(%s))", [table])
        if cursor.fetchone()[0]:
            return int(valid.sum())
        cursor.execute(f"DROP TABLE IF EXISTS {table}")
        cursor.execute(f"CREATE TABLE {table} (LIKE {SIMILAR_TABLE} INCLUDING DEFAULTS)")
        copy_columns(cursor.cursor, table, columns, SIMILAR_TYPES)
    _index_and_attach(SIMILAR_TABLE, table, "run_id, movie_id, rank", run_id)
    return int(valid.sum())


def write_popular(run_id: int, movie_ids: np.ndarray, scores: np.ndarray) -> None:
    """The run's cold-start list: ``movie_ids`` (best first) with their ``scores``, ranked from 1 (replaces any earlier try)."""
    PopularMovie.objects.filter(run_id=run_id).delete()
    PopularMovie.objects.bulk_create(
        PopularMovie(run_id=run_id, movie_id=int(movie), score=float(score), rank=rank)
        for rank, (movie, score) in enumerate(zip(movie_ids.tolist(), scores.tolist(), strict=True), start=1)
    )


def write_fitted_model(run_id: int, model: Scorer) -> int:
    """Pickle ``model``, signed for the run, into its FittedModel row (the RQ worker scores single users with it); returns bytes."""
    data = sign_model(run_id, pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL))
    FittedModel.objects.update_or_create(run_id=run_id, defaults={"algorithm": model.name, "data": data})
    return len(data)


# -- ending the run ---------------------------------------------------------
@dataclass
class Counts:
    users_total: int
    users_done: int
    rows_written: int


def finish_shard(run_id: int, shard: int, counts: Counts) -> bool:
    """Mark shard ``shard``'s scores as written; True if it is the last shard of the run (it then publishes).

    Marking and counting happen under the run's advisory lock, so of n
    shards finishing at once exactly one sees all n done.
    """
    now = timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        _advisory_lock(cursor, run_id)
        ShardProgress.objects.filter(run_id=run_id, shard=shard).update(
            status=RunStatus.SUCCEEDED, users_total=counts.users_total, users_done=counts.users_done,
            rows_written=counts.rows_written, heartbeat_at=now, finished_at=now,
        )
        shards = Run.objects.filter(pk=run_id).values_list("shards", flat=True).get()
        done = ShardProgress.objects.filter(run_id=run_id, status=RunStatus.SUCCEEDED).count()
        return done >= shards


def publish(run_id: int, counts: Counts, metrics: dict[str, Any]) -> None:
    """Make the run the served one and mark it succeeded, in one transaction.

    Readers see the previous active run until this commits, then this one;
    a run an operator cancelled meanwhile is not published.
    """
    now = timezone.now()
    with transaction.atomic():
        run = Run.objects.select_for_update().get(pk=run_id)
        if run.status == RunStatus.CANCELLED:
            raise RunCancelled(f"run {run_id} was cancelled by an operator before it was published")
        if run.status != RunStatus.RUNNING:
            raise RuntimeError(f"run {run_id} became {run.status} before it was published")
        run.activate()
        ShardProgress.objects.filter(run_id=run_id).update(stage=Stage.DONE)
        totals = ShardProgress.objects.filter(run_id=run_id).aggregate(
            users_total=models.Sum("users_total"), users_done=models.Sum("users_done"),
            rows_written=models.Sum("rows_written"))
        progress = {key: value or 0 for key, value in totals.items()}
        Run.objects.filter(pk=run_id).update(
            status=RunStatus.SUCCEEDED, stage=Stage.DONE, metrics=metrics, error="", heartbeat_at=now,
            finished_at=now, **progress
        )


def fail(run_id: int, stage: str, error: str, metrics: dict[str, Any], shard: int = SHARD) -> str:
    """Record that the run stopped in ``stage`` with ``error``; returns the final status.

    A run that an operator cancelled stays ``cancelled``, one already
    published stays ``succeeded``; anything else becomes ``failed``. The
    active run is not touched.
    """
    now = timezone.now()
    with transaction.atomic():
        run = Run.objects.select_for_update().get(pk=run_id)
        if run.status == RunStatus.SUCCEEDED:  # stopped after the publish committed: the run stands
            return RunStatus.SUCCEEDED
        status = RunStatus.CANCELLED if run.status == RunStatus.CANCELLED else RunStatus.FAILED
        Run.objects.filter(pk=run_id).update(
            status=status, stage=stage, error=error, finished_at=now, heartbeat_at=now, metrics=metrics
        )
        ShardProgress.objects.filter(run_id=run_id, shard=shard).update(
            status=status, stage=stage, finished_at=now, heartbeat_at=now
        )
    return status


def drop_run_data(run_id: int) -> None:
    """Remove run ``run_id``'s scores (attached or not), cold-start list and fitted model. Never the active run's."""
    if ActiveRun.current_run_id() == run_id:
        raise RuntimeError(f"run {run_id} is the active run; its data must not be dropped")
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
    FittedModel.objects.filter(run_id=run_id).delete()
    PopularMovie.objects.filter(run_id=run_id).delete()


def _detach(cursor, parent: str, table: str) -> None:
    """Detach without blocking serving reads of the other partitions (CONCURRENTLY, PostgreSQL 14+)."""
    try:
        cursor.execute(f"ALTER TABLE {parent} DETACH PARTITION {table} CONCURRENTLY")
    except Exception as exc:
        # An interrupted concurrent detach leaves the partition "detach pending"; FINALIZE completes it.
        if "pending" not in str(exc):
            raise
        cursor.execute(f"ALTER TABLE {parent} DETACH PARTITION {table} FINALIZE")


# -- retention ----------------------------------------------------------------
def run_tables() -> list[int]:
    """Run ids that have a score or similar-movies table (attached or not)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname FROM pg_class WHERE relkind = 'r' AND (relname LIKE %s OR relname LIKE %s) "
            "AND pg_table_is_visible(oid)",
            [f"{SCORE_TABLE}_r%", f"{SIMILAR_TABLE}_r%"],
        )
        names = [name for (name,) in cursor.fetchall()]
    return sorted({int(match.group(1)) for name in names if (match := _RUN_TABLE.match(name))})


def apply_retention(keep_runs: int) -> list[int]:
    """Drop the scores, cold-start lists and fitted models of finished runs older than the newest ``keep_runs``.

    The active run is always kept, and so are pending and running runs (a
    stalled run keeps its table until an operator cancels it). Tables whose
    run row no longer exists are dropped too. Returns the run ids dropped.
    """
    active = ActiveRun.current_run_id()
    keep = set(Run.objects.filter(status__in=FINISHED).order_by("-id").values_list("id", flat=True)[:keep_runs])
    if active is not None:
        keep.add(active)
    unfinished = set(Run.objects.exclude(status__in=FINISHED).values_list("id", flat=True))
    with_data = set(run_tables())
    with_data |= set(FittedModel.objects.values_list("run_id", flat=True))
    with_data |= set(PopularMovie.objects.values_list("run_id", flat=True).distinct())
    dropped = sorted(with_data - keep - unfinished)
    for run_id in dropped:
        drop_run_data(run_id)
    return dropped
