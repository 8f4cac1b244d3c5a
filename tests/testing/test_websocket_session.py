"""TestClient / AsyncTestClient WebSocket sessions with raw ASGI apps and Starlette."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute as StarletteRoute
from starlette.websockets import WebSocket as StarletteWebSocket

from vivace.client import ReadTimeout, WebSocketDisconnect, WebSocketRejected
from vivace.client._asgi import ClientDisconnected
from vivace.testing import AsyncTestClient, TestClient, WebSocketTestSession
from vivace.types import Message, Receive, Scope, Send


def raw_app(script: list[Message], *, after: Any = None) -> Any:
    """An app that accepts nothing itself: it sends ``script`` after websocket.connect."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        assert (await receive())["type"] == "websocket.connect"
        for message in script:
            await send(message)
        if after is not None:
            await after(scope, receive, send)

    return app


def test_scope_as_a_server_builds_it() -> None:
    scopes: list[Scope] = []

    async def capture(scope: Scope, receive: Receive, send: Send) -> None:
        scopes.append(scope)

    app = raw_app([{"type": "websocket.accept"}, {"type": "websocket.close"}], after=capture)
    client = TestClient(app, root_path="/api", headers={"x-a": "1"})
    with (
        client.websocket_connect("/api/ws?x=%20", subprotocols=["a", "b"]) as ws,
        pytest.raises(WebSocketDisconnect),
    ):
        ws.receive()
    scope = scopes[0]
    assert scope["type"] == "websocket"
    assert scope["scheme"] == "ws"
    assert scope["path"] == "/api/api/ws" or scope["path"].endswith("/ws")
    assert scope["query_string"] == b"x=%20"
    assert scope["subprotocols"] == ["a", "b"]
    assert scope["root_path"] == "/api"
    assert "websocket.http.response" in scope["extensions"]
    headers = dict(scope["headers"])
    assert headers[b"x-a"] == b"1"
    assert headers[b"upgrade"] == b"websocket"
    assert headers[b"sec-websocket-protocol"] == b"a, b"
    assert b"content-length" not in headers
    assert scope["server"] == ("testserver", 80)


def test_wss_scheme_and_port() -> None:
    scopes: list[Scope] = []

    async def capture(scope: Scope, receive: Receive, send: Send) -> None:
        scopes.append(scope)

    app = raw_app([{"type": "websocket.accept"}], after=capture)
    with (
        TestClient(app, base_url="https://secure.test").websocket_connect("/") as ws,
        pytest.raises(WebSocketDisconnect) as info,
    ):
        ws.receive()
    assert info.value.code == 1000  # the app returned: closed with 1000 (ASGI)
    assert scopes[0]["scheme"] == "wss"
    assert scopes[0]["server"] == ("secure.test", 443)


def test_lifespan_state_reaches_websockets() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await receive()
            scope["state"]["db"] = "ready"
            await send({"type": "lifespan.startup.complete"})
            await receive()
            await send({"type": "lifespan.shutdown.complete"})
            return
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": scope["state"]["db"]})

    with TestClient(app) as client, client.websocket_connect("/") as ws:
        assert ws.receive_text() == "ready"


def test_accepting_a_subprotocol_not_offered_is_an_app_error() -> None:
    app = raw_app([{"type": "websocket.accept", "subprotocol": "nope"}])
    with pytest.raises(RuntimeError, match="not offered"), TestClient(app).websocket_connect("/"):
        pass


@pytest.mark.parametrize(
    ("script", "match"),
    [
        ([{"type": "websocket.send", "text": "x"}], "before the handshake"),
        (
            [{"type": "websocket.http.response.start", "status": 403}, {"type": "websocket.send"}],
            "denial response",
        ),
        ([{"type": "websocket.accept"}, {"type": "websocket.send"}], "one of 'text' or 'bytes'"),
        (
            [{"type": "websocket.accept"}, {"type": "http.response.start"}],
            "unexpected ASGI message 'http.response.start' on an open",
        ),
        (
            [
                {"type": "websocket.accept"},
                {"type": "websocket.close"},
                {"type": "websocket.close"},
            ],
            "after closing",
        ),
    ],
)
def test_app_protocol_errors(script: list[Message], match: str) -> None:
    with (
        pytest.raises(RuntimeError, match=match),
        TestClient(raw_app(script)).websocket_connect("/") as ws,
    ):
        ws.receive()


def test_app_that_returns_without_answering() -> None:
    client = TestClient(raw_app([]))
    with pytest.raises(RuntimeError, match="without accepting"), client.websocket_connect("/"):
        pass
    quiet = TestClient(raw_app([]), raise_server_exceptions=False)
    with pytest.raises(WebSocketRejected) as info, quiet.websocket_connect("/"):
        pass
    assert info.value.response.status_code == 500


def test_streamed_denial_response() -> None:
    app = raw_app(
        [
            {"type": "websocket.http.response.start", "status": 418, "headers": [(b"X-T", b"1")]},
            {"type": "websocket.http.response.body", "body": b"i'm a ", "more_body": True},
            {"type": "websocket.http.response.body", "body": b"teapot"},
        ]
    )
    with pytest.raises(WebSocketRejected) as info, TestClient(app).websocket_connect("/"):
        pass
    response = info.value.response
    assert (response.status_code, response.text, response.headers["x-t"]) == (
        418,
        "i'm a teapot",
        "1",
    )
    assert "418" in str(info.value)


def test_client_disconnect_reaches_the_app_and_send_after_it_fails() -> None:
    events: list[Any] = []

    async def after(scope: Scope, receive: Receive, send: Send) -> None:
        events.append(await receive())
        events.append(await receive())
        try:
            await send({"type": "websocket.send", "text": "late"})
        except ClientDisconnected as exc:
            events.append(type(exc).__name__)
        events.append(await receive())  # stays disconnected

    app = raw_app([{"type": "websocket.accept"}], after=after)
    with TestClient(app).websocket_connect("/") as ws:
        ws.send_bytes(b"b")
        ws.close(4001, "done")
        with pytest.raises(WebSocketDisconnect) as info:
            ws.send_text("after close")
        assert info.value.code == 4001
    assert events[0] == {"type": "websocket.receive", "bytes": b"b"}
    assert events[1] == {"type": "websocket.disconnect", "code": 4001, "reason": "done"}
    assert events[2] == "ClientDisconnected"
    assert events[3] == {"type": "websocket.disconnect", "code": 4001, "reason": "done"}


def test_receive_timeout_and_iteration() -> None:
    async def after(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "websocket.send", "text": "1"})
        await send({"type": "websocket.send", "bytes": b"2"})
        message = await receive()
        if message["type"] == "websocket.receive":
            await send({"type": "websocket.close", "code": 1000})

    app = raw_app([{"type": "websocket.accept"}], after=after)
    with TestClient(app, timeout=5).websocket_connect("/") as ws:
        assert isinstance(ws, WebSocketTestSession)
        assert ws.receive() == "1"
        assert ws.receive() == b"2"
        with pytest.raises(ReadTimeout):
            ws.receive(timeout=0.05)
        ws.send_text("close please")
        assert list(ws) == []
        assert ws.subprotocol is None and ws.close_code == 1000 and ws.close_reason == ""


def test_type_checks_on_send_and_receive() -> None:
    async def after(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "websocket.send", "bytes": b"b"})
        await send({"type": "websocket.send", "text": "t"})
        await receive()

    app = raw_app([{"type": "websocket.accept"}], after=after)
    with TestClient(app).websocket_connect("/") as ws:
        with pytest.raises(TypeError):
            ws.receive_text()
        with pytest.raises(TypeError):
            ws.receive_bytes()
        with pytest.raises(TypeError):
            ws.send_text(b"x")  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            ws.send_bytes("x")  # type: ignore[arg-type]


def test_app_that_ignores_the_disconnect_is_cancelled() -> None:
    cancelled = []

    async def after(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    app = raw_app([{"type": "websocket.accept"}], after=after)
    client = TestClient(app)
    with client.websocket_connect("/", close_timeout=0.1):
        pass
    assert cancelled == [True]


def test_app_that_never_answers_the_handshake_times_out() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await asyncio.sleep(60)

    with pytest.raises(ReadTimeout), TestClient(app, timeout=0.1).websocket_connect("/"):
        pass


def test_app_failing_after_accept_is_raised_by_receive() -> None:
    async def after(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        raise KeyError("broken")

    app = raw_app([{"type": "websocket.accept"}], after=after)
    with TestClient(app).websocket_connect("/") as ws:
        ws.send_text("x")
        with pytest.raises(KeyError):
            ws.receive()


def test_starlette_websockets_through_vivace_testclient() -> None:
    async def endpoint(websocket: StarletteWebSocket) -> None:
        await websocket.accept(subprotocol="v1")
        name = await websocket.receive_text()
        await websocket.send_json({"hello": name, "q": websocket.query_params.get("q")})
        data = await websocket.receive_bytes()
        await websocket.send_bytes(data * 2)
        await websocket.close(code=4100, reason="bye")

    app = Starlette(routes=[StarletteRoute("/ws", endpoint)])
    with TestClient(app) as client, client.websocket_connect("/ws?q=1", subprotocols=["v1"]) as ws:
        assert ws.subprotocol == "v1"
        ws.send_text("ada")
        assert ws.receive_json() == {"hello": "ada", "q": "1"}
        ws.send_bytes(b"ab")
        assert ws.receive_bytes() == b"abab"
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive()
        assert (info.value.code, info.value.reason) == (4100, "bye")


async def test_async_client_sessions_are_independent() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            raise RuntimeError("no lifespan here")  # (before receive: "not supported")
        await receive()
        await send({"type": "websocket.accept"})
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            await send({"type": "websocket.send", "text": scope["path"] + message["text"]})

    async with (
        AsyncTestClient(app) as client,
        client.websocket_connect("/a") as a,
        client.websocket_connect("/b") as b,
    ):
        await a.send_text("1")
        await b.send_text("2")
        assert await b.receive_text() == "/b2"
        assert await a.receive_text() == "/a1"


def test_the_in_process_transports_declare_asgi_spec_2_5() -> None:
    # 2.5: websocket.disconnect carries the close reason (above), as vivace.server's do.
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["asgi"]["spec_version"])
        if scope["type"] == "websocket":
            await receive()
            await send({"type": "websocket.accept"})
            await send({"type": "websocket.close"})
            return
        await send({"type": "http.response.start", "status": 204})
        await send({"type": "http.response.body"})

    client = TestClient(app)
    assert client.get("/").status_code == 204
    with pytest.raises(WebSocketDisconnect), client.websocket_connect("/") as ws:
        ws.receive()
    assert seen == ["2.5", "2.5"]
