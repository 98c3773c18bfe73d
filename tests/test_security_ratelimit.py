"""Sign-in and sign-up are rate limited per user name and per client address, counted in the real Redis."""

from __future__ import annotations

import ipaddress
import time

import pytest
from django.contrib.auth.models import User
from django.test import Client

pytestmark = pytest.mark.django_db

PASSWORD = "right-pass-123"


@pytest.fixture(autouse=True)
def small_limits(settings):
    """Three failures per name, six per address, three sign-ups per address; windows long enough not to lapse."""
    settings.LOGIN_FAILURES_PER_USERNAME = 3
    settings.LOGIN_FAILURES_PER_IP = 6
    settings.LOGIN_FAILURE_WINDOW = 60
    settings.SIGNUPS_PER_IP = 3
    settings.SIGNUP_WINDOW = 60
    settings.TRUSTED_PROXIES = ()


@pytest.fixture
def alice(db):
    return User.objects.create_user("alice", password=PASSWORD)


def _login(username: str, password: str, ip: str = "10.0.0.1", **extra):
    client = Client(REMOTE_ADDR=ip, **extra)
    return client.post("/accounts/login/", {"username": username, "password": password})


def test_failed_sign_ins_for_one_name_end_in_429_even_with_the_right_password(alice):
    """After three wrong passwords, the fourth attempt (even the right one) is a 429 that says to wait."""
    for _ in range(3):
        assert _login("alice", "wrong").status_code == 200
    refused = _login("alice", PASSWORD)
    assert refused.status_code == 429
    assert "Too many failed sign-in attempts" in refused.content.decode()
    assert 0 < int(refused["Retry-After"]) <= 60
    assert "_auth_user_id" not in refused.wsgi_request.session


def test_the_name_limit_leaves_other_users_and_addresses_alone(alice):
    """Another user signs in fine while alice is locked out; a success clears the name's earlier failures."""
    User.objects.create_user("bob", password=PASSWORD)
    for _ in range(3):
        _login("alice", "wrong")
    assert _login("alice", PASSWORD).status_code == 429
    assert _login("bob", PASSWORD, ip="10.0.0.2").status_code == 302
    assert _login("bob", "wrong", ip="10.0.0.2").status_code == 200
    assert _login("bob", "wrong", ip="10.0.0.2").status_code == 200
    assert _login("bob", PASSWORD, ip="10.0.0.2").status_code == 302
    assert _login("bob", "wrong", ip="10.0.0.2").status_code == 200  # one failure after the reset, not three


LOOK_ALIKES = ["ｏｐｅｒａｔｏｒ", "𝐨𝐩𝐞𝐫𝐚𝐭𝐨𝐫", "𝓸𝓹𝓮𝓻𝓪𝓽𝓸𝓻", " operator ", "operator"]
"""Fullwidth, mathematical bold and script letters, padding: Django's sign-in form NFKC-normalises and strips them all to ``operator``."""


def test_look_alike_names_share_one_count_because_they_sign_in_as_one_account():
    """The attack: guess operator's password as ｏｐｅｒａｔｏｒ, then 𝐨𝐩𝐞𝐫𝐚𝐭𝐨𝐫, ... each once a fresh name to the limit.

    Every look-alike really signs in as operator (so guesses through them are guesses at operator's
    password); three failures spread over three of them use up operator's count, from any address.
    """
    User.objects.create_user("operator", password=PASSWORD)
    for n, name in enumerate(LOOK_ALIKES):
        signed_in = _login(name, PASSWORD, ip=f"10.3.0.{n}")
        assert signed_in.status_code == 302 and signed_in.wsgi_request.user.username == "operator", name
    for n, name in enumerate(LOOK_ALIKES[:3]):
        assert _login(name, "wrong", ip=f"10.1.0.{n}").status_code == 200
    for n, name in enumerate(LOOK_ALIKES):
        assert _login(name, PASSWORD, ip=f"10.2.0.{n}").status_code == 429, name


def test_one_address_guessing_many_names_is_limited(alice):
    """Six failures from one address over six names block the seventh attempt from it, but not other addresses."""
    for n in range(6):
        assert _login(f"nobody{n}", "wrong", ip="10.9.9.9").status_code == 200
    assert _login("alice", PASSWORD, ip="10.9.9.9").status_code == 429
    assert _login("alice", PASSWORD, ip="10.9.9.10").status_code == 302


def test_the_limit_lifts_when_its_window_ends(alice, redis_conn):
    """The lock-out lasts as long as the name's Redis key; once that expires, the name may sign in again.

    The window is 60 s; rather than wait a minute, the test lets the key run out one second from now
    (what the last second of the window looks like), so a slow machine cannot end the window early.
    """
    for _ in range(3):
        _login("alice", "wrong")
    refused = _login("alice", PASSWORD)
    assert refused.status_code == 429
    key = "ratelimit:login-user:alice"
    assert 0 < redis_conn.ttl(key) <= 60 and abs(int(refused["Retry-After"]) - redis_conn.ttl(key)) <= 1
    redis_conn.expire(key, 1)
    assert _login("alice", PASSWORD).status_code == 429
    time.sleep(1.5)
    assert _login("alice", PASSWORD).status_code == 302


def test_behind_the_ingress_the_forwarded_address_is_counted(alice, settings):
    """Behind a trusted proxy, the address it appended counts, not the proxy's own or one the client forged."""
    settings.TRUSTED_PROXIES = (ipaddress.ip_network("10.0.0.0/24"),)
    for n in range(6):
        _login(f"nobody{n}", "wrong", ip="10.0.0.254", HTTP_X_FORWARDED_FOR=f"6.6.6.{n}, 203.0.113.7")
    assert _login("alice", PASSWORD, ip="10.0.0.254", HTTP_X_FORWARDED_FOR="203.0.113.7").status_code == 429
    assert _login("alice", PASSWORD, ip="10.0.0.254", HTTP_X_FORWARDED_FOR="203.0.113.8").status_code == 302


def test_without_a_trusted_proxy_a_forged_forwarded_address_does_not_escape_the_limit(alice):
    """A client talking straight to the app writes a new X-Forwarded-For each time: still one address, still limited."""
    for n in range(6):
        _login(f"nobody{n}", "wrong", ip="198.51.100.9", HTTP_X_FORWARDED_FOR=f"6.6.6.{n}")
    assert _login("alice", PASSWORD, ip="198.51.100.9", HTTP_X_FORWARDED_FOR="6.6.6.99").status_code == 429


def _signup(name: str, ip: str = "10.0.0.1"):
    client = Client(REMOTE_ADDR=ip)
    return client.post("/signup/", {"username": name, "password1": "Sign-up-pass-91", "password2": "Sign-up-pass-91"})


def test_sign_ups_from_one_address_are_limited_and_create_nothing_over_the_limit():
    """Three sign-ups from one address work; the fourth is a 429 with a message and no account, other addresses go on."""
    assert [_signup(f"user{n}").status_code for n in range(3)] == [302, 302, 302]
    refused = _signup("user3")
    assert refused.status_code == 429 and "Too many sign-up attempts" in refused.content.decode()
    assert not User.objects.filter(username="user3").exists()
    assert _signup("user4", ip="10.0.0.2").status_code == 302
    assert User.objects.filter(username__startswith="user").count() == 4


def test_the_limits_fail_open_when_redis_is_down(alice, settings):
    """With Redis unreachable a user can still sign in and sign up (the limits are skipped, not the site)."""
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    for _ in range(5):
        _login("alice", "wrong")
    assert _login("alice", PASSWORD).status_code == 302
    assert _signup("carol").status_code == 302


def test_the_rate_limits_fail_fast_on_a_client_of_their_own():
    """Sign-in waits on them: 1 s to connect and 2 s a command, not the queue client's 2 s and 5 s."""
    from web.queue import redis_connection
    from web.security import _limits_redis

    limits = _limits_redis().connection_pool.connection_kwargs
    queue = redis_connection().connection_pool.connection_kwargs
    assert (limits["socket_connect_timeout"], limits["socket_timeout"]) == (1, 2)
    assert (queue["socket_connect_timeout"], queue["socket_timeout"]) == (2, 5)
