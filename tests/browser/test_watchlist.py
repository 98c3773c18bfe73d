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
