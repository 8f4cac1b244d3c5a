"""Routing edge cases: direct route calls, sync/class handler paths, odd mounts."""

from __future__ import annotations

from typing import Any

import pytest

from vivace.testing import TestClient
from vivace.types import Message, Receive, Scope, Send
from vivace.web import (
    App,
    ClientDisconnect,
    Converter,
    HTTPEndpoint,
    Mount,
    NoMatchFound,
    PlainTextResponse,
    Request,
    Route,
    Router,
    register_converter,
)
from vivace.web._converters import CONVERTERS
from vivace.web._routes import route_path


def test_sync_handlers_every_shape() -> None:
    def no_request() -> str:
        return "plain"

    def raises(request: Request) -> str:
        raise KeyError("missing")

    def form(request: Request) -> str:
        return "sync"

    async def on_key(request: Request, exc: Exception) -> PlainTextResponse:
        return PlainTextResponse("handled", 404)

    app = App(
        routes=[Route("/a", no_request), Route("/b", raises), Route("/c", form)],
        exception_handlers={KeyError: on_key},
    )
    c = TestClient(app)
    assert c.get("/a").text == "plain"
    assert c.get("/b").text == "handled"


def test_form_files_closed_for_sync_and_class_handlers() -> None:
    async def async_form(request: Request) -> str:
        await request.form()
        return "ok"

    class Endpoint(HTTPEndpoint):
        async def post(self, request: Request) -> str:
            await request.form()
            return "ok"

    def sync_plain(request: Request) -> str:
        return "ok"

    app = App(
        routes=[
            Route("/class", Endpoint),
            Route("/plain", sync_plain, methods=["POST"]),
            Route("/async", async_form, methods=["POST"]),
        ]
    )
    c = TestClient(app)
    files = {"f": ("a.txt", b"x", "text/plain")}
    assert c.post("/class", files=files).text == "ok"
    assert c.post("/plain", files=files).text == "ok"


async def test_client_disconnect_in_sync_and_class_handlers() -> None:
    class Endpoint(HTTPEndpoint):
        async def post(self, request: Request) -> str:
            raise ClientDisconnect("gone")

    def sync(request: Request) -> str:
        raise ClientDisconnect("gone")

    app = App(routes=[Route("/class", Endpoint), Route("/sync", sync, methods=["POST"])])
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    for path in ("/class", "/sync"):
        scope = {"type": "http", "method": "POST", "path": path, "headers": [], "query_string": b""}
        await app(scope, receive, send)
    assert sent == []


async def test_route_and_mount_called_directly() -> None:
    async def handler(request: Request) -> str:
        return "direct"

    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/", "headers": [], "query_string": b""}
    route = Route("/", handler)
    await route(scope, receive, send)
    assert sent[-1]["body"] == b"direct"
    mount = Mount("", routes=[route])
    await mount.handle(dict(scope), receive, send)
    assert sent[-1]["body"] == b"direct"

    async def raw(scope: Scope, receive: Receive, send: Send) -> None:
        await PlainTextResponse("raw")(scope, receive, send)

    await Mount("", app=raw).handle(dict(scope), receive, send)
    assert sent[-1]["body"] == b"raw"
    ws_seen: list[str] = []

    async def ws_app(scope: Scope, receive: Receive, send: Send) -> None:
        ws_seen.append(scope["type"])

    await Mount("/ws", app=ws_app).handle({"type": "websocket"}, receive, send)
    assert ws_seen == ["websocket"]


def test_route_path() -> None:
    assert route_path({"path": "/api", "root_path": "/api"}) == ""
    assert route_path({"path": "/apix", "root_path": "/api"}) == "/apix"
    assert route_path({"path": "/other", "root_path": "/api"}) == "/other"
    assert route_path({"path": "/api/x", "root_path": "/api"}) == "/x"


def test_server_root_path() -> None:
    async def handler(request: Request) -> dict[str, Any]:
        return {"url": str(request.url_for("h")), "path": request.url.path}

    app = App(routes=[Route("/h", handler, name="h")])
    c = TestClient(app, root_path="/prefix")
    # The client (like uvicorn) puts root_path in front of the path it sends.
    assert c.get("/h").json() == {"url": "http://testserver/prefix/h", "path": "/prefix/h"}


def test_mount_url_path_for_variants() -> None:
    async def h(request: Request) -> str:
        return "h"

    app = App(
        routes=[
            Mount("/files/{tenant}", routes=[Route("/x", h, name="x")], name="files"),
            Mount("/plain", routes=[Route("/y", h, name="y")]),
        ]
    )
    assert app.url_path_for("files", tenant="t", path="/a/b") == "/files/t/a/b"
    assert app.url_path_for("y") == "/plain/y"
    with pytest.raises(NoMatchFound):
        app.url_path_for("files", path="a")  # tenant missing
    with pytest.raises(NoMatchFound):
        app.url_path_for("files:nope", tenant="t")
    with pytest.raises(NoMatchFound):
        app.url_path_for("files", tenant="a/b", path="x")  # a str parameter cannot hold "/"
    with pytest.raises(NoMatchFound):
        app.url_path_for("other:x")


def test_converter_refusing_in_rest_and_mixed_segments() -> None:
    class Even(Converter[int]):
        regex = "[0-9]+"

        def convert(self, value: str) -> int:
            number = int(value)
            if number % 2:
                raise ValueError("odd")
            return number

        def to_string(self, value: int) -> str:
            return str(value)

    class EvenPath(Even):
        regex = ".*"
        spans_segments = True

        def convert(self, value: str) -> int:
            return super().convert(value.replace("/", ""))

    register_converter("even", Even())
    register_converter("evenpath", EvenPath())
    try:

        async def h(request: Request) -> dict[str, Any]:
            return dict(request.path_params)

        c = TestClient(App(routes=[Route("/m/v{n:even}x", h), Route("/p/{rest:evenpath}", h)]))
        assert c.get("/m/v2x").json() == {"n": 2}
        assert c.get("/m/v3x").status_code == 404
        assert c.get("/p/1/2").json() == {"rest": 12}
        assert c.get("/p/1/3").status_code == 404
    finally:
        del CONVERTERS["even"], CONVERTERS["evenpath"]


def test_slash_redirect_keeps_one_leading_slash() -> None:
    async def h(request: Request) -> str:
        return "h"

    app = App(routes=[Route("/a/", h)])
    sent: list[Message] = []
    import asyncio

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "//a", "headers": [], "query_string": b""}
    # "//a" routes as "//a"; a Router on the raw path sees the slashes kept as they came.
    router = Router([Route("//a/", h)])
    asyncio.run(router(scope, receive, send))
    location = dict(sent[0]["headers"])[b"location"]
    assert location == b"/a/"
    assert app.url_path_for("h") == "/a/"
