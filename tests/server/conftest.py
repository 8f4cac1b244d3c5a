"""Helpers for the server tests: a fake transport, response parsing, servers in threads."""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httptools
import pytest

from vivace.server import Config, HTTPProtocol, Server
from vivace.server._state import ServerState
from vivace.types import ASGIApp, Receive, Scope, Send

DEADLINE = 10.0


class FakeTransport(asyncio.Transport):
    """Records what the protocol writes; no socket."""

    def __init__(self, peer: Any = ("127.0.0.1", 50000), tls: bool = False) -> None:
        super().__init__()
        self.data = bytearray()
        self.closed = False
        self.aborted = False
        self.reading = True
        self.protocol: asyncio.BaseProtocol | None = None
        self.extra = {
            "sockname": ("127.0.0.1", 8000),
            "peername": peer,
            "sslcontext": object() if tls else None,
        }

    def write(self, data: bytes | bytearray | memoryview) -> None:
        assert not self.closed, "write after close"
        self.data += data

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.extra.get(name, default)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            proto = self.protocol
            if isinstance(proto, asyncio.Protocol):
                asyncio.get_running_loop().call_soon(proto.connection_lost, None)

    def abort(self) -> None:
        self.aborted = True
        self.close()

    def is_closing(self) -> bool:
        return self.closed

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def is_reading(self) -> bool:
        return self.reading

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self.protocol = protocol

    def get_protocol(self) -> asyncio.BaseProtocol:
        assert self.protocol is not None
        return self.protocol

    def get_write_buffer_size(self) -> int:
        return 0


class Response:
    def __init__(self) -> None:
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.body = b""
        self.complete = False
        self.http_version = ""

    def header(self, name: bytes) -> bytes | None:
        for n, v in self.headers:
            if n.lower() == name:
                return v
        return None

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.headers} {self.body!r}>"


class _Collector:
    def __init__(self) -> None:
        self.responses: list[Response] = []
        self.parser: Any = None

    def on_headers_complete(self) -> None:
        self.responses[-1].status = self.parser.get_status_code()

    def on_message_begin(self) -> None:
        self.responses.append(Response())

    def on_header(self, name: bytes, value: bytes) -> None:
        self.responses[-1].headers.append((name.lower(), value))

    def on_body(self, body: bytes) -> None:
        self.responses[-1].body += body

    def on_message_complete(self) -> None:
        self.responses[-1].complete = True


def parse_responses(data: bytes | bytearray) -> list[Response]:
    """Parse HTTP/1.1 responses from raw bytes (interim 1xx responses included)."""
    collector = _Collector()
    parser = collector.parser = httptools.HttpResponseParser(collector)
    try:
        parser.feed_data(bytes(data))
    except httptools.HttpParserError:
        pass  # a close-delimited or truncated body: what was parsed is returned
    return collector.responses


def parse_statuses(data: bytes) -> list[int]:
    """The status code of every response in ``data``, in order."""
    return [int(m) for m in re.findall(rb"HTTP/1\.[01] (\d{3}) ", bytes(data))]


class Harness:
    """A protocol wired to a fake transport inside the running loop."""

    def __init__(self, app: ASGIApp, peer: Any = ("127.0.0.1", 50000), **options: Any) -> None:
        options.setdefault("access_log", False)
        self.loop = asyncio.get_running_loop()
        self.config = Config(app, **options)
        self.state = ServerState(self.config, app, self.loop)
        self.proto = HTTPProtocol(self.state)
        self.transport = FakeTransport(peer=peer, tls=options.get("ssl_certfile") is not None)
        self.transport.protocol = self.proto
        self.proto.connection_made(self.transport)

    async def send(self, data: bytes) -> None:
        """Deliver bytes from a loop callback (outside any Task), as a real loop does."""
        done = self.loop.create_future()

        def deliver() -> None:
            # To the transport's protocol now: an upgrade may have replaced ours.
            protocol = self.transport.protocol or self.proto
            try:
                protocol.data_received(data)  # type: ignore[attr-defined]
            finally:
                done.set_result(None)

        self.loop.call_soon(deliver)
        await done

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = DEADLINE) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                data = bytes(self.transport.data)
                raise AssertionError(f"timed out; transport has {len(data)} bytes: {data[:300]!r}")
            await asyncio.sleep(0.001)

    async def responses(self, count: int = 1) -> list[Response]:
        def ready() -> bool:
            got = parse_responses(self.transport.data)
            return len([r for r in got if r.complete and r.status >= 200]) >= count

        await self.wait_for(ready)
        return [r for r in parse_responses(self.transport.data) if r.status >= 200]

    async def response(self) -> Response:
        return (await self.responses(1))[0]

    async def closed(self) -> None:
        await self.wait_for(lambda: self.transport.closed)

    async def close(self) -> None:
        # The transport may have been handed to another protocol (HTTP/2, WebSocket).
        current = self.transport.protocol
        if not self.proto.closed or not getattr(current, "closed", True):
            self.transport.close()
            await self.wait_for(lambda: self.proto.closed)
            await self.wait_for(lambda: getattr(current, "closed", True))
        await asyncio.sleep(0)


async def text_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Answers "hello" (or the request body for POST) with content-length."""
    if scope["type"] != "http":
        return
    body = b"hello"
    if scope["method"] == "POST":
        chunks = []
        while True:
            message = await receive()
            chunks.append(message["body"])
            if not message["more_body"]:
                break
        body = b"".join(chunks)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain")],
        }
    )
    await send({"type": "http.response.body", "body": body})


class ThreadedServer:
    """A real server on 127.0.0.1 (port 0) running in a thread with its own loop."""

    def __init__(self, app: ASGIApp | str, **options: Any) -> None:
        options.setdefault("port", 0)
        options.setdefault("access_log", False)
        options.setdefault("log_level", "warning")
        options.setdefault("lifespan", "auto")
        self.config = Config(app, **options)
        self.server = Server(self.config)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.server.run()
        except BaseException as exc:  # reported by start()/stop()
            self.error = exc
            self.server.started.set()

    def start(self) -> ThreadedServer:
        self.thread.start()
        assert self.server.started.wait(DEADLINE), "server did not start"
        if self.error is not None:
            raise self.error
        return self

    @property
    def port(self) -> int:
        return int(self.server.bound[0][1])

    @property
    def url(self) -> str:
        scheme = "https" if self.config.is_tls else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.exit()
        self.thread.join(DEADLINE + self.config.timeout_graceful_shutdown)
        assert not self.thread.is_alive(), "server did not stop"


@contextlib.contextmanager
def serve(app: ASGIApp | str, **options: Any) -> Iterator[ThreadedServer]:
    server = ThreadedServer(app, **options).start()
    try:
        yield server
    finally:
        server.stop()


def raw_request(
    port: int, data: bytes, *, timeout: float = DEADLINE, read_until_close: bool = True
) -> bytes:
    """Send raw bytes, read until the server closes (or timeout)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            chunks.append(chunk)
            if not read_until_close:
                break
        return b"".join(chunks)


@pytest.fixture
async def make() -> AsyncIterator[Callable[..., Harness]]:
    """Build protocol harnesses; their connections are closed at the end of the test."""
    made: list[Harness] = []

    def factory(app: ASGIApp = text_app, **options: Any) -> Harness:
        h = Harness(app, **options)
        made.append(h)
        return h

    yield factory
    for h in made:
        await h.close()
        for task in [h.proto.host, *h.proto.tasks]:
            if not task.done():
                task.cancel()
        await asyncio.gather(h.proto.host, *h.proto.tasks, return_exceptions=True)
