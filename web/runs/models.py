"""Precompute runs, their per-shard progress, which run is serving, and a run's life as manager methods.

The precompute job writes these rows (throttled to about once a second)
through the manager methods of :class:`RunQuerySet` (create, start, record,
finish a shard, publish, fail); the progress page and API read them, so a
redeploy of the web app loses nothing and a job that stops sending
heartbeats shows up as stalled.

The models keep the app label ``progress`` (``Meta.app_label``): their
tables (``progress_run``, ...), migrations (``web/progress/migrations``),
permissions and admin URLs are those of the progress app, which registers
them by importing this module. They live here, below the progress and
recommender apps and the job, so that all three can use them without
importing one another (docs/decisions.md, "Layout").
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection, models, transaction
from django.utils import timezone

from scoring.base import Scorer
from web.runs.errors import RollbackRefused, RunCancelled, RunNotPending
from web.runs.locks import advisory_xact_lock, name_key
from web.runs.scores import attached_run_ids, drop_leftover_tables
from web.runs.spec import DEFAULT_ALGORITHM, RUN_NAME_KEY, RunSpec, resolve
from web.runs.watermark import data_watermark

APP_LABEL = "progress"
"""The app whose tables and migrations these models keep (they were defined in it before ``web.runs`` existed)."""
SHARD = 0
"""The shard of an unsharded run."""


@dataclass
class Counts:
    """How far a shard got: users it had to score, users scored, score rows written."""

    users_total: int
    users_done: int
    rows_written: int


def stall_after() -> timedelta:
    """A running run whose heartbeat is older than this is shown as stalled (``PROGRESS_STALL_SECONDS``)."""
    return timedelta(seconds=settings.PROGRESS_STALL_SECONDS)


class RunStatus(models.TextChoices):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Stage(models.TextChoices):
    """The stages of a precompute run, in the order they happen."""

    QUEUED = "queued"
    LOAD = "load", "load ratings"
    MATRIX = "matrix", "build matrix"
    FIT = "fit"
    COMPUTE = "compute"
    WRITE = "write"
    EVALUATE = "evaluate"
    """Only in a run started with ``--evaluate``: the offline figures recorded in ``Run.metrics["evaluation"]``."""
    INDEX = "index"
    PUBLISH = "publish"
    DONE = "done"


UNFINISHED = (RunStatus.PENDING, RunStatus.RUNNING)
"""Statuses of a run that an operator can still cancel."""
FINISHED = (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED)
"""Statuses a run ends in."""

WORK_STAGES = [Stage.LOAD, Stage.MATRIX, Stage.FIT, Stage.COMPUTE, Stage.WRITE, Stage.EVALUATE, Stage.INDEX, Stage.PUBLISH]
"""The stages that get a bar of their own on the progress page, in order."""


class RunQuerySet(models.QuerySet):
    def active(self) -> Run | None:
        """The run whose scores are being served, or None before the first run is published."""
        return self.filter(activerun__id=ActiveRun.SINGLETON_ID).first()

    def unfinished(self) -> RunQuerySet:
        """Pending and running runs (stalled ones included: they are still ``running``)."""
        return self.filter(status__in=UNFINISHED)

    def named(self, name: str) -> RunQuerySet:
        """Runs recorded under the run name ``name`` (``--run-name``, a Kubernetes Job's name), newest first."""
        return self.filter(**{f"metrics__{RUN_NAME_KEY}": name}).order_by("-id")

    # -- a run's life, in the order it happens --------------------------------
    def create_pending(self, algorithm: str, parameters: dict[str, Any] | None = None) -> Run:
        """A pending run for ``python -m jobs.precompute --run-id <id>`` (the progress page's "start").

        ``parameters`` may hold ``top_n``, ``popular`` and the algorithm's
        hyperparameters; they are checked now, so a bad value is a ``ValueError``
        here and not a failed run later.
        """
        spec = resolve(algorithm, parameters)
        model = spec.make_model()
        return self.create(
            algorithm=spec.algorithm, parameters=spec.run_parameters(model), status=RunStatus.PENDING,
            stage=Stage.QUEUED,
        )

    def start(
        self,
        *,
        shard: int = SHARD,
        shards: int = 1,
        run_id: int | None = None,
        run_name: str | None = None,
        algorithm: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> Run:
        """Create a running run, claim the pending run ``run_id``, or join the run named ``run_name``.

        Claiming is one conditional UPDATE, so two jobs can never take the same
        pending run. A run name (``--run-name``, the Indexed Job's name) is what
        the n shards of one run, and any restart of one of them, agree on: the
        first process creates the run, the others join it while it is running
        (or failed, which a retried shard resumes), all under an advisory lock.
        The process's shard row is (re)set to running either way. A run that
        another process started is returned with ``joined = True``.
        """
        now = timezone.now()
        # Where the run's data ends: what arrives later counts towards the next run (web.runs.retrain).
        rating_id, event_id = data_watermark()
        data = {"data_rating_id": rating_id, "data_event_id": event_id}
        new_run = {"algorithm": algorithm or DEFAULT_ALGORITHM,  # the full record follows in record_spec
                   "parameters": dict(params or {}), "status": RunStatus.RUNNING, "shards": shards,
                   "started_at": now, "heartbeat_at": now, **data}
        if run_name is not None:
            run = self._join_named(run_name, shards, now, new_run)
        elif run_id is None:
            with transaction.atomic():
                run = self.create(**new_run)
                drop_leftover_tables(run.pk)
        else:
            with transaction.atomic():
                # The claim and the clean-up commit together: another shard joins only once the claim is visible.
                claimed = self.filter(pk=run_id, status=RunStatus.PENDING).update(
                    status=RunStatus.RUNNING, started_at=now, heartbeat_at=now, shards=shards, **data
                )
                if claimed:
                    drop_leftover_tables(run_id)
            run = self.filter(pk=run_id).first()
            if run is None:
                raise RunNotPending(f"run {run_id} does not exist")
            if not claimed:
                joinable = shards > 1 and run.shards == shards and run.status == RunStatus.RUNNING
                if not joinable:
                    raise RunNotPending(f"run {run_id} is {run.status}; only a pending run can be started")
                run.joined = True
        ShardProgress.objects.update_or_create(
            run=run,
            shard=shard,
            defaults={"host": socket.gethostname()[:255], "status": RunStatus.RUNNING, "stage": Stage.QUEUED,
                      "started_at": now, "heartbeat_at": now, "finished_at": None},
        )
        return run

    def _join_named(self, name: str, shards: int, now, new_run: dict[str, Any]) -> Run:
        with transaction.atomic(), connection.cursor() as cursor:
            advisory_xact_lock(cursor, name_key(name))
            run = self.select_for_update().named(name).first()
            if run is not None and run.status == RunStatus.CANCELLED:
                # An operator cancelled it (perhaps before its pods started): its late pods must not start it again.
                raise RunNotPending(f"run {run.pk} ({name!r}) was cancelled; start a new run under another name")
            if run is None or run.status == RunStatus.SUCCEEDED:
                run = self.create(**new_run, metrics={RUN_NAME_KEY: name})
                drop_leftover_tables(run.pk)
                return run
            if run.shards != shards:
                raise RunNotPending(
                    f"run {run.pk} ({name!r}) has {run.shards} shard(s); this process was started as one of {shards}"
                )
            self.filter(pk=run.pk).update(status=RunStatus.RUNNING, error="", finished_at=None, heartbeat_at=now,
                                          started_at=run.started_at or now)
            if run.status == RunStatus.PENDING:  # the progress page's run, first started here: nothing of it is written
                drop_leftover_tables(run.pk)
            run.refresh_from_db()
            run.joined = True  # another process started it: this one must match its recorded settings
            return run

    def record_spec(self, run_id: int, spec: RunSpec, model: Scorer, *, joined: bool = False) -> None:
        """Store the algorithm and every parameter (defaults included) that the run uses.

        A process that ``joined`` a run another process already recorded (a
        shard, a restart) must bring the same settings: their rows end up in one run.
        """
        parameters = spec.run_parameters(model)
        with transaction.atomic():
            run = self.select_for_update().get(pk=run_id)
            recorded = "top_n" in run.parameters  # set only by a record_spec or a pending run's create
            if joined and recorded and (run.algorithm, run.parameters) != (spec.algorithm, parameters):
                raise ValueError(
                    f"this process's settings ({spec.algorithm} {parameters}) differ from those run {run_id} "
                    f"was started with ({run.algorithm} {run.parameters}); start every shard with the same options"
                )
            self.filter(pk=run_id).update(algorithm=spec.algorithm, parameters=parameters)

    def finish_shard(self, run_id: int, shard: int, counts: Counts) -> bool:
        """Mark shard ``shard``'s scores as written; True if it is the last shard of the run (it then publishes).

        Marking and counting happen under the run's advisory lock, so of n
        shards finishing at once exactly one sees all n done.
        """
        now = timezone.now()
        with transaction.atomic(), connection.cursor() as cursor:
            advisory_xact_lock(cursor, run_id)
            ShardProgress.objects.filter(run_id=run_id, shard=shard).update(
                status=RunStatus.SUCCEEDED, users_total=counts.users_total, users_done=counts.users_done,
                rows_written=counts.rows_written, heartbeat_at=now, finished_at=now,
            )
            shards = self.filter(pk=run_id).values_list("shards", flat=True).get()
            done = ShardProgress.objects.filter(run_id=run_id, status=RunStatus.SUCCEEDED).count()
            return done >= shards

    def publish(self, run_id: int, metrics: dict[str, Any]) -> None:
        """Make the run the served one and mark it succeeded with its shards' totals, in one transaction.

        Readers see the previous active run until this commits, then this one;
        a run an operator cancelled meanwhile is not published (:class:`RunCancelled`).
        """
        now = timezone.now()
        with transaction.atomic():
            run = self.select_for_update().get(pk=run_id)
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
            # The publishing shard's metrics: its own stage times, but the rows of the whole run.
            self.filter(pk=run_id).update(
                status=RunStatus.SUCCEEDED, stage=Stage.DONE, metrics={**metrics, "rows": progress["rows_written"]},
                error="", heartbeat_at=now, finished_at=now, **progress
            )

    def fail(self, run_id: int, stage: str, error: str, metrics: dict[str, Any], shard: int = SHARD) -> str:
        """Record that the run stopped in ``stage`` with ``error``; returns the final status.

        A run that an operator cancelled stays ``cancelled``, one already
        published stays ``succeeded``; anything else becomes ``failed``. The
        active run is not touched.
        """
        now = timezone.now()
        with transaction.atomic():
            run = self.select_for_update().get(pk=run_id)
            if run.status == RunStatus.SUCCEEDED:  # stopped after the publish committed: the run stands
                return RunStatus.SUCCEEDED
            status = RunStatus.CANCELLED if run.status == RunStatus.CANCELLED else RunStatus.FAILED
            self.filter(pk=run_id).update(
                status=status, stage=stage, error=error, finished_at=now, heartbeat_at=now, metrics=metrics
            )
            ShardProgress.objects.filter(run_id=run_id, shard=shard).update(
                status=status, stage=stage, finished_at=now, heartbeat_at=now
            )
        return status

    def roll_back_to(self, run_id: int) -> Run:
        """Serve an older successful run again, in one transaction around the single upsert of :meth:`Run.activate`.

        The run row is locked first, so its status cannot change underneath; the
        partition check and the switch then happen in the same transaction.
        """
        with transaction.atomic():
            run = self.select_for_update().filter(pk=run_id).first()
            if run is None:
                raise RollbackRefused(f"run {run_id} does not exist")
            if run.status != RunStatus.SUCCEEDED:
                raise RollbackRefused(f"run {run_id} is {run.status}; only a succeeded run can be served")
            if not run.has_scores():
                raise RollbackRefused(f"run {run_id}'s scores were dropped by retention; start a new run instead")
            run.activate()
        return run


class Run(models.Model):
    """One precompute run: what produced it, how far it got, and how it ended."""

    algorithm = models.CharField(max_length=40)
    parameters = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=12, choices=RunStatus.choices, default=RunStatus.PENDING)
    stage = models.CharField(max_length=12, choices=Stage.choices, default=Stage.QUEUED)
    shards = models.PositiveSmallIntegerField(default=1)
    users_total = models.PositiveIntegerField(default=0)
    users_done = models.PositiveIntegerField(default=0)
    rows_written = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    metrics = models.JSONField(default=dict, blank=True, help_text="Timings and quality figures the run recorded.")
    data_rating_id = models.BigIntegerField(
        null=True, blank=True, help_text="The highest rating id when the run started: later ratings are new to it.")
    data_event_id = models.BigIntegerField(
        null=True, blank=True, help_text="The highest event id when the run started: later events are new to it.")

    objects = RunQuerySet.as_manager()

    class Meta:
        app_label = APP_LABEL
        ordering = ["-id"]
        # Held by the group "operators" (web/accounts/permissions.py); checked as progress.operate_runs.
        permissions = [("operate_runs", "Can watch, start, cancel and activate precompute runs")]

    def __str__(self) -> str:
        return f"run {self.pk} ({self.algorithm}, {self.status})"

    @property
    def is_stalled(self) -> bool:
        """A running run that has not sent a heartbeat for :func:`stall_after`."""
        if self.status != RunStatus.RUNNING or self.heartbeat_at is None:
            return False
        return timezone.now() - self.heartbeat_at > stall_after()

    @property
    def display_status(self) -> str:
        return "stalled" if self.is_stalled else self.status

    @property
    def fraction_done(self) -> float:
        if self.status == RunStatus.SUCCEEDED:
            return 1.0
        return self.users_done / self.users_total if self.users_total else 0.0

    @property
    def duration(self) -> timedelta | None:
        if self.started_at is None:
            return None
        return (self.finished_at or timezone.now()) - self.started_at

    @property
    def can_cancel(self) -> bool:
        return self.status in UNFINISHED

    def cancel(self) -> bool:
        """Ask the job to stop: a conditional UPDATE; True if the run was still pending or running.

        Cooperative: the job reads the status back with every heartbeat and
        stops at the next chunk or stage (docs/precompute.md); a pending run is
        never started. The serving run is not touched.

        The cancel also records the run's end, and its unfinished shards as
        cancelled: a pending run, or a stalled one whose job was killed, has
        no process left to record them, and would otherwise count its
        duration up for ever (and not count as ended for the retraining
        policy's wait). A job that is still alive records its own end as it stops.
        """
        now = timezone.now()
        with transaction.atomic():
            cancelled = Run.objects.filter(pk=self.pk, status__in=UNFINISHED).update(
                status=RunStatus.CANCELLED, finished_at=now)
            if cancelled:
                ShardProgress.objects.filter(run_id=self.pk, status__in=UNFINISHED).update(
                    status=RunStatus.CANCELLED, finished_at=now)
        if cancelled:
            self.status, self.finished_at = RunStatus.CANCELLED, now
        return bool(cancelled)

    def has_scores(self) -> bool:
        """True while the run's score partition is attached (retention has not dropped it)."""
        return self.pk in attached_run_ids()

    def activate(self) -> None:
        """Make this run the one that is served: one statement, so readers see the old run or the new one.

        An upsert rather than an UPDATE, so a missing singleton row (a flushed
        test database, a hand-cleaned table) cannot make publishing fail.
        """
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {ActiveRun._meta.db_table} (id, run_id, activated_at) VALUES (%s, %s, now()) "
                "ON CONFLICT (id) DO UPDATE SET run_id = EXCLUDED.run_id, activated_at = EXCLUDED.activated_at",
                [ActiveRun.SINGLETON_ID, self.pk],
            )


class RunSample(models.Model):
    """One point of a run's throughput chart: its counts at a moment.

    Written by a PostgreSQL trigger on ``progress_run`` (migration 0003), not
    by the job or a web process: the heartbeat's UPDATE leaves a sample at
    most every second (sparser as the run gets older), so the history exists
    whether or not anyone has the page open, and the job stays unaware of it.
    """

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="samples")
    at = models.DateTimeField()
    stage = models.CharField(max_length=12, choices=Stage.choices)
    users_done = models.PositiveIntegerField()
    rows_written = models.PositiveBigIntegerField()

    class Meta:
        app_label = APP_LABEL
        ordering = ["run", "at"]
        indexes = [models.Index(fields=["run", "at"], name="runsample_run_at")]


LOG_LINES_KEPT = 200
"""How many of a run's log lines the database keeps (per run, newest; older ones are deleted as new ones come)."""
LOG_LINES_SHOWN = 10
"""How many of a run's last log lines the progress feed carries per run."""


class RunLogLineQuerySet(models.QuerySet):
    def tails(self, run_ids: list[int], n: int = LOG_LINES_SHOWN) -> dict[int, list[str]]:
        """``{run id: its last n lines, oldest first}`` for ``run_ids``, in one query (index ``runlogline_run_id``)."""
        if not run_ids:
            return {}
        table = self.model._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT t.run_id, l.line FROM unnest(%s::bigint[]) AS t(run_id) CROSS JOIN LATERAL "
                f"(SELECT id, line FROM {table} WHERE run_id = t.run_id ORDER BY id DESC LIMIT %s) l "
                f"ORDER BY t.run_id, l.id",
                [list(run_ids), n],
            )
            tails: dict[int, list[str]] = {}
            for run_id, line in cursor.fetchall():
                tails.setdefault(run_id, []).append(line)
        return tails


class RunLogLine(models.Model):
    """One line the run's job logged, kept so that an operator reads it on the progress page, not in a pod's log.

    Written by the job's heartbeat thread (:class:`jobs.precompute.heartbeat.DbHeartbeat`) with its
    progress, and bounded: only the newest :data:`LOG_LINES_KEPT` lines of a run stay, like a ring buffer.
    """

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="log_lines")
    shard = models.PositiveSmallIntegerField(default=SHARD)
    at = models.DateTimeField(default=timezone.now)
    line = models.TextField()

    objects = RunLogLineQuerySet.as_manager()

    class Meta:
        app_label = APP_LABEL
        ordering = ["run", "id"]
        indexes = [models.Index(fields=["run", "id"], name="runlogline_run_id")]


class ShardProgress(models.Model):
    """Progress of one shard (one pod of an Indexed Job) of a run."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="shard_progress")
    shard = models.PositiveSmallIntegerField()
    host = models.CharField(max_length=255, blank=True, help_text="Pod or host name that runs the shard.")
    status = models.CharField(max_length=12, choices=RunStatus.choices, default=RunStatus.RUNNING)
    stage = models.CharField(max_length=12, choices=Stage.choices, default=Stage.QUEUED)
    users_total = models.PositiveIntegerField(default=0)
    users_done = models.PositiveIntegerField(default=0)
    rows_written = models.PositiveBigIntegerField(default=0)
    started_at = models.DateTimeField(default=timezone.now)
    heartbeat_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = APP_LABEL
        ordering = ["run", "shard"]
        constraints = [models.UniqueConstraint(fields=["run", "shard"], name="shardprogress_run_shard_unique")]


class ActiveRun(models.Model):
    """The single row that names the serving run; switching it is one UPDATE."""

    SINGLETON_ID = 1

    id = models.PositiveSmallIntegerField(primary_key=True, default=SINGLETON_ID)
    run = models.OneToOneField(Run, null=True, blank=True, on_delete=models.PROTECT)
    activated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = APP_LABEL
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="activerun_singleton")]

    @classmethod
    def current_run_id(cls) -> int | None:
        return cls.objects.filter(id=cls.SINGLETON_ID).values_list("run_id", flat=True).first()
