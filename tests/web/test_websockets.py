"""vivace.web WebSockets: the WebSocket API, routes, endpoints, errors and middleware,
driven in-process through the test clients."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import pytest

from vivace.client import WebSocketRejected
from vivace.testing import AsyncTestClient, TestClient
from vivace.types import Message, Receive, Scope, Send
from vivace.web import (
    App,
    HTTPException,
    JSONResponse,
    Middleware,
    PlainTextResponse,
    Route,
    Router,
    WebSocket,
    WebSocketDisconnect,
    WebSocketEndpoint,
    WebSocketException,
    WebSocketRoute,
    WebSocketState,
)
from vivace.web.middleware import (
    AuthCredentials,
    AuthenticationError,
    AuthenticationMiddleware,
    HTTPSRedirectMiddleware,
    SessionMiddleware,
    SimpleUser,
    TrustedHostMiddleware,
    requires,
)


async def echo(websocket: WebSocket) -> None:
    offered = websocket.subprotocols
    await websocket.accept(
        subprotocol=offered[0] if offered else None, headers={"x-served-by": "vivace"}
    )
    async for message in websocket:
        if message == "close":
            await websocket.close(4001, "asked to")
            return
        if isinstance(message, str):
            await websocket.send_text(message.upper())
        else:
            await websocket.send_bytes(message[::-1])


def test_echo_text_binary_subprotocol_and_headers() -> None:
    app = App(routes=[WebSocketRoute("/ws", echo)])
    with TestClient(app).websocket_connect("/ws", subprotocols=["chat.v2", "chat.v1"]) as ws:
        assert ws.subprotocol == "chat.v2"
        assert ws.headers["x-served-by"] == "vivace"
        ws.send_text("hello")
        assert ws.receive_text() == "HELLO"
        ws.send_bytes(b"\x01\x02")
        assert ws.receive_bytes() == b"\x02\x01"
        ws.send("close")
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive()
        assert (info.value.code, info.value.reason) == (4001, "asked to")
        assert ws.close_code == 4001 and ws.close_reason == "asked to"


def test_json_and_iterators() -> None:
    seen: list[Any] = []

    async def handler(websocket: WebSocket) -> None:
        await websocket.accept()
        first = await websocket.receive_json()
        await websocket.send_json({"got": first})
        second = await websocket.receive_json(mode="binary")
        await websocket.send_json({"got": second}, mode="binary")
        seen.extend([item async for item in websocket.iter_json()])
        seen.append("end")

    app = App(routes=[WebSocketRoute("/ws", handler)])
    with TestClient(app).websocket_connect("/ws") as ws:
        ws.send_json([1, "a"])
        assert ws.receive_json() == {"got": [1, "a"]}
        ws.send_json({"b": 2}, mode="binary")
        assert ws.receive_bytes() == b'{"got":{"b":2}}'
        ws.send_json(3)
        ws.send_json(4)
    assert seen == [3, 4, "end"]


@pytest.mark.parametrize(
    ("kind", "payload"),
    [("text", "one"), ("bytes", b"two")],
)
def test_iter_text_and_bytes(kind: str, payload: str | bytes) -> None:
    got: list[Any] = []

    async def handler(websocket: WebSocket) -> None:
        await websocket.accept()
        iterator = websocket.iter_text() if kind == "text" else websocket.iter_bytes()
        got.extend([item async for item in iterator])

    with TestClient(App(routes=[WebSocketRoute("/", handler)])).websocket_connect("/") as ws:
        ws.send(payload)
        ws.send(payload)
    assert got == [payload, payload]


def test_scope_details_path_params_query_cookies_url_for() -> None:
    async def room(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_json(
            {
                "room": websocket.path_params["room"],
                "q": websocket.query_params.get("q"),
                "cookie": websocket.cookies.get("c"),
                "url": str(websocket.url),
                "self": str(websocket.url_for("room", room=8)),
                "client": list(websocket.client or ()),
            }
        )
        await websocket.close()

    app = App(routes=[WebSocketRoute("/rooms/{room:int}", room)])
    client = TestClient(app, cookies={"c": "v"})
    with client.websocket_connect("/rooms/7?q=1") as ws:
        data = ws.receive_json()
    assert data == {
        "room": 7,
        "q": "1",
        "cookie": "v",
        "url": "ws://testserver/rooms/7?q=1",
        "self": "ws://testserver/rooms/8",
        "client": ["testclient", 50000],
    }
    assert app.url_path_for("room", room=3) == "/rooms/3"
    assert app.url_path_for("room", room=3).protocol == "websocket"


def test_http_and_websocket_routes_on_one_path() -> None:
    async def page(request: Any) -> str:
        return "page"

    app = App(routes=[Route("/live", page), WebSocketRoute("/live", echo)])
    client = TestClient(app)
    assert client.get("/live").text == "page"
    r = client.post("/live")
    assert r.status_code == 405 and r.headers["allow"] == "GET, HEAD"  # no "<websocket>"
    with client.websocket_connect("/live") as ws:
        ws.send_text("a")
        assert ws.receive_text() == "A"


def test_http_request_to_websocket_only_path_is_404() -> None:
    app = App(routes=[WebSocketRoute("/ws", echo), WebSocketRoute("/rooms/{id}", echo)])
    client = TestClient(app)
    assert client.get("/ws").status_code == 404
    assert client.get("/rooms/1").status_code == 404


def test_unknown_path_is_a_404_denial_response() -> None:
    client = TestClient(App(routes=[WebSocketRoute("/ws", echo)]))
    with pytest.raises(WebSocketRejected) as info, client.websocket_connect("/nope"):
        pass
    assert info.value.response.status_code == 404
    assert info.value.response.text == "Not Found"


def test_decorators_and_mounts() -> None:
    app = App()

    @app.websocket("/a")
    async def a(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("a")
        await websocket.close()

    api = Router()

    @api.websocket_route("/b", name="bee")
    async def b(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text(websocket.scope["root_path"])
        await websocket.close()

    app.mount("/api", api)
    app.add_websocket_route("/c", echo, name="c")
    client = TestClient(app)
    with client.websocket_connect("/a") as ws:
        assert ws.receive_text() == "a"
    with client.websocket_connect("/api/b") as ws:
        assert ws.receive_text() == "/api"
    assert app.url_path_for("c") == "/c"


def test_route_repr_and_sync_handler_refused() -> None:
    route = WebSocketRoute("/x/{id}", echo)
    assert repr(route) == "WebSocketRoute(path='/x/{id}', name='echo')"
    assert route.url_path_for("echo", id=1) == "/x/1"

    def sync_handler(websocket: WebSocket) -> None:
        pass

    with pytest.raises(TypeError, match="must be async"):
        WebSocketRoute("/", sync_handler)


def test_raw_asgi_app_as_websocket_route() -> None:
    async def raw(scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "websocket"
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": scope["path"]})
        await send({"type": "websocket.close"})

    app = App(routes=[WebSocketRoute("/raw", raw)])
    with TestClient(app).websocket_connect("/raw") as ws:
        assert ws.receive_text() == "/raw"


class Echo(WebSocketEndpoint):
    encoding = "text"
    log: ClassVar[list[Any]] = []

    async def on_connect(self, websocket: WebSocket) -> None:
        self.log.append("connect")
        await websocket.accept()

    async def on_receive(self, websocket: WebSocket, data: Any) -> None:
        if data == "fail":
            raise ValueError("boom")
        await websocket.send_text(f"echo {data}")

    async def on_disconnect(self, websocket: WebSocket, close_code: int) -> None:
        self.log.append(close_code)


def test_endpoint_text() -> None:
    Echo.log = []
    app = App(routes=[WebSocketRoute("/e", Echo)])
    with TestClient(app).websocket_connect("/e") as ws:
        ws.send_text("hi")
        assert ws.receive_text() == "echo hi"
        ws.close(4002)
    assert Echo.log == ["connect", 4002]


def test_endpoint_wrong_kind_is_1003() -> None:
    Echo.log = []
    app = App(routes=[WebSocketRoute("/e", Echo)])
    with TestClient(app).websocket_connect("/e") as ws:
        ws.send_bytes(b"x")
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive()
    assert info.value.code == 1003
    assert Echo.log == ["connect", 1003]


def test_endpoint_failure_is_1011_and_reraised() -> None:
    Echo.log = []
    app = App(routes=[WebSocketRoute("/e", Echo)])
    with TestClient(app).websocket_connect("/e") as ws:
        ws.send_text("fail")
        with pytest.raises(ValueError, match="boom"):
            ws.receive()
        assert ws.close_code == 1011
    assert Echo.log == ["connect", 1011]


@pytest.mark.parametrize(
    ("encoding", "send", "expected"),
    [
        ("bytes", b"raw", b"raw"),
        ("json", '{"a": 1}', {"a": 1}),
        ("json", b"[2]", [2]),
        (None, "t", {"type": "websocket.receive", "text": "t"}),
    ],
)
def test_endpoint_encodings(encoding: Any, send: Any, expected: Any) -> None:
    received: list[Any] = []

    class Endpoint(WebSocketEndpoint):
        async def on_receive(self, websocket: WebSocket, data: Any) -> None:
            received.append(data)
            await websocket.close()

    Endpoint.encoding = encoding
    with TestClient(App(routes=[WebSocketRoute("/", Endpoint)])).websocket_connect("/") as ws:
        ws.send(send)
        with pytest.raises(WebSocketDisconnect):
            ws.receive()
    assert received == [expected]


def test_endpoint_bad_json_and_wrong_kind_for_bytes() -> None:
    class Endpoint(WebSocketEndpoint):
        encoding = "json"

    app = App(routes=[WebSocketRoute("/", Endpoint)])
    with TestClient(app).websocket_connect("/") as ws:
        ws.send_text("{not json")
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive()
    assert info.value.code == 1007

    class Binary(WebSocketEndpoint):
        encoding = "bytes"

    app = App(routes=[WebSocketRoute("/", Binary)])
    with TestClient(app).websocket_connect("/") as ws:
        ws.send_text("text")
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive()
    assert info.value.code == 1003


def test_endpoint_that_never_accepts_is_refused() -> None:
    class Refuse(WebSocketEndpoint):
        async def on_connect(self, websocket: WebSocket) -> None:
            await websocket.close()

    client = TestClient(App(routes=[WebSocketRoute("/", Refuse)]))
    with pytest.raises(WebSocketRejected) as info, client.websocket_connect("/"):
        pass
    assert info.value.response.status_code == 403


def test_endpoint_http_exception_before_accept() -> None:
    closed: list[int] = []

    class Guarded(WebSocketEndpoint):
        async def on_connect(self, websocket: WebSocket) -> None:
            raise HTTPException(401, "who are you")

        async def on_disconnect(self, websocket: WebSocket, close_code: int) -> None:
            closed.append(close_code)

    client = TestClient(App(routes=[WebSocketRoute("/", Guarded)]))
    with pytest.raises(WebSocketRejected) as info, client.websocket_connect("/"):
        pass
    assert info.value.response.status_code == 401
    assert closed == [1008]


def test_receive_text_on_binary_is_1003_and_bad_json_1007() -> None:
    async def text_only(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.receive_text()

    async def bytes_only(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.receive_bytes()

    async def json_only(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.receive_json()

    app = App(
        routes=[
            WebSocketRoute("/t", text_only),
            WebSocketRoute("/b", bytes_only),
            WebSocketRoute("/j", json_only),
        ]
    )
    client = TestClient(app)
    for path, payload, code in (("/t", b"x", 1003), ("/b", "x", 1003), ("/j", "{", 1007)):
        with client.websocket_connect(path) as ws:
            ws.send(payload)
            with pytest.raises(WebSocketDisconnect) as info:
                ws.receive()
            assert info.value.code == code, path


def test_websocket_exception_before_and_after_accept() -> None:
    async def before(websocket: WebSocket) -> None:
        raise WebSocketException(1008, "no")

    async def after(websocket: WebSocket) -> None:
        await websocket.accept()
        raise WebSocketException(4403, "forbidden room")

    app = App(routes=[WebSocketRoute("/before", before), WebSocketRoute("/after", after)])
    client = TestClient(app)
    with pytest.raises(WebSocketRejected) as info, client.websocket_connect("/before"):
        pass
    assert info.value.response.status_code == 403
    with client.websocket_connect("/after") as ws, pytest.raises(WebSocketDisconnect) as closed:
        ws.receive()
    assert (closed.value.code, closed.value.reason) == (4403, "forbidden room")
    assert str(WebSocketException(1008)) == "1008"
    assert str(WebSocketException(1008, "x")) == "1008: x"


def test_http_exception_after_accept_closes() -> None:
    async def handler(websocket: WebSocket) -> None:
        await websocket.accept()
        message = await websocket.receive_text()
        raise HTTPException(404 if message == "4xx" else 503, "nope")

    client = TestClient(App(routes=[WebSocketRoute("/", handler)]))
    for message, code in (("4xx", 1008), ("5xx", 1011)):
        with client.websocket_connect("/") as ws:
            ws.send_text(message)
            with pytest.raises(WebSocketDisconnect) as info:
                ws.receive()
            assert (info.value.code, info.value.reason) == (code, "nope")


def test_exception_handlers_for_websockets() -> None:
    class Banned(Exception):
        pass

    class Closes(Exception):
        pass

    async def handler(websocket: WebSocket) -> None:
        if websocket.query_params.get("closes"):
            raise Closes()
        raise Banned()

    async def banned(conn: Any, exc: Banned) -> JSONResponse:
        return JSONResponse({"error": "banned"}, status_code=403)

    async def closes(conn: WebSocket, exc: Closes) -> None:
        await conn.close(4000)

    app = App(
        routes=[WebSocketRoute("/", handler)],
        exception_handlers={Banned: banned, Closes: closes},
    )
    client = TestClient(app)
    with pytest.raises(WebSocketRejected) as info, client.websocket_connect("/"):
        pass
    assert info.value.response.status_code == 403
    assert info.value.response.json() == {"error": "banned"}
    with pytest.raises(WebSocketRejected) as info, client.websocket_connect("/?closes=1"):
        pass
    assert info.value.response.status_code == 403


def test_unhandled_exception_propagates() -> None:
    async def before(websocket: WebSocket) -> None:
        raise RuntimeError("before accept")

    async def after(websocket: WebSocket) -> None:
        await websocket.accept()
        raise RuntimeError("after accept")

    app = App(routes=[WebSocketRoute("/before", before), WebSocketRoute("/after", after)])
    client = TestClient(app)
    with pytest.raises(RuntimeError, match="before accept"), client.websocket_connect("/before"):
        pass
    with pytest.raises(RuntimeError, match="after accept"), client.websocket_connect("/after"):
        pass
    quiet = TestClient(app, raise_server_exceptions=False)
    with pytest.raises(WebSocketRejected) as info, quiet.websocket_connect("/before"):
        pass
    assert info.value.response.status_code == 500
    with quiet.websocket_connect("/after") as ws, pytest.raises(WebSocketDisconnect) as closed:
        ws.receive()
    assert closed.value.code == 1011


def test_disconnect_escaping_the_handler_is_quiet() -> None:
    done = asyncio.Event()

    async def handler(websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            while True:
                await websocket.receive_text()
        finally:
            done.set()

    with TestClient(App(routes=[WebSocketRoute("/", handler)])).websocket_connect("/") as ws:
        ws.send_text("x")
    assert done.is_set()


def test_state_machine_errors() -> None:
    errors: list[str] = []

    async def handler(websocket: WebSocket) -> None:
        for attempt in (
            websocket.send_text("too early"),
            websocket.send({"type": "websocket.http.response.body", "body": b""}),
        ):
            try:
                await attempt
            except RuntimeError as exc:
                errors.append(str(exc))
        with pytest.raises(ValueError, match="did not offer"):
            await websocket.accept(subprotocol="nope")
        await websocket.accept(headers=[(b"x-raw", b"1")])
        for attempt in (
            websocket.accept(),
            websocket.send_denial_response(PlainTextResponse("no", 403)),
        ):
            try:
                await attempt
            except RuntimeError as exc:
                errors.append(str(exc))
        assert websocket.application_state is WebSocketState.CONNECTED
        await websocket.close()
        assert websocket.application_state is WebSocketState.DISCONNECTED
        try:
            await websocket.send_text("after close")
        except RuntimeError as exc:
            errors.append(str(exc))
        message = await websocket.receive()
        assert message["type"] == "websocket.disconnect"
        try:
            await websocket.receive()
        except RuntimeError as exc:
            errors.append(str(exc))

    with TestClient(App(routes=[WebSocketRoute("/", handler)])).websocket_connect("/") as ws:
        assert ws.headers["x-raw"] == "1"
        with pytest.raises(WebSocketDisconnect):
            ws.receive()
    assert errors == [
        "cannot send 'websocket.send' before accepting the WebSocket",
        "cannot send 'websocket.http.response.body' before accepting the WebSocket",
        "cannot send 'websocket.accept' on an accepted WebSocket",
        "a denial response must come before accepting the WebSocket",
        "cannot send 'websocket.send': the WebSocket is closed",
        "the client has disconnected: nothing more to receive",
    ]


def test_websocket_needs_a_websocket_scope() -> None:
    async def receive() -> Message:
        return {}

    async def send(message: Message) -> None:
        pass

    with pytest.raises(ValueError, match="websocket scope"):
        WebSocket({"type": "http"}, receive, send)


async def test_raw_message_order_checks() -> None:
    messages: list[Message] = [{"type": "websocket.receive", "text": "x"}]
    sent: list[Message] = []

    async def receive() -> Message:
        return messages.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    websocket = WebSocket({"type": "websocket", "headers": []}, receive, send)
    assert websocket.receive_channel is receive
    with pytest.raises(RuntimeError, match=r"expected 'websocket\.connect'"):
        await websocket.receive()
    websocket.client_state = WebSocketState.CONNECTED
    messages.append({"type": "http.request"})
    with pytest.raises(RuntimeError, match="unexpected ASGI message"):
        await websocket.receive()
    # Without the denial-response extension a denial is refused, and so is the raw start.
    with pytest.raises(RuntimeError, match="denial responses"):
        await websocket.send_denial_response(PlainTextResponse("x"))
    with pytest.raises(RuntimeError, match="denial responses"):
        await websocket.send({"type": "websocket.http.response.start", "status": 403})
    # A client that leaves before the handshake: accept() says so.
    websocket = WebSocket({"type": "websocket", "headers": []}, receive, send)
    messages.append({"type": "websocket.disconnect", "code": 1001})
    with pytest.raises(WebSocketDisconnect) as info:
        await websocket.accept()
    assert info.value.code == 1001
    assert sent == []


async def test_denial_response_streaming_body_states() -> None:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "websocket.connect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "websocket", "headers": [], "extensions": {"websocket.http.response": {}}}
    websocket = WebSocket(scope, receive, send)
    await websocket.send({"type": "websocket.http.response.start", "status": 403, "headers": []})
    assert websocket.application_state is WebSocketState.RESPONSE
    with pytest.raises(RuntimeError, match="during a denial response"):
        await websocket.send({"type": "websocket.close"})
    await websocket.send({"type": "websocket.http.response.body", "body": b"a", "more_body": True})
    await websocket.send({"type": "websocket.http.response.body", "body": b"b"})
    assert websocket.application_state is WebSocketState.DISCONNECTED
    assert [m["type"] for m in sent] == [
        "websocket.http.response.start",
        "websocket.http.response.body",
        "websocket.http.response.body",
    ]


def test_denial_response_from_handler() -> None:
    async def handler(websocket: WebSocket) -> None:
        await websocket.send_denial_response(
            JSONResponse({"detail": "log in first"}, 401, headers={"www-authenticate": "Bearer"})
        )

    client = TestClient(App(routes=[WebSocketRoute("/", handler)]))
    with pytest.raises(WebSocketRejected) as info, client.websocket_connect("/"):
        pass
    response = info.value.response
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json() == {"detail": "log in first"}


# -- middleware on websocket scopes ----------------------------------------------------


def test_session_middleware_reads_and_writes_on_accept() -> None:
    async def login(request: Any) -> dict[str, Any]:
        request.session["user"] = "ada"
        return {}

    async def whoami(websocket: WebSocket) -> None:
        user = websocket.session.get("user")
        websocket.session["seen"] = True
        await websocket.accept()
        await websocket.send_text(user or "anonymous")
        await websocket.close()

    app = App(
        routes=[Route("/login", login), WebSocketRoute("/ws", whoami)],
        middleware=[Middleware(SessionMiddleware, secret_key="k")],
    )
    client = TestClient(app)
    with client.websocket_connect("/ws") as ws:
        assert ws.receive_text() == "anonymous"
        assert "set-cookie" in ws.headers  # the changed session rides on the 101
    client.cookies.clear()
    client.get("/login")
    with client.websocket_connect("/ws") as ws:
        assert ws.receive_text() == "ada"
    tampered = TestClient(app, cookies={"session": "forged.value"})
    with tampered.websocket_connect("/ws") as ws:
        assert ws.receive_text() == "anonymous"


def test_trusted_host_refuses_other_hosts() -> None:
    app = App(
        routes=[WebSocketRoute("/ws", echo)],
        middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=["testserver"])],
    )
    with TestClient(app).websocket_connect("/ws") as ws:
        ws.send_text("ok")
        assert ws.receive_text() == "OK"
    evil = TestClient(app, base_url="http://evil.test")
    with pytest.raises(WebSocketRejected) as info, evil.websocket_connect("/ws"):
        pass
    assert info.value.response.status_code == 403


def test_https_redirect_for_websockets() -> None:
    app = App(
        routes=[WebSocketRoute("/ws", echo)], middleware=[Middleware(HTTPSRedirectMiddleware)]
    )
    with pytest.raises(WebSocketRejected) as info, TestClient(app).websocket_connect("/ws?a=1"):
        pass
    assert info.value.response.status_code == 307
    assert info.value.response.headers["location"] == "wss://testserver/ws?a=1"
    secure = TestClient(app, base_url="https://testserver")
    with secure.websocket_connect("/ws") as ws:
        ws.send_text("s")
        assert ws.receive_text() == "S"


class TokenBackend:
    async def authenticate(self, conn: Any) -> tuple[AuthCredentials, SimpleUser] | None:
        token = conn.headers.get("authorization") or conn.query_params.get("token")
        if token is None:
            return None
        if token not in ("Bearer good", "good"):
            raise AuthenticationError("bad token")
        return AuthCredentials(["chat"]), SimpleUser("ada")


@requires("chat")
async def guarded_chat(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text(f"hello {websocket.user.display_name} {websocket.auth.scopes}")
    await websocket.close()


@requires(["chat"])
async def guarded_page(request: Any) -> str:
    return f"page for {request.user.username}"


@requires("chat", redirect="login")
async def guarded_redirect(request: Any) -> str:
    return "secret"


async def login_page(request: Any) -> str:
    return "login" if not request.user.is_authenticated else "already"


def auth_app() -> App:
    return App(
        routes=[
            WebSocketRoute("/chat", guarded_chat),
            Route("/page", guarded_page),
            Route("/r", guarded_redirect),
            Route("/login", login_page, name="login"),
        ],
        middleware=[Middleware(AuthenticationMiddleware, backend=TokenBackend())],
    )


def test_authentication_on_websockets() -> None:
    client = TestClient(auth_app())
    with client.websocket_connect("/chat", headers={"authorization": "Bearer good"}) as ws:
        assert ws.receive_text() == "hello ada ['chat']"
    with client.websocket_connect("/chat?token=good") as ws:
        assert ws.receive_text().startswith("hello ada")
    # Anonymous: requires() refuses the handshake.
    with pytest.raises(WebSocketRejected) as info, client.websocket_connect("/chat"):
        pass
    assert info.value.response.status_code == 403
    # A bad token: the backend's AuthenticationError becomes a 401 denial response.
    with (
        pytest.raises(WebSocketRejected) as info,
        client.websocket_connect("/chat", headers={"authorization": "Bearer bad"}),
    ):
        pass
    assert info.value.response.status_code == 401
    assert info.value.response.text == "bad token"


def test_authentication_on_http() -> None:
    client = TestClient(auth_app(), follow_redirects=False)
    assert client.get("/page", headers={"authorization": "Bearer good"}).text == "page for ada"
    assert client.get("/page").status_code == 403
    assert client.get("/page", headers={"authorization": "Bearer bad"}).status_code == 401
    r = client.get("/r")
    assert r.status_code == 303 and r.headers["location"] == "http://testserver/login"
    assert client.get("/login").text == "login"
    assert SimpleUser("x").is_authenticated


def test_user_and_auth_need_the_middleware() -> None:
    async def handler(websocket: WebSocket) -> None:
        for name in ("user", "auth"):
            with pytest.raises(RuntimeError, match="AuthenticationMiddleware"):
                getattr(websocket, name)
        await websocket.accept()
        await websocket.close()

    client = TestClient(App(routes=[WebSocketRoute("/", handler)]))
    with client.websocket_connect("/") as ws, pytest.raises(WebSocketDisconnect):
        ws.receive()
    with pytest.raises(TypeError):
        requires("x")(lambda request: None)  # type: ignore[arg-type, return-value]


async def test_async_test_client_websocket() -> None:
    app = App(routes=[WebSocketRoute("/ws", echo)])
    async with AsyncTestClient(app) as client, client.websocket_connect("/ws") as ws:
        await ws.send_text("async")
        assert await ws.receive_text() == "ASYNC"
        assert await ws.ping() == 0.0
        await ws.send_text("a")
        await ws.send_text("close")
        assert [message async for message in ws] == ["A"]
