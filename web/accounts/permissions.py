"""The permissions and groups that replace ``is_staff``, named once (docs/api.md, "Who may do what").

The permissions are declared on the models they guard (``Run.Meta`` in
web/runs/models.py, ``Profile.Meta`` in web/recommender/models/profiles.py);
the groups holding them are created by this app's migration
``0002_operators_and_services``. ``is_staff`` grants nothing in the app: it only
lets an account into the Django admin, where it sees what its permissions allow.
"""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Q

OPERATE_RUNS = "progress.operate_runs"
"""Watch, start, cancel and activate precompute runs: the progress page, its charts and ``/api/runs``."""
WRITE_ANY_USER = "recommender.write_any_user"
"""Write ratings and events for any MovieLens user (ids below the profile range): a browsing service."""
READ_PRIVATE_PROFILES = "recommender.read_private_profiles"
"""Read every site profile's ratings and recommendations (granted to no group: one account at a time, by hand)."""

OPERATORS = "operators"
"""Group of the people who run the precompute (``manage.py ensure_operator`` puts an account in it)."""
SERVICES = "services"
"""Group of the client programs that write for MovieLens users (``manage.py create_service_token``)."""

GROUP_PERMISSIONS: dict[str, tuple[str, ...]] = {
    OPERATORS: (OPERATE_RUNS, "progress.view_run", "progress.view_shardprogress"),
    SERVICES: (WRITE_ANY_USER,),
}
"""What each group holds. The view permissions let an operator browse runs read-only in the admin."""


def may_operate_runs(account) -> bool:  # noqa: ANN001 - a django.contrib.auth user or AnonymousUser
    """Whether ``account`` may use the progress page and the runs API."""
    return account is not None and account.is_authenticated and account.has_perm(OPERATE_RUNS)


def may_write_any_user(account) -> bool:  # noqa: ANN001
    """Whether ``account`` writes for MovieLens users other than itself (a service)."""
    return account is not None and account.is_authenticated and account.has_perm(WRITE_ANY_USER)


def may_read_private_profiles(account) -> bool:  # noqa: ANN001
    """Whether ``account`` may read site profiles that are not its own."""
    return account is not None and account.is_authenticated and account.has_perm(READ_PRIVATE_PROFILES)


def ensure_group(name: str) -> Group:
    """The group ``name`` holding its :data:`GROUP_PERMISSIONS`, created or completed if need be.

    The migration ``0002_operators_and_services`` creates the groups; this makes the commands work on a
    database whose rows were flushed since (``manage.py flush``, a transactional test) and is idempotent.
    """
    group, _ = Group.objects.get_or_create(name=name)
    wanted = [permission.split(".") for permission in GROUP_PERMISSIONS[name]]
    query = Q()
    for app_label, codename in wanted:
        query |= Q(content_type__app_label=app_label, codename=codename)
    permissions = list(Permission.objects.filter(query))
    if len(permissions) != len(wanted):
        raise ImproperlyConfigured(f"Permissions of group {name!r} missing: run 'manage.py migrate'.")
    group.permissions.add(*permissions)
    return group


def join_group(account, name: str) -> None:  # noqa: ANN001
    """Put ``account`` in the group ``name`` (one of :data:`GROUP_PERMISSIONS`)."""
    account.groups.add(ensure_group(name))
