"""A typed handler's JSON body on vivace.server: taken in one call when it came with its head
(``Request.received_body``, ``vivace.types.WholeBodyReceiver``), through ``receive()``
otherwise, with the same bytes on the wire either way, limits and errors included."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from tests.server.conftest import Harness, parse_responses
from tests.web.test_on_vivace_server import wire
from vivace.schema import Schema
from vivace.types import Message, Receive, Scope, Send
from vivace.web import App, Limits, Middleware, Request, Route


class Item(Schema):
    name: str
    count: int


async def create(body: Item) -> Item:
    return body


class WrapsReceive:
    """A middleware with a receive of its own: the body comes through its messages."""

    seen: list[str] = []  # noqa: RUF012 - reset by each test

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def wrapped() -> Message:
            message = await receive()
            WrapsReceive.seen.append(message["type"])
            return message

        await self.app(scope, wrapped, send)


def apps(**options: Any) -> tuple[App, App]:
    routes = [Route("/items", create, methods=["POST"])]
    return (
        App(routes=routes, **options),
        App(routes=routes, middleware=[Middleware(WrapsReceive)], **options),
    )


def post(body: bytes) -> bytes:
    head = b"POST /items HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    return head + b"Content-Length: %d\r\n\r\n" % len(body) + body


BODIES = [
    (b'{"name": "a:b", "count": 2}', 200),
    (b'{"name": "a", "count": 2, "count": 3}', 422),  # a repeated key
    (b'{"name": "a", "count": "x"}', 422),
    (b'{"name": "' + b"x" * 40 + b'", "count": 1}', 413),  # over max_body_size
    (b"", 422),
]


@pytest.mark.parametrize(("body", "status"), BODIES)
async def test_same_bytes_with_and_without_a_receive_middleware(body: bytes, status: int) -> None:
    bare, wrapped = apps(limits=Limits(max_body_size=40))
    WrapsReceive.seen = []
    one = await wire(bare, post(body))
    assert WrapsReceive.seen == []
    two = await wire(wrapped, post(body))
    assert WrapsReceive.seen == ["http.request"]  # the middleware saw the body go by
    assert one == two
    [response] = parse_responses(one[0])
    assert response.status == status
    if status == 200:
        assert json.loads(response.body) == {"name": "a:b", "count": 2}


async def test_a_body_in_two_pieces_is_awaited() -> None:
    bare, _ = apps()
    h = Harness(bare, date_header=False)
    try:
        request = post(b'{"name": "late", "count": 1}')
        await h.send(request[:-5])
        await h.wait_for(lambda: h.proto.cycle is not None)
        await asyncio.sleep(0)
        await h.send(request[-5:])
        [response] = await h.responses(1)
        assert (response.status, json.loads(response.body)) == (200, {"name": "late", "count": 1})
    finally:
        await h.close()


async def test_received_body_without_the_capability() -> None:
    messages = [{"type": "http.request", "body": b"abc", "more_body": False}]

    async def receive() -> Message:
        return messages.pop()

    request = Request({"type": "http", "method": "POST", "headers": []}, receive)
    assert request.received_body() is None  # a plain receive: await body() instead
    assert await request.body() == b"abc"
    assert request.received_body() == b"abc"  # read before: known now
    # A request built on the same scope finds the body the first one read.
    again = Request(request.scope, receive)
    assert again.received_body() == b"abc"


async def test_received_body_leaves_a_started_stream_alone() -> None:
    class Owner:
        def __init__(self) -> None:
            self.taken = 0

        async def receive(self) -> Message:
            return {"type": "http.request", "body": b"xy", "more_body": False}

        def received_body(self) -> bytes | None:
            self.taken += 1
            return None

    owner = Owner()
    request = Request({"type": "http", "method": "POST", "headers": []}, owner.receive)
    assert request.received_body() is None and owner.taken == 1  # the server said: wait
    assert [chunk async for chunk in request.stream()] == [b"xy"]
    assert request.received_body() is None and owner.taken == 1  # streamed: not asked
