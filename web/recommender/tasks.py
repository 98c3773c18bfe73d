"""Background jobs the RQ worker runs. Plain functions that take ids (RQ pickles the arguments)."""

from __future__ import annotations

import pickle

import numpy as np
import scipy.sparse as sp
from django.db import close_old_connections, connection, transaction

from scoring.topn import top_n
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

    history = np.array(Rating.objects.filter(user_id=user_id).values_list("movie_id", "rating"), dtype=np.float64)
    movie_ids = history[:, 0].astype(np.int64) if len(history) else np.empty(0, np.int64)
    ratings = history[:, 1].astype(np.float32) if len(history) else np.empty(0, np.float32)
    known_ids = model.movie_ids_
    position = np.searchsorted(known_ids, movie_ids)
    position[position == len(known_ids)] = 0
    known = known_ids[position] == movie_ids if len(known_ids) else np.zeros(len(movie_ids), bool)
    item_index, item_ratings = position[known], ratings[known]

    scores = model.score_history(item_index, item_ratings)[np.newaxis, :]
    rated = sp.csr_matrix(
        (np.ones(len(item_index), np.float32), (np.zeros(len(item_index), np.int32), item_index)),
        shape=(1, len(known_ids)),
    )
    items, item_scores = top_n(scores, rated, n)
    keep = items[0] >= 0
    columns = {
        "run_id": np.full(keep.sum(), run.pk, np.int64),
        "user_id": np.full(keep.sum(), user_id, np.int32),
        "movie_id": known_ids[items[0][keep]].astype(np.int32),
        "score": item_scores[0][keep].astype(np.float32),
        "rank": np.arange(1, keep.sum() + 1, dtype=np.int16),
    }
    types = {"run_id": "bigint", "user_id": "integer", "movie_id": "integer", "score": "real", "rank": "smallint"}
    with transaction.atomic(), connection.cursor() as cursor:
        UserScore.objects.filter(run=run, user_id=user_id).delete()
        copy_columns(cursor.cursor, UserScore._meta.db_table, columns, types)
    return int(keep.sum())
