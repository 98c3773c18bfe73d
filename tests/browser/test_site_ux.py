"""What a person meets on the site (issue #19): controls that stay put, words that say what a number means,
error pages, the menu a member sees, the redirects and the favicon."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import expect

from tests.account_helpers import grant, make_operator
from tests.browser.site import MEMBER_PASSWORD, screenshot, sign_in
from web.recommender.models import Event, Profile, Rating, UserScore
from web.recommender.tasks import refresh_user

pytestmark = [pytest.mark.browser, pytest.mark.movielens, pytest.mark.django_db(transaction=True)]

PASSWORD = MEMBER_PASSWORD



def _member(username: str, ratings: dict[int, float] | None = None) -> Profile:
    account = User.objects.create_user(username, password=PASSWORD)
    profile = Profile.objects.for_account(account)
    for movie_id, value in (ratings or {}).items():
        Rating.objects.create(user_id=profile.user_id, movie_id=movie_id, rating=value)
    return profile




def _centre(locator) -> tuple[float, float]:
    box = locator.bounding_box()
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def test_a_double_click_on_remove_leaves_no_rating_behind(live_server, page, site):
    """Item 1: the × keeps its place when it goes, so a second click where it was lands on no star."""
    profile = _member("remover", {1: 3.0, 260: 4.0, 296: 2.5})
    sign_in(page, live_server.url, "remover")
    page.goto(f"{live_server.url}/me/ratings/")
    expect(page.locator("[data-rated-count]")).to_have_text("3 ratings")
    card = page.locator("#ratings li.card").first
    movie_id = int(card.get_attribute("data-movie"))
    remove = card.locator("button.remove")
    five = card.locator("button.half[value='5.0']")
    five_before = five.bounding_box()
    x, y = _centre(remove)
    screenshot(page, "my-ratings")

    page.mouse.dblclick(x, y)
    expect(card.locator(".stars-status")).to_have_text("Removed")
    # A slower double-click: the second click comes after the × has gone.
    page.mouse.click(x, y)
    page.wait_for_timeout(500)
    expect(card.locator(".stars-status")).to_have_text("Removed")
    assert five.bounding_box() == five_before, "the stars moved when the × went"
    expect(page.locator("[data-rated-count]")).to_have_text("2 ratings")  # item 11: the header follows, no reload
    assert not Rating.objects.filter(user_id=profile.user_id, movie_id=movie_id).exists()
    # The other ratings are untouched.
    assert Rating.objects.filter(user_id=profile.user_id).count() == 2


FOCUSED = """() => { const e = document.activeElement;
  return e === document.body ? null : [e.closest("li.card") && e.closest("li.card").dataset.movie, e.className, e.value || ""]; }"""


def test_the_keyboard_keeps_its_place_when_the_control_it_pressed_goes(live_server, page, site):
    """Enter on the × hides it, Enter on a star of a recommendation removes the card: focus went to the page's body
    (a screen reader starts again at the top); it now stays on the card's stars, or moves to the next card's title."""
    profile = _member("keyboard", {1: 4.5, 260: 4.5, 296: 4.0, 318: 5.0, 356: 4.0})
    refresh_user(profile.user_id)
    sign_in(page, live_server.url, "keyboard")
    page.goto(f"{live_server.url}/me/ratings/")
    card = page.locator("#ratings li.card").first
    card.locator("button.remove").focus()
    page.keyboard.press("Enter")
    expect(card.locator(".stars-status")).to_have_text("Removed")
    assert page.evaluate(FOCUSED) == [card.get_attribute("data-movie"), "half l", "0.5"]

    page.goto(f"{live_server.url}/me/")
    cards = page.locator("#recommendations li.card")
    rated, following = cards.nth(0).get_attribute("data-movie"), cards.nth(1).get_attribute("data-movie")
    cards.first.locator("button.half[value='3.0']").focus()
    page.keyboard.press("Enter")
    expect(page.locator(f"#recommendations li.card[data-movie='{rated}']")).to_have_count(0)
    assert page.evaluate(FOCUSED) == [following, "title", ""]


def test_a_recommendation_says_what_its_score_means_and_whose_the_stars_are(live_server, page, site):
    """Item 2: a match is said in words (no gold stars scaled to the top item); the stars are labelled as the member's own."""
    profile = _member("matcher", {1: 4.5, 260: 4.5, 296: 4.0, 318: 5.0, 356: 4.0})
    refresh_user(profile.user_id)
    sign_in(page, live_server.url, "matcher")
    page.goto(f"{live_server.url}/me/")
    expect(page.locator("#recs")).to_have_attribute("data-source", "personal")
    cards = page.locator("#recommendations li.card")
    assert cards.count() == 20
    said = cards.locator(".predicted").all_inner_texts()
    assert len(said) == 20 and said[0] == "Strong match"
    assert set(said) <= {"Strong match", "Good match", "Fair match"}
    assert cards.first.locator(".predicted").get_attribute("title") == "your strongest match"
    for i in range(cards.count()):
        expect(cards.nth(i).locator("form.stars .stars-label")).to_have_text("Your rating")
    assert page.locator("#recommendations .stars-fill").count() == 0
    screenshot(page, "recommendations-words")


@pytest.mark.parametrize("debug", [True, False], ids=["debug-on", "debug-off"])
def test_a_missing_page_is_styled_and_the_api_answers_json(live_server, page, site, settings, debug):
    """Item 4: the site's own 404 under the strict CSP (DEBUG on too); under /api/ JSON for any path."""
    settings.DEBUG = debug
    for path in ("/movies/99999999/", "/users/999999999/", "/nope/"):
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == 404
        expect(page.locator("main h1")).to_have_text("Page not found")
        assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(245, 246, 248)"  # site.css applied
        expect(page.locator("header.bar a.brand")).to_be_visible()
    screenshot(page, "not-found")
    for path in ("/api/nope", "/api/users/abc/recommendations"):
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == 404 and response.headers["content-type"] == "application/json"
        assert response.json() == {"error": f"Not found: {path}", "status": 404}


def test_a_form_from_before_signing_in_again_says_to_reload_in_the_sites_words(live_server, page, site):
    """A page left open while the member signed out and in on another tab holds a token Django no longer takes: its
    form answers the site's styled 403 saying what happened and what to do, not Django's "CSRF verification failed"."""
    profile = _member("twotabs")
    sign_in(page, live_server.url, "twotabs")
    page.goto(f"{live_server.url}/movies/260/")
    other = page.context.new_page()
    other.goto(f"{live_server.url}/me/")
    other.locator("form.logout button").click()
    sign_in(other, live_server.url, "twotabs")  # signing in gives the browser a new CSRF token
    other.close()

    # The script sends the button in the background (test_watchlist.py): the refusal is said beside it, in place.
    actions = page.locator("main form.movie-actions").first
    with page.expect_response(re.compile(r"/movies/260/event$")) as answer:
        actions.locator("button[value=watchlist_add]").click()
    assert answer.value.status == 403
    expect(actions.locator(".actions-status")).to_have_text("Not saved: this page has expired. Reload it and try again.")
    assert not Event.objects.filter(user_id=profile.user_id).exists()
    # Without the script the plain form gets the styled page that says the same.
    page.evaluate("document.querySelector('main form.movie-actions').submit()")
    expect(page.locator("main h1")).to_have_text("Not allowed")
    said = page.inner_text("main")
    assert "CSRF" not in said and "Forbidden" not in said
    assert "reload" in said.lower()
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(245, 246, 248)"  # site.css applied
    assert not Event.objects.filter(user_id=profile.user_id).exists()


def test_only_operators_see_the_operators_link(live_server, page, site):
    """Item 5: a member's menu has no "Precompute runs" (it led to a bare 403); an operator's does, and it opens."""
    _member("member")
    make_operator("operator", PASSWORD)[0]
    runs_link = page.locator("header.bar nav a", has_text="Precompute runs")
    page.goto(f"{live_server.url}/")
    expect(runs_link).to_have_count(0)
    sign_in(page, live_server.url, "member")
    page.goto(f"{live_server.url}/")
    expect(page.locator("header.bar")).to_contain_text("Sign out member")
    expect(runs_link).to_have_count(0)
    # Typed by hand, the address answers the site's own 403 page.
    response = page.goto(f"{live_server.url}/progress/")
    assert response.status == 403
    expect(page.locator("main h1")).to_have_text("Not allowed")
    page.context.clear_cookies()
    sign_in(page, live_server.url, "operator")
    page.goto(f"{live_server.url}/")
    runs_link.click()
    page.wait_for_url(f"{live_server.url}/progress/")
    expect(page.locator("main h1")).to_have_text("Precompute runs")


def test_a_member_meets_no_run_algorithm_or_profile_id(live_server, page, site):
    """Item 9: sign-up, the recommendations and the ratings say nothing of runs, algorithms or the profile's id."""
    page.goto(f"{live_server.url}/signup/")
    assert "1,000,000,000" not in page.inner_text("main") and "profile id" not in page.inner_text("main")
    profile = _member("quiet", {1: 4.5, 260: 4.5, 296: 4.0, 318: 5.0, 356: 4.0})
    refresh_user(profile.user_id)
    operator = make_operator("operator", PASSWORD)[0]
    grant(operator, "recommender.read_private_profiles")  # operating runs alone does not open a member's list
    sign_in(page, live_server.url, "quiet")
    for path, title in [("/", None), ("/me/", "Your recommendations · MovieLens recommender"),
                        ("/me/ratings/", "Your ratings · MovieLens recommender")]:
        page.goto(f"{live_server.url}{path}")
        text = page.inner_text("body")
        assert str(profile.user_id) not in text and f"run {site.pk}" not in text.lower() and "(ease)" not in text, path
        if title:
            assert page.title() == title
    page.goto(f"{live_server.url}/me/")
    expect(page.locator("#recs .personal-label")).to_have_text("Picked for you from your ratings.")
    # An operator looking at the same list is told which run made it.
    page.context.clear_cookies()
    sign_in(page, live_server.url, "operator")
    page.goto(f"{live_server.url}/users/{profile.user_id}/")
    expect(page.locator("#recs .personal-label")).to_contain_text(f"Run {site.pk} (ease)")


def test_signing_in_lands_on_ones_recommendations_and_me_keeps_its_query(live_server, page, site):
    """Item 11: sign-in leads to the member's list; /me/?page=2&genre=Sci-Fi keeps its query; the home page offers
    a signed-in member no "Browse as MovieLens user"; every page has the site's icon and asks for nothing missing."""
    from django.core.cache import cache

    cache.clear()  # the genre list is cached for a minute, maybe from an earlier test's database
    profile = _member("returning", {1: 4.5, 260: 4.5, 296: 4.0, 318: 5.0, 356: 4.0})
    refresh_user(profile.user_id)
    missing = []
    page.on("response", lambda response: missing.append(response.url) if response.status == 404 else None)
    page.goto(f"{live_server.url}/")
    expect(page.locator("label[for=user]")).to_have_text("Browse as MovieLens user")
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "returning")
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{live_server.url}/me/")  # item 9: a member's own addresses never show their profile id
    expect(page.locator("main h1")).to_have_text("Your recommendations")

    page.goto(f"{live_server.url}/users/{profile.user_id}/?page=2&genre=Sci-Fi")  # an old link to one's own page
    assert page.url == f"{live_server.url}/me/?page=2&genre=Sci-Fi"
    expect(page.locator("#genre")).to_have_value("Sci-Fi")
    expect(page.locator("nav.pager .muted")).to_have_text("Page 2")
    page.click("main a:text-is('rating history')")
    assert page.url == f"{live_server.url}/me/ratings/"
    page.click("nav.sorts a:text-is('by title')")
    assert page.url == f"{live_server.url}/me/ratings/?sort=title"
    page.click("main p.muted a:text-is('recommendations')")
    assert page.url == f"{live_server.url}/me/"

    page.goto(f"{live_server.url}/")
    expect(page.locator("main")).not_to_contain_text("Browse as MovieLens user")
    icon = page.locator("link[rel=icon]").get_attribute("href")
    response = page.request.get(f"{live_server.url}{icon}")
    assert response.status == 200 and response.headers["content-type"].startswith("image/svg+xml")
    fallback = page.request.get(f"{live_server.url}/favicon.ico")
    assert fallback.status == 200 and fallback.body() == response.body()
    assert not missing, missing


def test_the_catalogue_sorts_and_shows_each_movies_average_rating(live_server, page, site):
    """Item 10: the catalogue opens with the most rated, sorts by average, title or year, and each card says its average."""
    from django.db.models import Avg, Count

    def shown() -> list[int]:
        return [int(i) for i in page.locator("#results li.card").evaluate_all("els => els.map(e => e.dataset.movie)")]

    counted = Rating.objects.values("movie_id").annotate(average=Avg("rating"), n=Count("*"))
    page.goto(f"{live_server.url}/movies/")
    ids = shown()
    counts = [row["n"] for row in counted.filter(movie_id__in=ids).order_by("-n")]
    assert len(ids) == 20 and counts[0] == counted.order_by("-n")[0]["n"]
    stats = {row["movie_id"]: row for row in counted.filter(movie_id__in=ids)}
    assert [stats[i]["n"] for i in ids] == counts  # most rated first
    said = page.locator("#results li.card .predicted").all_inner_texts()
    assert said == [f"Rated {stats[i]['average']:.1f} by {stats[i]['n']:,} people" for i in ids]

    page.click("nav.sorts a:has-text('highest rated first')")
    expect(page.locator("nav.sorts strong")).to_have_text("highest rated first")
    ids = shown()
    best = {row["movie_id"]: row for row in counted.filter(movie_id__in=ids)}
    averages = [best[i]["average"] for i in ids]
    assert averages == sorted(averages, reverse=True) and all(best[i]["n"] >= 10 for i in ids)

    page.click("nav.sorts a:has-text('by title')")
    titles = page.locator("#results a.title").all_inner_texts()
    assert titles == sorted(titles) and len(titles) == 20
    page.click("nav.sorts a:has-text('newest first')")
    years = [int(y) for y in page.locator("#results li.card").evaluate_all(
        "els => els.map(e => e.querySelector('.meta').textContent.slice(0, 4))")]
    assert years == sorted(years, reverse=True)
    page.click("nav.pager a[rel=next]")
    expect(page.locator("nav.sorts strong")).to_have_text("newest first")


def test_a_movie_page_says_the_match_and_onboarding_offers_search_and_other_movies(live_server, page, site):
    """Item 10: "Your match" on a movie page (and a MovieLens user's, from their list) in the cards' words;
    onboarding's "Show me other movies" offers new ones and its search finds a film to rate."""
    profile = _member("matcher", {1: 4.5, 260: 4.5, 296: 4.0, 318: 5.0, 356: 4.0})
    refresh_user(profile.user_id)
    best = UserScore.objects.recommend(profile.user_id, 1).items[0].movie
    sign_in(page, live_server.url, "matcher")
    page.goto(f"{live_server.url}/movies/{best.movie_id}/")
    expect(page.locator("#match")).to_have_text("Your match: Strong match")
    page.goto(f"{live_server.url}/users/1/")
    page.locator("#recommendations a.title").first.click()
    page.wait_for_url(re.compile(r"/movies/\d+/\?user=1$"))
    expect(page.locator("#match")).to_have_text("For MovieLens user 1: Strong match")

    page.goto(f"{live_server.url}/welcome/")
    first = page.locator("#onboarding li.card").evaluate_all("els => els.map(e => e.dataset.movie)")
    page.click("#others")
    others = page.locator("#onboarding li.card").evaluate_all("els => els.map(e => e.dataset.movie)")
    assert len(others) >= 8 and not set(first) & set(others)
    page.fill("#onboarding-q", "matrix")
    page.press("#onboarding-q", "Enter")
    found = page.locator("#onboarding li.card").first
    expect(found.locator("a.title")).to_contain_text("Matrix")
    found.locator("button.half[value='4.0']").click()
    expect(page.locator("#rated-count")).to_have_text("6")
