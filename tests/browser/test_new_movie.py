"""A movie added to the catalogue with no ratings reaches, in real headless Chromium, the list of a member whose ratings
fit its genres and tags, labelled with its reason (issue #18)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import expect

from tests.browser.site import MEMBER_PASSWORD, screenshot, sign_in
from tests.helpers import run
from web.recommender.models import Movie, Profile, Rating, Tag
from web.recommender.presenters import METADATA_WORDS
from web.recommender.reasons import new_to_try

pytestmark = [pytest.mark.browser, pytest.mark.movielens, pytest.mark.django_db(transaction=True)]

NEW_MOVIE = 300_001
"""Above every ml-latest-small movieId: a movie the catalogue did not have."""
TAGGER = 900_001
"""Whoever tagged the new movie (a catalogue editor, not a member with ratings)."""
SCIENCE_FICTION_FAN = (260, 1196, 541, 1214, 1200, 1240, 2571)
"""The issue's new user: Star Wars IV and V, Blade Runner, Alien, Aliens, The Terminator, The Matrix, all 5 stars."""


def test_a_new_movie_with_no_ratings_reaches_the_list_of_a_member_whose_taste_it_fits(live_server, page, site):
    """A science-fiction movie added with tags and no rating is on the first page of a science-fiction fan's list after
    the next hybrid run, labelled as new and like the science fiction they rate highly, and matched on its metadata
    (no match strength); a comedy fan's list lacks it."""
    fan = Profile.objects.for_account(User.objects.create_user("stargazer", password=MEMBER_PASSWORD))
    for movie_id in SCIENCE_FICTION_FAN:
        Rating.objects.create(user_id=fan.user_id, movie_id=movie_id, rating=5.0)
    other = Profile.objects.for_account(User.objects.create_user("giggler", password=MEMBER_PASSWORD))
    for movie_id in (1, 2355, 1265, 3114, 4886):  # Toy Story, A Bug's Life, Groundhog Day, Toy Story 2, Monsters, Inc.
        Rating.objects.create(user_id=other.user_id, movie_id=movie_id, rating=5.0)
    movie = Movie.objects.create(movie_id=NEW_MOVIE, title="Starfall Protocol (2024)", year=2024,
                                 genres=["Action", "Sci-Fi", "Thriller"])
    for tag in ("sci-fi", "space", "aliens", "dystopia"):
        Tag.objects.create(user_id=TAGGER, movie=movie, tag=tag)

    published = run(algorithm="hybrid")  # the next run, with the hybrid's default parameters (explore 0.1)
    assert published.algorithm == "hybrid"
    assert not Rating.objects.filter(movie_id=NEW_MOVIE).exists()

    sign_in(page, live_server.url, "stargazer")
    page.goto(f"{live_server.url}/me/")
    expect(page.locator("#recs")).to_have_attribute("data-source", "personal")
    card = page.locator(f"#recommendations li.card[data-movie='{NEW_MOVIE}']")
    expect(card).to_have_count(1)
    expect(card.locator("a.title")).to_contain_text("Starfall Protocol")
    reason = new_to_try(unrated=True, genre="Sci-Fi")
    expect(card.locator(".reason")).to_have_text(reason[0].upper() + reason[1:])
    expect(card.locator(".predicted")).to_have_text(METADATA_WORDS)  # its score is its place, not a match strength
    card.scroll_into_view_if_needed()
    screenshot(page, "new-movie-in-list")

    page.context.clear_cookies()
    sign_in(page, live_server.url, "giggler")
    page.goto(f"{live_server.url}/me/")
    expect(page.locator("#recs")).to_have_attribute("data-source", "personal")
    expect(page.locator("#recommendations li.card")).to_have_count(20)
    expect(page.locator(f"#recommendations li.card[data-movie='{NEW_MOVIE}']")).to_have_count(0)
