"""Background jobs the RQ worker runs. Plain functions that take ids (RQ pickles the arguments)."""

from __future__ import annotations

import pickle
import time

import numpy as np
from django.db import close_old_connections, transaction
from rq import get_current_job

from scoring.matrix import index_rows
from scoring.topn import top_n
from web.queue import redis_connection
from web.recommender.models import Event, FittedModel, Rating
from web.recommender.models.events import REFRESHING_TYPES
from web.recommender.models.versions import USER, bump
from web.recommender.refresh import give_back, request_refreshes, running, take_due
from web.runs.models import Run
from web.runs.scores import ScoreRows, replace_user_scores
from web.runs.spec import DEFAULT_TOP_N
from web.security import verified_model

DRAIN_WINDOW = 0.1
"""Seconds a drain job waits for more users to become due before it takes them."""
_MODEL_CACHE: dict[tuple, object] = {}
"""The active run's unpickled model, by (run id, when the model was stored): at ml-25m scale an item-item model is tens of MB,
and reading plus unpickling it costs more than the refresh itself, so a worker process keeps the latest one."""


def _fitted_model(run: Run):
    """The run's fitted scorer (cached per worker process), or None if the run stored none."""
    stored_at = FittedModel.objects.filter(run=run).values_list("created_at", flat=True).first()  # no model bytes
    if stored_at is None:
        return None
    key = (run.pk, stored_at)
    model = _MODEL_CACHE.get(key)
    if model is None:
        # Unpickling runs code: only a model the job signed with SECRET_KEY is loaded (ModelSignatureError otherwise).
        model = pickle.loads(verified_model(run.pk, FittedModel.objects.get(run=run).data))
        _MODEL_CACHE.clear()  # only the active run's model is worth its memory
        _MODEL_CACHE[key] = model
    return model


def warm_model_cache() -> int | None:
    """Load the active run's model into this process; returns the run id (None before the first run).

    The RQ worker's parent calls it before it forks a job
    (:class:`web.recommender.worker.ModelWarmWorker`), so each fork inherits
    the model instead of reading and unpickling it again.
    """
    run = Run.objects.active()
    if run is None or _fitted_model(run) is None:
        return None
    return run.pk


CAUGHT_UP_KEY = "refresh:caught-up"
"""Redis key: the id of the last published run whose missed refreshes a worker has queued."""


def refresh_missed_by_publish() -> list[int]:
    """Queue the refresh of every user whose ratings or events came after the active run read its data; those users.

    A run reads the ratings and events when it starts and is published
    minutes (at scale, hours) later; the refreshes of the changes made
    meanwhile went into the run served then, so the new run would serve
    those users a list made without them (the changed movies only hidden
    at read time) until their next change. Once per published run (any
    worker, :data:`CAUGHT_UP_KEY`), found by id above the run's data
    watermark (``Run.data_rating_id`` / ``data_event_id``, primary-key
    ranges). A rating changed or removed during the run keeps its id and
    is not found: the read-time filter still hides a rated movie.
    """
    run = Run.objects.active()
    if run is None or run.data_rating_id is None or run.data_event_id is None:
        return []
    conn = redis_connection()
    if conn.get(CAUGHT_UP_KEY) == str(run.pk).encode():
        return []
    users = set(Rating.objects.filter(id__gt=run.data_rating_id).values_list("user_id", flat=True).distinct())
    users.update(Event.objects.filter(id__gt=run.data_event_id, type__in=REFRESHING_TYPES)
                 .values_list("user_id", flat=True).distinct())
    request_refreshes(users)  # outside a transaction: queued at once
    conn.set(CAUGHT_UP_KEY, run.pk)
    return sorted(users)


def refresh_due() -> int:
    """The drain job (:data:`web.recommender.refresh.DRAIN_JOB`): refresh the users due, up to a batch; rows written.

    It waits :data:`DRAIN_WINDOW` first: the changes of that time join this
    drain instead of each paying a drain of its own (a fork, the job's
    bookkeeping and the run's lookups), which under a stream of events is
    most of what the worker spends; a change's list is refreshed that much
    later, still a small part of a second.
    """
    time.sleep(DRAIN_WINDOW)
    job = get_current_job()  # a retry of it also refreshes the users an attempt that died had taken
    users = take_due(job)
    try:
        with running(users, job) as batch:
            return _refresh_users(batch.user_ids)
    except Exception:
        if job is None or not job.retries_left:  # no attempt comes after this one
            give_back(users)
        raise


def refresh_user(user_id: int) -> int:
    """:func:`refresh_users` of one user."""
    return refresh_users([user_id])


def refresh_users(user_ids: list[int]) -> int:
    """Recompute the users' rows of the active run from their ratings and events as they are now; rows written.

    One read of their histories, one model, one transaction for all of them:
    each user's rows are replaced in it, so a reader sees a user's old list
    or the new one, never a mix or none. While it runs the users count as
    "updating"; starting it clears their pending flags, so changes made
    from now on queue the next refresh (see :mod:`web.recommender.refresh`).
    """
    with running(user_ids) as batch:
        return _refresh_users(batch.user_ids)


def _refresh_users(user_ids: list[int]) -> int:
    if not user_ids:
        return 0
    close_old_connections()
    run = Run.objects.active()
    if run is None:
        return 0
    model = _fitted_model(run)
    if model is None:
        return 0
    n = int(run.parameters.get("top_n", DEFAULT_TOP_N))

    # The users' rows of the job's matrix, read by the job's own reader (jobs/precompute/store.py, load_ratings).
    feedback = Event.objects.feedback(user_ids)
    histories = _by_user(user_ids, feedback.users, feedback.movies, feedback.values)
    dismissals = _by_user(user_ids, *feedback.dismissed)
    indexed = []
    for (movies, values), (dismissed,) in zip(histories, dismissals, strict=True):
        item_index, item_ratings = model.history_index(movies, values)
        dismissed_index, _ = model.history_index(dismissed, np.zeros(len(dismissed), np.float32))
        indexed.append((item_index, item_ratings, dismissed_index))
    scores = model.score_histories(indexed)
    # Not-interested movies never get a slot of the stored list (the read hides them too), as in the job.
    excluded = index_rows([np.concatenate([item_index, dismissed_index]) for item_index, _, dismissed_index in indexed],
                          scores.shape[1])
    items, item_scores = top_n(scores, excluded, n)
    keep = items >= 0
    found = keep.sum(axis=1)
    rows = ScoreRows(
        user_id=np.repeat(np.asarray(user_ids, np.int32), found),
        movie_id=model.movie_ids_[items[keep]].astype(np.int32),
        score=item_scores[keep].astype(np.float32),
        rank=np.concatenate([np.arange(1, k + 1, dtype=np.int16) for k in found]),
    )
    with transaction.atomic():  # the new rows and the users' ETags change together
        written = replace_user_scores(run.pk, user_ids, rows)
        bump((USER, user_id) for user_id in user_ids)  # user_data_changed of each, in one statement
    return written


def _by_user(user_ids: list[int], users: np.ndarray, *columns: np.ndarray) -> list[tuple[np.ndarray, ...]]:
    """``columns`` split by ``users`` into one tuple per id of ``user_ids``, in that order (empty arrays for a user with none)."""
    order = np.argsort(users, kind="stable")
    ids = np.asarray(user_ids)
    starts, ends = np.searchsorted(users[order], ids, "left"), np.searchsorted(users[order], ids, "right")
    return [tuple(column[order[start:end]] for column in columns) for start, end in zip(starts, ends, strict=True)]
