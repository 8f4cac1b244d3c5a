"""``send_whole_response``: start + one final body in one call, the same bytes on the wire."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from tests.server.conftest import Harness, parse_responses
from vivace.server import ClientDisconnected, ProtocolViolation
from vivace.types import Receive, Scope, Send

Make = Callable[..., Harness]
GET = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
HEAD = b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n"
GET_10 = b"GET / HTTP/1.0\r\n\r\n"
GET_CLOSE = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
POST_UNREAD = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nab"


def answering(status: Any, headers: Any, body: Any, whole: bool) -> Any:
    """An app answering with (status, headers, body): in one call or as two messages."""
    errors: list[BaseException] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            if whole:
                await send.__self__.send_whole_response(status, headers, body)  # type: ignore[attr-defined]
            else:
                await send({"type": "http.response.start", "status": status, "headers": headers})
                await send({"type": "http.response.body", "body": body})
        except Exception as exc:
            errors.append(exc)
            raise

    app.errors = errors  # type: ignore[attr-defined]
    return app


CASES = [
    (200, [(b"content-type", b"text/plain")], b"hello"),
    (200, [(b"content-type", b"text/plain"), (b"content-length", b"5")], b"hello"),
    (201, [(b"x-a", b"1"), (b"x-a", b"2"), (b"set-cookie", b"k=v; Path=/")], b"{}"),
    (404, [], b""),
    (204, [(b"x-empty", b"yes")], b""),
    (304, [(b"etag", b'"abc"')], b""),
    (299, [(b"connection", b"close")], bytearray(b"odd")),
    (200, ((b"content-type", b"text/plain"),), memoryview(b"tuple of headers")),
]


@pytest.mark.parametrize("request_bytes", [GET, HEAD, GET_10, GET_CLOSE, POST_UNREAD])
@pytest.mark.parametrize(("status", "headers", "body"), CASES)
async def test_same_bytes_as_two_messages(
    make: Make, request_bytes: bytes, status: int, headers: Any, body: Any
) -> None:
    wire = []
    for whole in (False, True):
        h = make(answering(status, headers, body, whole), date_header=False)
        await h.send(request_bytes)
        await h.wait_for(lambda h=h: h.proto.cycle is None and bool(h.transport.data))  # type: ignore[misc]
        await asyncio.sleep(0)
        wire.append((bytes(h.transport.data), h.transport.closed))
    assert wire[0] == wire[1]
    assert parse_responses(wire[1][0])[0].status == status


async def test_keep_alive_then_next_request(make: Make) -> None:
    h = make(answering(200, [(b"content-type", b"text/plain")], b"hi", True))
    await h.send(GET + GET)
    responses = await h.responses(2)
    assert [(r.status, r.body) for r in responses] == [(200, b"hi"), (200, b"hi")]
    assert not h.transport.closed


@pytest.mark.parametrize(
    ("status", "headers", "body", "error"),
    [
        (99, [], b"", "invalid response status 99"),
        ("200", [], b"", "invalid response status '200'"),
        (200, [(b"bad name", b"v")], b"", "invalid response header name"),
        (200, [(b"x-a", b"v\r\nx-injected: 1")], b"", "CR, LF or NUL"),
        (200, [(b"content-length", b"2")], b"abc", "longer than its content-length"),
        (200, [], "text", "must be bytes, got str"),
    ],
)
async def test_bad_responses_are_refused_like_messages(
    make: Make, status: Any, headers: Any, body: Any, error: str
) -> None:
    app = answering(status, headers, body, True)
    h = make(app)
    await h.send(GET)
    response = await h.response()
    assert response.status == 500
    assert b"injected" not in h.transport.data
    [exc] = app.errors
    assert isinstance(exc, ProtocolViolation)
    assert error in str(exc)


async def test_only_before_the_response_started(make: Make) -> None:
    caught: list[BaseException] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        try:
            await send.__self__.send_whole_response(200, [], b"x")  # type: ignore[attr-defined]
        except ProtocolViolation as exc:
            caught.append(exc)
        await send({"type": "http.response.body", "body": b"ok"})

    h = make(app)
    await h.send(GET)
    response = await h.response()
    assert (response.status, response.body) == (200, b"ok")
    assert "not allowed in response state STARTED" in str(caught[0])


async def test_after_disconnect(make: Make) -> None:
    gate = asyncio.Event()
    caught: list[BaseException] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await gate.wait()
        try:
            await send.__self__.send_whole_response(200, [], b"late")  # type: ignore[attr-defined]
        except ClientDisconnected as exc:
            caught.append(exc)

    h = make(app)
    await h.send(GET)
    h.transport.close()
    await h.wait_for(lambda: h.proto.closed)
    gate.set()
    await h.wait_for(lambda: bool(caught))
    assert b"late" not in h.transport.data
