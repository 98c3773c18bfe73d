"""Who may write (and, for site profiles, read) ratings through the API."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.test import Client

from tests.account_helpers import issue_key
from web.recommender.models import Profile, Rating

USER = 101


def _post(client, user_id, headers=None, movie_id=250, rating=4.0):
    return client.post(
        f"/api/users/{user_id}/ratings", {"movie_id": movie_id, "rating": rating}, content_type="application/json",
        **(headers or {}),
    )


def test_writes_without_credentials_are_401_and_store_nothing(client, published):
    """POST, PUT and DELETE without a token or session are 401 with a JSON message saying how to authenticate."""
    count = Rating.objects.count()
    responses = [
        _post(client, USER),
        client.put(f"/api/users/{USER}/ratings/250", {"rating": 3}, content_type="application/json"),
        client.delete(f"/api/users/{USER}/ratings/10"),
    ]
    assert [r.status_code for r in responses] == [401, 401, 401]
    assert all("Token" in r.json()["error"] for r in responses)
    assert responses[0]["WWW-Authenticate"] == "Token"
    assert Rating.objects.count() == count


def test_a_bad_token_is_401(client, published):
    """An unknown token is refused, not treated as anonymous."""
    assert _post(client, USER, {"HTTP_AUTHORIZATION": "Token not-a-real-token"}).status_code == 401


def test_an_account_writes_its_own_profile_but_no_one_elses(client, member, published):
    """A member's token writes the member's ratings; another profile's or a MovieLens user's are 403."""
    _, profile, token = member
    headers = {"HTTP_AUTHORIZATION": f"Token {token}"}
    assert _post(client, profile.user_id, headers).status_code == 201
    other = Profile.objects.for_account(User.objects.create_user("bob", password="bob-pass-123"))
    assert _post(client, other.user_id, headers).status_code == 403
    assert _post(client, USER, headers).status_code == 403
    assert not Rating.objects.filter(user_id__in=[other.user_id], movie_id=250).exists()


def test_a_service_may_rate_for_movielens_users(client, service_token, published):
    """A service's token (a browsing service) writes a MovieLens user's ratings."""
    response = _post(client, USER, {"HTTP_AUTHORIZATION": f"Token {service_token}"}, rating=0.5)
    assert response.status_code == 201
    assert Rating.objects.get(user_id=USER, movie_id=250).rating == 0.5


def test_profile_data_is_private_but_movielens_data_public(client, member, published):
    """Anyone reads a MovieLens user's list; a profile's list and ratings need its own account."""
    _, profile, token = member
    assert client.get(f"/api/users/{USER}/recommendations").status_code == 200
    assert client.get(f"/api/users/{USER}/ratings").status_code == 200
    assert client.get(f"/api/users/{profile.user_id}/recommendations").status_code == 401
    other = issue_key(User.objects.create_user("bob", password="bob-pass-123"))
    assert client.get(f"/api/users/{profile.user_id}/ratings", HTTP_AUTHORIZATION=f"Token {other}").status_code == 403
    own = client.get(f"/api/users/{profile.user_id}/recommendations", HTTP_AUTHORIZATION=f"Token {token}")
    assert own.status_code == 200 and own.json()["source"] == "popular"


def test_session_writes_need_the_csrf_token(member, published):
    """The site's session authenticates API writes only with its CSRF token."""
    account, profile, _ = member
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(account)
    refused = _post(browser, profile.user_id)
    assert refused.status_code == 403 and "CSRF" in refused.json()["error"]
    browser.get("/movies/250/")
    token = browser.cookies["csrftoken"].value
    assert _post(browser, profile.user_id, {"HTTP_X_CSRFTOKEN": token}).status_code == 201


def test_a_service_rates_for_the_users_it_created(client, service_token, published):
    """A service's own users (POST /api/users) are written by services: a star rating beside their events is stored
    and read back (it was a 404 saying their ids belong to site profiles)."""
    auth = {"HTTP_AUTHORIZATION": f"Token {service_token}"}
    user_id = client.post("/api/users", {"external_id": "rater"}, content_type="application/json", **auth).json()["user_id"]
    assert _post(client, user_id, auth, movie_id=250, rating=3.5).status_code == 201
    changed = client.put(f"/api/users/{user_id}/ratings/250", {"rating": 4}, content_type="application/json", **auth)
    assert changed.status_code == 200
    assert list(Rating.objects.filter(user_id=user_id).values_list("movie_id", "rating")) == [(250, 4.0)]
    assert client.get(f"/api/users/{user_id}/ratings", **auth).json()["count"] == 1


def test_a_service_cannot_write_profile_ids(client, service_token, published):
    """Ids in the profile range are not MovieLens users: a service's token is refused (403), whether or not a
    profile has the id, so the answer does not tell which ids exist."""
    response = _post(client, 1_500_000_000, {"HTTP_AUTHORIZATION": f"Token {service_token}"})
    assert response.status_code == 403
    assert not Rating.objects.filter(user_id=1_500_000_000).exists()
