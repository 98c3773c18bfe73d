"""``python -m web.serve``: what the web Deployment, the demo and ``skaffold dev`` rely on from the server command.

- its options are checked before anything starts;
- each start empties the metrics directory it is given (an earlier server's counts would add to this one's) and
  removes one it made when it stops;
- ``SIGHUP`` (what skaffold's sync hook sends) replaces every worker process and the server keeps answering;
- ``SIGTERM`` (the kubelet's stop) lets a request in flight finish, takes no new connection and exits cleanly;
- with ``LOG_FORMAT=json`` the server's own lines are JSON too;
- an NDJSON stream of events sent chunked (no Content-Length) reaches the app whole.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.conf import settings

from bench.api_load import free_port
from tests.account_helpers import make_service
from tests.helpers import database_url, stop_process_group, wait_for
from web import serve
from web.observability import multiprocess
from web.recommender.models import Event

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]


def _answers(base: str, timeout: float = 5) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/healthz", timeout=timeout) as response:
            return response.status == 200
    except OSError:
        return False


def _workers(main: int) -> set[int]:
    return {int(pid) for pid in Path(f"/proc/{main}/task/{main}/children").read_text().split()}


@pytest.mark.parametrize("argv, message", [
    (["--bind", "8000"], "takes HOST:PORT"),
    (["--bind", "localhost:http"], "takes HOST:PORT"),
    (["--bind", "127.0.0.1:70000"], "takes HOST:PORT"),
    (["--workers", "0"], "at least 1"),
    (["--threads", "two"], "at least 1"),
])
def test_bad_options_are_refused_before_anything_starts(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        serve.build_parser().parse_args(argv)
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_an_ipv6_bind_is_read_without_its_brackets():
    assert serve.build_parser().parse_args(["--bind", "[::1]:8001"]).bind == ("::1", 8001)


def test_a_given_metrics_directory_is_emptied_and_kept_a_made_one_removed(tmp_path, monkeypatch):
    given = tmp_path / "metrics"
    given.mkdir()
    (given / "counter_123.db").write_bytes(b"stale counts of an earlier server")
    monkeypatch.setenv(multiprocess.VARIABLE, str(given))
    directory, made_here = multiprocess.fresh_multiprocess_dir()
    assert (directory, made_here) == (str(given), False)
    assert list(given.iterdir()) == []
    multiprocess.remove(directory, made_here)
    assert given.is_dir()

    monkeypatch.delenv(multiprocess.VARIABLE)
    directory, made_here = multiprocess.fresh_multiprocess_dir()
    assert made_here and Path(directory).is_dir() and directory != str(given)
    multiprocess.remove(directory, made_here)
    assert not Path(directory).exists()


@pytest.fixture
def server(transactional_db, tmp_path):
    """``python -m web.serve`` (2 workers) on a free loopback port, logging JSON, its metrics directory named."""
    port = free_port()
    metrics = tmp_path / "metrics"
    env = {key: value for key, value in os.environ.items() if key != multiprocess.VARIABLE} | {
        "APP_ENV": "local", "DATABASE_URL": database_url(), "REDIS_URL": settings.REDIS_URL,
        "DJANGO_SETTINGS_MODULE": "web.settings", "LOG_FORMAT": "json", "ALLOWED_HOSTS": "127.0.0.1",
        multiprocess.VARIABLE: str(metrics),
    }
    log = tmp_path / "server.log"
    with open(log, "w") as out:
        process = subprocess.Popen([sys.executable, "-m", "web.serve", "--bind", f"127.0.0.1:{port}"], cwd=REPO,
                                   env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _answers(base), 60, "the web server to answer /healthz")
        wait_for(lambda: len(_workers(process.pid)) == 2, 30, "two worker processes")
        yield SimpleNamespace(base=base, port=port, process=process, log=log, metrics=metrics)
    finally:
        stop_process_group(process, timeout=30)


def test_sighup_replaces_every_worker_and_the_server_keeps_answering(server):
    process = server.process
    before = _workers(process.pid)
    assert any(server.metrics.glob("*.db")), "the workers count into the directory the environment names"

    process.send_signal(signal.SIGHUP)
    wait_for(lambda: len(_workers(process.pid)) == 2 and not _workers(process.pid) & before, 60,
             "every worker to be replaced")
    assert process.poll() is None
    # The new workers may still be importing the app: the request waits in the listening socket's queue (the main
    # process never closes it) and is answered once they are up, which takes seconds on a loaded machine.
    assert _answers(server.base, timeout=60)

    stop_process_group(process, timeout=30)
    assert process.returncode == 0
    server_lines = [json.loads(line) for line in server.log.read_text().splitlines() if line.strip()]
    assert {line["logger"] for line in server_lines} >= {"_granian", "web.access"}
    assert server.metrics.is_dir(), "a directory the environment named is never removed"


def test_sigterm_finishes_the_request_in_flight_and_takes_no_new_one(server):
    """What the Deployment's stop relies on: after SIGTERM (to the main process, as the kubelet sends it) a request
    whose body is still arriving is answered, a new connection is refused, and the server exits cleanly."""
    _, token = make_service()
    body = json.dumps([{"event_id": "in-flight", "user_id": 1, "movie_id": 1, "type": "watched",
                        "time": "2020-01-01T00:00:00Z"}]).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(f"POST /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Token {token}\r\n"
                     f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body[:10])
        time.sleep(0.5)  # the request has reached a worker, which waits for the rest of its body
        server.process.send_signal(signal.SIGTERM)
        wait_for(lambda: not _accepts(server.port), 10, "the server to stop taking connections")
        sock.sendall(body[10:])
        status_line = sock.recv(200).split(b"\r\n")[0]
    assert status_line.startswith(b"HTTP/1.1 ") and status_line.split()[1] != b"503", status_line
    assert server.process.wait(timeout=30) == 0


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def test_a_chunked_ndjson_stream_of_events_is_stored_whole(server, catalogue):
    """What a client streaming events from a generator sends: ``Transfer-Encoding: chunked``, one event a chunk.
    Django reads a body up to its Content-Length only, so this one was read as empty: 200, nothing stored."""
    _, token = make_service()
    lines = [json.dumps({"event_id": f"chunk-{i}", "user_id": 101, "movie_id": 10 * (i + 1), "type": "watched",
                         "time": "2020-01-01T00:00:00Z"}) + "\n" for i in range(3)]
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    connection.request("POST", "/api/events", body=(line.encode() for line in lines), encode_chunked=True,
                       headers={"Authorization": f"Token {token}", "Content-Type": "application/x-ndjson",
                                "Transfer-Encoding": "chunked"})
    response = connection.getresponse()
    answer = json.loads(response.read())
    connection.close()
    assert (response.status, answer["accepted"]) == (200, 3), answer
    assert sorted(Event.objects.values_list("event_id", flat=True)) == ["chunk-0", "chunk-1", "chunk-2"]
