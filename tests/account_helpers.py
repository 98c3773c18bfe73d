"""The accounts tests sign in as, built the way the commands build them (one place, not a copy per test module).

* an operator: in the group "operators" (``ensure_operator``), not a superuser;
* a service: in the group "services" with no usable password (``create_service_token``);
* a member: a plain signed-up account with its site profile.

Each comes with an API key issued by :meth:`ApiToken.objects.issue`, as a client would hold it.
"""

from __future__ import annotations

from django.contrib.auth.models import Permission, User

from web.accounts.models import ApiToken
from web.accounts.permissions import OPERATORS, SERVICES, join_group
from web.recommender.models import Profile


def make_operator(name: str = "op", password: str | None = None) -> tuple[User, str]:
    """An account in "operators" (``is_staff`` too, as ``ensure_operator`` makes it, for the admin) and its API key."""
    account = User.objects.create_user(name, password=password or f"{name}-pass-123", is_staff=True)
    join_group(account, OPERATORS)
    return account, ApiToken.objects.issue(account)


def make_service(name: str = "service") -> tuple[User, str]:
    """An account in "services" (writes for any MovieLens user) and its API key."""
    account = User.objects.create_user(name)
    join_group(account, SERVICES)
    return account, ApiToken.objects.issue(account)


def make_member(name: str) -> tuple[User, Profile, str]:
    """A signed-up account, its profile and its API key: ``(account, profile, key)``."""
    account = User.objects.create_user(name, password=f"{name}-pass-123")
    return account, Profile.objects.for_account(account), ApiToken.objects.issue(account)


def issue_key(account: User) -> str:
    """A new API key for an existing account."""
    return ApiToken.objects.issue(account)


def grant(account: User, permission: str) -> None:
    """Give ``account`` one permission by its ``app_label.codename`` (as an admin would, by hand)."""
    app_label, codename = permission.split(".")
    account.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))


def revoke_tokens(account: User) -> None:
    """Revoke every key of ``account`` (what ``create_service_token NAME --revoke`` does)."""
    ApiToken.objects.revoke_all(account)


def stored_token_values(account: User) -> list[str]:
    """Every value the token table holds for ``account``: what someone reading the database would copy."""
    return [value for row in ApiToken.objects.filter(user=account).values_list() for value in row if isinstance(value, str) and value]
