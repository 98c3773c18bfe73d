"""``manage.py ensure_operator``: the local operator account that ``make demo`` creates."""

import io

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import Client

from web.accounts.models import ApiToken

pytestmark = pytest.mark.django_db


def _call(**kwargs) -> str:
    out = io.StringIO()
    call_command("ensure_operator", stdout=out, **kwargs)
    return out.getvalue()


def test_creates_an_operator_with_a_random_password_printed_once(monkeypatch):
    """Without OPERATOR_PASSWORD the command prints a new random password that signs the operator in; the
    account is in "operators", which runs the runs and neither reads private profiles nor writes for others."""
    monkeypatch.delenv("OPERATOR_PASSWORD", raising=False)
    output = _call()
    password = output.split("password:", 1)[1].strip()
    user = authenticate(username="operator", password=password)
    assert user is not None and user.has_perm("progress.operate_runs") and user.is_staff  # is_staff: the admin
    assert not user.is_superuser and user.groups.filter(name="operators").exists()
    assert not user.has_perm("recommender.read_private_profiles") and not user.has_perm("recommender.write_any_user")
    again = _call().split("password:", 1)[1].strip()
    assert again != password and authenticate(username="operator", password=password) is None


def test_uses_operator_password_and_does_not_print_it(monkeypatch):
    """With OPERATOR_PASSWORD set the account gets that password and the output does not contain it."""
    monkeypatch.setenv("OPERATOR_PASSWORD", "a-long-operator-secret-42")
    output = _call(username="ops")
    assert "a-long-operator-secret-42" not in output
    assert authenticate(username="ops", password="a-long-operator-secret-42").has_perm("progress.operate_runs")


def test_refuses_in_production_without_an_explicit_password(monkeypatch, settings, django_user_model):
    """APP_ENV=production without OPERATOR_PASSWORD is an error and creates nobody."""
    monkeypatch.delenv("OPERATOR_PASSWORD", raising=False)
    settings.PRODUCTION = True
    with pytest.raises(CommandError, match="OPERATOR_PASSWORD"):
        _call()
    assert not django_user_model.objects.exists()


def test_refuses_a_weak_password(monkeypatch, django_user_model):
    """A password Django's validators reject is refused with their reason."""
    monkeypatch.setenv("OPERATOR_PASSWORD", "1234")
    with pytest.raises(CommandError, match="too short"):
        _call()
    assert not django_user_model.objects.exists()


def test_password_from_stdin_creates_then_resets_the_account_in_production(monkeypatch, settings):
    """The cluster's way (`make k8s-operator`): the Secret's password on stdin, production settings; a second run resets it."""
    monkeypatch.delenv("OPERATOR_PASSWORD", raising=False)
    settings.PRODUCTION = True
    monkeypatch.setattr("sys.stdin", io.StringIO("first-operator-secret-1234\n"))
    output = _call(password_stdin=True)
    assert "first-operator-secret-1234" not in output and "Created" in output
    assert authenticate(username="operator", password="first-operator-secret-1234").has_perm("progress.operate_runs")
    monkeypatch.setattr("sys.stdin", io.StringIO("second-operator-secret-5678\n"))
    output = _call(password_stdin=True)
    assert "Updated" in output
    assert authenticate(username="operator", password="first-operator-secret-1234") is None
    assert authenticate(username="operator", password="second-operator-secret-5678").has_perm("progress.operate_runs")


def test_password_stdin_refuses_an_empty_input(monkeypatch, django_user_model):
    """Nothing on stdin (a Secret that is missing its key) is an error, not an account without a password."""
    monkeypatch.setenv("OPERATOR_PASSWORD", "a-long-operator-secret-42")
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    with pytest.raises(CommandError, match="no password"):
        _call(password_stdin=True)
    assert not django_user_model.objects.exists()


def test_remove_ends_an_operators_access_and_the_open_page_hears_it(monkeypatch, client):
    """--remove takes an operator out: the open progress page's next poll is refused (the page says "signed out or
    not an operator"), its session is over, its password and API keys no longer work, the admin no longer lets it
    in; the account stays, without rights (before, there was no command: the admin's page needs a superuser)."""
    monkeypatch.setenv("OPERATOR_PASSWORD", "a-long-operator-secret-42")
    _call(username="leaver")
    leaver = User.objects.get(username="leaver")
    key = ApiToken.objects.issue(leaver)
    assert Client(HTTP_AUTHORIZATION=f"Token {key}").get("/api/runs").status_code == 200
    client.force_login(leaver)  # the progress page left open
    assert client.get("/api/runs").status_code == 200

    output = _call(username="leaver", remove=True)
    assert "Removed operator 'leaver'" in output
    assert client.get("/api/runs").status_code == 403  # the page's next poll
    assert client.get("/progress/").status_code == 302  # signed out: to the login page
    assert Client(HTTP_AUTHORIZATION=f"Token {key}").get("/api/runs").status_code == 403  # an invalid key here
    assert not ApiToken.objects.filter(user=leaver).exists()
    assert authenticate(username="leaver", password="a-long-operator-secret-42") is None
    leaver.refresh_from_db()
    assert not leaver.is_staff and not leaver.groups.exists() and not leaver.has_perm("progress.operate_runs")
    with pytest.raises(CommandError, match="No account 'nobody'"):
        _call(username="nobody", remove=True)


def test_remove_refuses_a_superuser(django_user_model):
    """A superuser holds every permission whatever its groups: --remove would leave it able to do everything."""
    django_user_model.objects.create_superuser("root", password="x" * 20)
    with pytest.raises(CommandError, match="superuser"):
        _call(username="root", remove=True)
    assert django_user_model.objects.get(username="root").is_superuser
