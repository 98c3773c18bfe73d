"""Stored answers (web/recommender/stored_answers.py): a repeated read is the body rendered for the same ETag, and never
another account's, an older one's or another host's."""

from __future__ import annotations

from django.contrib.auth.models import User

from tests.account_helpers import grant, issue_key, make_operator
from web.recommender.models import Profile, Rating
from web.recommender.stored_answers import ANSWERS, StoredAnswer, StoredAnswers

USER = 101
LIST = f"/api/users/{USER}/recommendations?n=10"
VARYING_HEADERS = {"X-Request-ID"}
"""Headers a repeated answer may carry differently: its own request id."""


def _headers(response) -> dict[str, str]:
    return {name: value for name, value in response.headers.items() if name not in VARYING_HEADERS}


def test_a_repeated_read_is_the_stored_body_after_one_query(client, published, django_assert_num_queries):
    """The second read of a list costs its validator's query only, and is the first answer byte for byte, headers too."""
    first = client.get(LIST)
    assert first.status_code == 200 and len(ANSWERS) == 1
    with django_assert_num_queries(1):
        again = client.get(LIST)
    assert again.status_code == 200
    assert again.content == first.content and _headers(again) == _headers(first)


def test_a_rating_makes_the_next_read_a_new_answer(client, auth, published, django_capture_on_commit_callbacks):
    """The rated movie leaves the list at once: the stored body of the old ETag is not sent."""
    first = client.get(LIST).json()
    top = first["recommendations"][0]["movie"]["movie_id"]
    with django_capture_on_commit_callbacks(execute=False):
        written = client.post(f"/api/users/{USER}/ratings", {"movie_id": top, "rating": 2.0},
                              content_type="application/json", **auth)
    assert written.status_code == 201
    after = client.get(LIST).json()
    assert top not in [item["movie"]["movie_id"] for item in after["recommendations"]]
    assert Rating.objects.filter(user_id=USER, movie_id=top).exists()


def test_the_query_and_the_host_are_part_of_the_key(client, published, settings):
    """``n=5`` is not ``n=10``'s body; a catalogue page read under another host names that host in its links."""
    settings.ALLOWED_HOSTS = ["testserver", "api.example.org"]
    client.get(LIST)
    assert len(client.get(f"/api/users/{USER}/recommendations?n=5").json()["recommendations"]) == 5
    url = "/api/movies?page_size=2"
    assert "http://testserver/" in client.get(url).json()["next"]
    assert "http://api.example.org/" in client.get(url, HTTP_HOST="api.example.org").json()["next"]
    assert client.get(url, HTTP_HOST="evil.example.org").status_code == 400


def _member(name: str) -> tuple[Profile, dict[str, str]]:
    account = User.objects.create_user(name, password=f"{name}-pass-123")
    return Profile.objects.for_account(account), {"HTTP_AUTHORIZATION": f"Token {issue_key(account)}"}


def test_a_private_list_stored_for_its_account_is_never_sent_to_another(client, published):
    """Alice's list, once stored, is still a 403 for Bob and a 401 for no one; a granted reader gets it under an ETag of
    their own (another stored answer), the same list."""
    alice, alice_headers = _member("alice")
    _, bob_headers = _member("bob")
    url = f"/api/users/{alice.user_id}/recommendations?n=10"
    own = client.get(url, **alice_headers)
    assert own.status_code == 200 and client.get(url, **alice_headers).content == own.content
    assert client.get(url, **bob_headers).status_code == 403
    assert client.get(url).status_code == 401
    reader, key = make_operator("reader")
    grant(reader, "recommender.read_private_profiles")
    granted = client.get(url, HTTP_AUTHORIZATION=f"Token {key}")
    assert granted.status_code == 200 and granted["ETag"] != own["ETag"] and granted.json() == own.json()
    assert len(ANSWERS) == 2


def test_errors_are_not_stored(client, published):
    """A 404 or a 400 keeps nothing: the next request is answered afresh."""
    assert client.get("/api/users/999999/recommendations").status_code == 404
    assert client.get(f"/api/users/{USER}/recommendations?n=0").status_code == 400
    assert len(ANSWERS) == 0


def test_the_least_recently_used_answers_go_first_within_the_byte_bound():
    """Bodies past the bound push out the least recently used; one larger than an eighth of it is never kept."""
    answers = StoredAnswers(max_bytes=1600)
    for key in "abcdefgh":
        answers.put((key,), StoredAnswer(b"x" * 200, "application/json"))
    assert len(answers) == 8  # exactly the bound
    answers.get(("a",))  # used: b is now the oldest
    answers.put(("i",), StoredAnswer(b"y" * 200, "application/json"))
    assert answers.get(("b",)) is None and answers.get(("a",)) is not None and answers.get(("i",)) is not None
    answers.put(("huge",), StoredAnswer(b"z" * 201, "application/json"))
    assert answers.get(("huge",)) is None and len(answers) == 8


def test_no_answers_are_kept_when_the_setting_is_zero():
    """``ANSWER_CACHE_BYTES=0``: nothing is ever stored."""
    none = StoredAnswers(max_bytes=0)
    none.put(("a",), StoredAnswer(b"x", "application/json"))
    assert none.get(("a",)) is None and len(none) == 0
