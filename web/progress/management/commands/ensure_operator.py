"""``python manage.py ensure_operator``: create or update an operator, the account in the group "operators".

The group holds ``progress.operate_runs`` (the progress page and the runs
API), not the right to write for MovieLens users or read private profiles.
The account is also ``is_staff``, which Django's admin requires to let it in
(``/admin/``, where it may view runs); ``is_staff`` grants nothing else.

The password is read from standard input with ``--password-stdin`` (the
cluster's way: ``make k8s-operator`` pipes it from the Secret
movielens-operator into ``kubectl exec -i``, so it is on no command line, in
no pod environment and in no log), else ``$OPERATOR_PASSWORD`` if set, else a
new random one that is printed once (``make demo`` shows it). In production
(``APP_ENV=production``) a password must be given explicitly: a printed random
password would end up in the pod's logs. Running it again resets the
password: it is idempotent.

``--remove`` takes an operator out: the account leaves the group and the
admin (``is_staff``), its password becomes unusable (which also ends its
sessions: an open progress page's next poll is refused and the page says so)
and its API keys are revoked. The account row stays, with no rights.
"""

from __future__ import annotations

import os
import secrets
import sys

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from web.accounts.models import ApiToken
from web.accounts.permissions import OPERATORS, join_group

PASSWORD_ENV = "OPERATOR_PASSWORD"


class Command(BaseCommand):
    help = "Create or update an operator (group 'operators') for the progress page (password from $OPERATOR_PASSWORD, else random and printed)."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="operator", help="the operator's user name (default: operator)")
        parser.add_argument("--password-stdin", action="store_true",
                            help="read the password from standard input (its first line) instead of $OPERATOR_PASSWORD")
        parser.add_argument("--remove", action="store_true",
                            help="take the operator out: no group, no admin, no password, no sessions, no API keys")

    def handle(self, *args, username: str, password_stdin: bool = False, remove: bool = False, **options):
        if remove:
            self._remove(username)
            return
        if password_stdin:
            given = sys.stdin.readline().rstrip("\r\n")
            if not given:
                raise CommandError("--password-stdin: standard input held no password")
        else:
            given = os.environ.get(PASSWORD_ENV, "")
        if settings.PRODUCTION and not given:
            raise CommandError(f"APP_ENV=production: set {PASSWORD_ENV} to the operator's password (or pipe it to "
                               "--password-stdin); a random one would be printed into the logs.")
        password = given or secrets.token_urlsafe(12)
        User = get_user_model()
        user = User.objects.filter(username=username).first() or User(username=username)
        try:
            validate_password(password, user)
        except ValidationError as exc:
            source = "the password on standard input" if password_stdin else PASSWORD_ENV
            raise CommandError(f"{source} is too weak: {' '.join(exc.messages)}") from exc
        created = user.pk is None
        user.is_staff = True  # only so that the Django admin lets the operator in
        user.is_active = True
        user.set_password(password)
        with transaction.atomic():
            user.save()
            join_group(user, OPERATORS)
        self.stdout.write(f"{'Created' if created else 'Updated'} operator {username!r} (group {OPERATORS}).")
        if not given:
            self.stdout.write(f"  user name: {username}\n  password:  {password}")

    def _remove(self, username: str) -> None:
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No account {username!r}: nothing to remove.")
        if user.is_superuser:
            raise CommandError(f"{username!r} is a superuser, which holds every permission whatever its groups; "
                               "take that away in the admin first.")
        with transaction.atomic():
            user.groups.remove(*user.groups.filter(name=OPERATORS))
            user.is_staff = False
            user.set_unusable_password()  # a new session hash: every session of the account is over
            user.save()
            keys = ApiToken.objects.revoke_all(user)
        self.stdout.write(f"Removed operator {username!r}: signed out everywhere, {keys} API key(s) revoked.")
