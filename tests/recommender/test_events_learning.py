"""Events as feedback: the job's matrix holds the watches that count and the dismissals, and the worker's refresh of
one user builds the same history row."""

from __future__ import annotations

import datetime as dt
from datetime import timedelta

import numpy as np
from django.utils import timezone

from jobs.precompute import store
from tests.helpers import run
from web.recommender.models import WATCH_RATING, Event, EventBatch, Rating, ServiceUser, UserScore
from web.recommender.tasks import refresh_user

USER = 101


def _record(*events: tuple, time: dt.datetime | None = None) -> None:
    """Events as (event_id, user, movie, type) or (event_id, user, movie, type, fraction), at ``time`` (an hour ago)."""
    at = time or timezone.now() - timedelta(hours=1)
    valid = [(i, {"event_id": e[0], "user_id": e[1], "movie_id": e[2], "type": e[3],
                  "fraction": e[4] if len(e) > 4 else None, "time": at})
             for i, e in enumerate(events)]
    outcomes = Event.objects.record([EventBatch(valid=valid, refused=[])])
    assert {o.status for o in outcomes} == {"accepted"}


def _unrated(user_id: int, k: int) -> list[int]:
    rated = set(Rating.objects.filter(user_id=user_id).values_list("movie_id", flat=True))
    return [m for m in range(10, 260, 10) if m not in rated][:k]


def test_the_job_loads_unrated_watches_as_implicit_ratings(catalogue):
    """A watch of an unrated movie adds one entry valued WATCH_RATING; a watch of a rated movie adds none;
    a not-interested movie is a pair of its own, never an entry."""
    rated = Rating.objects.filter(user_id=USER).first()
    unrated, dismissed = _unrated(USER, 2)
    _record(("w1", USER, unrated, "watched"), ("w2", USER, rated.movie_id, "watched"),
            ("w3", USER, unrated, "watched"), ("n1", USER, dismissed, "not_interested"))
    feedback = store.load_ratings()
    users, movies, values = feedback.users, feedback.movies, feedback.values
    plain = store.load_ratings(with_watches=False)
    assert len(users) == len(plain.users) + 1 and plain.dismissed is None
    mine = (users == USER) & (movies == unrated)
    assert mine.sum() == 1 and values[mine][0] == np.float32(WATCH_RATING)
    assert values[(users == USER) & (movies == rated.movie_id)].tolist() == [np.float32(rated.rating)]
    assert not ((users == USER) & (movies == dismissed)).any()
    assert list(zip(*feedback.dismissed, strict=True)) == [(USER, dismissed)]


def test_the_dismissed_pairs_follow_the_latest_dismissal_or_undo(catalogue):
    """Per (user, movie) the latest of not_interested / not_interested_remove by time, then by arrival, decides:
    dismissed; dismissed then undone; undone then dismissed again; an undo and an older dismissal sent after it; a
    dismissal and its undo at the same time (the undo came second). Read for everyone and for the user alike."""
    kept, undone, again, late, tied = _unrated(USER, 5)
    now = timezone.now()

    def at(minutes: int) -> dict:
        return {"time": now - timedelta(minutes=minutes)}

    events = [("k", kept, "not_interested", at(50)), ("u1", undone, "not_interested", at(50)),
              ("u2", undone, "not_interested_remove", at(40)), ("a1", again, "not_interested", at(50)),
              ("a2", again, "not_interested_remove", at(40)), ("a3", again, "not_interested", at(30)),
              ("l1", late, "not_interested_remove", at(40)), ("l2", late, "not_interested", at(50)),
              ("t1", tied, "not_interested", at(20)), ("t2", tied, "not_interested_remove", at(20))]
    for event_id, movie, type_, when in events:  # one batch each: the ids are drawn in this order
        _record((event_id, USER, movie, type_), **when)
    _record(("other", USER + 1, undone, "not_interested"))
    for user_ids in (None, [USER], [USER, USER + 1]):
        pairs = set(zip(*Event.objects.feedback(user_ids).dismissed, strict=True))
        assert {m for u, m in pairs if u == USER} == {kept, again}, user_ids
        assert ((USER + 1, undone) in pairs) == (user_ids != [USER])


def test_a_watch_counts_by_its_longest_fraction(catalogue):
    """With min_fraction 0.5: a watch of 0.3 alone does not count, 0.3 then 0.8 does, and no fraction is a full watch."""
    short, longer, unknown = _unrated(USER, 3)
    _record(("s1", USER, short, "watched", 0.3), ("l1", USER, longer, "watched", 0.3),
            ("l2", USER, longer, "watched", 0.8), ("u1", USER, unknown, "watched", 0.2), ("u2", USER, unknown, "watched"))
    for user_ids in (None, [USER], [USER, USER + 1]):
        feedback = Event.objects.feedback(user_ids, min_fraction=0.5)
        mine = feedback.users == USER
        watched = set(feedback.movies[mine & (feedback.values == np.float32(WATCH_RATING))].tolist())
        assert {longer, unknown} <= watched and short not in watched
    assert short in Event.objects.feedback([USER], min_fraction=0.0).movies


def test_the_job_and_the_worker_build_the_same_row(catalogue, redis_conn):
    """A user with ratings, watches and dismissals: the worker's refresh writes exactly the rows the EASE run wrote
    (the same history row, negatives included), and a dismissal moves the user's scores."""
    rated = Rating.objects.filter(user_id=USER).values_list("movie_id", flat=True)
    watched, short, dismissed, also_rated = *_unrated(USER, 3), rated[0]
    _record(("a", USER, watched, "watched", 0.9), ("b", USER, short, "watched", 0.1),
            ("c", USER, dismissed, "not_interested"), ("d", USER, also_rated, "not_interested"))
    params = {"min_ratings": 1, "l2": 5.0, "dismissed": -0.5}
    finished = run(algorithm="ease", params=params, top_n=10)

    def rows() -> list[tuple[int, float]]:
        stored = UserScore.objects.filter(run=finished, user_id=USER).order_by("rank").values_list("movie_id", "score")
        return [(movie, round(score, 5)) for movie, score in stored]

    by_job = rows()
    assert by_job and not {m for m, _ in by_job} & {watched, short, dismissed, also_rated}
    UserScore.objects.filter(run=finished, user_id=USER).delete()
    assert refresh_user(USER) == len(by_job)
    assert rows() == by_job
    ignoring = run(algorithm="ease", params={**params, "dismissed": 0.0}, top_n=10)
    scores = dict(UserScore.objects.filter(run=ignoring, user_id=USER).values_list("movie_id", "score"))
    assert any(abs(scores.get(movie, np.inf) - score) > 1e-4 for movie, score in by_job)


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


def test_the_refresh_after_an_undo_gives_the_movie_its_slot_back(published, redis_conn):
    """Dismissed, refreshed (the row is gone), undone, refreshed: the movie is in the stored rows again."""
    first = UserScore.objects.filter(run=published, user_id=USER).order_by("rank").values_list("movie_id", flat=True)[0]
    _record(("nd", USER, first, "not_interested"))
    refresh_user(USER)
    assert not UserScore.objects.filter(run=published, user_id=USER, movie_id=first).exists()
    _record(("nd-undo", USER, first, "not_interested_remove"), time=timezone.now())
    refresh_user(USER)
    assert UserScore.objects.filter(run=published, user_id=USER, movie_id=first).exists()
