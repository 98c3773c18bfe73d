"""Form posts (and session-authenticated API writes) without a valid CSRF token: 403, nothing stored.

The test client normally skips CSRF checks; here it enforces them, as a
browser-facing server does. Each row is one form or session write, sent
with no token, then with a forged one; the stored tables must not change
and no session may be created.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from tests.account_helpers import make_operator
from tests.reliability.snapshot import STORED_TABLES, published, stored  # noqa: F401  (published: a fixture)
from tests.recommender.conftest import member  # noqa: F401  (fixtures)
from web.errors import STALE_FORM

TABLES = (*STORED_TABLES, "django_session")
"""A refused sign-in must not create a session either."""

FORMS = [
    # (who is signed in: None, "member" or "staff", path, form data or JSON body, is JSON)
    (None, "/signup/", {"username": "mallory", "password1": "Tr0ub4dor&3-long", "password2": "Tr0ub4dor&3-long"}, False),
    (None, "/accounts/login/", {"username": "alice", "password": "alice-pass-123"}, False),
    ("member", "/movies/10/rate", {"rating": "4.5"}, False),
    ("member", "/movies/10/rate", {"remove": "on"}, False),
    ("member", "/accounts/logout/", {}, False),
    ("member", "/api/users/{profile}/ratings", {"movie_id": 10, "rating": 4}, True),
    ("member", "/api/users/{profile}/ratings/10", {"rating": 4}, True),
    ("staff", "/api/runs", {"algorithm": "popularity"}, True),
    ("staff", "/api/runs/{run}/activate", {}, True),
    ("staff", "/api/runs/{run}/cancel", {}, True),
]


@pytest.fixture
def strict_client(member, published) -> Client:  # noqa: F811
    """A client that enforces CSRF like a browser's server, with a member who has rated movie 10 via their profile."""
    account, profile, _ = member
    from web.recommender.models import Movie, Rating

    Rating.objects.rate(profile.user_id, Movie.objects.get(movie_id=10), 3.0)
    make_operator("operator-x", password="operator-pass-123")
    return Client(enforce_csrf_checks=True)


@pytest.mark.parametrize("token", ["missing", "forged"])
@pytest.mark.parametrize(("who", "path", "data", "is_json"), FORMS, ids=[f"{r[1]}:{sorted(r[2])}" for r in FORMS])
def test_posts_without_a_valid_csrf_token_are_refused(strict_client, member, published, who, path, data, is_json,  # noqa: F811
                                                      token):
    """A form post or session API write with no (or a forged) CSRF token is a 403 and stores nothing."""
    account, profile, _ = member
    if who == "member":
        strict_client.force_login(account)
    elif who == "staff":
        strict_client.force_login(User.objects.get(username="operator-x"))
    url = path.format(profile=profile.user_id, run=published.pk)
    headers = {}
    if token == "forged":
        strict_client.cookies["csrftoken"] = "a" * 32
        headers["HTTP_X_CSRFTOKEN"] = "b" * 32
        if not is_json:
            data = {**data, "csrfmiddlewaretoken": "b" * 32}
    before = stored(TABLES)
    if is_json:
        method = "put" if path.endswith("/ratings/10") else "post"
        response = getattr(strict_client, method)(url, data, content_type="application/json", **headers)
    else:
        response = strict_client.post(url, data, **headers)
    assert response.status_code == 403, (response.status_code, response.content[:300])
    # The refusal is the CSRF check's, not another 403: DRF's JSON names it, a form gets the site's stale-form page.
    assert (b"CSRF" if is_json else STALE_FORM.encode()) in response.content
    assert stored(TABLES) == before


def test_the_same_post_with_its_token_is_accepted(strict_client, member):  # noqa: F811
    """The control: the rating form with the page's CSRF token is stored, so the 403s above are about the token."""
    account, profile, _ = member
    strict_client.force_login(account)
    page = strict_client.get("/movies/10/")
    assert page.status_code == 200
    token = strict_client.cookies["csrftoken"].value
    response = strict_client.post("/movies/10/rate", {"rating": "4.5", "csrfmiddlewaretoken": token})
    assert response.status_code in (200, 302)
    from web.recommender.models import Rating

    assert Rating.objects.get(user_id=profile.user_id, movie_id=10).rating == 4.5
