"""The RQ queue the web app fills and the worker empties.

Jobs are enqueued only after the surrounding transaction commits, so the
worker never runs before the rating that triggered it is visible (the same
rule as django-rq's on-commit mode).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

import redis
from django.conf import settings
from django.db import transaction
from rq import Queue

logger = logging.getLogger(__name__)

JOB_TIMEOUT = 600
"""Seconds a queued job may run before the worker kills it."""
REFRESH_DUE_KEY = "refresh:due"
"""The Redis set of users whose refresh waits for the next drain job (web/recommender/refresh.py); the metrics count it."""


def new_redis_client(url: str | None = None, connect_timeout: float = 2, timeout: float = 5) -> redis.Redis:
    """A client of ``url`` (default ``REDIS_URL``) with its own connection pool and these timeouts (seconds)."""
    return redis.Redis.from_url(url or settings.REDIS_URL, socket_connect_timeout=connect_timeout, socket_timeout=timeout)


@functools.lru_cache(maxsize=8)
def _shared_client(url: str, connect_timeout: float, timeout: float) -> redis.Redis:
    return new_redis_client(url, connect_timeout, timeout)


def redis_connection(connect_timeout: float = 2, timeout: float = 5) -> redis.Redis:
    """This process's shared client of ``REDIS_URL`` with these timeouts; don't close it.

    A client per call opened a new connection per page (docs/decisions.md); this one
    keeps its pool open across requests. redis-py drops pooled connections
    a fork inherited, and a dead one (Redis restarted) is replaced on retry.
    """
    return _shared_client(settings.REDIS_URL, connect_timeout, timeout)


def get_queue(connection: redis.Redis | None = None) -> Queue:
    """The app's queue, on the shared client unless ``connection`` is given."""
    return Queue(settings.RQ_QUEUE, connection=connection or redis_connection(), default_timeout=JOB_TIMEOUT)


def enqueue_on_commit(func: Callable, *args, job_id: str | None = None, **kwargs) -> None:
    """Enqueue ``func(*args, **kwargs)`` once the current transaction commits.

    A Redis outage must not lose the user's write: the data is already
    committed, so the error is logged and the work waits for the next run.
    """

    def enqueue() -> None:
        try:
            get_queue().enqueue_call(func, args=args, kwargs=kwargs, job_id=job_id)
        except redis.RedisError:
            logger.warning("could not enqueue %s%r: Redis is unavailable", getattr(func, "__name__", func), args)

    transaction.on_commit(enqueue)
