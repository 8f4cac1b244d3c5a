"""The HTTP/1.1 protocol fed raw bytes through a fake transport: requests and framing."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Generator
from typing import Any

from tests.server.conftest import Harness, text_app
from vivace.types import Receive, Scope, Send

Make = Callable[..., Harness]
GET = b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"


def post(body: bytes, extra: bytes = b"") -> bytes:
    return (
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n%s\r\n" % (len(body), extra)
        + body
    )


async def test_simple_get(make: Make) -> None:
    h = make()
    await h.send(GET)
    response = await h.response()
    assert response.status == 200
    assert response.body == b"hello"
    assert response.header(b"content-length") == b"5"
    assert response.header(b"server") == b"vivace"
    assert response.header(b"date") is not None
    assert response.header(b"content-type") == b"text/plain"
    assert not h.transport.closed  # keep-alive


async def test_scope_contents(make: Make) -> None:
    seen: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope)
        await text_app(scope, receive, send)

    h = make(app, root_path="/api")
    await h.send(b"GET /a%20b/c?x=1&y=%20 HTTP/1.1\r\nHost: example.com\r\nX-Thing: A\r\n\r\n")
    await h.response()
    scope = seen[0]
    assert scope["type"] == "http"
    assert scope["asgi"] == {"version": "3.0", "spec_version": "2.3"}
    assert scope["http_version"] == "1.1"
    assert scope["method"] == "GET"
    assert scope["scheme"] == "http"
    assert scope["path"] == "/api/a b/c"
    assert scope["raw_path"] == b"/api/a%20b/c"
    assert scope["root_path"] == "/api"
    assert scope["query_string"] == b"x=1&y=%20"
    assert scope["headers"] == [(b"host", b"example.com"), (b"x-thing", b"A")]
    assert scope["client"] == ("127.0.0.1", 50000)
    assert scope["server"] == ("127.0.0.1", 8000)
    assert scope["state"] == {}
    assert set(scope["extensions"]) == {
        "http.response.pathsend",
        "http.response.trailers",
        "http.response.early_hint",
    }


async def test_absolute_form_and_asterisk_targets(make: Make) -> None:
    paths: list[tuple[str, bytes]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        paths.append((scope["path"], scope["query_string"]))
        await text_app(scope, receive, send)

    h = make(app)
    await h.send(b"GET http://example.com/p?q=1 HTTP/1.1\r\nHost: example.com\r\n\r\n")
    await h.send(b"OPTIONS * HTTP/1.1\r\nHost: example.com\r\n\r\n")
    await h.responses(2)
    assert paths == [("/p", b"q=1"), ("*", b"")]


async def test_keep_alive_several_requests(make: Make) -> None:
    h = make()
    for _ in range(3):
        await h.send(GET)
    responses = await h.responses(3)
    assert [r.body for r in responses] == [b"hello"] * 3
    assert not h.transport.closed


async def test_pipelined_responses_in_order(make: Make) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] == "/slow":
            await asyncio.sleep(0.02)
        await send({"type": "http.response.start", "status": 200})
        await send({"type": "http.response.body", "body": scope["path"].encode()})

    h = make(app)
    await h.send(
        b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /fast HTTP/1.1\r\nHost: x\r\n\r\n"
        b"GET /third HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    responses = await h.responses(3)
    assert [r.body for r in responses] == [b"/slow", b"/fast", b"/third"]


async def test_request_split_across_packets(make: Make) -> None:
    h = make()
    data = post(b"0123456789")
    for i in range(len(data)):
        await h.send(data[i : i + 1])
    response = await h.response()
    assert response.body == b"0123456789"


async def test_chunked_request_body(make: Make) -> None:
    h = make()
    await h.send(
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"
    )
    response = await h.response()
    assert response.body == b"hello world"


def collecting(parts: list[tuple[bytes, bool]]) -> Any:
    """An app that appends each body message as (body, more_body), then answers 204."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            parts.append((message["body"], message["more_body"]))
            if not message["more_body"]:
                break
        await send({"type": "http.response.start", "status": 204})
        await send({"type": "http.response.body"})

    return app


async def test_streamed_body_reaches_app_in_parts(make: Make) -> None:
    parts: list[tuple[bytes, bool]] = []
    app = collecting(parts)

    h = make(app)
    await h.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\nabc")
    await h.wait_for(lambda: len(parts) == 1)
    await h.send(b"def")
    response = await h.response()
    assert response.status == 204
    assert parts == [(b"abc", True), (b"def", False)]
    assert response.header(b"content-length") is None


async def test_last_chunk_alone_wakes_a_waiting_receive(make: Make) -> None:
    # The end of a chunked body arriving with no data (no on_body) must still wake the
    # app's pending receive(), or the request hangs.
    parts: list[tuple[bytes, bool]] = []
    app = collecting(parts)

    h = make(app)
    await h.send(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
    await h.send(b"3\r\nabc\r\n")
    await h.wait_for(lambda: len(parts) == 1)
    await h.wait_for(lambda: h.proto.cycle is not None and h.proto.cycle.waiter is not None)
    await h.send(b"0\r\n\r\n")
    assert (await h.response()).status == 204
    assert parts == [(b"abc", True), (b"", False)]


async def test_expect_100_continue(make: Make) -> None:
    h = make()
    await h.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
    await h.wait_for(lambda: b"100 Continue" in h.transport.data)
    await h.send(b"hello")
    response = await h.response()
    assert bytes(h.transport.data).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
    assert response.body == b"hello"


async def test_expect_100_not_sent_when_app_answers_without_reading(make: Make) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 413})
        await send({"type": "http.response.body", "body": b"no"})

    h = make(app)
    await h.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
    response = await h.response()
    assert response.status == 413
    assert b"100 Continue" not in h.transport.data
    await h.closed()  # the unread body makes the connection unusable


async def test_unknown_expectation_417(make: Make) -> None:
    h = make()
    await h.send(b"GET / HTTP/1.1\r\nHost: x\r\nExpect: magic\r\n\r\n")
    assert (await h.response()).status == 417
    await h.closed()


async def test_head_has_no_body(make: Make) -> None:
    h = make()
    await h.send(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")
    await h.wait_for(lambda: h.transport.data.endswith(b"\r\n\r\n"))
    data = bytes(h.transport.data)
    assert data.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"content-length: 5\r\n" in data
    assert not data.endswith(b"hello")


async def test_http10_client(make: Make) -> None:
    h = make()
    await h.send(b"GET / HTTP/1.0\r\n\r\n")
    await h.closed()
    assert b"connection: close" in h.transport.data
    assert h.transport.data.endswith(b"hello")


async def test_http10_keep_alive(make: Make) -> None:
    versions: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        versions.append(scope["http_version"])
        await text_app(scope, receive, send)

    h = make(app)
    await h.send(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    await h.wait_for(lambda: h.transport.data.endswith(b"hello"))
    assert b"connection: keep-alive" in h.transport.data
    assert not h.transport.closed
    # The version is right whether or not the Connection field decides keep-alive.
    await h.send(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n")
    await h.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    await h.send(b"GET / HTTP/1.0\r\n\r\n")
    await h.closed()
    assert versions == ["1.0", "1.1", "1.1", "1.0"]


async def test_http10_streaming_is_close_delimited(make: Make) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200})
        await send({"type": "http.response.body", "body": b"a", "more_body": True})
        await send({"type": "http.response.body", "body": b"b"})

    h = make(app)
    await h.send(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    await h.closed()
    assert h.transport.data.endswith(b"\r\n\r\nab")
    assert b"transfer-encoding" not in h.transport.data


async def test_connection_close_request(make: Make) -> None:
    h = make()
    await h.send(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    await h.closed()
    assert b"connection: close\r\n" in h.transport.data


async def test_chunked_response(make: Make) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200})
        for part in (b"ab", b"", b"cde"):
            await send({"type": "http.response.body", "body": part, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    h = make(app)
    await h.send(GET)
    response = await h.response()
    assert response.header(b"transfer-encoding") == b"chunked"
    assert response.body == b"abcde"
    assert h.transport.data.endswith(b"2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n")


async def test_streaming_with_content_length(make: Make) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"4")]}
        )
        await send({"type": "http.response.body", "body": b"ab", "more_body": True})
        await send({"type": "http.response.body", "body": b"cd"})

    h = make(app)
    await h.send(GET)
    response = await h.response()
    assert response.body == b"abcd"
    assert response.header(b"content-length") == b"4"


async def test_app_headers_replace_server_and_date(make: Make) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"Server", b"mine"), (b"date", b"yesterday"), (b"Connection", b"keep-alive")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"x"})

    h = make(app)
    await h.send(GET)
    response = await h.response()
    assert response.header(b"server") == b"mine"
    assert response.header(b"date") == b"yesterday"
    assert [n for n, _ in response.headers].count(b"server") == 1
    assert response.header(b"connection") is None


async def test_no_server_or_date_header_when_disabled(make: Make) -> None:
    h = make(server_header=False, date_header=False)
    await h.send(GET)
    response = await h.response()
    assert response.header(b"server") is None
    assert response.header(b"date") is None


async def test_app_class_with_awaitable_instances(make: Make) -> None:
    # An endpoint-style ASGI 3 app: calling the class makes an awaitable, not a coroutine.
    class Endpoint:
        def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
            self.args = (scope, receive, send)

        def __await__(self) -> Generator[Any, None, None]:
            return text_app(*self.args).__await__()

    h = make(Endpoint)
    await h.send(GET)
    response = await h.response()
    assert (response.status, response.body) == (200, b"hello")


async def test_app_content_length_on_the_one_write_path(make: Make) -> None:
    # Frameworks send their own content-length; when it is the body's size it is the one
    # the server writes (once), whether or not the pair was seen before.
    headers = [(b"content-type", b"text/plain"), (b"content-length", b"5")]

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"hello"})

    h = make(app)
    await h.send(GET + GET)
    for _ in range(2):
        response = await h.response()
        assert (response.status, response.body) == (200, b"hello")
    assert h.transport.data.count(b"content-length: 5\r\n") == 2
    assert not h.transport.closed


async def test_app_content_length_twice_is_refused_after_it_was_remembered(make: Make) -> None:
    pair = (b"content-length", b"5")

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        twice = scope["path"] == "/twice"
        start = {"type": "http.response.start", "status": 200, "headers": [pair] * (1 + twice)}
        await send(start)
        await send({"type": "http.response.body", "body": b"hello"})

    h = make(app)
    await h.send(GET + b"GET /twice HTTP/1.1\r\nHost: x\r\n\r\n")
    first = await h.response()
    assert first.status == 200
    await h.closed()
    assert b"HTTP/1.1 500" in h.transport.data
