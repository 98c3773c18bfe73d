"""Every API error is JSON: ``{"error": message, "status": code, "fields": {...}}``."""

from __future__ import annotations

from django.db import DatabaseError
from rest_framework import status
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import NotAuthenticated, ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler


def _first_message(detail) -> str:
    if isinstance(detail, dict):
        for key, value in detail.items():
            return f"{key}: {_first_message(value)}" if key not in ("non_field_errors", "detail") else _first_message(value)
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    return str(detail)


def json_exception_handler(exc, context):
    """DRF's handler, reshaped; a database outage becomes a 503 instead of a 500."""
    if isinstance(exc, DatabaseError):
        return Response(
            {"error": "The database is unavailable; try again shortly.", "status": 503},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
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
