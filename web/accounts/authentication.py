"""``Authorization: Token <key>`` over hashed keys: DRF's scheme, one indexed lookup per request."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db.models.expressions import RawSQL
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from web.accounts.models import ApiToken, digest
from web.dbreads import first_read

_User = get_user_model()
PERMISSION_NAMES = RawSQL(f"""
    ARRAY(SELECT c.app_label || '.' || p.codename
          FROM {Permission._meta.db_table} p JOIN {ContentType._meta.db_table} c ON c.id = p.content_type_id
          WHERE p.id IN (SELECT permission_id FROM {_User.user_permissions.through._meta.db_table}
                         WHERE user_id = {ApiToken._meta.db_table}.user_id)
             OR p.id IN (SELECT g.permission_id FROM {Group.permissions.through._meta.db_table} g
                         JOIN {_User.groups.through._meta.db_table} m ON m.group_id = g.group_id
                         WHERE m.user_id = {ApiToken._meta.db_table}.user_id))""", [])
"""The ``app_label.codename`` of the token's account's permissions, its own and its groups': what Django's
ModelBackend reads for an active account that is not a superuser (with two queries)."""


class HashedTokenAuthentication(TokenAuthentication):
    """DRF's ``TokenAuthentication`` (same header, same 401s), looking the key up by its SHA-256.

    The lookup hits the unique index on ``digest`` and joins the user: one query,
    as DRF's own token check. A digest copied from the table is not a key: its
    own digest matches nothing.

    The same query reads the account's permissions (its own and its groups',
    exactly the sets Django's ModelBackend reads with two more queries) into
    the user object's permission cache, which ``has_perm`` then answers from
    for the rest of the request: every write of the API asks it (a service's
    permission), and a single event's POST paid two round trips more for it
    (docs/decisions.md, "Events").
    """

    keyword = "Token"
    model = ApiToken

    def authenticate_credentials(self, key: str) -> tuple:
        query = ApiToken.objects.select_related("user").annotate(permission_names=PERMISSION_NAMES)
        try:
            # The request's first query: no health check before it, a retry on a new connection instead (web.dbreads).
            token = first_read(lambda: query.get(digest=digest(key)))
        except ApiToken.DoesNotExist as exc:
            raise AuthenticationFailed("Invalid token.") from exc
        account = token.user
        if not account.is_active:
            raise AuthenticationFailed("User inactive or deleted.")
        if not account.is_superuser:  # a superuser's has_perm is True without the cache; ModelBackend reads all for it
            account._perm_cache = set(token.permission_names)
        return account, token
