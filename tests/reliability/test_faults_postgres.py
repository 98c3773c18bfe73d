"""Fault: PostgreSQL is stopped and started again while the web server keeps running.

The test starts a PostgreSQL of its own (pgserver, data directory under
``tmp_path``): the shared embedded server under ``.local/services`` is never
stopped. In the gap every request that needs the database gets a clear 503
(JSON for the API, HTML for the site) with ``Retry-After``, ``/readyz``
fails while ``/healthz`` stays up, and once PostgreSQL is back the same
the web server serves again without a restart; every rating acknowledged before
the stop is still there.
"""

from __future__ import annotations

import json
import tempfile
import warnings
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.helpers import wait_for
from tests.reliability.faultstack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.movielens]

USER_ID = 3
RATINGS_BEFORE = 20


def _server(data_dir: Path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs: XDG_RUNTIME_DIR unset
        import pgserver

        return pgserver.get_server(data_dir, cleanup_mode=None)


def _stop(server, mode: str) -> None:
    """``pg_ctl stop -m mode`` as the server's own user (pgserver runs it unprivileged when we are root)."""
    from pgserver._commands import pg_ctl

    pg_ctl(["-w", "-m", mode, "stop"], pgdata=server.pgdata, user=server.system_user, timeout=60)


@pytest.fixture
def own_postgres(movielens_small, redis_conn):
    """A PostgreSQL of this test's own (short path: the socket lives in the data directory), a stack on it."""
    root = Path(tempfile.mkdtemp(prefix="pgf", dir="/tmp"))
    data_dir = root / "pg"
    server = _server(data_dir)
    server.psql('CREATE DATABASE "faults";')
    socket_dir = str(server.get_postmaster_info().socket_dir)
    stack = Stack(
        database_url=f"postgres://postgres@{quote(socket_dir, safe='')}/faults",
        dsn=f"dbname=faults host={socket_dir} user=postgres",
        redis_url=_redis_url(),
        log_dir=root,
    )
    try:
        stack.prepare(movielens_small)
        stack.start("web")
        yield stack, server, socket_dir
    finally:
        stack.stop_all()
        try:
            _stop(server, "immediate")
        except Exception:  # already stopped by a failed assertion mid-gap
            pass
        import shutil

        shutil.rmtree(root, ignore_errors=True)


def _redis_url() -> str:
    from django.conf import settings

    return settings.REDIS_URL  # the redis_conn fixture's database of the shared Redis: Redis is not the fault here


def test_postgres_stop_gives_503_and_service_returns_by_itself(own_postgres):
    """Requests in the gap get a clear 503 and /readyz fails; afterwards the same web server serves and no acknowledged rating is lost."""
    stack, server, socket_dir = own_postgres
    movies = [movie for (movie,) in stack.sql(
        "SELECT movie_id FROM recommender_movie WHERE movie_id NOT IN "
        "(SELECT movie_id FROM recommender_rating WHERE user_id = %s) ORDER BY movie_id LIMIT %s",
        (USER_ID, RATINGS_BEFORE + 1))]
    acknowledged = []
    for movie in movies[:RATINGS_BEFORE]:
        status, _, body = stack.request("POST", f"/api/users/{USER_ID}/ratings", {"movie_id": movie, "rating": 4.5})
        assert status == 201, body
        acknowledged.append(movie)
    assert stack.request("GET", "/readyz")[0] == 200
    assert stack.request("GET", f"/api/users/{USER_ID}/recommendations?n=5")[0] == 200  # the pooled connection is warm

    _stop(server, "fast")  # ends every session, as a restart of the database pod does
    try:
        status, headers, body = stack.request("GET", f"/api/users/{USER_ID}/recommendations?n=5")
        assert status == 503, body[:2000]
        assert json.loads(body) == {"error": json.loads(body)["error"], "status": 503}
        assert "database is unavailable" in json.loads(body)["error"]
        assert int(headers["Retry-After"]) > 0
        # (API views answer through DRF's exception handler, web/recommender/api/errors.py; pages through web/middleware.py.)

        status, headers, body = stack.request("GET", "/movies/", headers={"Authorization": ""})
        assert status == 503 and headers["Content-Type"].startswith("text/html"), body[:2000]
        assert b"Temporarily unavailable" in body and b"Traceback" not in body and b"psycopg2" not in body
        assert int(headers["Retry-After"]) > 0

        status, _, body = stack.request("POST", f"/api/users/{USER_ID}/ratings", {"movie_id": movies[-1], "rating": 1.0})
        assert status == 503, body[:2000]

        status, _, body = stack.request("GET", "/readyz")
        assert status == 503 and json.loads(body)["status"] == "unavailable"
        assert stack.request("GET", "/healthz")[0] == 200
    finally:
        server.ensure_postgres_running()  # pg_ctl start with the same socket directory
    assert str(server.get_postmaster_info().socket_dir) == socket_dir  # the processes' DATABASE_URL still points at it

    wait_for(lambda: stack.request("GET", "/readyz")[0] == 200, 30, "/readyz to recover without a restart")
    assert stack.request("GET", f"/api/users/{USER_ID}/recommendations?n=5")[0] == 200

    # A restart between two requests: the pooled connections are dead, and no request may see it. A request with a
    # token tries its lookup on the pooled connection and, when that fails, once more on a new one (web/dbreads.py).
    _stop(server, "fast")
    server.ensure_postgres_running()
    answers = [stack.request("GET", f"/api/users/{USER_ID}/recommendations?n=5")[0] for _ in range(8)]
    assert answers == [200] * len(answers)
    assert stack.processes["web"].poll() is None  # the same web server, never restarted
    stored = {movie for (movie,) in stack.sql(
        "SELECT movie_id FROM recommender_rating WHERE user_id = %s AND movie_id = ANY(%s)", (USER_ID, movies))}
    assert stored == set(acknowledged)  # every acknowledged rating kept (records lost: 0); the refused one absent
