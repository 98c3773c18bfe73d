"""Background jobs the RQ worker runs. Plain functions that take ids (RQ pickles the arguments)."""

from __future__ import annotations

import pickle

import numpy as np
from django.db import close_old_connections, connection, transaction

from scoring.topn import rated_matrix, top_n
from web.pgcopy import copy_columns
from web.progress.models import Run
from web.recommender.models import FittedModel, Rating, UserScore

DEFAULT_TOP_N = 100


def refresh_user(user_id: int) -> int:
    """Recompute ``user_id``'s rows of the active run from their ratings as they are now.

    The rows are replaced in one transaction, so a reader sees the old list
    or the new one, never a mix or none. Returns the number of rows written.
    """
    close_old_connections()
    run = Run.objects.active()
    if run is None:
        return 0
    fitted = FittedModel.objects.filter(run=run).first()
    if fitted is None:
        return 0
    model = pickle.loads(fitted.data)
    n = int(run.parameters.get("top_n", DEFAULT_TOP_N))

    history = list(Rating.objects.filter(user_id=user_id).values_list("movie_id", "rating"))
    movie_ids = np.array([movie for movie, _ in history], dtype=np.int64)
    values = np.array([value for _, value in history], dtype=np.float32)
    item_index, item_ratings = model.history_index(movie_ids, values)

    scores = model.score_history(item_index, item_ratings)[np.newaxis, :]
    items, item_scores = top_n(scores, rated_matrix(item_index, len(model.movie_ids_)), n)
    keep = items[0] >= 0
    columns = {
        "run_id": np.full(keep.sum(), run.pk, np.int64),
        "user_id": np.full(keep.sum(), user_id, np.int32),
        "movie_id": model.movie_ids_[items[0][keep]].astype(np.int32),
        "score": item_scores[0][keep].astype(np.float32),
        "rank": np.arange(1, keep.sum() + 1, dtype=np.int16),
    }
    types = {"run_id": "bigint", "user_id": "integer", "movie_id": "integer", "score": "real", "rank": "smallint"}
    table = UserScore._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE run_id = %s AND user_id = %s", [run.pk, user_id])
        copy_columns(cursor.cursor, table, columns, types)
    return int(keep.sum())
