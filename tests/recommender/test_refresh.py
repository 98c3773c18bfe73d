"""Refreshes after ratings: deduplicated in the real Redis queue, status for the page, Redis outages."""

from __future__ import annotations

import os
import signal

from django.db import OperationalError
from django.utils import timezone
import numpy as np
import redis
from rq import Queue, SimpleWorker

from web.queue import get_queue, new_redis_client
from web.recommender import refresh, tasks
from web.recommender.models import Event, EventBatch, Movie, Rating, UserScore
from web.recommender.models.versions import USER as USER_SCOPE, versions
from web.recommender.refresh import is_updating, pending_key, running_key
from web.recommender.tasks import refresh_user, refresh_users
from web.recommender.worker import ModelWarmWorker

USER = 101


def _unrated(user_id: int, k: int) -> list[Movie]:
    rated = set(Rating.objects.filter(user_id=user_id).values_list("movie_id", flat=True))
    return list(Movie.objects.exclude(movie_id__in=rated).order_by("movie_id")[:k])


def test_ten_quick_ratings_queue_one_refresh(published, redis_conn):
    """Ten ratings before the worker starts leave exactly one refresh job, which sees all ten."""
    movies = _unrated(USER, 10)
    for movie in movies:
        Rating.objects.rate(USER, movie, 4.0)
    queue = get_queue()
    assert queue.count == 1
    assert is_updating(USER) is True
    SimpleWorker([queue], connection=queue.connection).work(burst=True)
    assert queue.failed_job_registry.count == 0
    rows = set(UserScore.objects.filter(run=published, user_id=USER).values_list("movie_id", flat=True))
    assert rows and not rows & {m.movie_id for m in movies}
    assert is_updating(USER) is False


def test_a_rating_during_a_refresh_queues_exactly_one_more(published, redis_conn):
    """Once a drain has taken the user, the next rating queues one new drain (so it is never left out), and no more."""
    first, second, third = _unrated(USER, 3)
    Rating.objects.rate(USER, first, 3.0)
    queue = get_queue()
    job = queue.jobs[0]
    queue.remove(job)
    # What the drain job does first: take its users, count them running and clear their pending flags.
    users = refresh.take_due()
    assert users == [USER]
    with refresh.running(users):
        assert queue.count == 0
        Rating.objects.rate(USER, second, 3.0)
        Rating.objects.rate(USER, third, 3.0)
        assert queue.count == 1
    assert is_updating(USER) is True  # pending again, for the drain just queued
    assert refresh.take_due() == [USER]


def test_refresh_clears_the_status_keys(published, redis_conn):
    """A finished refresh leaves neither the pending flag nor the running counter behind."""
    redis_conn.set(pending_key(USER), 1)
    refresh_user(USER)
    assert not redis_conn.exists(pending_key(USER), running_key(USER))


def test_status_endpoint_reports_updating(client, published, redis_conn):
    """/users/<id>/status says updating while a refresh is pending and not after."""
    redis_conn.set(pending_key(USER), 1)
    assert client.get(f"/users/{USER}/status").json()["updating"] is True
    redis_conn.delete(pending_key(USER))
    assert client.get(f"/users/{USER}/status").json()["updating"] is False


def test_with_redis_down_the_rating_is_stored_and_the_page_says_later(client, member, published, settings):
    """Redis refusing connections does not lose a rating; the answer and the page say the list updates later."""
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1: a real connection refusal
    account, profile, token = member
    response = client.post(
        f"/api/users/{profile.user_id}/ratings", {"movie_id": 250, "rating": 4.5}, content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {token}",
    )
    assert response.status_code == 201 and response.json()["refresh"] == "unavailable"
    assert Rating.objects.get(user_id=profile.user_id, movie_id=250).rating == 4.5
    client.force_login(account)
    saved = client.post("/movies/240/rate", {"rating": "3.0"}, follow=True).content.decode()
    assert "will update later" in saved
    assert Rating.objects.get(user_id=profile.user_id, movie_id=240).rating == 3.0
    assert client.get("/me/status").json()["updating"] is None


def test_a_batch_of_events_queues_one_drain_that_works_them_off_in_batches(published, redis_conn, monkeypatch):
    """Watches of all 30 users in one batch: one pending flag each and one drain job; a user whose refresh was pending
    already is left out. Drains of at most USERS_PER_DRAIN users (7 here) queue each other until none is due, refresh
    every user once and leave none 'updating'."""
    monkeypatch.setattr(refresh, "USERS_PER_DRAIN", 7)
    users = sorted(set(Rating.objects.values_list("user_id", flat=True)))
    redis_conn.set(pending_key(users[0]), 1)
    movie = Movie.objects.order_by("movie_id").first().movie_id
    valid = [(i, {"event_id": f"many-{i}", "user_id": user, "movie_id": movie, "type": "watched", "fraction": None,
                  "time": timezone.now()}) for i, user in enumerate(users)]
    outcomes = Event.objects.record([EventBatch(valid=valid, refused=[])])
    assert {o.status for o in outcomes} == {"accepted"}
    queue = get_queue()
    assert [job.func_name for job in queue.jobs] == [refresh.DRAIN_JOB]
    assert sorted(int(u) for u in redis_conn.smembers(refresh.DUE_KEY)) == users[1:]
    assert all(is_updating(user) for user in users)
    redis_conn.delete(pending_key(users[0]))
    before = versions((USER_SCOPE, u) for u in users)
    SimpleWorker([queue], connection=queue.connection).work(burst=True)
    assert queue.failed_job_registry.count == 0
    assert queue.finished_job_registry.count == -(-(len(users) - 1) // 7)
    assert not any(is_updating(user) for user in users)
    assert not redis_conn.exists(refresh.DUE_KEY, refresh.DRAIN_KEY)
    after = versions((USER_SCOPE, u) for u in users)
    assert after[USER_SCOPE, users[0]] == before[USER_SCOPE, users[0]]  # its refresh was pending elsewhere: not this one's
    assert all(after[USER_SCOPE, u] == before[USER_SCOPE, u] + 1 for u in users[1:])  # each rewritten once
    assert all(movie not in UserScore.objects.filter(run=published, user_id=u).values_list("movie_id", flat=True)
               for u in users[1:])


def test_a_drain_refreshes_each_user_as_a_refresh_of_that_user_alone_would(published, redis_conn):
    """The batched refresh gives every user exactly the list a refresh of that user alone gives."""
    users = sorted(set(Rating.objects.values_list("user_id", flat=True)))[:12]
    for user in users[::3]:
        Event.objects.record([EventBatch(valid=[(0, {"event_id": f"alone-{user}", "user_id": user, "movie_id":
                                                     _unrated(user, 1)[0].movie_id, "type": "not_interested",
                                                     "fraction": None, "time": timezone.now()})], refused=[])])

    def lists():
        return {u: list(UserScore.objects.filter(run=published, user_id=u).order_by("rank").values_list("movie_id", "score"))
                for u in users}

    for user in users:
        refresh_user(user)
    alone = lists()
    UserScore.objects.filter(run=published, user_id__in=users).delete()
    assert refresh_users(users) == sum(len(rows) for rows in alone.values())
    batched = lists()
    assert batched.keys() == alone.keys()
    for user in users:
        assert [m for m, _ in batched[user]] == [m for m, _ in alone[user]]
        assert np.allclose([s for _, s in batched[user]], [s for _, s in alone[user]], rtol=1e-5)


def test_when_the_drain_cannot_be_queued_the_users_are_not_left_pending(published, redis_conn, monkeypatch):
    """Redis failing between the flags and the job: the flags are undone, the ticket says 'later', and the next
    rating queues the drain."""
    first, second = _unrated(USER, 2)

    def refuse(*args, **kwargs):
        raise redis.ConnectionError("refused")

    with monkeypatch.context() as patch:
        patch.setattr(Queue, "enqueue_call", refuse)
        ticket = Rating.objects.rate(USER, first, 3.0).refresh
    assert ticket.queued is False
    assert not redis_conn.exists(pending_key(USER), refresh.DRAIN_KEY) and not redis_conn.sismember(refresh.DUE_KEY, USER)
    Rating.objects.rate(USER, second, 3.0)
    assert [job.func_name for job in get_queue().jobs] == [refresh.DRAIN_JOB]


def test_a_drain_whose_work_horse_is_killed_runs_again_and_leaves_no_user_updating(published, redis_conn, monkeypatch,
                                                                                   tmp_path):
    """The work horse SIGKILLed inside a drain, after it took its users off the due set (an OOM kill, a node lost):
    the drain runs again, refreshes those users, and the status stops saying 'updating' once it has."""
    top = UserScore.objects.filter(run=published, user_id=USER, rank=1).values_list("movie_id", flat=True).get()
    Rating.objects.rate(USER, Movie.objects.get(movie_id=top), 1.0)
    killed = tmp_path / "killed"
    refresh_for_real = tasks._refresh_users

    def killed_the_first_time(user_ids):  # runs in the work horse, a fork of this process
        if not killed.exists():
            killed.touch()
            os.kill(os.getpid(), signal.SIGKILL)
        return refresh_for_real(user_ids)

    monkeypatch.setattr(tasks, "_refresh_users", killed_the_first_time)
    queue = get_queue(new_redis_client())
    ModelWarmWorker([queue], connection=queue.connection).work(burst=True)
    assert killed.exists()
    rows = UserScore.objects.filter(run=published, user_id=USER).values_list("movie_id", flat=True)
    assert rows and top not in rows
    assert is_updating(USER) is False
    assert queue.failed_job_registry.count == 0


def test_a_drain_that_keeps_failing_leaves_its_users_due_for_the_next_drain(published, redis_conn, monkeypatch):
    """PostgreSQL refusing through every attempt of a drain: the users it took go back on the due set (not pending, so
    not shown 'updating'), and the next change of anyone queues a drain that refreshes them too."""
    top = UserScore.objects.filter(run=published, user_id=USER, rank=1).values_list("movie_id", flat=True).get()
    Rating.objects.rate(USER, Movie.objects.get(movie_id=top), 1.0)

    def refused(user_ids):
        raise OperationalError("connection to server failed")

    queue = get_queue()
    with monkeypatch.context() as patch:
        patch.setattr(tasks, "_refresh_users", refused)
        SimpleWorker([queue], connection=queue.connection).work(burst=True)
    assert queue.failed_job_registry.count == 1
    assert is_updating(USER) is False

    other = USER + 1
    Rating.objects.rate(other, _unrated(other, 1)[0], 4.0)
    SimpleWorker([queue], connection=queue.connection).work(burst=True)
    assert queue.failed_job_registry.count == 1
    rows = UserScore.objects.filter(run=published, user_id=USER).values_list("movie_id", flat=True)
    assert rows and top not in rows
