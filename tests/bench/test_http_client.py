"""The load benchmarks' HTTP client against a real HTTP server on loopback.

bench/http_client.py replaces httpx in the load client to keep its own cost
off the two shared cores; these tests make sure that it reads what the server
sent: bodies framed by Content-Length or by the server closing, reused
kept-alive connections, JSON bodies, and clear errors where it can't.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench.api_load import run_coroutine
from bench.http_client import AsyncClient, HTTPError


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive unless a response says otherwise
    connections: set[tuple[str, int]] = set()

    def log_message(self, *args) -> None:
        pass

    def _reply(self, status: int, body: bytes, headers: dict[str, str] | None = None, length: bool = True) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if length:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        Handler.connections.add(self.client_address)
        if self.path == "/json":
            self._reply(200, json.dumps({"path": self.path, "host": self.headers["Host"]}).encode(),
                        {"Content-Type": "application/json"})
        elif self.path == "/close":  # no Content-Length: the body ends when the server closes
            self.close_connection = True
            self._reply(200, b"x" * 100_000, {"Connection": "close"}, length=False)
        elif self.path == "/chunked":
            self._reply(200, b"5\r\nhello\r\n0\r\n\r\n", {"Transfer-Encoding": "chunked"}, length=False)
        elif self.path == "/empty":
            self._reply(204, b"", length=False)
        elif self.path == "/garbage":
            self.wfile.write(b"SPDY/9 what\r\n\r\n")
            self.close_connection = True
        elif self.path == "/truncated":  # promises 100 bytes, sends 10 and closes
            self.close_connection = True
            self._reply(200, b"x" * 10, {"Content-Length": "100"}, length=False)
        elif self.path == "/bad-length":
            self.close_connection = True
            self._reply(200, b"x" * 10, {"Content-Length": "ten"}, length=False)
        elif self.path == "/silent":
            threading.Event().wait(2)
            self.close_connection = True
        else:
            self._reply(404, b"not here")

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self._reply(201, json.dumps({"got": json.loads(body), "type": self.headers["Content-Type"]}).encode())


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def run(coroutine):
    return run_coroutine(coroutine)  # in a thread: the browser tests leave an event loop running in this one


def test_reads_a_body_framed_by_content_length_and_reuses_the_connection(base):
    Handler.connections.clear()

    async def go():
        async with AsyncClient(base, headers={"Host": "localhost"}) as client:
            return [await client.request("GET", "/json") for _ in range(3)]

    responses = run(go())

    assert [r.status_code for r in responses] == [200, 200, 200]
    assert responses[0].json() == {"path": "/json", "host": "localhost"}
    assert responses[0].headers["content-type"] == "application/json"
    assert len(Handler.connections) == 1, "a kept-alive connection was not reused"


def test_reads_a_body_ended_by_the_server_closing(base):
    async def go():
        async with AsyncClient(base) as client:
            return await client.request("GET", "/close"), await client.request("GET", "/json")

    closed, after = run(go())

    assert closed.status_code == 200 and closed.content == b"x" * 100_000
    assert after.status_code == 200, "the client reused a connection the server had closed"


def test_sends_a_json_body(base):
    async def go():
        async with AsyncClient(base) as client:
            return await client.request("POST", "/echo", json={"movie_id": 1, "rating": 4.5})

    response = run(go())

    assert response.status_code == 201
    assert response.json() == {"got": {"movie_id": 1, "rating": 4.5}, "type": "application/json"}


def test_statuses_without_a_body_and_error_statuses_are_responses(base):
    async def go():
        async with AsyncClient(base) as client:
            return await client.request("GET", "/empty"), await client.request("GET", "/nowhere")

    empty, missing = run(go())

    assert (empty.status_code, empty.content) == (204, b"")
    assert (missing.status_code, missing.text) == (404, "not here")


@pytest.mark.parametrize(("path", "message"), [
    ("/chunked", "chunked responses are not supported"),
    ("/garbage", "malformed response"),
    ("/truncated", "ended after 10 of its 100 bytes"),
    ("/bad-length", "malformed response: Content-Length 'ten'"),
    ("/silent", "no response within 0.5 s"),
])
def test_what_it_cannot_read_is_an_error(base, path, message):
    async def go():
        async with AsyncClient(base, timeout=0.5) as client:
            return await client.request("GET", path)

    with pytest.raises(HTTPError, match=message):
        run(go())


def test_a_refused_connection_is_an_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: connecting is refused

    async def go():
        async with AsyncClient(f"http://127.0.0.1:{port}") as client:
            return await client.request("GET", "/")

    with pytest.raises(HTTPError, match="connect to 127.0.0.1"):
        run(go())
