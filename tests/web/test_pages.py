"""The browser pages, rendered by the Django test client."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from tests.helpers import run
from web.recommender.models import Rating

USER = 101


@pytest.fixture
def published(catalogue):
    return run(algorithm="popularity", top_n=10)


def _movie_links(html: str, list_id: str) -> list[int]:
    section = html.split(f'id="{list_id}"', 1)[1].split("</ol>", 1)[0]
    return [int(m) for m in re.findall(r'href="/movies/(\d+)/', section)]


def test_user_page_shows_the_same_list_as_the_api(client, published):
    """The user page lists the user's recommendations in the API's order."""
    html = client.get(f"/users/{USER}/").content.decode()
    api = client.get(f"/api/users/{USER}/recommendations?n=20").json()
    assert _movie_links(html, "recommendations") == [item["movie"]["movie_id"] for item in api["recommendations"]]


def test_home_page_shows_popular_movies_and_finds_titles(client, published, catalogue):
    """The home page lists the run's popular movies and searches titles."""
    html = client.get("/").content.decode()
    assert "Popular now" in html and "Movie " in html
    found = client.get("/?q=Movie 250").content.decode()
    assert 'href="/movies/250/' in found


def test_unknown_user_and_movie_pages_are_404(client, published):
    """Pages for a user or movie that does not exist are 404s."""
    assert client.get("/users/999999/").status_code == 404
    assert client.get("/movies/999999/").status_code == 404


def test_rating_form_stores_the_rating_and_says_so(client, published, django_capture_on_commit_callbacks):
    """Posting the movie page's form stores the rating and the user page says it is updating."""
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post("/movies/250/rate", {"user_id": USER, "rating": "4.5"}, follow=True)
    assert response.status_code == 200
    assert Rating.objects.get(user_id=USER, movie_id=250).rating == 4.5
    assert "recommendations are updating" in response.content.decode()


def test_rating_form_refuses_bad_values(client, published):
    """An out-of-range rating re-renders the form with an error and stores nothing."""
    count = Rating.objects.count()
    response = client.post("/movies/250/rate", {"user_id": USER, "rating": "6"})
    assert response.status_code == 400
    assert Rating.objects.count() == count


def test_rating_form_without_csrf_token_is_refused(published):
    """A form post without the CSRF token is rejected and stores nothing."""
    count = Rating.objects.count()
    response = Client(enforce_csrf_checks=True).post("/movies/250/rate", {"user_id": USER, "rating": "4"})
    assert response.status_code == 403
    assert Rating.objects.count() == count
