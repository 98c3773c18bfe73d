"""The backup and restore of docs/kubernetes.md, its own commands run against the embedded PostgreSQL.

Each ``kubectl exec postgres-0 -- sh -c '...'`` of the section "Backing up and restoring Postgres" runs here as
a local shell with what the Postgres pod gives it (``POSTGRES_USER``, the superuser; ``POSTGRES_DB``; the
server's own ``pg_dump``/``pg_restore``, PostgreSQL 16 as on the cluster), and ``make k8s-db-roles`` as the
SQL that target pipes into psql. The restored database must then be what the cluster's processes need: every
table the owner's (the precompute job attaches partitions to them), the app role's rights in place, the data
whole. Before the fix the section restored with ``--no-owner`` as the superuser, so every table became the
superuser's and the next precompute run failed with "permission denied for table recommender_rating".
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from contextlib import closing
from pathlib import Path
from urllib.parse import quote

import psycopg2
import pytest
from django.conf import settings

from tests.helpers import N_USERS, run
from web.dbroles import roles

REPO = Path(__file__).resolve().parents[2]
SECTION = "### Backing up and restoring Postgres"
SUPERUSER = "postgres"
"""pgserver's superuser: the one that trusts the unix socket, as the Postgres image's POSTGRES_USER does in its pod."""

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def documented_steps() -> list[str]:
    """The section's steps in order: each ``sh -c`` body run in the Postgres pod, and ``make k8s-db-roles``."""
    text = (REPO / "docs" / "kubernetes.md").read_text()
    section = text.split(SECTION, 1)[1].split("\n### ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    steps = []
    for line in "\n".join(blocks).splitlines():
        if "exec" in line and "postgres-0" in line:
            steps.append(re.search(r"sh -c '([^']*)'", line).group(1))
        elif line.split("#")[0].strip() == "make k8s-db-roles":
            steps.append("make k8s-db-roles")
    return steps


def _pg_bin() -> Path:
    import pgserver  # development-only, as in web/embedded.py

    return Path(pgserver.__file__).parent / "pginstall" / "bin"


def _shell(script: str, database: str, **io) -> subprocess.CompletedProcess:
    host = settings.DATABASES["default"]["HOST"]
    env = {**os.environ, "PATH": f"{_pg_bin()}:{os.environ['PATH']}", "PGHOST": host,
           "POSTGRES_USER": SUPERUSER, "POSTGRES_DB": database}
    return subprocess.run(["sh", "-c", script], env=env, timeout=300, **io)


def _db_roles(database: str) -> None:
    """What ``make k8s-db-roles`` pipes into psql as the superuser (passwords aside: the socket trusts)."""
    result = _shell('psql --no-psqlrc --quiet -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "$POSTGRES_DB"', database,
                    input=roles.setup_sql(database).encode(), capture_output=True)
    assert result.returncode == 0, result.stderr.decode()[-2000:]


def _connect(database: str, user: str):
    conn = psycopg2.connect(dbname=database, host=settings.DATABASES["default"]["HOST"],
                            port=settings.DATABASES["default"]["PORT"] or 5432, user=user)
    conn.autocommit = True
    return conn


def _contents(database: str) -> dict[str, object]:
    with closing(_connect(database, SUPERUSER)) as conn, conn.cursor() as cursor:
        figures = {}
        for table in ("recommender_rating", "recommender_userscore", "recommender_fittedmodel", "progress_run",
                      "progress_activerun", "accounts_apitoken"):
            cursor.execute(f"SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM {table} t")
            figures[table] = cursor.fetchone()[0]
        cursor.execute("SELECT last_value FROM progress_run_id_seq")
        figures["run id sequence"] = cursor.fetchone()[0]
    return figures


def test_the_documented_backup_restores_a_database_the_owner_and_the_app_can_use(catalogue):
    steps = documented_steps()
    assert steps and "pg_dump" in steps[0], steps
    published = run(algorithm="popularity", top_n=3)
    source = settings.DATABASES["default"]["NAME"]
    target = f"restored_{uuid.uuid4().hex[:10]}"  # a new database, as on a new volume or the one the section re-makes
    with closing(_connect("postgres", SUPERUSER)) as conn, conn.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{target}"')
    dump = REPO / ".local" / f"{target}.dump"
    dump.parent.mkdir(exist_ok=True)
    try:
        with dump.open("wb") as out:
            backup = _shell(steps[0], source, stdout=out, stderr=subprocess.PIPE)
        assert backup.returncode == 0, backup.stderr.decode()[-2000:]
        for step in steps[1:]:
            if step == "make k8s-db-roles":
                _db_roles(target)
                continue
            with dump.open("rb") as given:
                result = _shell(step, target, stdin=given, capture_output=True)
            assert result.returncode == 0, f"{step}:\n{result.stderr.decode()[-2000:]}"

        assert _contents(target) == _contents(source)
        with closing(_connect(target, SUPERUSER)) as conn, conn.cursor() as cursor:
            cursor.execute("SELECT relname, pg_get_userbyid(relowner) FROM pg_class WHERE relnamespace = 'public'::regnamespace "
                           "AND relkind IN ('r', 'p', 'S', 'v') AND pg_get_userbyid(relowner) <> %s", [roles.OWNER_ROLE])
            assert cursor.fetchall() == []  # the owner's, or the job cannot attach a run's table
            cursor.execute("SELECT has_table_privilege(%s, 'recommender_rating', 'INSERT'), "
                           "has_table_privilege(%s, %s, 'SELECT')",
                           [roles.APP_ROLE, roles.APP_ROLE, f"recommender_userscore_r{published.pk}"])
            assert cursor.fetchone() == (True, True)

        # The next precompute run, as the cluster's job connects (the owner role, no embedded set-up on the way).
        db = settings.DATABASES["default"]
        host = f"{quote(db['HOST'], safe='')}:{db['PORT'] or 5432}"
        env = {**os.environ, "DATABASE_URL": f"postgres://{roles.OWNER_ROLE}@{host}/{target}"}
        env.pop("DATABASE_ROLE", None)
        job = subprocess.run([sys.executable, "-m", "jobs.precompute", "--algorithm", "popularity", "--top-n", "3"],
                             cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
        assert job.returncode == 0, job.stderr[-2000:]
        with closing(_connect(target, roles.APP_ROLE)) as conn, conn.cursor() as cursor:  # served to the web's role
            cursor.execute("SELECT count(*) FROM recommender_userscore WHERE run_id = (SELECT run_id FROM progress_activerun)")
            assert cursor.fetchone()[0] == 3 * N_USERS
    finally:
        dump.unlink(missing_ok=True)
        with closing(_connect("postgres", SUPERUSER)) as conn, conn.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{target}" WITH (FORCE)')
