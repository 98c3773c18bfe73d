"""Scrape-time collectors of figures that live outside any one process: the RQ queue in Redis, table sizes in PostgreSQL.

Every web process answers a scrape with the same figures, read when scraped:
with several web pods, aggregate them with ``max``, never ``sum``
(docs/operations.md).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import redis
from django.db import DatabaseError, connection
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry

from web.observability.metrics import PREFIX
from web.queue import get_queue

logger = logging.getLogger(__name__)


def source_up(source: str, up: bool) -> GaugeMetricFamily:
    """``movielens_<source>_scrape_ok``: whether this scrape could read the figures of ``source`` (1) or not (0)."""
    family = GaugeMetricFamily(
        f"{PREFIX}_{source}_scrape_ok",
        f"Whether this scrape could read the {source} figures: 1 yes, 0 no (then their series are missing).",
    )
    family.add_metric([], 1.0 if up else 0.0)
    return family


class QueueCollector(Collector):
    """The app's RQ queue (``RQ_QUEUE``): jobs waiting, started, failed, scheduled, and the age of the oldest waiting job."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            queue = get_queue()
            depth = queue.count
            oldest_ids = queue.get_job_ids(0, 1)
            try:
                oldest = Job.fetch(oldest_ids[0], connection=queue.connection) if oldest_ids else None
            except NoSuchJobError:  # an id left in the queue after its job expired: RQ skips it, so does the age
                oldest = None
            registries = {
                "started": StartedJobRegistry(queue=queue).count,
                "failed": FailedJobRegistry(queue=queue).count,
                "scheduled": ScheduledJobRegistry(queue=queue).count,
            }
        except redis.RedisError as exc:
            logger.warning("queue metrics unavailable: %s", exc)
            yield source_up("queue", False)
            return
        yield source_up("queue", True)
        jobs = GaugeMetricFamily(
            f"{PREFIX}_queue_jobs", "Jobs of the RQ queue by state (queued = waiting for a worker).", labels=["queue", "state"]
        )
        jobs.add_metric([queue.name, "queued"], depth)
        for state, count in registries.items():
            jobs.add_metric([queue.name, state], count)
        yield jobs
        age = GaugeMetricFamily(
            f"{PREFIX}_queue_oldest_job_age_seconds",
            "Seconds the oldest waiting job of the RQ queue has waited (0 when none waits).",
            labels=["queue"],
        )
        enqueued_at = oldest.enqueued_at if oldest is not None else None
        age.add_metric([queue.name], max(0.0, time.time() - enqueued_at.timestamp()) if enqueued_at else 0.0)
        yield age


class TableRowsCollector(Collector):
    """Rows of the given tables, from PostgreSQL's statistics (``pg_class.reltuples``): free to read at any size.

    The estimate is exact after an ``ANALYZE`` and within autovacuum's
    threshold otherwise; a table never analyzed yet (reltuples -1) is counted.
    """

    def __init__(self, tables: dict[str, str]) -> None:
        """``tables``: the ``table`` label (e.g. ``ratings``) → the PostgreSQL table name."""
        self.tables = tables

    def collect(self) -> Iterator[GaugeMetricFamily]:
        rows = GaugeMetricFamily(
            f"{PREFIX}_table_rows", "Rows stored, by table (PostgreSQL's estimate, exact after ANALYZE).", labels=["table"]
        )
        try:
            with connection.cursor() as cursor:
                for label, table in self.tables.items():
                    cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)", [table])
                    found = cursor.fetchone()
                    estimate = found[0] if found else None
                    if estimate is None or estimate < 0:
                        cursor.execute(f'SELECT count(*) FROM "{table}"')  # noqa: S608 - a table name from the model, not input
                        estimate = cursor.fetchone()[0]
                    rows.add_metric([label], float(estimate))
        except DatabaseError as exc:
            logger.warning("table metrics unavailable: %s", str(exc).strip()[:300])
            yield source_up("tables", False)
            return
        yield source_up("tables", True)
        yield rows
