"""Class-based endpoints are ASGI apps: mounted, wrapped in middleware, tested directly and
served by a third-party server, with the same behaviour as behind a ``Route``."""

from __future__ import annotations

import threading
from typing import Any, ClassVar

import pytest
import uvicorn

from tests.client.servers import uvicorn_server
from vivace.client import Client, WebSocketRejected
from vivace.testing import AsyncTestClient, TestClient
from vivace.types import Receive, Scope, Send
from vivace.web import (
    App,
    HTTPEndpoint,
    HTTPException,
    Mount,
    Request,
    Route,
    WebSocket,
    WebSocketEndpoint,
)
from vivace.web.middleware import TrustedHostMiddleware


class Items(HTTPEndpoint):
    made: ClassVar[int] = 0

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        super().__init__(scope, receive, send)
        type(self).made += 1

    async def get(self, request: Request) -> dict[str, Any]:
        return {"path": request.url.path, "params": request.path_params}

    def post(self, request: Request) -> dict[str, str]:  # sync: in the thread pool
        return {"thread": threading.current_thread().name.split("_")[0]}

    async def delete(self) -> str:
        return "deleted"

    async def patch(self, request: Request) -> None:
        raise HTTPException(418, "teapot")

    async def options(self, request: Request) -> None:
        raise ValueError("a bug in the endpoint")


def test_mounted_endpoint_serves_every_method() -> None:
    app = App(routes=[Mount("/shops/{shop}/items", app=Items)])
    with TestClient(app) as client:
        r = client.get("/shops/7/items/any/thing")
        assert r.json() == {"path": "/shops/7/items/any/thing", "params": {"shop": "7"}}
        assert client.post("/shops/7/items").json()["thread"] != "MainThread"
        assert client.delete("/shops/7/items").text == "deleted"
        head = client.head("/shops/7/items")
        assert head.status_code == 200 and head.content == b""
        r = client.patch("/shops/7/items")
        assert r.status_code == 418 and r.text == "teapot"
        r = client.put("/shops/7/items")
        assert r.status_code == 405
        assert r.headers["allow"] == "DELETE, GET, HEAD, OPTIONS, PATCH, POST"
        with pytest.raises(ValueError, match="a bug in the endpoint"):
            client.options("/shops/7/items")
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.options("/shops/7/items").status_code == 500


def test_route_fast_path_makes_no_instance_for_a_405() -> None:
    client = TestClient(App(routes=[Route("/items", Items)]))
    before = Items.made
    assert client.put("/items").status_code == 405
    assert Items.made == before
    assert client.get("/items").status_code == 200
    assert Items.made == before + 1


def test_endpoint_directly_under_the_test_client_with_lifespan() -> None:
    # The class itself is the app: lifespan is answered (nothing to run), requests served.
    with TestClient(Items) as client:
        assert client.get("/anything").json() == {"path": "/anything", "params": {}}
        assert client.put("/").status_code == 405
        with pytest.raises(WebSocketRejected) as info, client.websocket_connect("/ws"):
            pass  # pragma: no cover
        assert info.value.response.status_code == 403


def test_endpoint_wrapped_in_middleware() -> None:
    app = TrustedHostMiddleware(Items, allowed_hosts=["example.com"])
    client = TestClient(app, base_url="http://example.com")
    assert client.get("/x").status_code == 200
    assert client.get("/x", headers={"host": "evil.test"}).status_code == 400


def test_subclass_handlers_are_its_own() -> None:
    class Base(HTTPEndpoint):
        async def get(self) -> str:
            return "base"

    class Child(Base):
        async def post(self) -> str:
            return "child"

    class Sibling(Base):
        async def get(self) -> str:
            return "sibling"

    base, child, sibling = TestClient(Base), TestClient(Child), TestClient(Sibling)
    assert base.get("/").text == "base"
    assert base.post("/").status_code == 405
    assert child.get("/").text == "base" and child.post("/").text == "child"
    assert sibling.get("/").text == "sibling" and sibling.post("/").status_code == 405
    assert base.post("/").headers["allow"] == "GET, HEAD"


async def test_unknown_scope_type_is_an_error() -> None:
    async def receive() -> dict[str, Any]:
        raise AssertionError("not called")  # pragma: no cover

    async def send(message: Any) -> None:
        raise AssertionError("not called")  # pragma: no cover

    with pytest.raises(RuntimeError, match="cannot serve a 'telepathy' scope"):
        await Items({"type": "telepathy"}, receive, send)
    with pytest.raises(RuntimeError, match="cannot serve a 'telepathy' scope"):
        await Echo({"type": "telepathy"}, receive, send)


class Echo(WebSocketEndpoint):
    encoding = "text"

    async def on_receive(self, websocket: WebSocket, data: Any) -> None:
        await websocket.send_text(f"echo {data} at {websocket.url.path}")


def test_websocket_endpoint_is_an_asgi_app_too() -> None:
    app = App(routes=[Mount("/echo", app=Echo)])
    with TestClient(app) as client:
        with client.websocket_connect("/echo/room") as ws:
            ws.send_text("hi")
            assert ws.receive_text() == "echo hi at /echo/room"
        assert client.get("/echo").status_code == 404  # not a handshake
    with TestClient(Echo) as client, client.websocket_connect("/") as ws:
        ws.send_text("direct")
        assert ws.receive_text() == "echo direct at /"


async def test_served_by_uvicorn_directly() -> None:
    # uvicorn takes a class with __await__ as an ASGI 3 app.
    config = uvicorn.Config(Items)
    config.load()
    assert config.asgi_version == "3.0"
    async with uvicorn_server(Items) as url, Client(timeout=5) as client:
        r = await client.get(url + "/direct")
        assert r.json() == {"path": "/direct", "params": {}}
        assert (await client.put(url + "/")).status_code == 405


async def test_async_test_client_on_a_mounted_endpoint() -> None:
    app = App(routes=[Mount("/items", app=Items)])
    async with AsyncTestClient(app) as client:
        assert (await client.delete("/items")).text == "deleted"
