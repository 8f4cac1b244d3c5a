"""The protocol with hostile requests and misbehaving apps (no sockets)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from tests.server.conftest import Harness, parse_statuses, text_app
from vivace.types import Message, Receive, Scope, Send

Make = Callable[..., Harness]
GET = b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"


def post(body: bytes, extra: bytes = b"") -> bytes:
    return (
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n%s\r\n" % (len(body), extra)
        + body
    )


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
    "missing_host": b"GET / HTTP/1.1\r\nX: y\r\n\r\n",
    "two_hosts": b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    "two_hosts_http10": b"GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n",
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


async def test_http10_without_host_is_served(make: Make) -> None:
    h = make()
    await h.send(b"GET / HTTP/1.0\r\n\r\n")
    await h.closed()
    assert parse_statuses(h.transport.data) == [200]


async def test_host_count_is_per_request_on_keep_alive(make: Make) -> None:
    h = make()
    await h.send(GET + GET + b"GET / HTTP/1.1\r\n\r\n")
    await h.closed()
    assert parse_statuses(h.transport.data) == [200, 200, 400]


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
    # The response table's rows hold the cycle's own events too: never an app's message.
    "own_event_complete": [START, {"type": "complete"}],
    "own_event_abandon": [{"type": "abandon"}],
    "body_not_bytes": [START, {"type": "http.response.body", "body": "text"}],
    "trailers_without_body": [START, {"type": "http.response.trailers", "headers": []}],
    "pathsend_relative": [START, {"type": "http.response.pathsend", "path": "relative.txt"}],
    "early_hint_after_start": [START, {"type": "http.response.early_hint", "links": []}],
    "early_hint_bad_links": [{"type": "http.response.early_hint", "links": b"</a>"}],
    "early_hint_crlf": [{"type": "http.response.early_hint", "links": [b"</a>\r\nx: y"]}],
}


@pytest.mark.parametrize("event", ["unwritten", "await_trailers", "complete", "abandon"])
async def test_cycle_events_sent_as_messages_mid_body_are_refused(make: Make, event: str) -> None:
    more = {"type": "http.response.body", "body": b"a", "more_body": True}
    h, errors = await _run_invalid(make, [START, more, {"type": event}])
    assert [type(e).__name__ for e in errors] == ["ProtocolViolation"]
    assert parse_statuses(h.transport.data) == [200]  # the head was out: the connection drops
    assert h.transport.aborted


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
