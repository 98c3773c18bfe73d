"""``manage.py create_service_token``: a service account's key is printed once, works, rotates and is revoked."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import Client
from rest_framework.test import APIRequestFactory

from tests.account_helpers import grant, make_service
from web.accounts.authentication import HashedTokenAuthentication
from web.accounts.models import ApiToken

pytestmark = pytest.mark.django_db


def _issue(*args: str) -> str:
    out = io.StringIO()
    call_command("create_service_token", *args, stdout=out)
    return out.getvalue()


def _works(key: str) -> bool:
    """Whether ``key`` authenticates: a valid key is refused a stranger's profile with 403, an invalid one with 401."""
    response = Client(HTTP_AUTHORIZATION=f"Token {key}").get("/api/users/1000000000/ratings")
    return response.status_code != 401


def test_a_new_service_gets_a_key_printed_once_and_is_in_services():
    """The last line is the key; the account is in "services", cannot sign in, and only the key's digest is stored."""
    key = _issue("browsing").splitlines()[-1]
    account = User.objects.get(username="browsing")
    assert account.groups.filter(name="services").exists() and not account.has_usable_password()
    assert account.has_perm("recommender.write_any_user") and not account.has_perm("progress.operate_runs")
    assert _works(key)
    assert not ApiToken.objects.filter(digest=key).exists() and ApiToken.objects.filter(user=account).count() == 1


def test_a_second_key_keeps_the_first_and_rotate_revokes_both():
    """Without options the old key keeps working (a client can switch over); --rotate leaves only the new key."""
    first = _issue("browsing").splitlines()[-1]
    second = _issue("browsing").splitlines()[-1]
    assert first != second and _works(first) and _works(second)
    output = _issue("browsing", "--rotate")
    third = output.splitlines()[-1]
    assert "Revoked 2 key(s)" in output
    assert (_works(first), _works(second), _works(third)) == (False, False, True)


def test_revoke_older_ends_the_old_key_once_the_service_sends_the_new_one():
    """The rotation without a gap from the command line: a new key, the service moves to it, --revoke-older revokes
    every key but the newest and issues none (before, only the admin could, on a superuser's page the cluster has not)."""
    first = _issue("browsing").splitlines()[-1]
    second = _issue("browsing").splitlines()[-1]
    output = _issue("browsing", "--revoke-older")
    assert "Revoked 1 key(s)" in output and second not in output and first not in output
    assert (_works(first), _works(second)) == (False, True)
    assert "Revoked 0 key(s)" in _issue("browsing", "--revoke-older") and _works(second)
    with pytest.raises(CommandError, match="No account 'nobody'"):
        _issue("nobody", "--revoke-older")


def test_revoke_leaves_no_key():
    """--revoke deletes every key of the account and prints none."""
    key = _issue("browsing").splitlines()[-1]
    output = _issue("browsing", "--revoke")
    assert key not in output and "Revoked 1 key(s)" in output
    assert not _works(key)


def test_refuses_a_staff_account():
    """A key on an operator's (staff) account would carry its rights into a program: refused, no key issued."""
    User.objects.create_user("operator", password="operator-pass-123", is_staff=True)
    with pytest.raises(CommandError, match="staff"):
        _issue("operator")
    assert not ApiToken.objects.exists()


def test_a_key_is_checked_in_one_query(django_assert_num_queries):
    """The token check is one indexed lookup that also brings the account (the API's p99 depends on it)."""
    key = _issue("browsing").splitlines()[-1]
    request = APIRequestFactory().get("/", HTTP_AUTHORIZATION=f"Token {key}")
    with django_assert_num_queries(1):
        account, token = HashedTokenAuthentication().authenticate(request)
        assert account.username == "browsing" and token.user_id == account.pk


def test_the_key_lookup_reads_the_permissions_the_model_backend_would():
    """The token's query fills the account's permission cache with exactly what ModelBackend reads (its own and its
    groups'); a change of the groups shows in the next request, which reads them again."""
    account, key = make_service("browsing")
    grant(account, "progress.operate_runs")
    request = APIRequestFactory().get("/api/runs", HTTP_AUTHORIZATION=f"Token {key}")
    authenticated, _ = HashedTokenAuthentication().authenticate(request)
    fresh = User.objects.get(pk=account.pk)
    assert authenticated._perm_cache == fresh.get_all_permissions() == {"recommender.write_any_user", "progress.operate_runs"}
    account.groups.clear()
    again, _ = HashedTokenAuthentication().authenticate(request)
    assert not again.has_perm("recommender.write_any_user") and again.has_perm("progress.operate_runs")


def test_the_key_lookup_loads_the_account_and_the_token_as_stored():
    """The lookup's own SQL builds the same account and token objects the ORM would read; an inactive account's key
    is refused (401), as DRF's own token check refuses it."""
    account, key = make_service("browsing")
    request = APIRequestFactory().get("/", HTTP_AUTHORIZATION=f"Token {key}")
    authenticated, token = HashedTokenAuthentication().authenticate(request)
    stored = ApiToken.objects.select_related("user").get(pk=token.pk)
    fields = [field.attname for field in User._meta.concrete_fields]
    assert [getattr(authenticated, name) for name in fields] == [getattr(stored.user, name) for name in fields]
    assert [getattr(token, f.attname) for f in ApiToken._meta.concrete_fields] == \
        [getattr(stored, f.attname) for f in ApiToken._meta.concrete_fields]
    assert token.user is authenticated and not authenticated._state.adding
    User.objects.filter(pk=account.pk).update(is_active=False)
    assert not _works(key)
