"""``python -m web.dbroles DATABASE``: the SQL `make k8s-db-roles` pipes into psql, and its refusals of bad input."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from web.dbroles import roles

REPO = Path(__file__).resolve().parents[2]
OWNER_PASSWORD = "0123456789abcdef0123456789abcdef"
APP_PASSWORD = "fedcba9876543210fedcba9876543210"


def _print_sql(*args: str, **passwords: str) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ.get("PATH", "")} | passwords
    return subprocess.run([sys.executable, "-m", "web.dbroles", *args], check=False, cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=60)


def test_prints_one_transaction_that_stops_at_the_first_error():
    """The SQL runs as one transaction under ON_ERROR_STOP, sets both passwords and the app role's timeout."""
    result = _print_sql("movielens", DATABASE_OWNER_PASSWORD=OWNER_PASSWORD, DATABASE_APP_PASSWORD=APP_PASSWORD)
    assert result.returncode == 0, result.stderr
    sql = result.stdout
    assert sql.startswith("\\set ON_ERROR_STOP on\nBEGIN;\n") and sql.rstrip().endswith("COMMIT;")
    assert f"ALTER ROLE \"{roles.OWNER_ROLE}\"" in sql and f"PASSWORD '{OWNER_PASSWORD}'" in sql
    assert f"PASSWORD '{APP_PASSWORD}'" in sql
    assert f"SET statement_timeout = '{roles.APP_STATEMENT_TIMEOUT}'" in sql
    assert "CREATEDB" not in sql.replace("NOCREATEDB", ""), "the cluster's owner never gets CREATEDB"
    assert "pg_signal_backend" not in sql


@pytest.mark.parametrize(
    ("args", "passwords", "message"),
    [
        ((), {"DATABASE_OWNER_PASSWORD": OWNER_PASSWORD, "DATABASE_APP_PASSWORD": APP_PASSWORD}, "usage: python -m web.dbroles DATABASE"),
        (("movielens",), {"DATABASE_APP_PASSWORD": APP_PASSWORD}, "set DATABASE_OWNER_PASSWORD (make k8s-secrets"),
        (("movielens",), {}, "set DATABASE_OWNER_PASSWORD and DATABASE_APP_PASSWORD"),
        (("movielens",), {"DATABASE_OWNER_PASSWORD": "short", "DATABASE_APP_PASSWORD": APP_PASSWORD}, "at least 16 characters"),
    ],
)
def test_refuses_missing_or_weak_input_with_a_message(args, passwords, message):
    """No database name, a missing password or a short one: exit 2, a message on stderr, and no SQL on stdout."""
    result = _print_sql(*args, **passwords)
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stdout == ""


def test_quotes_a_hostile_password_and_database_name():
    """A quote in a password or a name stays inside its literal or identifier."""
    sql = roles.setup_sql('movie"lens', "x' ; DROP TABLE y; --" + "a" * 16, APP_PASSWORD)
    assert "PASSWORD 'x'' ; DROP TABLE y; --" in sql
    assert 'ON DATABASE "movie""lens"' in sql
    with pytest.raises(ValueError, match="NUL"):
        roles.setup_sql("movielens", "a\x00" + "b" * 20, APP_PASSWORD)


def test_help_prints_the_usage_and_no_sql():
    """``--help`` is a question, not a database called "--help": the usage on stdout, exit 0, no SQL."""
    result = _print_sql("--help", DATABASE_OWNER_PASSWORD=OWNER_PASSWORD, DATABASE_APP_PASSWORD=APP_PASSWORD)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: python -m web.dbroles DATABASE")
    assert "BEGIN;" not in result.stdout


def test_refuses_an_option_it_does_not_know():
    """A mistyped option is refused with the usage rather than taken for the database's name."""
    result = _print_sql("--database=movielens", DATABASE_OWNER_PASSWORD=OWNER_PASSWORD, DATABASE_APP_PASSWORD=APP_PASSWORD)
    assert result.returncode == 2
    assert "usage: python -m web.dbroles DATABASE" in result.stderr
    assert result.stdout == ""


def test_a_missing_password_names_the_secrets_make_k8s_secrets_creates():
    """The message points at the Secrets that hold the passwords on the cluster, by the names k8s/k8s.mk gives them."""
    makefile = (REPO / "k8s" / "k8s.mk").read_text()
    secrets = dict(re.findall(r"^(K8S_DB_(?:OWNER|APP)_SECRET) := (\S+)$", makefile, re.MULTILINE))
    assert set(secrets) == {"K8S_DB_OWNER_SECRET", "K8S_DB_APP_SECRET"}
    result = _print_sql("movielens")
    assert result.returncode == 2
    for name in secrets.values():
        assert name in result.stderr
