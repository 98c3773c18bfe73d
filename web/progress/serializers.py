"""The runs as the progress page and ``/api/runs`` show them, and the start form's validation.

The list serializer needs a few facts about all runs at once; the view puts
them in the context (see :func:`feed_context`) so a page of runs costs a
fixed number of queries: ``now``, ``active_run_id``, ``servable`` (runs whose
partition is attached) and ``samples`` (run id -> samples, unfinished runs and the newest one only).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from web.progress import cluster_status
from web.progress.algorithms import catalogue
from web.progress.throughput import measure
from web.runs.models import (
    LOG_LINES_SHOWN, UNFINISHED, WORK_STAGES, Run, RunLogLine, RunSample, RunStatus, ShardProgress, Stage,
    stall_after,
)
from web.runs.scores import attached_run_ids
from web.runs.spec import JOB_PARAMETERS, MAX_TOP_N, resolve


def feed_context(runs: list[Run], active_run_id: int | None, extra_sample_runs: tuple[int, ...] = (),
                 log_lines: int = LOG_LINES_SHOWN) -> dict[str, Any]:
    """What :class:`RunSerializer` needs for ``runs``: read once, not once per run (``log_lines`` of each run's log);
    ``active_run_id`` is the caller's (read before ``runs``: :func:`web.progress.views.runs_feed` says why)."""
    # The newest run too: when nothing is working it is the Now panel's, whose rate is measured on its samples.
    ids = [run.pk for run in runs if run.status in UNFINISHED] + [run.pk for run in runs[:1]] + list(extra_sample_runs)
    samples: dict[int, list[RunSample]] = defaultdict(list)
    for sample in RunSample.objects.filter(run_id__in=ids).order_by("at"):
        samples[sample.run_id].append(sample)
    return {"now": timezone.now(), "active_run_id": active_run_id,
            "servable": attached_run_ids(), "samples": samples,
            "logs": RunLogLine.objects.tails([run.pk for run in runs], log_lines)}


def _age(context: dict, at) -> float | None:
    return None if at is None else round((context.get("now") or timezone.now()).timestamp() - at.timestamp(), 1)


class ShardProgressSerializer(serializers.ModelSerializer):
    status = serializers.SerializerMethodField()
    heartbeat_age_seconds = serializers.SerializerMethodField()

    class Meta:
        model = ShardProgress
        fields = ["shard", "host", "status", "stage", "users_total", "users_done", "rows_written", "heartbeat_at",
                  "heartbeat_age_seconds"]

    def get_status(self, shard: ShardProgress) -> str:
        age = _age(self.context, shard.heartbeat_at)
        stalled = shard.status == "running" and age is not None and age > stall_after().total_seconds()
        return "stalled" if stalled else shard.status

    def get_heartbeat_age_seconds(self, shard: ShardProgress) -> float | None:
        return _age(self.context, shard.heartbeat_at)


class ThroughputSerializer(serializers.Serializer):
    """The run's rates and ETA from its samples (:class:`web.progress.throughput.Throughput`); null when unknown."""

    elapsed_seconds = serializers.FloatField(allow_null=True)
    users_per_second = serializers.FloatField(allow_null=True)
    rows_per_second = serializers.FloatField(allow_null=True)
    eta_seconds = serializers.FloatField(allow_null=True)


class StageBarSerializer(serializers.Serializer):
    """One work stage of a run as the page draws it."""

    stage = serializers.CharField()
    label = serializers.CharField()
    state = serializers.CharField(help_text="done, current, waiting, skipped (evaluate, when not asked for), or the run's final status at its last stage")
    fraction = serializers.FloatField(allow_null=True)
    seconds = serializers.FloatField(allow_null=True, help_text="recorded time of the stage, if finished")


class RunSerializer(serializers.ModelSerializer):
    status = serializers.ChoiceField(
        source="display_status", choices=[*RunStatus.values, "stalled"],
        help_text="the run's status, with `stalled` for a running run whose heartbeat is too old",
    )
    stage_label = serializers.CharField(source="get_stage_display")
    fraction_done = serializers.FloatField()
    duration_seconds = serializers.SerializerMethodField()
    heartbeat_age_seconds = serializers.SerializerMethodField()
    throughput = serializers.SerializerMethodField()
    stages = serializers.SerializerMethodField()
    quality = serializers.SerializerMethodField()
    is_active = serializers.SerializerMethodField()
    can_cancel = serializers.BooleanField()
    can_activate = serializers.SerializerMethodField()
    waiting_reason = serializers.SerializerMethodField(
        help_text="for a pending run started as a Kubernetes Job: why it has not started, as the cluster says "
                  "(unschedulable pods, an image that cannot be pulled, pods the quota refuses); else null")
    shard_progress = ShardProgressSerializer(many=True)
    log = serializers.SerializerMethodField(
        help_text="the last lines the run's job logged, oldest first: a few in the list of runs, all that are kept "
                  "(the newest 200) for one run")

    class Meta:
        model = Run
        fields = [
            "id", "algorithm", "parameters", "status", "stage", "stage_label", "shards", "users_total", "users_done",
            "rows_written", "fraction_done", "created_at", "started_at", "finished_at", "heartbeat_at",
            "heartbeat_age_seconds", "duration_seconds", "throughput", "stages", "error", "metrics", "quality",
            "is_active", "can_cancel", "can_activate", "waiting_reason", "shard_progress", "log",
        ]

    def get_log(self, run: Run) -> list[str]:
        logs = self.context.get("logs")
        if logs is None:
            logs = RunLogLine.objects.tails([run.pk])
        return logs.get(run.pk, [])

    def get_waiting_reason(self, run: Run) -> str | None:
        return cluster_status.pending_reason(run)

    def get_duration_seconds(self, run: Run) -> float | None:
        return run.duration.total_seconds() if run.duration is not None else None

    def get_heartbeat_age_seconds(self, run: Run) -> float | None:
        return _age(self.context, run.heartbeat_at)

    @extend_schema_field(ThroughputSerializer)
    def get_throughput(self, run: Run) -> dict[str, float | None]:
        samples = self.context.get("samples", {}).get(run.pk, [])
        figures = measure(run, samples, now=self.context.get("now"))
        return {name: (round(value, 1) if value is not None else None) for name, value in vars(figures).items()}

    @extend_schema_field(StageBarSerializer(many=True))
    def get_stages(self, run: Run) -> list[dict[str, Any]]:
        """One entry per work stage: done, current or waiting, with its fraction and recorded seconds."""
        order = [stage.value for stage in WORK_STAGES]
        seconds = run.metrics.get("seconds", {}) if isinstance(run.metrics, dict) else {}
        if run.stage == Stage.DONE:
            position = len(order)
        elif run.stage in order:
            position = order.index(run.stage)
        else:
            position = -1 if run.stage == Stage.QUEUED else len(order)
        stages = []
        for index, stage in enumerate(WORK_STAGES):
            if index < position and stage == Stage.EVALUATE and stage.value not in seconds:
                state, fraction = "skipped", 0.0  # only runs started with --evaluate have this stage
            elif index < position:
                state, fraction = "done", 1.0
            elif index == position:
                state = "current" if run.status in UNFINISHED else run.status
                fraction = run.fraction_done if stage == Stage.COMPUTE else None
            else:
                state, fraction = "waiting", 0.0
            stages.append({"stage": stage.value, "label": stage.label, "state": state, "fraction": fraction,
                           "seconds": seconds.get(stage.value)})
        return stages

    @extend_schema_field({"type": "object", "additionalProperties": {"type": "number"}})
    def get_quality(self, run: Run) -> dict[str, float]:
        """The evaluation figures the run recorded (``metrics["evaluation"]``), numbers only; empty before evaluation exists."""
        evaluation = run.metrics.get("evaluation") if isinstance(run.metrics, dict) else None
        if not isinstance(evaluation, dict):
            return {}
        return {str(k): v for k, v in evaluation.items() if isinstance(v, int | float) and not isinstance(v, bool)}

    def get_is_active(self, run: Run) -> bool:
        return run.pk == self.context.get("active_run_id")

    def get_can_activate(self, run: Run) -> bool:
        servable = self.context.get("servable")
        if servable is None:
            servable = attached_run_ids()
        return run.status == "succeeded" and run.pk != self.context.get("active_run_id") and run.pk in servable


MAX_PAGE_SHARDS = 64
"""The most pods one page-started run may ask for (a typo like 500 would flood the cluster)."""


class StartRunSerializer(serializers.Serializer):
    """What the start form sends: the algorithm (from ``scoring.registry``), its hyperparameters, job options."""

    algorithm = serializers.ChoiceField(choices=[])
    parameters = serializers.DictField(required=False, default=dict, help_text="the algorithm's hyperparameters")
    top_n = serializers.IntegerField(required=False, min_value=1, max_value=MAX_TOP_N)
    popular = serializers.IntegerField(required=False, min_value=1)
    chunk_size = serializers.IntegerField(required=False, min_value=1, help_text="users per pool task")
    workers = serializers.IntegerField(required=False, min_value=1, max_value=256)
    evaluate = serializers.BooleanField(
        required=False, default=False,
        help_text="also measure the algorithm offline (a second fit on 75 % of the ratings) and record it as the run's "
                  "quality figures (the job's --evaluate)")
    shards = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_PAGE_SHARDS,
        help_text="pods of the Kubernetes Job, each scoring its share of the users (PRECOMPUTE_LAUNCHER=kubernetes "
                  "only; default: the CronJob's)",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["algorithm"].choices = sorted(catalogue())  # read at run time: new algorithms appear by themselves

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        """The same check as the job's (``resolve(...).make_model()``), so a bad value is refused here, not later."""
        if data.get("shards", 1) != 1 and settings.PRECOMPUTE_LAUNCHER != "kubernetes":
            raise serializers.ValidationError({"shards": [
                "only a Kubernetes Job runs shards in parallel (PRECOMPUTE_LAUNCHER=kubernetes); the worker runs one "
                "process, so leave it empty"]})
        recorded = {**data.get("parameters", {}), **{k: data[k] for k in JOB_PARAMETERS if k in data}}
        try:
            resolve(data["algorithm"], recorded).make_model()
        except ValueError as exc:
            raise serializers.ValidationError({"parameters": [str(exc)]}) from exc
        data["recorded"] = recorded
        return data

    def create(self, validated_data: dict[str, Any]) -> Run:
        return Run.objects.create_pending(validated_data["algorithm"], validated_data["recorded"])

    def job_args(self) -> list[str]:
        """Options that change how the run is computed, not its result (so they are not in ``Run.parameters``)."""
        args = []
        if "chunk_size" in self.validated_data:
            args += ["--chunk-size", str(self.validated_data["chunk_size"])]
        if "workers" in self.validated_data:
            args += ["--workers", str(self.validated_data["workers"])]
        if self.validated_data.get("evaluate"):
            # Measures the run without changing its scores, so it is not recorded in Run.parameters either.
            args += ["--evaluate"]
        return args


class RetrainingSerializer(serializers.Serializer):
    """The retraining policy and how close the next run is (web/runs/retrain.py)."""

    serving_run_id = serializers.IntegerField(allow_null=True)
    new_interactions = serializers.IntegerField(
        allow_null=True, help_text="ratings and events stored since the serving run read its data (null: no run, or "
                                   "a run from before the count)")
    threshold = serializers.IntegerField(help_text="RETRAIN_THRESHOLD: a run starts when new_interactions reaches it; 0 = off")
    schedule = serializers.CharField(allow_blank=True, help_text="PRECOMPUTE_SCHEDULE, the CronJob's schedule; empty = off")


class RunsFeedSerializer(serializers.Serializer):
    """``GET /api/runs``: everything the progress page draws."""

    active_run_id = serializers.IntegerField(allow_null=True, help_text="the run being served")
    now_run_id = serializers.IntegerField(allow_null=True, help_text="the run the Now panel shows")
    stall_after_seconds = serializers.FloatField(help_text="a running run without a heartbeat for this long is shown stalled")
    server_time = serializers.DateTimeField()
    retraining = RetrainingSerializer()
    runs = RunSerializer(many=True, help_text="the latest runs, newest first (and the serving run if older)")


class RunCancelledSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()


class RunActivatedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    active_run_id = serializers.IntegerField()


class LaunchFailedSerializer(serializers.Serializer):
    """The run was created but could not be started; it is marked failed with the same error."""

    error = serializers.CharField()
    status = serializers.IntegerField()
    run_id = serializers.IntegerField()
