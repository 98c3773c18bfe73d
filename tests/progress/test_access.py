"""Operators only: the page, its charts and its JSON refuse everyone who is not an operator."""

import pytest

from web.runs.models import Run

pytestmark = pytest.mark.django_db

PAGES = ["/progress/", "/progress/durations.svg"]
FEEDS = ["/api/runs", "/api/runs/1"]


@pytest.mark.parametrize("path", PAGES)
def test_anonymous_visitors_are_sent_to_sign_in(client, path):
    """An anonymous request for the page or a chart is redirected to /accounts/login/ with ?next= the page."""
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={path}"


@pytest.mark.parametrize("path", PAGES)
def test_signed_in_non_operators_get_403_on_pages(visitor_client, path):
    """A signed-in user who is not an operator is refused with 403, not redirected."""
    assert visitor_client.get(path).status_code == 403


@pytest.mark.parametrize("path", FEEDS)
def test_json_endpoints_refuse_anonymous_and_non_operators(client, visitor_client, path):
    """/api/runs answers 403 with a JSON error to anonymous and non-operators alike."""
    Run.objects.create(pk=1, algorithm="popularity")
    for who in (client, visitor_client):
        response = who.get(path)
        assert response.status_code == 403 and response.json()["status"] == 403


def test_actions_refuse_non_operators_and_change_nothing(visitor_client):
    """A non-operator can neither start nor cancel a run."""
    run = Run.objects.create(algorithm="popularity")
    assert visitor_client.post("/api/runs", {"algorithm": "popularity"}, content_type="application/json").status_code == 403
    assert visitor_client.post(f"/api/runs/{run.pk}/cancel").status_code == 403
    run.refresh_from_db()
    assert Run.objects.count() == 1 and run.status == "pending"


def test_actions_need_the_csrf_token(operator):
    """An operator's session without the CSRF token cannot cancel a run (session auth checks CSRF on writes)."""
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(operator)
    run = Run.objects.create(algorithm="popularity")
    response = client.post(f"/api/runs/{run.pk}/cancel")
    assert response.status_code == 403 and "CSRF" in response.json()["error"]
    run.refresh_from_db()
    assert run.status == "pending"


def test_the_login_page_brings_an_operator_to_the_progress_page(client, operator):
    """Signing in through the form with ?next=/progress/ lands on the page."""
    response = client.post("/accounts/login/", {"username": "op", "password": "op-test-password", "next": "/progress/"})
    assert response.status_code == 302 and response["Location"] == "/progress/"
    assert client.get("/progress/").status_code == 200
