"""Deduplicated refreshes of users' recommendations, worked off in batches, and their status for the "updating" banner.

Redis keys:

* ``refresh:pending:<user>`` is set (``SET NX``) when a rating or an event
  commits. Only the change that sets it puts the user on ``refresh:due``;
  changes that find it set do not, because the refresh has not started yet
  and will read them too. So ten quick ratings cause one refresh (two if
  some land while it runs).
* ``refresh:due``: the set of users waiting for a refresh.
* ``refresh:drain``: set (``SET NX``) when a drain job is queued, so at most
  one waits in the queue whatever the number of users: that job
  (:data:`DRAIN_JOB`) takes up to :data:`USERS_PER_DRAIN` users off
  ``refresh:due`` and refreshes them together, with one model, one read of
  their histories and one transaction. Under a stream of events the batch
  grows with the load instead of the number of jobs (docs/decisions.md,
  "Events").
* ``refresh:running:<user>`` counts the refreshes of that user now running.

A drain clears ``refresh:drain`` first, then takes its users and clears
their *pending* flags before it reads their ratings, so a change committed
after that sets the flags again and queues the next drain: no change is
ever left out. The users a drain took are off ``refresh:due`` from then on,
so it keeps them in its job's meta (``taken``) and is queued with RQ
retries: when its work horse is killed (or the job fails), RQ runs it
again, and that attempt refreshes them along with the users due by then;
it also takes back the running counts that the killed attempt held
(``counted``), which nothing else would clear before they expire. When
the last attempt fails too (PostgreSQL down throughout), its users go back
on ``refresh:due`` (:func:`give_back`) for the next drain. The
user's page shows "updating" while *pending* or *running* exists. The keys
expire, so a lost worker cannot leave a user "updating" forever. If Redis is down the change is stored anyway; the ticket
says the refresh was not queued and the next batch run picks it up.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

import redis
from django.db import transaction
from rq import Retry
from rq.job import Job

from web.observability.requestid import job_meta
from web.queue import REFRESH_DUE_KEY, get_queue, redis_connection

logger = logging.getLogger(__name__)

PENDING_TTL = 600
"""Seconds a pending flag lives if no worker ever takes the job (then the next change queues a new one)."""
DRAIN_TTL = 30
"""Seconds the drain flag lives: had a worker died between taking the drain job off the queue and starting it, no
drain would be queued until it expires. A drain job that waited longer is harmless: it finds fewer users."""
RUNNING_TTL = 600
"""Seconds a running counter lives if the worker dies mid-job (the same as the queue's job timeout)."""
USERS_PER_DRAIN = 100
"""Users one drain job refreshes at most; when more are due it queues the next drain as it starts."""
DRAIN_RETRIES = 3
"""Times RQ runs a drain again after its work horse died or it failed (see the module's docstring)."""
TAKEN_META = "taken"
"""The drain job's meta key: the users it took off ``refresh:due``, for a retry to refresh."""
COUNTED_META = "counted"
"""The drain job's meta key: the users it counts as running now (a killed attempt leaves it set)."""

DUE_KEY = REFRESH_DUE_KEY
DRAIN_KEY = "refresh:drain"
DRAIN_JOB = "web.recommender.tasks.refresh_due"
"""The worker's job, by dotted path as RQ stores it: the tasks import this module (their status keys), not the reverse."""


PENDING_PREFIX = "refresh:pending:"


def pending_key(user_id: int) -> str:
    return f"{PENDING_PREFIX}{int(user_id)}"


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


MARK_DUE_SCRIPT = f"""
local newly = {{}}
for i = 2, #ARGV do
  if redis.call('SET', '{PENDING_PREFIX}' .. ARGV[i], 1, 'NX', 'EX', ARGV[1]) then
    redis.call('SADD', '{DUE_KEY}', ARGV[i])
    newly[#newly + 1] = ARGV[i]
  end
end
local drain = 0
if #newly > 0 and redis.call('SET', '{DRAIN_KEY}', 1, 'NX', 'EX', {DRAIN_TTL}) then
  drain = 1
end
return {{drain, newly}}
"""
"""One round trip: ARGV = the TTL, then user ids. Each user whose pending flag was not set yet gets it and goes on
``refresh:due``; returns ``{1 if a drain job must be queued, those users}``."""

TAKE_DUE_SCRIPT = f"""
redis.call('DEL', '{DRAIN_KEY}')
local users = redis.call('SPOP', '{DUE_KEY}', ARGV[1])
local more = 0
if redis.call('SCARD', '{DUE_KEY}') > 0 and redis.call('SET', '{DRAIN_KEY}', 1, 'NX', 'EX', {DRAIN_TTL}) then
  more = 1
end
return {{more, users}}
"""
"""A drain's start, atomically: clear the drain flag, take up to ARGV[1] due users; returns ``{1 if users are left
(the next drain must be queued), the users taken}``."""


def request_refresh(user_id: int) -> RefreshTicket:
    """Queue one refresh of ``user_id`` after the current transaction commits, unless one is already pending."""
    ticket = RefreshTicket(user_id)

    def enqueue() -> None:
        newly = _mark_due([user_id])
        ticket.queued, ticket.deduplicated = newly is not None, newly == []

    transaction.on_commit(enqueue)
    return ticket


def request_refreshes(user_ids: Iterable[int]) -> None:
    """:func:`request_refresh` for many users at once (an event batch), after the current transaction commits.

    The same pending flags and one script for all of them, so what one batch
    costs Redis is two round trips at most (docs/benchmarks.md, "Events in").
    """
    users = sorted({int(u) for u in user_ids})
    if users:
        transaction.on_commit(lambda: _mark_due(users))


def _mark_due(users: list[int]) -> list[int] | None:
    """Put the users not pending yet on ``refresh:due`` and queue a drain if none waits; those users, None if Redis failed."""
    try:
        queue = get_queue()
        drain, newly = queue.connection.register_script(MARK_DUE_SCRIPT)(args=[PENDING_TTL, *users])
        if drain:
            try:
                _enqueue_drain(queue)
            except redis.RedisError:
                _unmark(queue.connection, [int(u) for u in newly])
                raise
        return [int(u) for u in newly]
    except redis.RedisError:
        logger.warning("could not queue the refresh of %d users: Redis is unavailable", len(users))
        return None


def _enqueue_drain(queue) -> None:
    """Queue a drain job: retried if it dies, with the request id for the worker's log."""
    queue.enqueue_call(DRAIN_JOB, meta=job_meta(), retry=Retry(max=DRAIN_RETRIES))


def _unmark(conn: redis.Redis, users: list[int]) -> None:
    """Undo :data:`MARK_DUE_SCRIPT` when its drain could not be queued, so the next change tries again."""
    with conn.pipeline() as pipe:
        pipe.delete(DRAIN_KEY, *[pending_key(u) for u in users])
        if users:
            pipe.srem(DUE_KEY, *users)
        pipe.execute()


def take_due(job: Job | None = None) -> list[int]:
    """The drain job's users: up to :data:`USERS_PER_DRAIN` due users, taken off ``refresh:due``; queues the next
    drain if more wait.

    With the drain's ``job``, the users an earlier attempt of it took come
    too, and all of them are kept in the job's meta until it succeeds.
    """
    queue = get_queue()
    more, due = queue.connection.register_script(TAKE_DUE_SCRIPT)(args=[USERS_PER_DRAIN])
    if more:
        try:
            _enqueue_drain(queue)
        except redis.RedisError:
            queue.connection.delete(DRAIN_KEY)  # the next change queues it
            logger.warning("could not queue the next drain of due refreshes: Redis is unavailable")
    users = {int(u) for u in due}
    if job is not None:
        users.update(job.meta.get(TAKEN_META, ()))
        job.meta[TAKEN_META] = sorted(users)
        job.save_meta()
    return sorted(users)


def give_back(user_ids: list[int]) -> None:
    """Put the users of a drain that failed for good back on ``refresh:due``, without their pending flags.

    The next drain, which the next change of anyone queues, takes them too;
    as they are not pending, their own next change queues one as well, and
    they are not shown "updating" meanwhile (nothing is queued for them).
    """
    if not user_ids:
        return
    try:
        redis_connection().sadd(DUE_KEY, *user_ids)
    except redis.RedisError:
        logger.warning("could not give back %d users of a failed drain: Redis is unavailable", len(user_ids))


def is_updating(user_id: int) -> bool | None:
    """Whether a refresh of the user is queued or running; None when Redis cannot be asked."""
    try:
        return bool(redis_connection().exists(pending_key(user_id), running_key(user_id)))
    except redis.RedisError:
        return None


class running:
    """Context manager the job wraps its work in: clears the users' *pending* flags, counts itself as *running*.

    With the drain's ``job``, the counts are noted in its meta while they
    last, so that a retry after a kill takes back what the dead attempt held.
    """

    def __init__(self, user_ids: Iterable[int], job: Job | None = None) -> None:
        self.user_ids = sorted({int(u) for u in user_ids})
        self.job = job
        self.conn: redis.Redis | None = None

    def __enter__(self) -> running:
        if not self.user_ids:
            return self
        try:
            self.conn = redis_connection()
            if self.job is not None and self.job.meta.get(COUNTED_META):  # a killed attempt's, never taken back
                _uncount(self.conn, self.job.meta[COUNTED_META])
            with self.conn.pipeline() as pipe:
                for user_id in self.user_ids:
                    pipe.incr(running_key(user_id)).expire(running_key(user_id), RUNNING_TTL)
                pipe.delete(*[pending_key(user_id) for user_id in self.user_ids]).execute()
            self._note(self.user_ids)
        except redis.RedisError:
            logger.warning("refresh of %d users runs without status keys: Redis is unavailable", len(self.user_ids))
            self.conn = None
        return self

    def __exit__(self, *exc) -> None:
        if self.conn is None or not self.user_ids:
            return
        try:
            _uncount(self.conn, self.user_ids)
            self._note(None)
        except redis.RedisError:
            logger.warning("could not clear the running flags of %d users (they expire)", len(self.user_ids))

    def _note(self, counted: list[int] | None) -> None:
        if self.job is not None:
            self.job.meta[COUNTED_META] = counted
            self.job.save_meta()


def _uncount(conn: redis.Redis, user_ids: list[int]) -> None:
    """One refresh of each user is no longer running: decrement their counters, deleting those that reach 0."""
    with conn.pipeline() as pipe:
        for user_id in user_ids:
            pipe.decr(running_key(user_id))
        left = pipe.execute()
    done = [running_key(u) for u, count in zip(user_ids, left, strict=True) if count <= 0]
    if done:
        conn.delete(*done)
