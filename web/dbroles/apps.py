"""After every ``migrate``, the owner grants the app role its rights on the tables (web.dbroles.roles.grant_sql)."""

from __future__ import annotations

from django.apps import AppConfig
from django.db import connections
from django.db.models.signals import post_migrate

from web.dbroles import roles


def grant_app_role(using: str = "default", verbosity: int = 1, **kwargs) -> None:
    """Grant the app role its table rights and default privileges in the database just migrated.

    The superuser's setup (``make k8s-db-roles``, the embedded default) does
    this for the app's own database; a database it never saw (pytest-django's
    ``test_movielens``, a scratch database of the end-to-end tests) gets it
    here. Skipped when the app role does not exist (a server set up by hand
    without it) or when this connection is the app role itself.
    """
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT current_user, EXISTS (SELECT FROM pg_roles WHERE rolname = %s)", [roles.APP_ROLE])
        user, app_role_exists = cursor.fetchone()
        if not app_role_exists or user == roles.APP_ROLE:
            if verbosity >= 2:
                print(f"dbroles: no grants to {roles.APP_ROLE} (connected as {user}; role exists: {app_role_exists})")
            return
        cursor.execute(roles.grant_sql(for_owner=False))


class DbRolesConfig(AppConfig):
    name = "web.dbroles"
    label = "dbroles"
    verbose_name = "Database roles"

    def ready(self) -> None:
        # Sent once per migrated app: dispatch_uid makes it once per migrate (the grants are the same each time).
        post_migrate.connect(_grant_once, dispatch_uid="web.dbroles.grant_app_role")


def _grant_once(sender: AppConfig, using: str = "default", verbosity: int = 1, **kwargs) -> None:
    if sender.label == DbRolesConfig.label:
        grant_app_role(using=using, verbosity=verbosity)
