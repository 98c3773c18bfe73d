"""Score chunks of users in a pool of forked processes and hand back their rows as NumPy arrays.

The fitted model and the ratings matrix are module globals set *before* the
pool forks, so every worker shares the parent's pages copy-on-write: nothing
big is pickled per task, a task is only ``(start, stop)`` and its result only
the chunk's rows. The pool is a ``ProcessPoolExecutor`` on the ``fork``
context rather than ``multiprocessing.Pool`` because a worker that dies (OOM
kill) breaks the executor with an error instead of hanging the job forever.

Each worker pins BLAS to one thread (two processes beat two BLAS threads,
PERFORMANCE.md); the caller closes its database connections before the fork
(``fork_guard``), since a socket shared by two processes corrupts both. A
worker asks the kernel to kill it when the job's process dies (Linux's
parent-death signal): after a SIGKILL of the job alone (the OOM killer's
usual pick, or kill -9 of the pid the RQ worker started) its workers would
otherwise idle for good, each holding its copy of the matrix and the model.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from itertools import islice
from typing import Any

import numpy as np

from scoring.base import Scorer
from scoring.matrix import RatingsMatrix
from scoring.topn import top_n
from web.runs.scores import ScoreRows

TEST_CHUNK_DELAY_ENV = "PRECOMPUTE_TEST_CHUNK_DELAY"
"""Test hook only: seconds each chunk sleeps, so tests can stop a job mid-compute. Unset in real runs."""
TEST_PAUSE_AT_ENV = "PRECOMPUTE_TEST_PAUSE_AT"
"""Test hook only: ``<stage>=<seconds>``, the job sleeps that long as it enters that stage, so tests can kill it there."""

TASKS_PER_WORKER = 2
"""Chunks in flight per worker: enough to keep workers busy, few enough to bound the parent's memory."""


@dataclass
class ChunkRows(ScoreRows):
    """The score rows of one chunk of users (``rank`` 1..top_n per user), and which chunk it was."""

    users: int = 0
    """How many users the chunk held (users with no candidate have no rows but still count)."""
    start: int = 0  # the chunk: positions start..stop-1 in the shard's list of user rows
    stop: int = 0


@dataclass
class _State:
    model: Scorer
    ratings: RatingsMatrix
    n: int
    delay: float
    rows: np.ndarray  # the matrix rows of the users this process scores (its shard), ascending


_STATE: _State | None = None
"""Set by :func:`compute` in the parent before the fork; workers read their inherited copy."""
_BLAS_LIMIT = None  # keeps threadpoolctl's limit alive in a worker


def score_chunk(start: int, stop: int) -> ChunkRows:
    """Top-N rows of the users at positions ``start..stop-1`` of the shard's rows: scores, minus rated movies, ranked."""
    state = _STATE
    if state is None:
        raise RuntimeError("score_chunk runs only inside compute(): the model global is not set")
    if state.delay:
        time.sleep(state.delay)
    users = state.rows[start:stop]
    # (b, n_items), or (b, c) for those columns; a model that can tell which columns cannot reach a top n is told n.
    scores, columns = state.model.score_users_compact(users, n=state.n)
    rated = state.ratings.hidden(users)  # (b, n_items), the candidates' exclusion: rated, watched or dismissed
    if columns is not None:
        rated = rated[:, columns]
    items, values = top_n(scores, rated, state.n)  # (b, n) each, -1/NaN padding at the end of a row
    if columns is not None:
        items = np.where(items >= 0, columns[np.maximum(items, 0)], -1)
    valid = items >= 0
    per_user = valid.sum(axis=1)
    ranks = np.broadcast_to(np.arange(1, state.n + 1, dtype=np.int16), items.shape)
    return ChunkRows(
        users=stop - start,
        user_id=np.repeat(state.ratings.user_ids[users], per_user),
        movie_id=state.ratings.movie_ids[items[valid]],
        score=values[valid],
        rank=ranks[valid],
        start=start,
        stop=stop,
    )


PR_SET_PDEATHSIG = 1
"""Linux prctl(2) option: the signal this process gets when the thread that forked it ends."""


def _die_with_parent(parent: int) -> None:
    """SIGKILL this worker when ``parent`` (the job, whose main thread forks the pool) dies; Linux only."""
    prctl = getattr(ctypes.CDLL(None, use_errno=True), "prctl", None)
    if prctl is None:  # not Linux: a worker outlives a SIGKILL of the job there
        return
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the job died before the request took effect
        os._exit(1)


def _init_worker(parent: int) -> None:
    global _BLAS_LIMIT
    _die_with_parent(parent)
    # The parent turns SIGTERM into an exception; a worker must simply die when the parent stops it.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is the parent's to handle
    from threadpoolctl import threadpool_limits  # in the forked worker only: the parent keeps its BLAS threads

    _BLAS_LIMIT = threadpool_limits(limits=1)


def chunk_delay_from_env() -> float:
    """The :data:`TEST_CHUNK_DELAY_ENV` test hook's seconds (0 when unset)."""
    value = os.environ.get(TEST_CHUNK_DELAY_ENV, "").strip()
    return float(value) if value else 0.0


def stage_pause_from_env(stage: str) -> float:
    """The :data:`TEST_PAUSE_AT_ENV` test hook's seconds for ``stage`` (0 unless it names that stage)."""
    name, _, seconds = os.environ.get(TEST_PAUSE_AT_ENV, "").partition("=")
    return float(seconds) if name.strip() == stage and seconds.strip() else 0.0


def compute(
    model: Scorer,
    ratings: RatingsMatrix,
    n: int,
    chunks: list[tuple[int, int]],
    workers: int,
    fork_guard: AbstractContextManager | None = None,
    rows: np.ndarray | None = None,
) -> Iterator[ChunkRows]:
    """Yield each chunk's :class:`ChunkRows` as soon as it is ready (in any order).

    ``chunks`` are ``[start, stop)`` positions into ``rows``, the matrix rows
    to score (default: every user).

    With one worker (or one chunk) the chunks run inline, without a pool.
    ``fork_guard`` is entered around the fork (the job closes its DB
    connections and pauses its heartbeat in it). Close the generator (or
    exhaust it) to stop: an early close cancels the queued chunks and
    terminates the workers.
    """
    global _STATE
    rows = np.arange(ratings.n_users) if rows is None else np.asarray(rows)
    _STATE = _State(model=model, ratings=ratings, n=n, delay=chunk_delay_from_env(), rows=rows)
    try:
        if workers <= 1 or len(chunks) <= 1:
            for start, stop in chunks:
                yield score_chunk(start, stop)
            return
        yield from _pooled(score_chunk, chunks, min(workers, len(chunks)), fork_guard or nullcontext())
    finally:
        _STATE = None


_TASK: Callable[[int, int], Any] | None = None
"""The task of :func:`map_forked`, set before the fork; workers call their inherited copy."""


def _run_task(start: int, stop: int) -> Any:
    if _TASK is None:
        raise RuntimeError("_run_task runs only inside map_forked()")
    return _TASK(start, stop)


def map_forked(
    task: Callable[[int, int], Any],
    chunks: list[tuple[int, int]],
    workers: int,
    fork_guard: Callable[[], AbstractContextManager] | None = None,
) -> Iterator[Any]:
    """A :data:`scoring.similarity.Mapper` over the fork pool: ``task(start, stop)`` per chunk, results in any order.

    ``task`` may be a closure over big arrays (a model's fit): it is a module
    global when the pool forks, so only ``(start, stop)`` and the result cross
    between processes.
    """
    global _TASK
    _TASK = task
    try:
        if workers <= 1 or len(chunks) <= 1:
            for start, stop in chunks:
                yield task(start, stop)
            return
        guard = fork_guard() if fork_guard is not None else nullcontext()
        yield from _pooled(_run_task, chunks, min(workers, len(chunks)), guard)
    finally:
        _TASK = None


def _pooled(
    function: Callable[[int, int], Any], chunks: list[tuple[int, int]], workers: int, fork_guard: AbstractContextManager
) -> Iterator[Any]:
    todo = iter(chunks)
    pending: set[Future] = set()
    with fork_guard:
        executor = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"), initializer=_init_worker,
                                       initargs=(os.getpid(),))
        try:
            # The fork context starts every worker at the first submit, so all forks happen inside the guard.
            pending.add(executor.submit(function, *next(todo)))
        except BaseException:
            _stop(executor)
            raise
    finished = False
    try:
        for bounds in _take(todo, workers * TASKS_PER_WORKER - 1):
            pending.add(executor.submit(function, *bounds))
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                rows = future.result()  # re-raises a worker's exception (or BrokenProcessPool)
                for bounds in _take(todo, 1):
                    pending.add(executor.submit(function, *bounds))
                yield rows
        finished = True
    finally:
        if finished:
            executor.shutdown(wait=True)
        else:
            _stop(executor)


def _take(iterator: Iterator, count: int) -> list:
    return list(islice(iterator, count))


def _stop(executor: ProcessPoolExecutor) -> None:
    """Cancel what is queued and terminate the workers now (a failed or stopped run)."""
    executor.shutdown(wait=False, cancel_futures=True)
    # The job starts no other multiprocessing children, so these are the pool's workers.
    children = multiprocessing.active_children()
    for child in children:
        child.terminate()
    for child in children:
        child.join(timeout=5)
