"""A minimal asyncio HTTP/1.1 client for the load benchmarks, cheap enough not to be what it measures.

The load client runs on the same two cores as the web server and PostgreSQL, so
every millisecond it spends is taken from the server and, worse, added to
the latencies it records: responses that arrive together wait in its event
loop for their turn. httpx spent ~1.6 ms of CPU per request here, more than
the server's ~1.2 ms for a recommendation (gunicorn's, then); this client, an ``asyncio.Protocol``
that writes one request and parses one response, spends a fraction of that.

It speaks just what the benchmarks send: ``GET``/``POST``/``PUT``/``DELETE``
with an optional JSON body to one ``http://host:port``, and reads a response
framed by ``Content-Length`` or by the server closing the connection (what
some servers do after every response); a chunked response is an
error, not a silent misreading. Connections the server
keeps alive are reused, at most one request at a time each.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
from dataclasses import dataclass, field
from urllib.parse import urlsplit


class HTTPError(Exception):
    """No usable response: refused, reset, timed out or malformed."""


@dataclass
class Response:
    status_code: int
    headers: dict[str, str] = field(default_factory=dict)
    """Header names in lower case."""
    content: bytes = b""

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self):
        return jsonlib.loads(self.content)


class _Exchange(asyncio.Protocol):
    """One connection: sends a request when asked and resolves a future with the parsed response."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[Response] | None = None
        self.buffer = bytearray()
        self.head: tuple[int, dict[str, str], int, int | None] | None = None
        """Status, headers, where the body starts and its length (:func:`_parse_head`), once the header block has arrived."""
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def send(self, request: bytes, waiter: asyncio.Future[Response]) -> None:
        self.waiter, self.buffer, self.head = waiter, bytearray(), None
        self.transport.write(request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.head is None:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            try:
                self.head = _parse_head(bytes(self.buffer[:end]), end + 4)
            except ValueError as error:
                self._fail(HTTPError(f"malformed response: {error}"))
                return
            if "chunked" in self.head[1].get("transfer-encoding", ""):
                self._fail(HTTPError("chunked responses are not supported: the server should send Content-Length"))
                return
        _, _, start, length = self.head
        if length is not None and len(self.buffer) - start >= length:
            self._finish()

    def eof_received(self) -> bool:
        self._finish()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._finish(exc)

    def _finish(self, exc: Exception | None = None) -> None:
        """Resolve the waiter with the response, or fail it if the connection ended before all of it arrived."""
        if self.waiter is None or self.waiter.done():
            return
        if self.head is None:
            self._fail(HTTPError(f"connection closed before a response{f': {exc}' if exc else ''}"))
            return
        status, headers, start, length = self.head
        received = len(self.buffer) - start
        if length is not None and received < length:
            self._fail(HTTPError(f"the response ended after {received} of its {length} bytes"))
            return
        self.waiter.set_result(Response(status, headers, bytes(self.buffer[start : start + length if length is not None else None])))

    def _fail(self, error: Exception) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(error)
        if self.transport is not None:
            self.transport.abort()


def _parse_head(block: bytes, body_start: int) -> tuple[int, dict[str, str], int, int | None]:
    """Status, headers (lower-case names), where the body starts, and its length (None: until the server closes)."""
    status_line, *lines = block.decode("latin-1").split("\r\n")
    version, status, *_ = status_line.split(" ", 2)
    if not version.startswith("HTTP/1."):
        raise ValueError(f"status line {status_line!r}")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = headers.get("content-length")
    if length is not None and not (length.isascii() and length.isdigit()):
        raise ValueError(f"Content-Length {length!r}")
    if int(status) in (204, 304):
        return int(status), headers, body_start, 0
    return int(status), headers, body_start, int(length) if length is not None else None


class AsyncClient:
    """``await client.request(method, path, json=..., headers=...)`` against ``base_url``; reuses kept-alive connections."""

    def __init__(self, base_url: str, timeout: float = 10.0, headers: dict[str, str] | None = None) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or parts.hostname is None:
            raise ValueError(f"only http://host:port is supported, got {base_url!r}")
        self.host, self.port = parts.hostname, parts.port or 80
        self.timeout = timeout
        self.default_headers = {"Host": f"{self.host}:{self.port}", **(headers or {})}
        self.idle: list[_Exchange] = []

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info) -> None:
        for exchange in self.idle:
            exchange.transport.close()
        self.idle.clear()

    async def request(self, method: str, url: str, json=None, headers: dict[str, str] | None = None) -> Response:
        loop = asyncio.get_running_loop()
        body = jsonlib.dumps(json).encode() if json is not None else b""
        lines = [f"{method} {url} HTTP/1.1"]
        all_headers = {**self.default_headers, **(headers or {})}
        if json is not None:
            all_headers.setdefault("Content-Type", "application/json")
        if body or method in ("POST", "PUT", "PATCH"):
            all_headers["Content-Length"] = str(len(body))
        lines += [f"{name}: {value}" for name, value in all_headers.items()]
        request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body

        exchange = self.idle.pop() if self.idle else None
        if exchange is None or exchange.closed:
            try:
                _, exchange = await asyncio.wait_for(
                    loop.create_connection(_Exchange, self.host, self.port), self.timeout
                )
            except (OSError, asyncio.TimeoutError) as error:
                raise HTTPError(f"connect to {self.host}:{self.port}: {type(error).__name__} {error}") from error
        waiter: asyncio.Future[Response] = loop.create_future()
        timer = loop.call_later(self.timeout, exchange._fail, HTTPError(f"no response within {self.timeout:g} s"))
        try:
            exchange.send(request, waiter)
            response = await waiter
        finally:
            timer.cancel()
        if response.headers.get("connection", "").lower() == "close" or exchange.closed:
            exchange.transport.close()
        else:
            self.idle.append(exchange)
        return response
