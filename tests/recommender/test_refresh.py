"""Refreshes after ratings: deduplicated in the real Redis queue, status for the page, Redis outages."""

from __future__ import annotations

from django.utils import timezone
from rq import SimpleWorker

from web.queue import get_queue
from web.recommender import refresh
from web.recommender.models import Event, EventBatch, Movie, Rating, UserScore
from web.recommender.refresh import is_updating, pending_key, running_key
from web.recommender.tasks import refresh_user

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
    """Once a job has started, the next rating queues one new job (so it is never left out), and no more."""
    first, second, third = _unrated(USER, 3)
    Rating.objects.rate(USER, first, 3.0)
    queue = get_queue()
    job = queue.jobs[0]
    # What the job does first: count itself running and clear the pending flag.
    redis_conn.incr(running_key(USER))
    redis_conn.delete(pending_key(USER))
    queue.remove(job)
    Rating.objects.rate(USER, second, 3.0)
    Rating.objects.rate(USER, third, 3.0)
    assert queue.count == 1
    redis_conn.delete(running_key(USER))
    assert is_updating(USER) is True


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


def test_a_batch_of_events_queues_few_jobs_and_skips_pending_users(published, redis_conn, monkeypatch):
    """Watches of all 30 users in one batch: one pending flag each, jobs of at most USERS_PER_JOB users (7 here); a user
    whose refresh was pending already is left out; the worker's jobs refresh the others and leave none 'updating'."""
    monkeypatch.setattr(refresh, "USERS_PER_JOB", 7)
    users = sorted(set(Rating.objects.values_list("user_id", flat=True)))
    redis_conn.set(pending_key(users[0]), 1)
    movie = Movie.objects.order_by("movie_id").first().movie_id
    valid = [(i, {"event_id": f"many-{i}", "user_id": user, "movie_id": movie, "type": "watched", "fraction": None,
                  "time": timezone.now()}) for i, user in enumerate(users)]
    outcomes = Event.objects.record([EventBatch(valid=valid, refused=[])])
    assert {o.status for o in outcomes} == {"accepted"}
    queue = get_queue()
    queued = [job.args[0] for job in queue.jobs]
    assert len(queued) == -(-(len(users) - 1) // 7) and all(len(chunk) <= 7 for chunk in queued)
    assert sorted(u for chunk in queued for u in chunk) == users[1:]
    assert all(is_updating(user) for user in users)
    redis_conn.delete(pending_key(users[0]))
    SimpleWorker([queue], connection=queue.connection).work(burst=True)
    assert queue.failed_job_registry.count == 0
    assert not any(is_updating(user) for user in users)
