"""The named seams between layers, checked against their implementations.

``vivace.types.WholeResponseSender`` is the optional server capability vivace.web uses to
answer in one call; vivace.server offers it over HTTP/1.1 and HTTP/2. Here the server's
real ``send`` objects are checked against the protocol (what it declares, and that a call
through it gives the response the two messages would), so the web tests need no knowledge
of server internals.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import pytest

from tests.client.servers import vivace_server
from vivace.client import Client
from vivace.types import Receive, Scope, Send, WholeResponseSender
from vivace.web import App, PlainTextResponse, Route
from vivace.web._responses import whole_responder

OWNERS: list[Any] = []


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    owner = getattr(send, "__self__", None)
    OWNERS.append(owner)
    if scope["path"] == "/messages":
        await send({"type": "http.response.start", "status": 201, "headers": [(b"x-a", b"1")]})
        await send({"type": "http.response.body", "body": b"same"})
    else:
        await owner.send_whole_response(201, [(b"x-a", b"1")], b"same")


@pytest.mark.parametrize("http2", [False, True], ids=["HTTP/1.1", "HTTP/2"])
async def test_vivace_server_offers_whole_responses(http2: bool) -> None:
    OWNERS.clear()
    async with (
        vivace_server(app) as base,
        Client(http1=not http2, http2=http2, timeout=10) as client,
    ):
        one = await client.get(base + "/one-call")
        two = await client.get(base + "/messages")
    for response in (one, two):
        assert response.http_version == ("HTTP/2" if http2 else "HTTP/1.1")
        assert (response.status_code, response.headers["x-a"], response.content) == (
            201,
            "1",
            b"same",
        )
    assert dict(one.headers) == dict(two.headers)
    owner = OWNERS[0]
    assert isinstance(owner, WholeResponseSender)
    declared = inspect.signature(WholeResponseSender.send_whole_response).parameters
    offered = inspect.signature(owner.send_whole_response).parameters
    assert list(offered) == [name for name in declared if name != "self"]


async def test_web_uses_any_server_offering_the_capability() -> None:
    # A server of its own (not vivace.server) offering the protocol gets one call; a
    # plain send gets the two messages.
    class OneCallServer:
        def __init__(self) -> None:
            self.calls: list[tuple[int, bytes]] = []
            self.messages: list[str] = []

        async def send(self, message: Any) -> None:
            self.messages.append(message["type"])

        async def send_whole_response(self, status: int, headers: Any, body: bytes) -> None:
            self.calls.append((status, body))

    async def hello(request: Any) -> PlainTextResponse:
        return PlainTextResponse("hi")

    web = App(routes=[Route("/", hello)])
    server = OneCallServer()
    assert isinstance(server, WholeResponseSender)
    assert whole_responder(server.send) == server.send_whole_response

    requests = [{"type": "http.request", "body": b"", "more_body": False}]
    never = asyncio.Event()

    async def receive() -> Any:
        if requests:
            return requests.pop()
        await never.wait()  # the client stays: no http.disconnect
        raise AssertionError("unreachable")

    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/",
        "raw_path": b"/",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"x")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    await web(scope, receive, server.send)
    assert server.calls == [(200, b"hi")] and server.messages == []
