"""Writes need their owner's account, operators' actions need the operators' group: the cases the per-app access tests leave out."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from tests.account_helpers import issue_key, make_operator
from tests.helpers import run
from web.progress.models import Run
from web.recommender.models import Profile, Rating

MOVIELENS_USER = 101


@pytest.fixture
def two_members(catalogue):
    """Two signed-up accounts with profiles and tokens; bob's profile has rated movie 250 with 4 stars."""
    members = {}
    for name in ("alice", "bob"):
        account = User.objects.create_user(name, password=f"{name}-pass-123")
        members[name] = (account, Profile.objects.for_account(account), issue_key(account))
    Rating.objects.create(user_id=members["bob"][1].user_id, movie_id=250, rating=4.0)
    return members


def _ratings() -> list[tuple]:
    return sorted(Rating.objects.values_list("user_id", "movie_id", "rating"))


@pytest.mark.parametrize(
    ("method", "target", "path", "body"),
    [
        ("put", "bob", "/api/users/{uid}/ratings/250", {"rating": 1}),
        ("delete", "bob", "/api/users/{uid}/ratings/250", None),
        ("post", "bob", "/api/users/{uid}/ratings", {"movie_id": 10, "rating": 2}),
        ("put", "movielens", "/api/users/{uid}/ratings/10", {"rating": 1}),
        ("delete", "movielens", "/api/users/{uid}/ratings/10", None),
    ],
    ids=["put-other-profile", "delete-other-profile", "post-other-profile", "put-movielens-user", "delete-movielens-user"],
)
def test_a_member_cannot_change_anyone_elses_ratings(client, two_members, method, target, path, body):
    """Alice's token gets 403 for a write to bob's profile or a MovieLens user's ratings, and no rating changes."""
    uid = two_members["bob"][1].user_id if target == "bob" else MOVIELENS_USER
    before = _ratings()
    response = getattr(client, method)(
        path.format(uid=uid), body, content_type="application/json", HTTP_AUTHORIZATION=f"Token {two_members['alice'][2]}"
    )
    assert response.status_code == 403, response.content
    assert "own ratings" in response.json()["error"]
    assert _ratings() == before


def test_a_member_cannot_see_another_profiles_pages(two_members):
    """Bob's recommendation and rating-history pages are a 404 for alice, and readable for bob (at /me/)."""
    bob_id = two_members["bob"][1].user_id
    alice, bob = Client(), Client()
    alice.force_login(two_members["alice"][0])
    bob.force_login(two_members["bob"][0])
    for path in (f"/users/{bob_id}/", f"/users/{bob_id}/ratings/"):
        assert alice.get(path).status_code == 404
        assert bob.get(path, follow=True).status_code == 200


@pytest.fixture
def two_runs(catalogue):
    """Two published runs: the older one can be rolled back to, the newer one is active."""
    older = run(algorithm="popularity", top_n=5)
    newer = run(algorithm="popularity", top_n=5)
    assert Run.objects.active().pk == newer.pk
    return older, newer


def _state() -> list[tuple]:
    return sorted(Run.objects.values_list("pk", "status")) + [("active", Run.objects.active().pk)]


@pytest.mark.parametrize("who", ["anonymous", "member", "member-token"])
@pytest.mark.parametrize(
    "action",
    ["start", "cancel", "activate"],
)
def test_operators_actions_refuse_everyone_but_operators(two_runs, who, action):
    """Start, cancel and activate (roll back) are 401/403 for anyone not an operator and change no run."""
    older, newer = two_runs
    account = User.objects.create_user("member", password="member-pass-123")
    client, headers = Client(), {}
    if who == "member":
        client.force_login(account)
    elif who == "member-token":
        headers = {"HTTP_AUTHORIZATION": f"Token {issue_key(account)}"}
    before = _state()
    path = {"start": "/api/runs", "cancel": f"/api/runs/{newer.pk}/cancel", "activate": f"/api/runs/{older.pk}/activate"}[action]
    body = {"algorithm": "popularity"} if action == "start" else None
    response = client.post(path, body, content_type="application/json", **headers)
    assert response.status_code in {401, 403}, response.content
    assert response.json()["status"] == response.status_code
    assert _state() == before


def test_an_operator_may_roll_back_so_the_refusals_above_are_about_who_asks(two_runs):
    """The same activate request from an operator's session works: the refusals come from the permission, not the request."""
    older, _ = two_runs
    staff = Client()
    staff.force_login(make_operator("op")[0])
    assert staff.post(f"/api/runs/{older.pk}/activate").status_code == 200
    assert Run.objects.active().pk == older.pk


@pytest.mark.django_db
def test_the_admin_needs_staff_and_signs_in_through_the_rate_limited_form(client):
    """/admin/ sends anonymous visitors and non-staff accounts to the site's sign-in form; an operator (staff only
    for this) gets in."""
    assert client.get("/admin/login/?next=/admin/")["Location"] == "/accounts/login/?next=/admin/"
    member = Client()
    member.force_login(User.objects.create_user("member", password="member-pass-123"))
    assert member.get("/admin/").status_code == 302
    staff = Client()
    staff.force_login(make_operator("op")[0])
    index = staff.get("/admin/")
    assert index.status_code == 200
    assert b"/admin/progress/run/" in index.content  # the operators' group views runs there
    assert b"/admin/auth/user/" not in index.content and b"/admin/accounts/apitoken/" not in index.content
