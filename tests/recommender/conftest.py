"""Fixtures of the site and API tests: accounts with tokens, similar-movie rows, a fresh cache."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from rest_framework.authtoken.models import Token

from tests.helpers import run
from tests.recommender.similar import drop_similar_tables
from web.recommender.models import Profile


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
def auth(staff_token):
    """Headers of a staff account's API token (staff may rate for MovieLens users)."""
    return {"HTTP_AUTHORIZATION": f"Token {staff_token}"}


@pytest.fixture
def staff_token(db) -> str:
    """The API token of a staff account (a browsing service that rates for MovieLens users)."""
    staff = User.objects.create_user("service", password="service-pass-123", is_staff=True)
    return Token.objects.create(user=staff).key


@pytest.fixture
def member(db):
    """A signed-up account with its profile and API token: ``(account, profile, token key)``."""
    account = User.objects.create_user("alice", password="alice-pass-123")
    profile = Profile.objects.for_account(account)
    return account, profile, Token.objects.create(user=account).key


@pytest.fixture
def similar_tables():
    """Drop the similar-movie partitions a test created (they are not Django tables)."""
    yield
    drop_similar_tables()
