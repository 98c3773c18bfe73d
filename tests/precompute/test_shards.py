"""Shards, resume and similar movies: one run written by several processes, and by a process restarted halfway."""

from __future__ import annotations

import os
import pickle
import signal

import numpy as np
import pytest
from django.db import connection

from jobs.precompute.run import JobFailed
from scoring.ease import EASE
from scoring.matrix import RatingsMatrix
from scoring.registry import DEFAULT_ALGORITHM
from scoring.topn import top_n
from tests.helpers import N_USERS, run, start_job, wait_for
from web.recommender.models import FittedModel, Rating, SimilarMovie, UserScore
from web.runs import scores
from web.runs.errors import RunNotPending
from web.runs.models import ActiveRun, Run, RunLogLine, RunStatus, ShardProgress
from web.runs.scores import done_table, similar_table

pytestmark = pytest.mark.django_db(transaction=True)


def score_rows(run_id: int) -> list[tuple]:
    return list(UserScore.objects.filter(run_id=run_id).order_by("user_id", "rank").values_list(
        "user_id", "movie_id", "score", "rank"))


def exists(table: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [table])
        return cursor.fetchone()[0]


def _table_rows(run_id: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {scores.run_table(run_id)}")
        return cursor.fetchone()[0]


@pytest.mark.parametrize("shards", [2, 3])
def test_one_shard_equals_the_union_of_shards(catalogue, shards):
    """n shards of a named run write exactly the rows of one unsharded run; only the last one publishes."""
    whole = run(algorithm="item_knn", top_n=5, chunk_size=4)
    ids = [run(algorithm="item_knn", top_n=5, chunk_size=2, shards=shards, shard=shard, run_name="nightly")
           for shard in range(shards)]
    assert len({r.pk for r in ids}) == 1 and ids[0].pk != whole.pk
    sharded = ids[-1]
    assert sharded.status == RunStatus.SUCCEEDED and ActiveRun.current_run_id() == sharded.pk
    assert [tuple(r) for r in score_rows(sharded.pk)] == score_rows(whole.pk)
    progress = ShardProgress.objects.filter(run=sharded).order_by("shard")
    assert [(p.shard, p.status) for p in progress] == [(i, RunStatus.SUCCEEDED) for i in range(shards)]
    users = {p.shard: p.users_done for p in progress}
    assert sum(users.values()) == N_USERS == sharded.users_done
    assert all(users[i] == sum(1 for u in range(101, 101 + N_USERS) if u % shards == i) for i in users)


def test_the_run_is_not_served_before_its_last_shard(catalogue):
    """After the first of two shards the previous run still serves and the new run is running."""
    good = run(algorithm="item_knn", top_n=5)
    first = run(algorithm="item_knn", top_n=5, shards=2, shard=0, run_name="two")
    assert first.status == RunStatus.RUNNING and ActiveRun.current_run_id() == good.pk
    assert UserScore.objects.recommend(101, 5).run.pk == good.pk
    written = _table_rows(first.pk)
    again = run(algorithm="item_knn", top_n=5, shards=2, shard=0, run_name="two")  # a retried shard
    assert again.pk == first.pk and _table_rows(first.pk) == written > 0  # it skipped its recorded chunks
    last = run(algorithm="item_knn", top_n=5, shards=2, shard=1, run_name="two")
    assert last.status == RunStatus.SUCCEEDED and ActiveRun.current_run_id() == first.pk
    assert len(score_rows(first.pk)) == len(score_rows(good.pk))


def test_a_run_killed_halfway_and_resumed_equals_an_uninterrupted_run(catalogue):
    """SIGKILL mid-compute, then the same run name again: done chunks are skipped and the rows are identical."""
    whole = run(algorithm="item_knn", top_n=3, chunk_size=2)
    job = start_job("--run-name", "resume-me", "--algorithm", "item_knn", "--top-n", "3", "--chunk-size", "2",
                    "--workers", "1", chunk_delay=0.4)
    try:
        killed = wait_for(lambda: Run.objects.filter(metrics__run_name="resume-me", users_done__gte=6).first(),
                          what="a few chunks of the named run")
    finally:
        os.killpg(job.pid, signal.SIGKILL)
        job.communicate(timeout=10)
    assert Run.objects.get(pk=killed.pk).status == RunStatus.RUNNING  # killed: nobody marked it
    resumed = run(algorithm="item_knn", top_n=3, chunk_size=2, run_name="resume-me")
    assert resumed.pk == killed.pk and resumed.status == RunStatus.SUCCEEDED
    assert 3 <= resumed.metrics["chunks_resumed"] < resumed.metrics["chunks"]
    assert score_rows(resumed.pk) == score_rows(whole.pk)


def test_a_failed_named_run_keeps_its_chunks_and_resumes(catalogue, monkeypatch):
    """A named run that fails mid-compute leaves the active run serving, keeps its chunks, and a retry finishes it."""
    good = run(algorithm="item_knn", top_n=4)
    real = scores.write_chunk
    calls = []

    def fail_third(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise OSError("connection reset")
        return real(*args, **kwargs)

    monkeypatch.setattr(scores, "write_chunk", fail_third)
    with pytest.raises(JobFailed, match="compute: OSError: connection reset") as failure:
        run(algorithm="item_knn", top_n=4, chunk_size=5, run_name="flaky")
    failed = Run.objects.get(pk=failure.value.run_id)
    assert failed.status == RunStatus.FAILED and ActiveRun.current_run_id() == good.pk
    assert UserScore.objects.recommend(101, 4).run.pk == good.pk
    assert scores.done_chunks(failed.pk, 0) and exists(done_table(failed.pk))
    monkeypatch.setattr(scores, "write_chunk", real)
    resumed = run(algorithm="item_knn", top_n=4, chunk_size=5, run_name="flaky")
    assert resumed.pk == failed.pk and resumed.status == RunStatus.SUCCEEDED and resumed.error == ""
    assert resumed.metrics["chunks_resumed"] == 2
    assert score_rows(resumed.pk) == score_rows(good.pk)


def test_similar_movies_are_written_published_and_dropped_with_the_run(catalogue):
    """An item-item run writes each movie's neighbours as its similar movies; retention drops them with the run."""
    first = run(algorithm="item_knn", top_n=5, params={"k": 4})
    model = pickle.loads(FittedModel.objects.get(run=first).data)
    rows = list(SimilarMovie.objects.filter(run_id=first.pk).order_by("movie_id", "rank").values_list(
        "movie_id", "neighbour_id", "score", "rank"))
    expected = [(int(model.movie_ids_[i]), int(model.movie_ids_[j]), float(s), rank + 1)
                for i in range(len(model.movie_ids_))
                for rank, (j, s) in enumerate(zip(model.neighbours_[i], model.similarities_[i], strict=True)) if j >= 0]
    assert rows == [(m, n, pytest.approx(s, rel=1e-6), r) for m, n, s, r in expected] and len(rows) > 0
    assert first.metrics["similar_rows"] == len(rows)
    second = run(algorithm="item_knn", top_n=5, keep_runs=0)
    assert not exists(similar_table(first.pk)) and exists(similar_table(second.pk))
    assert not SimilarMovie.objects.filter(run_id=first.pk).exists()


def test_a_shard_with_other_settings_is_refused(catalogue):
    """A process joining a named run with a different top-n fails instead of mixing two kinds of rows."""
    first = run(algorithm="item_knn", top_n=5, shards=2, shard=0, run_name="mixed")
    with pytest.raises(JobFailed, match="differ from those run"):
        run(algorithm="item_knn", top_n=6, shards=2, shard=1, run_name="mixed")
    assert Run.objects.get(pk=first.pk).status == RunStatus.FAILED and ActiveRun.current_run_id() is None


def test_chunks_recorded_under_other_boundaries_are_redone(catalogue):
    """A resumed shard whose chunking changed (new ratings) discards the stale chunks instead of duplicating rows."""
    whole = run(algorithm="item_knn", top_n=3)
    half = run(algorithm="item_knn", top_n=3, chunk_size=4, shards=2, shard=0, run_name="rechunk")
    assert scores.done_chunks(half.pk, 0)
    run(algorithm="item_knn", top_n=3, chunk_size=3, shards=2, shard=0, run_name="rechunk")  # other boundaries
    done = run(algorithm="item_knn", top_n=3, chunk_size=3, shards=2, shard=1, run_name="rechunk")
    assert done.status == RunStatus.SUCCEEDED and score_rows(done.pk) == score_rows(whole.pk)


@pytest.mark.parametrize("algorithm", ["item_knn", "user_knn", "ease"])
def test_no_user_is_recommended_a_movie_they_rated(catalogue, algorithm):
    """The kNN and EASE runs (2 workers) never store a movie the user rated, and ranks run 1..n without gaps."""
    result = run(algorithm=algorithm, top_n=8, chunk_size=5, workers=2)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM recommender_userscore s JOIN recommender_rating r "
            "ON r.user_id = s.user_id AND r.movie_id = s.movie_id WHERE s.run_id = %s", [result.pk])
        assert cursor.fetchone()[0] == 0
        cursor.execute("SELECT count(*) FROM recommender_userscore WHERE run_id = %s GROUP BY user_id "
                       "HAVING max(rank) <> count(*)", [result.pk])
        assert cursor.fetchall() == []
    assert result.rows_written > 0


def test_ease_rows_are_the_models_own_top_n(catalogue):
    """A run ranks EASE's compact block of modelled movies exactly as top_n ranks its full score_users rows."""
    result = run(algorithm="ease", params={"min_ratings": 5}, top_n=6, chunk_size=7, workers=2)
    ratings = RatingsMatrix.from_arrays(*(np.array(column) for column in zip(
        *Rating.objects.values_list("user_id", "movie_id", "rating"), strict=True)))
    model = EASE(min_ratings=5).fit(ratings)  # the same fit, in this process, with full-width score_users
    assert 0 < len(model.modelled_) < ratings.n_items  # some movies are left out, so the compact path matters
    items, scores = top_n(model.score_users(np.arange(ratings.n_users)), ratings.matrix, 6)
    expected = sorted((int(ratings.user_ids[u]), int(ratings.movie_ids[i]), rank + 1)
                      for u in range(ratings.n_users) for rank, i in enumerate(items[u]) if i >= 0)
    stored = sorted(UserScore.objects.filter(run=result).values_list("user_id", "movie_id", "rank"))
    assert stored == expected


def test_default_algorithm_is_the_registry_constant(catalogue):
    """A run without --algorithm uses scoring.registry.DEFAULT_ALGORITHM."""
    assert run(top_n=2).algorithm == DEFAULT_ALGORITHM


def test_two_workers_fit_item_knn_like_one(catalogue):
    """Item-item's chunked fit in the forked pool learns the same neighbours as the inline fit."""
    one = pickle.loads(FittedModel.objects.get(run=run(algorithm="item_knn", params={"chunk_items": 3})).data)
    two = pickle.loads(FittedModel.objects.get(
        run=run(algorithm="item_knn", params={"chunk_items": 3}, workers=2)).data)
    np.testing.assert_array_equal(one.neighbours_, two.neighbours_)
    np.testing.assert_array_equal(one.similarities_, two.similarities_)


def test_a_cancelled_named_run_is_not_started_again_by_a_late_process(catalogue):
    """A process that comes up under the name of a cancelled run refuses it and creates no new run."""
    first = run(algorithm="popularity", top_n=2, run_name="late-pod")
    Run.objects.filter(pk=first.pk).update(status=RunStatus.CANCELLED)
    before = Run.objects.count()
    with pytest.raises(RunNotPending, match="was cancelled"):
        run(algorithm="popularity", top_n=2, run_name="late-pod")
    assert Run.objects.count() == before


def test_the_publishing_shard_reports_the_runs_totals(catalogue):
    """The last shard publishes the whole run, so its 'succeeded' line on the page (and the run's recorded rows) are
    the run's, not its own share: 'succeeded: 305 users' for a run of 610 read like half the users were lost."""
    for shard in range(2):
        published = run(algorithm="item_knn", top_n=5, chunk_size=2, shards=2, shard=shard, run_name="totals")
    assert published.status == RunStatus.SUCCEEDED and published.users_done == N_USERS
    log = " / ".join(RunLogLine.objects.filter(run=published).values_list("line", flat=True))
    assert f"precompute run {published.pk} succeeded: {N_USERS} users, {published.rows_written:,} rows" in log
    assert published.metrics["rows"] == published.rows_written == N_USERS * 5
