"""Fixtures of the site and API tests: accounts with tokens, similar-movie rows, a fresh cache."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from tests.account_helpers import make_member, make_service
from tests.helpers import run
from tests.recommender.similar import drop_similar_tables


@pytest.fixture(autouse=True)
def fresh_cache():
    """The genre list is cached per process; each test sees its own catalogue's genres."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def published(catalogue):
    """The tiny catalogue with one published popularity run (top 10 per user)."""
    return run(algorithm="popularity", top_n=10)


@pytest.fixture
def auth(service_token):
    """Headers of a service's API token (a service may rate for MovieLens users)."""
    return {"HTTP_AUTHORIZATION": f"Token {service_token}"}


@pytest.fixture
def service_token(db) -> str:
    """The API token of a service account (a browsing service that rates for MovieLens users)."""
    return make_service("service")[1]


@pytest.fixture
def member(db):
    """A signed-up account with its profile and API token: ``(account, profile, token key)``."""
    return make_member("alice")


@pytest.fixture
def similar_tables():
    """Drop the similar-movie partitions a test created (they are not Django tables)."""
    yield
    drop_similar_tables()
