"""The site's watchlist and "not interested" buttons: what they store, who may press them, the watchlist page."""

from __future__ import annotations

import re

from tests.helpers import run
from web.recommender.models import Event, Movie, Rating


def test_the_buttons_record_events_for_the_signed_in_profile(client, member, published):
    account, profile, _ = member
    client.force_login(account)
    for action in ("watchlist_add", "not_interested"):
        response = client.post("/movies/20/event", {"action": action, "next": "/me/"})
        assert response.status_code == 302 and response["Location"] == "/me/"
    stored = list(Event.objects.filter(user_id=profile.user_id).values_list("movie_id", "type"))
    assert sorted(stored) == [(20, "not_interested"), (20, "watchlist_add")]
    assert all(e.startswith("site-") for e in Event.objects.values_list("event_id", flat=True))


def test_the_watchlist_page_and_the_movie_page_show_the_state(client, member, published):
    account, profile, _ = member
    client.force_login(account)
    client.post("/movies/30/event", {"action": "watchlist_add"})
    watchlist = client.get("/me/watchlist/").content.decode()
    assert 'data-movie="30"' in watchlist and "Remove from watchlist" in watchlist
    movie_page = client.get("/movies/30/").content.decode()
    assert "Remove from watchlist" in movie_page
    client.post("/movies/30/event", {"action": "watchlist_remove"})
    assert 'data-movie="30"' not in client.get("/me/watchlist/").content.decode()
    assert "Add to watchlist" in client.get("/movies/30/").content.decode()


def test_anonymous_and_bad_actions_store_nothing(client, member, published):
    anonymous = client.post("/movies/20/event", {"action": "watchlist_add"})
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]
    account, _, _ = member
    client.force_login(account)
    for action in ("watched", "", "drop table"):
        assert client.post("/movies/20/event", {"action": action}).status_code == 302
    assert client.post("/movies/99999/event", {"action": "watchlist_add"}).status_code == 404
    assert client.get("/movies/20/event").status_code == 405
    assert not Event.objects.exists()


def test_the_watchlist_page_needs_a_sign_in(client, published):
    response = client.get("/me/watchlist/")
    assert response.status_code == 302 and "/login/" in response["Location"]


def _card(page: str, movie_id: int) -> str:
    """The HTML of the movie card of ``movie_id`` on a page."""
    start = re.search(rf'<li class="card" id="[^"]*" data-movie="{movie_id}"', page).start()
    return page[start:page.index("</li>", start)]


def test_every_card_of_a_movie_on_the_watchlist_offers_its_removal(client, member, published):
    """Added from a card of the list, the movie's cards (the list, the catalogue, the home page's popular movies)
    say so and offer "Remove from watchlist", as the movie page and the watchlist page do; the others still "Add"."""
    account, _, _ = member
    client.force_login(account)
    listed = [int(m) for m in re.findall(r'<li class="card" id="[^"]*" data-movie="(\d+)"', client.get("/me/").content.decode())]
    added, other = listed[:2]
    client.post(f"/movies/{added}/event", {"action": "watchlist_add", "next": "/me/"})
    for url in ("/me/", "/movies/", "/"):
        page = client.get(url).content.decode()
        assert 'name="action" value="watchlist_remove"' in _card(page, added), url
        assert 'name="action" value="watchlist_add"' in _card(page, other), url


def test_the_cards_of_the_polled_list_lead_back_to_the_whole_page(client, member, published):
    """The page's poller swaps in the list fetched alone (``?fragment=1``): its cards' buttons must come back to the
    page, not to that bare list, which a click on "Add to watchlist" after a refresh showed without the site around it."""
    account, _, _ = member
    client.force_login(account)
    fragment = client.get("/me/?genre=Comedy&fragment=1").content.decode()
    targets = set(re.findall(r'name="next" value="([^"]*)"', fragment))
    # Each at its own card (test_watchlist.py: the plain form's reload keeps the reader's place).
    assert {target.split("#")[0] for target in targets} == {"/me/?genre=Comedy"}
    assert len(targets) > 1 and all(re.fullmatch(r"/me/\?genre=Comedy#pick-\d+", target) for target in targets)


def test_a_dismissed_movie_offers_to_show_it_again_and_the_undo_brings_it_back(client, member, published):
    """Dismissed from the list: its movie page and its catalogue card offer "Show it again" instead of "Not
    interested" (the page says why); pressed, the flash says so, the buttons turn back and the list has it again."""
    account, profile, _ = member
    client.force_login(account)
    listed = [int(m) for m in re.findall(r'<li class="card" id="[^"]*" data-movie="(\d+)"', client.get("/me/").content.decode())]
    movie, other = listed[:2]
    title = Movie.objects.get(movie_id=movie).title
    client.post(f"/movies/{movie}/event", {"action": "not_interested", "next": "/me/"})
    assert movie not in [int(m) for m in re.findall(r'data-movie="(\d+)"', client.get("/me/").content.decode())]
    page = client.get(f"/movies/{movie}/").content.decode()
    assert 'name="action" value="not_interested_remove"' in page and "Show it again" in page and 'id="not-interested"' in page
    assert 'name="action" value="not_interested"' not in page
    found = client.get("/movies/", {"q": title}).content.decode()
    assert 'name="action" value="not_interested_remove"' in _card(found, movie)
    response = client.post(f"/movies/{movie}/event", {"action": "not_interested_remove", "next": f"/movies/{movie}/"},
                           follow=True)
    shown = response.content.decode()
    assert f"{title} can be recommended to you again." in shown.replace("&#x27;", "'")
    assert 'name="action" value="not_interested"' in shown and 'name="action" value="not_interested_remove"' not in shown
    assert 'id="not-interested"' not in shown
    assert movie in [int(m) for m in re.findall(r'<li class="card" id="[^"]*" data-movie="(\d+)"', client.get("/me/").content.decode())]
    assert 'name="action" value="not_interested"' in _card(client.get("/me/").content.decode(), other)
    assert list(Event.objects.filter(user_id=profile.user_id).order_by("id").values_list("type", flat=True)) == [
        "not_interested", "not_interested_remove"]


def test_a_movie_on_the_watchlist_and_dismissed_says_both_on_the_watchlist_page(client, member, published):
    account, _, _ = member
    client.force_login(account)
    client.post("/movies/30/event", {"action": "watchlist_add"})
    client.post("/movies/30/event", {"action": "not_interested"})
    card = _card(client.get("/me/watchlist/").content.decode(), 30)
    assert 'name="action" value="watchlist_remove"' in card and 'name="action" value="not_interested_remove"' in card


def test_a_dismissed_movie_page_claims_no_match_while_it_says_it_is_not_recommended(client, member, catalogue):
    """"Not interested" on a recommended movie: its page said "Your match: Strong match" beside "so it isn't
    recommended to you" until the worker's refresh dropped the stored score; it now says no match at once."""
    account, profile, _ = member
    for movie_id in Movie.objects.order_by("movie_id").values_list("movie_id", flat=True)[:3]:
        Rating.objects.create(user_id=profile.user_id, movie_id=movie_id, rating=4.0)
    run(algorithm="popularity", top_n=10)
    client.force_login(account)
    movie = int(re.search(r'<li class="card" id="[^"]*" data-movie="(\d+)"', client.get("/me/").content.decode()).group(1))
    assert 'id="match"' in client.get(f"/movies/{movie}/").content.decode()
    client.post(f"/movies/{movie}/event", {"action": "not_interested"})
    page = client.get(f"/movies/{movie}/").content.decode()
    assert 'id="not-interested"' in page and 'id="match"' not in page
    client.post(f"/movies/{movie}/event", {"action": "not_interested_remove"})
    assert 'id="match"' in client.get(f"/movies/{movie}/").content.decode()
