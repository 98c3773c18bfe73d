"""The Kubernetes probes."""

import logging

import pytest
from django.db import connections


def test_healthz_answers_without_touching_the_database(client):
    """/healthz is up as long as the process is: without the django_db mark any query would raise here."""
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_checks_the_database(client):
    """/readyz says ready only after a round trip to PostgreSQL."""
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["database"] == "ok"


@pytest.mark.django_db(transaction=True)
def test_readyz_fails_when_the_database_is_unreachable_and_tells_only_the_log_why(client, caplog):
    """/readyz answers a 503 naming only the dependency when PostgreSQL cannot be reached; the reason goes to the log only.

    Anyone can call /readyz, and the driver's error names the database host, port, user and (on a bad
    password) "password authentication failed": an attacker's map of the database, so none of it is sent.
    """
    connection = connections["default"]
    connection.close()
    saved = connection.settings_dict.copy()
    connection.settings_dict.update({"HOST": "127.0.0.1", "PORT": "1", "NAME": "nowhere", "USER": "probe_user"})
    try:
        with caplog.at_level(logging.WARNING, logger="web.health"):
            response = client.get("/readyz")
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "unavailable"}
    assert "127.0.0.1" not in response.content.decode()
    logged = " ".join(record.getMessage() for record in caplog.records if record.name == "web.health")
    assert "127.0.0.1" in logged, logged


@pytest.mark.django_db
def test_readyz_fails_while_a_migration_of_this_release_is_not_applied(client, caplog, monkeypatch):
    """A web process whose code has a migration the database lacks would answer 500s on the pages that read the new
    columns (seen: "column progress_run.data_rating_id does not exist" on / and every list) while /readyz said ready;
    now it is not ready, so Kubernetes routes nothing to it, and the log names the migration and the fix."""
    from django.db import connection

    from web import health

    monkeypatch.setattr(health, "_migrations_confirmed", False, raising=False)
    with connection.cursor() as cursor:  # the test's transaction is rolled back: the row comes back
        cursor.execute("DELETE FROM django_migrations WHERE app = 'progress' AND name = '0007_retrain_data_watermark'")
    with caplog.at_level(logging.WARNING, logger="web.health"):
        response = client.get("/readyz")
    assert response.status_code == 503 and response.json() == {"status": "unavailable", "database": "migrations missing"}
    logged = " ".join(record.getMessage() for record in caplog.records if record.name == "web.health")
    assert "progress.0007_retrain_data_watermark" in logged and "migrate" in logged, logged


@pytest.mark.django_db
def test_readyz_is_ready_once_every_migration_is_applied(client, monkeypatch):
    """With every migration applied /readyz answers 200, and the check is made once per process, not per probe."""
    from web import health

    monkeypatch.setattr(health, "_migrations_confirmed", False, raising=False)
    assert client.get("/readyz").status_code == 200
    assert health._migrations_confirmed is True
