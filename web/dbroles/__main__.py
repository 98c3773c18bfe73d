"""``python -m web.dbroles DATABASE``: print the superuser's SQL that sets up both roles (web.dbroles.roles.setup_sql).

The passwords come from ``DATABASE_OWNER_PASSWORD`` and ``DATABASE_APP_PASSWORD``
(never the command line); ``make k8s-db-roles`` pipes the output into
``psql`` in the Postgres pod, so they travel through a pipe only.
"""

from __future__ import annotations

import os
import sys

from web.dbroles.roles import setup_sql

PASSWORD_VARIABLES = ("DATABASE_OWNER_PASSWORD", "DATABASE_APP_PASSWORD")
USAGE = "usage: python -m web.dbroles DATABASE  (passwords in DATABASE_OWNER_PASSWORD, DATABASE_APP_PASSWORD)"


def main(argv: list[str] | None = None) -> int:
    """Print the SQL; 2 with a message on stderr when the database name or a password is missing or unusable."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args in (["-h"], ["--help"]):
        print(USAGE)
        return 0
    # A leading dash is an option this command does not have, not a database's name (--help used to print SQL
    # for a database called "--help").
    if len(args) != 1 or not args[0].strip() or args[0].startswith("-"):
        print(USAGE, file=sys.stderr)
        return 2
    missing = [name for name in PASSWORD_VARIABLES if not os.environ.get(name)]
    if missing:
        print(f"web.dbroles: set {' and '.join(missing)} (make k8s-secrets puts them in the Secrets movielens-db-owner and movielens-db-app)",
              file=sys.stderr)
        return 2
    try:
        sql = setup_sql(args[0], os.environ["DATABASE_OWNER_PASSWORD"], os.environ["DATABASE_APP_PASSWORD"])
    except ValueError as exc:
        print(f"web.dbroles: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write("\\set ON_ERROR_STOP on\nBEGIN;\n" + sql + "COMMIT;\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
