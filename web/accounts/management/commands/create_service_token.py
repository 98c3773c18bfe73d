"""``python manage.py create_service_token NAME``: a service account in the group "services" and a new API key.

The key is printed once, on its own last line, and only its SHA-256 is
stored: lose it and issue another. Without an option the account's other
keys keep working, so a client can move to the new key before the old one is
revoked with ``--revoke-older`` (every key but the newest; or in the admin,
by its row); ``--rotate`` revokes them all first (a leaked key); ``--revoke``
only revokes. The
account has no usable password: it signs in nowhere, it only sends its key.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from web.accounts.models import ApiToken
from web.accounts.permissions import SERVICES, join_group


class Command(BaseCommand):
    help = "Create a service account (group 'services') if needed and print a new API key for it once."

    def add_arguments(self, parser):
        parser.add_argument("name", help="the service account's user name, e.g. browsing")
        actions = parser.add_mutually_exclusive_group()
        actions.add_argument("--rotate", action="store_true", help="revoke the account's existing keys, then issue one")
        actions.add_argument("--revoke", action="store_true", help="revoke the account's keys and issue none")
        actions.add_argument("--revoke-older", action="store_true",
                             help="revoke every key of the account but the newest and issue none (once the service sends the newest)")

    def handle(self, *args, name: str, rotate: bool = False, revoke: bool = False, revoke_older: bool = False,
               **options):
        User = get_user_model()
        with transaction.atomic():
            account = User.objects.filter(username=name).first()
            if revoke or revoke_older:
                if account is None:
                    raise CommandError(f"No account {name!r}: nothing to revoke.")
                revoked = ApiToken.objects.revoke_older(account) if revoke_older else ApiToken.objects.revoke_all(account)
                self.stdout.write(f"Revoked {revoked} key(s) of {name!r}.")
                return
            if account is None:
                account = User(username=name)
                account.set_unusable_password()
                account.save()
            elif account.is_staff or account.is_superuser:
                # A service key on an operator's or admin's account would carry their rights into a program.
                raise CommandError(f"{name!r} is a staff or superuser account; give the service an account of its own.")
            join_group(account, SERVICES)
            revoked = ApiToken.objects.revoke_all(account) if rotate else 0
            key = ApiToken.objects.issue(account, name="create_service_token")
        if rotate:
            self.stdout.write(f"Revoked {revoked} key(s) of {name!r}.")
        self.stdout.write(f"New API key of service {name!r} (shown once; send it as 'Authorization: Token <key>'):")
        self.stdout.write(key)
