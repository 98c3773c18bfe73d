"""The Kubernetes probes."""

import pytest


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
def test_readyz_fails_when_the_database_is_unreachable(client, settings):
    """/readyz answers 503 with a reason when PostgreSQL cannot be reached."""
    from django.db import connections

    connection = connections["default"]
    connection.close()
    saved = connection.settings_dict.copy()
    connection.settings_dict.update({"HOST": "127.0.0.1", "PORT": "1", "NAME": "nowhere"})
    try:
        response = client.get("/readyz")
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
