"""Who may read and write a user's ratings and recommendations.

* MovieLens users (ids below ``PROFILE_USER_ID_START``) are public data: anyone
  may read their ratings and recommendations; only staff accounts may write
  for them (a browsing service acting for its users holds a staff token).
* A site profile's data belongs to its account: only that account (or staff)
  may read or write it.
* The catalogue (movies, similar movies) is public. Runs are the operators'
  (staff only, web/progress/access.py): a browsing service reads them with
  the staff token it writes with.
"""

from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS, BasePermission

from web.recommender.models import Profile, is_profile_id


def may_act_for(account, user_id: int) -> bool:
    """Whether the signed-in ``account`` may write ``user_id``'s ratings (its own profile, or staff)."""
    if account is None or not account.is_authenticated:
        return False
    if account.is_staff:
        return True
    return Profile.objects.filter(account=account, user_id=user_id).exists()


class UserDataPermission(BasePermission):
    """Reads of MovieLens users are public; everything else needs the profile's own account or staff."""

    message = "You may only change (or, for site profiles, see) your own ratings."

    def has_permission(self, request, view) -> bool:
        user_id = int(view.kwargs["user_id"])
        if request.method in SAFE_METHODS and not is_profile_id(user_id):
            return True
        return may_act_for(request.user, user_id)


class ServicePermission(BasePermission):
    """Creating users and sending events is a browsing service's: a staff account's token (or session)."""

    message = "Only a service account (a staff account's token) may create users or send events."

    def has_permission(self, request, view) -> bool:
        account = request.user
        return account is not None and account.is_authenticated and account.is_staff
