"""The named seams between layers, checked against their implementations.

``vivace.types.WholeResponseSender`` is the optional server capability vivace.web uses to
answer in one call; vivace.server offers it over HTTP/1.1 and HTTP/2. Here the server's
real ``send`` objects are checked against the protocol (what it declares, and that a call
through it gives the response the two messages would), so the web tests need no knowledge
of server internals. ``vivace.types.WholeBodyReceiver``, the request side's twin (a body
that has all arrived, in one call), is checked the same way on both.
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from tests.client.servers import vivace_server
from tests.testing.apps import read_body
from vivace.client import Client
from vivace.types import Receive, Scope, Send, WholeBodyReceiver, WholeResponseSender
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


def test_web_takes_the_capability_from_any_server() -> None:
    # tests/web/test_on_vivace_server.py runs App against such a server of its own (one
    # call without middleware, the two messages with it); here: it is the protocol.
    from tests.web.test_on_vivace_server import OneCallServer

    server = OneCallServer()
    assert isinstance(server, WholeResponseSender)
    assert whole_responder(server.send) == server.send_whole_response

    async def plain(message: Any) -> None:
        pass

    assert whole_responder(plain) is None


RECEIVERS: list[Any] = []


async def body_app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    owner = getattr(receive, "__self__", None)
    RECEIVERS.append(owner)
    body = owner.received_body() if isinstance(owner, WholeBodyReceiver) else None
    if body is None:  # the general way: receive() until the last message
        body = await read_body(receive)
    await send.__self__.send_whole_response(200, [], body)  # type: ignore[attr-defined]


@pytest.mark.parametrize("http2", [False, True], ids=["HTTP/1.1", "HTTP/2"])
async def test_vivace_server_offers_whole_bodies(http2: bool) -> None:
    # vivace.types.WholeBodyReceiver: the protocol's declaration is what HTTP/1.1 and HTTP/2
    # offer; an echo through it sends back what was posted (the server tests check the rules).
    RECEIVERS.clear()
    async with (
        vivace_server(body_app) as base,
        Client(http1=not http2, http2=http2, timeout=10) as client,
    ):
        response = await client.post(base + "/echo", content=b"posted: 1")
    assert response.http_version == ("HTTP/2" if http2 else "HTTP/1.1")
    assert (response.status_code, response.content) == (200, b"posted: 1")
    owner = RECEIVERS[0]
    assert isinstance(owner, WholeBodyReceiver)
    declared = inspect.signature(WholeBodyReceiver.received_body).parameters
    offered = inspect.signature(owner.received_body).parameters
    assert list(offered) == [name for name in declared if name != "self"]
