"""The HTTP/1.1 protocol fed raw bytes through a fake transport (no sockets)."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from typing import Any

import pytest

from tests.server.conftest import Harness, parse_responses, parse_statuses, text_app
from vivace.server import ClientDisconnected
from vivace.types import Message, Receive, Scope, Send

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
    assert scope["asgi"] == {"version": "3.0", "spec_version": "2.4"}
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
    await h.send(b"GET /f#frag HTTP/1.1\r\nHost: example.com\r\n\r\n")
    await h.responses(3)
    assert paths == [("/p", b"q=1"), ("*", b""), ("/f", b"")]


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


async def test_streamed_body_reaches_app_in_parts(make: Make) -> None:
    parts: list[tuple[bytes, bool]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            parts.append((message["body"], message["more_body"]))
            if not message["more_body"]:
                break
        await send({"type": "http.response.start", "status": 204})
        await send({"type": "http.response.body"})

    h = make(app)
    await h.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\nabc")
    await h.wait_for(lambda: len(parts) == 1)
    await h.send(b"def")
    response = await h.response()
    assert response.status == 204
    assert parts == [(b"abc", True), (b"def", False)]
    assert response.header(b"content-length") is None


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
    h = make()
    await h.send(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    await h.wait_for(lambda: h.transport.data.endswith(b"hello"))
    assert b"connection: keep-alive" in h.transport.data
    assert not h.transport.closed


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


# -- bad requests and smuggling vectors -----------------------------------------------------

SMUGGLING = {
    "cl_and_te": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",  # noqa: E501
    "duplicate_cl": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",  # noqa: E501
    "same_duplicate_cl": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",  # noqa: E501
    "cl_list": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 3\r\n\r\nabc",
    "signed_cl": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\nabc",
    "bad_chunk_size": b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",  # noqa: E501
    "chunk_size_bare_lf": b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n",  # noqa: E501
    "bare_lf_request_line": b"GET / HTTP/1.1\nHost: x\n\n",
    "bare_lf_header": b"GET / HTTP/1.1\r\nHost: x\nX: y\r\n\r\n",
    "obs_fold": b"GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n",
    "space_before_colon": b"GET / HTTP/1.1\r\nHost : x\r\n\r\n",
    "nul_in_header": b"GET / HTTP/1.1\r\nHost: a\x00b\r\n\r\n",
    "te_not_last_chunked": b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n",  # noqa: E501
    "te_duplicate": b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",  # noqa: E501
    "space_in_target": b"GET /a b HTTP/1.1\r\nHost: x\r\n\r\n",
    "non_ascii_target": b"GET /\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n",
    "garbage": b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03",
}


@pytest.mark.parametrize("request_bytes", SMUGGLING.values(), ids=SMUGGLING.keys())
async def test_smuggling_vectors_refused(make: Make, request_bytes: bytes) -> None:
    calls: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        calls.append(scope)
        await text_app(scope, receive, send)

    h = make(app)
    await h.send(request_bytes + GET)
    await h.closed()
    assert parse_statuses(h.transport.data) == [400]
    assert calls == []


@pytest.mark.parametrize("coding", [b"gzip, chunked", b"xchunked"])
async def test_transfer_coding_not_understood_501(make: Make, coding: bytes) -> None:
    h = make()
    await h.send(
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: " + coding + b"\r\n\r\n0\r\n\r\n"
    )
    await h.closed()
    assert parse_statuses(h.transport.data) == [501]


@pytest.mark.parametrize("version", [b"HTTP/0.9", b"HTTP/2.0", b"HTTP/1.2"])
async def test_unsupported_http_versions(make: Make, version: bytes) -> None:
    h = make()
    await h.send(b"GET / " + version + b"\r\nHost: x\r\n\r\n")
    await h.closed()
    assert parse_statuses(h.transport.data)[0] in (400, 505)


async def test_bad_request_after_pipelined_good_one_answers_in_order(make: Make) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await asyncio.sleep(0.01)
        await text_app(scope, receive, send)

    h = make(app)
    await h.send(GET + b"BROKEN\r\n\r\n")
    await h.closed()
    assert parse_statuses(h.transport.data) == [200, 400]


async def test_head_too_large_431(make: Make) -> None:
    h = make(max_head_size=1024)
    await h.send(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 2000 + b"\r\n\r\n")
    await h.closed()
    assert parse_statuses(h.transport.data) == [431]


async def test_incomplete_head_too_large_431(make: Make) -> None:
    h = make(max_head_size=1024)
    await h.send(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 600)
    await h.send(b"a" * 600)
    await h.closed()
    assert parse_statuses(h.transport.data) == [431]


async def test_too_many_headers_431(make: Make) -> None:
    h = make(max_header_count=5)
    headers = b"".join(b"X-%d: v\r\n" % i for i in range(6))
    await h.send(b"GET / HTTP/1.1\r\n" + headers + b"\r\n")
    await h.closed()
    assert parse_statuses(h.transport.data) == [431]


async def test_body_too_large_by_content_length_413(make: Make) -> None:
    h = make(max_body_size=4)
    await h.send(post(b"12345"))
    await h.closed()
    assert parse_statuses(h.transport.data) == [413]


async def test_chunked_body_too_large_413(make: Make) -> None:
    h = make(max_body_size=4)
    await h.send(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n")
    await h.send(b"3\r\ndef\r\n0\r\n\r\n")
    await h.closed()
    assert parse_statuses(h.transport.data) == [413]


async def test_body_too_large_after_response_started_closes(make: Make) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200})
        await send({"type": "http.response.body", "body": b"x", "more_body": True})
        while (await receive())["type"] != "http.disconnect":
            pass

    h = make(app, max_body_size=4)
    await h.send(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
    await h.wait_for(lambda: b"1\r\nx\r\n" in h.transport.data)
    await h.send(b"5\r\nhello\r\n")
    await h.closed()
    assert h.transport.aborted


# -- app errors and invalid messages ---------------------------------------------------------


async def test_app_raises_before_response_500(make: Make, caplog: pytest.LogCaptureFixture) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise ValueError("boom")

    h = make(app)
    await h.send(GET)
    await h.closed()
    assert parse_statuses(h.transport.data) == [500]
    assert "Exception in ASGI application" in caplog.text


async def test_app_raises_after_start_500(make: Make) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200})
        await asyncio.sleep(0)
        raise ValueError("boom")

    h = make(app)
    await h.send(GET)
    await h.closed()
    assert parse_statuses(h.transport.data) == [500]


async def test_app_raises_mid_body_closes(make: Make) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200})
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})
        raise ValueError("boom")

    h = make(app)
    await h.send(GET)
    await h.closed()
    assert parse_statuses(h.transport.data) == [200]
    assert h.transport.aborted


async def test_app_returns_without_response_500(
    make: Make, caplog: pytest.LogCaptureFixture
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        return None

    h = make(app)
    await h.send(GET)
    await h.closed()
    assert parse_statuses(h.transport.data) == [500]
    assert "without starting the response" in caplog.text


async def test_app_returns_mid_body_closes(make: Make, caplog: pytest.LogCaptureFixture) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200})
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})

    h = make(app)
    await h.send(GET)
    await h.closed()
    assert "without completing the response" in caplog.text


async def _run_invalid(make: Make, messages: list[Message]) -> tuple[Harness, list[BaseException]]:
    errors: list[BaseException] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            for message in messages:
                await send(message)
        except Exception as exc:
            errors.append(exc)
            raise

    h = make(app)
    await h.send(GET)
    await h.closed()
    return h, errors


START = {"type": "http.response.start", "status": 200}
BODY = {"type": "http.response.body", "body": b"ok"}

INVALID: dict[str, list[Message]] = {
    "bad_status_text": [{"type": "http.response.start", "status": "200"}, BODY],
    "status_too_small": [{"type": "http.response.start", "status": 101}, BODY],
    "status_too_big": [{"type": "http.response.start", "status": 1000}, BODY],
    "cr_lf_in_value": [
        {**START, "headers": [(b"x-a", b"v\r\nset-cookie: evil=1")]},
        BODY,
    ],
    "lf_in_value": [{**START, "headers": [(b"x-a", b"v\nx: 1")]}, BODY],
    "nul_in_value": [{**START, "headers": [(b"x-a", b"v\x00")]}, BODY],
    "bad_name": [{**START, "headers": [(b"x a", b"v")]}, BODY],
    "colon_in_name": [{**START, "headers": [(b"host: evil", b"v")]}, BODY],
    "str_header": [{**START, "headers": [("x-a", "v")]}, BODY],
    "bad_content_length": [{**START, "headers": [(b"content-length", b"abc")]}, BODY],
    "two_content_lengths": [
        {**START, "headers": [(b"content-length", b"2"), (b"content-length", b"2")]},
        BODY,
    ],
    "bad_transfer_encoding": [{**START, "headers": [(b"transfer-encoding", b"gzip")]}, BODY],
    "body_longer_than_content_length": [
        {**START, "headers": [(b"content-length", b"1")]},
        BODY,
    ],
    "body_before_start": [BODY],
    "start_twice": [START, START],
    "unknown_type": [{"type": "http.response.nonsense"}],
    "body_not_bytes": [START, {"type": "http.response.body", "body": "text"}],
    "trailers_without_body": [START, {"type": "http.response.trailers", "headers": []}],
    "pathsend_relative": [START, {"type": "http.response.pathsend", "path": "relative.txt"}],
    "early_hint_after_start": [START, {"type": "http.response.early_hint", "links": []}],
    "early_hint_bad_links": [{"type": "http.response.early_hint", "links": b"</a>"}],
    "early_hint_crlf": [{"type": "http.response.early_hint", "links": [b"</a>\r\nx: y"]}],
}


@pytest.mark.parametrize("messages", INVALID.values(), ids=INVALID.keys())
async def test_invalid_messages_get_500_and_nothing_injected(
    make: Make, messages: list[Message], caplog: pytest.LogCaptureFixture
) -> None:
    h, errors = await _run_invalid(make, messages)
    assert errors, "send() accepted an invalid message"
    assert parse_statuses(h.transport.data) == [500]
    assert b"evil" not in h.transport.data
    assert b"x: 1" not in h.transport.data
    assert "Exception in ASGI application" in caplog.text


async def test_body_after_complete_response_is_refused(make: Make) -> None:
    errors: list[BaseException] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(START)
        await send(BODY)
        try:
            await send(BODY)
        except Exception as exc:
            errors.append(exc)

    h = make(app)
    await h.send(GET)
    response = await h.response()
    assert response.body == b"ok"
    assert errors and "not allowed" in str(errors[0])
    assert h.transport.data.count(b"ok") == 1  # one body, never two


async def test_body_longer_than_content_length_mid_stream_aborts(make: Make) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({**START, "headers": [(b"content-length", b"3")]})
        await send({"type": "http.response.body", "body": b"ab", "more_body": True})
        await send({"type": "http.response.body", "body": b"cd"})

    h = make(app)
    await h.send(GET)
    await h.closed()
    assert h.transport.aborted
    assert not h.transport.data.endswith(b"cd")


async def test_body_shorter_than_content_length_closes(
    make: Make, caplog: pytest.LogCaptureFixture
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({**START, "headers": [(b"content-length", b"10")]})
        await send({"type": "http.response.body", "body": b"short"})

    h = make(app)
    await h.send(GET)
    await h.closed()
    assert "shorter than its content-length" in caplog.text


async def test_body_shorter_than_content_length_streamed_closes(make: Make) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({**START, "headers": [(b"content-length", b"10")]})
        await send({"type": "http.response.body", "body": b"ab", "more_body": True})
        await send({"type": "http.response.body", "body": b"c"})

    h = make(app)
    await h.send(GET)
    await h.closed()


async def test_list_headers_and_bytearray_body(make: Make) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({**START, "headers": [[b"x-list", b"1"]]})
        await send({"type": "http.response.body", "body": bytearray(b"ba")})

    h = make(app)
    await h.send(GET)
    response = await h.response()
    assert response.header(b"x-list") == b"1"
    assert response.body == b"ba"


async def test_status_204_and_304_have_no_body(make: Make) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        status = 204 if scope["path"] == "/204" else 304
        await send({"type": "http.response.start", "status": status})
        await send({"type": "http.response.body", "body": b"ignored"})

    h = make(app)
    await h.send(b"GET /204 HTTP/1.1\r\nHost: x\r\n\r\nGET /304 HTTP/1.1\r\nHost: x\r\n\r\n")
    await h.wait_for(lambda: parse_statuses(h.transport.data) == [204, 304])
    await asyncio.sleep(0.01)
    assert b"ignored" not in h.transport.data
    assert b"content-length" not in h.transport.data


async def test_app_transfer_encoding_chunked_is_honoured(make: Make) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({**START, "headers": [(b"transfer-encoding", b"chunked")]})
        await send({"type": "http.response.body", "body": b"abc"})

    h = make(app)
    await h.send(GET)
    response = await h.response()
    assert response.body == b"abc"
    assert response.header(b"transfer-encoding") == b"chunked"


# -- extensions ------------------------------------------------------------------------------


async def test_trailers(make: Make) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({**START, "trailers": True})
        await send({"type": "http.response.body", "body": b"data", "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        await send({"type": "http.response.trailers", "headers": [(b"x-checksum", b"abc")]})

    h = make(app)
    await h.send(GET)
    await h.wait_for(lambda: h.transport.data.endswith(b"0\r\nx-checksum: abc\r\n\r\n"))
    response = (await h.responses())[0]
    assert response.body == b"data"
    assert not h.transport.closed


async def test_trailers_dropped_for_http10(make: Make) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({**START, "trailers": True})
        await send({"type": "http.response.body", "body": b"data"})
        await send({"type": "http.response.trailers", "headers": [(b"x-checksum", b"abc")]})

    h = make(app)
    await h.send(b"GET / HTTP/1.0\r\n\r\n")
    await h.closed()
    assert b"x-checksum" not in h.transport.data
    assert h.transport.data.endswith(b"data")


async def test_more_trailers_refused(make: Make) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({**START, "trailers": True})
        await send({"type": "http.response.body", "body": b"data"})
        await send({"type": "http.response.trailers", "headers": [], "more_trailers": True})

    h = make(app)
    await h.send(GET)
    await h.closed()
    assert h.transport.aborted


async def test_early_hints(make: Make) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.early_hint", "links": [b"</a.css>; rel=preload"]})
        await text_app(scope, receive, send)

    h = make(app)
    await h.send(GET)
    await h.response()
    data = bytes(h.transport.data)
    assert data.startswith(b"HTTP/1.1 103 Early Hints\r\nlink: </a.css>; rel=preload\r\n\r\n")
    h10 = make(app)
    await h10.send(b"GET / HTTP/1.0\r\n\r\n")
    await h10.closed()
    assert b"103" not in h10.transport.data


async def test_pathsend(make: Make, tmp_path: Any) -> None:
    path = tmp_path / "file.bin"
    content = bytes(range(256)) * 2000
    path.write_bytes(content)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(START)
        await send({"type": "http.response.pathsend", "path": str(path)})

    h = make(app)
    await h.send(GET)
    response = await h.response()
    assert response.body == content
    assert response.header(b"content-length") == str(len(content)).encode()
    await h.send(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")
    await h.wait_for(lambda: h.transport.data.count(b"HTTP/1.1 200 OK") == 2)
    assert h.transport.data.endswith(b"content-length: 512000\r\n\r\n")


async def test_pathsend_wrong_content_length(make: Make, tmp_path: Any) -> None:
    path = tmp_path / "file.bin"
    path.write_bytes(b"12345")

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({**START, "headers": [(b"content-length", b"3")]})
        await send({"type": "http.response.pathsend", "path": str(path)})

    h = make(app)
    await h.send(GET)
    await h.closed()
    assert parse_statuses(h.transport.data) == [500]


# -- disconnects and flow control ------------------------------------------------------------


async def test_disconnect_reported_to_receive_and_send_raises(make: Make) -> None:
    events: list[Any] = []
    started = asyncio.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        started.set()
        events.append(await receive())
        try:
            await send(START)
        except ClientDisconnected as exc:
            events.append(exc)

    h = make(app)
    await h.send(GET)
    await asyncio.wait_for(started.wait(), 5)
    h.transport.close()
    await h.wait_for(lambda: len(events) == 2)
    assert events[0] == {"type": "http.disconnect"}
    assert isinstance(events[1], OSError)


async def test_receive_after_response_is_disconnect(make: Make) -> None:
    got: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await text_app(scope, receive, send)
        got.append(await receive())
        got.append(await receive())

    h = make(app)
    await h.send(GET)
    await h.wait_for(lambda: len(got) == 2)
    assert got == [{"type": "http.disconnect"}] * 2


async def test_read_backpressure(make: Make) -> None:
    release = asyncio.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await release.wait()
        await text_app(scope, receive, send)

    h = make(app)
    size = 1024 * 1024
    await h.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % size)
    chunk = b"x" * 65536
    for _ in range(6):
        await h.send(chunk)
    assert not h.transport.reading  # more than the high-water mark is buffered
    release.set()
    await h.wait_for(lambda: h.transport.reading)
    for _ in range(10):
        await h.send(chunk)
    response = await h.response()
    assert len(response.body) == size


async def test_write_flow_control(make: Make) -> None:
    progress: list[int] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(START)
        for i in range(3):
            await send({"type": "http.response.body", "body": b"x", "more_body": True})
            progress.append(i)
        await send({"type": "http.response.body", "body": b""})

    h = make(app)
    h.proto.pause_writing()
    await h.send(GET)
    await asyncio.sleep(0.02)
    assert progress == []  # send() waits while the transport buffer is full
    h.proto.resume_writing()
    await h.response()
    assert progress == [0, 1, 2]


async def test_drain_fails_on_disconnect(make: Make) -> None:
    errors: list[BaseException] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(START)
        try:
            await send({"type": "http.response.body", "body": b"x", "more_body": True})
        except OSError as exc:
            errors.append(exc)

    h = make(app)
    h.proto.pause_writing()
    await h.send(GET)
    await h.wait_for(lambda: bool(h.proto.drain_waiters))
    h.transport.close()
    await h.wait_for(lambda: bool(errors))


async def test_half_close_still_answers(make: Make) -> None:
    release = asyncio.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await release.wait()
        await text_app(scope, receive, send)

    h = make(app)
    assert h.proto.eof_received() is None  # idle: let the transport close
    await h.send(GET)
    assert h.proto.eof_received() is True  # busy: keep the write side open to answer
    release.set()
    assert (await h.response()).body == b"hello"


# -- upgrades --------------------------------------------------------------------------------


async def test_websocket_upgrade_without_handler_400(make: Make) -> None:
    h = make()
    await h.send(
        b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    await h.closed()
    response = parse_responses(h.transport.data)[0]
    assert response.status == 400
    assert b"WebSocket" in response.body


async def test_websocket_upgrade_handed_to_handler(make: Make) -> None:
    received: list[Any] = []

    class Echo(asyncio.Protocol):
        def data_received(self, data: bytes) -> None:
            received.append(data)

    def handler(transport: asyncio.Transport, scope: Scope, data: bytes) -> asyncio.Protocol:
        received.append((scope["type"], scope["scheme"], scope["path"], data))
        return Echo()

    h = make()
    h.state.upgrade_handlers[b"websocket"] = handler
    await h.send(
        b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nFRAME"
    )
    assert received == [("websocket", "ws", "/ws", b"FRAME")]
    assert isinstance(h.transport.protocol, Echo)
    assert h.proto not in h.state.connections


async def test_h2c_upgrade_ignored(make: Make) -> None:
    h = make()
    await h.send(
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
        b"HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n" + GET
    )
    responses = await h.responses(2)
    assert [r.status for r in responses] == [200, 200]


async def test_connect_refused(make: Make) -> None:
    h = make()
    await h.send(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
    await h.closed()
    assert parse_statuses(h.transport.data) == [501]


# -- timeouts and limits ---------------------------------------------------------------------


async def test_head_deadline_408(make: Make) -> None:
    h = make()
    await h.send(b"GET / HTTP/1.1\r\nHost:")
    h.proto.check_deadline(h.state.now + h.state.timeout_request_head + 1)
    await h.closed()
    assert parse_statuses(h.transport.data) == [408]


async def test_silent_connection_closed_without_response(make: Make) -> None:
    h = make()
    h.proto.check_deadline(h.state.now + 1)
    assert not h.transport.closed  # not yet due
    h.proto.check_deadline(h.state.now + h.state.timeout_request_head + 1)
    await h.closed()
    assert h.transport.data == b""


async def test_keep_alive_deadline(make: Make) -> None:
    h = make()
    await h.send(GET)
    await h.response()
    h.proto.check_deadline(h.state.now + h.state.timeout_keep_alive - 0.5)
    assert not h.transport.closed
    h.proto.check_deadline(h.state.now + h.state.timeout_keep_alive + 1)
    await h.closed()


async def test_busy_connection_has_no_deadline(make: Make) -> None:
    release = asyncio.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await release.wait()
        await text_app(scope, receive, send)

    h = make(app)
    await h.send(GET)
    h.proto.check_deadline(h.state.now + 1000)
    assert not h.transport.closed
    release.set()
    await h.response()


async def test_limit_concurrency_503(make: Make) -> None:
    release = asyncio.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await release.wait()
        await text_app(scope, receive, send)

    first = make(app, limit_concurrency=1)
    await first.send(GET)
    second = Harness(app, limit_concurrency=1)
    second.state = first.state
    second.proto.state = first.state
    first.state.connections.add(second.proto)
    await second.send(GET)
    await second.closed()
    assert parse_statuses(second.transport.data) == [503]
    release.set()
    await first.response()
    second.proto.host.cancel()


async def test_graceful_shutdown_of_idle_and_busy_connections(make: Make) -> None:
    release = asyncio.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await release.wait()
        await text_app(scope, receive, send)

    idle = make(app)
    idle.proto.shutdown()
    await idle.closed()
    busy = make(app)
    await busy.send(GET)
    busy.state.shutting_down = True
    busy.proto.shutdown()
    assert not busy.transport.closed
    release.set()
    await busy.closed()
    assert b"connection: close" in busy.transport.data


async def test_limit_max_requests_callback(make: Make) -> None:
    h = make(limit_max_requests=2)
    called: list[int] = []
    h.state.on_limit_max_requests = lambda: called.append(1)
    await h.send(GET + GET)
    await h.responses(2)
    assert called == [1]


# -- running the app: eager step, tasks, context ---------------------------------------------


async def test_current_task_is_a_real_task_in_first_step(make: Make) -> None:
    tasks: list[asyncio.Task[Any] | None] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        tasks.append(asyncio.current_task())
        await text_app(scope, receive, send)

    h = make(app)
    await h.send(GET)
    await h.response()
    assert tasks == [h.proto.host]
    assert asyncio.current_task() is not h.proto.host


async def test_asyncio_timeout_in_app(make: Make) -> None:
    outcomes: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            async with asyncio.timeout(0.01):
                await asyncio.sleep(5)
        except TimeoutError:
            outcomes.append("timeout")
        async with asyncio.timeout(5):  # does not fire
            await asyncio.sleep(0)
        await text_app(scope, receive, send)

    h = make(app)
    for _ in range(2):
        await h.send(GET)
    await h.responses(2)
    assert outcomes == ["timeout", "timeout"]
    assert h.proto.host.cancelling() == 0


async def test_timeout_firing_before_host_takes_over(make: Make) -> None:
    outcomes: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            async with asyncio.timeout(0):
                await asyncio.sleep(5)
        except TimeoutError:
            outcomes.append("timeout")
        await text_app(scope, receive, send)

    h = make(app)
    await h.send(GET)
    await h.response()
    assert outcomes == ["timeout"]


async def test_app_awaiting_real_io(make: Make) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"ping")
        data = await reader.read(4)
        writer.close()
        await writer.wait_closed()
        await send(START)
        await send({"type": "http.response.body", "body": data})

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(await reader.read(4))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        h = make(app)
        await h.send(GET)
        assert (await h.response()).body == b"ping"


async def test_cancellation_delivered_into_suspended_app(make: Make) -> None:
    events: list[str] = []
    started = asyncio.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            started.set()
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            events.append("cancelled")
            raise

    h = make(app)
    await h.send(GET)
    await asyncio.wait_for(started.wait(), 5)
    await asyncio.sleep(0)
    h.proto.host.cancel()
    await h.closed()
    assert events == ["cancelled"]
    assert parse_statuses(h.transport.data) == [500]


async def test_exception_thrown_into_app_from_future(make: Make) -> None:
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    caught: list[BaseException] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await future
        except KeyError as exc:
            caught.append(exc)
        await text_app(scope, receive, send)

    h = make(app)
    await h.send(GET)
    await asyncio.sleep(0.01)
    future.set_exception(KeyError("x"))
    await h.response()
    assert len(caught) == 1


async def test_context_is_fresh_per_request(make: Make) -> None:
    var: contextvars.ContextVar[int] = contextvars.ContextVar("var", default=0)
    seen: list[int] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(var.get())
        var.set(var.get() + 1)
        if scope["path"] == "/sleep":
            await asyncio.sleep(0)
            seen.append(var.get())
        await text_app(scope, receive, send)

    h = make(app)
    await h.send(GET)
    await h.send(b"GET /sleep HTTP/1.1\r\nHost: x\r\n\r\n")
    await h.send(GET)
    await h.responses(3)
    assert seen == [0, 0, 1, 0]


async def test_next_request_while_app_still_runs_after_response(make: Make) -> None:
    background_done = asyncio.Event()
    release = asyncio.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await text_app(scope, receive, send)
        if scope["path"] == "/bg":
            await release.wait()  # "background task" after the response
            background_done.set()

    h = make(app)
    await h.send(b"GET /bg HTTP/1.1\r\nHost: x\r\n\r\n")
    await h.response()
    await h.send(GET)  # the host is busy: this one runs in its own Task
    await h.responses(2)
    assert h.proto.host_busy
    release.set()
    await asyncio.wait_for(background_done.wait(), 5)
    await h.wait_for(lambda: not h.proto.host_busy)
    await h.send(GET)
    await h.responses(3)


async def test_data_received_inside_a_task_uses_a_task(make: Make) -> None:
    h = make()
    h.proto.data_received(GET)  # called from this test's Task: the fallback path
    await h.response()


async def test_app_returning_non_coroutine_awaitable(make: Make) -> None:
    class App:
        def __call__(self, scope: Scope, receive: Receive, send: Send) -> Any:
            return asyncio.ensure_future(text_app(scope, receive, send))

    h = make(App())
    await h.send(GET)
    assert (await h.response()).body == b"hello"


async def test_app_not_callable_properly(make: Make) -> None:
    def app(scope: Scope, receive: Receive, send: Send) -> Any:
        raise TypeError("not an app")

    h = make(app)
    await h.send(GET)
    await h.closed()
    assert parse_statuses(h.transport.data) == [500]


# -- proxy headers ---------------------------------------------------------------------------


async def test_proxy_headers_from_trusted_peer(make: Make) -> None:
    seen: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope)
        await text_app(scope, receive, send)

    request = (
        b"GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 203.0.113.7, 10.0.0.1\r\n"
        b"X-Forwarded-Proto: https\r\n\r\n"
    )
    trusted = make(app, forwarded_allow_ips=["127.0.0.1", "10.0.0.0/8"])
    await trusted.send(request)
    await trusted.response()
    assert seen[-1]["client"] == ("203.0.113.7", 0)
    assert seen[-1]["scheme"] == "https"

    untrusted = make(app, peer=("192.0.2.1", 4000))
    await untrusted.send(request)
    await untrusted.response()
    assert seen[-1]["client"] == ("192.0.2.1", 4000)
    assert seen[-1]["scheme"] == "http"

    disabled = make(app, proxy_headers=False)
    await disabled.send(request)
    await disabled.response()
    assert seen[-1]["client"] == ("127.0.0.1", 50000)


async def test_access_log_escapes_control_characters(
    make: Make, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="vivace.access")
    h = make(access_log=True, access_log_format="%(request_line)s %(status)s %(user_agent)s")
    await h.send(b"GET /a%0d%0aFAKE HTTP/1.1\r\nHost: x\r\nUser-Agent: ua\x85x\r\n\r\n")
    await h.response()
    records = [r.getMessage() for r in caplog.records if r.name == "vivace.access"]
    assert records == ["GET /a%0d%0aFAKE HTTP/1.1 200 ua\\x85x"]
