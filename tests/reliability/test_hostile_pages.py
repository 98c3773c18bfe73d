"""Hostile values in every HTML page and form of the site: never a 5xx (issue #16, item 9).

The API has its own tables (``test_hostile_api.py``); here every page is swept with the shared values
of :mod:`tests.reliability.hostile_values` in each place a page reads input: its path ids, every query
parameter it reads, and every field of its form posts, as an anonymous visitor, a member and an
operator. The assertion is the floor, no server error; the cases that used to be one have their own
tests with the answer expected.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
from django.contrib.auth.models import User
from django.test import Client

from tests.account_helpers import make_operator
from tests.reliability.hostile_values import HOSTILE_VALUES, HUGE
from tests.reliability.snapshot import published, stored  # noqa: F401  (published: a fixture)
from tests.recommender.conftest import member  # noqa: F401  (fixtures)

USER = 101
"""A MovieLens user of the ``catalogue`` fixture (ids 101..130, movies 10..250)."""
MOVIE = 10

PATH_ID_PAGES = [
    # (who is signed in, a page with "{id}" where a path segment holds an id)
    (None, "/users/{id}/"),
    (None, "/users/{id}/status"),
    (None, "/users/{id}/ratings/"),
    (None, "/movies/{id}/"),
    ("staff", "/progress/runs/{id}/throughput.svg"),
]

QUERY_PAGES = [
    # (who is signed in, page, the query parameters it reads)
    (None, "/", ()),
    (None, "/users/", ("user", "from")),
    (None, f"/users/{USER}/", ("page", "genre", "fragment")),
    (None, f"/users/{USER}/ratings/", ("sort", "page")),
    (None, f"/users/{USER}/status", ()),
    (None, "/movies/", ("q", "genre", "year", "page")),
    (None, f"/movies/{MOVIE}/", ("user",)),
    (None, "/accounts/login/", ("next",)),
    (None, "/signup/", ()),
    ("member", "/me/", ("page", "genre", "fragment")),
    ("member", "/me/ratings/", ("sort", "page")),
    ("member", "/me/status", ()),
    ("member", "/welcome/", ("q", "more")),
    ("staff", "/progress/", ()),
    ("staff", "/progress/durations.svg", ()),
]
"""Pages with no parameter of their own are still swept with a parameter they do not read (``x``)."""

FORMS = [
    # (who is signed in, path, the fields of its form with a valid value each)
    (None, "/signup/", {"username": "mallory", "password1": "Tr0ub4dor&3-long", "password2": "Tr0ub4dor&3-long"}),
    (None, "/accounts/login/", {"username": "alice", "password": "wrong-password", "next": "/"}),
    ("member", f"/movies/{MOVIE}/rate", {"rating": "4.5", "remove": "", "next": f"/movies/{MOVIE}/"}),
    ("member", "/accounts/logout/", {"next": "/"}),
]


def _assert_no_server_error(response, what: str) -> None:
    assert response.status_code < 500, (what, response.status_code, response.content[:300])


@pytest.fixture
def clients(member, published) -> dict[str | None, Client]:  # noqa: F811
    """An anonymous client, a member's and an operator's session, on the published tiny catalogue."""
    operator, _ = make_operator("operator-x", password="operator-pass-123")
    signed_in = {"member": member[0], "staff": operator}
    result: dict[str | None, Client] = {None: Client()}
    for who, account in signed_in.items():
        result[who] = Client()
        result[who].force_login(account)
    return result


@pytest.mark.parametrize(("who", "page"), PATH_ID_PAGES, ids=[row[1] for row in PATH_ID_PAGES])
def test_hostile_ids_in_page_paths(clients, who, page):
    """Every hostile id (as text, percent-encoded where it must be) in each page's id segment: no 5xx."""
    before = stored()
    for name, value in HOSTILE_VALUES.items():
        path = page.format(id=_path_segment(value))
        _assert_no_server_error(clients[who].get(path), f"{name}: {path[:80]}")
    assert stored() == before


@pytest.mark.parametrize(("who", "page", "parameters"), QUERY_PAGES, ids=[row[1] for row in QUERY_PAGES])
def test_hostile_query_strings_on_every_page(clients, who, page, parameters):
    """Each query parameter a page reads (and one it does not) set to each hostile value: no 5xx."""
    before = stored()
    for parameter in (*parameters, "x"):
        for name, value in HOSTILE_VALUES.items():
            _assert_no_server_error(clients[who].get(page, {parameter: value}), f"{page}?{parameter}=<{name}>")
    assert stored() == before


@pytest.mark.parametrize(("who", "path", "fields"), FORMS, ids=[row[1] for row in FORMS])
def test_hostile_form_posts(clients, who, path, fields):
    """Each field of each form set to each hostile value, the others valid: no 5xx."""
    for field in fields:
        for name, value in HOSTILE_VALUES.items():
            _assert_no_server_error(clients[who].post(path, {**fields, field: value}), f"{path} {field}=<{name}>")
            if who == "member" and path.endswith("logout/"):
                clients[who].force_login(User.objects.get(username="alice"))


def test_hostile_ids_in_the_rate_form_path(clients):
    """The rate form's movie id segment, posted by a member: no 5xx for any hostile value, nothing stored."""
    before = stored()
    for name, value in HOSTILE_VALUES.items():
        url = f"/movies/{_path_segment(value)}/rate"
        _assert_no_server_error(clients["member"].post(url, {"rating": "4"}), f"{name}: {url}")
    assert stored() == before


def _path_segment(value: str) -> str:
    """``value`` percent-encoded for a path segment (a NUL or a slash cannot appear raw in a URL)."""
    return quote(value, safe="")


@pytest.mark.parametrize(
    ("value", "what"),
    [("-1", "negative"), ("0", "zero"), ("-10", "negative"), (HUGE, "huge"), (str(2**31), "huge")],
)
def test_the_user_picker_refuses_an_id_that_cannot_be_a_user(clients, value, what):
    """``/users/?user=-1`` was a 500 (NoReverseMatch: the user URL takes only digits). Now every id that no user
    can have goes back to the picker with a message, as a non-number did."""
    response = clients[None].get("/users/", {"user": value}, follow=True)
    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == "/users/"
    assert "A user id is a whole number from 1" in response.content.decode()


def test_the_user_picker_still_opens_a_user(clients):
    response = clients[None].get("/users/", {"user": str(USER)})
    assert (response.status_code, response["Location"]) == (302, f"/users/{USER}/")
