"""Error pages: the site's own styled 404, 403 and 500 in every mode, JSON for everything under /api/.

Django shows its debug pages whenever ``DEBUG`` is on (a 404 lists every URL pattern; under the site's
Content-Security-Policy they are also unstyled). With DEBUG on, :class:`ErrorPagesMiddleware` answers
with the same pages as production instead, unless a developer asks for Django's with
``DEBUG_ERROR_PAGES=1``. With DEBUG off, Django calls the handlers below itself (``web.urls``).

An unmatched path under /api/ (``/api/nope``, ``/api/users/abc/recommendations``) never reaches
DRF, whose exception handler makes the API's JSON errors: the handlers answer JSON there too, in
the API's error shape.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.core import signals
from django.core.exceptions import BadRequest, PermissionDenied, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import Resolver404, get_resolver
from django.utils.log import log_response

logger = logging.getLogger("django.request")

NOT_FOUND = "There is nothing here. The address may be mistyped, or what it showed was removed."
FORBIDDEN = "This page is not open to your account."
STALE_FORM = ("This form came from a page that is out of date: you signed in or out since it was opened, or it was "
              "open a long time. Nothing was saved. Go back, reload the page and try again.")
SERVER_ERROR = "Something went wrong on our side; nothing you did caused it. Please try again in a moment."


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


GET_OBJECT_OR_404 = "matches the given query."
"""The end of ``get_object_or_404``'s message ("No Movie matches the given query."): a model's class name, not words for
a member."""


def _message(exception: Exception | None, default: str) -> str:
    """The view's own message (``Http404("No user with id 5.")``); never Django's resolver or lookup detail."""
    if exception is None or isinstance(exception, Resolver404):
        return default
    text = str(exception)
    return text if text and not text.startswith(("{", "[")) and not text.endswith(GET_OBJECT_OR_404) else default


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse({"error": f"Not found: {request.path}", "status": 404}, status=404)
    return render(request, "404.html", {"message": _message(exception, NOT_FOUND)}, status=404)


def forbidden(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse({"error": _message(exception, FORBIDDEN), "status": 403}, status=403)
    return render(request, "403.html", {"message": _message(exception, FORBIDDEN)}, status=403)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """``CSRF_FAILURE_VIEW``: a form from a page that is out of date (signed in or out since, another tab) gets the
    site's 403 saying what to do; Django's own page says "CSRF verification failed", unstyled. The page's script reads
    any answer that is not JSON as "this page has expired" (web/static/js/site.js). The API's views are exempt (DRF
    checks a session's CSRF token itself and answers JSON), so no JSON here."""
    return render(request, "403.html", {"message": STALE_FORM}, status=403)


def server_error(request: HttpRequest) -> HttpResponse:
    """Stand-alone 500 page: the failure may be in what base.html reads (the session, the user)."""
    if _wants_json(request):
        return JsonResponse({"error": SERVER_ERROR, "status": 500}, status=500)
    return HttpResponse(render_to_string("500.html", {"message": SERVER_ERROR}), status=500)


class ErrorPagesMiddleware:
    """With DEBUG on and ``DEBUG_ERROR_PAGES`` off: the handlers above instead of Django's debug pages.

    Placed after CommonMiddleware, so ``/movies`` still redirects to ``/movies/`` (its slash redirect
    looks at the 404 this returns). With DEBUG off it does nothing: Django calls the handlers itself.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def _active(self) -> bool:
        return settings.DEBUG and not settings.DEBUG_ERROR_PAGES

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self._active():
            # Django resolves the URL after every middleware has run, and in DEBUG answers a path that
            # matches nothing with its list of URL patterns: resolve first, as Django will.
            try:
                get_resolver(getattr(request, "urlconf", None)).resolve(request.path_info)
            except Resolver404 as exc:
                return self._logged(request, not_found(request, exc))
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not self._active():
            return None
        if isinstance(exception, Http404):
            return self._logged(request, not_found(request, exception))
        if isinstance(exception, (PermissionDenied, BadRequest, SuspiciousOperation)):
            return None  # Django calls handler403 in every mode; a 400 is the client's to debug
        # Signalled and logged with its traceback as Django does for an uncaught exception.
        signals.got_request_exception.send(sender=None, request=request)
        return self._logged(request, server_error(request), exception)

    @staticmethod
    def _logged(request: HttpRequest, response: HttpResponse, exception: Exception | None = None) -> HttpResponse:
        log_response("%s: %s", response.reason_phrase, request.path, response=response, request=request,
                     exception=exception)
        return response
