"""Every database read and write of the precompute job (Django must be set up).

Storage per run: the run's scores go into a table of their own,
``recommender_userscore_r<run_id>``, filled with binary COPY, indexed, then
attached as the run's partition of ``recommender_userscore``. Serving
readers always filter on the active run's id, so an attached partition of a
run that is not active is invisible to them; publishing is the single
UPDATE of ``progress_activerun`` (with the run's success, in one
transaction). Retention detaches and drops old partitions.
"""

from __future__ import annotations

import pickle
import re
import socket
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db import connection, transaction
from django.utils import timezone

from jobs.precompute.copyout import read_columns
from jobs.precompute.heartbeat import RunCancelled
from jobs.precompute.options import DEFAULT_ALGORITHM, JobOptions, RunSpec, resolve
from jobs.precompute.pool import ChunkRows
from scoring.base import Scorer
from web.pgcopy import copy_columns
from web.progress.models import ActiveRun, Run, RunStatus, ShardProgress, Stage
from web.recommender.models import FittedModel, PopularMovie, Rating, UserScore

SCORE_TABLE = UserScore._meta.db_table
SCORE_TYPES = {"run_id": "bigint", "user_id": "integer", "movie_id": "integer", "score": "real", "rank": "smallint"}
FINISHED = (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED)
SHARD = 0
"""The one shard of a run until the job is sharded (an Indexed Job's JOB_COMPLETION_INDEX)."""
_RUN_TABLE = re.compile(rf"^{SCORE_TABLE}_r(\d+)$")


class RunNotPending(Exception):
    """``--run-id`` named a run that does not exist or is no longer pending."""


def run_table(run_id: int) -> str:
    """The name of run ``run_id``'s own score table (its partition once attached)."""
    return f"{SCORE_TABLE}_r{int(run_id)}"


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
    """Create a running run, or claim the pending run ``options.run_id``; also its shard row.

    Claiming is one conditional UPDATE, so two jobs can never take the same run.
    """
    now = timezone.now()
    if options.run_id is None:
        run = Run.objects.create(
            algorithm=options.algorithm or DEFAULT_ALGORITHM,  # the full record follows in record_spec
            parameters=dict(options.params),
            status=RunStatus.RUNNING,
            started_at=now,
            heartbeat_at=now,
        )
    else:
        claimed = Run.objects.filter(pk=options.run_id, status=RunStatus.PENDING).update(
            status=RunStatus.RUNNING, started_at=now, heartbeat_at=now
        )
        run = Run.objects.filter(pk=options.run_id).first()
        if run is None:
            raise RunNotPending(f"run {options.run_id} does not exist")
        if not claimed:
            raise RunNotPending(f"run {options.run_id} is {run.status}; only a pending run can be started")
    ShardProgress.objects.update_or_create(
        run=run,
        shard=SHARD,
        defaults={"host": socket.gethostname()[:255], "status": RunStatus.RUNNING, "stage": Stage.QUEUED,
                  "started_at": now, "heartbeat_at": now},
    )
    return run


def record_spec(run_id: int, spec: RunSpec, model: Scorer) -> None:
    """Store the algorithm and every parameter (defaults included) that the run uses."""
    Run.objects.filter(pk=run_id).update(algorithm=spec.algorithm, parameters=spec.run_parameters(model))


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
    """An empty, unindexed table shaped like the partitioned parent, for fast COPY."""
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {run_table(run_id)} (LIKE {SCORE_TABLE} INCLUDING DEFAULTS)")


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
    table = run_table(run_id)
    run_id = int(run_id)
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {table}_pkey PRIMARY KEY (run_id, user_id, rank)")
        cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {table}_run CHECK (run_id IS NOT NULL AND run_id = {run_id})")
        cursor.execute(f"ANALYZE {table}")
        cursor.execute(f"ALTER TABLE {SCORE_TABLE} ATTACH PARTITION {table} FOR VALUES IN ({run_id})")
        cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {table}_run")


def write_popular(run_id: int, movie_ids: np.ndarray, scores: np.ndarray) -> None:
    """The run's cold-start list: ``movie_ids`` (best first) with their ``scores``, ranked from 1."""
    PopularMovie.objects.bulk_create(
        PopularMovie(run_id=run_id, movie_id=int(movie), score=float(score), rank=rank)
        for rank, (movie, score) in enumerate(zip(movie_ids.tolist(), scores.tolist(), strict=True), start=1)
    )


def write_fitted_model(run_id: int, model: Scorer) -> int:
    """Pickle ``model`` into the run's FittedModel row (the RQ worker scores single users with it); returns bytes."""
    data = pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
    FittedModel.objects.update_or_create(run_id=run_id, defaults={"algorithm": model.name, "data": data})
    return len(data)


# -- ending the run ---------------------------------------------------------
@dataclass
class Counts:
    users_total: int
    users_done: int
    rows_written: int


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
        progress = {"users_total": counts.users_total, "users_done": counts.users_done,
                    "rows_written": counts.rows_written, "heartbeat_at": now, "finished_at": now}
        Run.objects.filter(pk=run_id).update(
            status=RunStatus.SUCCEEDED, stage=Stage.DONE, metrics=metrics, error="", **progress
        )
        ShardProgress.objects.filter(run_id=run_id, shard=SHARD).update(
            status=RunStatus.SUCCEEDED, stage=Stage.DONE, **progress
        )


def fail(run_id: int, stage: str, error: str, metrics: dict[str, Any]) -> str:
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
        ShardProgress.objects.filter(run_id=run_id, shard=SHARD).update(
            status=status, stage=stage, finished_at=now, heartbeat_at=now
        )
    return status


def drop_run_data(run_id: int) -> None:
    """Remove run ``run_id``'s scores (attached or not), cold-start list and fitted model. Never the active run's."""
    if ActiveRun.current_run_id() == run_id:
        raise RuntimeError(f"run {run_id} is the active run; its data must not be dropped")
    table = run_table(run_id)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT to_regclass(%s) IS NOT NULL, EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = to_regclass(%s))",
            [table, table],
        )
        exists, attached = cursor.fetchone()
        if attached:
            _detach(cursor, table)
        if exists:
            cursor.execute(f"DROP TABLE {table}")
    FittedModel.objects.filter(run_id=run_id).delete()
    PopularMovie.objects.filter(run_id=run_id).delete()


def _detach(cursor, table: str) -> None:
    """Detach without blocking serving reads of the other partitions (CONCURRENTLY, PostgreSQL 14+)."""
    try:
        cursor.execute(f"ALTER TABLE {SCORE_TABLE} DETACH PARTITION {table} CONCURRENTLY")
    except Exception as exc:
        # An interrupted concurrent detach leaves the partition "detach pending"; FINALIZE completes it.
        if "pending" not in str(exc):
            raise
        cursor.execute(f"ALTER TABLE {SCORE_TABLE} DETACH PARTITION {table} FINALIZE")


# -- retention ----------------------------------------------------------------
def run_tables() -> list[int]:
    """Run ids that have a score table (attached or not)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname FROM pg_class WHERE relkind = 'r' AND relname LIKE %s AND pg_table_is_visible(oid)",
            [f"{SCORE_TABLE}_r%"],
        )
        names = [name for (name,) in cursor.fetchall()]
    return sorted(int(match.group(1)) for name in names if (match := _RUN_TABLE.match(name)))


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
