"""The job's own reads and writes: the ratings it scores, a run's artefacts besides its scores, and retention.

A run's row and its life (create, start, publish, fail) are the manager
methods of :class:`web.runs.models.Run`; its score tables and their one
writer are :mod:`web.runs.scores`. What is left here only the job does:
read every rating, write the run's cold-start list, similar movies and
fitted model, and drop what old runs left behind.
"""

from __future__ import annotations

import pickle

import numpy as np
from django.db import connection

from scoring.base import Scorer
from scoring.content import MovieContent
from web.pgcopy import copy_columns
from web.recommender.models import Event, FittedModel, Movie, PopularMovie, Rating
from web.recommender.models.events import Feedback
from web.runs.models import FINISHED, ActiveRun, Run, RunStatus
from web.runs.scores import (
    SIMILAR_TABLE, SIMILAR_TYPES, attach_partition, drop_run_tables, is_attached, run_tables, similar_table,
)
from web.security import sign_model


# -- ratings ----------------------------------------------------------------
def load_ratings(*, with_watches: bool = True) -> Feedback:
    """What the models learn from, by binary COPY (``Event.objects.feedback``, the worker's refresh reads the same).

    Every rating, and (``with_watches``) the events weighed as
    :mod:`scoring.feedback` says: every unrated watch that counts, valued
    :data:`~scoring.feedback.WATCH_RATING`, and the not-interested pairs,
    which ``RatingsMatrix.from_arrays`` keeps as negatives (EASE) and the
    read hides from the served list.
    """
    if not Rating.objects.exists():
        raise ValueError(
            f"{Rating._meta.db_table} is empty: load ratings first (python manage.py load_movielens DIR)"
        )
    return Event.objects.feedback(with_events=with_watches)


def load_content() -> MovieContent:
    """The catalogue's metadata (titles, genres, years, tags) for a model that reads it."""
    return Movie.objects.content()


# -- the run's artefacts besides its scores -----------------------------------
def write_similar(run_id: int, movie_ids: np.ndarray, neighbours: np.ndarray, similarities: np.ndarray) -> int:
    """The run's similar movies: ``neighbours`` (n_items, k) columns best first, -1 padded; returns rows.

    Its own table, COPY, primary key, attached to ``recommender_similarmovie``
    like the scores; a retried finish starts the table afresh unless it is
    already attached.
    """
    table = similar_table(run_id)
    valid = neighbours >= 0
    per_movie = valid.sum(axis=1)
    columns = {
        "run_id": np.full(int(valid.sum()), run_id, dtype=np.int64),
        "movie_id": np.repeat(movie_ids, per_movie).astype(np.int32),
        "neighbour_id": movie_ids[neighbours[valid]].astype(np.int32),
        "score": similarities[valid].astype(np.float32),
        "rank": np.broadcast_to(np.arange(1, neighbours.shape[1] + 1, dtype=np.int16), neighbours.shape)[valid],
    }
    if is_attached(table):
        return int(valid.sum())
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {table}")
        cursor.execute(f"CREATE TABLE {table} (LIKE {SIMILAR_TABLE} INCLUDING DEFAULTS)")
        copy_columns(cursor.cursor, table, columns, SIMILAR_TYPES)
    attach_partition(SIMILAR_TABLE, table, "run_id, movie_id, rank", run_id)
    return int(valid.sum())


def write_popular(run_id: int, movie_ids: np.ndarray, scores: np.ndarray) -> None:
    """The run's cold-start list: ``movie_ids`` (best first) with their ``scores``, ranked from 1 (replaces any earlier try)."""
    PopularMovie.objects.filter(run_id=run_id).delete()
    PopularMovie.objects.bulk_create(
        PopularMovie(run_id=run_id, movie_id=int(movie), score=float(score), rank=rank)
        for rank, (movie, score) in enumerate(zip(movie_ids.tolist(), scores.tolist(), strict=True), start=1)
    )


def write_fitted_model(run_id: int, model: Scorer) -> int:
    """Pickle ``model``, signed for the run, into its FittedModel row (the RQ worker scores single users with it); returns bytes."""
    data = sign_model(run_id, pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL))
    FittedModel.objects.update_or_create(run_id=run_id, defaults={"algorithm": model.name, "data": data})
    return len(data)


# -- retention ----------------------------------------------------------------
def drop_run_data(run_id: int) -> None:
    """Remove run ``run_id``'s scores (attached or not), cold-start list and fitted model. Never the active run's."""
    if ActiveRun.current_run_id() == run_id:
        raise RuntimeError(f"run {run_id} is the active run; its data must not be dropped")
    drop_run_tables(run_id)
    FittedModel.objects.filter(run_id=run_id).delete()
    PopularMovie.objects.filter(run_id=run_id).delete()


def apply_retention(keep_runs: int) -> list[int]:
    """Drop the scores, cold-start lists and fitted models of finished runs older than the newest ``keep_runs``.

    The newest ``keep_runs`` succeeded runs are kept as well, whatever
    failed or was cancelled since: they are what an operator can serve
    again, and a few failed starts in a row (a Redis outage) would
    otherwise push every one of them out. The active run is always kept,
    and so are pending and running runs (a stalled run keeps its table
    until an operator cancels it). Tables whose run row no longer exists
    are dropped too. Returns the run ids dropped.
    """
    active = ActiveRun.current_run_id()
    newest = Run.objects.order_by("-id").values_list("id", flat=True)
    keep = set(newest.filter(status__in=FINISHED)[:keep_runs])
    keep |= set(newest.filter(status=RunStatus.SUCCEEDED)[:keep_runs])
    if active is not None:
        keep.add(active)
    unfinished = set(Run.objects.exclude(status__in=FINISHED).values_list("id", flat=True))
    with_data = set(run_tables())
    with_data |= set(FittedModel.objects.values_list("run_id", flat=True))
    with_data |= set(PopularMovie.objects.values_list("run_id", flat=True).distinct())
    dropped = sorted(with_data - keep - unfinished)
    for run_id in dropped:
        drop_run_data(run_id)
    return dropped
