"""Probes for Kubernetes: liveness never touches the database, readiness does."""

import logging

from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse

logger = logging.getLogger(__name__)


def healthz(request: HttpRequest) -> HttpResponse:
    """The process is up and serving requests."""
    return JsonResponse({"status": "ok"})


def readyz(request: HttpRequest) -> HttpResponse:
    """The database answers: only then should traffic be routed here.

    Anyone can reach this URL, so a failure answers a bare 503: the driver's message names the
    database host, port and user (and says "password authentication failed" on a bad password),
    which belongs in the operators' log, not in a stranger's browser.
    """
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as exc:
        logger.warning("not ready: the database did not answer: %s", str(exc).strip()[:300])
        return JsonResponse({"status": "unavailable"}, status=503)
    return JsonResponse({"status": "ok", "database": "ok"})
