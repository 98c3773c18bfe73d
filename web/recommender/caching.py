"""HTTP caching of the read API and of the site's list: ETags made of change counters, and who may keep a copy.

An ETag here is not a hash of the body: it is made of what the answer
depends on (the active run, the load counter, the user's or the movie's
counter from :mod:`web.recommender.models.versions`, the query string, the
format, and for private data who is asking), read in one query of
primary-key lookups. So a conditional request whose ``If-None-Match``
matches is answered ``304 Not Modified`` without reading the score rows or
the catalogue, and any other request with the same ETag gets the body
rendered for the first (:mod:`web.recommender.stored_answers`).

Order matters: the validator is read *before* the answer is built, and every
counter is bumped in the transaction of the change it stands for, so a body
is never older than the ETag sent with it (at worst newer, which costs the
client one extra 200 later, never a stale 304).

Who may keep a copy (``Cache-Control``):

* a site profile's list (ids from ``PROFILE_USER_ID_START``), readable only by
  its account or an account granted ``read_private_profiles``: ``private, no-cache`` and ``Vary: Cookie,
  Authorization``, and the viewer's account is part of the ETag, so one
  account's ETag never validates another's copy;
* a MovieLens user's list, public data the same for every viewer:
  ``public, no-cache`` (stored, but revalidated on every use: a rating changes it);
* the catalogue and similar movies: ``public, max-age=CATALOGUE_MAX_AGE``
  (they change only on a load, a publish or a rollback);
* a movie with its rating summary: ``public, no-cache`` (any rating of it changes the summary).

Only 200 answers carry an ETag; errors keep the headers they had.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseNotModified
from django.middleware.csrf import get_token
from django.utils.cache import patch_vary_headers
from django.utils.crypto import salted_hmac
from django.utils.http import urlencode

from web.recommender.models import is_profile_id
from web.recommender.models.versions import ACTIVE_RUN, LOAD, MOVIE, USER, versions
from web.recommender.stored_answers import ANSWERS, StoredAnswer
from web.restapi import matches, names_any

CATALOGUE_MAX_AGE = 60
"""Seconds a client or proxy may reuse the catalogue or similar movies unasked: how late a load, publish or rollback may show."""


@dataclass(frozen=True)
class CachePolicy:
    """The ``Cache-Control`` of an answer and the request headers it varies on beyond the URL."""

    cache_control: str
    vary: tuple[str, ...] = ()


PRIVATE = CachePolicy("private, no-cache", ("Cookie", "Authorization"))
"""One account's data: only the browser (or client) of that account may store it, and must revalidate."""
SITE_PRIVATE = CachePolicy("private, no-cache", ("Cookie",))
"""A page fragment of the site: it shows the session's own star forms (with its CSRF token), so it is the browser's only."""
PUBLIC_REVALIDATE = CachePolicy("public, no-cache")
"""Public data that can change any second: anyone may store it, everyone revalidates."""
PUBLIC_CATALOGUE = CachePolicy(f"public, max-age={CATALOGUE_MAX_AGE}")
"""Public data that changes only on a load, a publish or a rollback."""


def user_data_version(user_id: int) -> str:
    """Everything outside the request that ``user_id``'s list depends on, in one query of primary-key lookups.

    * the active run: a publish or a rollback changes it;
    * the load counter: a MovieLens load can change anyone's ratings, an events back-fill anyone's events;
    * the user's counter: bumped with each rating and removal of one, and
      when the worker rewrites the user's rows of the active run.

    Events join here: a stored event (watched, watchlist, not interested)
    changes the served list, so the events writer calls
    :func:`web.recommender.models.user_data_changed` in its transaction and
    bumps this same counter; nothing needs adding below. Should events ever be
    written without it (a bulk import), give them a counter of their own and
    add it to these keys.
    """
    counters = versions([ACTIVE_RUN, (LOAD, 0), (USER, user_id)])
    return f"run {counters[ACTIVE_RUN]} load {counters[(LOAD, 0)]} user {counters[(USER, user_id)]}"


def catalogue_version(*, movie_id: int | None = None) -> str:
    """The active run (search order, similar movies) and the load counter; with ``movie_id``, that movie's ratings too."""
    keys = [ACTIVE_RUN, (LOAD, 0), *([(MOVIE, movie_id)] if movie_id is not None else [])]
    counters = versions(keys)
    return " ".join(f"{scope} {key} {counters[(scope, key)]}" for scope, key in keys)


def request_variant(request: HttpRequest) -> str:
    """The query string (sorted) and the negotiated format: the parts of the request that shape the body."""
    query = urlencode(sorted((name, values) for name, values in request.GET.lists()), doseq=True)
    return f"{query} as {getattr(request, 'accepted_media_type', '') or 'html'}"


def viewer(request: HttpRequest) -> str:
    """Who is asking, as the ETag of private data names it: the account's id, or anonymous."""
    account = getattr(request, "user", None)
    return f"account {account.pk}" if account is not None and account.is_authenticated else "anonymous"


def make_etag(*parts: object) -> str:
    """A weak ETag of ``parts`` (the answer means the same, byte-for-byte equality is not promised).

    Keyed with the ``SECRET_KEY``: the parts are guessable (a user's
    counter), so a plain hash would let anyone test guesses about them.
    """
    digest = salted_hmac("web.recommender.caching", "\x1f".join(str(p) for p in parts), algorithm="sha256")
    return f'W/"{digest.hexdigest()[:32]}"'


EARLY_VALIDATOR = "early_list_validator"
"""Attribute of a request on which the early answer (web/recommender/middleware.py) leaves the list's ETag and policy it read."""


def user_list_validator(request: HttpRequest, user_id: int) -> tuple[str, CachePolicy]:
    """The ETag and policy of ``user_id``'s recommendations as the API gives them.

    Read once per request: when the early answer read them and then went the
    full way (no stored body yet), the view reuses what it read rather than
    asking PostgreSQL again; read before the answer all the same.
    """
    early = getattr(getattr(request, "_request", request), EARLY_VALIDATOR, None)  # a DRF Request wraps Django's
    if early is not None and early[0] == user_id:
        return early[1], early[2]
    private = is_profile_id(user_id)
    return (
        make_etag("recommendations", user_id, user_data_version(user_id), request_variant(request),
                  viewer(request) if private else "public"),
        PRIVATE if private else PUBLIC_REVALIDATE,
    )


def site_list_etag(request: HttpRequest, user_id: int, page: int, genre: str | None) -> str:
    """The ETag of the site's list fragment (``/users/<id>/?fragment=1``), which the full page also names for its poller.

    Page and genre as the view read them (so the page and its fragment agree),
    the viewer (the star forms are shown on one's own list only), and for a
    signed-in viewer the CSRF secret, which the star forms carry: a new sign-in
    rotates it, and a copy with the old one would refuse to save a rating.
    """
    csrf_secret = ""
    if getattr(request, "user", None) is not None and request.user.is_authenticated:
        get_token(request)  # a first visit has no secret yet: make the one the page's forms will carry
        csrf_secret = request.META.get("CSRF_COOKIE", "")
    return make_etag("site list", user_id, user_data_version(user_id), page, genre or "", viewer(request), csrf_secret)


def catalogue_validator(request: HttpRequest) -> tuple[str, CachePolicy]:
    """The catalogue and title search (whose order follows the active run's popular list)."""
    return make_etag("movies", catalogue_version(), request_variant(request)), PUBLIC_CATALOGUE


def movie_validator(request: HttpRequest, movie_id: int) -> tuple[str, CachePolicy]:
    """A movie with its rating summary: the summary changes with any rating of it."""
    return make_etag("movie", movie_id, catalogue_version(movie_id=movie_id), request_variant(request)), PUBLIC_REVALIDATE


def similar_validator(request: HttpRequest, movie_id: int) -> tuple[str, CachePolicy]:
    """A movie's similar movies: the active run's neighbours."""
    return make_etag("similar", movie_id, catalogue_version(), request_variant(request)), PUBLIC_CATALOGUE


def label(response: HttpResponse, etag: str, policy: CachePolicy) -> HttpResponse:
    """Put the validator and the policy on ``response`` (a 200 or the 304 that stands for it)."""
    response["ETag"] = etag
    response["Cache-Control"] = policy.cache_control
    if policy.vary:
        patch_vary_headers(response, policy.vary)
    return response


def stored_answer_key(request: HttpRequest, etag: str) -> tuple[str, str, str]:
    """Where the body of ``etag``'s answer is kept (:mod:`web.recommender.stored_answers`): the ETag, scheme and host.

    ``get_host`` also refuses a host outside ``ALLOWED_HOSTS`` (400), as
    CommonMiddleware does for every request.
    """
    return (etag, request.scheme, request.get_host())


def stored_or_none(request: HttpRequest, etag: str, policy: CachePolicy) -> HttpResponse | None:
    """The answer to a ``GET`` from the body rendered for the same ETag before, with its validator and policy; None if none is kept."""
    stored = ANSWERS.get(stored_answer_key(request, etag)) if request.method == "GET" else None
    if stored is None:
        return None
    return label(HttpResponse(stored.content, content_type=stored.content_type), etag, policy)


def keep(request: HttpRequest, etag: str, response: HttpResponse) -> None:
    """Keep the body of ``response`` (a 200 of a ``GET``) for the next request with this ETag, once it is rendered."""
    if request.method != "GET" or response.streaming:
        return
    key = stored_answer_key(request, etag)

    def store(rendered: HttpResponse) -> None:
        ANSWERS.put(key, StoredAnswer(rendered.content, rendered["Content-Type"]))

    if getattr(response, "is_rendered", True):
        store(response)
    else:  # a DRF Response renders after the view returns
        response.add_post_render_callback(store)


def not_modified_or(request: HttpRequest, etag: str, policy: CachePolicy, answer: Callable[[], HttpResponse]) -> HttpResponse:
    """304 if the client holds ``etag``, else the body kept for ``etag``, else ``answer()``.

    A 200 gets the ETag and the policy, and its body is kept; other statuses
    get nothing and are not kept. ``If-None-Match: *`` is a 304 only where the
    answer would be a 200 (a 404 stays a 404).
    """
    conditional = request.method in ("GET", "HEAD")
    if conditional and matches(request, etag, exists=False):
        return label(HttpResponseNotModified(), etag, policy)
    stored = stored_or_none(request, etag, policy)
    if stored is not None:
        return label(HttpResponseNotModified(), etag, policy) if names_any(request) else stored
    response = answer()
    if response.status_code == 200:
        label(response, etag, policy)
        keep(request, etag, response)
        if conditional and names_any(request):
            return label(HttpResponseNotModified(), etag, policy)
    return response


def conditional(validator: Callable[..., tuple[str, CachePolicy]]) -> Callable:
    """Decorate a view's ``get`` (DRF or Django class-based): ``validator(request, **url kwargs)`` gives the ETag and policy.

    Runs inside the handler, so after DRF's authentication and permission
    checks: a request that may not see the data gets its 401/403, never a 304.
    """

    def decorate(method: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(method)
        def handler(view: Any, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            etag, policy = validator(request, **kwargs)
            return not_modified_or(request, etag, policy, lambda: method(view, request, *args, **kwargs))

        return handler

    return decorate
