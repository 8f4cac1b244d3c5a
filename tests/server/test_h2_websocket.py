"""WebSockets over HTTP/2 (RFC 8441), protocol level: extended CONNECT, the same ASGI
websocket scope and messages as over HTTP/1.1, frames in DATA frames."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.server.h2harness import H2Client, Result, h2_connect
from vivace.http import WebSocketCore
from vivace.http._h2_frames import ErrorCode
from vivace.server._h2_protocol import H2Protocol
from vivace.types import Receive, Scope, Send

Make = Any
scopes: list[Scope] = []
messages: list[Any] = []


async def echo(scope: Scope, receive: Receive, send: Send) -> None:
    scopes.append(scope)
    assert (await receive())["type"] == "websocket.connect"
    path = scope["path"]
    if path == "/deny":
        await send({"type": "websocket.close"})
        return
    if path == "/respond":
        await send(
            {"type": "websocket.http.response.start", "status": 401, "headers": [(b"x-why", b"no")]}
        )
        await send({"type": "websocket.http.response.body", "body": b"go away"})
        return
    subprotocol = scope["subprotocols"][0] if scope["subprotocols"] else None
    await send({"type": "websocket.accept", "subprotocol": subprotocol})
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] == "websocket.disconnect":
            return
        if message.get("text") == "bye":
            await send({"type": "websocket.close", "code": 1000})
            continue
        await send({"type": "websocket.send", "text": message.get("text") or "bytes"})


async def connect(
    client: H2Client, path: str = "/ws", extra: list[tuple[bytes, bytes]] | None = None
) -> int:
    sid = client.conn.open_stream()
    fields = [
        (b":method", b"CONNECT"),
        (b":protocol", b"websocket"),
        (b":scheme", b"http"),
        (b":path", path.encode()),
        (b":authority", b"example.com"),
        *(extra if extra is not None else [(b"sec-websocket-version", b"13")]),
    ]
    client.conn.send_headers(sid, fields)
    client.results[sid] = Result()
    await client.flush()
    return sid


async def test_settings_advertise_extended_connect(make: Make) -> None:
    _, client = await h2_connect(make, echo)
    assert client.conn.peer_connect_protocol is True
    _, client = await h2_connect(make, echo, ws=False)
    assert client.conn.peer_connect_protocol is False


async def test_echo_over_a_stream(make: Make) -> None:
    scopes.clear()
    messages.clear()
    _, client = await h2_connect(make, echo)
    sid = await connect(
        client,
        "/ws?room=1",
        [(b"sec-websocket-version", b"13"), (b"sec-websocket-protocol", b"chat, x")],
    )
    result = client.results[sid]
    await client.wait(lambda: result.status == 200)
    assert result.header(b"sec-websocket-protocol") == b"chat"
    scope = scopes[0]
    assert scope["type"] == "websocket" and scope["http_version"] == "2"
    assert scope["asgi"] == {"version": "3.0", "spec_version": "2.5"}
    assert (scope["path"], scope["query_string"], scope["scheme"]) == ("/ws", b"room=1", "ws")
    assert scope["subprotocols"] == ["chat", "x"]
    assert "method" not in scope
    ws = WebSocketCore(client=True)
    events: list[Any] = []

    def received() -> bool:
        events.extend(ws.receive_data(_take(result)))
        return bool(events)

    client.conn.send_data(sid, ws.send_text("hello"))
    await client.flush()
    await client.wait(received)
    assert events == ["hello"]
    # The close handshake (the server's close frame, our answer), then the stream ends.
    events.clear()
    client.conn.send_data(sid, ws.send_text("bye"))
    await client.flush()
    await client.wait(received)
    assert getattr(events[0], "code", None) == 1000
    client.conn.send_data(sid, b"".join(ws.data_to_send()), end_stream=True)
    await client.flush()
    await client.wait(lambda: result.ended or result.reset is not None)
    assert result.reset is None
    assert messages[0] == {"type": "websocket.receive", "text": "hello"}
    assert messages[-1]["type"] == "websocket.disconnect"


def _take(result: Result) -> bytes:
    data, result.body = result.body, b""
    return data


async def test_denial_and_http_response(make: Make) -> None:
    _, client = await h2_connect(make, echo)
    result = await client.response(await connect(client, "/deny"))
    assert result.status == 403
    result = await client.response(await connect(client, "/respond"))
    assert (result.status, result.body, result.header(b"x-why")) == (401, b"go away", b"no")


async def test_version_required(make: Make) -> None:
    _, client = await h2_connect(make, echo)
    result = await client.response(await connect(client, "/ws", []))
    assert result.status == 426
    assert result.header(b"sec-websocket-version") == b"13"


async def test_disabled_websockets_answer_501(make: Make) -> None:
    _, client = await h2_connect(make, echo, ws=False)
    result = await client.response(await connect(client))
    assert result.status == 501


async def test_stream_reset_is_a_disconnect(make: Make) -> None:
    messages.clear()
    _, client = await h2_connect(make, echo)
    sid = await connect(client)
    await client.wait(lambda: client.results[sid].status == 200)
    client.conn.reset_stream(sid, ErrorCode.CANCEL)
    await client.flush()
    await client.wait(lambda: bool(messages))
    assert messages[-1]["type"] == "websocket.disconnect" and messages[-1]["code"] == 1006


async def test_graceful_shutdown_closes_with_1001(make: Make) -> None:
    h, client = await h2_connect(make, echo)
    sid = await connect(client)
    result = client.results[sid]
    await client.wait(lambda: result.status == 200)
    for websocket in list(h.state.websockets):
        websocket.shutdown()
    ws = WebSocketCore(client=True)
    events: list[Any] = []
    await client.wait(lambda: bool(events.extend(ws.receive_data(_take(result))) or events))
    assert getattr(events[-1], "code", None) == 1001
    proto = h.transport.protocol
    assert isinstance(proto, H2Protocol)


async def test_many_websockets_and_requests_share_a_connection(make: Make) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await echo(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": 200})
        await send({"type": "http.response.body", "body": b"plain"})

    _, client = await h2_connect(make, app)
    sids = [await connect(client) for _ in range(5)]
    await client.wait(lambda: all(client.results[s].status == 200 for s in sids))
    get = await client.request()
    assert (await client.response(get)).body == b"plain"
    cores = {sid: WebSocketCore(client=True) for sid in sids}
    for sid, core in cores.items():
        client.conn.send_data(sid, core.send_text(f"n{sid}"))
    await client.flush()
    got: dict[int, list[Any]] = {sid: [] for sid in sids}

    def all_echoed() -> bool:
        for sid, core in cores.items():
            got[sid] += core.receive_data(_take(client.results[sid]))
        return all(got[sid] for sid in sids)

    await client.wait(all_echoed)
    assert {sid: got[sid][0] for sid in sids} == {sid: f"n{sid}" for sid in sids}
    await asyncio.sleep(0)


async def test_unread_messages_stop_window_updates(make: Make) -> None:
    gate = asyncio.Event()
    got: list[Any] = []

    async def slow(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await gate.wait()
        while (message := await receive())["type"] == "websocket.receive":
            got.append(message["bytes"][0])
            if len(got) == 200:
                return

    h, client = await h2_connect(make, slow)
    sid = await connect(client)
    await client.wait(lambda: client.results[sid].status == 200)
    ws = WebSocketCore(client=True)
    for i in range(200):
        client.conn.send_data(sid, ws.send_bytes(bytes([i]) * 1000))
    await client.flush()
    proto = h.transport.protocol
    assert isinstance(proto, H2Protocol)
    pipe = proto.websockets[sid]
    await client.wait(lambda: pipe.paused)
    assert pipe.unacked > 0  # received but not acknowledged: the client's window shrinks
    gate.set()
    await client.wait(lambda: len(got) == 200)
    assert got == [i % 256 for i in range(200)]
