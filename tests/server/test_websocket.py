"""The server's WebSocket protocol on a fake transport: handshake, messages, limits, bad
input, keep-alive, backpressure and closing (no sockets; see test_websocket_running.py
for real ones)."""

from __future__ import annotations

import asyncio
import logging
import os
import struct
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from vivace.http import WebSocketClosed, WebSocketCore, WebSocketPing, accept_key
from vivace.server._errors import ClientDisconnected, ProtocolViolation
from vivace.server._websocket import WebSocketProtocol
from vivace.types import Message, Receive, Scope, Send

from .conftest import Harness, parse_responses

KEY = b"dGhlIHNhbXBsZSBub25jZQ=="


def upgrade(
    path: bytes = b"/ws",
    *,
    key: bytes = KEY,
    version: bytes = b"13",
    extra: bytes = b"",
    method: bytes = b"GET",
) -> bytes:
    return (
        method + b" " + path + b" HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
        b"Upgrade: websocket\r\nSec-WebSocket-Key: " + key + b"\r\n"
        b"Sec-WebSocket-Version: " + version + b"\r\n" + extra + b"\r\n"
    )


def frame(opcode: int, payload: bytes = b"", *, fin: bool = True, mask: bool = True) -> bytes:
    first = (0x80 if fin else 0) | opcode
    size = len(payload)
    head = bytes([first, (0x80 if mask else 0) | size]) if size < 126 else (
        bytes([first, (0x80 if mask else 0) | 126]) + struct.pack("!H", size)
    )  # fmt: skip
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


class Recorder:
    """An echo app that records what it received, with hooks for misbehaving."""

    def __init__(self) -> None:
        self.received: list[Message] = []
        self.done = asyncio.Event()
        self.error: BaseException | None = None
        self.scope: Scope | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            return
        self.scope = scope
        try:
            await receive()
            await send(
                {
                    "type": "websocket.accept",
                    "subprotocol": scope["subprotocols"][0] if scope["subprotocols"] else None,
                    "headers": [(b"x-app", b"1")],
                }
            )
            while True:
                message = await receive()
                self.received.append(message)
                if message["type"] == "websocket.disconnect":
                    return
                if message.get("text") == "close":
                    await send({"type": "websocket.close", "code": 4000, "reason": "asked"})
                    continue
                await send(
                    {"type": "websocket.send", **{k: v for k, v in message.items() if k != "type"}}
                )
        except BaseException as exc:
            self.error = exc
            raise
        finally:
            self.done.set()


class Conn:
    """An upgraded connection: the harness, and a client core to read the server's frames."""

    def __init__(self, h: Harness) -> None:
        self.h = h
        self.client = WebSocketCore(client=True, max_message_size=None)
        self.offset = 0

    @property
    def proto(self) -> WebSocketProtocol:
        proto = self.h.transport.protocol
        assert isinstance(proto, WebSocketProtocol)
        return proto

    def head(self) -> bytes:
        data = bytes(self.h.transport.data)
        end = data.find(b"\r\n\r\n")
        assert end > 0, data
        return data[: end + 4]

    async def feed(self, data: bytes) -> None:
        done = self.h.loop.create_future()

        def deliver() -> None:
            try:
                self.proto.data_received(data)
            finally:
                done.set_result(None)

        self.h.loop.call_soon(deliver)
        await done

    async def events(self, count: int = 1) -> list[Any]:
        """The next ``count`` events the server sent (after the 101 head)."""
        got: list[Any] = []

        def ready() -> bool:
            data = bytes(self.h.transport.data)
            if not self.offset:
                end = data.find(b"\r\n\r\n")
                if end < 0:
                    return False
                self.offset = end + 4
            new = data[self.offset :]
            self.offset = len(data)
            got.extend(self.client.receive_data(new))
            return len(got) >= count

        await self.h.wait_for(ready)
        return got


@pytest.fixture
async def connect() -> AsyncIterator[Callable[..., Any]]:
    """Open upgraded connections; every app task is finished at the end of the test."""
    opened: list[Conn] = []

    async def factory(app: Any = None, request: bytes | None = None, **options: Any) -> Conn:
        options.setdefault("ws_ping_interval", 0)
        h = Harness(app or Recorder(), **options)
        await h.send(request or upgrade())
        conn = Conn(h)
        opened.append(conn)
        return conn

    yield factory
    for conn in opened:
        proto = conn.h.transport.protocol
        if isinstance(proto, WebSocketProtocol):
            if not conn.h.transport.closed:
                conn.h.transport.close()
            task = proto.task
            if task is not None and not task.done():
                task.cancel()
                await asyncio.wait({task})
        await asyncio.sleep(0)


async def test_handshake_and_echo(connect: Any) -> None:
    app = Recorder()
    conn = await connect(app, upgrade(extra=b"Sec-WebSocket-Protocol: chat, superchat\r\n"))
    await conn.h.wait_for(lambda: b"\r\n\r\n" in conn.h.transport.data)
    head = conn.head()
    assert head.startswith(b"HTTP/1.1 101 Switching Protocols\r\n")
    assert b"sec-websocket-accept: " + accept_key(KEY).encode() in head
    assert b"sec-websocket-protocol: chat\r\n" in head
    assert b"x-app: 1\r\n" in head
    assert b"server: vivace\r\n" in head
    assert app.scope is not None
    assert app.scope["subprotocols"] == ["chat", "superchat"]
    assert app.scope["extensions"] == {"websocket.http.response": {}}
    assert "method" not in app.scope and app.scope["scheme"] == "ws"
    await conn.feed(conn.client.send_text("hello") + conn.client.send_bytes(b"\x00"))
    assert await conn.events(2) == ["hello", b"\x00"]
    await conn.feed(frame(9, b"ping"))
    (pong,) = await conn.events()
    assert pong.data == b"ping"
    await conn.feed(conn.client.send_close(1000, "bye"))
    (closed,) = await conn.events()
    assert isinstance(closed, WebSocketClosed) and closed.code == 1000
    await asyncio.wait_for(app.done.wait(), 5)
    assert app.received[-1] == {"type": "websocket.disconnect", "code": 1000, "reason": "bye"}
    await conn.h.closed()  # the server closes the TCP connection first (RFC 6455 7.1.1)


@pytest.mark.parametrize(
    ("request_bytes", "status", "why"),
    [
        (upgrade(method=b"POST"), 400, b"GET"),
        (upgrade(version=b"8"), 426, b"version"),
        (upgrade(key=b"short"), 400, b"Sec-WebSocket-Key"),
        (upgrade(key=b"!!!!notbase64!!!!!!!!!!!"), 400, b"Sec-WebSocket-Key"),
        (upgrade(extra=b"Sec-WebSocket-Key: " + KEY + b"\r\n"), 400, b"Sec-WebSocket-Key"),
    ],
)
async def test_bad_handshakes_are_refused_before_the_app(
    connect: Any, request_bytes: bytes, status: int, why: bytes
) -> None:
    app = Recorder()
    conn = await connect(app, request_bytes)
    await conn.h.closed()
    response = parse_responses(conn.h.transport.data)[0]
    assert response.status == status and why in response.body
    if status == 426:
        assert response.header(b"sec-websocket-version") == b"13"
    assert app.scope is None


async def test_connection_header_without_upgrade_is_refused(connect: Any) -> None:
    request = upgrade().replace(b"Connection: Upgrade", b"Connection: Upgrade, keep-alive")
    conn = await connect(Recorder(), request)
    await conn.h.wait_for(lambda: b"\r\n\r\n" in conn.h.transport.data)
    assert conn.head().startswith(b"HTTP/1.1 101")
    proto = conn.proto
    assert proto._check_request({"method": "GET", "headers": [(b"connection", b"close")]}) == (
        400,
        "WebSocket handshake without 'Connection: upgrade'",
        b"",
    )


@pytest.mark.parametrize(
    ("offer", "accepted"),
    [
        (b"permessage-deflate; client_max_window_bits", True),
        (b"permessage-deflate", True),
        (b"x-webkit-deflate-frame, permessage-deflate", True),
        (b"permessage-deflate; server_max_window_bits=99", False),
        (b"permessage-deflate; unknown=1, permessage-deflate", True),
        (b"bad header,,;", False),
    ],
)
async def test_permessage_deflate_negotiation(connect: Any, offer: bytes, accepted: bool) -> None:
    conn = await connect(Recorder(), upgrade(extra=b"Sec-WebSocket-Extensions: " + offer + b"\r\n"))
    await conn.h.wait_for(lambda: b"\r\n\r\n" in conn.h.transport.data)
    head = conn.head()
    assert (b"sec-websocket-extensions: permessage-deflate" in head) is accepted
    if accepted:
        assert b"server_max_window_bits=12" in head  # bounded memory on the server
        from websockets.extensions.permessage_deflate import PerMessageDeflate

        conn.client = WebSocketCore(
            client=True, extensions=[PerMessageDeflate(False, False, 12, 12)]
        )
        text = "squeeze " * 1000
        await conn.feed(conn.client.send_text(text))
        assert await conn.events() == [text]


async def test_deflate_can_be_turned_off(connect: Any) -> None:
    conn = await connect(
        Recorder(),
        upgrade(extra=b"Sec-WebSocket-Extensions: permessage-deflate\r\n"),
        ws_per_message_deflate=False,
    )
    await conn.h.wait_for(lambda: b"\r\n\r\n" in conn.h.transport.data)
    assert b"sec-websocket-extensions" not in conn.head()


# -- the app's answers to the handshake ---------------------------------------------------


def script_app(*messages: Message, then: Any = None) -> Any:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        for message in messages:
            await send(message)
        if then is not None:
            await then(receive, send)

    return app


async def test_close_before_accept_is_403(connect: Any) -> None:
    conn = await connect(script_app({"type": "websocket.close"}))
    await conn.h.closed()
    assert parse_responses(conn.h.transport.data)[0].status == 403


async def test_denial_response_in_one_message(connect: Any) -> None:
    app = script_app(
        {
            "type": "websocket.http.response.start",
            "status": 401,
            "headers": [(b"www-authenticate", b"Bearer")],
        },
        {"type": "websocket.http.response.body", "body": b"log in"},
    )
    conn = await connect(app)
    await conn.h.closed()
    response = parse_responses(conn.h.transport.data)[0]
    assert (response.status, response.body) == (401, b"log in")
    assert response.header(b"www-authenticate") == b"Bearer"
    assert response.header(b"content-length") == b"6"


async def test_denial_response_streamed(connect: Any) -> None:
    app = script_app(
        {"type": "websocket.http.response.start", "status": 403, "headers": []},
        {"type": "websocket.http.response.body", "body": b"no", "more_body": True},
        {"type": "websocket.http.response.body", "body": b"", "more_body": True},
        {"type": "websocket.http.response.body", "body": b"pe"},
    )
    conn = await connect(app)
    await conn.h.closed()
    response = parse_responses(conn.h.transport.data)[0]
    assert (response.status, response.body) == (403, b"nope")
    assert response.header(b"transfer-encoding") == b"chunked"


async def test_app_failures_and_returns(connect: Any, caplog: pytest.LogCaptureFixture) -> None:
    async def fail(receive: Receive, send: Send) -> None:
        raise ValueError("boom")

    conn = await connect(script_app(then=fail))
    await conn.h.closed()
    assert parse_responses(conn.h.transport.data)[0].status == 500
    assert "exception in the WebSocket app" in caplog.text

    conn = await connect(script_app())  # returns without answering
    await conn.h.closed()
    assert parse_responses(conn.h.transport.data)[0].status == 500
    assert "returned without accepting" in caplog.text

    conn = await connect(script_app({"type": "websocket.accept"}))  # returns after accepting
    (event,) = await conn.events()
    assert isinstance(event, WebSocketClosed) and event.code == 1000

    conn = await connect(script_app({"type": "websocket.accept"}, then=fail))
    (event,) = await conn.events()
    assert isinstance(event, WebSocketClosed) and event.code == 1011

    half = script_app({"type": "websocket.http.response.start", "status": 403, "headers": []})
    conn = await connect(half)  # returns in the middle of its denial response
    await conn.h.closed()
    assert conn.h.transport.aborted
    assert "middle of its denial response" in caplog.text

    conn = await connect(
        script_app(
            {"type": "websocket.http.response.start", "status": 403, "headers": []}, then=fail
        )
    )
    await conn.h.closed()
    assert conn.h.transport.aborted


@pytest.mark.parametrize(
    ("messages", "match"),
    [
        ([{"type": "websocket.send", "text": "x"}], "before the WebSocket handshake"),
        ([{"type": "websocket.accept", "subprotocol": "nope"}], "did not offer"),
        ([{"type": "websocket.accept", "headers": [(b"x", b"a\r\nb")]}], "CR, LF"),
        ([{"type": "websocket.accept"}, {"type": "websocket.send"}], "'text' or 'bytes'"),
        ([{"type": "websocket.accept"}, {"type": "http.response.start"}], "on an open"),
        ([{"type": "websocket.accept"}, {"type": "websocket.close", "code": 1006}], "1006"),
        (
            [
                {"type": "websocket.http.response.start", "status": 403},
                {"type": "websocket.close"},
            ],
            "denial response",
        ),
    ],
)
async def test_app_protocol_violations(
    connect: Any, messages: list[Message], match: str, caplog: pytest.LogCaptureFixture
) -> None:
    errors: list[BaseException] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        try:
            for message in messages:
                await send(message)
        except ProtocolViolation as exc:
            errors.append(exc)
            raise

    conn = await connect(app)
    await conn.h.wait_for(lambda: bool(errors))
    assert match in str(errors[0])


async def test_subprotocol_from_accept_headers(connect: Any) -> None:
    app = script_app(
        {"type": "websocket.accept", "headers": [(b"Sec-WebSocket-Protocol", b"b")]},
        then=lambda receive, send: receive(),
    )
    conn = await connect(app, upgrade(extra=b"Sec-WebSocket-Protocol: a, b\r\n"))
    await conn.h.wait_for(lambda: b"\r\n\r\n" in conn.h.transport.data)
    head = conn.head()
    assert head.count(b"sec-websocket-protocol") + head.count(b"Sec-WebSocket-Protocol") == 1
    assert b"sec-websocket-protocol: b\r\n" in head


# -- bad input from the client --------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (frame(1, b"\xff\xfe"), 1007),
        (frame(1, b"caf\xc3", fin=False) + frame(0, b"\x28"), 1007),
        (frame(1, b"unmasked", mask=False), 1002),
        (frame(3), 1002),
        (frame(2, b"x" * 200), 1009),
        (frame(8, b"\x03\xe8\xff"), 1007),  # close reason not UTF-8
    ],
)
async def test_bad_frames_close_with_the_right_code(connect: Any, data: bytes, code: int) -> None:
    app = Recorder()
    conn = await connect(app, ws_max_size=100)
    await conn.feed(data)
    (event,) = await conn.events()
    assert isinstance(event, WebSocketClosed) and event.code == code
    await asyncio.wait_for(app.done.wait(), 5)
    assert app.received[-1]["type"] == "websocket.disconnect"
    assert app.received[-1]["code"] == code
    await conn.h.closed()
    assert app.error is None  # the app saw a disconnect, not a crash


async def test_client_vanishes(connect: Any) -> None:
    app = Recorder()
    conn = await connect(app)
    await conn.feed(frame(1, b"half", fin=False))
    conn.h.transport.close()  # no close frame: the connection just ends
    await asyncio.wait_for(app.done.wait(), 5)
    assert app.received[-1] == {"type": "websocket.disconnect", "code": 1006, "reason": ""}
    assert conn.proto not in conn.h.state.websockets


async def test_eof_without_close_frame(connect: Any) -> None:
    app = Recorder()
    conn = await connect(app)
    assert conn.proto.eof_received() is False
    await asyncio.wait_for(app.done.wait(), 5)
    assert app.received[-1]["code"] == 1006


async def test_send_after_the_client_left_raises(connect: Any) -> None:
    caught: list[BaseException] = []

    async def after(receive: Receive, send: Send) -> None:
        message = await receive()
        assert message["type"] == "websocket.disconnect"
        try:
            await send({"type": "websocket.send", "text": "too late"})
        except ClientDisconnected as exc:
            caught.append(exc)
        await send({"type": "websocket.close"})  # harmless after a close

    conn = await connect(script_app({"type": "websocket.accept"}, then=after))
    await conn.feed(conn.client.send_close(1001))
    await conn.h.wait_for(lambda: bool(caught))
    assert isinstance(caught[0], OSError)


async def test_frames_before_the_accept_are_kept(connect: Any) -> None:
    gate = asyncio.Event()

    async def slow(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await gate.wait()
        await send({"type": "websocket.accept"})
        message = await receive()
        await send({"type": "websocket.send", "text": message["text"]})
        await receive()

    h_conn = await connect(slow, upgrade() + frame(1, b"early"))
    await h_conn.feed(frame(1, b"later"))
    gate.set()
    assert (await h_conn.events())[0] == "early"


async def test_too_much_before_the_accept_aborts(connect: Any) -> None:
    gate = asyncio.Event()

    async def never(scope: Scope, receive: Receive, send: Send) -> None:
        await gate.wait()

    conn = await connect(never)
    await conn.feed(b"x" * (1 << 20) + b"y")
    assert conn.h.transport.aborted


# -- flow control, keep-alive, closing ------------------------------------------------------


async def test_backpressure_on_send(connect: Any) -> None:
    gate, sent = asyncio.Event(), asyncio.Event()

    async def after(receive: Receive, send: Send) -> None:
        await gate.wait()
        await send({"type": "websocket.send", "text": "a"})
        sent.set()
        await receive()

    conn = await connect(script_app({"type": "websocket.accept"}, then=after))
    await conn.h.wait_for(lambda: b"\r\n\r\n" in conn.h.transport.data)
    conn.proto.pause_writing()  # the socket's buffer is full
    gate.set()
    await asyncio.sleep(0.02)
    assert not sent.is_set()  # send() waits
    conn.proto.resume_writing()
    await asyncio.wait_for(sent.wait(), 5)


async def test_backpressure_lost_connection_fails_the_wait(connect: Any) -> None:
    gate = asyncio.Event()
    outcome: list[BaseException] = []

    async def after(receive: Receive, send: Send) -> None:
        await gate.wait()
        try:
            await send({"type": "websocket.send", "text": "a"})
        except ClientDisconnected as exc:
            outcome.append(exc)

    conn = await connect(script_app({"type": "websocket.accept"}, then=after))
    await conn.h.wait_for(lambda: b"\r\n\r\n" in conn.h.transport.data)
    conn.proto.pause_writing()
    gate.set()
    await asyncio.sleep(0.02)
    conn.h.transport.close()
    await conn.h.wait_for(lambda: bool(outcome))


async def test_reading_pauses_when_the_app_falls_behind(connect: Any) -> None:
    gate = asyncio.Event()
    got: list[Message] = []

    async def slow(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await gate.wait()
        while True:
            message = await receive()
            got.append(message)
            if message["type"] == "websocket.disconnect":
                return

    conn = await connect(slow)
    await conn.h.wait_for(lambda: b"\r\n\r\n" in conn.h.transport.data)
    await conn.feed(b"".join(frame(1, b"%d" % i) for i in range(100)))
    assert not conn.h.transport.reading  # paused: more than 64 messages unread
    gate.set()
    await conn.h.wait_for(lambda: len(got) == 100)
    assert conn.h.transport.reading
    assert [m["text"] for m in got] == [str(i) for i in range(100)]


async def test_keepalive_ping_answered_and_unanswered(connect: Any) -> None:
    conn = await connect(Recorder(), ws_ping_interval=0.02, ws_ping_timeout=0.2)
    (ping,) = await conn.events()
    assert isinstance(ping, WebSocketPing)
    await conn.feed(b"".join(conn.client.data_to_send()))  # the client core's pong
    (second,) = await conn.events()  # answered: the next ping comes
    assert isinstance(second, WebSocketPing)
    # This one is not answered: 1011 and the connection is dropped.
    events = await conn.events()
    assert isinstance(events[-1], WebSocketClosed) and events[-1].code == 1011
    await conn.h.closed()
    assert conn.h.transport.aborted


async def test_pings_without_timeout(connect: Any) -> None:
    conn = await connect(Recorder(), ws_ping_interval=0.01, ws_ping_timeout=0)
    events = await conn.events(2)
    assert all(isinstance(e, WebSocketPing) for e in events)


async def test_close_timeout_when_the_client_does_not_answer(connect: Any) -> None:
    app = Recorder()
    conn = await connect(app, ws_close_timeout=0.05)
    await conn.feed(frame(1, b"close"))
    (event,) = await conn.events()
    assert isinstance(event, WebSocketClosed) and event.code == 4000
    await conn.h.closed()
    assert conn.h.transport.aborted
    await asyncio.wait_for(app.done.wait(), 5)


async def test_shutdown_closes_with_1001(connect: Any) -> None:
    app = Recorder()
    conn = await connect(app)
    await conn.h.wait_for(lambda: b"\r\n\r\n" in conn.h.transport.data)
    conn.proto.shutdown()
    (event,) = await conn.events()
    assert isinstance(event, WebSocketClosed) and event.code == 1001
    await asyncio.wait_for(app.done.wait(), 5)
    assert app.received[-1]["code"] == 1001


async def test_shutdown_during_the_handshake_is_503(connect: Any) -> None:
    gate = asyncio.Event()

    async def slow(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await gate.wait()
        with pytest.raises(ClientDisconnected):
            await send({"type": "websocket.accept"})

    conn = await connect(slow)
    conn.proto.shutdown()
    await conn.h.closed()
    assert parse_responses(conn.h.transport.data)[0].status == 503
    gate.set()
    await asyncio.wait_for(conn.proto.task, 5)  # type: ignore[arg-type]


async def test_abort_cancels_the_app(connect: Any) -> None:
    conn = await connect(Recorder())
    conn.proto.abort()
    await conn.h.closed()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(conn.proto.task, 5)  # type: ignore[arg-type]
    conn.proto.abort()  # twice: nothing more to do


async def test_ws_off_refuses_upgrades(connect: Any) -> None:
    conn = await connect(Recorder(), ws=False)
    await conn.h.closed()
    assert parse_responses(conn.h.transport.data)[0].status == 400


def test_quiet_logging_of_expected_disconnects(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="vivace.server")
    assert not caplog.records
