"""The protocol's extensions, flow control, upgrades and timeouts (no sockets)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import pytest

from tests.server.conftest import Harness, parse_responses, parse_statuses, text_app
from vivace.server import ClientDisconnected
from vivace.server._protocol import SHUTDOWN_GRACE
from vivace.types import Message, Receive, Scope, Send

Make = Callable[..., Harness]
GET = b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"


def gated(release: asyncio.Event) -> Any:
    """text_app, once ``release`` is set: a response kept busy as long as a test needs."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await release.wait()
        await text_app(scope, receive, send)

    return app


START = {"type": "http.response.start", "status": 200}


# -- extensions ------------------------------------------------------------------------------


async def test_trailers(make: Make) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({**START, "trailers": True})
        await send({"type": "http.response.body", "body": b"data", "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        await send({"type": "http.response.trailers", "headers": [(b"x-checksum", b"abc")]})

    h = make(app)
    await h.send(GET)
    await h.wait_for(lambda: h.transport.data.endswith(b"0\r\nx-checksum: abc\r\n\r\n"))
    response = (await h.responses())[0]
    assert response.body == b"data"
    assert not h.transport.closed


async def test_trailers_dropped_for_http10(make: Make) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({**START, "trailers": True})
        await send({"type": "http.response.body", "body": b"data"})
        await send({"type": "http.response.trailers", "headers": [(b"x-checksum", b"abc")]})

    h = make(app)
    await h.send(b"GET / HTTP/1.0\r\n\r\n")
    await h.closed()
    assert b"x-checksum" not in h.transport.data
    assert h.transport.data.endswith(b"data")


async def test_more_trailers_refused(make: Make) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({**START, "trailers": True})
        await send({"type": "http.response.body", "body": b"data"})
        await send({"type": "http.response.trailers", "headers": [], "more_trailers": True})

    h = make(app)
    await h.send(GET)
    await h.closed()
    assert h.transport.aborted


async def test_early_hints(make: Make) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.early_hint", "links": [b"</a.css>; rel=preload"]})
        await text_app(scope, receive, send)

    h = make(app)
    await h.send(GET)
    await h.response()
    data = bytes(h.transport.data)
    assert data.startswith(b"HTTP/1.1 103 Early Hints\r\nlink: </a.css>; rel=preload\r\n\r\n")
    h10 = make(app)
    await h10.send(b"GET / HTTP/1.0\r\n\r\n")
    await h10.closed()
    assert b"103" not in h10.transport.data


async def test_pathsend(make: Make, tmp_path: Any) -> None:
    path = tmp_path / "file.bin"
    content = bytes(range(256)) * 2000
    path.write_bytes(content)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(START)
        await send({"type": "http.response.pathsend", "path": str(path)})

    h = make(app)
    await h.send(GET)
    response = await h.response()
    assert response.body == content
    assert response.header(b"content-length") == str(len(content)).encode()
    await h.send(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")
    await h.wait_for(lambda: h.transport.data.count(b"HTTP/1.1 200 OK") == 2)
    assert h.transport.data.endswith(b"content-length: 512000\r\n\r\n")


async def test_pathsend_wrong_content_length(make: Make, tmp_path: Any) -> None:
    path = tmp_path / "file.bin"
    path.write_bytes(b"12345")

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({**START, "headers": [(b"content-length", b"3")]})
        await send({"type": "http.response.pathsend", "path": str(path)})

    h = make(app)
    await h.send(GET)
    await h.closed()
    assert parse_statuses(h.transport.data) == [500]


# -- disconnects and flow control ------------------------------------------------------------


async def test_disconnect_reported_to_receive_and_send_raises(make: Make) -> None:
    events: list[Any] = []
    started = asyncio.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        started.set()
        events.append(await receive())
        try:
            await send(START)
        except ClientDisconnected as exc:
            events.append(exc)

    h = make(app)
    await h.send(GET)
    await asyncio.wait_for(started.wait(), 5)
    h.transport.close()
    await h.wait_for(lambda: len(events) == 2)
    assert events[0] == {"type": "http.disconnect"}
    assert isinstance(events[1], OSError)


async def test_receive_after_response_is_disconnect(make: Make) -> None:
    got: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await text_app(scope, receive, send)
        got.append(await receive())
        got.append(await receive())

    h = make(app)
    await h.send(GET)
    await h.wait_for(lambda: len(got) == 2)
    assert got == [{"type": "http.disconnect"}] * 2


async def test_read_backpressure(make: Make) -> None:
    release = asyncio.Event()
    app = gated(release)

    h = make(app)
    size = 1024 * 1024
    await h.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % size)
    chunk = b"x" * 65536
    for _ in range(6):
        await h.send(chunk)
    assert not h.transport.reading  # more than the high-water mark is buffered
    release.set()
    await h.wait_for(lambda: h.transport.reading)
    for _ in range(10):
        await h.send(chunk)
    response = await h.response()
    assert len(response.body) == size


async def test_write_flow_control(make: Make) -> None:
    progress: list[int] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(START)
        for i in range(3):
            await send({"type": "http.response.body", "body": b"x", "more_body": True})
            progress.append(i)
        await send({"type": "http.response.body", "body": b""})

    h = make(app)
    h.proto.pause_writing()
    await h.send(GET)
    await asyncio.sleep(0.02)
    assert progress == []  # send() waits while the transport buffer is full
    h.proto.resume_writing()
    await h.response()
    assert progress == [0, 1, 2]


async def test_drain_fails_on_disconnect(make: Make) -> None:
    errors: list[BaseException] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(START)
        try:
            await send({"type": "http.response.body", "body": b"x", "more_body": True})
        except OSError as exc:
            errors.append(exc)

    h = make(app)
    h.proto.pause_writing()
    await h.send(GET)
    await h.wait_for(lambda: bool(h.proto.drain_waiters))
    h.transport.close()
    await h.wait_for(lambda: bool(errors))


async def test_half_close_still_answers(make: Make) -> None:
    release = asyncio.Event()
    app = gated(release)

    h = make(app)
    assert h.proto.eof_received() is None  # idle: let the transport close
    await h.send(GET)
    assert h.proto.eof_received() is True  # busy: keep the write side open to answer
    release.set()
    assert (await h.response()).body == b"hello"
    await h.closed()  # nothing can follow a half-close: closed after the response


async def test_half_close_answers_pipelined_requests_then_closes(make: Make) -> None:
    release = asyncio.Event()
    h = make(gated(release))
    await h.send(GET + GET + GET)
    assert h.proto.eof_received() is True
    release.set()
    assert [r.body for r in await h.responses(3)] == [b"hello"] * 3
    await h.closed()
    assert not h.transport.aborted


def listening(seen: list[Message], respond: bool = False) -> Any:
    """Reads the body, then waits on receive() (a long-poll); optionally answers after."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            seen.append(message)
            if message["type"] == "http.disconnect":
                break
        if respond:
            await send({"type": "http.response.start", "status": 204})
            await send({"type": "http.response.body"})

    return app


async def test_half_close_tells_a_waiting_app_at_once(
    make: Make, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[Message] = []
    h = make(listening(seen))
    await h.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab")
    await h.wait_for(lambda: len(seen) == 1)
    assert h.proto.eof_received() is True
    await h.closed()
    assert [m["type"] for m in seen] == ["http.request", "http.disconnect"]
    assert h.transport.data == b""  # no 500 for an app that stopped because the client left
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_half_close_app_may_still_answer(make: Make) -> None:
    seen: list[Message] = []
    h = make(listening(seen, respond=True))
    await h.send(GET)
    await h.wait_for(lambda: len(seen) == 1)
    h.proto.eof_received()
    assert (await h.response()).status == 204  # send() still writes to a half-closed peer
    await h.closed()


async def test_eof_mid_body_is_a_disconnect(make: Make) -> None:
    seen: list[Message] = []
    h = make(listening(seen))
    await h.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
    await h.wait_for(lambda: len(seen) == 1)
    assert h.proto.eof_received() is None  # the body can never complete: close
    h.transport.close()
    await h.wait_for(lambda: len(seen) == 2)
    assert seen == [
        {"type": "http.request", "body": b"abc", "more_body": True},
        {"type": "http.disconnect"},
    ]


async def test_half_close_with_an_error_queued(make: Make) -> None:
    release = asyncio.Event()
    h = make(gated(release))
    await h.send(GET + b"GET /a b HTTP/1.1\r\nHost: x\r\n\r\n")  # then a bad request
    assert h.proto.eof_received() is True
    release.set()
    await h.closed()
    assert parse_statuses(bytes(h.transport.data)) == [200, 400]


async def test_eof_over_tls_closes(make: Make) -> None:
    h = make(gated(asyncio.Event()))
    h.proto.scheme = "https"  # what connection_made sets for a TLS transport
    await h.send(GET)
    assert h.proto.eof_received() is None  # asyncio cannot half-close TLS: no True


async def test_ending_app_that_fails_is_still_an_error(
    make: Make, caplog: pytest.LogCaptureFixture
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await receive()
        raise RuntimeError("boom")

    h = make(app)
    await h.send(GET)
    await asyncio.sleep(0.01)
    h.proto.eof_received()
    await h.closed()
    assert parse_statuses(bytes(h.transport.data)) == [500]
    assert "Exception in ASGI application" in caplog.text


# -- upgrades --------------------------------------------------------------------------------


async def test_websocket_upgrade_without_handler_400(make: Make) -> None:
    h = make(ws=False)
    await h.send(
        b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    await h.closed()
    response = parse_responses(h.transport.data)[0]
    assert response.status == 400
    assert b"WebSocket" in response.body


async def test_websocket_upgrade_handed_to_handler(make: Make) -> None:
    received: list[Any] = []

    class Echo(asyncio.Protocol):
        def data_received(self, data: bytes) -> None:
            received.append(data)

    def handler(transport: asyncio.Transport, scope: Scope, data: bytes) -> asyncio.Protocol:
        received.append((scope["type"], scope["scheme"], scope["path"], data))
        return Echo()

    h = make()
    h.state.upgrade_handlers[b"websocket"] = handler
    await h.send(
        b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nFRAME"
    )
    assert received == [("websocket", "ws", "/ws", b"FRAME")]
    assert isinstance(h.transport.protocol, Echo)
    assert h.proto not in h.state.connections


async def test_h2c_upgrade_ignored(make: Make) -> None:
    h = make(http="1")  # with HTTP/2 off (tests/server/test_h2_*.py cover it on)
    await h.send(
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
        b"HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n" + GET
    )
    responses = await h.responses(2)
    assert [r.status for r in responses] == [200, 200]


async def test_connect_refused(make: Make) -> None:
    h = make()
    await h.send(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
    await h.closed()
    assert parse_statuses(h.transport.data) == [501]


# -- timeouts and limits ---------------------------------------------------------------------


async def test_head_deadline_408(make: Make) -> None:
    h = make()
    await h.send(b"GET / HTTP/1.1\r\nHost:")
    h.proto.check_deadline(h.state.now + h.state.timeout_request_head + 1)
    await h.closed()
    assert parse_statuses(h.transport.data) == [408]


async def test_silent_connection_closed_without_response(make: Make) -> None:
    h = make()
    h.proto.check_deadline(h.state.now + 1)
    assert not h.transport.closed  # not yet due
    h.proto.check_deadline(h.state.now + h.state.timeout_request_head + 1)
    await h.closed()
    assert h.transport.data == b""


async def test_keep_alive_deadline(make: Make) -> None:
    h = make()
    await h.send(GET)
    await h.response()
    h.proto.check_deadline(h.state.now + h.state.timeout_keep_alive - 0.5)
    assert not h.transport.closed
    h.proto.check_deadline(h.state.now + h.state.timeout_keep_alive + 1)
    await h.closed()


async def test_head_deadline_armed_for_a_head_that_began_during_a_response(make: Make) -> None:
    # A slowloris head sent while the previous response is busy: once that response is
    # done, the head deadline applies (a 408), not no deadline at all.
    release = asyncio.Event()
    app = gated(release)

    h = make(app)
    await h.send(GET)
    await h.send(b"GET /next HTTP/1.1\r\nHo")  # arrives in its own read
    h.proto.check_deadline(h.state.now + 1000)
    assert not h.transport.closed  # busy: the app takes its time
    release.set()
    await h.response()
    h.proto.check_deadline(h.state.now + h.state.timeout_request_head - 0.5)
    assert not h.transport.closed  # not yet due
    h.proto.check_deadline(h.state.now + h.state.timeout_request_head + 1)
    await h.closed()
    assert parse_statuses(h.transport.data) == [200, 408]


async def test_head_completed_after_a_busy_response_is_served(make: Make) -> None:
    release = asyncio.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] == "/":
            await release.wait()
        await text_app(scope, receive, send)

    h = make(app)
    await h.send(GET)
    await h.send(b"GET /next HTTP/1.1\r\nHo")
    release.set()
    await h.response()
    await h.send(b"st: x\r\n\r\n")
    assert [r.status for r in await h.responses(2)] == [200, 200]
    h.proto.check_deadline(h.state.now + h.state.timeout_keep_alive + 1)
    await h.closed()  # idle again: the keep-alive deadline, no 408
    assert parse_statuses(h.transport.data) == [200, 200]


async def test_busy_connection_has_no_deadline(make: Make) -> None:
    release = asyncio.Event()
    app = gated(release)

    h = make(app)
    await h.send(GET)
    h.proto.check_deadline(h.state.now + 1000)
    assert not h.transport.closed
    release.set()
    await h.response()


async def test_limit_concurrency_503(make: Make) -> None:
    release = asyncio.Event()
    app = gated(release)

    first = make(app, limit_concurrency=1)
    await first.send(GET)
    second = Harness(app, limit_concurrency=1)
    second.state = first.state
    second.proto.state = first.state
    first.state.connections.add(second.proto)
    await second.send(GET)
    await second.closed()
    assert parse_statuses(second.transport.data) == [503]
    release.set()
    await first.response()
    second.proto.host.cancel()


async def test_graceful_shutdown_of_idle_and_busy_connections(make: Make) -> None:
    release = asyncio.Event()
    app = gated(release)

    idle = make(app)
    idle.state.shutting_down = True
    idle.proto.shutdown()
    # A request may be on its way: the idle connection waits SHUTDOWN_GRACE for it.
    idle.proto.check_deadline(idle.state.now + SHUTDOWN_GRACE - 0.01)
    assert not idle.transport.closed
    idle.proto.check_deadline(idle.state.now + SHUTDOWN_GRACE + 0.01)
    await idle.closed()
    busy = make(app)
    await busy.send(GET)
    busy.state.shutting_down = True
    busy.proto.shutdown()
    assert not busy.transport.closed
    release.set()
    await busy.closed()
    assert b"connection: close" in busy.transport.data


async def test_graceful_shutdown_answers_a_request_in_the_grace_and_closes(make: Make) -> None:
    h = make(timeout_keep_alive=30)
    await h.send(GET)
    await h.response()
    h.state.shutting_down = True
    h.proto.shutdown()
    assert h.proto.deadline <= h.state.now + SHUTDOWN_GRACE
    await h.send(GET)  # sent before the client could know: answered, then closed
    await h.closed()
    responses = await h.responses(2)
    assert [r.header(b"connection") for r in responses] == [None, b"close"]


async def test_graceful_shutdown_grace_is_at_most_the_keep_alive_timeout(make: Make) -> None:
    h = make(timeout_keep_alive=0.2)
    h.state.shutting_down = True
    h.proto.shutdown()
    assert h.proto.deadline <= h.state.now + 0.2
    partial = make()
    await partial.send(b"GET / HTTP/1.1\r\nHo")
    deadline = partial.proto.deadline
    partial.state.shutting_down = True
    partial.proto.shutdown()  # part of a head came: it keeps its head deadline
    assert partial.proto.deadline == deadline
    await partial.send(b"st: a\r\n\r\n")
    await partial.closed()
    assert b"connection: close" in partial.transport.data


async def test_response_promising_keep_alive_before_shutdown_gets_the_grace(
    make: Make,
) -> None:
    release = asyncio.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200})
        await send({"type": "http.response.body", "body": b"a", "more_body": True})
        await release.wait()
        await send({"type": "http.response.body", "body": b"b"})

    h = make(app, timeout_keep_alive=30)
    await h.send(GET)
    await h.wait_for(lambda: b"\r\n\r\n" in h.transport.data)  # head sent: keep-alive
    h.state.shutting_down = True
    h.proto.shutdown()  # busy: nothing to do yet
    release.set()
    assert (await h.response()).header(b"connection") is None
    assert not h.transport.closed  # the client may already be sending its next request
    assert h.proto.deadline <= h.state.now + SHUTDOWN_GRACE


async def test_limit_max_requests_callback(make: Make) -> None:
    h = make(limit_max_requests=2)
    called: list[int] = []
    h.state.on_limit_max_requests = lambda: called.append(1)
    await h.send(GET + GET)
    await h.responses(2)
    assert called == [1]
