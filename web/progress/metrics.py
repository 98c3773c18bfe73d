"""Precompute runs for ``/metrics``, read from PostgreSQL when scraped.

A Job's pods come and go, so nothing about a run is counted in a process:
every scrape reads the runs' rows, which the job keeps up to date with its
heartbeat (docs/operations.md). This is the one observability module that
imports the apps' models; the rest of the web's shared package
(``web/observability/``) knows no app. Registered by
:class:`web.progress.apps.ProgressConfig`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime

from django.db import DatabaseError
from django.db.models import Count, Max, Min
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from web import dbdeadline
from web.dbreads import first_read
from web.observability.collectors import QueueCollector, source_up
from web.observability.metrics import PREFIX, register_scrape_collector
from web.runs.models import ActiveRun, Run, RunSample, RunStatus, Stage
from web.progress.throughput import measure

logger = logging.getLogger(__name__)

RUNS = f"{PREFIX}_precompute"


def _age(now: datetime, then: datetime | None) -> float | None:
    return max(0.0, (now - then).total_seconds()) if then is not None else None


RECENT_SAMPLES = 120
"""Samples of the running run read per scrape for its users/s: the heartbeat leaves at most one a second, and the rate
is measured over the last 15 s of them, so a long run's thousands of samples are never all read."""


def stage_seconds(starts: dict[str, datetime], now: datetime) -> dict[str, float]:
    """Seconds each stage of a running run took (the current one: so far), from when its first sample of each was taken."""
    ordered = sorted(starts.items(), key=lambda item: item[1])
    ends = [at for _, at in ordered[1:]] + [now]
    return {stage: max(0.0, (end - start).total_seconds()) for (stage, start), end in zip(ordered, ends, strict=True)}


class RunCollector(Collector):
    """Runs by status, the served run, the running run's stage, age, heartbeat, users/s and stage times, the last success."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            dbdeadline.require_time_left()  # another collector may have waited out this scrape's time
            families = first_read(lambda: list(self._families(timezone.now())))
        except DatabaseError as exc:
            logger.warning("run metrics unavailable: %s", str(exc).strip()[:300])
            yield source_up("runs", False)
            return
        yield source_up("runs", True)
        yield from families

    def _families(self, now: datetime) -> Iterator[GaugeMetricFamily]:
        by_status = dict(Run.objects.order_by().values_list("status").annotate(n=Count("id")))
        runs = GaugeMetricFamily(f"{RUNS}_runs", "Precompute runs recorded, by status.", labels=["status"])
        for status in RunStatus.values:
            runs.add_metric([status], by_status.get(status, 0))
        yield runs

        active = ActiveRun.objects.select_related("run").filter(id=ActiveRun.SINGLETON_ID).first()
        served = GaugeMetricFamily(
            f"{RUNS}_active_run_info", "The run whose scores are served (value 1; none before the first publish).",
            labels=["run_id", "algorithm"],
        )
        served_age = GaugeMetricFamily(f"{RUNS}_active_run_age_seconds", "Seconds since the served run was published.")
        if active is not None and active.run is not None:
            served.add_metric([str(active.run.pk), active.run.algorithm], 1)
            served_age.add_metric([], _age(now, active.activated_at or active.run.finished_at) or 0.0)
        yield served
        yield served_age

        last_success = Run.objects.filter(status=RunStatus.SUCCEEDED).aggregate(at=Max("finished_at"))["at"]
        success_age = GaugeMetricFamily(
            f"{RUNS}_last_success_age_seconds", "Seconds since the last successful run finished (absent before the first)."
        )
        if last_success is not None:
            success_age.add_metric([], _age(now, last_success))
        yield success_age

        stages = GaugeMetricFamily(
            f"{RUNS}_stage_seconds",
            "Seconds per stage: of the running run (the current stage so far) and of the last successful run.",
            labels=["run", "stage"],
        )
        last = Run.objects.filter(status=RunStatus.SUCCEEDED).order_by("-finished_at").first()
        recorded = last.metrics.get("seconds", {}) if last is not None and isinstance(last.metrics, dict) else {}
        for stage, seconds in recorded.items():
            stages.add_metric(["last_success", stage], float(seconds))

        running = Run.objects.filter(status=RunStatus.RUNNING).order_by("-id").first()
        info = GaugeMetricFamily(
            f"{RUNS}_running_run_info", "The running run (value 1), with its algorithm and stage.", labels=["run_id", "algorithm", "stage"]
        )
        age = GaugeMetricFamily(f"{RUNS}_running_run_age_seconds", "Seconds since the running run started.")
        heartbeat = GaugeMetricFamily(f"{RUNS}_running_run_heartbeat_age_seconds", "Seconds since the running run's last heartbeat.")
        users_rate = GaugeMetricFamily(f"{RUNS}_running_run_users_per_second", "Users scored per second by the running run, recently.")
        users = GaugeMetricFamily(f"{RUNS}_running_run_users", "Users of the running run, done and in all.", labels=["state"])
        if running is not None:
            samples = list(RunSample.objects.filter(run=running).order_by("-at")[:RECENT_SAMPLES])[::-1]
            starts = dict(
                RunSample.objects.filter(run=running).exclude(stage=Stage.QUEUED).order_by()
                .values("stage").annotate(first=Min("at")).values_list("stage", "first")
            )
            info.add_metric([str(running.pk), running.algorithm, running.stage], 1)
            age.add_metric([], _age(now, running.started_at or running.created_at) or 0.0)
            if running.heartbeat_at is not None:
                heartbeat.add_metric([], _age(now, running.heartbeat_at))
            rate = measure(running, samples, now=now).users_per_second
            if rate is not None:
                users_rate.add_metric([], rate)
            users.add_metric(["done"], running.users_done)
            users.add_metric(["total"], running.users_total)
            for stage, seconds in stage_seconds(starts, now).items():
                stages.add_metric(["running", stage], seconds)
        yield from (info, age, heartbeat, users_rate, users, stages)


def register() -> None:
    """Serve the runs and the RQ queue (which also runs precomputes, PRECOMPUTE_LAUNCHER=rq) at /metrics; called by ``ready()``."""
    register_scrape_collector(RunCollector())
    register_scrape_collector(QueueCollector())
