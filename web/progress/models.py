"""Precompute runs, their per-shard progress, and which run is serving.

The precompute job writes these rows (throttled to about once a second); the
progress page and API only read them, so a redeploy of the web app loses
nothing and a job that stops sending heartbeats shows up as stalled.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import connection, models, transaction
from django.utils import timezone



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

WORK_STAGES = [Stage.LOAD, Stage.MATRIX, Stage.FIT, Stage.COMPUTE, Stage.WRITE, Stage.EVALUATE, Stage.INDEX, Stage.PUBLISH]
"""The stages that get a bar of their own on the progress page, in order."""


class RunQuerySet(models.QuerySet):
    def active(self) -> Run | None:
        """The run whose scores are being served, or None before the first run is published."""
        return self.filter(activerun__id=ActiveRun.SINGLETON_ID).first()

    def unfinished(self) -> RunQuerySet:
        """Pending and running runs (stalled ones included: they are still ``running``)."""
        return self.filter(status__in=UNFINISHED)


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

    objects = RunQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]

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
        """Ask the job to stop: one conditional UPDATE; True if the run was still pending or running.

        Cooperative: the job reads the status back with every heartbeat and
        stops at the next chunk or stage (docs/precompute.md); a pending run is
        never started. The serving run is not touched.
        """
        cancelled = Run.objects.filter(pk=self.pk, status__in=UNFINISHED).update(status=RunStatus.CANCELLED)
        if cancelled:
            self.status = RunStatus.CANCELLED
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


def attached_run_ids() -> set[int]:
    """Ids of the runs whose score table is attached to ``recommender_userscore`` (servable runs).

    Read from the catalogue rather than imported from the job, so the web app
    does not depend on ``jobs/``; the partition names are ``<parent>_r<run id>``.
    """
    from web.recommender.models import UserScore

    parent = UserScore._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = to_regclass(%s)",
            [parent],
        )
        names = [name for (name,) in cursor.fetchall()]
    prefix = f"{parent}_r"
    return {int(name[len(prefix):]) for name in names if name.startswith(prefix) and name[len(prefix):].isdigit()}


class RollbackRefused(Exception):
    """The run cannot be served again: it did not succeed, or its scores were dropped by retention."""


def roll_back_to(run_id: int) -> Run:
    """Serve an older successful run again, in one transaction around the single upsert of :meth:`Run.activate`.

    The run row is locked first, so its status cannot change underneath; the
    partition check and the switch then happen in the same transaction.
    """
    with transaction.atomic():
        run = Run.objects.select_for_update().filter(pk=run_id).first()
        if run is None:
            raise RollbackRefused(f"run {run_id} does not exist")
        if run.status != RunStatus.SUCCEEDED:
            raise RollbackRefused(f"run {run_id} is {run.status}; only a succeeded run can be served")
        if not run.has_scores():
            raise RollbackRefused(f"run {run_id}'s scores were dropped by retention; start a new run instead")
        run.activate()
    return run


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
        ordering = ["run", "at"]
        indexes = [models.Index(fields=["run", "at"], name="runsample_run_at")]


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
        ordering = ["run", "shard"]
        constraints = [models.UniqueConstraint(fields=["run", "shard"], name="shardprogress_run_shard_unique")]


class ActiveRun(models.Model):
    """The single row that names the serving run; switching it is one UPDATE."""

    SINGLETON_ID = 1

    id = models.PositiveSmallIntegerField(primary_key=True, default=SINGLETON_ID)
    run = models.OneToOneField(Run, null=True, blank=True, on_delete=models.PROTECT)
    activated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="activerun_singleton")]

    @classmethod
    def current_run_id(cls) -> int | None:
        return cls.objects.filter(id=cls.SINGLETON_ID).values_list("run_id", flat=True).first()
