"""Probes for Kubernetes: liveness never touches a dependency, readiness asks the database, within a deadline."""

import logging

from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse

from web import dbdeadline
from web.dbreads import first_read

logger = logging.getLogger(__name__)

READY_DEADLINE_SECONDS = 2.0
"""How long /readyz waits for the database: under the readiness probe's timeoutSeconds (5, k8s/app/web-deployment.yaml),
so a stalled database is answered with a 503 that the kubelet reads and the metrics count, not a probe timeout.
Connecting is bounded by DATABASE_CONNECT_TIMEOUT (2 s) the same way."""


def healthz(request: HttpRequest) -> HttpResponse:
    """The process is up and serving requests."""
    return JsonResponse({"status": "ok"})


def _select_one() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def readyz(request: HttpRequest) -> HttpResponse:
    """The database answers: only then should traffic be routed here.

    Only the database decides: without Redis the site still serves lists and stores ratings (their refresh waits),
    so a Redis outage must not take every pod out of the Service. Anyone can reach this URL, so a failure answers
    with the dependency's name only: the driver's message names the database host, port and user (and says
    "password authentication failed" on a bad password), which belongs in the operators' log, not in a stranger's
    browser.
    """
    try:
        with dbdeadline.deadline(READY_DEADLINE_SECONDS):
            first_read(_select_one)
    except DatabaseError as exc:
        logger.warning("not ready: the database did not answer: %s", str(exc).strip()[:300])
        return JsonResponse({"status": "unavailable", "database": "unavailable"}, status=503)
    return JsonResponse({"status": "ok", "database": "ok"})
