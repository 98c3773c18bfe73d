"""Error pages (web/errors.py): the site's own 404/403/500 in every mode, JSON under /api/, Django's debug pages on request."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.db import OperationalError
from django.test import Client
from django.urls import path, re_path

from web import urls as site_urls

pytestmark = pytest.mark.django_db


def boom(request):
    raise RuntimeError("a bug in a view")


def boom_in_api(request):
    raise RuntimeError("a bug in an API view")


def database_gone(request, rest):
    raise OperationalError("server closed the connection unexpectedly")


# The site's URLs with views that fail, and the site's handlers.
urlpatterns = [path("boom/", boom), path("api/boom", boom_in_api), re_path(r"^gone/(?P<rest>[\s\S]*)$", database_gone),
               *site_urls.urlpatterns]
handler404, handler403, handler500 = site_urls.handler404, site_urls.handler403, site_urls.handler500


@pytest.fixture(params=[False, True], ids=["debug-off", "debug-on"])
def mode(request, settings):
    settings.DEBUG = request.param
    settings.DEBUG_ERROR_PAGES = False
    settings.ROOT_URLCONF = __name__
    return request.param


@pytest.mark.parametrize("url", ["/nope/", "/movies/99999999/", "/users/999999999/", "/users/abc/"])
def test_a_missing_page_is_the_sites_own_404(client, mode, url):
    response = client.get(url)
    body = response.content.decode()
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")
    assert "<h1>Page not found</h1>" in body and "css/site.css" in body and 'class="bar"' in body
    assert "URLconf" not in body and "Traceback" not in body


@pytest.mark.parametrize("url", ["/api/nope", "/api/users/abc/recommendations", "/api/movies/abc"])
def test_an_unknown_api_path_answers_json(client, mode, url):
    response = client.get(url)
    assert response.status_code == 404 and response["Content-Type"] == "application/json"
    assert response.json() == {"error": f"Not found: {url}", "status": 404}


def test_a_missing_slash_still_redirects(client, mode):
    response = client.get("/movies")
    assert response.status_code == 301 and response["Location"] == "/movies/"


def test_a_bug_is_the_sites_own_500_and_json_under_api(mode, caplog):
    client = Client(raise_request_exception=False)
    page = client.get("/boom/")
    assert page.status_code == 500 and "<h1>Something went wrong</h1>" in page.content.decode()
    assert "a bug in a view" not in page.content.decode()
    api = client.get("/api/boom")
    assert api.status_code == 500 and api.json()["status"] == 500 and "a bug" not in api.json()["error"]
    # Still logged with the traceback, for whoever reads the log.
    assert any(r.exc_info and "a bug in a view" in str(r.exc_info[1]) for r in caplog.records)


def test_the_database_outage_line_cannot_be_made_to_forge_log_lines(client, mode, caplog):
    """The 503's log line names the path; decoded, a %0A in it began a line of the client's own in the plain log (the
    access line percent-encodes its path for this reason)."""
    forged = "2026-12-07 17:00:00,000 INFO web.access: GET /admin/ admin/ 200"
    response = client.get("/gone/x%0A" + forged.replace(" ", "%20"))
    assert response.status_code == 503
    outage = [r.getMessage() for r in caplog.records if r.name == "web.middleware"]
    assert len(outage) == 1 and "/gone/x" in outage[0] and "\n" not in outage[0]


def test_a_member_on_an_operators_page_gets_the_sites_own_403(client, mode):
    client.force_login(User.objects.create_user("member", password="a-long-test-passw0rd"))
    response = client.get("/progress/")
    body = response.content.decode()
    assert response.status_code == 403 and "<h1>Not allowed</h1>" in body and "for operators" in body
    assert "You are signed in as member" in body


def test_a_developer_may_ask_for_djangos_debug_pages(client, settings):
    settings.DEBUG = True
    settings.DEBUG_ERROR_PAGES = True
    settings.ROOT_URLCONF = __name__
    response = client.get("/nope/")
    assert response.status_code == 404 and "URLconf" in response.content.decode()
    assert Client(raise_request_exception=False).get("/boom/").content.decode().count("a bug in a view") > 0
