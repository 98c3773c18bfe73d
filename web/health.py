"""Probes for Kubernetes: liveness never touches a dependency, readiness asks the database, within a deadline."""

import logging

from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, HttpResponse, JsonResponse

from web import dbdeadline
from web.dbreads import first_read

logger = logging.getLogger(__name__)

_migrations_confirmed = False
"""Set once this process found every migration of its code applied: a schema does not go back under a running
release, and loading the migration files on every probe would cost more than the probe itself."""


def unapplied_migrations() -> list[str]:
    """The migrations of this code that the database has not applied (``app.name``), in the order they would run."""
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [f"{migration.app_label}.{migration.name}" for migration, _backwards in plan]


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
    """The database answers and holds every migration of this code: only then should traffic be routed here.

    Without its migrations the pages that read a new column fail with 500s (a migration synced by `skaffold
    dev` without a migrate, a pod started past its migrate init container); not ready, the pod gets no
    traffic and the old pods keep serving. Migrations the database has and this code lacks (the new release's,
    seen from an old pod during a rollout) do not count: they must keep the old code working.

    Only the database decides: without Redis the site still serves lists and stores ratings (their refresh waits),
    so a Redis outage must not take every pod out of the Service. Anyone can reach this URL, so a failure answers
    with the dependency's name only: the driver's message names the database host, port and user (and says
    "password authentication failed" on a bad password), which belongs in the operators' log, not in a stranger's
    browser.
    """
    global _migrations_confirmed
    try:
        with dbdeadline.deadline(READY_DEADLINE_SECONDS):
            first_read(_select_one)
            missing = [] if _migrations_confirmed else unapplied_migrations()
    except DatabaseError as exc:
        logger.warning("not ready: the database did not answer: %s", str(exc).strip()[:300])
        return JsonResponse({"status": "unavailable", "database": "unavailable"}, status=503)
    if missing:
        logger.warning("not ready: %d migration(s) of this release are not applied: %s; run `python manage.py "
                       "migrate` (on the cluster the web pod's migrate init container does)", len(missing),
                       ", ".join(missing))
        return JsonResponse({"status": "unavailable", "database": "migrations missing"}, status=503)
    _migrations_confirmed = True
    return JsonResponse({"status": "ok", "database": "ok"})
