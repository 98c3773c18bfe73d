"""The database's two login roles, and the SQL that creates them and hands out their privileges.

* :data:`OWNER_ROLE` owns the app's tables. Migrations, the precompute job
  (it creates, attaches, detaches and drops each run's tables) and the
  MovieLens loader (it drops and rebuilds indexes, VACUUMs) connect as it.
* :data:`APP_ROLE` is the web's and the worker's: SELECT, INSERT, UPDATE and
  DELETE on the app's tables and USAGE on its sequences, and nothing else:
  no DDL, no TRUNCATE, no temporary tables, no server files or programs.
  Tables the owner creates later (a run's partition) are granted to it by
  default privileges.

Neither is a superuser, so ``COPY ... TO PROGRAM``, reading ``pg_authid`` and
untrusted languages are closed to both. :func:`setup_sql` is run by a
superuser: by :mod:`web.embedded` locally, and on the cluster by
``make k8s-db-roles`` (``python -m web.dbroles`` piped into ``psql`` in the
Postgres pod). It is idempotent, and it also takes over the objects that an
earlier version created as the superuser. :func:`grant_sql` is run by the
owner after every ``migrate`` (:mod:`web.dbroles.apps`), for databases the
superuser step never saw (the tests' ``test_movielens``).

No Django here: the settings' embedded default uses it before Django is set up.
"""

from __future__ import annotations

OWNER_ROLE = "movielens_owner"
"""Owns the schema: migrations, the precompute job, the loader."""
APP_ROLE = "movielens_app"
"""Data only: the web server and the RQ worker."""
APP_STATEMENT_TIMEOUT = "30s"
"""Longest statement the app role may run. The slowest real request reads a user's list or a movie page in
well under a second; 30 s is far above that, and leaves room for the worker's longer statements. It ends a runaway
query on a running server; a stalled server enforces nothing, and there the web's own deadline frees the thread
(DATABASE_REQUEST_TIMEOUT, web/dbdeadline.py)."""
APP_LOCK_TIMEOUT = "5s"
"""Longest wait of the app role for a lock. A query queued behind another transaction's ACCESS EXCLUSIVE lock (a
migration, the loader's rebuild) fails with a clear 503 after this, and leaves the lock's queue: a session left
waiting there (its client gone after the web's request timeout, DATABASE_REQUEST_TIMEOUT) would make every later
reader of the table wait behind it. Row locks between the app's own writes last milliseconds."""
SCHEMA = "public"
ROLES = {"owner": OWNER_ROLE, "app": APP_ROLE}
"""``DATABASE_ROLE`` values and the roles they name."""


def quote_literal(value: str) -> str:
    """``value`` as an SQL string literal (standard_conforming_strings is on in every supported PostgreSQL)."""
    if "\x00" in value:
        raise ValueError("a NUL character cannot be part of an SQL string")
    return "'" + value.replace("'", "''") + "'"


def quote_ident(name: str) -> str:
    """``name`` as an SQL identifier."""
    if "\x00" in name or not name:
        raise ValueError(f"not a usable SQL identifier: {name!r}")
    return '"' + name.replace('"', '""') + '"'


def _password_clause(password: str | None) -> str:
    # None: leave the password as it is (the embedded server trusts its unix socket and needs none).
    if password is None:
        return ""
    if len(password) < 16:
        raise ValueError("a database role's password must be at least 16 characters (make k8s-secrets generates 48)")
    return f" PASSWORD {quote_literal(password)}"


def setup_sql(
    database: str,
    owner_password: str | None = None,
    app_password: str | None = None,
    *,
    owner_creates_databases: bool = False,
) -> str:
    """The superuser's SQL that creates both roles and sets their privileges on ``database``; safe to repeat.

    ``owner_creates_databases`` is for the embedded server only: pytest-django
    creates ``test_movielens`` as the role that migrates it, and the tests drop
    their scratch databases ``WITH (FORCE)``, which ends the app role's
    sessions in them (``pg_signal_backend``).
    """
    db = quote_ident(database)
    owner, app = quote_ident(OWNER_ROLE), quote_ident(APP_ROLE)
    # Only ever granted here, never taken: the cluster's SQL run against the embedded server (the end-to-end
    # tests do) must not take from its owner the CREATEDB that pytest-django needs. CREATE ROLE's default is NOCREATEDB.
    createdb = " CREATEDB" if owner_creates_databases else ""
    common = "LOGIN NOSUPERUSER NOCREATEROLE NOREPLICATION NOBYPASSRLS"
    return f"""
DO $roles$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {quote_literal(OWNER_ROLE)}) THEN CREATE ROLE {owner} LOGIN; END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {quote_literal(APP_ROLE)}) THEN CREATE ROLE {app} LOGIN; END IF;
END $roles$;
ALTER ROLE {owner} {common}{createdb}{_password_clause(owner_password)};
ALTER ROLE {app} {common} NOCREATEDB NOINHERIT{_password_clause(app_password)};
ALTER ROLE {app} SET statement_timeout = {quote_literal(APP_STATEMENT_TIMEOUT)};
ALTER ROLE {app} SET lock_timeout = {quote_literal(APP_LOCK_TIMEOUT)};
{f"GRANT pg_signal_backend TO {owner};" if owner_creates_databases else ""}
-- Nobody but these two (and the superuser) connects; temporary tables are the owner's (the loader's staging).
REVOKE ALL ON DATABASE {db} FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE {db} TO {owner};
GRANT CONNECT ON DATABASE {db} TO {app};
REVOKE CREATE ON SCHEMA {SCHEMA} FROM PUBLIC;
GRANT USAGE, CREATE ON SCHEMA {SCHEMA} TO {owner};
GRANT USAGE ON SCHEMA {SCHEMA} TO {app};
-- A database migrated before the roles existed has the superuser's tables: the owner takes them over.
DO $takeover$ DECLARE item record; BEGIN
    FOR item IN
        SELECT c.oid::regclass::text AS name, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = {quote_literal(SCHEMA)} AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
          AND c.relowner <> {quote_literal(OWNER_ROLE)}::regrole
          -- a sequence that belongs to a column follows its table
          AND NOT (c.relkind = 'S' AND EXISTS (
              SELECT FROM pg_depend d WHERE d.objid = c.oid AND d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')))
          AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')  -- an extension's own
    LOOP
        EXECUTE format('ALTER %s %s OWNER TO {owner}',
                       CASE item.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                                         WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END, item.name);
    END LOOP;
    FOR item IN
        SELECT p.oid::regprocedure::text AS name FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = {quote_literal(SCHEMA)} AND p.proowner <> {quote_literal(OWNER_ROLE)}::regrole
          AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')
    LOOP
        EXECUTE format('ALTER FUNCTION %s OWNER TO {owner}', item.name);
    END LOOP;
END $takeover$;
{grant_sql(for_owner=True)}
"""


def is_set_up_sql(*, owner_creates_databases: bool = False) -> str:
    """A query, run in the database, whose one row is ``t`` when :func:`setup_sql` has nothing left to do there.

    The embedded default asks it first on every process start, so a set-up
    database sees no catalog writes (a GRANT racing the job's ALTER TABLE on
    the same table can fail with "tuple concurrently updated").
    """
    owner, app = quote_literal(OWNER_ROLE), quote_literal(APP_ROLE)
    timeout = quote_literal(f"statement_timeout={APP_STATEMENT_TIMEOUT}")
    lock_timeout = quote_literal(f"lock_timeout={APP_LOCK_TIMEOUT}")
    local = (
        f"AND (SELECT rolcreatedb FROM pg_roles WHERE rolname = {owner}) "
        f"AND pg_has_role(to_regrole({owner}), 'pg_signal_backend', 'MEMBER')"
        if owner_creates_databases else ""
    )
    return f"""
SELECT to_regrole({owner}) IS NOT NULL AND to_regrole({app}) IS NOT NULL {local}
   AND EXISTS (SELECT FROM pg_db_role_setting WHERE setrole = to_regrole({app}) AND setdatabase = 0
                                               AND {timeout} = ANY (setconfig) AND {lock_timeout} = ANY (setconfig))
   AND EXISTS (SELECT FROM pg_default_acl WHERE defaclrole = to_regrole({owner}) AND defaclobjtype = 'r'
                                           AND defaclnamespace = {quote_literal(SCHEMA)}::regnamespace)
   AND NOT has_database_privilege('public', current_database(), 'TEMPORARY')
   AND NOT EXISTS (
       SELECT FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = {quote_literal(SCHEMA)} AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
         AND c.relowner IS DISTINCT FROM to_regrole({owner})
         AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e'))
   AND NOT EXISTS (
       SELECT FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
       WHERE n.nspname = {quote_literal(SCHEMA)} AND p.proowner IS DISTINCT FROM to_regrole({owner})
         AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e'));
"""


def grant_sql(*, for_owner: bool = False) -> str:
    """The app role's rights on the tables and sequences there are, and by default on those the owner makes later.

    Run as the owner (``for_owner`` False: its default privileges are its
    own) or as a superuser (``for_owner`` True names the owner).
    """
    owner, app = quote_ident(OWNER_ROLE), quote_ident(APP_ROLE)
    creator = f"FOR ROLE {owner} " if for_owner else ""
    return f"""
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {SCHEMA} TO {app};
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {SCHEMA} TO {app};
ALTER DEFAULT PRIVILEGES {creator}IN SCHEMA {SCHEMA} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {app};
ALTER DEFAULT PRIVILEGES {creator}IN SCHEMA {SCHEMA} GRANT USAGE, SELECT ON SEQUENCES TO {app};
"""
