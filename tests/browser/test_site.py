"""The recommendation site in real headless Chromium: sign-up, onboarding, live updates, search, movie pages, phone width."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import expect

from tests.browser.site import MEMBER_PASSWORD, screenshot, sign_in, start_worker, stop_worker
from web.recommender.models import Movie, Profile, Rating, SimilarMovie
from web.recommender.tasks import refresh_user

pytestmark = [pytest.mark.browser, pytest.mark.movielens, pytest.mark.django_db(transaction=True)]

PASSWORD = MEMBER_PASSWORD



@pytest.fixture
def worker():
    """Start the RQ worker process when the test says so; it is stopped after the test."""
    started = []

    def start():
        started.append(start_worker())

    yield start
    for process in started:
        stop_worker(process)


def _listed(page) -> list[int]:
    hrefs = page.locator("#recommendations li.card a.title").evaluate_all("els => els.map(e => e.getAttribute('href'))")
    return [int(re.search(r"/movies/(\d+)/", h).group(1)) for h in hrefs]




def test_sign_up_onboarding_and_the_personal_list_appears_without_reload(live_server, page, site, worker):
    """A new visitor signs up, rates onboarding movies, and their personal list replaces the popular one in place."""
    page.goto(f"{live_server.url}/")
    screenshot(page, "home")
    page.click("text=Create your profile")
    page.fill("#id_username", "newcomer")
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    page.click("button:has-text('Sign up')")
    page.wait_for_url(f"{live_server.url}/welcome/")
    profile = Profile.objects.get(account__username="newcomer")

    cards = page.locator("#onboarding li.card")
    assert cards.count() >= 8
    rated = []
    for i in range(5):
        card = cards.nth(i)
        card.locator("button.half[value='4.5']").click()
        expect(card.locator(".stars-status")).to_have_text("Saved 4.5★")
        rated.append(int(card.get_attribute("data-movie")))
    expect(page.locator("#rated-count")).to_have_text("5")
    screenshot(page, "onboarding")
    assert sorted(Rating.objects.filter(user_id=profile.user_id).values_list("movie_id", flat=True)) == sorted(rated)

    page.click("#done")
    page.wait_for_url(f"{live_server.url}/me/")
    expect(page.locator("#recs")).to_have_attribute("data-source", "popular")
    expect(page.locator("#updating")).to_be_visible()
    assert "Popular picks" in page.locator("#recs .label").inner_text()
    page.evaluate("window.__sameDocument = true")

    worker()  # the refresh was queued by the ratings; now a worker takes it
    expect(page.locator("#recs")).to_have_attribute("data-source", "personal", timeout=30_000)
    expect(page.locator("#updating")).to_be_hidden()
    assert page.evaluate("window.__sameDocument") is True
    listed = _listed(page)
    assert len(listed) == 20 and not set(listed) & set(rated)
    # The default model's own list: each card explained by one of the five 4.5-star ratings, as a match.
    titles = set(Movie.objects.filter(movie_id__in=rated).values_list("title", flat=True))
    reasons = page.locator("#recommendations .reason").all_inner_texts()
    explained = [r for r in reasons if r.startswith("Because you rated ") and r.endswith(" 4.5 stars")]
    assert explained and all(r.removeprefix("Because you rated ").removesuffix(" 4.5 stars") in titles for r in explained)
    assert page.locator("#recommendations .predicted").first.get_attribute("title") == "your strongest match"
    screenshot(page, "recommendations")


def _on_own_list(page, base_url: str, worker, username: str) -> Profile:
    """A member with five ratings and a refreshed list, signed in on /me/ with the worker running."""
    profile = Profile.objects.for_account(User.objects.create_user(username, password=PASSWORD))
    for movie_id in (1, 260, 296, 318, 356):
        Rating.objects.create(user_id=profile.user_id, movie_id=movie_id, rating=4.0)
    refresh_user(profile.user_id)
    worker()
    sign_in(page, base_url, username)
    page.goto(f"{base_url}/me/")
    return profile


def test_rating_a_recommended_movie_removes_it_from_the_list(live_server, page, site, worker):
    """Rating a card on the recommendations page removes it at once, and the refreshed list leaves it out."""
    profile = _on_own_list(page, live_server.url, worker, "rater")
    expect(page.locator("#recs")).to_have_attribute("data-source", "personal")
    first = page.locator("#recommendations li.card").first
    movie_id = int(first.get_attribute("data-movie"))
    first.locator("button.half[value='2.0']").click()
    expect(page.locator(f"#recommendations li.card[data-movie='{movie_id}']")).to_have_count(0)
    expect(page.locator("#updating")).to_be_hidden(timeout=30_000)
    assert movie_id not in _listed(page)
    assert Rating.objects.get(user_id=profile.user_id, movie_id=movie_id).rating == 2.0
    page.reload()
    assert movie_id not in _listed(page) and len(_listed(page)) == 20


def test_the_keyboard_keeps_its_place_when_the_refreshed_list_replaces_the_old(live_server, page, site, worker):
    """Enter on a star of a recommendation: focus goes to the next card's title and, once the refreshed list is
    swapped in, stays on that movie's title (or the list's first), not on the page's body."""
    _on_own_list(page, live_server.url, worker, "typist")
    cards = page.locator("#recommendations li.card")
    following = cards.nth(1).get_attribute("data-movie")
    cards.first.locator("button.half[value='2.0']").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#updating")).to_be_visible()
    expect(page.locator("#updating")).to_be_hidden(timeout=30_000)
    focused = page.evaluate('() => [document.activeElement.className, document.activeElement.closest("#recs li.card") '
                            '&& document.activeElement.closest("li.card").dataset.movie]')
    expected = following if following in [str(m) for m in _listed(page)] else cards.first.get_attribute("data-movie")
    assert focused == ["title", expected]


def test_a_screen_reader_hears_the_list_start_and_finish_updating(live_server, page, site, worker):
    """The banner (role=status) says "Updating…"; once the refreshed list is in, a polite status says so (the
    banner only hides, which a screen reader does not hear), and the keyboard stays on the list."""
    _on_own_list(page, live_server.url, worker, "listener")
    page.locator("#recommendations li.card").first.locator("button.half[value='2.0']").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#updating")).to_have_attribute("role", "status")
    expect(page.locator("#updating")).to_be_visible()
    expect(page.locator("#updating")).to_be_hidden(timeout=30_000)
    said = page.locator("#live-said")
    assert said.get_attribute("role") == "status"
    expect(said).to_have_text("Recommendations updated.")
    assert page.evaluate("() => document.activeElement.matches('#recs a.title')")


def test_rating_on_a_movie_page_says_when_recommendations_will_update_later(live_server, page, site, settings):
    """With the queue down, the star widget itself says so (there is no banner off the recommendations page)."""
    import socket

    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        settings.REDIS_URL = f"redis://127.0.0.1:{closed.getsockname()[1]}/0"  # nothing listens there
    account = User.objects.create_user("offline", password=PASSWORD)
    profile = Profile.objects.for_account(account)
    sign_in(page, live_server.url, "offline")
    page.goto(f"{live_server.url}/movies/260/")
    page.locator("main form.stars").first.locator("button.half[value='4.0']").click()
    expect(page.locator("main form.stars .stars-status").first).to_contain_text("Saved 4★: recommendations will update later")
    assert Rating.objects.get(user_id=profile.user_id, movie_id=260).rating == 4.0


def test_rating_from_a_page_whose_csrf_cookie_is_gone_says_to_reload(live_server, page, site):
    """Django answers an HTML 403: the widget says the page has expired, not "network error", and nothing is stored."""
    account = User.objects.create_user("stale", password=PASSWORD)
    profile = Profile.objects.for_account(account)
    sign_in(page, live_server.url, "stale")
    page.goto(f"{live_server.url}/movies/260/")
    page.context.clear_cookies(name="csrftoken")
    page.locator("main form.stars").first.locator("button.half[value='3.0']").click()
    expect(page.locator("main form.stars .stars-status").first).to_contain_text("this page has expired. Reload it")
    assert not Rating.objects.filter(user_id=profile.user_id).exists()


def test_search_finds_titles_from_the_home_page(live_server, page, site):
    """Typing words of a title on the home page lists the best-known match first."""
    page.goto(f"{live_server.url}/")
    page.fill("#q", "star wars")
    page.press("#q", "Enter")
    page.wait_for_url(re.compile(r".*/movies/\?q=star\+wars.*"))
    titles = page.locator("#results li.card a.title").all_inner_texts()
    assert titles and titles[0] == "Star Wars: Episode IV - A New Hope (1977)"
    assert all("star" in t.lower() and "wars" in t.lower() for t in titles)
    screenshot(page, "search")


def test_movie_page_shows_chart_tags_and_similar_movies(live_server, page, site):
    """The movie page draws the rating distribution, lists tags and links to the run's similar movies, most similar first."""
    from web.recommender.views.catalogue import SIMILAR_SHOWN

    similar = list(SimilarMovie.objects.filter(run=site, movie_id=260).order_by("rank")
                   .values_list("neighbour_id", flat=True)[:SIMILAR_SHOWN])
    assert similar, "the EASE run found no similar movies for Star Wars"
    page.goto(f"{live_server.url}/movies/260/")
    expect(page.locator("svg.chart rect")).to_have_count(10)
    expect(page.locator("#similar li.card")).to_have_count(len(similar))
    hrefs = page.locator("#similar a.title").evaluate_all("els => els.map(e => e.getAttribute('href'))")
    assert [int(re.search(r"/movies/(\d+)/", h).group(1)) for h in hrefs] == similar
    screenshot(page, "movie", full_page=True)
    page.locator("#similar a.title").first.click()
    page.wait_for_url(f"{live_server.url}/movies/{similar[0]}/")


def test_pages_fit_a_phone_screen(live_server, browser, site):
    """At phone width the main pages have no horizontal scrolling and the stars stay usable."""
    User.objects.create_user("phone", password=PASSWORD)
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        sign_in(page, live_server.url, "phone")
        for path, name in [("/", None), ("/users/1/", "phone-recommendations"), ("/movies/1/", "phone-movie"), ("/movies/?q=toy", None)]:
            page.goto(f"{live_server.url}{path}")
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{path} scrolls sideways by {overflow}px"
            if name:
                screenshot(page, name)
        # Item 11: half stars 44 px tall and side by side (as wide as ten and the × fit: 29.6 px here), never overlapping.
        boxes = [page.locator("form.stars").first.locator("button.half").nth(i).bounding_box() for i in range(10)]
        assert all(b["height"] >= 44 and b["width"] >= 29 for b in boxes), boxes
        assert all(a["x"] + a["width"] <= b["x"] + 0.5 for a, b in zip(boxes, boxes[1:])), boxes
        # The menus fold behind one named button: the bar is one row until it is opened.
        bar = page.locator("header.bar")
        assert bar.bounding_box()["height"] <= 64
        expect(page.locator("nav[aria-label=Site]")).to_be_hidden()
        expect(page.get_by_role("checkbox", name="Menu")).to_have_count(1)  # what a screen reader announces
        page.locator("label.menu-button").click()  # a tap
        expect(page.locator("nav[aria-label=Site] a", has_text="Movies")).to_be_visible()
        assert page.locator("nav[aria-label=Site] a", has_text="Movies").bounding_box()["height"] >= 44
    finally:
        context.close()
