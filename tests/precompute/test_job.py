"""The precompute job end to end on a tiny catalogue in the real test database."""

from __future__ import annotations

import os
import pickle
import signal
import time
from datetime import timedelta

import numpy as np
import pytest
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from jobs.precompute.run import JobFailed
from scoring.popularity import Popularity
from scoring.registry import ALGORITHMS
from scoring.topn import rated_matrix, top_n
from tests.helpers import N_MOVIES, N_USERS, start_job, wait_for
from tests.helpers import run as run_with_defaults
from web.recommender.models import FittedModel, Movie, MovieStats, PopularMovie, Rating, UserScore
from web.runs import scores
from web.runs.errors import RunNotPending
from web.runs.models import ActiveRun, Run, RunLogLine, RunStatus, ShardProgress, Stage, stall_after
from web.runs.scores import run_table, run_tables
from web.runs.spec import JOB_PARAMETERS, job_command

pytestmark = pytest.mark.django_db(transaction=True)


def run(**options) -> Run:
    """The job with popularity unless told otherwise: these tests are about the job, and popularity fills every top-n."""
    options.setdefault("algorithm", "popularity")
    return run_with_defaults(**options)


def score_rows(run_id: int) -> list[tuple]:
    return list(UserScore.objects.filter(run_id=run_id).order_by("user_id", "rank").values_list(
        "user_id", "movie_id", "score", "rank"))


def table_exists(run_id: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [run_table(run_id)])
        return cursor.fetchone()[0]


def test_run_succeeds_and_becomes_the_active_run(catalogue):
    """A run succeeds, is activated, records its parameters, metrics and progress."""
    result = run(top_n=5, chunk_size=7, popular=10)
    assert (result.status, result.stage, result.error) == (RunStatus.SUCCEEDED, Stage.DONE, "")
    assert ActiveRun.current_run_id() == result.pk
    assert result.parameters == {"top_n": 5, "popular": 10, "damping": 20.0}
    assert (result.users_total, result.users_done, result.rows_written) == (N_USERS, N_USERS, N_USERS * 5)
    assert {"load", "matrix", "fit", "compute", "write", "index"} <= set(result.metrics["seconds"])
    assert result.metrics["users"] == N_USERS and result.metrics["chunks"] == 5
    shard = ShardProgress.objects.get(run=result)
    assert (shard.shard, shard.status, shard.users_done, shard.host) == (0, RunStatus.SUCCEEDED, N_USERS, os.uname().nodename)
    log = " / ".join(RunLogLine.objects.filter(run=result).values_list("line", flat=True))
    assert f"precompute run {result.pk} succeeded: {N_USERS} users" in log  # the job's log, kept for the page
    counted = dict(Rating.objects.order_by().values("movie_id").annotate(n=Count("*")).values_list("movie_id", "n"))
    stats = dict(MovieStats.objects.values_list("movie_id", "ratings"))  # the catalogue's counts, refreshed by the run
    assert stats == {movie_id: counted.get(movie_id, 0) for movie_id in Movie.objects.values_list("movie_id", flat=True)}


def test_every_user_gets_top_n_unrated_movies_ranked_from_one(catalogue):
    """Each user has exactly n rows ranked 1..n, best score first, and none of them is a movie they rated."""
    result = run(top_n=6, chunk_size=4)
    rows = score_rows(result.pk)
    by_user: dict[int, list[tuple]] = {}
    for user, movie, score, rank in rows:
        by_user.setdefault(user, []).append((movie, score, rank))
    assert sorted(by_user) == catalogue["user_ids"].tolist()
    for items in by_user.values():
        assert [rank for _, _, rank in items] == [1, 2, 3, 4, 5, 6]
        assert [score for _, score, _ in items] == sorted((score for _, score, _ in items), reverse=True)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM recommender_userscore s JOIN recommender_rating r "
            "ON r.user_id = s.user_id AND r.movie_id = s.movie_id WHERE s.run_id = %s",
            [result.pk],
        )
        assert cursor.fetchone()[0] == 0


def test_cold_start_list_and_fitted_model_are_stored(catalogue):
    """The run stores its popular list (best first) and a pickled model that scores a new history."""
    result = run(top_n=5, popular=500)
    popular = list(PopularMovie.objects.filter(run=result).order_by("rank").values_list("rank", "score"))
    assert [rank for rank, _ in popular] == list(range(1, N_MOVIES + 1))  # every movie: fewer than 500 exist
    assert [score for _, score in popular] == sorted((score for _, score in popular), reverse=True)
    model = pickle.loads(FittedModel.objects.get(run=result).data)
    assert isinstance(model, Popularity) and FittedModel.objects.get(run=result).algorithm == "popularity"
    # What the RQ worker does for one user: their history by movie id -> scores -> top-n minus rated.
    items, values = model.history_index(np.array([10, 20, 999_999]), np.array([4.0, 3.0, 5.0]))
    best, _ = top_n(model.score_history(items, values)[None, :], rated_matrix(items, len(model.movie_ids_)), 3)
    assert not set(model.movie_ids_[best[0]].tolist()) & {10, 20}


def test_two_workers_write_the_same_rows_as_one(catalogue):
    """The forked pool (2 workers, 8 chunks) writes exactly the rows of the inline run."""
    one = run(top_n=5, chunk_size=4, workers=1)
    two = run(top_n=5, chunk_size=4, workers=2)
    assert two.metrics["workers"] == 2 and one.metrics["workers"] == 1
    assert score_rows(one.pk) == score_rows(two.pk)
    assert len(score_rows(two.pk)) == N_USERS * 5


def test_failed_fit_is_recorded_and_the_previous_run_keeps_serving(catalogue, monkeypatch):
    """A fit that raises fails the run with stage and error; the active run and its rows stay as they were."""
    good = run(top_n=5)
    before = UserScore.objects.recommend(101, 5)

    def broken_fit(self, ratings):
        raise ValueError("the fit broke")

    monkeypatch.setattr(Popularity, "_fit", broken_fit)
    with pytest.raises(JobFailed, match="fit: ValueError: the fit broke") as failure:
        run(top_n=5)
    failed = Run.objects.get(pk=failure.value.run_id)
    assert (failed.status, failed.stage, failed.error) == (RunStatus.FAILED, Stage.FIT, "fit: ValueError: the fit broke")
    assert failed.finished_at is not None
    assert list(failed.log_lines.values_list("line", flat=True))[-1].endswith(
        f"ERROR precompute run {failed.pk} failed: fit: ValueError: the fit broke")  # the operator reads it on the page
    assert ActiveRun.current_run_id() == good.pk
    after = UserScore.objects.recommend(101, 5)
    assert (after.source, after.run.pk) == ("personal", good.pk)
    assert [(i.movie.pk, i.rank) for i in after.items] == [(i.movie.pk, i.rank) for i in before.items]


def test_failure_mid_compute_drops_the_runs_table(catalogue, monkeypatch):
    """A failure after some chunks were written drops the run's unattached table and writes no model."""
    written = []
    real_write = scores.write_scores

    def write_then_fail(table, run_id, rows):
        if written:
            raise OSError("disk full")
        written.append(real_write(table, run_id, rows))
        return written[-1]

    monkeypatch.setattr(scores, "write_scores", write_then_fail)
    with pytest.raises(JobFailed) as failure:
        run(top_n=5, chunk_size=5)
    failed = Run.objects.get(pk=failure.value.run_id)
    assert failed.error == "compute: OSError: disk full" and failed.stage == Stage.COMPUTE
    assert not table_exists(failed.pk)
    assert not FittedModel.objects.filter(run=failed).exists()
    assert ActiveRun.current_run_id() is None


def test_pending_run_is_started_with_its_recorded_parameters(catalogue):
    """--run-id takes a pending run and uses the top_n and hyperparameters recorded on it."""
    pending = Run.objects.create_pending("popularity", {"top_n": 3, "damping": 0})
    assert (pending.status, pending.stage) == (RunStatus.PENDING, Stage.QUEUED)
    result = run(run_id=pending.pk)
    assert result.pk == pending.pk and result.status == RunStatus.SUCCEEDED
    assert result.parameters == {"top_n": 3, "popular": 500, "damping": 0}
    assert len(score_rows(result.pk)) == N_USERS * 3


def test_invalid_recorded_parameter_fails_the_run_before_loading(catalogue):
    """A pending run with a bad hyperparameter fails in the queued stage with the parameter named."""
    pending = Run.objects.create(algorithm="popularity", parameters={"damping": -1})
    with pytest.raises(JobFailed):
        run(run_id=pending.pk)
    failed = Run.objects.get(pk=pending.pk)
    assert failed.status == RunStatus.FAILED
    assert failed.error == "queued: ValueError: damping must be a finite number >= 0; got -1"
    assert "load" not in failed.metrics["seconds"]


def test_only_a_pending_run_can_be_started(catalogue):
    """--run-id of a finished or missing run is refused and changes nothing."""
    done = run(top_n=2)
    with pytest.raises(RunNotPending, match=f"run {done.pk} is succeeded; only a pending run can be started"):
        run(run_id=done.pk)
    with pytest.raises(RunNotPending, match="run 999999 does not exist"):
        run(run_id=999_999)
    assert Run.objects.get(pk=done.pk).status == RunStatus.SUCCEEDED


def test_create_pending_run_refuses_bad_parameters(catalogue):
    """The progress page's helper refuses an unknown algorithm or parameter before a run exists."""
    with pytest.raises(ValueError, match="unknown algorithm 'knn'"):
        Run.objects.create_pending("knn")
    with pytest.raises(ValueError, match="top_n must be a whole number in \\[1, 32767\\]; got 0"):
        Run.objects.create_pending("popularity", {"top_n": 0})
    assert not Run.objects.exists()


def test_retention_keeps_the_newest_runs_and_drops_the_rest(catalogue):
    """With --keep-runs 2, older runs lose their partition, rows, cold-start list and fitted model."""
    runs = [run(top_n=2, keep_runs=2) for _ in range(4)]
    ids = [r.pk for r in runs]
    assert run_tables() == ids[2:]
    assert not UserScore.objects.filter(run_id__in=ids[:2]).exists()
    assert set(FittedModel.objects.values_list("run_id", flat=True)) == set(ids[2:])
    assert set(PopularMovie.objects.values_list("run_id", flat=True)) == set(ids[2:])
    assert Run.objects.filter(pk__in=ids).count() == 4  # the history stays
    assert ActiveRun.current_run_id() == ids[-1]


def test_retention_never_drops_the_active_run(catalogue):
    """Even with --keep-runs 0 the active run keeps its scores."""
    first = run(top_n=2)
    second = run(top_n=2, keep_runs=0)
    assert run_tables() == [second.pk]
    assert not table_exists(first.pk)


def test_retention_keeps_runs_to_roll_back_to_however_many_failed_since(catalogue):
    """--keep-runs counts the succeeded runs an operator can serve again: failed or cancelled starts (a Redis outage
    makes several in a row) never push them all out, though the newest of those keep their tables as before."""
    succeeded = [run(top_n=2, keep_runs=10) for _ in range(3)]
    failed = [Run.objects.create(algorithm="popularity", status=status, finished_at=timezone.now())
              for status in (RunStatus.FAILED, RunStatus.CANCELLED, RunStatus.FAILED)]
    newest = run(top_n=2, keep_runs=2)

    assert table_exists(newest.pk) and table_exists(succeeded[-1].pk)
    assert not table_exists(succeeded[0].pk) and not table_exists(succeeded[1].pk)
    assert Run.objects.roll_back_to(succeeded[-1].pk).pk == succeeded[-1].pk
    assert failed[-1].pk in Run.objects.values_list("pk", flat=True)  # the history stays


def _restore_a_backup_taken_before(later: Run, earlier: Run) -> None:
    """What restoring a dump taken between ``earlier`` and ``later`` into the running database leaves (pg_restore
    --clean, docs/kubernetes.md): the partitioned parents are dropped and re-made, taking ``later``'s partitions
    with them, while its chunk record, a table of its own that the dump does not name, stays; the rows and the
    sequence go back to the dump's, so the next run gets ``later``'s id again."""
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {scores.run_table(later.pk)}, {scores.similar_table(later.pk)}")
        ActiveRun.objects.update(run_id=earlier.pk)
        later.delete()
        cursor.execute("SELECT setval(pg_get_serial_sequence('progress_run', 'id'), %s)", [earlier.pk])


@pytest.mark.parametrize("start", ["new", "pending", "named"])
def test_a_run_whose_id_comes_back_after_a_restore_writes_every_score(catalogue, start):
    """A restored backup hands out run ids again whose old runs left a chunk record behind: the new run must not take
    those chunks as its own and publish a run without scores (before the fix: 0 rows, every list the popular one)."""
    earlier = run(top_n=2)
    later = run(top_n=2)
    later_id = later.pk
    assert scores.done_chunks(later_id, 0)  # the chunk record a restore leaves behind
    _restore_a_backup_taken_before(later, earlier)

    if start == "pending":
        again = run(top_n=2, run_id=Run.objects.create_pending("popularity", {"top_n": 2}).pk)
    elif start == "named":
        again = run(top_n=2, run_name="after-restore")
    else:
        again = run(top_n=2)
    assert again.pk == later_id and again.status == RunStatus.SUCCEEDED
    assert len(score_rows(again.pk)) == N_USERS * 2
    assert again.metrics.get("chunks_resumed", 0) == 0


def test_retention_drops_the_chunk_records_of_runs_that_no_longer_exist(catalogue):
    """A restore leaves the chunk records of every run made after the backup (not only the next id's): retention
    drops those of runs without a row, as it drops their score tables (before the fix they stayed for ever)."""
    earlier = run(top_n=2)
    later, last = run(top_n=2), run(top_n=2)
    gone = [later.pk, last.pk]
    _restore_a_backup_taken_before(later, earlier)
    Run.objects.filter(pk=gone[1]).delete()
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {scores.run_table(gone[1])}, {scores.similar_table(gone[1])}")

    newest = run(top_n=2, keep_runs=5)
    assert newest.pk == gone[0]
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [scores.done_table(gone[1])])
        assert cursor.fetchone()[0] is None


def test_job_parameters_do_not_clash_with_hyperparameters():
    """No algorithm has a hyperparameter named like a job parameter of Run.parameters."""
    for cls in ALGORITHMS.values():
        assert not set(cls._param_names()) & set(JOB_PARAMETERS)


# -- the job as a process: kill, terminate, cancel ------------------------------
def _start_slow(run_id: int):
    # 30 users in chunks of 2 on 2 workers at 1 s a chunk: about 8 s of compute to interrupt.
    return start_job(*job_command(run_id, "--workers", "2", "--chunk-size", "2", "--top-n", "3")[3:], chunk_delay=1.0)


def _computing(run_id: int):
    run_row = Run.objects.get(pk=run_id)
    return run_row if run_row.stage == Stage.COMPUTE and run_row.users_done > 0 else None


def _process_group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def test_sigkill_leaves_the_run_running_with_a_stale_heartbeat(catalogue):
    """A job killed mid-compute keeps the previous run active; its run stays running and goes stalled."""
    good = run(top_n=3)
    pending = Run.objects.create_pending("popularity")
    job = _start_slow(pending.pk)
    try:
        wait_for(lambda: _computing(pending.pk), what="the job to report compute progress")
    finally:
        os.killpg(job.pid, signal.SIGKILL)  # the whole pod dies: parent and pool workers
        job.communicate(timeout=10)
    killed = Run.objects.get(pk=pending.pk)
    time.sleep(2.5)  # more than two heartbeat intervals
    later = Run.objects.get(pk=pending.pk)
    assert (later.status, later.stage) == (RunStatus.RUNNING, Stage.COMPUTE)
    assert later.heartbeat_at == killed.heartbeat_at
    assert ActiveRun.current_run_id() == good.pk
    assert UserScore.objects.recommend(101, 3).run.pk == good.pk
    assert not later.is_stalled
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(timezone, "now", lambda: later.heartbeat_at + stall_after() + timedelta(seconds=1))
        assert later.is_stalled and later.display_status == "stalled"


def test_the_pool_workers_do_not_outlive_a_killed_job(catalogue):
    """SIGKILL of the job's main process alone (the OOM killer's usual pick, or kill -9 of the pid the RQ worker
    started): its pool workers went on idling for good, each holding its copy of the matrix and the model. In a pod
    the container's end takes them too; under the RQ worker, or by hand, nothing did."""
    pending = Run.objects.create_pending("popularity")
    job = _start_slow(pending.pk)
    try:
        wait_for(lambda: _computing(pending.pk), what="the job to report compute progress")
        job.kill()  # the main process only
        job.wait(timeout=10)  # not communicate(): the workers hold its pipes open while they live
        wait_for(lambda: _process_group_gone(job.pid), timeout=10, what="the pool workers to exit")
    finally:
        if not _process_group_gone(job.pid):
            os.killpg(job.pid, signal.SIGKILL)
        job.communicate(timeout=10)


def test_sigterm_fails_the_run_and_stops_the_workers(catalogue):
    """SIGTERM (a pod stopped) exits non-zero, fails the run with the signal named, drops its table and workers."""
    good = run(top_n=3)
    pending = Run.objects.create_pending("popularity")
    job = _start_slow(pending.pk)
    try:
        wait_for(lambda: _computing(pending.pk), what="the job to report compute progress")
        job.send_signal(signal.SIGTERM)  # Kubernetes signals only the main process
        _, stderr = job.communicate(timeout=30)
    finally:
        if job.poll() is None:
            os.killpg(job.pid, signal.SIGKILL)
    assert job.returncode == 1, stderr
    assert "received SIGTERM" in stderr
    failed = Run.objects.get(pk=pending.pk)
    assert failed.status == RunStatus.FAILED and failed.stage == Stage.COMPUTE
    assert failed.error.startswith("compute: JobTerminated: received SIGTERM")
    assert not table_exists(pending.pk)
    assert ActiveRun.current_run_id() == good.pk
    wait_for(lambda: _process_group_gone(job.pid), timeout=10, what="the pool workers to exit")


def test_operator_cancel_stops_the_job(catalogue):
    """Setting a running run's status to cancelled stops the job at the next chunk; the run stays cancelled."""
    pending = Run.objects.create_pending("popularity")
    job = _start_slow(pending.pk)
    try:
        wait_for(lambda: _computing(pending.pk), what="the job to report compute progress")
        Run.objects.filter(pk=pending.pk).update(status=RunStatus.CANCELLED)
        _, stderr = job.communicate(timeout=30)
    finally:
        if job.poll() is None:
            os.killpg(job.pid, signal.SIGKILL)
    assert job.returncode == 1, stderr
    cancelled = Run.objects.get(pk=pending.pk)
    assert cancelled.status == RunStatus.CANCELLED
    assert cancelled.error == f"compute: RunCancelled: run {pending.pk} was cancelled by an operator"
    assert not table_exists(pending.pk) and ActiveRun.current_run_id() is None
    assert Rating.objects.exists()


def test_an_evaluating_run_records_the_same_figures_as_the_evaluation_code(catalogue):
    """With evaluate=True the run stores evaluate_scorer's stratified figures for its own model and ratings."""
    from scoring.evaluation import Interactions, evaluate_scorer
    from scoring.registry import make_scorer

    evaluated = run(algorithm="ease", params={"min_ratings": 1}, evaluate=True)
    plain = run(algorithm="ease", params={"min_ratings": 1})
    recorded = evaluated.metrics["evaluation"]
    ratings = Rating.objects.values_list("user_id", "movie_id", "rating")
    users, movies, stars = (np.array(column) for column in zip(*ratings, strict=True))
    expected = evaluate_scorer(make_scorer("ease", {"min_ratings": 1}),
                               Interactions(users=users, movies=movies, ratings=stars.astype(np.float32)))
    assert recorded["protocol"] == "stratified" and recorded["seed"] == 0 and recorded["k"] == 10
    for key in ("ndcg@10", "precision@10", "recall@10", "map@10", "users"):
        assert recorded[key] == pytest.approx(expected[key], abs=1e-9), key
    assert 0 < recorded["ndcg@10"] <= 1
    assert "evaluate" in evaluated.metrics["seconds"] and "evaluation" not in plain.metrics


def test_a_hybrid_run_scores_a_movie_nobody_rated(catalogue):
    """The hybrid reads the catalogue: movies with no rating get rows, and the worker's model ranks them by taste."""
    from web.recommender.models import Movie, Tag

    movie_ids = catalogue["movie_ids"]
    Movie.objects.filter(movie_id__in=movie_ids[:12].tolist()).update(genres=["Sci-Fi"], year=1980)
    Movie.objects.filter(movie_id__in=movie_ids[12:].tolist()).update(genres=["Romance"], year=2005)
    Movie.objects.create(movie_id=999, title="Unseen Orbit (1981)", year=1981, genres=["Sci-Fi"])
    Movie.objects.create(movie_id=998, title="Unseen Paris (2006)", year=2006, genres=["Romance"])
    Tag.objects.bulk_create(Tag(user_id=101, movie_id=m, tag="space") for m in (999, int(movie_ids[0]), int(movie_ids[1])))
    done = run(algorithm="hybrid", params={"min_ratings": 1}, top_n=30)
    assert done.status == RunStatus.SUCCEEDED and done.metrics["movies"] == N_MOVIES + 2
    assert UserScore.objects.filter(run_id=done.pk, movie_id=999).count() == N_USERS
    model = pickle.loads(FittedModel.objects.get(run_id=done.pk).data)
    sci_fi = np.array([int(movie_ids[0]), int(movie_ids[1])])
    items, values = model.history_index(sci_fi, np.array([5.0, 5.0], np.float32))
    scores = model.score_history(items, values)
    unseen_sci_fi, unseen_romance = np.searchsorted(model.movie_ids_, [999, 998])
    assert scores[unseen_sci_fi] > scores[unseen_romance]  # both finite: NaN compares False
