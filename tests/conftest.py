"""Shared fixtures: the real embedded PostgreSQL and Redis, and the MovieLens data.

pytest-django creates ``test_movielens`` on the embedded PostgreSQL that the
settings start (or on ``DATABASE_URL``); Redis tests use database 15 of the
embedded Redis (or of ``REDIS_URL``) and flush it around each test.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
MOVIELENS_SMALL = Path(os.environ.get("MOVIELENS_DIR", REPO.parent / "shared" / "data" / "movielens" / "ml-latest-small"))


@pytest.fixture(scope="session")
def movielens_small() -> Path:
    """The real ml-latest-small folder; a missing folder is a failure, not a skip (CI has ../shared)."""
    if not (MOVIELENS_SMALL / "ratings.csv").is_file():
        pytest.fail(f"MovieLens ml-latest-small not found at {MOVIELENS_SMALL}; set MOVIELENS_DIR")
    return MOVIELENS_SMALL


@pytest.fixture
def redis_conn(settings):
    """A real Redis (database 15 of the embedded server), empty before and after the test."""
    import redis

    url = settings.REDIS_URL
    test_url = url.rsplit("db=", 1)[0] + "db=15" if url.startswith("unix://") else url.rsplit("/", 1)[0] + "/15"
    conn = redis.Redis.from_url(test_url)
    conn.flushdb()
    settings.REDIS_URL = test_url
    yield conn
    conn.flushdb()
