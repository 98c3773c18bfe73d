"""HTTP caching of the read API (issue #15): ETags that change exactly when the answer can, 304s, and who may store what."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.account_helpers import grant, issue_key, make_operator
from tests.helpers import run
from tests.recommender.ingest.movielens_files import write_set
from tests.recommender.similar import add_similar
from web.recommender.ingest import load_movielens
from web.recommender.models import Movie, Profile, Rating, UserScore, user_data_changed
from web.recommender.tasks import refresh_user
from web.runs.models import Run

USER, OTHER = 101, 102
LIST = "/api/users/{}/recommendations?n=10"


def _get(client, url: str, etag: str | None = None, **headers):
    if etag is not None:
        headers["HTTP_IF_NONE_MATCH"] = etag
    return client.get(url, **headers)


def _etag(client, url: str, **headers) -> str:
    response = _get(client, url, **headers)
    assert response.status_code == 200, response.content
    assert response["ETag"].startswith('W/"'), response.headers
    return response["ETag"]


def _rate(client, auth, user_id: int, movie_id: int, value: float = 4.0) -> None:
    response = client.post(f"/api/users/{user_id}/ratings", {"movie_id": movie_id, "rating": value},
                           content_type="application/json", **auth)
    assert response.status_code == 201, response.content


def _unrated(user_id: int) -> int:
    rated = set(Rating.objects.filter(user_id=user_id).values_list("movie_id", flat=True))
    return next(m for m in Movie.objects.values_list("movie_id", flat=True) if m not in rated)


# -- recommendations ---------------------------------------------------------------
def test_an_unchanged_list_is_answered_304_without_reading_the_score_rows(client, published):
    """The second request names the ETag it holds: 304, no body, the same ETag and policy, and no query of the scores."""
    etag = _etag(client, LIST.format(USER))
    with CaptureQueriesContext(connection) as queries:
        response = _get(client, LIST.format(USER), etag)
    assert response.status_code == 304 and response.content == b""
    assert response["ETag"] == etag and response["Cache-Control"] == "public, no-cache"
    assert len(queries) == 1, [q["sql"] for q in queries]
    assert not [q for q in queries if UserScore._meta.db_table in q["sql"]]


def test_a_rating_changes_the_etag(client, auth, published, django_capture_on_commit_callbacks):
    etag = _etag(client, LIST.format(USER))
    with django_capture_on_commit_callbacks(execute=False):  # no refresh: the rating alone must change it
        _rate(client, auth, USER, _unrated(USER))
    response = _get(client, LIST.format(USER), etag)
    assert response.status_code == 200 and response["ETag"] != etag


def test_removing_a_rating_changes_the_etag(client, auth, published, django_capture_on_commit_callbacks):
    movie = Rating.objects.filter(user_id=USER).values_list("movie_id", flat=True).first()
    etag = _etag(client, LIST.format(USER))
    with django_capture_on_commit_callbacks(execute=False):
        assert client.delete(f"/api/users/{USER}/ratings/{movie}", **auth).status_code == 204
    assert _get(client, LIST.format(USER), etag).status_code == 200


def test_the_workers_refresh_changes_the_etag(client, published):
    """The worker rewrites the user's rows a moment after a rating: the list a client holds from before is stale then."""
    etag = _etag(client, LIST.format(USER))
    refresh_user(USER)
    assert _get(client, LIST.format(USER), etag).status_code == 200


def test_a_publish_and_a_rollback_change_the_etag(client, published):
    first = _etag(client, LIST.format(USER))
    second_run = run(algorithm="popularity", top_n=5)
    second = _etag(client, LIST.format(USER))
    assert second != first
    assert _get(client, LIST.format(USER), first).status_code == 200
    Run.objects.roll_back_to(published.pk)
    rolled_back = _get(client, LIST.format(USER), second)
    assert rolled_back.status_code == 200 and rolled_back.json()["run_id"] == published.pk
    assert second_run.pk != published.pk


def test_an_event_changes_the_etag(client, auth, published, django_capture_on_commit_callbacks):
    """A watch posted by a service moves the user's change counter in the events' transaction."""
    etag = _etag(client, LIST.format(USER))
    event = {"event_id": "etag-1", "user_id": USER, "movie_id": _unrated(USER), "type": "watched",
             "time": "2026-01-01T00:00:00+00:00"}
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post("/api/events", [event], content_type="application/json", **auth)
    assert response.status_code == 200, response.content
    assert _get(client, LIST.format(USER), etag).status_code == 200


def test_another_users_rating_leaves_this_users_etag_alone(client, auth, published, django_capture_on_commit_callbacks):
    etag = _etag(client, LIST.format(USER))
    with django_capture_on_commit_callbacks(execute=False):
        _rate(client, auth, OTHER, _unrated(OTHER))
    assert _get(client, LIST.format(USER), etag).status_code == 304


def test_the_query_is_part_of_the_etag(client, published):
    etag = _etag(client, f"/api/users/{USER}/recommendations?n=10")
    response = _get(client, f"/api/users/{USER}/recommendations?n=5", etag)
    assert response.status_code == 200 and len(response.json()["recommendations"]) == 5


def test_one_users_etag_never_gets_a_304_for_another_user(client, published):
    """User A's ETag sent for user B's list: a 200 with B's list, whatever the two lists hold."""
    etag = _etag(client, LIST.format(USER))
    response = _get(client, LIST.format(OTHER), etag)
    assert response.status_code == 200 and response.json()["user_id"] == OTHER
    assert response["ETag"] != etag


def _member(name: str) -> tuple[Profile, dict[str, str]]:
    account = User.objects.create_user(name, password=f"{name}-pass-123")
    profile = Profile.objects.for_account(account)
    return profile, {"HTTP_AUTHORIZATION": f"Token {issue_key(account)}"}


def test_a_profiles_list_is_private_and_varies_on_the_credentials(client, published):
    profile, headers = _member("alice")
    response = _get(client, LIST.format(profile.user_id), **headers)
    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-cache"
    vary = {v.strip().lower() for v in response["Vary"].split(",")}
    assert {"cookie", "authorization"} <= vary
    again = _get(client, LIST.format(profile.user_id), response["ETag"], **headers)
    assert again.status_code == 304 and again["Cache-Control"] == "private, no-cache"


def test_profiles_never_share_a_304(client, published):
    """Alice's ETag sent by Bob for Bob's list is a 200 with Bob's list; for Alice's list Bob gets a 403, not a 304."""
    alice, alice_headers = _member("alice")
    bob, bob_headers = _member("bob")
    alice_etag = _etag(client, LIST.format(alice.user_id), **alice_headers)
    own = _get(client, LIST.format(bob.user_id), alice_etag, **bob_headers)
    assert own.status_code == 200 and own.json()["user_id"] == bob.user_id
    assert _get(client, LIST.format(alice.user_id), alice_etag, **bob_headers).status_code == 403
    assert _get(client, LIST.format(alice.user_id), alice_etag).status_code == 401
    # An operator granted read_private_profiles may read Alice's list, but under an ETag of their own.
    reader, key = make_operator("reader")
    grant(reader, "recommender.read_private_profiles")
    assert _get(client, LIST.format(alice.user_id), alice_etag, HTTP_AUTHORIZATION=f"Token {key}").status_code == 200


def test_errors_carry_no_etag(client, published):
    response = client.get("/api/users/999999/recommendations")
    assert response.status_code == 404 and "ETag" not in response


# -- catalogue, movie, similar movies ---------------------------------------------
def test_the_catalogue_is_public_for_a_while_and_a_load_changes_its_etag(client, published, tmp_path):
    url = "/api/movies?search=movie"
    first = _get(client, url)
    assert first["Cache-Control"] == "public, max-age=60"
    assert _get(client, url, first["ETag"]).status_code == 304
    folder = write_set(tmp_path / "set")
    load_movielens(folder)
    after_load = _get(client, url, first["ETag"])
    assert after_load.status_code == 200
    load_movielens(folder)  # the same set again changes no row: the ETag stays
    assert _get(client, url, after_load["ETag"]).status_code == 304


def test_a_movies_etag_follows_its_ratings(client, auth, published, django_capture_on_commit_callbacks):
    movie = _unrated(USER)
    other = next(m for m in Movie.objects.values_list("movie_id", flat=True) if m != movie)
    etag = _etag(client, f"/api/movies/{movie}")
    with django_capture_on_commit_callbacks(execute=False):
        _rate(client, auth, USER, movie)
    changed = _get(client, f"/api/movies/{movie}", etag)
    assert changed.status_code == 200 and changed["Cache-Control"] == "public, no-cache"
    other_etag = _etag(client, f"/api/movies/{other}")
    with django_capture_on_commit_callbacks(execute=False):
        _rate(client, auth, OTHER, movie, 2.0)
    assert _get(client, f"/api/movies/{other}", other_etag).status_code == 304


def test_a_movie_changed_in_the_admin_changes_the_catalogue_and_movie_etags(client, published):
    """An operator corrects a title in the admin (one movie saved, no load): the catalogue and the movie's answer
    name it at once, with no 304 for the copies held from before."""
    movie = Movie.objects.order_by("movie_id").first()
    urls = ["/api/movies", f"/api/movies/{movie.movie_id}"]
    held = {url: _etag(client, url) for url in urls}
    client.force_login(User.objects.create_superuser("editor", password="editor-pass-123"))
    form = {"movie_id": movie.movie_id, "title": "Corrected Title (1995)", "year": movie.year or "",
            "genres": ",".join(movie.genres), "imdb_id": movie.imdb_id, "tmdb_id": movie.tmdb_id or "", "_save": "Save"}
    response = client.post(f"/admin/recommender/movie/{movie.movie_id}/change/", form)
    assert response.status_code == 302, response.content[:1000]
    client.logout()
    for url in urls:
        answer = _get(client, url, held[url])
        assert answer.status_code == 200, url
        assert "Corrected Title (1995)" in answer.content.decode(), url


def test_similar_movies_change_with_a_publish(client, published, similar_tables):
    movie = int(Movie.objects.values_list("movie_id", flat=True).first())
    add_similar(published.pk, [(movie, movie + 10, 0.9)])
    url = f"/api/movies/{movie}/similar"
    first = _get(client, url)
    assert first["Cache-Control"] == "public, max-age=60" and len(first.json()["similar"]) == 1
    assert _get(client, url, first["ETag"]).status_code == 304
    run(algorithm="popularity", top_n=5)
    assert _get(client, url, first["ETag"]).status_code == 200


# -- If-None-Match: * ----------------------------------------------------------------
UNKNOWN_USER, UNKNOWN_MOVIE = 999_999, 999_999


def test_a_star_is_304_only_for_what_exists(client, published, similar_tables):
    """RFC 9110 13.1.2: ``If-None-Match: *`` is false (304) when a current representation exists, and otherwise true:
    the request goes on and answers as without the header (404 for an unknown user or movie), never a 304 that says
    "you hold it" of nothing."""
    add_similar(published.pk, [(10, 20, 0.5)])
    for url in (LIST.format(UNKNOWN_USER), f"/api/movies/{UNKNOWN_MOVIE}", f"/api/movies/{UNKNOWN_MOVIE}/similar",
                f"/users/{UNKNOWN_USER}/?fragment=1"):
        assert _get(client, url, "*").status_code == 404, url
    for url in (LIST.format(USER), "/api/movies/10", "/api/movies/10/similar", "/api/movies?search=movie",
                f"/users/{USER}/?fragment=1"):
        assert _get(client, url, "*").status_code == 304, url
    assert _get(client, "/api/movies?page=999", "*").status_code == 404  # past the last page: nothing to hold
