"""Accessibility of every page a visitor, a member and an operator can reach, checked by axe-core (PyPI's
axe-playwright-python ships it) in Chromium.

Every rule axe runs by default, best practices included (landmarks, a way past the menus, heading order,
one h1), fails the test at every impact, minor included: among others, every control has a name a screen
reader can read, text has enough contrast, all content sits in a landmark, and the page has a language and
a title. No rule is switched off: none was wrong for this site.
"""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.contrib.auth.models import User
from django.template.loader import render_to_string
from django.utils import timezone

from tests.account_helpers import make_operator
from tests.browser.site import MEMBER_PASSWORD, sign_in
from web.errors import SERVER_ERROR
from web.middleware import MESSAGE as DATABASE_DOWN
from web.recommender.models import Profile, Rating
from web.recommender.tasks import refresh_user
from web.runs.models import Run, RunStatus, ShardProgress, Stage

pytestmark = [pytest.mark.browser, pytest.mark.movielens, pytest.mark.django_db(transaction=True)]

PASSWORD = MEMBER_PASSWORD


def _violations(page) -> list[str]:
    results = Axe().run(page).response
    return [f"{v['impact']} {v['id']}: {v['help']} ({len(v['nodes'])}x, e.g. {v['nodes'][0]['html'][:160]})"
            for v in results["violations"]]


def _serve(status: int, html: str):
    return lambda route, request: route.fulfill(status=status, content_type="text/html", body=html)


def _rate(profile: Profile) -> None:
    for movie_id, value in {1: 4.5, 260: 4.5, 296: 4.0, 318: 5.0, 356: 4.0}.items():
        Rating.objects.create(user_id=profile.user_id, movie_id=movie_id, rating=value)
    refresh_user(profile.user_id)


def submit_plainly(page) -> None:
    """Send the first movie-actions form as a browser without the script would (the script sends it in the
    background and says a refusal in place): only that way does the site's refusal come as a page of its own."""
    with page.expect_navigation():
        page.evaluate("""() => { const form = document.querySelector('main form.movie-actions');
            const button = form.querySelector('button'), pressed = document.createElement('input');
            pressed.type = 'hidden'; pressed.name = button.name; pressed.value = button.value;
            form.appendChild(pressed); form.submit(); }""")
    page.wait_for_load_state("networkidle")

def test_every_page_has_no_violations_at_any_impact(live_server, browser, site, settings):
    operator = make_operator("reader", PASSWORD)[0]
    _rate(Profile.objects.for_account(operator))
    User.objects.create_user("member", password=PASSWORD)
    # axe is injected by page.evaluate, which the site's CSP (script-src 'self') would otherwise refuse.
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    found: dict[str, list[str]] = {}

    def check(where: str, path: str | None = None) -> None:
        if path is not None:
            page.goto(f"{live_server.url}{path}")
            page.wait_for_load_state("networkidle")
        found[where] = _violations(page)
        # A template comment or tag that spans lines is shown as text (Django's {# #} is one line only).
        shown = page.locator("body").inner_text()
        found[where] += [f"template text shown: {shown[shown.find(mark):][:80]}" for mark in ("{#", "{%", "{{") if mark in shown]

    # The stand-alone pages served when the database is down and on a server error: what the app sends.
    for status, template, message in [(503, "503.html", DATABASE_DOWN), (500, "500.html", SERVER_ERROR)]:
        html = render_to_string(template, {"message": message})
        page.route(f"{live_server.url}/__{status}", _serve(status, html))
    try:
        for path in ["/", "/accounts/login/", "/signup/", "/movies/", "/movies/?q=star", "/movies/?page=2",
                     "/movies/?genre=Comedy&sort=title", "/movies/260/", "/users/", "/users/1/", "/users/1/ratings/",
                     "/nope/", "/__503", "/__500"]:
            check(path, path)
        sign_in(page, live_server.url, "member")
        check("member /progress/ (403)", "/progress/")
        assert page.title().startswith("Not allowed")
        check("member /welcome/", "/welcome/")
        check("member /me/ before rating", "/me/")
        page.goto(f"{live_server.url}/movies/260/")
        page.locator("form.movie-actions input[name=csrfmiddlewaretoken]").first.evaluate("input => input.value = 'stale'")
        submit_plainly(page)
        assert page.title().startswith("Not allowed")
        check("stale form page")
        settings.RATING_WRITES_PER_ACCOUNT = 0
        page.goto(f"{live_server.url}/movies/260/")
        submit_plainly(page)
        assert page.title().startswith("Too many requests")
        check("too many requests (429)")
        settings.RATING_WRITES_PER_ACCOUNT = 120
        page.context.clear_cookies()
        sign_in(page, live_server.url, "reader")
        for path in ["/", "/me/", "/me/ratings/", "/me/watchlist/", "/welcome/", "/movies/260/", "/users/1/",
                     "/progress/"]:
            check(f"signed in {path}", path)
        running = Run.objects.create(
            algorithm="popularity", status=RunStatus.RUNNING, stage=Stage.COMPUTE,
            users_total=200, users_done=20, started_at=timezone.now(), heartbeat_at=timezone.now())
        ShardProgress.objects.create(run=running, shard=0, host="precompute-abc", users_total=200, users_done=20)
        Run.objects.create(algorithm="popularity", status=RunStatus.FAILED, stage=Stage.COMPUTE,
                           error="compute: ValueError: boom", started_at=timezone.now(), finished_at=timezone.now())
        page.goto(f"{live_server.url}/progress/")
        page.wait_for_selector(f"tr[data-run='{running.pk}']")
        check("/progress/ with a run going")
        page.set_viewport_size({"width": 390, "height": 844})  # a phone: the folded menu, the 44 px stars
        for path in ["/welcome/", "/me/", "/movies/260/", "/progress/"]:
            check(f"phone {path}", path)
            page.locator("label.menu-button").click()
            check(f"phone {path}, menu open")
    finally:
        context.close()
    assert not any(found.values()), {where: problems for where, problems in found.items() if problems}
