"""The watchlist and "not interested" in real headless Chromium: the buttons on the cards, the watchlist page, the list."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import expect

from tests.browser.site import MEMBER_PASSWORD, screenshot, sign_in
from web.recommender.models import Event, Profile, Rating
from web.recommender.tasks import refresh_user

pytestmark = [pytest.mark.browser, pytest.mark.movielens, pytest.mark.django_db(transaction=True)]

PASSWORD = MEMBER_PASSWORD



@pytest.fixture
def viewer(site):
    """A signed-up account with five ratings and its refreshed personal list."""
    account = User.objects.create_user("watcher", password=PASSWORD)
    profile = Profile.objects.for_account(account)
    for movie_id in (1, 260, 296, 318, 356):
        Rating.objects.create(user_id=profile.user_id, movie_id=movie_id, rating=4.0)
    refresh_user(profile.user_id)
    return profile


def _listed(page) -> list[int]:
    hrefs = page.locator("#recommendations li.card a.title").evaluate_all("els => els.map(e => e.getAttribute('href'))")
    return [int(re.search(r"/movies/(\d+)/", h).group(1)) for h in hrefs]




def test_add_to_the_watchlist_and_see_it_on_the_watchlist_page(live_server, page, viewer):
    """"Add to watchlist" on a recommended card puts the movie on the watchlist page (and the card offers its
    removal); removing it there empties it."""
    sign_in(page, live_server.url, "watcher")
    page.goto(f"{live_server.url}/me/")
    card = page.locator("#recommendations li.card").nth(2)
    movie_id = int(card.get_attribute("data-movie"))
    title = card.locator("a.title").inner_text()
    card.locator("button:has-text('Add to watchlist')").click()
    expect(page.locator("body")).to_contain_text(f"Added {title} to your watchlist.")
    # Back on the list, the card says so: it offers the removal, as the watchlist page and the movie page do.
    expect(page.locator(f"#recommendations li.card[data-movie='{movie_id}'] button:has-text('Remove from watchlist')")
           ).to_have_count(1)
    page.click("nav.account >> text=Watchlist")
    page.wait_for_url(f"{live_server.url}/me/watchlist/")
    listed = page.locator(f"#watchlist li.card[data-movie='{movie_id}']")
    expect(listed).to_have_count(1)
    expect(listed.locator("a.title")).to_have_text(title)
    screenshot(page, "watchlist")
    listed.locator("button:has-text('Remove from watchlist')").click()
    expect(page.locator("#watchlist li.card")).to_have_count(0)
    assert Event.objects.watchlist(viewer.user_id) == []


def test_not_interested_takes_the_movie_off_the_list(live_server, page, viewer):
    """"Not interested" on a card: back on the page, the movie has left the list, and stays out after a reload."""
    sign_in(page, live_server.url, "watcher")
    page.goto(f"{live_server.url}/me/")
    before = _listed(page)
    first = page.locator("#recommendations li.card").first
    movie_id = int(first.get_attribute("data-movie"))
    first.locator("button:has-text('Not interested')").click()
    expect(page.locator("body")).to_contain_text("won't be recommended to you again")
    expect(page.locator(f"#recommendations li.card[data-movie='{movie_id}']")).to_have_count(0)
    after = _listed(page)
    assert movie_id in before and movie_id not in after and after[0] == before[1]
    page.reload()
    assert movie_id not in _listed(page)


def test_a_dismissed_movie_can_be_shown_again_from_its_page(live_server, page, viewer):
    """"Not interested" on a card takes the movie off the list; its page then says so and offers "Show it again"
    instead; pressed, the flash says so, the buttons change back, and the movie is on the list again."""
    sign_in(page, live_server.url, "watcher")
    page.goto(f"{live_server.url}/me/")
    first = page.locator("#recommendations li.card").first
    movie_id = int(first.get_attribute("data-movie"))
    title = first.locator("a.title").inner_text()
    first.locator("button:has-text('Not interested')").click()
    expect(page.locator("body")).to_contain_text(f"{title} won't be recommended to you again.")
    expect(page.locator(f"#recommendations li.card[data-movie='{movie_id}']")).to_have_count(0)
    page.goto(f"{live_server.url}/movies/{movie_id}/")
    actions = page.locator(".my-rating form.movie-actions")
    expect(actions.locator("button:has-text('Not interested')")).to_have_count(0)
    expect(page.locator("#not-interested")).to_be_visible()
    screenshot(page, "movie-not-interested")
    actions.locator("button:has-text('Show it again')").click()
    expect(page.locator("body")).to_contain_text(f"{title} can be recommended to you again.")
    expect(page).to_have_url(f"{live_server.url}/movies/{movie_id}/")
    expect(actions.locator("button:has-text('Not interested')")).to_have_count(1)
    expect(actions.locator("button:has-text('Show it again')")).to_have_count(0)
    expect(page.locator("#not-interested")).to_have_count(0)
    # The worker's refresh after the dismissal may have dropped the movie's stored row: the one after the undo puts it
    # back, and the page's poller swaps the new list in.
    page.goto(f"{live_server.url}/me/")
    expect(page.locator(f"#recommendations li.card[data-movie='{movie_id}']")).to_have_count(1, timeout=30_000)


# -- The reader keeps their place (a long list: the buttons used to bring them back to its top) -------------------
FAR = 12
"""A card far enough down the list that the page must scroll to show it."""


def _far_card(page, list_id: str):
    card = page.locator(f"#{list_id} li.card").nth(FAR)
    card.scroll_into_view_if_needed()
    assert page.evaluate("window.scrollY") > 0
    return card


@pytest.fixture
def no_script_page(browser):
    """A browser with JavaScript off: the plain forms' path, which every button must keep working on."""
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1000, "height": 700})
    page = context.new_page()
    yield page
    context.close()


def test_without_javascript_the_buttons_bring_the_reader_back_to_the_card(live_server, no_script_page, viewer):
    """The plain forms reload the page: it opens at the card whose button was pressed (or, when that card left the
    list, at the one that took its place), not at the top of a long list."""
    page = no_script_page
    sign_in(page, live_server.url, "watcher")
    card = _far_card(page, "recommendations")
    movie_id = int(card.get_attribute("data-movie"))
    card.locator("button:has-text('Add to watchlist')").click()
    page.wait_for_load_state()
    again = page.locator(f"#recommendations li.card[data-movie='{movie_id}']")
    expect(again.locator("button:has-text('Remove from watchlist')")).to_have_count(1)
    expect(again).to_be_in_viewport()

    card = _far_card(page, "recommendations")
    following = int(page.locator("#recommendations li.card").nth(FAR + 1).get_attribute("data-movie"))
    card.locator("button:has-text('Not interested')").click()
    page.wait_for_load_state()
    expect(page.locator(f"#recommendations li.card[data-movie='{following}']")).to_be_in_viewport()

    page.goto(f"{live_server.url}/movies/")
    card = _far_card(page, "results")
    movie_id = int(card.get_attribute("data-movie"))
    card.locator("button[value='4.0']").click()
    page.wait_for_load_state()
    expect(page.locator(f"#results li.card[data-movie='{movie_id}']")).to_be_in_viewport()
    assert Rating.objects.get(user_id=viewer.user_id, movie_id=movie_id).rating == 4.0


def test_with_javascript_the_buttons_act_in_place_without_a_reload(live_server, page, viewer):
    """With the script, "Add to watchlist" and "Not interested" are sent in the background, as the stars are: the page
    stays (same document, same scroll), the button turns into its undo, and a dismissed recommendation leaves the list."""
    page.set_viewport_size({"width": 1000, "height": 700})
    sign_in(page, live_server.url, "watcher")
    page.evaluate("window.__sameDocument = true")
    card = _far_card(page, "recommendations")
    movie_id = int(card.get_attribute("data-movie"))
    title = card.locator("a.title").inner_text()
    card.locator("button:has-text('Add to watchlist')").click()
    expect(card.locator("button:has-text('Remove from watchlist')")).to_have_count(1)
    expect(card).to_contain_text(f"Added {title} to your watchlist.")
    expect(card).to_be_in_viewport()
    assert Event.objects.watchlist(viewer.user_id)[0][0] == movie_id
    card.locator("button:has-text('Remove from watchlist')").click()
    expect(card.locator("button:has-text('Add to watchlist')")).to_have_count(1)
    assert Event.objects.watchlist(viewer.user_id) == []

    following = page.locator("#recommendations li.card").nth(FAR + 1)
    card.locator("button:has-text('Not interested')").click()
    expect(page.locator(f"#recommendations li.card[data-movie='{movie_id}']")).to_have_count(0)
    expect(page.locator("body")).to_contain_text(f"{title} won't be recommended to you again.")
    expect(following).to_be_in_viewport()
    assert page.evaluate("window.__sameDocument") is True


def test_removing_from_the_watchlist_page_updates_its_count(live_server, page, viewer):
    """Removed in place (no reload), the card leaves the watchlist page and the page's "2 movies" says 1: it went on
    saying 2. The last one out leaves the page's own words for an empty list."""
    for movie_id in (1, 2):
        Event.objects.record_own(viewer.user_id, movie_id, "watchlist_add")
    sign_in(page, live_server.url, "watcher")
    page.goto(f"{live_server.url}/me/watchlist/")
    page.evaluate("window.__sameDocument = true")
    count = page.locator("main p.muted").first
    expect(count).to_have_text("2 movies you want to watch, last added first.")
    page.locator("#watchlist li.card").first.locator("button:has-text('Remove from watchlist')").click()
    expect(page.locator("#watchlist li.card")).to_have_count(1)
    expect(count).to_have_text("1 movie you want to watch, last added first.")
    page.locator("#watchlist li.card").first.locator("button:has-text('Remove from watchlist')").click()
    expect(count).to_have_text("0 movies you want to watch, last added first.")
    expect(page.locator("#watchlist")).to_contain_text('Nothing yet: add movies with "Add to watchlist" on any movie.')
    assert page.evaluate("window.__sameDocument") is True


def test_the_movie_page_stops_claiming_a_match_once_rated_or_dismissed_in_place(live_server, page, viewer):
    """"Your match" is for a movie one may be recommended (the page leaves it out once the movie is rated or marked
    not interested): done in place, the line went on saying "Your match: Strong match" until a reload."""
    sign_in(page, live_server.url, "watcher")
    first, second = _listed(page)[:2]
    page.goto(f"{live_server.url}/movies/{first}/")
    expect(page.locator("#match")).to_be_visible()
    page.locator(".my-rating form.movie-actions button:has-text('Not interested')").click()
    expect(page.locator(".my-rating .actions-status")).to_contain_text("won't be recommended to you again")
    expect(page.locator("#match")).to_be_hidden()
    page.goto(f"{live_server.url}/movies/{second}/")
    expect(page.locator("#match")).to_be_visible()
    page.locator(".my-rating form.stars button[value='4.0']").click()
    expect(page.locator(".my-rating .stars-status")).to_contain_text("Saved 4")
    expect(page.locator("#match")).to_be_hidden()


def test_without_javascript_removing_a_rating_keeps_the_place_in_the_history(live_server, no_script_page, viewer):
    """The rating history is a long list too: a rating removed with the plain form leaves it, and the page opens at
    the card that took its place, not at the top."""
    from web.recommender.models import Movie

    for movie_id in Movie.objects.exclude(ratings__user_id=viewer.user_id).order_by("movie_id").values_list("movie_id", flat=True)[:30]:
        Rating.objects.create(user_id=viewer.user_id, movie_id=movie_id, rating=3.0)
    page = no_script_page
    sign_in(page, live_server.url, "watcher")
    page.goto(f"{live_server.url}/me/ratings/?sort=title")
    card = _far_card(page, "ratings")
    gone = int(card.get_attribute("data-movie"))
    following = int(page.locator("#ratings li.card").nth(FAR + 1).get_attribute("data-movie"))
    card.locator("button.remove").click()
    page.wait_for_load_state()
    assert not Rating.objects.filter(user_id=viewer.user_id, movie_id=gone).exists()
    expect(page.locator(f"#ratings li.card[data-movie='{following}']")).to_be_in_viewport()
