"""The embedded PostgreSQL runs with settings for its machine (``web.embedded.server_settings``), from its first start.

``shared_buffers`` counts only from a start: a server that ``postgres_url`` itself started is restarted at once when
its settings were not yet written, and one that was already running is left alone (its clients keep their connections).
Each test runs a server of its own under ``tmp_path``.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

import pgserver
import psycopg2
import pytest

from web import embedded

GIB = 2**30


@pytest.mark.parametrize(("memory", "buffers"), [(GIB, "128MB"), (4 * GIB, "256MB"), (24 * GIB, "1024MB"),
                                                 (256 * GIB, "1024MB")])
def test_buffers_are_a_sixteenth_of_the_memory_within_bounds(memory, buffers):
    assert embedded.server_settings(memory)["shared_buffers"] == buffers


def _show(url: str, *names: str) -> list[str]:
    parts = urlsplit(url)
    with psycopg2.connect(dbname=parts.path.lstrip("/"), host=unquote(parts.hostname or ""), user="postgres") as conn:
        cursor = conn.cursor()
        shown = []
        for name in names:
            cursor.execute(f"SHOW {name}")
            shown.append(cursor.fetchone()[0])
    conn.close()
    return shown


def _postmaster(data_dir) -> int:
    return int((data_dir / "postgres" / "postmaster.pid").read_text().split()[0])


def test_a_new_server_runs_with_the_settings_from_its_first_start(tmp_path):
    try:
        url = embedded.postgres_url(tmp_path, "movielens")
        wanted = embedded.server_settings()
        buffers, wal, checkpoints = _show(url, "shared_buffers", "max_wal_size", "checkpoint_timeout")
        # SHOW writes 1024MB as 1GB
        assert (buffers, wal, checkpoints) == (wanted["shared_buffers"].replace("1024MB", "1GB"),
                                               wanted["max_wal_size"], wanted["checkpoint_timeout"])
        started = _postmaster(tmp_path)
        embedded.postgres_url(tmp_path, "movielens")
        assert _postmaster(tmp_path) == started  # settings already written: no second restart
    finally:
        embedded.stop(tmp_path)


def test_a_running_server_is_not_restarted_under_its_clients(tmp_path):
    """A server someone else started with other buffers keeps running; the settings wait for its next start."""
    try:
        url = embedded.postgres_url(tmp_path, "movielens")
        parts = urlsplit(url)
        superuser = psycopg2.connect(dbname="postgres", host=unquote(parts.hostname or ""), user="postgres")
        superuser.autocommit = True  # ALTER SYSTEM refuses to run inside a transaction
        superuser.cursor().execute("ALTER SYSTEM SET shared_buffers = '64MB'")
        superuser.close()
        embedded.stop(tmp_path)
        # Started by hand with the other buffers, as a server from before these settings would be.
        pgserver.get_server(tmp_path / "postgres", cleanup_mode=None)
        started = _postmaster(tmp_path)
        client = psycopg2.connect(dbname="movielens", host=unquote(parts.hostname or ""), user="postgres")
        embedded.postgres_url(tmp_path, "movielens")
        assert _postmaster(tmp_path) == started
        client.cursor().execute("SELECT 1")  # the client's connection survived
        client.close()
        assert _show(url, "shared_buffers") == ["64MB"]
        embedded.stop(tmp_path)
        embedded.postgres_url(tmp_path, "movielens")  # the next start takes them
        assert _show(url, "shared_buffers") == [embedded.server_settings()["shared_buffers"].replace("1024MB", "1GB")]
    finally:
        embedded.stop(tmp_path)
