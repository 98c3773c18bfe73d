"""Site profiles: an account's own rating identity, with user ids far above MovieLens'."""

from __future__ import annotations

from django.conf import settings
from django.db import connection, models
from django.utils import timezone

PROFILE_USER_ID_START = 1_000_000_000
"""First user id of a site profile; MovieLens user ids stay far below (ml-latest: ~330,000).

Profiles draw their ids from the PostgreSQL sequence ``recommender_profile_user_id_seq``
(migration 0005), which starts here and ends at the largest ``integer``, so a profile
can never take an id that a MovieLens file uses, whichever set is loaded later.
"""


def next_profile_user_id() -> int:
    """The next id from the profile sequence (>= :data:`PROFILE_USER_ID_START`)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval('recommender_profile_user_id_seq')")
        return int(cursor.fetchone()[0])


class ProfileManager(models.Manager):
    def for_account(self, account) -> Profile:
        """The signed-in account's profile, created on first use (a superuser made by ``createsuperuser`` too)."""
        try:
            return account.profile
        except Profile.DoesNotExist:
            profile, _ = self.get_or_create(account=account)
            return profile


class Profile(models.Model):
    """A site account's own rating identity: ``user_id`` is what its ratings and scores are stored under.

    Ids come from a sequence that starts at :data:`PROFILE_USER_ID_START`, far
    above any MovieLens user id, so own profiles and MovieLens users never share
    an id (a CHECK constraint enforces the range).
    """

    account = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    user_id = models.IntegerField(unique=True, default=next_profile_user_id, editable=False)
    created_at = models.DateTimeField(default=timezone.now)

    objects = ProfileManager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(user_id__gte=PROFILE_USER_ID_START), name="profile_user_id_above_movielens"
            )
        ]
        # Checked by name in web/accounts/permissions.py: "services" hold write_any_user; read_private_profiles
        # is granted to no group, only to one account at a time.
        permissions = [
            ("write_any_user", "Can write ratings and events for any MovieLens user"),
            ("read_private_profiles", "Can read every site profile's ratings and recommendations"),
        ]

    def __str__(self) -> str:
        return f"{self.account} (user {self.user_id})"


def is_profile_id(user_id: int) -> bool:
    """Whether ``user_id`` belongs to a site profile (not a MovieLens user)."""
    return user_id >= PROFILE_USER_ID_START
