"""The browser pages, rendered by the Django test client."""

from __future__ import annotations

import html as html_text
import re

import pytest
from django.contrib.auth.models import User
from django.test import Client

from tests.account_helpers import make_operator
from tests.helpers import run
from tests.recommender.similar import add_similar
from web.recommender.models import Movie, Rating, Tag, UserScore
from web.recommender.views import users as user_views

USER = 101


@pytest.fixture
def published(catalogue):
    return run(algorithm="popularity", top_n=20)


def _movie_links(html: str, list_id: str) -> list[int]:
    section = html.split(f'id="{list_id}"', 1)[1].split("</ol>", 1)[0]
    return [int(m) for m in re.findall(r'href="/movies/(\d+)/', section)]


def test_user_page_shows_the_same_list_as_the_api(client, published):
    """The user page lists the user's recommendations in the API's order."""
    html = client.get(f"/users/{USER}/").content.decode()
    api = client.get(f"/api/users/{USER}/recommendations?n=20").json()
    assert _movie_links(html, "recommendations") == [item["movie"]["movie_id"] for item in api["recommendations"]]


def test_each_recommendation_shows_a_reason_and_a_predicted_rating_in_words(client, published, similar_tables):
    """Every card has a reason; with similar-movie rows it names the user's liked neighbour of the same genre."""
    top = UserScore.objects.filter(run=published, user_id=USER).order_by("rank").first().movie_id
    liked = Rating.objects.filter(user_id=USER).order_by("-rating", "movie_id").first()
    Rating.objects.filter(pk=liked.pk).update(rating=5.0)
    Movie.objects.filter(pk__in=[top, liked.movie_id]).update(genres=["Drama"])  # a named movie resembles the pick
    add_similar(published.pk, [(top, liked.movie_id, 0.9)])
    html = client.get(f"/users/{USER}/").content.decode()
    section = html.split('id="recommendations"', 1)[1].split("</ol>", 1)[0]
    assert section.count('class="reason"') == section.count('class="card"') > 1
    # A visitor reads user 101's list: in the third person (the member's own list says "you", test_pages_voice.py).
    assert f"Because User {USER} rated {liked.movie.title} 5 stars" in section
    assert f"One of the best-liked movies User {USER} has not rated yet" in section  # the popularity run's general reason
    # The popularity run predicts stars: each card says so in words, with the predicted rating.
    scores = list(UserScore.objects.filter(run=published, user_id=USER).order_by("rank").values_list("score", flat=True))
    said = [html_text.unescape(words) for words in re.findall(r'class="predicted"[^>]*>([^<]*)<', section)]
    assert said == [f"We think User {USER} would rate it {score:.1f}" for score in scores[: len(said)]] and len(said) > 1


def test_genre_filter_and_paging(client, published, monkeypatch):
    """The genre filter keeps only that genre's movies; pages continue the ranking without overlap."""
    monkeypatch.setattr(user_views, "PAGE_SIZE", 3)
    ranked = list(UserScore.objects.filter(run=published, user_id=USER).order_by("rank").values_list("movie_id", flat=True))
    comedies = ranked[1::2]
    Movie.objects.filter(movie_id__in=comedies).update(genres=["Comedy"])
    first = _movie_links(client.get(f"/users/{USER}/").content.decode(), "recommendations")
    second = _movie_links(client.get(f"/users/{USER}/?page=2").content.decode(), "recommendations")
    assert first == ranked[:3] and second == ranked[3:6]
    filtered = _movie_links(client.get(f"/users/{USER}/?genre=Comedy").content.decode(), "recommendations")
    assert filtered == comedies[:3]


def test_a_genre_missing_from_the_personal_list_pages_through_popular_picks_labelled_so(client, catalogue, monkeypatch):
    """The popular list of that genre, said to be one (not "no personal list"), and its page 2 continues it."""
    short = run(algorithm="popularity", top_n=5)
    monkeypatch.setattr(user_views, "PAGE_SIZE", 1)
    personal = set(UserScore.objects.filter(run=short, user_id=USER).values_list("movie_id", flat=True))
    rated = set(Rating.objects.filter(user_id=USER).values_list("movie_id", flat=True))
    westerns = [m for m in Movie.objects.order_by("movie_id").values_list("movie_id", flat=True)
                if m not in personal | rated][:2]
    Movie.objects.filter(movie_id__in=westerns).update(genres=["Western"])
    popular_order = [m for m in short.popular_movies.order_by("rank").values_list("movie_id", flat=True) if m in westerns]

    first = client.get(f"/users/{USER}/?genre=Western").content.decode()
    second = client.get(f"/users/{USER}/?genre=Western&page=2").content.decode()

    assert 'data-source="popular"' in first
    assert "Popular picks in Western: the personal list has nothing in Western left" in first
    assert "no personal list" not in first
    assert [*_movie_links(first, "recommendations"), *_movie_links(second, "recommendations")] == popular_order


def test_popular_picks_page_on_when_the_genres_personal_rows_were_all_rated_since(client, catalogue, monkeypatch):
    """The user's only personal Western is rated after the run (no refresh yet): page 2 continues the popular Westerns."""
    short = run(algorithm="popularity", top_n=5)
    monkeypatch.setattr(user_views, "PAGE_SIZE", 1)
    personal = list(UserScore.objects.filter(run=short, user_id=USER).order_by("rank").values_list("movie_id", flat=True))
    rated = set(Rating.objects.filter(user_id=USER).values_list("movie_id", flat=True))
    others = [m for m in Movie.objects.order_by("movie_id").values_list("movie_id", flat=True) if m not in set(personal) | rated][:2]
    Movie.objects.filter(movie_id__in=[personal[0], *others]).update(genres=["Western"])
    Rating.objects.create(user_id=USER, movie_id=personal[0], rating=3.0)  # rated since the run
    popular_order = [m for m in short.popular_movies.order_by("rank").values_list("movie_id", flat=True) if m in others]

    first = client.get(f"/users/{USER}/?genre=Western").content.decode()
    second = client.get(f"/users/{USER}/?genre=Western&page=2").content.decode()

    assert 'data-source="popular"' in first and 'data-source="popular"' in second
    assert [*_movie_links(first, "recommendations"), *_movie_links(second, "recommendations")] == popular_order


def test_home_page_shows_popular_movies_and_the_catalogue_search_finds_titles(client, published):
    """The home page lists the run's popular movies; /movies/ finds titles by word prefixes."""
    html = client.get("/").content.decode()
    assert "Popular now" in html and len(_movie_links(html, "popular")) == 12
    found = client.get("/movies/?q=movie 2").content.decode()
    assert sorted(_movie_links(found, "results")) == [20, 200, 210, 220, 230, 240, 250]
    assert _movie_links(client.get("/movies/?q=zzz").content.decode(), "results") == []


def test_a_site_with_no_run_yet_tells_members_in_their_words_and_operators_what_to_run(client, catalogue):
    """Before the first run a member reads that the list is coming; only an operator is shown the command."""
    member_view = client.get("/").content.decode()
    operator = Client()
    operator.force_login(make_operator("op", password="op-test-password")[0])
    operator_view = operator.get("/").content.decode()

    assert "Popular movies appear here soon" in member_view
    assert "precompute" not in member_view.lower()
    assert "python -m jobs.precompute" in operator_view


def test_recommendations_before_the_first_run_say_so_in_a_members_words(client, member, catalogue):
    """Before the first run, one's own list said "no precompute run has been published" to a member (the home page
    already spoke plainly); now the list is said to be coming, and only an operator reads about runs."""
    client.force_login(member[0])
    member_view = client.get("/me/").content.decode()
    operator = Client()
    operator.force_login(make_operator("op", password="op-test-password")[0])
    operator_view = operator.get(f"/users/{USER}/").content.decode()

    assert "Your recommendations appear here soon" in member_view and "precompute" not in member_view.lower()
    assert "No precompute run has been published yet" in operator_view


def test_catalogue_filters_by_genre_and_year(client, published):
    """Genre and year filters narrow the catalogue; a bad year is ignored with a message."""
    Movie.objects.filter(movie_id__in=[10, 20]).update(genres=["Western"], year=1995)
    Movie.objects.filter(movie_id=30).update(genres=["Western"], year=1996)
    assert sorted(_movie_links(client.get("/movies/?genre=Western").content.decode(), "results")) == [10, 20, 30]
    assert sorted(_movie_links(client.get("/movies/?genre=Western&year=1995").content.decode(), "results")) == [10, 20]
    assert "ignored" in client.get("/movies/?year=soon").content.decode()


def test_user_picker_lists_movielens_users_with_their_rating_counts(client, published):
    """The picker shows MovieLens users from an id on, with how many ratings each has."""
    html = client.get("/users/?from=105").content.decode()
    rows = re.findall(r'href="/users/(\d+)/">user \d+</a></td><td class="num">(\d+)<', html)
    assert [int(u) for u, _ in rows][:3] == [105, 106, 107]
    for user_id, count in rows:
        assert int(count) == Rating.objects.filter(user_id=int(user_id)).count()
    assert client.get("/users/?user=107").url == "/users/107/"


def test_listing_users_past_the_last_says_so_in_a_members_words(client, published):
    """"List from id" past the last MovieLens user: the member read "load a data set with manage.py load_movielens"
    (an operator's command, and untrue: the set is loaded); now that no user has so high an id, and a way back."""
    last = max(user_id for user_id, _ in Rating.objects.user_counts(1, 10_000))
    html = client.get("/users/", {"from": last + 1000}).content.decode()
    assert "manage.py" not in html and "load_movielens" not in html
    assert f"No MovieLens user has an id from {last + 1000} on" in html and 'href="?from=1"' in html
    operator = Client()
    operator.force_login(make_operator("op", password="op-test-password")[0])
    assert "manage.py load_movielens" not in operator.get("/users/", {"from": last + 1000}).content.decode()


def test_a_site_with_no_movielens_users_tells_only_operators_what_to_load(client, db):
    """No ratings loaded at all: a member reads that there are no users yet; only an operator is shown the command."""
    member_view = client.get("/users/").content.decode()
    operator = Client()
    operator.force_login(make_operator("op", password="op-test-password")[0])
    assert "No MovieLens users yet." in member_view and "manage.py" not in member_view
    assert "manage.py load_movielens" in operator.get("/users/").content.decode()


def test_unknown_user_and_movie_pages_are_404(client, published):
    """Pages for a user or movie that does not exist are 404s."""
    assert client.get("/users/999999/").status_code == 404
    assert client.get("/movies/999999/").status_code == 404


def test_a_missing_movie_is_said_in_a_members_words(client, member, published):
    """A movie that is not in the catalogue: its page and a rating of it say so, not Django's "No Movie matches the
    given query." (a model's class name is code, not words for a member)."""
    for answer in (client.get("/movies/999999/"), client.post("/movies/999999/rate", {"rating": "4"})):
        page = answer.content.decode()
        assert answer.status_code == 404
        assert "matches the given query" not in page and "No Movie" not in page
        assert "There is nothing here" in page


def test_movie_page_shows_summary_chart_tags_links_and_similar_movies(client, published, similar_tables):
    """The movie page has average, count, one chart bar per half star, tags, external links and similar movies."""
    Movie.objects.filter(movie_id=250).update(imdb_id="0114709", tmdb_id=862)
    Tag.objects.create(user_id=101, movie_id=250, tag="Funny")
    Tag.objects.create(user_id=102, movie_id=250, tag="funny")
    add_similar(published.pk, [(250, 30, 0.8), (250, 40, 0.7)])
    ratings = list(Rating.objects.filter(movie_id=250).values_list("rating", flat=True))
    html = client.get("/movies/250/").content.decode()
    assert f"{sum(ratings) / len(ratings):.2f}</strong> average from <span class=\"count\">{len(ratings)}</span>" in html
    assert html.count("<rect ") == 10
    assert "funny <span class=\"muted\">×2</span>" in html
    assert "https://www.imdb.com/title/tt0114709/" in html and "https://www.themoviedb.org/movie/862" in html
    assert _movie_links(html, "similar") == [30, 40]


def _similar_section(html: str) -> str:
    section = html.split("<h2>Similar movies</h2>", 1)[1].split("</section>", 1)[0]
    return " ".join(html_text.unescape(re.sub(r"<[^>]+>", " ", section)).split())


def test_a_movie_without_similar_movies_says_so_in_a_members_words(client, published):
    """No similar movies (a movie added today, which the hybrid brings to lists by its metadata, or any movie of a run
    that finds none) is said without runs or algorithms, which are the operators' words."""
    Movie.objects.create(movie_id=300_001, title="Starfall Protocol (2024)", year=2024, genres=["Sci-Fi"])
    new = _similar_section(client.get("/movies/300001/").content.decode())
    rated = _similar_section(client.get("/movies/250/").content.decode())
    assert new == "No similar movies yet: too few people have rated it so far."
    assert rated == "No similar movies yet."


def test_signed_in_rating_is_stored_under_the_profile_and_says_so(client, member, published, django_capture_on_commit_callbacks):
    """A signed-in account's star rating is stored under its profile id and the page says it is updating."""
    account, profile, _ = member
    client.force_login(account)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/movies/250/rate", {"rating": "4.5", "next": f"/users/{profile.user_id}/"}, follow=True)
    assert response.status_code == 200
    assert Rating.objects.get(user_id=profile.user_id, movie_id=250).rating == 4.5
    assert "recommendations are updating" in response.content.decode()


def test_rating_can_be_changed_and_removed(client, member, published):
    """The widget changes a rating and removes it; JSON answers for the page's script."""
    account, profile, _ = member
    client.force_login(account)
    for value in ("3.0", "0.5"):
        body = client.post("/movies/250/rate", {"rating": value}, HTTP_ACCEPT="application/json").json()
        assert body["rating"] == float(value) == Rating.objects.get(user_id=profile.user_id, movie_id=250).rating
    body = client.post("/movies/250/rate", {"remove": "1"}, HTTP_ACCEPT="application/json").json()
    assert body["rating"] is None and not Rating.objects.filter(user_id=profile.user_id, movie_id=250).exists()


def test_rating_needs_a_signed_in_profile(client, published):
    """An anonymous rating is sent to the sign-in page and nothing is stored."""
    count = Rating.objects.count()
    response = client.post("/movies/250/rate", {"rating": "4"})
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")
    assert client.post("/movies/250/rate", {"rating": "4"}, HTTP_ACCEPT="application/json").status_code == 401
    assert Rating.objects.count() == count


def test_rating_form_refuses_bad_values(client, member, published):
    """An out-of-range rating is refused with a message and stores nothing."""
    client.force_login(member[0])
    count = Rating.objects.count()
    response = client.post("/movies/250/rate", {"rating": "6"}, HTTP_ACCEPT="application/json")
    assert response.status_code == 400 and "rating" in response.json()["fields"]
    followed = client.post("/movies/250/rate", {"rating": "6"}, follow=True).content.decode()
    assert "Select a valid choice" in followed
    assert Rating.objects.count() == count


def test_rating_form_without_csrf_token_is_refused(member, published):
    """A form post without the CSRF token is rejected and stores nothing."""
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(member[0])
    count = Rating.objects.count()
    assert browser.post("/movies/250/rate", {"rating": "4"}).status_code == 403
    assert Rating.objects.count() == count


def test_movielens_users_are_read_only_and_profiles_private(client, member, published):
    """A MovieLens user's page has no rating widgets; a profile's page is a 404 for other accounts."""
    account, profile, _ = member
    client.force_login(account)
    assert 'class="stars"' not in client.get(f"/users/{USER}/").content.decode()
    assert client.get(f"/users/{profile.user_id}/").url == "/me/"  # one's own page, without the id
    assert 'class="stars"' in client.get("/me/").content.decode()
    other = Client()
    other.force_login(User.objects.create_user("bob", password="bob-pass-123"))
    assert other.get(f"/users/{profile.user_id}/").status_code == 404
    assert Client().get(f"/users/{profile.user_id}/ratings/").status_code == 404


def test_rating_history_sorts(client, published):
    """The history page sorts by rating, date and title."""
    def order(sort):
        html = client.get(f"/users/{USER}/ratings/?sort={sort}").content.decode()
        return _movie_links(html, "ratings")

    ratings = Rating.objects.filter(user_id=USER)
    highest = [r.movie_id for r in ratings.order_by("-rating", "-timestamp")]
    assert order("highest") == highest
    assert order("title") == [r.movie_id for r in ratings.order_by("movie__title", "movie_id")]
    assert sorted(order("recent")) == sorted(highest)


def test_an_ease_run_shows_a_match_in_words_not_a_predicted_rating(client, catalogue):
    """EASE's scores are matches: each card says how strong in words, its share of the strongest in the tooltip."""
    from tests.helpers import run
    from web.recommender.presenters import GOOD_MATCH, STRONG_MATCH

    run(algorithm="ease", params={"min_ratings": 1}, top_n=5)
    rows = list(UserScore.objects.filter(run__algorithm="ease", user_id=USER).order_by("rank"))
    html = client.get(f"/users/{USER}/").content.decode()
    section = html.split('id="recommendations"', 1)[1].split("</ol>", 1)[0]
    titles = re.findall(r'class="predicted" title="([^"]*)"', section)
    words = re.findall(r'class="predicted"[^>]*>([^<]*)<', section)
    shares = [row.score / rows[0].score for row in rows]
    assert titles[0] == f"User {USER}&#x27;s strongest match" and words[0] == "Strong match"
    assert titles[1:] == [f"{round(100 * share)}% as strong a match as User {USER}&#x27;s strongest" for share in shares[1:]]
    assert words[1:] == ["Strong match" if share >= STRONG_MATCH else "Good match" if share >= GOOD_MATCH else "Fair match"
                         for share in shares[1:]]
    assert "of 5" not in section and "rate it" not in section and "★★" not in section


def test_a_pick_found_by_its_metadata_claims_no_match_strength(client, published, similar_tables):
    """A hybrid pick that its collaborative part does not model (no similar movies in the run) is placed by
    exploration just under the user's eighteenth movie: its score is a place, not the model's match. Its card and its
    page say it was matched on its metadata, not "Strong match" or a share of the strongest; a modelled movie keeps
    its match in words."""
    from web.recommender.presenters import METADATA_LABEL, METADATA_WORDS
    from web.runs.models import Run

    Run.objects.filter(pk=published.pk).update(algorithm="hybrid")
    ranked = list(UserScore.objects.filter(run=published, user_id=USER).order_by("rank").values_list("movie_id", flat=True))
    modelled, pick = ranked[0], ranked[1]
    add_similar(published.pk, [(modelled, ranked[5], 0.5)])
    section = client.get(f"/users/{USER}/").content.decode().split('id="recommendations"', 1)[1].split("</ol>", 1)[0]
    said = {int(movie): html_text.unescape(words) for movie, words in re.findall(
        r'data-movie="(\d+)".*?class="predicted"( title="[^"]*">[^<]*)<', section, re.DOTALL)}
    assert said[modelled] == f' title="User {USER}\'s strongest match">Strong match'
    assert said[pick] == f' title="{METADATA_LABEL}">{METADATA_WORDS}'
    page = html_text.unescape(client.get(f"/movies/{pick}/?user={USER}").content.decode())
    assert f'<strong class="predicted" title="{METADATA_LABEL}">{METADATA_WORDS}</strong>' in page
    page = html_text.unescape(client.get(f"/movies/{modelled}/?user={USER}").content.decode())
    assert f'<strong class="predicted" title="User {USER}\'s strongest match">Strong match</strong>' in page


@pytest.mark.parametrize(("score", "best", "words", "label"), [
    (0.16, 0.16, "Strong match", "your strongest match"),
    (0.12, 0.16, "Strong match", "75% as strong a match as your strongest"),
    (0.08, 0.16, "Good match", "50% as strong a match as your strongest"),
    (0.04, 0.16, "Fair match", "25% as strong a match as your strongest"),
    (-0.02, 0.16, "Fair match", "0% as strong a match as your strongest"),
    (-0.01, -0.01, "Weak match", "a weak match: nothing stands out for you yet"),
    (0.0, None, "Weak match", "a weak match: nothing stands out for you yet"),
])
def test_a_match_is_said_relative_to_the_users_strongest(score, best, words, label):
    from web.recommender.models import ScoredMovie
    from web.recommender.presenters import score_label, score_words

    item = ScoredMovie(Movie(movie_id=1, title="x"), score, 1, scale="match", best=best)
    assert (score_words(item), score_label(item)) == (words, label)


def test_a_predicted_rating_and_a_popular_pick_are_said_as_ratings():
    from web.recommender.models import ScoredMovie
    from web.recommender.presenters import score_words

    assert score_words(ScoredMovie(Movie(movie_id=1, title="x"), 4.24, 1, scale="stars")) == "We think you'd rate it 4.2"
    assert score_words(ScoredMovie(Movie(movie_id=1, title="x"), 3.96, 1, scale="average")) == "Rated 4.0 on average"


def test_a_year_that_is_not_one_stays_in_its_box_to_be_corrected(client, catalogue):
    """"19955" or "199O" is said to be ignored, and the box still holds what the member typed (it was emptied, so they
    had to type it all again), as do the sort and page links, which drop it."""
    html = client.get("/movies/?q=movie&year=199O").content.decode()
    assert "ignored" in html
    assert 'name="year" value="199O"' in html
    assert "year=199O" not in html.split("</form>", 1)[1]  # the links search as the page did: without the bad year


def test_signing_out_says_so(client, member):
    """Signing out landed on the home page with nothing said: on a shared computer the member could not tell that it
    had worked. The home page says so, and the account's name is gone from the menu."""
    account, _, _ = member
    client.force_login(account)
    home = client.post("/accounts/logout/", follow=True).content.decode()
    assert "You have signed out." in home and account.username not in home
