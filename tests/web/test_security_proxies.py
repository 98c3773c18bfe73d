"""The client address behind proxies: ``X-Forwarded-For`` is believed only from ``TRUSTED_PROXIES``.

The address feeds the per-address sign-in and sign-up limits, so a client that can choose it can
guess passwords without limit. The attack: a client with no proxy in front writes the header itself.
"""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import RequestFactory

from web.security import client_ip

REPO = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "APP_ENV": "production",
    "SECRET_KEY": "test-only-" + secrets.token_urlsafe(40),
    # Nothing connects to these: the probe builds a request and reads its address.
    "DATABASE_URL": "postgres://movielens:not-used@db.invalid:5432/movielens",
    "REDIS_URL": "redis://redis.invalid:6379/0",
    "ALLOWED_HOSTS": "movies.example.org",
}
CLIENT_IP_PROBE = """
import django, json, sys
django.setup()
from django.test import RequestFactory
from web.security import client_ip
request = RequestFactory().get("/", REMOTE_ADDR="198.51.100.7", HTTP_X_FORWARDED_FOR="6.6.6.6")
print(json.dumps(client_ip(request)))
"""


def _production_python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    cleared = {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "APP_ENV", "ALLOWED_HOSTS", "TRUSTED_PROXIES", "TRUSTED_PROXY_HOPS"}
    base = {k: v for k, v in os.environ.items() if k not in cleared and not k.startswith("DJANGO_")}
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env=base | env | {"DJANGO_SETTINGS_MODULE": "web.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_with_production_defaults_a_client_cannot_choose_its_address_by_header():
    """A client talking straight to the app writes X-Forwarded-For; production defaults ignore it and count REMOTE_ADDR."""
    result = _production_python(CLIENT_IP_PROBE, PRODUCTION)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == "198.51.100.7"


def test_production_names_its_trusted_proxy_networks():
    """TRUSTED_PROXIES=10.0.0.0/8 (the ingress's pod network) is read into networks; the header then counts."""
    result = _production_python(CLIENT_IP_PROBE.replace("198.51.100.7", "10.1.2.3"), PRODUCTION | {"TRUSTED_PROXIES": "10.0.0.0/8, fd00::/8"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == "6.6.6.6"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"TRUSTED_PROXIES": "10.0.0.0/33"}, "TRUSTED_PROXIES must be"),
        ({"TRUSTED_PROXIES": "ingress"}, "TRUSTED_PROXIES must be"),
        ({"TRUSTED_PROXY_HOPS": "1"}, "TRUSTED_PROXY_HOPS was replaced by TRUSTED_PROXIES"),
    ],
    ids=["bad-prefix", "not-a-network", "old-hops-setting"],
)
def test_bad_proxy_settings_stop_the_start_with_a_message(env, message):
    """A typo in TRUSTED_PROXIES, or the replaced TRUSTED_PROXY_HOPS, is refused rather than silently trusting nobody."""
    result = _production_python("import web.settings", PRODUCTION | env)
    assert result.returncode != 0
    assert message in result.stderr


def _request(remote: str, forwarded: str | None = None):
    extra = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded is not None else {}
    return RequestFactory().get("/", REMOTE_ADDR=remote, **extra)


def _networks(*cidrs: str) -> tuple:
    return tuple(ipaddress.ip_network(cidr) for cidr in cidrs)


def test_no_trusted_proxy_means_the_header_is_ignored(settings):
    """With no trusted network the connection's own address counts, whatever the client wrote."""
    settings.TRUSTED_PROXIES = ()
    assert client_ip(_request("203.0.113.7", "6.6.6.6")) == "203.0.113.7"
    assert client_ip(_request("10.0.0.254", "6.6.6.6, 203.0.113.7")) == "10.0.0.254"


def test_a_header_from_an_untrusted_peer_is_ignored(settings):
    """Trusting the ingress's network does not make a client outside it a proxy."""
    settings.TRUSTED_PROXIES = _networks("10.0.0.0/24")
    assert client_ip(_request("203.0.113.7", "6.6.6.6")) == "203.0.113.7"


def test_behind_trusted_proxies_the_rightmost_untrusted_entry_counts(settings):
    """Entries are read right to left past trusted proxies; the first other one is the client, forged ones to its left are not."""
    settings.TRUSTED_PROXIES = _networks("10.0.0.0/24", "192.168.5.0/24")
    assert client_ip(_request("10.0.0.254", "203.0.113.7")) == "203.0.113.7"
    assert client_ip(_request("10.0.0.254", "6.6.6.6, 203.0.113.7")) == "203.0.113.7"
    # Two proxies: a load balancer (192.168.5.9) in front of the ingress (10.0.0.254).
    assert client_ip(_request("10.0.0.254", "6.6.6.6, 203.0.113.7, 192.168.5.9")) == "203.0.113.7"


def test_a_trusted_proxy_without_a_usable_header_counts_as_itself(settings):
    """No header, or an entry that is not an address, falls back to the last trusted hop, never to client text."""
    settings.TRUSTED_PROXIES = _networks("10.0.0.0/24")
    assert client_ip(_request("10.0.0.254")) == "10.0.0.254"
    assert client_ip(_request("10.0.0.254", "  ")) == "10.0.0.254"
    assert client_ip(_request("10.0.0.254", "not-an-address")) == "10.0.0.254"
    assert client_ip(_request("10.0.0.254", "10.0.0.3")) == "10.0.0.3"  # every hop trusted: the leftmost one


def test_ipv6_and_ipv4_mapped_peers(settings):
    """An IPv6 proxy network matches IPv6 peers, and an IPv4-mapped peer (::ffff:10.0.0.254) matches its IPv4 network."""
    settings.TRUSTED_PROXIES = _networks("10.0.0.0/24", "fd00::/8")
    assert client_ip(_request("fd00::1", "2001:db8::7")) == "2001:db8::7"
    assert client_ip(_request("::ffff:10.0.0.254", "203.0.113.7")) == "203.0.113.7"
    assert client_ip(_request("2001:db8::9", "203.0.113.7")) == "2001:db8::9"
