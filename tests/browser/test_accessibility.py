"""Accessibility of the main pages, checked by axe-core (PyPI's axe-playwright-python ships it) in Chromium.

No serious or critical violation on any of them: among others, every control has a name a screen
reader can read, text has enough contrast, and the page has a language and a title.
"""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe

from tests.account_helpers import make_operator
from tests.browser.site import MEMBER_PASSWORD, sign_in
from web.recommender.models import Profile, Rating
from web.recommender.tasks import refresh_user

pytestmark = [pytest.mark.browser, pytest.mark.movielens, pytest.mark.django_db(transaction=True)]

PASSWORD = MEMBER_PASSWORD
BLOCKING = {"serious", "critical"}


def _blocking(page) -> list[str]:
    results = Axe().run(page).response
    return [f"{v['impact']} {v['id']}: {v['help']} ({len(v['nodes'])}x, e.g. {v['nodes'][0]['html'][:120]})"
            for v in results["violations"] if v["impact"] in BLOCKING]




def test_the_main_pages_have_no_serious_or_critical_violations(live_server, browser, site):
    account = make_operator("reader", PASSWORD)[0]
    profile = Profile.objects.for_account(account)
    for movie_id, value in {1: 4.5, 260: 4.5, 296: 4.0, 318: 5.0, 356: 4.0}.items():
        Rating.objects.create(user_id=profile.user_id, movie_id=movie_id, rating=value)
    refresh_user(profile.user_id)
    # axe is injected by page.evaluate, which the site's CSP (script-src 'self') would otherwise refuse.
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    found = {}
    try:
        for path in ["/", "/accounts/login/", "/signup/", "/movies/", "/movies/?q=star", "/movies/260/", "/users/1/", "/nope/"]:
            page.goto(f"{live_server.url}{path}")
            found[path] = _blocking(page)
        sign_in(page, live_server.url, "reader")
        for path in ["/", "/me/", "/me/ratings/", "/welcome/", "/movies/260/", "/progress/"]:
            page.goto(f"{live_server.url}{path}")
            page.wait_for_load_state("networkidle")
            found[f"signed in {path}"] = _blocking(page)
        page.set_viewport_size({"width": 390, "height": 844})  # a phone: the folded menu, the 44 px stars
        for path in ["/welcome/", "/me/"]:
            page.goto(f"{live_server.url}{path}")
            found[f"phone {path}"] = _blocking(page)
            page.locator("label.menu-button").click()
            found[f"phone {path}, menu open"] = _blocking(page)
    finally:
        context.close()
    assert not any(found.values()), {path: problems for path, problems in found.items() if problems}
