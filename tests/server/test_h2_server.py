"""HTTP/2 server, protocol level: ASGI over streams as over HTTP/1.1 (fake transport)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest

from tests.server.conftest import parse_responses, text_app
from tests.server.h2harness import H2Client, Result, h2_connect
from vivace.http._h2_frames import ErrorCode, H2Limits
from vivace.server._h2_protocol import H2Protocol
from vivace.types import Receive, Scope, Send

Make = Any
scopes: list[Scope] = []


async def scope_app(scope: Scope, receive: Receive, send: Send) -> None:
    scopes.append(scope)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


async def test_prior_knowledge_switches_protocol(make: Make) -> None:
    h, client = await h2_connect(make, text_app)
    assert isinstance(h.transport.protocol, H2Protocol)
    sid = await client.request()
    result = await client.response(sid)
    assert (result.status, result.body) == (200, b"hello")
    assert result.header(b"content-type") == b"text/plain"
    assert result.header(b"server") == b"vivace"
    assert result.header(b"date") is not None


async def test_scope_is_the_http11_scope_with_version_2(make: Make) -> None:
    scopes.clear()
    _, client = await h2_connect(make, scope_app, root_path="/api")
    sid = await client.request(path="/a%20b/c?x=1&y=2", headers=[(b"x-custom", b"v")])
    await client.response(sid)
    scope = scopes[0]
    assert scope["http_version"] == "2"
    assert scope["type"] == "http" and scope["method"] == "GET"
    assert scope["scheme"] == "http"
    assert scope["path"] == "/api/a b/c"
    assert scope["raw_path"] == b"/api/a%20b/c"
    assert scope["query_string"] == b"x=1&y=2"
    assert scope["root_path"] == "/api"
    assert scope["headers"] == [(b"host", b"example.com"), (b"x-custom", b"v")]
    assert scope["client"] == ("127.0.0.1", 50000)
    assert scope["server"] == ("127.0.0.1", 8000)
    assert set(scope["extensions"]) == {
        "http.response.pathsend",
        "http.response.trailers",
        "http.response.early_hint",
    }
    assert scope["asgi"] == {"version": "3.0", "spec_version": "2.3"}


async def test_proxy_headers_from_trusted_peer(make: Make) -> None:
    scopes.clear()
    _, client = await h2_connect(make, scope_app)
    fields = [(b"x-forwarded-for", b"203.0.113.9"), (b"x-forwarded-proto", b"https")]
    await client.response(await client.request(headers=fields))
    assert scopes[0]["client"][0] == "203.0.113.9" and scopes[0]["scheme"] == "https"


async def test_post_body_larger_than_windows(make: Make) -> None:
    _, client = await h2_connect(make, text_app, h2_initial_window_size=65535)
    body = os.urandom(1_000_000)
    sid = await client.request("POST", body=body)
    result = await client.response(sid)
    assert result.status == 200 and result.body == body


async def test_many_concurrent_streams(make: Make) -> None:
    _, client = await h2_connect(make, text_app)
    sids = [await client.request(path=f"/{i}") for i in range(50)]
    for sid in sids:
        assert (await client.response(sid)).body == b"hello"


async def test_streaming_response_and_trailers(make: Make) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "trailers": True})
        for part in (b"a", b"b", b"c"):
            await send({"type": "http.response.body", "body": part, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        await send({"type": "http.response.trailers", "headers": [(b"x-checksum", b"abc")]})

    _, client = await h2_connect(make, app)
    result = await client.response(await client.request())
    assert result.body == b"abc"
    assert result.trailers == [(b"x-checksum", b"abc")]


async def test_early_hints(make: Make) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.early_hint", "links": [b"</a.css>; rel=preload"]})
        await send({"type": "http.response.start", "status": 200})
        await send({"type": "http.response.body", "body": b"x"})

    _, client = await h2_connect(make, app)
    result = await client.response(await client.request())
    assert result.informational == [(103, [(b"link", b"</a.css>; rel=preload")])]
    assert result.status == 200


async def test_pathsend(make: Make, tmp_path: Path) -> None:
    data = os.urandom(300_000)
    (tmp_path / "f.bin").write_bytes(data)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        length = str(len(data)).encode()
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", length)]}
        )
        await send({"type": "http.response.pathsend", "path": str(tmp_path / "f.bin")})

    _, client = await h2_connect(make, app)
    result = await client.response(await client.request())
    assert result.body == data
    result = await client.response(await client.request("HEAD"))
    assert result.body == b"" and result.header(b"content-length") == b"300000"


@pytest.mark.parametrize("status", [204, 304])
async def test_no_body_statuses(make: Make, status: int) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": status})
        await send({"type": "http.response.body", "body": b"ignored"})

    _, client = await h2_connect(make, app)
    result = await client.response(await client.request())
    assert (result.status, result.body, result.ended) == (status, b"", True)


async def test_connection_specific_headers_dropped(make: Make) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [
            (b"Connection", b"close"),
            (b"Transfer-Encoding", b"chunked"),
            (b"X-Mixed-Case", b"1"),
            (b"Server", b"mine"),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"x"})

    _, client = await h2_connect(make, app)
    result = await client.response(await client.request())
    names = [n for n, _ in result.headers]
    assert b"connection" not in names and b"transfer-encoding" not in names
    assert result.header(b"x-mixed-case") == b"1"
    assert [v for n, v in result.headers if n == b"server"] == [b"mine"]


async def test_rst_stream_disconnects_the_app(make: Make) -> None:
    seen: list[Any] = []
    started = asyncio.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        started.set()
        seen.append(await receive())
        seen.append(await receive())

    _, client = await h2_connect(make, app)
    sid = await client.request("POST", body=b"part", end=False)
    await asyncio.wait_for(started.wait(), 5)
    client.conn.reset_stream(sid, ErrorCode.CANCEL)
    await client.flush()
    await client.wait(lambda: len(seen) == 2)
    assert seen[0] == {"type": "http.request", "body": b"part", "more_body": True}
    assert seen[1] == {"type": "http.disconnect"}


async def test_send_after_reset_raises(make: Make) -> None:
    errors: list[BaseException] = []
    gate = asyncio.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await gate.wait()
        try:
            await send({"type": "http.response.start", "status": 200})
        except OSError as exc:
            errors.append(exc)

    _, client = await h2_connect(make, app)
    sid = await client.request()
    client.conn.reset_stream(sid)
    await client.flush()
    gate.set()
    await client.wait(lambda: errors)
    assert type(errors[0]).__name__ == "ClientDisconnected"


@pytest.mark.parametrize("kind", ["raise", "return"])
async def test_app_failure_is_500(make: Make, kind: str) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if kind == "raise":
            raise RuntimeError("boom")

    _, client = await h2_connect(make, app)
    assert (await client.response(await client.request())).status == 500


async def test_failure_after_start_resets_stream(make: Make) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200})
        await send({"type": "http.response.body", "body": b"x", "more_body": True})
        raise RuntimeError("boom")

    _, client = await h2_connect(make, app)
    result = await client.response(await client.request())
    assert result.reset == ErrorCode.INTERNAL_ERROR


async def test_content_length_longer_body_refused(make: Make) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]}
        )
        await send({"type": "http.response.body", "body": b"toolong"})

    _, client = await h2_connect(make, app)
    result = await client.response(await client.request())
    assert result.reset == ErrorCode.INTERNAL_ERROR


async def test_content_length_shorter_body_resets(make: Make) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"9")]}
        )
        await send({"type": "http.response.body", "body": b"ab", "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    _, client = await h2_connect(make, app)
    result = await client.response(await client.request())
    assert result.reset == ErrorCode.INTERNAL_ERROR


@pytest.mark.parametrize(
    "message",
    [
        {"type": "http.response.start", "status": 99},
        {"type": "http.response.start", "status": 200, "headers": [(b"x", b"a\nb")]},
        {"type": "http.response.start", "status": 200, "headers": [(b"bad name", b"v")]},
        {"type": "http.response.body", "body": b"x"},
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"x")]},
    ],
)
async def test_invalid_messages_answered_500(make: Make, message: dict[str, Any]) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(message)
        if message["type"] == "http.response.start":
            await send({"type": "http.response.body", "body": b""})

    _, client = await h2_connect(make, app)
    assert (await client.response(await client.request())).status == 500


async def test_max_body_size_413(make: Make) -> None:
    _, client = await h2_connect(make, text_app, max_body_size=100)
    sid = await client.request("POST", headers=[(b"content-length", b"1000")], body=b"x" * 1000)
    assert (await client.response(sid)).status == 413
    sid = await client.request("POST", body=b"x" * 1000)  # no content-length: counted
    assert (await client.response(sid)).status == 413
    sid = await client.request()
    assert (await client.response(sid)).status == 200


async def test_connect_not_websocket_is_501(make: Make) -> None:
    _, client = await h2_connect(make, text_app)
    sid = client.conn.open_stream()
    client.conn.send_headers(sid, [(b":method", b"CONNECT"), (b":authority", b"a:443")])
    client.results[sid] = Result()
    await client.flush()
    assert (await client.response(sid)).status == 501


async def test_bad_path_form_is_400(make: Make) -> None:
    _, client = await h2_connect(make, text_app)
    assert (await client.response(await client.request(path="http://x/y"))).status == 400
    assert (await client.response(await client.request("OPTIONS", path="*"))).status == 200
    # RFC 9113 8.3.1 and RFC 9112 3.2: no fragment in a request target (as HTTP/1.1).
    for path in ("/f#x", "/p?q=1#s", "/#"):
        assert (await client.response(await client.request(path=path))).status == 400


async def test_graceful_shutdown_ends_a_waiting_stream(make: Make) -> None:
    """At shutdown an event stream whose body is read hears http.disconnect; it is cut
    (CANCEL)."""
    heard: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"text/event-stream")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"event", "more_body": True})
        while True:
            message = await receive()
            heard.append(message["type"])
            if message["type"] == "http.disconnect":
                return

    h, client = await h2_connect(make, app)
    sid = await client.request(method="POST", body=b"ab", end=False)
    await client.pump()
    proto = h.transport.protocol
    assert isinstance(proto, H2Protocol)
    h.state.shutting_down = True
    proto.shutdown()  # the body is still coming: the stream is not told yet
    await client.pump()
    assert heard == ["http.request"]
    client.conn.send_data(sid, b"", end_stream=True)
    await client.flush()
    await h.closed()
    await client.pump()  # what the server wrote before it closed
    result = client.results[sid]
    assert heard == ["http.request", "http.request", "http.disconnect"]
    assert result.body == b"event" and result.reset == 8  # CANCEL


async def test_response_waits_for_window(make: Make) -> None:
    limits = H2Limits(initial_window_size=65535)
    big = os.urandom(500_000)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200})
        await send({"type": "http.response.body", "body": big})

    h = make(app)
    client = H2Client(h, limits=limits, ack=False)
    await client.start()
    sid = await client.request()
    await client.wait(lambda: len(client.results[sid].body) >= 65535)
    for _ in range(5):
        await client.pump()
    assert len(client.results[sid].body) == 65535  # the stream window is shut
    client.ack = True
    client.conn.acknowledge(sid, 65535)
    await client.flush()
    assert (await client.response(sid)).body == big


async def test_h2c_upgrade(make: Make) -> None:
    h = make(text_app)
    await h.send(
        b"GET /up HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\n"
        b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n"
    )
    await h.wait_for(lambda: b"\r\n\r\n" in h.transport.data)
    head, _, _ = bytes(h.transport.data).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101 Switching Protocols")
    assert isinstance(h.transport.protocol, H2Protocol)
    client = H2Client(h)
    client.offset = len(head) + 4
    client.conn.open_stream()  # stream 1 is the upgraded request
    client.results[1] = Result()
    await client.start()
    result = await client.response(1)
    assert (result.status, result.body) == (200, b"hello")
    sid = await client.request()
    assert (await client.response(sid)).body == b"hello"


@pytest.mark.parametrize(
    "headers",
    [
        b"Connection: Upgrade\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABk\r\n",  # token missing
        b"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n",  # no settings
        b"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMA\r\n",
        b"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: !!\r\n",
    ],
)
async def test_h2c_upgrade_refused_when_malformed(make: Make, headers: bytes) -> None:
    h = make(text_app)
    await h.send(b"GET / HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n")
    response = await h.response()
    assert response.status == 200 and response.body == b"hello"
    assert not isinstance(h.transport.protocol, H2Protocol)


async def test_http1_only_serves_preface_as_bad_request(make: Make) -> None:
    h = make(text_app, http="1")
    await h.send(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
    await h.closed()
    assert [r.status for r in parse_responses(h.transport.data)] in ([505], [400])


async def test_preface_split_across_reads(make: Make) -> None:
    h = make(text_app)
    client = H2Client(h)
    client.conn.initiate()
    data = client.conn.data_to_send()
    for piece in (data[:2], data[2:9], data[9:]):
        await h.send(piece)
    assert isinstance(h.transport.protocol, H2Protocol)
    await client.pump()
    sid = await client.request()
    assert (await client.response(sid)).status == 200


async def test_idle_connection_closed_with_goaway(make: Make) -> None:
    h, client = await h2_connect(make, text_app)
    await client.response(await client.request())
    proto = h.transport.protocol
    assert isinstance(proto, H2Protocol)
    proto.check_deadline(h.state.now + h.state.timeout_keep_alive + 1)
    await h.closed()
    await client.pump()
    assert client.goaway is not None and client.goaway.error_code == ErrorCode.NO_ERROR


async def test_preface_deadline(make: Make) -> None:
    h = make(text_app)
    await h.send(b"PRI * HTTP/2.0\r\n")
    proto = h.transport.protocol
    assert isinstance(proto, H2Protocol)
    proto.check_deadline(h.state.now + h.state.timeout_request_head + 1)
    await h.closed()


async def test_graceful_shutdown_lets_streams_finish(make: Make) -> None:
    gate = asyncio.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await gate.wait()
        await send({"type": "http.response.start", "status": 200})
        await send({"type": "http.response.body", "body": b"late"})

    h, client = await h2_connect(make, app)
    sid = await client.request()
    await client.pump()
    proto = h.transport.protocol
    assert isinstance(proto, H2Protocol)
    h.state.shutting_down = True
    proto.shutdown()
    await client.pump()
    assert client.goaway is not None and client.goaway.last_stream_id == sid
    assert not h.transport.closed
    gate.set()
    assert (await client.response(sid)).body == b"late"
    await h.closed()


async def test_client_goaway_closes_when_idle(make: Make) -> None:
    h, client = await h2_connect(make, text_app)
    await client.response(await client.request())
    client.conn.goaway()
    await client.flush()
    await h.closed()


async def test_protocol_error_closes_connection(make: Make) -> None:
    h, client = await h2_connect(make, text_app)
    await h.send(b"\x00\x00\x08\x06\x00\x00\x00\x00\x01" + b"x" * 8)  # PING on a stream
    await h.closed()
    await client.pump()
    assert client.goaway is not None and client.goaway.error_code == ErrorCode.PROTOCOL_ERROR


# -- the rest of the server's options and limits, over HTTP/2 ---------------------------------


async def test_access_log_says_http_2(make: Make, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    caplog.set_level(logging.INFO, logger="vivace.access")
    h, client = await h2_connect(make, text_app, access_log=True)
    await client.response(await client.request(path="/logged?q=1"))
    await h.wait_for(lambda: any(r.name == "vivace.access" for r in caplog.records))
    line = next(r.getMessage() for r in caplog.records if r.name == "vivace.access")
    assert '"GET /logged?q=1 HTTP/2" 200 5' in line


async def test_limit_max_requests_counts_streams(make: Make) -> None:
    h, client = await h2_connect(make, text_app, limit_max_requests=3)
    reached: list[bool] = []
    h.state.on_limit_max_requests = lambda: reached.append(True)
    for _ in range(3):
        await client.response(await client.request())
    assert reached == [True]


async def test_limit_concurrency_503(make: Make) -> None:
    gate = asyncio.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await gate.wait()
        await text_app(scope, receive, send)

    _, client = await h2_connect(make, app, limit_concurrency=1)
    first = await client.request()
    second = await client.request()
    assert (await client.response(second)).status == 503
    gate.set()
    assert (await client.response(first)).status == 200


async def test_request_trailers_end_the_body(make: Make) -> None:
    _, client = await h2_connect(make, text_app)
    sid = await client.request("POST", body=b"abc", end=False)
    client.conn.send_headers(sid, [(b"x-checksum", b"1")], end_stream=True)
    await client.flush()
    assert (await client.response(sid)).body == b"abc"


async def test_write_backpressure_and_write_timeout(make: Make) -> None:
    sent: list[int] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200})
        for i in range(3):
            await send({"type": "http.response.body", "body": b"x", "more_body": True})
            sent.append(i)
        await send({"type": "http.response.body", "body": b""})

    h, client = await h2_connect(make, app)
    proto = h.transport.protocol
    assert isinstance(proto, H2Protocol)
    proto.pause_writing()  # the socket's buffer is full
    sid = await client.request()
    await client.wait(lambda: len(sent) == 0 and proto.exchanges != {})
    assert sent == []  # the first send waits
    proto.resume_writing()
    assert (await client.response(sid)).body == b"xxx"
    proto.pause_writing()
    proto.check_deadline(h.state.now + proto.core.limits.send_stall_timeout + 1)
    assert h.transport.aborted


async def test_peer_that_does_not_read_is_dropped(make: Make) -> None:
    big = b"y" * 100_000

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200})
        await send({"type": "http.response.body", "body": big})

    h, client = await h2_connect(make, app)
    h.transport.get_write_buffer_size = lambda: 5 * 1024 * 1024  # type: ignore[method-assign]
    await client.request()
    await h.wait_for(lambda: h.transport.aborted)


async def test_stalled_stream_reset_by_the_sweep(make: Make) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200})
        await send({"type": "http.response.body", "body": b"z" * 200_000})

    h = make(app, h2_send_timeout=0.0)
    client = H2Client(h, limits=H2Limits(initial_window_size=65535), ack=False)
    await client.start()
    sid = await client.request()
    await client.wait(lambda: len(client.results[sid].body) >= 65535)
    proto = h.transport.protocol
    assert isinstance(proto, H2Protocol)
    proto.check_deadline(h.state.now)
    result = await client.response(sid)
    assert result.reset == ErrorCode.CANCEL


async def test_body_too_large_after_the_response_started(make: Make) -> None:
    started = asyncio.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200})
        await send({"type": "http.response.body", "body": b"a", "more_body": True})
        started.set()
        await receive()
        await receive()

    _, client = await h2_connect(make, app, max_body_size=10)
    sid = await client.request("POST", body=b"", end=False)
    await asyncio.wait_for(started.wait(), 5)
    client.conn.send_data(sid, b"x" * 100)
    await client.flush()
    assert (await client.response(sid)).reset == ErrorCode.CANCEL


async def test_app_that_is_not_a_coroutine_function(make: Make) -> None:
    def app(scope: Scope, receive: Receive, send: Send) -> Any:
        raise RuntimeError("fails before returning an awaitable")

    _, client = await h2_connect(make, app)
    assert (await client.response(await client.request())).status == 500


async def test_unix_socket_scope(make: Make) -> None:
    scopes.clear()
    h = make(scope_app)
    h.transport.extra.update(sockname="/tmp/vivace.sock", peername="")
    client = H2Client(h)
    await client.start()
    await client.response(await client.request())
    assert scopes[0]["server"] == ("/tmp/vivace.sock", None)
    assert scopes[0]["client"] is None
