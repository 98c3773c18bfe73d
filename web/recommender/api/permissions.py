"""Who may read and write a user's ratings and recommendations (docs/api.md, "Who may do what").

* MovieLens users (ids below ``PROFILE_USER_ID_START``) are public data: anyone
  may read their ratings and recommendations; only accounts holding
  ``recommender.write_any_user`` (the group "services": a browsing service
  acting for its users) may write for them.
* A service's own users (``POST /api/users``, ids from the profiles' sequence)
  are read and written by services only (and by accounts granted
  ``recommender.read_private_profiles``, for reads).
* A site profile's data belongs to its account: only that account writes it;
  only it, or an account granted ``recommender.read_private_profiles``, reads it.
  Operating runs or writing for MovieLens users grants neither.
* The catalogue (movies, similar movies) is public. Runs are the operators'
  (``progress.operate_runs``, web/progress/access.py).
"""

from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS, BasePermission

from web.accounts.permissions import may_read_private_profiles, may_write_any_user
from web.recommender.models import Profile, ServiceUser, is_profile_id


def owns_profile(account, user_id: int) -> bool:  # noqa: ANN001 - a django.contrib.auth user or None
    """Whether ``user_id`` is the site profile of the signed-in ``account``."""
    if account is None or not account.is_authenticated:
        return False
    return Profile.objects.filter(account=account, user_id=user_id).exists()


def serves_user(account, user_id: int) -> bool:  # noqa: ANN001
    """Whether ``account`` is a service and ``user_id`` a MovieLens user or a user a service created."""
    if not may_write_any_user(account):
        return False
    return not is_profile_id(user_id) or ServiceUser.objects.filter(user_id=user_id).exists()


def may_act_for(account, user_id: int) -> bool:  # noqa: ANN001
    """Whether ``account`` may write ``user_id``'s ratings: its own profile, or, for a service, a MovieLens user or
    one of the services' own users."""
    return serves_user(account, user_id) or owns_profile(account, user_id)


def may_read(account, user_id: int) -> bool:  # noqa: ANN001
    """Whether ``account`` may read ``user_id``'s ratings and recommendations (MovieLens users: anyone)."""
    if not is_profile_id(user_id):
        return True
    return owns_profile(account, user_id) or may_read_private_profiles(account) or serves_user(account, user_id)


class UserDataPermission(BasePermission):
    """Reads: :func:`may_read`; writes: :func:`may_act_for`."""

    message = "You may only change (or, for site profiles, see) your own ratings."

    def has_permission(self, request, view) -> bool:
        user_id = int(view.kwargs["user_id"])
        if request.method in SAFE_METHODS:
            return may_read(request.user, user_id)
        return may_act_for(request.user, user_id)


class ServicePermission(BasePermission):
    """Creating users and sending events is a browsing service's: an account holding ``recommender.write_any_user``."""

    message = "Only a service account (group \"services\", manage.py create_service_token) may create users or send events."

    def has_permission(self, request, view) -> bool:
        return may_write_any_user(request.user)
