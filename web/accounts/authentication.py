"""``Authorization: Token <key>`` over hashed keys: DRF's scheme, one indexed lookup per request."""

from __future__ import annotations

from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from web.accounts.models import ApiToken, digest


class HashedTokenAuthentication(TokenAuthentication):
    """DRF's ``TokenAuthentication`` (same header, same 401s), looking the key up by its SHA-256.

    The lookup hits the unique index on ``digest`` and joins the user: one query,
    as DRF's own token check. A digest copied from the table is not a key: its
    own digest matches nothing.
    """

    keyword = "Token"
    model = ApiToken

    def authenticate_credentials(self, key: str) -> tuple:
        try:
            token = ApiToken.objects.select_related("user").get(digest=digest(key))
        except ApiToken.DoesNotExist as exc:
            raise AuthenticationFailed("Invalid token.") from exc
        if not token.user.is_active:
            raise AuthenticationFailed("User inactive or deleted.")
        return token.user, token
