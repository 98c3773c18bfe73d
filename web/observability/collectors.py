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

from web import dbdeadline
from web.dbreads import first_read
from web.observability.metrics import PREFIX
from web.queue import REFRESH_DUE_KEY, get_queue, redis_connection

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
    """The app's RQ queue (``RQ_QUEUE``): jobs waiting, started, failed, scheduled, the age of the oldest waiting job,
    and the users due for a refresh."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            # Short timeouts of its own: the scrape must answer within Prometheus's timeout when Redis stalls.
            queue = get_queue(redis_connection(connect_timeout=1, timeout=2))
            depth = queue.count
            oldest_ids = queue.get_job_ids(0, 1)
            try:
                oldest = Job.fetch(oldest_ids[0], connection=queue.connection) if oldest_ids else None
            except NoSuchJobError:  # an id left in the queue after its job expired: RQ skips it, so does the age
                oldest = None
            due = queue.connection.scard(REFRESH_DUE_KEY)
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
        # One drain job refreshes many users, so the backlog of refreshes is counted in users, not in jobs.
        yield GaugeMetricFamily(f"{PREFIX}_refresh_due_users",
                                "Users whose list waits for a refresh by the worker (a drain job takes them in batches).",
                                value=due)


class TableRowsCollector(Collector):
    """Rows stored in the given tables, from PostgreSQL's own bookkeeping: a few catalogue reads, free at any size.

    The figure is the statistics' live-row count (``pg_stat_get_live_tuples``):
    set by each ``ANALYZE`` or vacuum (exact then, on a table small enough to
    be read whole) and moved by every committed insert and delete, which a
    connection reports within about a second (at the latest ten) of its
    commit. Before the table's first analyze or vacuum that the statistics
    know of (a new table; or after a crash, which resets them) it is the larger
    of that count and the last analyze's or index build's (``pg_class.reltuples``),
    so rows counted by both are not counted twice; a table known to neither
    (new, or just truncated) is counted.
    """

    QUERY = """
        SELECT t.name, c.reltuples::bigint, pg_stat_get_live_tuples(c.oid),
               pg_stat_get_analyze_count(c.oid) + pg_stat_get_autoanalyze_count(c.oid)
               + pg_stat_get_vacuum_count(c.oid) + pg_stat_get_autovacuum_count(c.oid) > 0
        FROM unnest(%s::text[]) AS t(name) JOIN pg_class c ON c.oid = to_regclass(t.name)"""

    def __init__(self, tables: dict[str, str]) -> None:
        """``tables``: the ``table`` label (e.g. ``ratings``) → the PostgreSQL table name."""
        self.tables = tables

    def collect(self) -> Iterator[GaugeMetricFamily]:
        rows = GaugeMetricFamily(
            f"{PREFIX}_table_rows",
            "Rows stored, by table (PostgreSQL's live-row statistics: within a few seconds of a commit, exact after ANALYZE).",
            labels=["table"],
        )
        try:
            dbdeadline.require_time_left()  # another collector may have waited out this scrape's time
            for label, estimate in first_read(self._estimates).items():
                rows.add_metric([label], float(estimate))
        except (DatabaseError, KeyError) as exc:  # KeyError: a table not (yet) created, e.g. before migrate
            logger.warning("table metrics unavailable: %s", str(exc).strip()[:300])
            yield source_up("tables", False)
            return
        yield source_up("tables", True)
        yield rows

    def _estimates(self) -> dict[str, int]:
        estimates = {}
        with connection.cursor() as cursor:
            cursor.execute(self.QUERY, [list(self.tables.values())])
            found = {name: (reltuples, live, counted) for name, reltuples, live, counted in cursor.fetchall()}
            for label, table in self.tables.items():
                reltuples, live, counted = found[table]
                if counted:
                    estimates[label] = live
                elif reltuples >= 0 or live > 0:
                    estimates[label] = max(reltuples, live)
                else:
                    cursor.execute(f'SELECT count(*) FROM "{table}"')  # noqa: S608 - a table name from the model, not input
                    estimates[label] = cursor.fetchone()[0]
        return estimates
