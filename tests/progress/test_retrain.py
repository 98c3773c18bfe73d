"""Retraining on a threshold: the count of new interactions on the progress page, and the worker's check."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rq import Queue

from web.progress.retrain import retrain_if_due
from web.recommender.models import Event, EventBatch, Rating
from web.runs import retrain
from web.runs.models import Run, RunStatus

pytestmark = pytest.mark.django_db(transaction=True)


def _serving_run() -> Run:
    """A run started now (so it records where its data ends), succeeded and served."""
    run = Run.objects.start(algorithm="popularity", params={"top_n": 5})
    Run.objects.filter(pk=run.pk).update(status=RunStatus.SUCCEEDED, finished_at=timezone.now())
    run.refresh_from_db()
    run.activate()
    return run


def _events(user_id: int, movie_ids: list[int], prefix: str) -> None:
    valid = [(i, {"event_id": f"{prefix}-{i}", "user_id": user_id, "movie_id": int(movie), "type": "watchlist_add",
                  "fraction": None, "time": timezone.now()}) for i, movie in enumerate(movie_ids)]
    outcomes = Event.objects.record([EventBatch(valid=valid, refused=[])])
    assert [o.status for o in outcomes] == ["accepted"] * len(movie_ids)


def test_the_count_on_the_progress_page_moves_after_events_and_ratings(catalogue, operator_client, settings):
    """The feed and the page count the ratings and events stored since the serving run read its data."""
    settings.RETRAIN_THRESHOLD = 1000
    _serving_run()
    feed = operator_client.get("/api/runs").json()["retraining"]
    assert feed["new_interactions"] == 0 and feed["threshold"] == 1000

    user, movies = int(catalogue["user_ids"][0]), catalogue["movie_ids"]
    _events(user, list(movies[:3]), "count")
    rated = set(Rating.objects.filter(user_id=user).values_list("movie_id", flat=True))
    Rating.objects.create(user_id=user, movie_id=next(int(m) for m in movies if int(m) not in rated), rating=4.0)
    feed = operator_client.get("/api/runs").json()["retraining"]
    assert feed["new_interactions"] == 4
    page = operator_client.get("/progress/").content.decode()
    assert '<strong id="new-interactions">4</strong>' in page
    assert "A run starts by itself at 1000" in page


def test_without_a_counted_run_the_page_says_so(catalogue, operator_client):
    """A serving run from before the count (no watermark) is 'not counted', not a wrong number."""
    run = Run.objects.create(algorithm="popularity", status=RunStatus.SUCCEEDED)
    run.activate()
    assert operator_client.get("/api/runs").json()["retraining"]["new_interactions"] is None
    assert '<strong id="new-interactions">not counted</strong>' in operator_client.get("/progress/").content.decode()


def test_crossing_the_threshold_starts_exactly_one_run(catalogue, settings, redis_conn):
    """Events past the threshold queue one check; the check creates one pending run like the serving one and queues
    it for the worker; a second check (or the next write) starts none while it is pending."""
    settings.RETRAIN_THRESHOLD = 3
    serving = _serving_run()
    user, movies = int(catalogue["user_ids"][0]), catalogue["movie_ids"]

    _events(user, list(movies[:2]), "below")
    queue = Queue(settings.RQ_QUEUE, connection=redis_conn)
    check = queue.fetch_job("retrain-check")
    assert check is not None  # queued after the commit, deduplicated by its pending flag
    _events(user, list(movies[2:3]), "more")
    assert [job.id for job in queue.jobs].count("retrain-check") == 1

    check.perform()  # what the worker does with it (3 new events now)
    runs = list(Run.objects.exclude(pk=serving.pk))
    assert len(runs) == 1
    started = runs[0]
    assert started.status == RunStatus.PENDING and started.algorithm == serving.algorithm
    assert serving.parameters.items() <= started.parameters.items()  # the same settings, defaults filled in
    assert started.metrics["started_by"] == "threshold: 3 new interactions"
    assert queue.fetch_job(f"precompute-run-{started.pk}") is not None

    _events(user, list(movies[3:5]), "after")
    assert retrain_if_due() is None
    assert Run.objects.exclude(pk=serving.pk).count() == 1


def test_below_the_threshold_no_run_starts(catalogue, settings):
    settings.RETRAIN_THRESHOLD = 5
    serving = _serving_run()
    _events(int(catalogue["user_ids"][0]), list(catalogue["movie_ids"][:4]), "few")
    assert retrain.new_interactions(serving) == 4
    assert retrain_if_due() is None
    assert Run.objects.count() == 1


def test_a_running_run_prevents_another(catalogue, settings):
    """Past the threshold, but a run is running: the check starts nothing."""
    settings.RETRAIN_THRESHOLD = 2
    serving = _serving_run()
    running = Run.objects.start(algorithm="popularity", params={"top_n": 5})
    _events(int(catalogue["user_ids"][0]), list(catalogue["movie_ids"][:3]), "busy")
    assert retrain.new_interactions(serving) == 3
    assert retrain_if_due() is None
    assert set(Run.objects.values_list("pk", flat=True)) == {serving.pk, running.pk}


def test_the_threshold_off_queues_no_check(catalogue, settings, redis_conn):
    settings.RETRAIN_THRESHOLD = 0
    _serving_run()
    _events(int(catalogue["user_ids"][0]), list(catalogue["movie_ids"][:3]), "off")
    assert Queue(settings.RQ_QUEUE, connection=redis_conn).fetch_job("retrain-check") is None
    assert retrain_if_due() is None


@pytest.mark.parametrize("status", [RunStatus.FAILED, RunStatus.CANCELLED])
def test_after_a_run_failed_or_was_cancelled_the_threshold_waits_before_it_starts_another(catalogue, settings, status):
    """Past the threshold, the newest run failed (or an operator cancelled it) a minute ago: every write would start
    the same doomed run again, so the check waits RETRY_AFTER from that run's end; then it starts one."""
    settings.RETRAIN_THRESHOLD = 2
    serving = _serving_run()
    Run.objects.filter(pk=serving.pk).update(finished_at=timezone.now() - timedelta(hours=3))
    ended = Run.objects.start(algorithm="popularity", params={"top_n": 5})
    Run.objects.filter(pk=ended.pk).update(status=status, finished_at=timezone.now() - timedelta(minutes=1))
    _events(int(catalogue["user_ids"][0]), list(catalogue["movie_ids"][:3]), "again")

    assert retrain_if_due() is None
    assert Run.objects.count() == 2

    Run.objects.filter(pk=ended.pk).update(finished_at=timezone.now() - retrain.RETRY_AFTER - timedelta(minutes=1))
    assert retrain_if_due() is not None
    assert Run.objects.count() == 3


def test_an_operators_cancel_of_the_started_run_is_not_undone_by_the_next_write(catalogue, settings, redis_conn,
                                                                               operator_client):
    """The threshold starts a run; an operator cancels it from the page while it is pending. Its worker job then
    refuses it, so nothing but the cancel records its end: without an end time the wait did not count it, and the
    next write started the same run again."""
    settings.RETRAIN_THRESHOLD = 2
    serving = _serving_run()
    Run.objects.filter(pk=serving.pk).update(finished_at=timezone.now() - timedelta(hours=3))
    user, movies = int(catalogue["user_ids"][0]), catalogue["movie_ids"]
    _events(user, list(movies[:3]), "cross")
    started = retrain_if_due()
    assert started is not None

    assert operator_client.post(f"/api/runs/{started}/cancel").json() == {"id": started, "status": "cancelled"}
    _events(user, list(movies[3:4]), "next")
    assert retrain_if_due() is None
    assert set(Run.objects.values_list("pk", flat=True)) == {serving.pk, started}
