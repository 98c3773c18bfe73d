"""Issue #16, item 8: ``is_staff`` no longer means operator, writer for anyone and reader of everything.

Each test plays an attack: a service's token runs the progress page and the
runs API, an operator reads a private profile, a token copied from the
database is used as the key. And each checks the rights that remain: an
operator runs the runs, a service writes for any MovieLens user, a member
only for themself, a revoked token is refused.
"""

from __future__ import annotations

from importlib import import_module

import pytest
from django.db import connection
from django.test import Client

from tests.account_helpers import grant, make_member, make_operator, make_service, revoke_tokens, stored_token_values
from web.recommender.models import Rating
from web.runs.models import Run

MOVIELENS_USER = 101


def _token_client(key: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Token {key}")


@pytest.fixture
def private_profile(catalogue):
    """Bob's site profile, with one rating: private data."""
    account, profile, _ = make_member("bob")
    Rating.objects.create(user_id=profile.user_id, movie_id=250, rating=4.0)
    return profile


# -- a service's token is not an operator -----------------------------------------------------------


def test_a_service_token_cannot_open_the_runs_api(db):
    """The browsing service's token gets 403 from the runs feed and a run's detail; the page takes no tokens at all."""
    run = Run.objects.create_pending("popularity")
    _, key = make_service("browsing")
    assert _token_client(key).get("/api/runs").status_code == 403
    assert _token_client(key).get(f"/api/runs/{run.pk}").status_code == 403
    assert _token_client(key).get("/progress/").status_code == 302  # to the sign-in page, like anyone anonymous


def test_a_service_token_cannot_start_a_run(db, settings):
    """POST /api/runs with a service's token is 403 and no run is created."""
    settings.PRECOMPUTE_LAUNCHER = "rq"
    _, key = make_service("browsing")
    response = _token_client(key).post("/api/runs", {"algorithm": "popularity"}, content_type="application/json")
    assert response.status_code == 403, response.content
    assert not Run.objects.exists()


def test_a_service_signed_in_cannot_open_the_progress_page(db):
    """A service account's session (were it given a password) is no operator either: 403 on the page and its chart."""
    account, _ = make_service("browsing")
    client = Client()
    client.force_login(account)
    assert client.get("/progress/").status_code == 403
    assert client.get("/progress/durations.svg").status_code == 403


def test_an_operator_who_is_not_superuser_runs_the_runs(db, settings):
    """An account in the operators group opens the page and the feed and starts a run, by session and by token."""
    settings.PRECOMPUTE_LAUNCHER = "rq"
    account, key = make_operator("op")
    assert not account.is_superuser
    session = Client()
    session.force_login(account)
    assert session.get("/progress/").status_code == 200
    assert _token_client(key).get("/api/runs").status_code == 200
    started = _token_client(key).post("/api/runs", {"algorithm": "popularity"}, content_type="application/json")
    assert started.status_code == 201, started.content


# -- an operator is not a reader of private profiles --------------------------------------------------


@pytest.mark.parametrize("what", ["ratings", "recommendations"])
def test_an_operator_cannot_read_a_private_profile(private_profile, what):
    """An operator's token and session get 403 (API) and 404 (page) for someone else's profile."""
    account, key = make_operator("op")
    assert _token_client(key).get(f"/api/users/{private_profile.user_id}/{what}").status_code == 403
    session = Client()
    session.force_login(account)
    assert session.get(f"/users/{private_profile.user_id}/").status_code == 404


@pytest.mark.parametrize("what", ["ratings", "recommendations"])
def test_an_operator_granted_read_private_profiles_can(private_profile, what):
    """The same operator, once granted recommender.read_private_profiles, reads the profile (and still may not write it)."""
    account, key = make_operator("op")
    grant(account, "recommender.read_private_profiles")
    assert _token_client(key).get(f"/api/users/{private_profile.user_id}/{what}").status_code == 200
    write = _token_client(key).post(
        f"/api/users/{private_profile.user_id}/ratings", {"movie_id": 10, "rating": 1.0}, content_type="application/json"
    )
    assert write.status_code == 403


def test_a_service_cannot_read_a_private_profile(private_profile):
    """Writing for MovieLens users does not make a service a reader of the site's private profiles."""
    _, key = make_service("browsing")
    assert _token_client(key).get(f"/api/users/{private_profile.user_id}/ratings").status_code == 403


# -- who writes for whom -------------------------------------------------------------------------------


def test_a_service_writes_for_any_movielens_user(catalogue):
    """A service's token rates for two different MovieLens users."""
    _, key = make_service("browsing")
    for user_id in (MOVIELENS_USER, 202):
        response = _token_client(key).post(
            f"/api/users/{user_id}/ratings", {"movie_id": 250, "rating": 4.0}, content_type="application/json"
        )
        assert response.status_code == 201, response.content
    assert Rating.objects.filter(user_id__in=[MOVIELENS_USER, 202], movie_id=250).count() == 2


def test_an_operator_cannot_write_for_a_movielens_user(catalogue):
    """Operating runs is not writing ratings: an operator's token gets 403 for a MovieLens user."""
    _, key = make_operator("op")
    response = _token_client(key).post(
        f"/api/users/{MOVIELENS_USER}/ratings", {"movie_id": 250, "rating": 4.0}, content_type="application/json"
    )
    assert response.status_code == 403
    assert not Rating.objects.filter(user_id=MOVIELENS_USER, movie_id=250).exists()


def test_a_member_writes_only_for_themself(catalogue):
    """A member's token writes their own profile; a MovieLens user's ratings are 403."""
    _, profile, key = make_member("alice")
    own = _token_client(key).post(
        f"/api/users/{profile.user_id}/ratings", {"movie_id": 250, "rating": 4.0}, content_type="application/json"
    )
    other = _token_client(key).post(
        f"/api/users/{MOVIELENS_USER}/ratings", {"movie_id": 250, "rating": 4.0}, content_type="application/json"
    )
    assert (own.status_code, other.status_code) == (201, 403)


# -- tokens ------------------------------------------------------------------------------------------


def test_a_revoked_token_is_refused(catalogue):
    """A service's token writes, is revoked, and is then a 401 (an invalid token, not an anonymous request)."""
    account, key = make_service("browsing")
    path = f"/api/users/{MOVIELENS_USER}/ratings"
    body = {"movie_id": 250, "rating": 4.0}
    assert _token_client(key).post(path, body, content_type="application/json").status_code == 201
    revoke_tokens(account)
    assert _token_client(key).post(path, body, content_type="application/json").status_code == 401


def test_a_token_read_from_the_database_is_not_a_key(catalogue):
    """Whatever the token table stores cannot be sent as the key: it is not the key and does not authenticate."""
    account, key = make_service("browsing")
    stored = stored_token_values(account)
    assert stored and key not in stored
    for value in stored:
        response = _token_client(value).post(
            f"/api/users/{MOVIELENS_USER}/ratings", {"movie_id": 250, "rating": 4.0}, content_type="application/json"
        )
        assert response.status_code == 401
    assert not Rating.objects.filter(user_id=MOVIELENS_USER, movie_id=250).exists()


def test_the_migration_drops_the_clear_text_token_table(db):
    """An upgraded database still holding DRF's ``authtoken_token`` (usable keys in clear) loses the table."""
    drop = import_module("web.accounts.migrations.0003_drop_clear_text_tokens").drop_clear_text_tokens
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, user_id integer, created timestamptz)")
        cursor.execute("INSERT INTO authtoken_token VALUES ('0123456789abcdef0123456789abcdef01234567', 1, now())")
    assert "authtoken_token" in connection.introspection.table_names()
    with connection.schema_editor() as editor:
        drop(None, editor)
        drop(None, editor)  # a database that never had the table (or already lost it) is left alone
    assert "authtoken_token" not in connection.introspection.table_names()
