"""The site's poller fetches the list fragment conditionally: 304 while the list it shows is current."""

from __future__ import annotations

import re

from web.recommender.models import Movie, Profile, Rating

USER = 101


def _page_etag(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200
    match = re.search(r'id="recs"[^>]*data-etag="([^"]+)"', response.content.decode())
    assert match, "the list names no ETag"
    return match.group(1).replace("&quot;", '"')


def test_the_fragment_is_304_for_the_etag_the_page_named_and_200_after_a_rating(client, django_user_model, published,
                                                                                django_capture_on_commit_callbacks):
    account = django_user_model.objects.create_user("carol", password="carol-pass-123")
    profile = Profile.objects.for_account(account)
    movie = Movie.objects.first()
    Rating.objects.create(user_id=profile.user_id, movie=movie, rating=4.0)
    client.force_login(account)
    etag = _page_etag(client, "/me/")
    fragment = client.get("/me/?fragment=1", HTTP_IF_NONE_MATCH=etag)
    assert fragment.status_code == 304
    assert fragment["Cache-Control"] == "private, no-cache" and "Cookie" in fragment["Vary"]
    other = Movie.objects.exclude(movie_id=movie.movie_id).first()
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(f"/movies/{other.movie_id}/rate", {"rating": "3.0"}, HTTP_ACCEPT="application/json")
    assert response.status_code == 200, response.content
    changed = client.get("/me/?fragment=1", HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200 and 'id="recs"' in changed.content.decode()
    assert changed["ETag"] != etag


def test_an_anonymous_copy_never_validates_a_signed_in_viewers_list(client, django_user_model, published):
    """The star forms (and their CSRF token) are the signed-in viewer's own: the viewer is part of the ETag."""
    anonymous_etag = _page_etag(client, f"/users/{USER}/")
    assert client.get(f"/users/{USER}/?fragment=1", HTTP_IF_NONE_MATCH=anonymous_etag).status_code == 304
    client.force_login(django_user_model.objects.create_user("dave", password="dave-pass-123"))
    assert client.get(f"/users/{USER}/?fragment=1", HTTP_IF_NONE_MATCH=anonymous_etag).status_code == 200
    assert client.get(f"/users/{USER + 1}/?fragment=1", HTTP_IF_NONE_MATCH=anonymous_etag).status_code == 200
