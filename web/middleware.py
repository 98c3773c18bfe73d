"""Turn "the database is unreachable" into a clear 503 instead of a 500 traceback.

While PostgreSQL is stopped or restarting, every query raises Django's
``OperationalError`` (cannot connect, server closed the connection) or
``InterfaceError`` (the connection is already closed). That is an outage, not
a bug in the request, so the client is told to retry: ``503 Service
Unavailable`` with ``Retry-After``, JSON for the API and a short HTML page
for browsers. Nothing was stored by the failed request (its transaction
never committed), so a retry is always safe. ``conn_health_checks`` in the
settings makes the next request after the restart open a fresh connection,
so service comes back by itself. A PostgreSQL that stalls (alive, answering
nothing) raises nothing by itself: :class:`DatabaseDeadlineMiddleware` cuts
a request's wait after ``DATABASE_REQUEST_TIMEOUT``, which then fails the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.encoding import escape_uri_path

from web import dbdeadline

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
"""What the 503 asks clients to wait before they retry."""
MESSAGE = "The database is unavailable right now; nothing was changed. Please try again in a few seconds."


class DatabaseUnavailableMiddleware:
    """Answer 503 (JSON under /api/, HTML elsewhere) when a view fails because PostgreSQL cannot be reached."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, (OperationalError, InterfaceError)):
            return None  # a real bug: let Django's 500 handling (and its logging) see it
        # The reason goes to the log only: it can name the server's socket or host. The path percent-encoded again, as
        # in the access line: a decoded %0A would start a log line of the client's own.
        logger.warning("database unavailable for %s %s: %s", request.method, escape_uri_path(request.path),
                       str(exception).strip()[:300])
        if request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", ""):
            response: HttpResponse = JsonResponse({"error": MESSAGE, "status": 503}, status=503)
        else:
            response = HttpResponse(render_to_string("503.html", {"message": MESSAGE}), status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        response["Cache-Control"] = "no-store"
        return response


class DatabaseDeadlineMiddleware:
    """Cut the request's database connection once it has waited ``DATABASE_REQUEST_TIMEOUT`` in all (web/dbdeadline.py).

    Near the top of the chain, so the reads of the middleware below it (the public list's ETag, the session) count
    too; the cut shows up as ``OperationalError``, answered below with the 503 of :class:`DatabaseUnavailableMiddleware`.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with dbdeadline.deadline(settings.DATABASE_REQUEST_TIMEOUT):
            return self.get_response(request)
