"""The RQ worker counts and times each job in its long-lived parent, whatever became of the fork that ran it."""

from __future__ import annotations

import urllib.request

from prometheus_client import REGISTRY, generate_latest

from tests.observability.conftest import samples, value
from web.observability.worker import MeasuredWorker
from web.queue import get_queue, new_redis_client


def adds(a: int, b: int) -> int:
    return a + b


def fails() -> None:
    raise RuntimeError("a job that fails")


def _counts() -> str:
    return generate_latest(REGISTRY).decode()


def test_jobs_are_counted_by_function_and_outcome(redis_conn, db, free_tcp_port, settings):
    """Two jobs that finish and one that fails, each run in its own fork, count 2 and 1, with durations, on the worker's port."""
    settings.WORKER_METRICS_PORT = free_tcp_port
    queue = get_queue(new_redis_client())
    before = _counts()
    for job in (queue.enqueue(adds, 1, 2), queue.enqueue(adds, 3, 4), queue.enqueue(fails)):
        assert job.get_status() == "queued"
    MeasuredWorker([queue], connection=queue.connection).work(burst=True)
    after = _counts()
    jobs = "movielens_worker_jobs_total"
    assert value(after, jobs, function="adds", status="finished") - value(before, jobs, function="adds", status="finished") == 2
    assert value(after, jobs, function="fails", status="failed") - value(before, jobs, function="fails", status="failed") == 1
    durations = "movielens_worker_job_duration_seconds_count"
    assert value(after, durations, function="adds", status="finished") - value(before, durations, function="adds", status="finished") == 2
    served = urllib.request.urlopen(f"http://127.0.0.1:{free_tcp_port}/metrics", timeout=5).read().decode()
    assert value(served, jobs, function="adds", status="finished") == value(after, jobs, function="adds", status="finished")


def test_the_refresh_failure_series_exist_at_zero_before_the_first_failure(redis_conn, db, free_tcp_port, settings):
    """rate() needs a sample before the first failure: a series born at 1 hides that failure from the alert
    MovielensRefreshesFailing. A worker that ran nothing serves the refreshes' outcomes at 0 already."""
    settings.WORKER_METRICS_PORT = free_tcp_port
    queue = get_queue(new_redis_client())
    MeasuredWorker([queue], connection=queue.connection).work(burst=True)
    served = urllib.request.urlopen(f"http://127.0.0.1:{free_tcp_port}/metrics", timeout=5).read().decode()

    for function in ("refresh_due", "refresh_user"):
        for status in ("finished", "failed"):
            assert (("movielens_worker_jobs_total", (("function", function), ("status", status)))
                    in samples(served)), (function, status)
