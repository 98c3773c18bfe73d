"""The words of a user's pages fit the reader: "you" to the member on their own pages, "User 1" to everyone else.

A visitor looking at MovieLens user 101's recommendations read "because you rated Heat 4.5 stars" and "We think
you'd rate it 3.9", as if they were user 101.
"""

from __future__ import annotations

import html as html_text
import re

import pytest

from tests.helpers import run
from tests.recommender.similar import add_similar
from web.recommender.models import Movie, Rating, UserScore
from web.runs.models import Run

USER = 101
YOU = re.compile(r"\b(you|your|yours|you'd|you're)\b", re.IGNORECASE)


@pytest.fixture
def published(catalogue):
    Movie.objects.update(genres=["Drama"])  # a named movie must share a genre with the recommendation
    return run(algorithm="popularity", top_n=20)


def _text(html: str, start: str, end: str) -> str:
    """The words (tags out, entities and tooltips in) between ``start`` and ``end``."""
    part = html.split(start, 1)[1].split(end, 1)[0]
    tooltips = re.findall(r'title="([^"]*)"', part)
    return " ".join(html_text.unescape(" ".join([re.sub(r"<[^>]+>", " ", part), *tooltips])).split())


def _name_a_liked_movie(published: Run) -> Rating:
    top = UserScore.objects.filter(run=published, user_id=USER).order_by("rank").first().movie_id
    liked = Rating.objects.filter(user_id=USER).order_by("-rating", "movie_id").select_related("movie").first()
    Rating.objects.filter(pk=liked.pk).update(rating=5.0)
    add_similar(published.pk, [(top, liked.movie_id, 0.9)])
    return liked


def test_a_visitor_reads_a_movielens_users_list_in_the_third_person(client, published, similar_tables):
    liked = _name_a_liked_movie(published)
    page = client.get(f"/users/{USER}/").content.decode()
    words = _text(page, "<h1>", '<nav class="pager">')
    assert not YOU.search(words), YOU.findall(words)
    assert f"Because User {USER} rated {liked.movie.title} 5 stars" in words
    assert f"We think User {USER} would rate it" in words
    assert f"One of the best-liked movies User {USER} has not rated yet" in words
    assert 'data-updating-text="Updating these recommendations…"' in page  # what the poller's banner says meanwhile


def test_a_visitor_reads_a_movielens_users_match_on_a_movie_page_in_the_third_person(client, published, monkeypatch):
    Run.objects.filter(pk=published.pk).update(algorithm="ease")  # a match, whose tooltip compares with the strongest
    second = UserScore.objects.filter(run=published, user_id=USER, rank=2).get().movie_id
    page = client.get(f"/movies/{second}/?user={USER}").content.decode()
    words = _text(page, 'id="match">', "</p>")
    assert words.startswith(f"For MovieLens user {USER}") and not YOU.search(words), words


def test_the_member_reads_their_own_list_in_the_second_person(client, member, catalogue):
    account, profile, _ = member
    Rating.objects.bulk_create(Rating(user_id=profile.user_id, movie_id=m, rating=5.0) for m in (10, 20, 30))
    published = run(algorithm="popularity", top_n=20)
    Movie.objects.update(genres=["Drama"])
    top = UserScore.objects.filter(run=published, user_id=profile.user_id).order_by("rank").first().movie_id
    add_similar(published.pk, [(top, 10, 0.9)])
    client.force_login(account)
    words = _text(client.get("/me/").content.decode(), "<h1>", '<nav class="pager">')
    title = Movie.objects.get(pk=10).title
    assert f"Because you rated {title} 5 stars" in words and "We think you'd rate it" in words
