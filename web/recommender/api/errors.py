"""Every API error is JSON: ``{"error": message, "status": code, "fields": {...}}``."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from rest_framework import status
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import NotAuthenticated, ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler

from web.middleware import MESSAGE, RETRY_AFTER_SECONDS


def _first_message(detail) -> str:
    if isinstance(detail, dict):
        for key, value in detail.items():
            return f"{key}: {_first_message(value)}" if key not in ("non_field_errors", "detail") else _first_message(value)
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    return str(detail)


def json_exception_handler(exc, context):
    """DRF's handler, reshaped; a database outage becomes a 503 instead of a 500, an oversized body a 413."""
    if isinstance(exc, (OperationalError, InterfaceError)):
        # An outage (the same two errors web.middleware answers for pages), not a bug: an IntegrityError
        # or a bad query stays a 500 so that it is logged and fixed.
        return Response(
            {"error": MESSAGE, "status": 503},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    if isinstance(exc, RequestDataTooBig):
        # Django's own answer would be an HTML 400; an API client needs to know the size was the problem.
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return Response(
            {"error": f"The request body is too large: at most {limit:,} bytes are accepted.", "status": 413},
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    response = exception_handler(exc, context)
    if response is None:
        return None
    message = _first_message(response.data)
    request = context.get("request")
    takes_tokens = any(isinstance(a, TokenAuthentication) for a in getattr(request, "authenticators", ()) or ())
    if isinstance(exc, NotAuthenticated) and takes_tokens:
        message = "Authentication required: send 'Authorization: Token <key>' or sign in on the site."
    body = {"error": message, "status": response.status_code}
    if isinstance(exc, ValidationError) and isinstance(response.data, dict):
        body["fields"] = response.data
    response.data = body
    return response
