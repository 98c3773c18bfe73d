"""The Content-Security-Policy in real Chromium: no page of the site, the API docs or the admin breaks it."""

from __future__ import annotations


import pytest
from django.contrib.auth.models import User

from tests.helpers import run

COLLECT_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} at ${e.sourceFile}:${e.lineNumber}`);
});
"""

PAGES = [
    "/", "/movies/", "/movies/250/", "/users/101/", "/users/101/ratings/", "/accounts/login/", "/signup/", "/api/docs/",
    "/progress/", "/admin/", "/admin/auth/user/",
]


@pytest.fixture
def site(live_server, catalogue):
    """The tiny catalogue with a published run, an operator account, and the live server's address."""
    run(algorithm="popularity", top_n=10)
    User.objects.create_user("op", password="op-csp-password", is_staff=True, is_superuser=True)
    return live_server.url


def test_no_page_violates_the_content_security_policy(browser, site):
    """Every page (signed in as an operator) loads with the CSP header and without a single CSP violation."""
    context = browser.new_context()
    context.add_init_script(COLLECT_VIOLATIONS)
    page = context.new_page()
    console = []
    page.on("console", lambda message: console.append(message.text) if "Content Security Policy" in message.text else None)
    try:
        page.goto(f"{site}/accounts/login/")
        page.fill("#id_username", "op")
        page.fill("#id_password", "op-csp-password")
        page.click("button[type=submit]")
        page.wait_for_url(f"{site}/me/")  # signing in lands on one's recommendations
        for path in PAGES:
            response = page.goto(f"{site}{path}")
            assert response.status == 200, path
            assert "script-src 'self'" in response.headers["content-security-policy"], path
            if path == "/api/docs/":
                page.wait_for_selector(".swagger-ui .opblock", timeout=20000)  # the UI ran and drew the operations
            page.wait_for_load_state("networkidle")
            violations = page.evaluate("window.__cspViolations")
            assert violations == [] and console == [], (path, violations, console)
    finally:
        context.close()


def test_the_genre_filter_applies_on_change_without_an_inline_handler(browser, site):
    """Choosing a genre on a user's page reloads it filtered, through site.js instead of an onchange attribute."""
    from django.core.cache import cache

    from web.recommender.models import Movie

    Movie.objects.filter(movie_id__in=[10, 20, 30]).update(genres=["Drama"])
    cache.clear()  # the genre list is cached for a minute
    page = browser.new_page()
    try:
        page.goto(f"{site}/users/101/")
        with page.expect_navigation():
            page.select_option("#genre", "Drama")
        assert page.url.endswith("/users/101/?genre=Drama")
        assert page.eval_on_selector("#genre", "e => e.value") == "Drama"
    finally:
        page.close()
