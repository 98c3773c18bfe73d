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
