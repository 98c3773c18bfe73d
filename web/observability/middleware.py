"""One middleware around every request: its id, its metrics, its database time and its log line."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.utils.encoding import escape_uri_path

from web.observability import requestid
from web.observability.metrics import HTTP_DB_DURATION, HTTP_DB_QUERIES, HTTP_REQUEST_DURATION, HTTP_REQUESTS

access_logger = logging.getLogger("web.access")

KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNRESOLVED_ROUTE = "unresolved"
"""The route label of a request no URL pattern matched (a 404, or answered by a middleware first)."""


class QueryTimer:
    """A ``connection.execute_wrapper`` that adds up the queries of one request and their time."""

    def __init__(self) -> None:
        self.count = 0
        self.seconds = 0.0

    def __call__(self, execute: Callable, sql: str, params: object, many: bool, context: dict) -> object:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - started
            self.count += 1


def route_of(request: HttpRequest) -> str:
    """The URL pattern that served ``request`` (``api/users/<int:user_id>/recommendations/``), never its path."""
    match = getattr(request, "resolver_match", None)
    return (match.route or match.view_name or UNRESOLVED_ROUTE) if match is not None else UNRESOLVED_ROUTE


class RequestObservabilityMiddleware:
    """Give the request an id (``X-Request-ID``), count and time it, and log one line for it.

    First in ``MIDDLEWARE``, so it sees every request, also those answered
    by another middleware (a redirect to HTTPS, a 503 while the database is
    down), and every log line written while the request runs carries its id.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = requestid.sane_or_new(request.headers.get(requestid.HEADER))
        request.request_id = request_id
        token = requestid.bind(request_id)
        queries = QueryTimer()
        started = time.perf_counter()
        status = 500  # what the client gets if the view raises past every handler
        try:
            with connection.execute_wrapper(queries):
                response = self.get_response(request)
            status = response.status_code
            response[requestid.HEADER] = request_id
            return response
        finally:
            elapsed = time.perf_counter() - started
            route = route_of(request)
            path = escape_uri_path(request.path)  # percent-encoded again: a decoded %0A would start a fake log line
            method = request.method if request.method in KNOWN_METHODS else "other"
            HTTP_REQUESTS.labels(route, method, str(status)).inc()
            HTTP_REQUEST_DURATION.labels(route, method).observe(elapsed)
            HTTP_DB_DURATION.labels(route).observe(queries.seconds)
            HTTP_DB_QUERIES.labels(route).inc(queries.count)
            access_logger.info(
                "%s %s %s %d %.1fms db=%.1fms/%d request_id=%s",
                request.method, path, route, status, elapsed * 1000, queries.seconds * 1000, queries.count, request_id,
                extra={
                    "method": request.method, "path": path, "route": route, "status": status,
                    "duration_ms": round(elapsed * 1000, 2), "db_ms": round(queries.seconds * 1000, 2), "db_queries": queries.count,
                },
            )
            requestid.unbind(token)
