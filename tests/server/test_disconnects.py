"""Clients that go away mid-response, and shutdown with streams open (real sockets).

Each app sends part of a response (or none, for the long-poll) and then waits; the client
closes with FIN or with RST (SO_LINGER 0). The app must hear ``http.disconnect`` at once,
its generator's ``finally`` must run within a second, nothing may be logged as an error,
and the server's open-connection count must return to zero.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import socket
import ssl
import struct
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from tests.server.conftest import DEADLINE, ThreadedServer, serve
from vivace.http._h2_connection import H2Connection
from vivace.http._h2_events import DataReceived
from vivace.types import ASGIApp, Message, Receive, Scope, Send
from vivace.web import (
    App,
    EventSourceResponse,
    PlainTextResponse,
    Request,
    Route,
    StreamingResponse,
)

PROMPT = 1.0  # seconds: how soon the app must hear of a disconnect and clean up


class Probe:
    """What the app did, seen from the test's thread."""

    def __init__(self) -> None:
        self.streaming = threading.Event()  # the app is waiting, response in progress
        self.disconnect = threading.Event()  # receive() gave http.disconnect
        self.finalized = threading.Event()  # the generator's / app's finally ran
        self.finalized_at = 0.0


def watched(app: ASGIApp, probe: Probe) -> ASGIApp:
    """Record when the app's receive() reports http.disconnect."""

    async def wrapper(scope: Scope, receive: Receive, send: Send) -> None:
        async def watching() -> Message:
            message = await receive()
            if message["type"] == "http.disconnect":
                probe.disconnect.set()
            return message

        await app(scope, watching, send)

    return wrapper


def streaming_app(probe: Probe, headers: list[tuple[bytes, bytes]] | None = None) -> ASGIApp:
    """A head and one chunk with more_body=True, then wait for the client to leave."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": headers or []})
        await send({"type": "http.response.body", "body": b"first", "more_body": True})
        probe.streaming.set()
        try:
            while (await receive())["type"] != "http.disconnect":
                pass
        finally:
            probe.finalized_at = time.monotonic()
            probe.finalized.set()

    return watched(app, probe)


def long_poll_app(probe: Probe) -> ASGIApp:
    """Reads the request, answers nothing yet: waits for an event or the client to leave."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        while (await receive()).get("more_body"):
            pass
        probe.streaming.set()
        try:
            await receive()  # returns only with http.disconnect
        finally:
            probe.finalized_at = time.monotonic()
            probe.finalized.set()

    return watched(app, probe)


def sse_app(probe: Probe, ping_interval: float | None = None) -> ASGIApp:
    """vivace.web's EventSourceResponse over a generator that never ends by itself."""

    async def events() -> AsyncIterator[dict[str, Any]]:
        try:
            yield {"data": "hello", "id": 1}
            probe.streaming.set()
            await asyncio.Event().wait()
        finally:
            probe.finalized_at = time.monotonic()
            probe.finalized.set()

    async def endpoint(request: Request) -> EventSourceResponse:
        return EventSourceResponse(events(), ping_interval=ping_interval)

    return watched(App(routes=[Route("/", endpoint)]), probe)


def polling_app(probe: Probe) -> ASGIApp:
    """A vivace.web handler that polls request.is_disconnected() while it works."""

    async def endpoint(request: Request) -> PlainTextResponse:
        probe.streaming.set()
        try:
            while not await request.is_disconnected():
                await asyncio.sleep(0.01)  # a slice of long work between checks
        finally:
            probe.finalized_at = time.monotonic()
            probe.finalized.set()
        return PlainTextResponse("never read")

    return watched(App(routes=[Route("/", endpoint)]), probe)


APPS: dict[str, Callable[[Probe], ASGIApp]] = {
    "sse": sse_app,
    "stream": streaming_app,
    "long_poll": long_poll_app,
    "is_disconnected": polling_app,
}


def rst_close(sock: socket.socket) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def fin_close(sock: socket.socket) -> None:
    sock.shutdown(socket.SHUT_WR)  # FIN, whatever is still unread
    sock.close()


CLOSES = {"fin": fin_close, "rst": rst_close}


def wait_until(predicate: Callable[[], bool], timeout: float = DEADLINE) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def open_connections(server: ThreadedServer) -> int:
    state = server.server.state
    assert state is not None
    return len(state.connections)


def assert_clean(caplog: pytest.LogCaptureFixture) -> None:
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING]  # asyncio's too
    assert loud == [], [r.getMessage() for r in loud]
    assert "without completing the response" not in caplog.text


def check_departure(server: ThreadedServer, probe: Probe, closed_at: float) -> None:
    assert probe.finalized.wait(DEADLINE), "the app never stopped"
    assert probe.disconnect.is_set(), "the app did not hear http.disconnect"
    assert probe.finalized_at - closed_at < PROMPT
    wait_until(lambda: open_connections(server) == 0)


REQUEST = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


@pytest.fixture
def quiet_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.DEBUG, logger="vivace")
    yield caplog
    assert_clean(caplog)


@pytest.mark.parametrize("close", CLOSES.keys())
@pytest.mark.parametrize("kind", APPS.keys())
def test_http11_client_leaves_mid_response(
    quiet_logs: pytest.LogCaptureFixture, kind: str, close: str
) -> None:
    probe = Probe()
    with serve(APPS[kind](probe), lifespan="off") as server:
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=DEADLINE)
        sock.sendall(REQUEST)
        assert probe.streaming.wait(DEADLINE)
        if kind in ("sse", "stream"):
            assert sock.recv(4096).startswith(b"HTTP/1.1 200 OK")
        closed_at = time.monotonic()
        CLOSES[close](sock)
        check_departure(server, probe, closed_at)


def test_curl_killed_mid_stream(quiet_logs: pytest.LogCaptureFixture) -> None:
    """The issue's case: unread response bytes in the client's buffer when it dies."""
    probe = Probe()
    with serve(sse_app(probe), lifespan="off") as server:
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=DEADLINE)
        sock.sendall(REQUEST)
        assert probe.streaming.wait(DEADLINE)
        time.sleep(0.05)  # let the head and first event arrive, unread: close sends RST
        closed_at = time.monotonic()
        sock.close()
        check_departure(server, probe, closed_at)


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    import trustme

    folder = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    files = {"cert": folder / "cert.pem", "key": folder / "key.pem"}
    cert.cert_chain_pems[0].write_to_path(str(files["cert"]))
    cert.private_key_pem.write_to_path(str(files["key"]))
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return {"cert": str(files["cert"]), "key": str(files["key"]), "context": context}


@pytest.mark.parametrize("close", ["fin", "rst", "close_notify"])
def test_tls_client_leaves_mid_stream(
    quiet_logs: pytest.LogCaptureFixture, tls: dict[str, Any], close: str
) -> None:
    probe = Probe()
    app = streaming_app(probe)
    with serve(app, lifespan="off", ssl_certfile=tls["cert"], ssl_keyfile=tls["key"]) as server:
        raw = socket.create_connection(("127.0.0.1", server.port), timeout=DEADLINE)
        sock = tls["context"].wrap_socket(raw, server_hostname="127.0.0.1")
        sock.sendall(REQUEST)
        assert probe.streaming.wait(DEADLINE)
        assert sock.recv(4096).startswith(b"HTTP/1.1 200 OK")
        closed_at = time.monotonic()
        if close == "close_notify":
            try:
                sock.unwrap().close()  # TLS close_notify, then FIN
            except OSError:  # the server may answer close_notify by closing at once
                sock.close()
        else:
            CLOSES[close](sock)
        check_departure(server, probe, closed_at)


def h2_open(port: int, path: str = "/") -> tuple[socket.socket, H2Connection, int]:
    """An h2c (prior knowledge) connection with one GET stream, its first DATA read."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE)
    conn = H2Connection(client=True)
    conn.initiate()
    sid = conn.open_stream()
    fields = [(b":method", b"GET"), (b":scheme", b"http"), (b":path", path.encode())]
    conn.send_headers(sid, [*fields, (b":authority", b"x")], end_stream=True)
    sock.sendall(conn.data_to_send())
    while True:
        data = sock.recv(65536)
        assert data, "the server closed the connection"
        events = conn.receive(data)
        sock.sendall(conn.data_to_send())
        if any(isinstance(e, DataReceived) and e.data for e in events):
            return sock, conn, sid


@pytest.mark.parametrize("close", ["fin", "rst", "rst_stream"])
@pytest.mark.parametrize("kind", ["sse", "stream"])
def test_http2_client_leaves_mid_stream(
    quiet_logs: pytest.LogCaptureFixture, kind: str, close: str
) -> None:
    probe = Probe()
    with serve(APPS[kind](probe), lifespan="off") as server:
        sock, conn, sid = h2_open(server.port)
        assert probe.streaming.wait(DEADLINE)
        closed_at = time.monotonic()
        if close == "rst_stream":
            conn.reset_stream(sid, 8)  # CANCEL: the stream goes, the connection stays
            sock.sendall(conn.data_to_send())
            assert probe.finalized.wait(DEADLINE)
            assert open_connections(server) == 1
            sock.close()
        else:
            CLOSES[close](sock)
        check_departure(server, probe, closed_at)


class StreamGone(Exception):
    """What a framework raises when send() fails (Starlette's ClientDisconnect)."""


def send_only_app(probe: Probe) -> ASGIApp:
    """A streaming response in the ASGI 2.4 style of Starlette's StreamingResponse.

    It never calls receive(): it learns that the client left from send() raising
    (ClientDisconnected, an OSError) and raises its own error from that. Its iterator is
    not closed by ``async for`` when send() raises, so its ``finally`` runs only when the
    last reference to it goes: one the traceback's frames hold until the server lets go.
    """

    class Streaming:
        def __init__(self, chunks: AsyncIterator[bytes]) -> None:
            self.chunks = chunks

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            try:
                await self.stream(send)
            except OSError:
                raise StreamGone() from None

        async def stream(self, send: Send) -> None:
            await send({"type": "http.response.start", "status": 200, "headers": []})
            async for chunk in self.chunks:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})

    async def chunks() -> AsyncIterator[bytes]:
        try:
            while True:
                yield b"tick"
                probe.streaming.set()
                await asyncio.sleep(0.01)
        finally:
            probe.finalized_at = time.monotonic()
            probe.finalized.set()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await Streaming(chunks())(scope, receive, send)

    return app


@contextlib.contextmanager
def no_cyclic_gc() -> Iterator[None]:
    """What runs must be freed by reference counting, not by a collection that may come late."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@pytest.mark.parametrize("http", ["1", "2"])
def test_an_app_that_raises_from_a_failed_send_is_freed_and_quiet(
    quiet_logs: pytest.LogCaptureFixture, http: str
) -> None:
    """Starlette's StreamingResponse under ASGI 2.4: the client leaves, send() raises, the
    app raises its ClientDisconnect from it. That is the end of a stream, not an app error
    (DEBUG, as an OSError from send() already was), and the server must not keep the
    app's frames: the generator's ``finally`` (an SSE unsubscribing) runs at once, not at
    the next cyclic garbage collection. Before the fix: an ERROR with a traceback, and
    the generator was left open."""
    probe = Probe()
    with no_cyclic_gc(), serve(send_only_app(probe), lifespan="off", http=http) as server:
        if http == "2":
            sock, _, _ = h2_open(server.port)
        else:
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=DEADLINE)
            sock.sendall(REQUEST)
            assert sock.recv(4096).startswith(b"HTTP/1.1 200 OK")
        assert probe.streaming.wait(DEADLINE)
        closed_at = time.monotonic()
        rst_close(sock)
        assert probe.finalized.wait(DEADLINE), "the generator was never closed"
        assert probe.finalized_at - closed_at < PROMPT
        wait_until(lambda: open_connections(server) == 0)


# -- graceful shutdown ---------------------------------------------------------------------


def event_stream_app(probe: Probe) -> ASGIApp:
    """A raw ASGI server-sent event stream (no framework): its media type tells."""
    return streaming_app(probe, [(b"content-type", b"text/event-stream; charset=utf-8")])


# What a graceful shutdown ends at once: SSE streams and requests with no response yet
# (server/_cycle.py ends_at_shutdown); other responses finish (tests below).
ENDED_AT_SHUTDOWN: dict[str, Callable[[Probe], ASGIApp]] = {
    "sse": sse_app,
    "event_stream": event_stream_app,
    "long_poll": long_poll_app,
    "is_disconnected": polling_app,
}


@pytest.mark.parametrize("kind", ENDED_AT_SHUTDOWN.keys())
def test_shutdown_ends_open_streams_promptly(
    quiet_logs: pytest.LogCaptureFixture, kind: str
) -> None:
    probe = Probe()
    server = ThreadedServer(
        ENDED_AT_SHUTDOWN[kind](probe), lifespan="off", timeout_graceful_shutdown=30
    )
    server.start()
    try:
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=DEADLINE)
        sock.sendall(REQUEST)
        assert probe.streaming.wait(DEADLINE)
    finally:
        started = time.monotonic()
        server.stop()
    elapsed = time.monotonic() - started
    assert elapsed < 5, f"one open stream held the shutdown for {elapsed:.1f} s"
    assert probe.disconnect.is_set() and probe.finalized.is_set()
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    sock.close()
    if kind == "is_disconnected":
        # The handler saw the disconnect and answered anyway: send() still writes at
        # shutdown, so the answer goes out.
        assert data.startswith(b"HTTP/1.1 200 OK") and data.endswith(b"never read")
    elif kind == "long_poll":
        assert data == b""  # no response: the connection closes; the client retries
    else:
        # The head and what was sent arrive; the chunked body has no last chunk, so the
        # client sees the response was cut (an EventSource reconnects).
        assert data.startswith(b"HTTP/1.1 200 OK") and not data.endswith(b"0\r\n\r\n")


def answer_across_shutdown(
    app: ASGIApp, started: threading.Event, release: threading.Event
) -> bytes:
    """All the client receives when the server is told to shut down (30 s graceful
    timeout) once ``app`` has ``started``, and ``app`` is ``release``d only after the
    shutdown has begun."""
    server = ThreadedServer(app, lifespan="off", timeout_graceful_shutdown=30).start()
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=DEADLINE)
    sock.sendall(REQUEST)
    assert started.wait(DEADLINE)
    stopper = threading.Thread(target=server.stop)
    stopper.start()
    wait_until(lambda: server.server.state is not None and server.server.state.shutting_down)
    release.set()
    stopper.join(DEADLINE)
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    sock.close()
    return data


def test_shutdown_lets_plain_responses_finish(quiet_logs: pytest.LogCaptureFixture) -> None:
    """Ending a request at shutdown only changes what receive() says: a handler that
    does not listen for a disconnect still answers in full."""
    release = threading.Event()
    started = threading.Event()

    async def slow(scope: Scope, receive: Receive, send: Send) -> None:
        started.set()
        while not release.is_set():
            await asyncio.sleep(0.01)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"done"})

    data = answer_across_shutdown(slow, started, release)
    assert data.startswith(b"HTTP/1.1 200 OK") and data.endswith(b"done")


def test_shutdown_lets_a_download_finish(quiet_logs: pytest.LogCaptureFixture) -> None:
    """A finite streaming response in progress (not an event stream) is not cut at
    shutdown: the client gets all of it, then the connection closes."""
    release = threading.Event()
    streaming = threading.Event()

    async def rows() -> AsyncIterator[bytes]:
        yield b"a,b\n"
        streaming.set()
        while not release.is_set():
            await asyncio.sleep(0.01)
        yield b"1,2\n"

    async def endpoint(request: Request) -> StreamingResponse:
        # vivace.web's StreamingResponse listens for http.disconnect while it streams:
        # the server must not send it one at shutdown.
        return StreamingResponse(rows(), media_type="text/csv")

    data = answer_across_shutdown(App(routes=[Route("/", endpoint)]), streaming, release)
    assert data.startswith(b"HTTP/1.1 200 OK") and data.endswith(b"1,2\n\r\n0\r\n\r\n")


def test_an_endless_plain_stream_is_cut_at_the_graceful_timeout(
    quiet_logs: pytest.LogCaptureFixture,
) -> None:
    probe = Probe()
    server = ThreadedServer(streaming_app(probe), lifespan="off", timeout_graceful_shutdown=1)
    server.start()
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=DEADLINE)
    sock.sendall(REQUEST)
    assert probe.streaming.wait(DEADLINE)
    started = time.monotonic()
    server.stop()
    elapsed = time.monotonic() - started
    assert 0.9 < elapsed < 5, elapsed
    assert probe.finalized.is_set()
    sock.close()


def test_http2_shutdown_ends_open_streams(quiet_logs: pytest.LogCaptureFixture) -> None:
    probe = Probe()
    server = ThreadedServer(sse_app(probe), lifespan="off", timeout_graceful_shutdown=30)
    server.start()
    sock, _, _ = h2_open(server.port)
    assert probe.streaming.wait(DEADLINE)
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 5
    assert probe.disconnect.is_set() and probe.finalized.is_set()
    sock.close()
