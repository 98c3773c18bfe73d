"""The site with a keyboard only, in Chromium: Tab, Shift+Tab, Enter and Space reach and work every control,
the focused one always shows it, and no action leaves the keyboard on the page's <body> (back at the top).

What a screen reader hears of the live parts (the refreshed list, the progress page) is in here too: said
politely, without taking the keyboard's place.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from tests.browser.site import MEMBER_PASSWORD, sign_in
from web.recommender.models import Profile, Rating
from web.runs.models import Run, RunStatus, ShardProgress, Stage

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FOCUSED = """() => {
  const e = document.activeElement;
  if (!e || e === document.body) return {tag: "BODY"};
  const style = getComputedStyle(e), box = e.getBoundingClientRect();
  return {tag: e.tagName, text: (e.innerText || e.value || "").trim(), cls: e.className, id: e.id,
          outline: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0,
          shadow: style.boxShadow !== "none", visible: box.width > 0 && box.height > 0};
}"""


def focused(page) -> dict:
    return page.evaluate(FOCUSED)


def tab_to(page, selector: str, limit: int = 120, key: str = "Tab") -> dict:
    """Press Tab (or Shift+Tab) until the focused element matches ``selector`` (none if it already does); fails
    after ``limit`` presses."""
    for _ in range(limit + 1):
        if page.evaluate("(s) => !!document.activeElement && document.activeElement.matches(s)", selector):
            return focused(page)
        page.keyboard.press(key)
    raise AssertionError(f"{limit} presses of {key} never reached {selector}; last: {focused(page)}")


def assert_visibly_focused(state: dict) -> None:
    assert state["tag"] != "BODY", "the keyboard's place went back to the page's top"
    assert state["visible"] and (state["outline"] or state["shadow"]), f"no focus indicator on {state}"


SKIP_LINK_PAGES = ["/", "/movies/", "/movies/260/", "/accounts/login/", "/signup/", "/users/1/", "/nope/"]


@pytest.mark.movielens
def test_the_first_tab_stop_is_a_visible_skip_link_to_the_content(live_server, page, site):
    """On every kind of page (one test: the site's data is set up once for all of them)."""
    for path in SKIP_LINK_PAGES:
        page.goto(f"{live_server.url}{path}")
        first = page.evaluate("() => document.querySelector('a[href], button, input:not([type=hidden]), select, textarea,"
                              " [tabindex]:not([tabindex=\"-1\"])').textContent")
        assert first == "Skip to content", path
        # The sign-in and sign-up forms put the keyboard in their first field (autofocus): back to the skip link from there.
        if page.evaluate("() => document.activeElement === document.body"):
            page.keyboard.press("Tab")
        else:
            tab_to(page, "a.skip-link", key="Shift+Tab")
        state = focused(page)
        assert state["tag"] == "A" and state["text"] == "Skip to content", (path, state)
        assert_visibly_focused(state)
        page.keyboard.press("Enter")
        assert page.evaluate("() => document.activeElement.matches('main, main *')"), (path, focused(page))
        # The next Tab goes on inside the page's content, past the menus.
        page.keyboard.press("Tab")
        assert page.evaluate("() => document.activeElement.closest('main') !== null"), (path, focused(page))


@pytest.mark.movielens
def test_stars_rate_and_remove_with_the_keyboard_and_keep_its_place(live_server, page, site):
    User.objects.create_user("keys", password=MEMBER_PASSWORD)
    sign_in(page, live_server.url, "keys")
    page.goto(f"{live_server.url}/movies/260/")
    four = tab_to(page, "main form.stars button.half[value='4.0']")
    assert_visibly_focused(four)
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.querySelector('main .stars-status').textContent.startsWith('Saved')")
    assert_visibly_focused(focused(page))
    remove = tab_to(page, "main form.stars button.remove")
    assert_visibly_focused(remove)
    page.keyboard.press("Space")
    page.wait_for_function("() => document.querySelector('main .stars-status').textContent === 'Removed'")
    assert_visibly_focused(focused(page))
    assert not Rating.objects.filter(user_id=Profile.objects.for_account(User.objects.get(username="keys")).user_id).exists()


PRESSED = "() => [...document.querySelectorAll('main .my-rating button.half')].map(b => b.value + ':' + b.getAttribute('aria-pressed'))"


def _pressed(value: str | None) -> list[str]:
    values = ["0.5", "1.0", "1.5", "2.0", "2.5", "3.0", "3.5", "4.0", "4.5", "5.0"]
    return [f"{v}:{'true' if v == value else 'false'}" for v in values]


@pytest.mark.movielens
def test_a_screen_reader_hears_which_star_is_the_rating(live_server, page, site):
    """The half stars are buttons named "4.0 stars": the one of the rating given is pressed (aria-pressed), so the
    rating is heard at the control, after a rating, a reload, and a removal."""
    User.objects.create_user("keys", password=MEMBER_PASSWORD)
    sign_in(page, live_server.url, "keys")
    page.goto(f"{live_server.url}/movies/260/")
    assert page.evaluate(PRESSED) == _pressed(None)
    tab_to(page, "main .my-rating button.half[value='4.0']")
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.querySelector('main .stars-status').textContent.startsWith('Saved')")
    assert page.evaluate(PRESSED) == _pressed("4.0")
    page.reload()
    assert page.evaluate(PRESSED) == _pressed("4.0")
    tab_to(page, "main .my-rating button.remove")
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.querySelector('main .stars-status').textContent === 'Removed'")
    assert page.evaluate(PRESSED) == _pressed(None)


@pytest.mark.movielens
def test_watchlist_and_not_interested_keep_the_keyboard_on_the_movie(live_server, page, site):
    """Sent in the background, each button becomes its undo and keeps the keyboard, and its form says what was done."""
    User.objects.create_user("keys", password=MEMBER_PASSWORD)
    sign_in(page, live_server.url, "keys")
    page.goto(f"{live_server.url}/movies/260/")
    form = page.locator("main .my-rating form.movie-actions")
    for pressed, then in [("watchlist_add", "Remove from watchlist"), ("watchlist_remove", "Add to watchlist"),
                          ("not_interested", "Show it again"), ("not_interested_remove", "Not interested")]:
        tab_to(page, f"main .my-rating form.movie-actions button[value={pressed}]")
        page.keyboard.press("Enter")
        page.wait_for_function("(then) => document.activeElement.textContent.trim() === then", arg=then)
        state = focused(page)
        assert state["tag"] == "BUTTON" and state["text"] == then, (pressed, state)
        assert_visibly_focused(state)
        # What happened is said where a screen reader hears it: the form's own status.
        status = form.locator(".actions-status[role=status]")
        page.wait_for_function("(node) => node.textContent.trim() && node.textContent !== 'Saving…'", arg=status.element_handle())
        assert status.inner_text().strip(), pressed


@pytest.mark.movielens
def test_a_card_gone_from_the_list_hands_the_keyboard_to_the_message(live_server, page, site):
    """Removed from the watchlist on the watchlist page, the last card leaves the list: the keyboard lands on what
    was said ("Removed ... from your watchlist"), not on the page's top."""
    User.objects.create_user("keys", password=MEMBER_PASSWORD)
    sign_in(page, live_server.url, "keys")
    page.goto(f"{live_server.url}/movies/260/")
    page.locator("main .my-rating form.movie-actions button[value=watchlist_add]").click()
    page.wait_for_selector("main .my-rating form.movie-actions button[value=watchlist_remove]")
    page.goto(f"{live_server.url}/me/watchlist/")
    tab_to(page, "main form.movie-actions button[value=watchlist_remove]")
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.activeElement.id === 'action-status'")
    state = focused(page)
    assert "Removed" in state["text"], state
    assert_visibly_focused(state)


@pytest.mark.movielens
def test_the_phone_menu_opens_and_closes_with_the_keyboard(live_server, page, site):
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/")
    toggle = tab_to(page, "#menu-toggle")
    assert toggle["tag"] == "INPUT"
    # The checkbox is invisible; its label, the "Menu" button, shows the focus.
    ring = page.evaluate("() => getComputedStyle(document.querySelector('label.menu-button')).outlineStyle")
    assert ring != "none"
    page.keyboard.press("Space")
    assert page.locator("#menus").is_visible()
    link = tab_to(page, "#menus a")
    assert_visibly_focused(link)
    tab_to(page, "#menu-toggle", key="Shift+Tab")
    page.keyboard.press("Space")
    assert not page.locator("#menus").is_visible()


def _running() -> Run:
    run = Run.objects.create(
        algorithm="popularity", status=RunStatus.RUNNING, stage=Stage.COMPUTE,
        users_total=200, users_done=20, started_at=timezone.now(), heartbeat_at=timezone.now())
    ShardProgress.objects.create(run=run, shard=0, host="precompute-abc", users_total=200, users_done=20)
    return run


def _wait_for_users(page, done: int) -> None:
    page.wait_for_function(f"() => (document.querySelector('#now .users') || {{}}).textContent === '{done} / 200 users'",
                           timeout=10_000)


@pytest.mark.parametrize("where", ["#now", "#runs"])
def test_a_focused_cancel_button_keeps_the_keyboard_while_the_page_redraws(live_server, operator_page, where):
    page = operator_page
    run = _running()
    page.reload()
    _wait_for_users(page, 20)
    assert_visibly_focused(tab_to(page, f"{where} button.cancel"))
    Run.objects.filter(pk=run.pk).update(users_done=80, heartbeat_at=timezone.now())
    _wait_for_users(page, 80)
    state = focused(page)
    assert state["tag"] == "BUTTON" and state["text"] == "Cancel", state
    assert page.evaluate(f"() => document.activeElement.matches('{where} button.cancel')")
    assert_visibly_focused(state)
    # Cancelled with Enter (and the browser's confirm): the button goes, the keyboard lands on the Now panel,
    # which says so.
    page.once("dialog", lambda dialog: dialog.accept())
    page.keyboard.press("Enter")
    page.wait_for_function("() => !document.querySelector('button.cancel')", timeout=10_000)
    state = focused(page)
    assert state["id"] == "now" and "Cancelled by an operator." in state["text"], state
    assert_visibly_focused(state)


def test_the_progress_page_says_stage_changes_politely_not_every_tick(live_server, operator_page):
    """A screen reader hears the run's stage and outcome as they change, not the whole panel every second."""
    page = operator_page
    run = _running()
    page.reload()
    _wait_for_users(page, 20)
    live = page.evaluate("() => [...document.querySelectorAll('[aria-live], [role=status], [role=alert]')]"
                         ".filter(e => e.closest('#progress-app')).map(e => e.id)")
    assert "now" not in live, "the whole Now panel, redrawn each second, is a live region"
    said = page.locator("#run-said")
    assert said.get_attribute("role") == "status"
    live_texts = "() => [...document.querySelectorAll('#progress-app [aria-live], #progress-app [role=status]')].map(e => e.textContent)"
    first = said.inner_text()
    before = page.evaluate(live_texts)
    assert f"Run {run.pk}" in first and "compute" in first.lower()
    Run.objects.filter(pk=run.pk).update(users_done=80, heartbeat_at=timezone.now())
    _wait_for_users(page, 80)
    assert said.inner_text() == first
    assert page.evaluate(live_texts) == before, "a live region changed with the counts, every second"
    Run.objects.filter(pk=run.pk).update(stage=Stage.WRITE, users_done=150, heartbeat_at=timezone.now())
    page.wait_for_function("() => document.querySelector('#run-said').textContent.toLowerCase().includes('write')",
                           timeout=10_000)


def test_start_a_run_with_the_keyboard(live_server, operator_page, redis_conn):
    page = operator_page
    button = tab_to(page, "#start-button")
    assert_visibly_focused(button)
    page.keyboard.press("Enter")
    page.wait_for_function("() => !document.getElementById('action-message').hidden", timeout=10_000)
    assert_visibly_focused(focused(page))
    assert Run.objects.exists()


WALK = """() => {
  const e = document.activeElement;
  if (!e || e === document.body) return null;
  if (!e.dataset.walked) e.dataset.walked = String(window.walked = (window.walked || 0) + 1);
  return e.dataset.walked;
}"""


def _walk(page, key: str, limit: int = 400) -> list[str]:
    """Press ``key`` from the page's start until the keyboard leaves the page; the stops, in order."""
    stops: list[str] = []
    for _ in range(limit):
        page.keyboard.press(key)
        stop = page.evaluate(WALK)
        if stop is None:
            return stops
        stops.append(stop)
    raise AssertionError(f"{limit} presses of {key} never left the page: trapped around {stops[-10:]}")


@pytest.mark.movielens
def test_no_page_traps_the_keyboard(live_server, page, site):
    """Tab goes through every stop of a page once and out of it; Shift+Tab goes back through the same stops."""
    User.objects.create_user("keys", password=MEMBER_PASSWORD)
    sign_in(page, live_server.url, "keys")
    for path in ["/movies/260/", "/me/", "/movies/?q=star"]:
        page.goto(f"{live_server.url}{path}")
        forward = _walk(page, "Tab")
        assert forward and len(set(forward)) == len(forward), (path, forward)
        backward = []
        for _ in forward:  # from past the end, back to the start (headless Chromium wraps there, no browser UI)
            page.keyboard.press("Shift+Tab")
            backward.append(page.evaluate(WALK))
        assert backward == forward[::-1], path


def test_the_progress_page_does_not_trap_the_keyboard_while_a_run_goes(live_server, operator_page):
    page = operator_page
    _running()
    page.reload()
    _wait_for_users(page, 20)
    forward = _walk(page, "Tab")
    assert forward and len(set(forward)) == len(forward), forward


@pytest.mark.movielens
def test_the_genre_filter_waits_for_the_keyboard_to_choose(live_server, page, site):
    """Arrow keys on a closed <select> change its value at once (and fire "change"): a filter that applied on
    every change took a keyboard to the first genre on the first arrow (WCAG 3.2.2). The arrows browse; Enter or
    the Filter button applies; a mouse's choice still applies at once."""
    page.goto(f"{live_server.url}/users/1/")
    second = page.locator("#genre option").nth(2).get_attribute("value")
    tab_to(page, "#genre")
    loads: list[str] = []
    page.on("request", lambda request: request.is_navigation_request() and loads.append(request.url))
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert [url.split("?")[-1] for url in loads] == [f"genre={second}"]
    assert page.locator("form.filters button[type=submit]").is_visible()
    with page.expect_navigation():
        page.select_option("#genre", "")
    assert "genre=" in page.url and not page.url.endswith(f"genre={second}")
