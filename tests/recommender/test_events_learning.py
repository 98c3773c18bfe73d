"""Events as feedback: the job's matrix holds unrated watches, and the worker's refresh of one user uses the same rule."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
from django.utils import timezone

from jobs.precompute import store
from tests.helpers import run
from web.recommender.models import WATCH_RATING, Event, EventBatch, Rating, ServiceUser, UserScore
from web.recommender.tasks import refresh_user

USER = 101


def _record(*events: tuple[str, int, int, str]) -> None:
    at = timezone.now() - timedelta(hours=1)
    valid = [(i, {"event_id": eid, "user_id": user, "movie_id": movie, "type": type_, "fraction": None, "time": at})
             for i, (eid, user, movie, type_) in enumerate(events)]
    outcomes = Event.objects.record([EventBatch(valid=valid, refused=[])])
    assert {o.status for o in outcomes} == {"accepted"}


def _unrated(user_id: int, k: int) -> list[int]:
    rated = set(Rating.objects.filter(user_id=user_id).values_list("movie_id", flat=True))
    return [m for m in range(10, 260, 10) if m not in rated][:k]


def test_the_job_loads_unrated_watches_as_implicit_ratings(catalogue):
    """A watch of an unrated movie adds one entry valued WATCH_RATING; a watch of a rated movie adds none."""
    rated = Rating.objects.filter(user_id=USER).first()
    unrated = _unrated(USER, 1)[0]
    _record(("w1", USER, unrated, "watched"), ("w2", USER, rated.movie_id, "watched"),
            ("w3", USER, unrated, "watched"), ("n1", USER, _unrated(USER, 2)[1], "not_interested"))
    users, movies, values = store.load_ratings()
    plain = store.load_ratings(with_watches=False)
    assert len(users) == len(plain[0]) + 1
    mine = (users == USER) & (movies == unrated)
    assert mine.sum() == 1 and values[mine][0] == np.float32(WATCH_RATING)
    assert values[(users == USER) & (movies == rated.movie_id)].tolist() == [np.float32(rated.rating)]


def test_a_user_known_only_by_watches_gets_a_personal_list_without_them(catalogue):
    """A service user with watches and no rating is in the run's matrix: a personal list, the watched movies left out."""
    user = ServiceUser.objects.for_external_id("watcher")[0].user_id
    watched = [10, 20, 30]
    _record(*[(f"s{m}", user, m, "watched") for m in watched])
    finished = run(algorithm="popularity", top_n=10)
    stored = set(UserScore.objects.filter(run=finished, user_id=user).values_list("movie_id", flat=True))
    assert len(stored) == 10 and not stored & set(watched)


def test_the_refresh_leaves_out_watched_and_dismissed_movies(published, redis_conn):
    """After the worker's refresh the stored rows hold neither the watched nor the not-interested movies."""
    before = list(UserScore.objects.filter(run=published, user_id=USER).order_by("rank").values_list("movie_id", flat=True))
    watched, dismissed = before[0], before[1]
    _record(("rw", USER, watched, "watched"), ("rd", USER, dismissed, "not_interested"))
    assert refresh_user(USER) > 0
    after = set(UserScore.objects.filter(run=published, user_id=USER).values_list("movie_id", flat=True))
    assert watched not in after and dismissed not in after and after
