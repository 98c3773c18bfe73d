"""Operators only: staff users of Django's auth, for the page, its charts and its JSON.

Anonymous visitors of a page are sent to the sign-in page; a signed-in user
who is not staff gets 403. The JSON endpoints use DRF's session
authentication and ``IsAdminUser`` (``is_staff``), so they answer 403 with a
JSON error to both (there is no login redirect for an API client).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.permissions import IsAdminUser

from web.restapi import MethodsFirst


def staff_required(view: Callable) -> Callable:
    """Redirect anonymous visitors to ``/accounts/login/``; refuse signed-in non-staff users with 403."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not request.user.is_staff:
            raise PermissionDenied("The precompute runs are for operators (staff users) only.")
        return view(request, *args, **kwargs)

    return wrapper


class OperatorsOnly(MethodsFirst):
    """Mix into a DRF view: staff users only, by session (CSRF-checked on writes) or API token (scripts).

    A method the view does not offer is a 405 for anyone (:class:`MethodsFirst`).
    """

    authentication_classes = [SessionAuthentication, TokenAuthentication]
    permission_classes = [IsAdminUser]
