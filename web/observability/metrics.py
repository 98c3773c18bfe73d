"""The app's own Prometheus series, and the exposition that ``/metrics`` serves.

Under the web server every worker process counts into files of its own in
``PROMETHEUS_MULTIPROC_DIR`` (made fresh by web/serve.py with :mod:`web.observability.multiprocess`
before prometheus_client is first imported), and a scrape, whichever worker
answers it, adds all the files up; without that variable (tests, ``manage.py
runserver``) the process's own registry is served. Figures that live in
PostgreSQL or Redis are read at scrape time by collectors registered with
:func:`register_scrape_collector`, never counted in a process.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

PREFIX = "movielens"

# Requests take 1 ms (a 304, /healthz) to a few seconds (a page under load): the buckets cover that span.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HTTP_REQUESTS = Counter(
    f"{PREFIX}_http_requests",
    "HTTP requests answered, by route template (the URL pattern, never the raw path), method and status code.",
    ["route", "method", "status"],
)
HTTP_REQUEST_DURATION = Histogram(
    f"{PREFIX}_http_request_duration_seconds",
    "Time from the request entering Django to the response leaving it, by route template and method.",
    ["route", "method"],
    buckets=LATENCY_BUCKETS,
)
HTTP_DB_DURATION = Histogram(
    f"{PREFIX}_http_db_duration_seconds",
    "Time one request spent in database queries, by route template.",
    ["route"],
    buckets=LATENCY_BUCKETS,
)
HTTP_DB_QUERIES = Counter(
    f"{PREFIX}_http_db_queries",
    "Database queries made by requests, by route template.",
    ["route"],
)

_scrape_collectors: list[Collector] = []


def register_scrape_collector(collector: Collector) -> None:
    """Serve ``collector`` (which reads its figures when scraped) at ``/metrics`` too; registering an equal one again is a no-op."""
    if not any(type(existing) is type(collector) and vars(existing) == vars(collector) for existing in _scrape_collectors):
        _scrape_collectors.append(collector)


def multiprocess_dir() -> str | None:
    """Where this server's processes keep their counts, or None when each process serves its own."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class _ThisProcess(Collector):
    """This process's default registry (its own counters and the process/GC/platform series)."""

    def collect(self) -> Iterator:
        yield from REGISTRY.collect()


def exposition(extra: Iterable[Collector] = ()) -> bytes:
    """The text a scrape gets: every process's counts plus the scrape-time collectors (and ``extra``)."""
    # A registry per scrape: MultiProcessCollector reads the files when collected, and the collectors of the
    # database and Redis must ask again each time. auto_describe=False: registering does not collect.
    registry = CollectorRegistry(auto_describe=False)
    if multiprocess_dir():
        MultiProcessCollector(registry)
    else:
        registry.register(_ThisProcess())
    for collector in [*_scrape_collectors, *extra]:
        registry.register(collector)
    return generate_latest(registry)
