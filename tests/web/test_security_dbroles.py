"""The web's database role can read and write the app's rows and nothing else (issue #16, item 5).

The attack: an SQL injection anywhere in the web or the worker runs its SQL
as their database role. As a superuser that is ``COPY ... TO PROGRAM`` (a
shell on the database server), reading ``pg_authid`` (every password hash),
``ALTER ROLE`` or dropping the tables. Each test here connects exactly as the
web process does (the role its settings choose) to the test database, whose
tables the owner role created by migrating it, and plays one of those moves.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg2
import pytest
from django.conf import settings
from django.db import connection
from psycopg2 import errors

from web.runs import scores
from tests.helpers import drop_run_tables
from web.dbroles import roles

REPO = Path(__file__).resolve().parents[2]
WEB_ROLE_PROBE = "import web.wsgi; from django.conf import settings; print(settings.DATABASES['default']['USER'])"


@pytest.fixture(scope="module")
def web_role() -> str:
    """The role the web server's workers connect as: their settings, loaded the way a worker imports ``web.wsgi``."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DATABASE_ROLE", "APP_ENV"}}
    result = subprocess.run(
        [sys.executable, "-c", WEB_ROLE_PROBE], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip().splitlines()[-1]


@pytest.fixture
def as_web(db, web_role):
    """A connection to the test database as the web's role (autocommit: each attack is its own statement)."""
    test_db = settings.DATABASES["default"]
    conn = psycopg2.connect(
        dbname=test_db["NAME"], host=test_db["HOST"], port=test_db["PORT"] or 5432, user=web_role,
        password=os.environ.get("DATABASE_APP_PASSWORD") or None,
    )
    conn.autocommit = True
    yield conn.cursor()
    conn.close()


def test_the_web_connects_as_the_data_only_role(db, web_role):
    """The web server's settings pick the app role, which is neither superuser nor able to create roles or databases."""
    assert web_role == roles.APP_ROLE
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper, rolcreaterole, rolcreatedb, rolbypassrls FROM pg_roles WHERE rolname = %s", [web_role])
        assert cursor.fetchone() == (False, False, False, False)


def test_web_role_cannot_create_a_table(as_web):
    """CREATE TABLE in the app's schema is refused."""
    with pytest.raises(errors.InsufficientPrivilege):
        as_web.execute("CREATE TABLE attacker_notes (note text)")


def test_web_role_cannot_drop_or_alter_the_apps_tables(as_web):
    """DROP TABLE, TRUNCATE and ALTER TABLE of the ratings are refused (only the owner may), and the table stays."""
    for statement in (
        "DROP TABLE recommender_rating CASCADE",
        "TRUNCATE recommender_rating",
        "ALTER TABLE recommender_rating ADD COLUMN attacker text",
    ):
        with pytest.raises(errors.InsufficientPrivilege):
            as_web.execute(statement)
    as_web.execute("SELECT to_regclass('recommender_rating') IS NOT NULL")
    assert as_web.fetchone()[0] is True


def test_web_role_cannot_run_a_program_on_the_database_server(as_web, tmp_path):
    """COPY ... TO PROGRAM (a shell as the postgres user) is refused and the program never runs."""
    marker = tmp_path / "pwned"
    with pytest.raises(errors.InsufficientPrivilege):
        as_web.execute(f"COPY (SELECT 1) TO PROGRAM 'touch {marker}'")
    assert not marker.exists()


def test_web_role_cannot_read_or_write_server_files(as_web):
    """Reading a server file, by COPY or pg_read_file, is refused."""
    for statement in ("COPY recommender_tag FROM '/etc/passwd'", "SELECT pg_read_file('/etc/passwd')"):
        with pytest.raises(errors.InsufficientPrivilege):
            as_web.execute(statement)


def test_web_role_cannot_read_password_hashes(as_web):
    """pg_authid (every role's password hash) is refused."""
    with pytest.raises(errors.InsufficientPrivilege):
        as_web.execute("SELECT rolname, rolpassword FROM pg_authid")


def test_web_role_cannot_change_roles(as_web):
    """Making itself superuser, or resetting the owner's password, is refused."""
    for statement in (
        f"ALTER ROLE {roles.APP_ROLE} SUPERUSER",
        f"ALTER ROLE {roles.APP_ROLE} CREATEROLE",
        f"ALTER ROLE {roles.OWNER_ROLE} PASSWORD 'attacker'",
        "CREATE ROLE attacker LOGIN SUPERUSER",
        f"GRANT {roles.OWNER_ROLE} TO {roles.APP_ROLE}",
    ):
        with pytest.raises(errors.InsufficientPrivilege):
            as_web.execute(statement)


def test_web_role_cannot_create_functions(as_web):
    """A function in an untrusted language (C: any shared library) or in the app's schema is refused."""
    with pytest.raises(errors.InsufficientPrivilege):
        as_web.execute("CREATE FUNCTION attacker_system(cstring) RETURNS int AS '/lib/x86_64-linux-gnu/libc.so.6', 'system' LANGUAGE c")
    with pytest.raises(errors.InsufficientPrivilege):
        as_web.execute("CREATE FUNCTION public.attacker() RETURNS int LANGUAGE sql AS 'SELECT 1'")


def test_web_role_has_a_statement_timeout(as_web):
    """Every statement of the web's role is cut off after the configured timeout (a runaway query cannot hold a connection)."""
    as_web.execute("SHOW statement_timeout")
    assert as_web.fetchone()[0] == roles.APP_STATEMENT_TIMEOUT


def test_web_role_reads_and_writes_the_apps_rows(as_web):
    """What the web and the worker do still works: select, insert, update, delete and a sequence's next value."""
    as_web.execute("INSERT INTO recommender_movie (movie_id, title, genres, year, imdb_id) VALUES (-7, 'Probe', '{}', NULL, '')")
    as_web.execute("UPDATE recommender_movie SET title = 'Probe 2' WHERE movie_id = -7")
    as_web.execute("SELECT title FROM recommender_movie WHERE movie_id = -7")
    assert as_web.fetchone()[0] == "Probe 2"
    as_web.execute("DELETE FROM recommender_movie WHERE movie_id = -7")
    assert as_web.rowcount == 1
    as_web.execute("SELECT nextval('recommender_profile_user_id_seq')")
    assert as_web.fetchone()[0] >= 1_000_000_000


@pytest.mark.django_db(transaction=True)
def test_web_role_writes_a_run_table_the_owner_created_later(web_role):
    """A run's score table, created by the job (as the owner) after the migrations, is granted to the web's role at once.

    The worker's refresh deletes and COPYs a user's rows of the active run, through the partitioned parent.
    """
    drop_run_tables()
    run_id = 990_001
    scores.create_run_table(run_id)
    try:
        test_db = settings.DATABASES["default"]
        conn = psycopg2.connect(
            dbname=test_db["NAME"], host=test_db["HOST"], port=test_db["PORT"] or 5432, user=web_role,
            password=os.environ.get("DATABASE_APP_PASSWORD") or None,
        )
        conn.autocommit = True
        try:
            cursor = conn.cursor()
            cursor.execute(f"INSERT INTO {scores.run_table(run_id)} (run_id, user_id, movie_id, score, rank) VALUES (%s, 1, 1, 0.5, 1)", [run_id])
            cursor.execute(f"DELETE FROM {scores.run_table(run_id)} WHERE run_id = %s", [run_id])
            assert cursor.rowcount == 1
            with pytest.raises(errors.InsufficientPrivilege):
                cursor.execute(f"DROP TABLE {scores.run_table(run_id)}")
        finally:
            conn.close()
    finally:
        drop_run_tables()
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {scores.done_table(run_id)}")
