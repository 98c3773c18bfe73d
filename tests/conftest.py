"""Shared fixtures: the real embedded PostgreSQL and Redis, and the MovieLens data.

pytest-django creates ``test_movielens`` on the tests' own embedded PostgreSQL
(``tests/settings.py``: ``.local/test-services``, apart from the demo's), or on
``DATABASE_URL``; Redis tests use database 15 of the embedded Redis (or of
``REDIS_URL``) and flush it around each test.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command

from tests.helpers import N_MOVIES, N_USERS, drop_run_tables, redis_url_with_db, run
from web.recommender.models import Movie, Rating
from web.recommender.stored_answers import ANSWERS
from web.runs.models import ActiveRun

REPO = Path(__file__).resolve().parent.parent
MOVIELENS_SMALL = Path(os.environ.get("MOVIELENS_DIR", REPO.parent / "shared" / "data" / "movielens" / "ml-latest-small"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Modules that start servers, jobs or a browser run first (a stable sort keeps each module together).

    Under ``make test``'s workers a module is one unit of work; with these
    long ones last, one worker finished them alone while the other waited.
    """
    items.sort(key=lambda item: not (item.get_closest_marker("e2e") or item.get_closest_marker("browser")))


@pytest.fixture(scope="session")
def movielens_small() -> Path:
    """The real ml-latest-small folder; a missing folder is a failure, not a skip (CI has ../shared)."""
    if not (MOVIELENS_SMALL / "ratings.csv").is_file():
        pytest.fail(f"MovieLens ml-latest-small not found at {MOVIELENS_SMALL}; set MOVIELENS_DIR")
    return MOVIELENS_SMALL


@pytest.fixture(autouse=True)
def redis_conn(settings):
    """A real Redis (database ``TEST_REDIS_DB``, default 15), empty before and after every test.

    Autouse: a transactional test runs on-commit hooks at once, and a
    rating's refresh job must land here, not in the demo's queue.
    """
    import redis

    # Database 15 of the same Redis: tests never see or feed the demo's queue (database 0).
    settings.REDIS_URL = redis_url_with_db(settings.REDIS_URL, int(os.environ.get("TEST_REDIS_DB", "15")))
    conn = redis.Redis.from_url(settings.REDIS_URL)
    conn.flushdb()
    yield conn
    conn.flushdb()


@pytest.fixture(autouse=True)
def fresh_answers():
    """No answer kept from an earlier test: each test's database starts its change counters and run ids afresh."""
    ANSWERS.clear()
    yield
    ANSWERS.clear()


def make_catalogue() -> dict:
    """Create the ``catalogue`` fixture's users, movies and ratings (committed when the test is transactional)."""
    # A transactional test before this one may have flushed the singleton row the migration created.
    ActiveRun.objects.get_or_create(id=ActiveRun.SINGLETON_ID)
    rng = np.random.default_rng(42)
    movie_ids = np.arange(1, N_MOVIES + 1) * 10
    Movie.objects.bulk_create(Movie(movie_id=int(m), title=f"Movie {m}") for m in movie_ids)
    rated = rng.random((N_USERS, N_MOVIES)) < 0.3
    rated[:, 0] = True  # everyone rated movie 10, so no user is without ratings
    users, movies = np.nonzero(rated)
    values = rng.integers(1, 11, size=len(users)) / 2
    Rating.objects.bulk_create(
        Rating(user_id=int(u) + 101, movie_id=int(movie_ids[m]), rating=float(v))
        for u, m, v in zip(users, movies, values, strict=True)
    )
    return {"user_ids": np.arange(101, 101 + N_USERS), "movie_ids": movie_ids}


@pytest.fixture
def catalogue(transactional_db):
    """30 users (ids 101..130) who rated about 30 % of 25 movies (ids 10, 20, ... 250) in half stars."""
    drop_run_tables()
    yield make_catalogue()
    drop_run_tables()


@pytest.fixture(scope="module")
def published_once(django_db_setup, django_db_blocker):
    """The ``catalogue`` with a published popularity run (top 10), committed once for a whole module.

    For the long tables of hostile input, whose rows change nothing: a test
    that uses it asks for ``db`` as well, so whatever it writes is rolled
    back at its end, while processes it starts (the job) see the committed
    catalogue. Building the catalogue and a run for each row, then flushing
    the database, was most of those tables' time.
    """
    with django_db_blocker.unblock():
        drop_run_tables()
        make_catalogue()
        yield run(algorithm="popularity", top_n=10)
        # As pytest-django flushes after a transactional test: sequences go on, so no run id is used twice (the
        # job's chunk records, outside Django's tables, outlive a flush and would make a reused id "already done").
        call_command("flush", interactive=False, verbosity=0, reset_sequences=False)
        drop_run_tables()
