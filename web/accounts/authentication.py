"""``Authorization: Token <key>`` over hashed keys: DRF's scheme, one indexed lookup per request."""

from __future__ import annotations

import functools

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from web import prepared
from web.accounts.models import ApiToken, digest
from web.dbreads import first_read

_User = get_user_model()
TOKEN_FIELDS = [field.attname for field in ApiToken._meta.concrete_fields]
USER_FIELDS = [field.attname for field in _User._meta.concrete_fields]
"""The columns :func:`lookup_sql` reads, by attribute name, as ``Model.from_db`` takes them."""


@functools.cache
def lookup_sql() -> str:
    """The token by its digest, with its account and the account's permissions, as one statement written once.

    The permissions are the ``app_label.codename`` of the account's own and
    its groups' permissions: what Django's ModelBackend reads for an active
    account that is not a superuser (with two queries). Written in SQL rather
    than built by the ORM on every request: compiling the equivalent queryset
    (a join, an annotation) cost more CPU than the query itself.
    """
    token, user = ApiToken._meta.db_table, _User._meta.db_table
    columns = [f'{table}."{field.column}"' for table, model in ((token, ApiToken), (user, _User))
               for field in model._meta.concrete_fields]  # in the order of TOKEN_FIELDS, then USER_FIELDS
    return f"""
        SELECT {", ".join(columns)},
               ARRAY(SELECT c.app_label || '.' || p.codename
                     FROM {Permission._meta.db_table} p JOIN {ContentType._meta.db_table} c ON c.id = p.content_type_id
                     WHERE p.id IN (SELECT permission_id FROM {_User.user_permissions.through._meta.db_table}
                                    WHERE user_id = {token}.user_id)
                        OR p.id IN (SELECT g.permission_id FROM {Group.permissions.through._meta.db_table} g
                                    JOIN {_User.groups.through._meta.db_table} m ON m.group_id = g.group_id
                                    WHERE m.user_id = {token}.user_id))
        FROM {token} JOIN {user} ON {user}."{_User._meta.pk.column}" = {token}.user_id
        WHERE {token}.digest = %s"""


def token_with_permissions(token_digest: str) -> tuple[ApiToken, list[str]]:
    """The token of ``token_digest`` with its account loaded (``token.user``) and the account's permission names;
    ApiToken.DoesNotExist if no token has that digest."""
    with connection.cursor() as cursor:
        prepared.execute(cursor, "token_lookup", lookup_sql(), [token_digest])  # planned once per connection
        row = cursor.fetchone()
    if row is None:
        raise ApiToken.DoesNotExist
    token = ApiToken.from_db(connection.alias, TOKEN_FIELDS, row[:len(TOKEN_FIELDS)])
    token.user = _User.from_db(connection.alias, USER_FIELDS, row[len(TOKEN_FIELDS):-1])
    return token, row[-1]


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
        try:
            # The request's first query: no health check before it, a retry on a new connection instead (web.dbreads).
            token, permission_names = first_read(lambda: token_with_permissions(digest(key)))
        except ApiToken.DoesNotExist as exc:
            raise AuthenticationFailed("Invalid token.") from exc
        account = token.user
        if not account.is_active:
            raise AuthenticationFailed("User inactive or deleted.")
        if not account.is_superuser:  # a superuser's has_perm is True without the cache; ModelBackend reads all for it
            account._perm_cache = set(permission_names)
        return account, token
