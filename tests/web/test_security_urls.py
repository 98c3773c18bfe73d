"""Only the auth URLs the site uses are routed (issue #16, item 7).

``include("django.contrib.auth.urls")`` also routed password change and password reset: the reset form
has no rate limit and mails a link to the address of any account whose email it is given, so anyone
could flood a member's mailbox (and the site's mail quota) from it. The site signs in, signs out and
signs up; nothing else.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.test import Client
from django.urls import NoReverseMatch, reverse

UNUSED_AUTH_URLS = [
    "/accounts/password_reset/",
    "/accounts/password_reset/done/",
    "/accounts/reset/MQ/set-password/",
    "/accounts/reset/MQ/abc-123/",
    "/accounts/reset/done/",
    "/accounts/password_change/",
    "/accounts/password_change/done/",
]


@pytest.mark.django_db
@pytest.mark.parametrize("path", UNUSED_AUTH_URLS)
def test_unused_auth_urls_are_not_routed(path):
    """Each of django.contrib.auth's other URLs is a 404, for an anonymous visitor and a member alike."""
    member = Client()
    member.force_login(User.objects.create_user("alice", password="alice-pass-123"))
    assert Client().get(path).status_code == 404
    assert member.get(path).status_code == 404
    assert Client().post(path, {"email": "alice@example.org"}).status_code == 404


@pytest.mark.django_db
def test_the_password_reset_form_cannot_mail_an_account(settings):
    """The attack: post a member's address to the reset form, again and again. Nothing is mailed."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    User.objects.create_user("alice", email="alice@example.org", password="alice-pass-123")
    statuses = [Client().post("/accounts/password_reset/", {"email": "alice@example.org"}).status_code for _ in range(5)]
    assert [message.to for message in mail.outbox] == []
    assert statuses == [404] * 5


@pytest.mark.parametrize(
    "name", ["password_reset", "password_reset_done", "password_reset_complete", "password_change", "password_change_done"]
)
def test_unused_auth_url_names_do_not_reverse(name):
    """No template or view can link to them by name either."""
    with pytest.raises(NoReverseMatch):
        reverse(name)


@pytest.mark.django_db
def test_the_auth_urls_the_site_uses_still_work():
    """Sign-in, sign-out and sign-up answer at their names (the templates and views use these three)."""
    assert (reverse("login"), reverse("logout"), reverse("signup")) == ("/accounts/login/", "/accounts/logout/", reverse("signup"))
    assert Client().get(reverse("login")).status_code == 200
    assert Client().get(reverse("signup")).status_code == 200
    member = Client()
    member.force_login(User.objects.create_user("alice", password="alice-pass-123"))
    response = member.post(reverse("logout"))
    assert response.status_code == 302
    assert "_auth_user_id" not in member.session
