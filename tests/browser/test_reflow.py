"""Reflow (WCAG 1.4.10): at 320 CSS px wide (a 1280 px screen at 400 % zoom, or a small phone) and at 640 px
(200 % zoom) the main pages scroll up and down only, and no text is cut off by a box too narrow for it.

A table of figures may scroll sideways inside its own box (the progress page's history), as WCAG allows
for content that needs two dimensions; the page itself does not.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from tests.browser.site import MEMBER_PASSWORD, sign_in, sign_in_operator
from web.runs.models import Run, RunStatus, ShardProgress, Stage

pytestmark = [pytest.mark.browser, pytest.mark.movielens, pytest.mark.django_db(transaction=True)]

WIDTHS = [320, 640]

# What is wider than the window, and which text is clipped by its own box (overflow hidden or text-overflow),
# leaving out what hides on purpose: the screen-reader-only text, a half star's clipped glyph, the skip link.
OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const page = document.documentElement.scrollWidth;
  const wide = [...document.querySelectorAll('body *')].filter(e => {
    if (e.closest('.sr-only, .skip-link, .scroll, details:not([open])')) return false;
    const box = e.getBoundingClientRect();
    return box.width > 0 && box.right > width + 1;
  }).map(e => e.outerHTML.slice(0, 100));
  const cut = [...document.querySelectorAll('main *')].filter(e => {
    if (e.closest('.sr-only, button.half, .scroll, pre[tabindex]')) return false;  // a log scrolls in its own box
    const style = getComputedStyle(e);
    const clips = style.overflowX !== 'visible' || style.textOverflow === 'ellipsis';
    return clips && e.textContent.trim() && e.scrollWidth > e.clientWidth + 1;
  }).map(e => e.outerHTML.slice(0, 100));
  return {page, width, wide: wide.slice(0, 5), cut: cut.slice(0, 5)};
}"""


def _check(page, base_url: str, paths: list[str], found: dict) -> None:
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 700})
        for path in paths:
            page.goto(f"{base_url}{path}")
            page.wait_for_load_state("networkidle")
            state = page.evaluate(OVERFLOW)
            if state["page"] > state["width"] or state["wide"] or state["cut"]:
                found[f"{width}px {path}"] = state


def test_the_main_pages_reflow_at_320_and_640_px(live_server, browser, site):
    User.objects.create_user("narrow", password=MEMBER_PASSWORD)
    found: dict = {}
    context = browser.new_context()
    page = context.new_page()
    try:
        _check(page, live_server.url, ["/", "/accounts/login/", "/signup/", "/movies/", "/movies/?q=star",
                                       "/movies/260/", "/users/", "/users/1/", "/users/1/ratings/", "/nope/"], found)
        sign_in(page, live_server.url, "narrow")
        page.goto(f"{live_server.url}/movies/260/")
        page.locator("main .my-rating button.half[value='4.0']").click()
        page.wait_for_function("() => document.querySelector('main .stars-status').textContent.startsWith('Saved')")
        _check(page, live_server.url, ["/welcome/", "/me/", "/me/ratings/", "/me/watchlist/", "/movies/260/"], found)
        page.context.clear_cookies()
        sign_in_operator(page, live_server.url)
        _check(page, live_server.url, ["/progress/"], found)
        running = Run.objects.create(algorithm="popularity", status=RunStatus.RUNNING, stage=Stage.COMPUTE,
                                     users_total=200, users_done=20, started_at=timezone.now(), heartbeat_at=timezone.now())
        ShardProgress.objects.create(run=running, shard=0, host="precompute-abc", users_total=200, users_done=20)
        _check(page, live_server.url, ["/progress/?running"], found)
    finally:
        context.close()
    assert not found, found
