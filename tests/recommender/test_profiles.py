"""Own profiles: sign-up, ids that never collide with MovieLens users, onboarding."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.db import IntegrityError, connection, transaction

from web.recommender.models import PROFILE_USER_ID_START, Movie, Profile, Rating
from web.recommender.views.accounts import ONBOARDING_GENRES


def test_sign_up_creates_a_profile_signs_in_and_goes_to_onboarding(client, db):
    """Signing up makes an account with a profile id above every MovieLens id and opens onboarding."""
    response = client.post("/signup/", {"username": "carol", "password1": "c4rol-long-pass", "password2": "c4rol-long-pass"})
    assert response.status_code == 302 and response.url == "/welcome/"
    profile = Profile.objects.get(account__username="carol")
    assert profile.user_id >= PROFILE_USER_ID_START
    assert client.get("/me/").status_code == 200
    assert client.get(f"/users/{profile.user_id}/?page=2").url == "/me/?page=2"  # one's own pages never show the id
    assert client.get(f"/users/{profile.user_id}/ratings/").url == "/me/ratings/"


def test_sign_up_refuses_mismatched_passwords(client, db):
    """A bad sign-up form is shown again with the error and creates nothing."""
    response = client.post("/signup/", {"username": "dave", "password1": "d4ve-long-pass", "password2": "other-pass-1"})
    assert response.status_code == 200 and "didn’t match" in response.content.decode()
    assert not User.objects.filter(username="dave").exists()


@pytest.mark.parametrize("form", [{}, {"username": "bad name!", "password1": "short", "password2": "other"}],
                         ids=["blank", "refused"])
def test_the_sign_up_fields_point_a_screen_reader_at_help_and_errors_that_are_on_the_page(client, db, form):
    """Every id a field's aria-describedby names is on the page: a screen reader reads the password rules (and the
    username's) with the field, and an id that names nothing is an ARIA error."""
    html = (client.post("/signup/", form) if form else client.get("/signup/")).content.decode()
    ids = set(re.findall(r'\bid="([^"]+)"', html))
    described = {name: refs.split() for name, refs in re.findall(r'name="(\w+)"[^>]*aria-describedby="([^"]+)"', html)}
    assert set(described) == {"username", "password1", "password2"}
    assert {name: [ref for ref in refs if ref not in ids] for name, refs in described.items()} == {
        "username": [], "password1": [], "password2": []}
    assert "At least 8 characters" in html


def test_profile_ids_come_from_the_sequence_and_are_unique(db):
    """Each new profile takes the next id of the sequence; ids below the range are refused by the database."""
    ids = [Profile.objects.for_account(User.objects.create_user(f"u{i}")).user_id for i in range(3)]
    assert ids == sorted(ids) and len(set(ids)) == 3 and ids[0] >= PROFILE_USER_ID_START
    with connection.cursor() as cursor:
        cursor.execute("SELECT start_value, max_value FROM pg_sequences WHERE sequencename = 'recommender_profile_user_id_seq'")
        assert cursor.fetchone() == (PROFILE_USER_ID_START, 2**31 - 1)
    with pytest.raises(IntegrityError), transaction.atomic():
        Profile.objects.create(account=User.objects.create_user("low"), user_id=610)


def test_for_account_returns_the_same_profile(db):
    """Asking twice for an account's profile gives the same id (created once)."""
    account = User.objects.create_user("erin")
    assert Profile.objects.for_account(account).user_id == Profile.objects.for_account(account).user_id
    assert Profile.objects.filter(account=account).count() == 1


def test_onboarding_offers_popular_movies_of_different_genres(client, published):
    """Onboarding shows the most popular movie of each onboarding genre, each once, with a rating widget."""
    ranked = list(published.popular_movies.order_by("rank").values_list("movie_id", flat=True))
    for movie_id, genre in zip(ranked, ONBOARDING_GENRES, strict=False):
        Movie.objects.filter(movie_id=movie_id).update(genres=[genre])
    client.force_login(User.objects.create_user("frank"))
    html = client.get("/welcome/").content.decode()
    section = html.split('id="onboarding"', 1)[1].split("</ol>", 1)[0]
    shown = [int(m) for m in __import__("re").findall(r'href="/movies/(\d+)/', section)]
    assert shown == ranked[: len(ONBOARDING_GENRES)]
    assert section.count('class="stars"') == len(shown)


def test_a_new_profile_gets_a_labelled_popular_list(client, published):
    """Before any rating a profile's page shows the popular list, labelled as such."""
    account = User.objects.create_user("gina")
    client.force_login(account)
    html = client.get("/me/", follow=True).content.decode()
    assert 'data-source="popular"' in html and "Popular picks" in html
    assert Rating.objects.filter(user_id=Profile.objects.for_account(account).user_id).count() == 0
