"""Sign-in and sign-up rate limits, counted in the real Redis.

The policy (docs/reliability.md, "Security"): failed sign-ins are limited per user name from one
address, per address over all names, and per user name over all addresses; the last one, the soft
global limit, refuses only browsers that have not signed in to that name before, so an attacker
cannot lock the owner out. Attempts are counted before the password hash, atomically.
"""

from __future__ import annotations

import ipaddress
import threading
import time

import pytest
from django.contrib.auth.models import User
from django.db import connections
from django.test import Client

pytestmark = pytest.mark.django_db

PASSWORD = "right-pass-123"


@pytest.fixture(autouse=True)
def small_limits(settings):
    """Three failures per name from one address, six per address, ten per name overall, three sign-ups per address.

    The windows are long enough not to lapse during a test.
    """
    settings.LOGIN_FAILURES_PER_USERNAME_AND_IP = 3
    settings.LOGIN_FAILURES_PER_IP = 6
    settings.LOGIN_FAILURES_PER_USERNAME = 10
    settings.LOGIN_FAILURE_WINDOW = 60
    settings.SIGNUPS_PER_IP = 3
    settings.SIGNUP_WINDOW = 60
    settings.TRUSTED_PROXIES = ()


@pytest.fixture
def alice(db):
    return User.objects.create_user("alice", password=PASSWORD)


def _login(username: str, password: str, ip: str = "10.0.0.1", client: Client | None = None, **extra):
    client = client or Client(REMOTE_ADDR=ip, **extra)
    return client.post("/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_failed_sign_ins_for_one_name_from_one_address_end_in_429_even_with_the_right_password(alice):
    """After three wrong passwords from one address, the fourth attempt from there (even the right one) is a 429."""
    for _ in range(3):
        assert _login("alice", "wrong").status_code == 200
    refused = _login("alice", PASSWORD)
    assert refused.status_code == 429
    assert "Too many failed sign-in attempts" in refused.content.decode()
    assert 0 < int(refused["Retry-After"]) <= 60
    assert "_auth_user_id" not in refused.wsgi_request.session


def test_an_attacker_cannot_lock_the_owner_out(alice):
    """The attack: keep sending wrong passwords for alice. It stops the attacker's address, not alice at hers."""
    statuses = [_login("alice", "wrong", ip="203.0.113.66").status_code for _ in range(8)]
    assert statuses == [200, 200, 200, 429, 429, 429, 429, 429]
    assert _login("alice", PASSWORD, ip="10.0.0.1").status_code == 302


def test_many_addresses_meet_the_global_name_limit_but_a_browser_that_signed_in_before_gets_in(alice, settings):
    """Ten failures for alice from ten addresses (a botnet) close the name to new browsers, not to alice's own.

    alice's browser got a signed cookie when she signed in; it lets her in from a new address while
    the name is over its global limit. A stranger's browser, bob's cookie or a forged one does not.
    """
    home = Client()
    signed_in = _login("alice", PASSWORD, ip="10.0.0.1", client=home)
    assert signed_in.status_code == 302
    device = signed_in.cookies["known_device"]
    assert device["httponly"] and device["samesite"] == "Lax" and "alice" in device.value  # signed, not encrypted
    home.cookies.pop(settings.SESSION_COOKIE_NAME)  # signed out, the device cookie kept
    bob_browser = Client()
    User.objects.create_user("bob", password=PASSWORD)
    assert _login("bob", PASSWORD, ip="10.0.0.2", client=bob_browser).status_code == 302
    bob_browser.cookies.pop(settings.SESSION_COOKIE_NAME)

    for n in range(10):
        assert _login("alice", "wrong", ip=f"198.51.100.{n}").status_code == 200
    assert _login("alice", PASSWORD, ip="192.0.2.1").status_code == 429
    assert _login("alice", PASSWORD, ip="192.0.2.2", client=bob_browser).status_code == 429
    forged = Client()
    forged.cookies.load({name: morsel.value.replace("bob", "alice") for name, morsel in bob_browser.cookies.items()})
    assert _login("alice", PASSWORD, ip="192.0.2.3", client=forged).status_code == 429
    assert _login("alice", PASSWORD, ip="192.0.2.4", client=home).status_code == 302


@pytest.mark.django_db(transaction=True)
def test_concurrent_guesses_cannot_overshoot_the_limit():
    """Twelve wrong passwords sent at once from one address: exactly three reach the password check.

    Checking the count before the slow hash and recording it after let every concurrent attempt
    through; counting atomically before the hash lets through only as many as the limit.
    """
    User.objects.create_user("carol", password=PASSWORD)
    start = threading.Barrier(12)
    statuses: list[int] = []

    def guess() -> None:
        try:
            client = Client(REMOTE_ADDR="203.0.113.9")
            start.wait()
            statuses.append(client.post("/accounts/login/", {"username": "carol", "password": "wrong"}).status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=guess) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] * 3 + [429] * 9


def test_a_right_password_is_not_counted_and_clears_the_failures_from_its_address(alice):
    """Successes never use up the limit; a success forgets the earlier failures for that name from that address."""
    for _ in range(5):
        assert _login("alice", PASSWORD).status_code == 302
    for _ in range(2):
        assert _login("alice", "wrong").status_code == 200
    assert _login("alice", PASSWORD).status_code == 302
    for _ in range(2):
        assert _login("alice", "wrong").status_code == 200
    assert _login("alice", PASSWORD).status_code == 302  # four failures in all: without the clearing, a 429


def test_the_limits_leave_other_users_alone(alice):
    """bob signs in fine from another address while alice's name is over its limit at 10.0.0.1."""
    User.objects.create_user("bob", password=PASSWORD)
    for _ in range(3):
        _login("alice", "wrong")
    assert _login("alice", PASSWORD).status_code == 429
    assert _login("bob", PASSWORD, ip="10.0.0.2").status_code == 302


LOOK_ALIKES = ["ｏｐｅｒａｔｏｒ", "𝐨𝐩𝐞𝐫𝐚𝐭𝐨𝐫", "𝓸𝓹𝓮𝓻𝓪𝓽𝓸𝓻", " operator ", "operator"]
"""Fullwidth, mathematical bold and script letters, padding: Django's sign-in form NFKC-normalises and strips them all to ``operator``."""


def test_look_alike_names_share_one_count_because_they_sign_in_as_one_account():
    """The attack: guess operator's password as ｏｐｅｒａｔｏｒ, then 𝐨𝐩𝐞𝐫𝐚𝐭𝐨𝐫, ... each once a fresh name to the limits.

    Every look-alike really signs in as operator (so guesses through them are guesses at operator's
    password). Failures spread over the look-alikes use up operator's counts: from one address its
    per-name-and-address count, from many addresses its global one.
    """
    User.objects.create_user("operator", password=PASSWORD)
    for n, name in enumerate(LOOK_ALIKES):
        signed_in = _login(name, PASSWORD, ip=f"10.3.0.{n}")
        assert signed_in.status_code == 302 and signed_in.wsgi_request.user.username == "operator", name
    for name in LOOK_ALIKES[:3]:
        assert _login(name, "wrong", ip="10.1.0.1").status_code == 200
    for name in LOOK_ALIKES:
        assert _login(name, PASSWORD, ip="10.1.0.1").status_code == 429, name
    for n in range(7):  # with the three above, ten: operator's global limit
        assert _login(LOOK_ALIKES[n % len(LOOK_ALIKES)], "wrong", ip=f"10.4.0.{n}").status_code == 200
    for n, name in enumerate(LOOK_ALIKES):
        assert _login(name, PASSWORD, ip=f"10.2.0.{n}").status_code == 429, name


def test_one_address_guessing_many_names_is_limited(alice):
    """Six failures from one address over six names block the seventh attempt from it, but not other addresses."""
    for n in range(6):
        assert _login(f"nobody{n}", "wrong", ip="10.9.9.9").status_code == 200
    assert _login("alice", PASSWORD, ip="10.9.9.9").status_code == 429
    assert _login("alice", PASSWORD, ip="10.9.9.10").status_code == 302


def test_the_limit_lifts_when_its_window_ends(alice, redis_conn):
    """The refusal lasts as long as the counter's Redis key; once that expires, the name may sign in again.

    The window is 60 s; rather than wait a minute, the test lets the key run out one second from now
    (what the last second of the window looks like), so a slow machine cannot end the window early.
    """
    for _ in range(3):
        _login("alice", "wrong")
    refused = _login("alice", PASSWORD)
    assert refused.status_code == 429
    [key] = [key for key in redis_conn.scan_iter("ratelimit:login-name-ip:*") if key.endswith(b"alice")]
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
