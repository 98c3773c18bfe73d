"""Security helpers: the Content-Security-Policy header, sign-in/sign-up and rating-write rate limits,
a refusal to serve without ALLOWED_HOSTS, and the signature on stored models.

Django 5.2 (our pin) has no built-in CSP (that arrived in 6.0), hence the small middleware. Every
page's scripts and styles are static files of this site, so the policy allows ``'self'`` only: an
injected ``<script>`` or ``style=""`` would not run.

The rate limits count in the Redis the site already uses (``settings.REDIS_URL``), so every
web server worker and every web pod shares one count. An attempt is counted before the work it limits
(the password hash, the account creation), atomically, so concurrent attempts cannot overshoot. If
Redis is down the limits fail open (the attempt is allowed and a warning logged): a queue outage must
not lock everyone out of the site. The sign-in policy is described at :func:`begin_sign_in`.
"""

from __future__ import annotations

import functools
import hmac
import ipaddress
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import redis
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.crypto import salted_hmac
from rest_framework.exceptions import Throttled
from rest_framework.permissions import SAFE_METHODS
from rest_framework.throttling import BaseThrottle

from web.accounts.permissions import may_write_any_user
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
    # The subject is already what is counted (an address, a normalised user name): no case folding here,
    # which would make two different accounts share a count.
    return f"ratelimit:{limit.name}:{subject[:200]}"


# Check every counter, and only if none is at its limit count one on each: in one Lua script, so
# Redis runs it atomically and concurrent attempts cannot all pass a check made before any is counted.
# KEYS[i] is a counter, ARGV[2i-1] and ARGV[2i] its limit and window (seconds). Returns the seconds
# to wait (0 = counted). A key's window starts with its first count.
_TAKE_SCRIPT = """
local wait = 0
for i, key in ipairs(KEYS) do
  local count = tonumber(redis.call('GET', key) or '0')
  if count >= tonumber(ARGV[2 * i - 1]) then
    local ttl = redis.call('TTL', key)
    if ttl <= 0 then ttl = tonumber(ARGV[2 * i]) end
    if ttl > wait then wait = ttl end
  end
end
if wait > 0 then return wait end
for i, key in ipairs(KEYS) do
  redis.call('INCR', key)
  if redis.call('TTL', key) < 0 then redis.call('EXPIRE', key, ARGV[2 * i]) end
end
return 0
"""

# Undo one count on each of KEYS that still exists (its window may have ended meanwhile; DECR of a
# missing key would leave a -1 that never expires).
_GIVE_BACK_SCRIPT = """
for _, key in ipairs(KEYS) do
  if tonumber(redis.call('GET', key) or '0') > 0 then redis.call('DECR', key) end
end
return 0
"""


def take(counts: Sequence[tuple[Limit, str]]) -> int:
    """Count one event for each ``(limit, subject)``, unless any is at its limit: then count nothing.

    Returns the seconds until every one is below its limit again (0 = counted, go ahead). Atomic, so
    call it before the slow work (the password hash): concurrent callers can never overshoot a limit.
    """
    keys = [_key(limit, subject) for limit, subject in counts]
    args = [value for limit, _ in counts for value in (limit.attempts, limit.window)]
    try:
        client = _limits_redis()
        return int(client.register_script(_TAKE_SCRIPT)(keys=keys, args=args, client=client))
    except redis.RedisError:
        logger.warning("rate limits %s not checked: Redis is unavailable", ", ".join(limit.name for limit, _ in counts))
        return 0


def give_back(counts: Sequence[tuple[Limit, str]], forget: Sequence[tuple[Limit, str]] = ()) -> None:
    """Undo one :func:`take` on ``counts`` and drop the counters of ``forget`` altogether."""
    try:
        client = _limits_redis()
        with client.pipeline() as pipe:
            if counts:
                client.register_script(_GIVE_BACK_SCRIPT)(keys=[_key(limit, subject) for limit, subject in counts], client=pipe)
            if forget:
                pipe.delete(*[_key(limit, subject) for limit, subject in forget])
            pipe.execute()
    except redis.RedisError:
        logger.warning("rate limit counts not given back: Redis is unavailable")


def wait_message(action: str, seconds: int) -> str:
    """A human sentence saying how long to wait, in whole minutes."""
    minutes = max(1, math.ceil(seconds / 60))
    return f"Too many {action}. Please wait {minutes} minute{'s' if minutes != 1 else ''} and try again."


def signup_limit() -> Limit:
    """Sign-up attempts (successful or not: each may create an account) per client address."""
    return Limit("signup-ip", settings.SIGNUPS_PER_IP, settings.SIGNUP_WINDOW)


# -- rating writes -------------------------------------------------------------------


def rating_write_limit(account) -> Limit:  # noqa: ANN001 - a django.contrib.auth user
    """Rating writes (rate, change, remove) per account: a person's limit, or the larger one of a service
    (``recommender.write_any_user``: a browsing service writes for all its users through one token)."""
    if may_write_any_user(account):
        return Limit("rating-writes-service", settings.RATING_WRITES_PER_SERVICE_ACCOUNT, settings.RATING_WRITE_WINDOW)
    return Limit("rating-writes", settings.RATING_WRITES_PER_ACCOUNT, settings.RATING_WRITE_WINDOW)


def take_rating_write(request: HttpRequest) -> int:
    """Count one rating write for the signed-in account; the seconds to wait (0 = go ahead).

    Counted per account, not per address, so the API's tokens and the site's session share one count,
    and before the write, whatever becomes of it (a refused write costs the server too). Anonymous
    requests are not counted: the views refuse them before any write.
    """
    account = getattr(request, "user", None)
    if account is None or not account.is_authenticated:
        return 0
    return take([(rating_write_limit(account), str(account.pk))])


def _too_many_rating_writes(wait: int) -> str:
    return wait_message("rating changes", wait)


class RatingWriteThrottle(BaseThrottle):
    """DRF throttle of the API's writes (POST, PUT, DELETE; reads are free): :func:`take_rating_write`.

    The rating API's, and a browsing service's event requests and user creations, which share the account's
    count (a view names what it counts in ``limited_writes``, for the 429's message). DRF runs it after
    authentication and permissions, so a write the account may not make is a 403 and not counted. Refused:
    429 JSON with ``Retry-After``.
    """

    def allow_request(self, request, view) -> bool:  # noqa: ANN001 - DRF's signature
        if request.method in SAFE_METHODS:
            return True
        wait = take_rating_write(request)
        if wait:
            raise Throttled(wait=wait, detail=wait_message(getattr(view, "limited_writes", "rating changes"), wait))
        return True


def limit_rating_writes(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Decorate a site view that writes ratings: past :func:`take_rating_write`'s limit it answers 429 with
    ``Retry-After`` (JSON to a script asking for it, else a page saying how long to wait) and stores nothing."""

    @functools.wraps(view)
    def limited(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        wait = 0 if request.method in SAFE_METHODS else take_rating_write(request)
        if not wait:
            return view(request, *args, **kwargs)
        message = _too_many_rating_writes(wait)
        if "application/json" in request.headers.get("Accept", ""):
            response: HttpResponse = JsonResponse({"error": message, "status": 429}, status=429)
        else:
            response = render(request, "429.html", {"message": message}, status=429)
        response["Retry-After"] = str(wait)
        return response

    return limited


# -- sign-in -------------------------------------------------------------------------

KNOWN_DEVICE_COOKIE = "known_device"
"""Set on a successful sign-in: the user name, signed with SECRET_KEY. It exempts that browser from the
global per-name limit, so an attacker who floods a name cannot keep its owner out."""
KNOWN_DEVICE_SALT = "web.security.known-device"
KNOWN_DEVICE_MAX_AGE = 180 * 24 * 3600
"""Seconds a browser stays known after its last successful sign-in."""


@dataclass(frozen=True)
class SignInAttempt:
    """One sign-in attempt, counted before its password is checked.

    ``wait`` > 0: refused, nothing counted, try again in that many seconds. Otherwise ``counted``
    names the counters it took one from; a success gives those back (only failures should use up a
    limit) and forgets ``name_at_address``, its name's earlier failures from this address.
    """

    wait: int
    counted: tuple[tuple[Limit, str], ...]
    name_at_address: tuple[Limit, str]


def _sign_in_limits() -> tuple[Limit, Limit, Limit]:
    window = settings.LOGIN_FAILURE_WINDOW
    return (
        Limit("login-name-ip", settings.LOGIN_FAILURES_PER_USERNAME_AND_IP, window),
        Limit("login-ip", settings.LOGIN_FAILURES_PER_IP, window),
        Limit("login-name", settings.LOGIN_FAILURES_PER_USERNAME, window),
    )


def is_known_device(request: HttpRequest, username: str) -> bool:
    """This browser signed in as ``username`` before (a valid, unexpired :data:`KNOWN_DEVICE_COOKIE`)."""
    signed = request.get_signed_cookie(KNOWN_DEVICE_COOKIE, default=None, salt=KNOWN_DEVICE_SALT, max_age=KNOWN_DEVICE_MAX_AGE)
    return signed is not None and signed == username


def begin_sign_in(request: HttpRequest, username: str) -> SignInAttempt:
    """Count a sign-in attempt for ``username`` (as authentication will look it up) before the password hash.

    Counted per name from this address and per address over all names; and per name over all
    addresses unless this browser signed in as that name before, so a flood from many addresses
    closes the name to new browsers only.
    """
    by_name_at_address, by_address, by_name = _sign_in_limits()
    address = client_ip(request)
    # "|" never occurs in an address, so the pair cannot be mistaken for another.
    name_at_address = (by_name_at_address, f"{address}|{username}")
    counts = [name_at_address, (by_address, address)]
    if not is_known_device(request, username):
        counts.append((by_name, username))
    wait = take(counts)
    return SignInAttempt(wait=wait, counted=() if wait else tuple(counts), name_at_address=name_at_address)


def sign_in_succeeded(attempt: SignInAttempt, response: HttpResponse, username: str) -> None:
    """Give back the attempt's counts, forget its name's failures from this address, and remember the browser.

    The per-address and global per-name counts are only given back, not cleared: one valid account
    must not reset an attacker's count for other names, nor the owner's sign-in an attack on their name.
    """
    give_back([count for count in attempt.counted if count != attempt.name_at_address], forget=[attempt.name_at_address])
    response.set_signed_cookie(
        KNOWN_DEVICE_COOKIE,
        username,
        salt=KNOWN_DEVICE_SALT,
        max_age=KNOWN_DEVICE_MAX_AGE,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )


# -- stored models -------------------------------------------------------------------

MODEL_SIGNATURE_MARK = b"\nmovielens-model-hmac-sha256:"
"""Between a stored model's pickle and its 32-byte HMAC-SHA256, at the end of ``FittedModel.data``."""
_MODEL_TAG_BYTES = 32
_MODEL_SIGNATURE_SALT = "web.security.fitted-model"


class ModelSignatureError(Exception):
    """A stored model's bytes are not what the precompute job signed for that run: they must not be unpickled."""


def _model_tag(run_id: int, pickled: bytes, secret: str) -> bytes:
    # The run id is signed too, so a model copied into another run's row is refused as well.
    message = str(run_id).encode() + b"\0" + pickled
    return salted_hmac(_MODEL_SIGNATURE_SALT, message, secret=secret, algorithm="sha256").digest()


def sign_model(run_id: int, pickled: bytes) -> bytes:
    """``pickled`` followed by :data:`MODEL_SIGNATURE_MARK` and its HMAC for ``run_id``, keyed by ``SECRET_KEY``.

    The job and the worker share SECRET_KEY; whoever can write the database but lacks it cannot make
    a model the worker will load. (pickle itself ignores bytes after its end, but nothing may
    unpickle a stored model without :func:`verified_model`.)
    """
    return pickled + MODEL_SIGNATURE_MARK + _model_tag(run_id, pickled, settings.SECRET_KEY)


def verified_model(run_id: int, stored: bytes | memoryview) -> bytes:
    """The pickle of a model stored by :func:`sign_model` for ``run_id``, or :class:`ModelSignatureError`.

    Checked against ``SECRET_KEY`` and then ``SECRET_KEY_FALLBACKS``, so a key rotation keeps the
    stored model loadable until the next run stores one signed with the new key.
    """
    stored = bytes(stored)
    trailer = len(MODEL_SIGNATURE_MARK) + _MODEL_TAG_BYTES
    pickled, mark, tag = stored[:-trailer], stored[-trailer:-_MODEL_TAG_BYTES], stored[-_MODEL_TAG_BYTES:]
    keys = [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]
    if len(stored) <= trailer or mark != MODEL_SIGNATURE_MARK or not any(
        hmac.compare_digest(tag, _model_tag(run_id, pickled, secret)) for secret in keys
    ):
        raise ModelSignatureError(
            f"The stored model of run {run_id} fails its signature check, so it was not loaded: it was changed after "
            "the precompute job stored it, stored before models were signed, or signed with another SECRET_KEY. "
            "Run the precompute again to store a signed model."
        )
    return pickled
