"""Anonymous reads of a MovieLens user's list, answered from their ETag before the session, auth and DRF layers.

The hottest request of the API is a program asking, without credentials, for
a MovieLens user's list (public data), mostly one it has asked for before. The
full path runs seven more middlewares and DRF's authentication, permission,
throttle and negotiation steps, which for such a request decide nothing: no
session, no credentials, a public list, JSON. This middleware, placed right
after the security headers and static files, answers those requests itself
when the answer is already known: a ``304`` when ``If-None-Match`` holds the
list's ETag, else the body stored for that ETag
(:mod:`web.recommender.stored_answers`), with the same headers as the full
path would give. Anything else (credentials or a session cookie, a site
profile's private list, another format, a list not stored yet, a database
error) goes down the full path, which also stores the body for next time.
Measured in docs/benchmarks.md; why in docs/decisions.md ("HTTP caching").
"""

from __future__ import annotations

import re
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.db import DatabaseError, InterfaceError
from django.http import HttpRequest, HttpResponse, HttpResponseNotModified
from django.urls import ResolverMatch, resolve, reverse
from django.utils.cache import patch_vary_headers

from web.dbreads import first_read
from web.recommender import caching
from web.recommender.models import is_profile_id

ROUTE_NAME = "api-user-recommendations"
PATH = re.compile(r"/api/users/([0-9]+)/recommendations")
"""The URL pattern of :data:`ROUTE_NAME` (``<int:user_id>`` is ``[0-9]+``); checked against the URLconf at start-up."""
JSON = "application/json"
NEGOTIATED_AS_JSON = {None, "*/*", JSON}
"""``Accept`` headers for which DRF's negotiation picks plain JSON (``application/json``, no parameters); any other goes the full way."""


def validated_once(request: HttpRequest, user_id: int) -> tuple[str, caching.CachePolicy] | None:
    """The list's ETag and policy in one round trip to PostgreSQL: retried once on a new connection instead of checked before.

    ``CONN_HEALTH_CHECKS`` sends ``SELECT 1`` before the first query of each
    request, a round trip that costs as much as the validator's own query.
    The validator only reads, outside any transaction, so here a dead
    connection is found by using it: on a connection error it is closed and
    the query runs once more on a new one. None if that fails too.
    """
    try:
        return first_read(lambda: caching.user_list_validator(request, user_id))
    except (DatabaseError, InterfaceError):
        return None


class AnonymousPublicListMiddleware:
    """Answer an anonymous ``GET`` of a MovieLens user's recommendations with a 304 or the stored body, if there is one."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        probe = reverse(ROUTE_NAME, kwargs={"user_id": 1})
        self.match = resolve(probe)
        if PATH.fullmatch(probe) is None or self.match.url_name != ROUTE_NAME:
            raise MiddlewareNotUsed(f"{probe} is not what {PATH.pattern} expects: the full path serves every request")
        view = self.match.func.view_class
        methods = [m for m in view.http_method_names if hasattr(view, m) or (m == "head" and hasattr(view, "get"))]
        self.allow = ", ".join(m.upper() for m in methods)
        """What DRF's ``Allow`` header names on the view's answers."""

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.answer(request) or self.get_response(request)

    def answer(self, request: HttpRequest) -> HttpResponse | None:
        if request.method != "GET":
            return None
        found = PATH.fullmatch(request.path_info)
        if found is None or "HTTP_AUTHORIZATION" in request.META or settings.SESSION_COOKIE_NAME in request.COOKIES:
            return None
        if request.META.get("HTTP_ACCEPT") not in NEGOTIATED_AS_JSON or "format" in request.GET:
            return None
        user_id = int(found[1])
        if is_profile_id(user_id):  # a private list: the full path says 401
            return None
        request.get_host()  # a host outside ALLOWED_HOSTS is a 400 here too, as CommonMiddleware makes it
        request.accepted_media_type = JSON  # as DRF's negotiation sets it: the ETag names the format
        request.resolver_match = ResolverMatch(
            self.match.func, (), {"user_id": user_id}, self.match.url_name, self.match.app_names,
            self.match.namespaces, self.match.route,
        )
        validator = validated_once(request, user_id)
        if validator is None:
            return None  # the full path tries again and answers 503 if the database is away
        etag, policy = validator
        if caching.names_any(request):  # "*" is a 304 only if the user exists: the full path finds out
            return None
        if caching.matches(request, etag, exists=False):
            response: HttpResponse | None = caching.label(HttpResponseNotModified(), etag, policy)
        else:
            response = caching.stored_or_none(request, etag, policy)
        if response is None:  # not stored yet: the view builds the list under the validator read here
            setattr(request, caching.EARLY_VALIDATOR, (user_id, etag, policy))
            return None
        return self.as_the_full_path_would(response)

    def as_the_full_path_would(self, response: HttpResponse) -> HttpResponse:
        """The headers that the middlewares after this one and DRF put on the same answer."""
        response["Allow"] = self.allow  # DRF
        patch_vary_headers(response, ("Cookie",))  # sessions: DRF's session authentication looked for one
        response.headers.setdefault("Content-Length", str(len(response.content)))  # CommonMiddleware
        response.headers.setdefault("X-Frame-Options", settings.X_FRAME_OPTIONS)  # XFrameOptionsMiddleware
        return response
