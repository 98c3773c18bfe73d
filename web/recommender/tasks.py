"""Background jobs the RQ worker runs. Plain functions that take ids (RQ pickles the arguments)."""

from __future__ import annotations

import pickle

import numpy as np
from django.db import close_old_connections, transaction

from scoring.topn import rated_matrix, top_n
from web.recommender.models import Event, FittedModel, user_data_changed
from web.recommender.refresh import running
from web.runs.models import Run
from web.runs.scores import ScoreRows, replace_user_scores
from web.runs.spec import DEFAULT_TOP_N
from web.security import verified_model

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


def refresh_user(user_id: int) -> int:
    """Recompute ``user_id``'s rows of the active run from their ratings and events as they are now.

    The rows are replaced in one transaction, so a reader sees the old list
    or the new one, never a mix or none. Returns the number of rows written.
    While it runs the user counts as "updating"; starting it clears the
    user's pending flag, so ratings made from now on queue the next refresh
    (see :mod:`web.recommender.refresh`).
    """
    with running(user_id):
        return _refresh_user(user_id)


def refresh_users(user_ids: list[int]) -> int:
    """:func:`refresh_user` of each user in turn (queued by :func:`web.recommender.refresh.request_refreshes`); rows written."""
    return sum(refresh_user(user_id) for user_id in user_ids)


def _refresh_user(user_id: int) -> int:
    close_old_connections()
    run = Run.objects.active()
    if run is None:
        return 0
    model = _fitted_model(run)
    if model is None:
        return 0
    n = int(run.parameters.get("top_n", DEFAULT_TOP_N))

    # The user's row of the job's matrix, read by the job's own reader (jobs/precompute/store.py, load_ratings).
    feedback = Event.objects.feedback(user_id)
    item_index, item_ratings = model.history_index(feedback.movies, feedback.values)
    dismissed = feedback.dismissed[1]
    dismissed_index, _ = model.history_index(dismissed, np.zeros(len(dismissed), np.float32))

    scores = model.score_history(item_index, item_ratings, dismissed_index)[np.newaxis, :]
    # Not-interested movies never get a slot of the stored list (the read hides them too), as in the job.
    excluded = np.union1d(item_index, dismissed_index).astype(np.int64)
    items, item_scores = top_n(scores, rated_matrix(excluded, len(model.movie_ids_)), n)
    keep = items[0] >= 0
    found = int(keep.sum())
    rows = ScoreRows(
        user_id=np.full(found, user_id, np.int32),
        movie_id=model.movie_ids_[items[0][keep]].astype(np.int32),
        score=item_scores[0][keep].astype(np.float32),
        rank=np.arange(1, found + 1, dtype=np.int16),
    )
    with transaction.atomic():  # the new rows and the user's ETag change together
        written = replace_user_scores(run.pk, user_id, rows)
        user_data_changed(user_id)
    return written
