"""The RQ worker's refresh of one user, through a real Redis queue."""

from __future__ import annotations

import time

from rq import SimpleWorker

from tests.helpers import run
from web.queue import get_queue, new_redis_client
from web.recommender.models import Movie, Rating, UserScore
from web.recommender.tasks import refresh_user
from web.recommender.worker import ModelWarmWorker
from web.runs import scores

USER = 101


def _rows(run, user_id: int) -> list[tuple[int, int]]:
    return list(UserScore.objects.filter(run=run, user_id=user_id).order_by("rank").values_list("rank", "movie_id"))


def test_worker_rewrites_the_users_rows_without_the_newly_rated_movie(client, service_token, published, redis_conn, django_capture_on_commit_callbacks):
    """After a rating, the queued job run by a real RQ worker replaces the user's rows, ranked 1..n, without that movie."""
    before = _rows(published, USER)
    top = before[0][1]
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/api/users/{USER}/ratings", {"movie_id": top, "rating": 1.0}, content_type="application/json", HTTP_AUTHORIZATION=f"Token {service_token}")
    queue = get_queue()
    assert queue.count == 1
    SimpleWorker([queue], connection=queue.connection).work(burst=True)
    assert queue.count == 0 and queue.failed_job_registry.count == 0

    after = _rows(published, USER)
    assert top not in [movie for _, movie in after]
    assert [rank for rank, _ in after] == list(range(1, len(after) + 1))
    rated = set(Rating.objects.filter(user_id=USER).values_list("movie_id", flat=True))
    assert not rated & {movie for _, movie in after}


def test_refresh_of_a_new_user_creates_their_rows(published, catalogue):
    """A user the run never saw gets personal rows once the worker has run."""
    Rating.objects.create(user_id=7000, movie_id=int(catalogue["movie_ids"][0]), rating=5.0)
    assert _rows(published, 7000) == []
    written = refresh_user(7000)
    rows = _rows(published, 7000)
    assert written == len(rows) > 0
    assert int(catalogue["movie_ids"][0]) not in [movie for _, movie in rows]


def test_refresh_without_a_published_run_does_nothing(catalogue):
    """Before the first run there is nothing to refresh, and no error."""
    assert refresh_user(USER) == 0


def test_warm_model_cache_loads_the_active_runs_model(published):
    """The worker's parent process loads the active run's model once, for its forks to inherit."""
    from web.recommender import tasks

    tasks._MODEL_CACHE.clear()
    assert tasks.warm_model_cache() == published.pk
    assert [run_id for run_id, _ in tasks._MODEL_CACHE] == [published.pk]


def test_warm_model_cache_before_any_run_loads_nothing(catalogue):
    """Before the first published run there is no model to load."""
    from web.recommender import tasks

    tasks._MODEL_CACHE.clear()
    assert tasks.warm_model_cache() is None and tasks._MODEL_CACHE == {}


def loaded_model_runs() -> list[int]:
    """An RQ job: the runs whose models the work horse holds when it starts (what it inherited from the parent)."""
    from web.recommender import tasks

    return [run_id for run_id, _ in tasks._MODEL_CACHE]


def test_forks_inherit_the_model_of_a_run_published_after_the_worker_started(published):
    """After a publish, the worker's parent loads the new model before forking, so a refresh does not load it itself."""
    from web.recommender import tasks
    from web.recommender.worker import ModelWarmWorker

    tasks._MODEL_CACHE.clear()
    queue = get_queue(new_redis_client())
    worker = ModelWarmWorker([queue], connection=queue.connection)
    assert worker.warm() == published.pk

    newer = run(algorithm="popularity", top_n=10)  # published while the worker runs
    job = queue.enqueue(loaded_model_runs)
    time.sleep(max(0.0, worker._next_check - time.monotonic()))  # the parent looks again at most once a second
    worker.work(burst=True)

    assert job.return_value() == [newer.pk]


def test_ratings_the_model_does_not_cover_leave_the_labelled_popular_list(catalogue):
    """EASE models only movies with min_ratings ratings: a new user who rated none of them gets no zero-score "personal" list."""
    from django.db.models import Count

    counts = dict(Rating.objects.values_list("movie_id").annotate(n=Count("user_id")).values_list("movie_id", "n"))
    threshold = sorted(counts.values())[len(counts) // 2] + 1  # about half the movies are modelled
    run(algorithm="ease", params={"min_ratings": threshold}, top_n=10)
    rare = min(counts, key=counts.get)
    common = max(counts, key=counts.get)
    assert counts[rare] < threshold <= counts[common]

    Rating.objects.create(user_id=7001, movie_id=rare, rating=5.0)
    assert refresh_user(7001) == 0
    recommendations = UserScore.objects.recommend(7001, 10)
    assert recommendations.source == "popular" and recommendations.items

    Rating.objects.create(user_id=7002, movie_id=common, rating=5.0)
    assert refresh_user(7002) > 0
    assert UserScore.objects.recommend(7002, 10).source == "personal"


def test_a_model_that_fails_to_load_before_the_fork_does_not_stop_the_worker(published, monkeypatch, caplog):
    """Any error of the warm-up (a model the worker's code cannot unpickle, say) is logged; the job still runs."""
    import pickle

    from web.recommender import worker as worker_module
    from web.recommender.worker import ModelWarmWorker

    def broken():
        raise pickle.UnpicklingError("a model from a newer image")

    monkeypatch.setattr(worker_module, "warm_model_cache", broken)
    queue = get_queue(new_redis_client())
    job = queue.enqueue(loaded_model_runs)
    ModelWarmWorker([queue], connection=queue.connection).work(burst=True)
    assert job.get_status() == "finished"
    assert "could not load the active run's model before forking" in caplog.text


def test_a_rating_made_while_a_run_computes_is_in_the_users_list_once_that_run_is_published(published, redis_conn,
                                                                                           monkeypatch):
    """The next run read the ratings before this one; its refresh then went into the run served at the time. Once the
    new run is published the worker refreshes, in it, the users whose ratings or events came after its data."""
    top = _rows(published, USER)[0][1]
    queue = get_queue(new_redis_client())
    attach = scores.index_and_attach

    def rate_then_attach(run_id: int) -> None:  # after the job's load, before its publish
        Rating.objects.rate(USER, Movie.objects.get(movie_id=top), 0.5)
        SimpleWorker([queue], connection=queue.connection).work(burst=True)  # the refresh, into the run served now
        attach(run_id)

    monkeypatch.setattr(scores, "index_and_attach", rate_then_attach)
    newer = run(algorithm="popularity", top_n=10)
    assert top not in [movie for _, movie in _rows(published, USER)]
    assert top in [movie for _, movie in _rows(newer, USER)]  # the job did not see the rating

    ModelWarmWorker([queue], connection=queue.connection).work(burst=True)  # the worker, after the publish
    assert queue.failed_job_registry.count == 0
    rows = _rows(newer, USER)
    assert rows and top not in [movie for _, movie in rows]
