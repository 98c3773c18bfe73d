"""Operators only: accounts holding ``progress.operate_runs`` (the group "operators"), for the page, its charts and its JSON.

Anonymous visitors of a page are sent to the sign-in page; a signed-in
account without the permission (a member, a service) gets 403. The JSON
endpoints take the session or an API token and answer 403 with a JSON error
to both (there is no login redirect for an API client). ``is_staff`` plays
no part (web/accounts/permissions.py).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import BasePermission

from web.accounts.authentication import HashedTokenAuthentication
from web.accounts.permissions import may_operate_runs
from web.restapi import MethodsFirst


def operator_required(view: Callable) -> Callable:
    """Redirect anonymous visitors to ``/accounts/login/``; refuse signed-in non-operators with 403."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not may_operate_runs(request.user):
            raise PermissionDenied("The precompute runs are for operators only.")
        return view(request, *args, **kwargs)

    return wrapper


class MayOperateRuns(BasePermission):
    """DRF: the request's account holds ``progress.operate_runs``."""

    message = "The precompute runs are for operators only."

    def has_permission(self, request, view) -> bool:
        return may_operate_runs(request.user)


class OperatorsOnly(MethodsFirst):
    """Mix into a DRF view: operators only, by session (CSRF-checked on writes) or API token (scripts).

    A method the view does not offer is a 405 for anyone (:class:`MethodsFirst`).
    """

    authentication_classes = [SessionAuthentication, HashedTokenAuthentication]
    permission_classes = [MayOperateRuns]
