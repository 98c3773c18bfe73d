"""Deduplicated refreshes of one user's recommendations, and their status for the "updating" banner.

Two small Redis keys per user:

* ``refresh:pending:<user>`` is set (``SET NX``) when a rating commits. Only
  the rating that sets it enqueues a job; ratings that find it set do not,
  because the queued job has not started yet and will read their ratings too.
  So ten quick ratings cause one refresh (two if some land while it runs).
* ``refresh:running:<user>`` counts the refresh jobs of that user now running.

The job clears *pending* when it starts, before it reads the ratings, so a
rating committed after that sets it again and queues the next refresh: no
rating is ever left out. The user's page shows "updating" while either key
exists. Both keys expire, so a lost worker cannot leave a user "updating"
forever. If Redis is down the rating is stored anyway; the ticket says the
refresh was not queued and the next batch run picks the rating up.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

import redis
from django.db import transaction
from rq import Queue

from web.observability.requestid import job_meta
from web.queue import get_queue, redis_connection

logger = logging.getLogger(__name__)

PENDING_TTL = 600
"""Seconds a pending flag lives if no worker ever takes the job (then the next rating queues a new one)."""
RUNNING_TTL = 600
"""Seconds a running counter lives if the worker dies mid-job (the same as the queue's job timeout)."""


REFRESH_JOB = "web.recommender.tasks.refresh_user"
"""The worker's job, by dotted path as RQ stores it: the tasks import this module (their status keys), not the reverse."""


def pending_key(user_id: int) -> str:
    return f"refresh:pending:{int(user_id)}"


def running_key(user_id: int) -> str:
    return f"refresh:running:{int(user_id)}"


@dataclass
class RefreshTicket:
    """What became of a refresh request: ``queued`` is None until the transaction commits."""

    user_id: int
    queued: bool | None = None
    deduplicated: bool = False
    """True when a refresh was already pending, so no new job was needed."""

    @property
    def message(self) -> str:
        if self.queued is False:
            return "Recommendations will update later (the background queue is unavailable)."
        return "Your recommendations are updating."


def request_refresh(user_id: int) -> RefreshTicket:
    """Queue one refresh of ``user_id`` after the current transaction commits, unless one is already pending."""
    ticket = RefreshTicket(user_id)

    def enqueue() -> None:
        try:
            queue = get_queue()
            if not queue.connection.set(pending_key(user_id), 1, nx=True, ex=PENDING_TTL):
                ticket.queued, ticket.deduplicated = True, True
                return
            try:
                queue.enqueue_call(REFRESH_JOB, args=(user_id,), meta=job_meta())  # the request id, for the worker's log
            except redis.RedisError:
                queue.connection.delete(pending_key(user_id))
                raise
            ticket.queued = True
        except redis.RedisError:
            logger.warning("could not queue the refresh of user %s: Redis is unavailable", user_id)
            ticket.queued = False

    transaction.on_commit(enqueue)
    return ticket


REFRESH_MANY_JOB = "web.recommender.tasks.refresh_users"
"""The worker's job that refreshes several users one after the other (a batch of events names many)."""
USERS_PER_JOB = 50
"""Users one :data:`REFRESH_MANY_JOB` refreshes: a batch of 1,000 events queues a few jobs, not hundreds."""


SET_PENDING_SCRIPT = """
local newly = {}
for i = 2, #ARGV do
  if redis.call('SET', 'refresh:pending:' .. ARGV[i], 1, 'NX', 'EX', ARGV[1]) then
    newly[#newly + 1] = ARGV[i]
  end
end
return newly
"""
"""``SET NX`` of many users' pending flags (:func:`pending_key`) in one round trip: ARGV = the TTL, then the user ids;
returns the users whose flag was not set yet."""


def request_refreshes(user_ids: Iterable[int]) -> None:
    """:func:`request_refresh` for many users at once, after the current transaction commits.

    The same pending flags (``SET NX`` each, in one script), so a user whose
    refresh is pending already is left out; the others are refreshed by
    :data:`REFRESH_MANY_JOB` jobs of up to :data:`USERS_PER_JOB` users, queued
    in one pipeline. What one event batch costs Redis is then a few round
    trips, not two per user (docs/benchmarks.md, "Events in").
    """
    users = sorted({int(u) for u in user_ids})
    if not users:
        return

    def enqueue() -> None:
        try:
            queue = get_queue()
            flags = queue.connection.register_script(SET_PENDING_SCRIPT)
            newly = [int(user_id) for user_id in flags(args=[PENDING_TTL, *users])]
            chunks = [newly[i:i + USERS_PER_JOB] for i in range(0, len(newly), USERS_PER_JOB)]
            try:
                queue.enqueue_many([Queue.prepare_data(REFRESH_MANY_JOB, args=(chunk,), meta=job_meta()) for chunk in chunks])
            except redis.RedisError:
                queue.connection.delete(*[pending_key(user_id) for user_id in newly])
                raise
        except redis.RedisError:
            logger.warning("could not queue the refresh of %d users: Redis is unavailable", len(users))

    transaction.on_commit(enqueue)


def is_updating(user_id: int) -> bool | None:
    """Whether a refresh of the user is queued or running; None when Redis cannot be asked."""
    try:
        return bool(redis_connection().exists(pending_key(user_id), running_key(user_id)))
    except redis.RedisError:
        return None


class running:
    """Context manager the job wraps its work in: clears *pending*, counts itself as *running*."""

    def __init__(self, user_id: int) -> None:
        self.user_id = user_id
        self.conn: redis.Redis | None = None

    def __enter__(self) -> running:
        try:
            self.conn = redis_connection()
            with self.conn.pipeline() as pipe:
                pipe.incr(running_key(self.user_id)).expire(running_key(self.user_id), RUNNING_TTL)
                pipe.delete(pending_key(self.user_id)).execute()
        except redis.RedisError:
            logger.warning("refresh of user %s runs without status keys: Redis is unavailable", self.user_id)
            self.conn = None
        return self

    def __exit__(self, *exc) -> None:
        if self.conn is None:
            return
        try:
            if self.conn.decr(running_key(self.user_id)) <= 0:
                self.conn.delete(running_key(self.user_id))
        except redis.RedisError:
            logger.warning("could not clear the running flag of user %s (it expires)", self.user_id)
