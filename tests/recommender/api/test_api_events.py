"""A browsing service's road in: users created by external id, events in JSON or NDJSON, the watchlist, fresh lists."""

from __future__ import annotations

import io
import json
import threading
import tracemalloc
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client as DjangoClient
from django.utils import timezone

from web.recommender.api.events import MAX_JSON_EVENTS
from web.recommender.models import PROFILE_USER_ID_START, Event, Profile, Rating, ServiceUser, UserScore
from web.recommender.models.versions import USER, versions
from web.recommender.refresh import pending_key

NOW = timezone.now().replace(microsecond=0)


def _event(event_id: str, user_id: int, movie_id: int, type_: str = "watched", **extra) -> dict:
    return {"event_id": event_id, "user_id": user_id, "movie_id": movie_id, "type": type_,
            "time": (NOW - timedelta(hours=1)).isoformat(), **extra}


def _post(client, auth, events, content_type="application/json"):
    body = events if isinstance(events, (str, bytes)) else json.dumps(events)
    return client.post("/api/events", body, content_type=content_type, **auth)


def _new_user(client, auth, external_id: str = "svc-1") -> int:
    return client.post("/api/users", {"external_id": external_id}, content_type="application/json", **auth).json()["user_id"]


# Users created by a service


def test_creating_a_user_is_idempotent_and_above_movielens_ids(client, auth, catalogue):
    """The first call creates (201), the same external id again returns the same user (200), no duplicate row."""
    first = client.post("/api/users", {"external_id": "abc-123"}, content_type="application/json", **auth)
    again = client.post("/api/users", {"external_id": "abc-123"}, content_type="application/json", **auth)
    other = client.post("/api/users", {"external_id": "abc-124"}, content_type="application/json", **auth)
    assert (first.status_code, again.status_code, other.status_code) == (201, 200, 201)
    assert first.json()["user_id"] == again.json()["user_id"] != other.json()["user_id"]
    assert first.json()["user_id"] >= PROFILE_USER_ID_START
    assert ServiceUser.objects.filter(external_id="abc-123").count() == 1


@pytest.mark.parametrize("external_id", [" abc-123", "abc-123 "])
def test_an_external_id_with_surrounding_white_space_is_refused_not_trimmed(client, auth, catalogue, external_id):
    """Trimmed, " abc-123" was the user of "abc-123": two of the service's ids, one user (their histories mixed)."""
    created = client.post("/api/users", {"external_id": "abc-123"}, content_type="application/json", **auth)
    response = client.post("/api/users", {"external_id": external_id}, content_type="application/json", **auth)
    assert created.status_code == 201 and response.status_code == 400 and "external_id" in response.json()["fields"]
    assert list(ServiceUser.objects.values_list("external_id", flat=True)) == ["abc-123"]


def test_service_users_and_profiles_share_one_sequence(client, auth, member):
    """A profile and a service user never get the same id: both draw from the profile sequence."""
    _, profile, _ = member
    user_id = _new_user(client, auth)
    assert user_id != profile.user_id and not Profile.objects.filter(user_id=user_id).exists()


def test_concurrent_creations_of_one_external_id_make_one_user(transactional_db, service_token):
    """Eight requests racing for the same new external id all get the same user id."""
    from django.test import Client

    results: list[int] = []

    def create() -> None:
        response = Client().post("/api/users", {"external_id": "racer"}, content_type="application/json",
                                 HTTP_AUTHORIZATION=f"Token {service_token}")
        results.append(response.json()["user_id"])
        connection.close()

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 8 and len(set(results)) == 1
    assert ServiceUser.objects.filter(external_id="racer").count() == 1


def test_concurrent_batches_of_the_same_users_and_ids_store_each_event_once(catalogue, service_token):
    """Four clients send the same 300 event ids, their users in opposite orders, each batch one statement that also
    moves the users' change counters: no request fails (no deadlock on the counters) and each event is stored once."""
    events = [_event(f"race-{i}", 101 + i % 30, 10 * (1 + i % 25), "not_interested") for i in range(300)]
    answers: list[tuple[int, int]] = []

    def send(order: int) -> None:
        client = DjangoClient(HTTP_AUTHORIZATION=f"Token {service_token}")
        for start in range(0, 300, 100):
            batch = events[start:start + 100][::order]
            response = client.post("/api/events", json.dumps(batch), content_type="application/json")
            answers.append((response.status_code, response.json()["accepted"]))
        connection.close()

    threads = [threading.Thread(target=send, args=(order,)) for order in (1, -1, 1, -1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answers) == 12 and {code for code, _ in answers} == {200}
    assert sum(accepted for _, accepted in answers) == 300 and Event.objects.count() == 300


@pytest.mark.parametrize("body", [{}, {"external_id": ""}, {"external_id": "x" * 201}, {"external_id": "a\x00b"}])
def test_a_bad_external_id_is_a_400(client, auth, catalogue, body):
    response = client.post("/api/users", body, content_type="application/json", **auth)
    assert response.status_code == 400 and "external_id" in response.json()["fields"]
    assert not ServiceUser.objects.exists()


def test_only_a_service_may_create_users_or_send_events(client, member, catalogue):
    """Anonymous: 401; an ordinary account's token: 403; nothing stored."""
    _, _, token = member
    ordinary = {"HTTP_AUTHORIZATION": f"Token {token}"}
    assert client.post("/api/users", {"external_id": "x"}, content_type="application/json").status_code == 401
    assert client.post("/api/users", {"external_id": "x"}, content_type="application/json", **ordinary).status_code == 403
    assert _post(client, ordinary, [_event("e1", 101, 10)]).status_code == 403
    assert not ServiceUser.objects.exists() and not Event.objects.exists()


def test_a_service_reads_and_writes_its_own_users_but_never_a_members_profile(client, auth, member, catalogue):
    """A service's own users are its to read and write; a member's profile is not, even by id."""
    user_id = _new_user(client, auth)
    assert client.get(f"/api/users/{user_id}/watchlist", **auth).status_code == 200
    assert client.get(f"/api/users/{user_id}/recommendations", **auth).status_code == 200
    _, profile, _ = member
    response = _post(client, auth, [_event("to-member", profile.user_id, 10)])
    assert response.status_code == 422 and "unknown user" in response.json()["results"][0]["reason"]
    assert client.get(f"/api/users/{profile.user_id}/recommendations", **auth).status_code == 403
    assert not Event.objects.filter(user_id=profile.user_id).exists()


def test_a_members_ratings_do_not_make_their_profile_a_user_a_service_may_write_for(client, auth, member, catalogue):
    """A MovieLens user is known by their ratings; a member who has rated has ratings too. Counted as one, the member's
    profile took a service's events into its watchlist and its list (docs/api.md: "a service never writes for a member")."""
    _, profile, _ = member
    Rating.objects.create(user_id=profile.user_id, movie_id=10, rating=4.0)
    response = _post(client, auth, [_event("on-watchlist", profile.user_id, 20, "watchlist_add"),
                                    _event("watched", profile.user_id, 30)])
    assert response.status_code == 422
    assert [r["reason"] for r in response.json()["results"]] == [f"unknown user {profile.user_id}"] * 2
    ndjson = _post(client, auth, json.dumps(_event("as-line", profile.user_id, 40, "not_interested")),
                   content_type="application/x-ndjson")
    assert ndjson.json()["results"][0]["reason"] == f"unknown user {profile.user_id}"
    assert not Event.objects.filter(user_id=profile.user_id).exists()


# Events in


@pytest.mark.parametrize("type_", ["watched", "watchlist_add", "watchlist_remove", "not_interested", "not_interested_remove"])
def test_each_event_type_is_accepted_and_stored(client, auth, catalogue, type_):
    extra = {"fraction": 0.75} if type_ == "watched" else {}
    response = _post(client, auth, [_event("e-1", 101, 20, type_, **extra)])
    assert response.status_code == 200
    assert response.json()["results"] == [{"index": 0, "event_id": "e-1", "status": "accepted"}]
    stored = Event.objects.get(event_id="e-1")
    assert (stored.user_id, stored.movie_id, stored.type, stored.fraction) == (101, 20, type_, extra.get("fraction"))


def test_a_retried_batch_counts_once(client, auth, catalogue):
    """The same events sent twice: accepted the first time, duplicates the second, stored once."""
    events = [_event(f"r-{i}", 101 + i, 30) for i in range(3)]
    first, second = _post(client, auth, events), _post(client, auth, events)
    assert first.json()["accepted"] == 3 and second.json()["duplicate"] == 3 and second.json()["accepted"] == 0
    assert second.status_code == 200 and Event.objects.count() == 3


def test_an_undone_dismissal_comes_in_ndjson_too_and_a_retry_counts_once(client, auth, catalogue):
    """``not_interested_remove`` by NDJSON, sent twice: stored once, the retry's line a duplicate."""
    body = "\n".join(json.dumps(e) for e in [_event("ni", 101, 20, "not_interested"),
                                              _event("ni-undo", 101, 20, "not_interested_remove")]) + "\n"
    first = _post(client, auth, body, content_type="application/x-ndjson")
    again = _post(client, auth, body, content_type="application/x-ndjson")
    assert first.status_code == 200 and first.json()["accepted"] == 2
    assert again.status_code == 200 and [r["status"] for r in again.json()["results"]] == ["duplicate", "duplicate"]
    assert sorted(Event.objects.values_list("type", flat=True)) == ["not_interested", "not_interested_remove"]


def test_the_events_table_keeps_one_index_on_event_id(catalogue):
    """Every insert maintains each index: event_id has its unique one, and not Django's extra LIKE index beside it."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE tablename = %s", [Event._meta.db_table])
        on_event_id = [d for (d,) in cursor.fetchall() if "(event_id" in d]
    assert len(on_event_id) == 1 and "UNIQUE" in on_event_id[0]


def test_the_events_of_a_batch_are_numbered_in_the_order_they_came(client, auth, catalogue):
    """Stored in event_id order (one lock order for concurrent requests), numbered in the request's order: the
    watchlist takes that for arrival when an add and a remove have the same time."""
    user = _new_user(client, auth)
    same_time = {"time": (NOW - timedelta(minutes=5)).isoformat()}
    _post(client, auth, [{**_event("z-add", user, 10, "watchlist_add"), **same_time},
                         {**_event("a-remove", user, 10, "watchlist_remove"), **same_time}])
    assert list(Event.objects.order_by("id").values_list("event_id", flat=True)) == ["z-add", "a-remove"]
    assert client.get(f"/api/users/{user}/watchlist", **auth).json()["watchlist"] == []


def test_a_repeated_event_id_within_one_request_counts_once(client, auth, catalogue):
    response = _post(client, auth, [_event("same", 101, 30), _event("same", 102, 40)])
    assert [r["status"] for r in response.json()["results"]] == ["accepted", "duplicate"]
    assert list(Event.objects.values_list("user_id", flat=True)) == [101]


def test_a_refused_event_does_not_take_its_event_id_from_a_later_good_one(client, auth, catalogue):
    """An event_id first sent with an unknown movie, then valid, in the same request: the valid one is stored."""
    response = _post(client, auth, [_event("again", 101, 99_999), _event("again", 102, 40), _event("again", 103, 50)])
    assert [r["status"] for r in response.json()["results"]] == ["refused", "accepted", "duplicate"]
    assert list(Event.objects.values_list("user_id", "movie_id")) == [(102, 40)]


def test_repeated_event_ids_across_ndjson_chunks_count_once_and_move_each_users_counter(client, auth, catalogue):
    """1,500 lines are two chunks of one transaction: an id of the first chunk repeated in the second is a duplicate,
    and every user with an accepted event has their change counter moved."""
    lines = [_event(f"n-{i % 1_200}", 101 + i % 30, 10 * (1 + i % 25)) for i in range(1_500)]
    before = versions([(USER, user) for user in range(101, 131)])
    answer = _post(client, auth, "\n".join(json.dumps(e) for e in lines), content_type="application/x-ndjson").json()
    assert (answer["accepted"], answer["duplicate"]) == (1_200, 300) and Event.objects.count() == 1_200
    after = versions([(USER, user) for user in range(101, 131)])
    assert all(after[key] > before[key] for key in before)


def test_event_ids_are_stored_as_sent_whatever_their_characters(client, auth, catalogue):
    """The batch goes to PostgreSQL as array literals: quotes, backslashes, commas, braces and NULL stay text."""
    ids = ['a"b', "c\\d", "e,f", "{g}", "NULL", "h i", "\u00e9\u6f22", "\\\""]
    response = _post(client, auth, [_event(event_id, 101, 10, fraction=0.25) for event_id in ids])
    assert response.json()["accepted"] == len(ids)
    assert sorted(Event.objects.values_list("event_id", flat=True)) == sorted(ids)
    assert set(Event.objects.values_list("fraction", "time")) == {(0.25, NOW - timedelta(hours=1))}


@pytest.mark.parametrize("event_id", [" lead", "trail ", "\ttab"])
def test_an_event_id_with_surrounding_white_space_is_refused_not_trimmed(client, auth, catalogue, event_id):
    """As load_events refuses it: stored trimmed, the answer named an event_id the sender never sent, and its retry
    (or another event whose id differs by the spaces) was a duplicate of it."""
    response = _post(client, auth, [_event(event_id, 101, 10)])
    result = response.json()["results"][0]
    assert response.status_code == 422 and result["status"] == "refused" and result["event_id"] == event_id
    assert result["reason"].startswith("event_id:")
    assert not Event.objects.exists()


@pytest.mark.parametrize("content_type", ["application/json", "application/x-ndjson"])
def test_an_event_id_with_a_lone_surrogate_is_refused_and_the_others_kept(client, auth, catalogue, content_type):
    """JSON may spell half a UTF-16 pair ("\\ud800"), which no UTF-8 text holds: the id passed the checks and the insert
    failed to encode it, a 500 that lost the good events sent with it."""
    events = [_event("ok-1", 101, 10), _event("half\ud800pair", 101, 20), _event("ok-2", 102, 30)]
    body = "\n".join(json.dumps(e) for e in events) if content_type.endswith("ndjson") else json.dumps(events)
    response = _post(client, auth, body, content_type=content_type)
    assert response.status_code == 422
    refused = response.json()["results"][1]
    assert refused["status"] == "refused" and refused["event_id"] is None and "Surrogate" in refused["reason"]
    assert sorted(Event.objects.values_list("event_id", flat=True)) == ["ok-1", "ok-2"]


def test_a_partial_batch_keeps_the_good_events_and_names_the_bad(client, auth, catalogue):
    """Unknown user, unknown movie, bad time, bad fraction: refused each with its reason; the good ones stored; 422."""
    user = _new_user(client, auth)
    events = [
        _event("ok-1", 101, 10),
        _event("bad-user", PROFILE_USER_ID_START + 999_999, 10),
        _event("bad-movie", 101, 99_999),
        {**_event("future", 101, 10), "time": (NOW + timedelta(days=1)).isoformat()},
        {**_event("old", 101, 10), "time": "1994-12-31T23:59:00Z"},
        _event("bad-fraction", 101, 10, fraction=1.5),
        _event("ok-2", user, 20, "not_interested"),
    ]
    response = _post(client, auth, events)
    body = response.json()
    assert response.status_code == 422 and body["status"] == 422
    assert (body["accepted"], body["refused"], body["duplicate"]) == (2, 5, 0)
    reasons = {r["event_id"]: r.get("reason", "") for r in body["results"]}
    assert "unknown user" in reasons["bad-user"] and "unknown movie 99999" in reasons["bad-movie"]
    assert "future" in reasons["future"] and "1995" in reasons["old"] and "fraction" in reasons["bad-fraction"]
    assert body["error"].startswith("Refused event 1: unknown user")
    assert sorted(Event.objects.values_list("event_id", flat=True)) == ["ok-1", "ok-2"]


def test_ndjson_is_read_line_by_line_and_names_malformed_lines(client, auth, catalogue):
    lines = [
        json.dumps(_event("n-1", 101, 10)),
        "{not json",
        "",
        json.dumps(_event("n-2", 102, 20, "watchlist_add")),
        json.dumps(["an", "array"]),
    ]
    response = _post(client, auth, "\n".join(lines) + "\n", content_type="application/x-ndjson")
    body = response.json()
    assert response.status_code == 422
    assert [(r["line"], r["status"]) for r in body["results"]] == [
        (1, "accepted"), (2, "refused"), (4, "accepted"), (5, "refused")]
    assert "malformed JSON" in body["results"][1]["reason"] and body["error"].startswith("Refused line 2: malformed JSON")
    assert sorted(Event.objects.values_list("event_id", flat=True)) == ["n-1", "n-2"]


def test_an_ndjson_line_nested_too_deeply_is_refused_as_malformed(client, auth, catalogue):
    """Such a line (a few kB) made json.loads raise RecursionError, which no refusal caught: the whole request was a
    500, the good lines around it lost."""
    lines = [json.dumps(_event("d-1", 101, 10)), "[" * 4_000 + "]" * 4_000, json.dumps(_event("d-2", 102, 20))]
    response = _post(client, auth, "\n".join(lines) + "\n", content_type="application/x-ndjson")
    assert response.status_code == 422
    assert [(r["line"], r["status"]) for r in response.json()["results"]] == [(1, "accepted"), (2, "refused"), (3, "accepted")]
    assert response.json()["results"][1]["reason"] == "malformed JSON (nested too deeply)"
    assert sorted(Event.objects.values_list("event_id", flat=True)) == ["d-1", "d-2"]


def test_an_overlong_ndjson_line_is_refused_without_being_held_whole(client, auth, catalogue):
    """A 20 MB line (with good lines around it) is refused as too long while the reader holds at most about a line's
    limit of it: read whole, it took three times its size in the web process, so one line could exhaust its memory."""
    good = [json.dumps(_event(f"around-{i}", 101, 10 * (i + 1))) for i in range(2)]
    body = "\n".join([good[0], '{"event_id": "' + "x" * 20_000_000 + '"}', good[1]]).encode() + b"\n"
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        response = _post(client, auth, body, content_type="application/x-ndjson")
        held = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    assert response.status_code == 422 and "longer than" in response.json()["results"][1]["reason"]
    assert [r["line"] for r in response.json()["results"] if r["status"] == "accepted"] == [1, 3]
    # The test client's own copy of the body (its fake wsgi.input) is counted too: beyond it, a few blocks at most.
    assert held < len(body) + 4_000_000, f"{held - len(body):,} bytes held beyond the body while reading it"


def _post_chunked(client, auth, body: str, content_type: str):
    """A body sent with ``Transfer-Encoding: chunked`` (a client streaming from a generator), as granian hands it to
    the app: no Content-Length, the body readable to its end (``wsgi.input_terminated``)."""
    return client.post("/api/events", body, content_type=content_type, CONTENT_LENGTH="",
                       HTTP_TRANSFER_ENCODING="chunked",
                       **{"wsgi.input_terminated": True, "wsgi.input": io.BytesIO(body.encode())}, **auth)


def test_a_chunked_ndjson_body_is_read_to_its_end(client, auth, catalogue):
    """Streaming NDJSON without a Content-Length: every line is read and stored (it was read as an empty body: 200,
    nothing stored, nothing refused)."""
    lines = "\n".join(json.dumps(_event(f"s-{i}", 101, 10 * (i + 1))) for i in range(3)) + "\n"
    response = _post_chunked(client, auth, lines, "application/x-ndjson")
    assert response.status_code == 200 and response.json()["accepted"] == 3
    assert sorted(Event.objects.values_list("event_id", flat=True)) == ["s-0", "s-1", "s-2"]


@pytest.mark.parametrize(("url", "body"), [
    ("/api/events", json.dumps([_event("j-1", 101, 10)])),
    ("/api/users", json.dumps({"external_id": "chunked"})),
])
def test_a_chunked_json_body_is_a_411_and_stores_nothing(client, auth, catalogue, url, body):
    """A JSON body needs its Content-Length (it is read whole, up to a size limit); unread, it looked empty."""
    response = client.post(url, body, content_type="application/json", CONTENT_LENGTH="",
                           HTTP_TRANSFER_ENCODING="chunked", **{"wsgi.input_terminated": True}, **auth)
    assert response.status_code == 411 and "Content-Length" in response.json()["error"]
    assert not Event.objects.exists() and not ServiceUser.objects.exists()


def test_a_batch_over_the_limit_is_refused_whole(client, auth, catalogue):
    events = [_event(f"big-{i}", 101, 10) for i in range(MAX_JSON_EVENTS + 1)]
    response = _post(client, auth, events)
    assert response.status_code == 413 and f"{MAX_JSON_EVENTS:,}" in response.json()["error"]
    assert not Event.objects.exists()


@pytest.mark.parametrize("body", ['{"event_id": ', '"just a string"', "42"])
def test_a_body_that_is_not_events_is_a_400(client, auth, catalogue, body):
    response = _post(client, auth, body)
    assert response.status_code in (400, 422) and response.json()["error"]
    assert not Event.objects.exists()


def test_a_failed_request_stores_nothing(client, auth, catalogue, monkeypatch):
    """If the second chunk's insert fails, the first chunk's events are rolled back too."""
    from web.recommender.models import events as events_module

    calls = {"n": 0}
    original = events_module.EventQuerySet._insert

    def failing(self, *args):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("the database went away mid-request")
        return original(self, *args)

    monkeypatch.setattr(events_module.EventQuerySet, "_insert", failing)
    lines = "\n".join(json.dumps(_event(f"c-{i}", 101, 10)) for i in range(1500))
    with pytest.raises(RuntimeError):
        _post(client, auth, lines, content_type="application/x-ndjson")
    assert calls["n"] == 2 and not Event.objects.exists()


# Lists stay fresh


def test_watched_and_dismissed_movies_leave_the_list_at_once(client, auth, published):
    """Before any refresh, the served list drops a watched and a not-interested movie; a watchlist add changes nothing."""
    user = 101
    before = [r["movie"]["movie_id"] for r in client.get(f"/api/users/{user}/recommendations?n=5").json()["recommendations"]]
    watched, dismissed, listed = before[:3]
    _post(client, auth, [_event("w", user, watched), _event("d", user, dismissed, "not_interested"),
                         _event("a", user, listed, "watchlist_add")])
    after = [r["movie"]["movie_id"] for r in client.get(f"/api/users/{user}/recommendations?n=5").json()["recommendations"]]
    assert watched not in after and dismissed not in after and listed in after
    assert UserScore.objects.filter(user_id=user, movie_id=watched).exists()  # the stored row stays: the read filters it


def test_the_popular_list_of_a_new_service_user_drops_dismissed_movies(client, auth, published):
    user = _new_user(client, auth)
    first = client.get(f"/api/users/{user}/recommendations?n=3", **auth).json()
    assert first["source"] == "popular"
    top = first["recommendations"][0]["movie"]["movie_id"]
    _post(client, auth, [_event("nope", user, top, "not_interested")])
    again = client.get(f"/api/users/{user}/recommendations?n=3", **auth).json()
    assert top not in [r["movie"]["movie_id"] for r in again["recommendations"]]


def _served(client, user: int, n: int = 5, **auth) -> list[int]:
    answer = client.get(f"/api/users/{user}/recommendations?n={n}", **auth).json()
    return [r["movie"]["movie_id"] for r in answer["recommendations"]]


def test_an_undone_dismissal_brings_the_movie_back_until_the_next_one(client, auth, published):
    """Per movie, the latest of not_interested and not_interested_remove by time decides: the undo brings the movie
    back into the served list (before any refresh), a later not_interested hides it again, and an older one that
    arrives late does not."""
    user = 101

    def at(minutes: int) -> str:
        return (NOW - timedelta(minutes=minutes)).isoformat()

    dismissed, late = _served(client, user)[:2]
    _post(client, auth, [{**_event("d1", user, dismissed, "not_interested"), "time": at(30)},
                         {**_event("l1", user, late, "not_interested"), "time": at(30)}])
    assert dismissed not in _served(client, user) and late not in _served(client, user)
    _post(client, auth, [{**_event("u1", user, dismissed, "not_interested_remove"), "time": at(20)},
                         {**_event("u2", user, late, "not_interested_remove"), "time": at(20)}])
    assert _served(client, user)[:2] == [dismissed, late]
    _post(client, auth, [{**_event("d2", user, dismissed, "not_interested"), "time": at(10)},
                         {**_event("l0", user, late, "not_interested"), "time": at(40)}])  # older than the undo
    after = _served(client, user)
    assert dismissed not in after and after[0] == late


def test_an_undone_dismissal_does_not_bring_back_a_watched_movie(client, auth, published):
    """The undo takes back a not_interested, nothing else: a watched movie stays out of the list."""
    user = 101
    movie = _served(client, user)[0]
    _post(client, auth, [_event("w", user, movie), _event("d", user, movie, "not_interested"),
                         {**_event("u", user, movie, "not_interested_remove"), "time": NOW.isoformat()}])
    assert movie not in _served(client, user)


def test_the_popular_list_of_a_new_service_user_takes_back_an_undone_dismissal(client, auth, published):
    user = _new_user(client, auth)
    top = _served(client, user, 3, **auth)[0]
    _post(client, auth, [_event("nope", user, top, "not_interested")])
    assert top not in _served(client, user, 3, **auth)
    _post(client, auth, [{**_event("yes", user, top, "not_interested_remove"), "time": NOW.isoformat()}])
    assert _served(client, user, 3, **auth)[0] == top


def test_an_undone_dismissal_queues_a_refresh_as_the_dismissal_does(client, auth, published, redis_conn):
    """The refresh gives the movie its slot back (and drops the negative the models took from the dismissal)."""
    _post(client, auth, [_event("u", 101, 20, "not_interested_remove"), _event("a", 102, 30, "watchlist_remove")])
    assert redis_conn.exists(pending_key(101)) and not redis_conn.exists(pending_key(102))


def test_an_accepted_watch_queues_one_refresh_per_user(client, auth, published, redis_conn):
    _post(client, auth, [_event("q1", 101, 20), _event("q2", 101, 30), _event("q3", 102, 40, "watchlist_add")])
    assert redis_conn.exists(pending_key(101)) and not redis_conn.exists(pending_key(102))


# Watchlist


def test_the_watchlist_follows_the_latest_add_or_remove(client, auth, catalogue):
    user = _new_user(client, auth)
    at = lambda minutes: (NOW - timedelta(minutes=minutes)).isoformat()  # noqa: E731
    _post(client, auth, [
        {**_event("a10", user, 10, "watchlist_add"), "time": at(30)},
        {**_event("a20", user, 20, "watchlist_add"), "time": at(20)},
        {**_event("r10", user, 10, "watchlist_remove"), "time": at(10)},
        {**_event("a30", user, 30, "watchlist_add"), "time": at(5)},
        # Sent late but older than the removal: the removal still wins.
        {**_event("a10-late", user, 10, "watchlist_add"), "time": at(40)},
    ])
    response = client.get(f"/api/users/{user}/watchlist", **auth)
    assert response.status_code == 200
    assert [item["movie"]["movie_id"] for item in response.json()["watchlist"]] == [30, 20]


def test_a_service_users_watchlist_is_private_to_staff(client, auth, member, catalogue):
    user = _new_user(client, auth)
    _, _, token = member
    assert client.get(f"/api/users/{user}/watchlist").status_code == 401
    assert client.get(f"/api/users/{user}/watchlist", HTTP_AUTHORIZATION=f"Token {token}").status_code == 403


def test_the_watchlist_of_an_unknown_user_is_404(client, catalogue):
    assert client.get("/api/users/999/watchlist").status_code == 404


def test_events_never_touch_ratings(client, auth, catalogue):
    count = Rating.objects.count()
    _post(client, auth, [_event("x", 101, 250)])
    assert Rating.objects.count() == count
