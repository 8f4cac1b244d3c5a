"""vivace.client over HTTP/2: against vivace.server (h2c prior knowledge and TLS with ALPN)
and against scripted servers (raw frames from the sans-IO core) for GOAWAY, REFUSED_STREAM
and resets."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from tests.client.servers import raw_server, vivace_server
from vivace.client import (
    Client,
    Limits,
    ReadTimeout,
    RemoteProtocolError,
    StreamReset,
    Timeout,
    UnsupportedProtocol,
)
from vivace.http._h2_connection import H2Connection
from vivace.http._h2_events import DataReceived, RequestReceived
from vivace.http._h2_frames import ErrorCode, H2Limits
from vivace.types import Receive, Scope, Send


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    path = scope["path"]
    if path == "/big":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"z" * (8 * 1024 * 1024)})
        return
    if path == "/stream":
        await send({"type": "http.response.start", "status": 200, "trailers": True})
        for i in range(50):
            await send({"type": "http.response.body", "body": b"%d," % i, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        await send({"type": "http.response.trailers", "headers": [(b"x-done", b"1")]})
        return
    if path == "/boom":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"x", "more_body": True})
        raise RuntimeError("boom")
    if path == "/slow":
        await asyncio.sleep(0.05)
    if path == "/slower":  # long enough for every request of a gather to be in flight
        await asyncio.sleep(0.5)
    if path == "/hang":
        await asyncio.sleep(30)
    headers = [(b"content-type", b"text/plain"), (b"x-seen-host", _host(scope))]
    text = f"{scope['method']} {path} {len(body)} {scope['http_version']}".encode()
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": text})


def _host(scope: Scope) -> bytes:
    return next((v for n, v in scope["headers"] if n == b"host"), b"")


@pytest.fixture
async def base() -> AsyncIterator[str]:
    async with vivace_server(app) as url:
        yield url


def h2c() -> Client:
    return Client(http1=False, http2=True, timeout=10)


async def test_prior_knowledge_get_and_post(base: str) -> None:
    async with h2c() as client:
        r = await client.get(base + "/a?x=1")
        assert (r.status_code, r.http_version, r.text) == (200, "HTTP/2", "GET /a 0 2")
        assert r.headers["x-seen-host"] == base.split("//")[1]
        r = await client.post(base + "/p", content=b"x" * 100_000)
        assert r.text == "POST /p 100000 2"


async def test_streaming_upload_and_download(base: str) -> None:
    async def body() -> AsyncIterator[bytes]:
        for _ in range(40):
            yield b"y" * 100_000

    async with h2c() as client:
        r = await client.post(base + "/up", content=body())
        assert r.text == "POST /up 4000000 2"
        async with client.stream("GET", base + "/big") as r:
            total = 0
            async for chunk in r.aiter_bytes():
                total += len(chunk)
        assert total == 8 * 1024 * 1024
        r = await client.get(base + "/stream")
        assert r.text == "".join(f"{i}," for i in range(50))


async def test_multiplexed_on_one_connection(base: str) -> None:
    async with h2c() as client:
        responses = await asyncio.gather(*(client.get(base + f"/slow{i}") for i in range(50)))
        assert {r.status_code for r in responses} == {200}
        h2 = client._transport._h2  # type: ignore[attr-defined]
        assert sum(len(c) for c in h2._conns.values()) == 1


async def test_more_connections_beyond_max_concurrent_streams() -> None:
    async with vivace_server(app, h2_max_concurrent_streams=4) as base, h2c() as client:
        responses = await asyncio.gather(*(client.get(base + "/slower") for i in range(12)))
        assert {r.status_code for r in responses} == {200}
        h2 = client._transport._h2  # type: ignore[attr-defined]
        assert sum(len(c) for c in h2._conns.values()) == 3


async def test_connection_limit_makes_requests_wait() -> None:
    limits = Limits(max_connections=1)
    async with vivace_server(app, h2_max_concurrent_streams=2) as base:
        async with Client(http1=False, http2=True, limits=limits) as client:
            responses = await asyncio.gather(*(client.get(base + "/slow") for i in range(6)))
            assert {r.status_code for r in responses} == {200}
        async with Client(
            http1=False, http2=True, limits=limits, timeout=Timeout(10, pool=0.01)
        ) as client:
            with pytest.raises(Exception, match="free within"):
                await asyncio.gather(*(client.get(base + "/hang") for i in range(3)))


async def test_stream_reset_is_a_typed_error(base: str) -> None:
    async with h2c() as client:
        with pytest.raises(StreamReset) as info:
            await client.get(base + "/boom")
        assert info.value.error_code == ErrorCode.INTERNAL_ERROR
        assert isinstance(info.value, RemoteProtocolError)
        assert (await client.get(base + "/after")).status_code == 200


async def test_closing_a_response_early_cancels_its_stream(base: str) -> None:
    async with h2c() as client:
        async with client.stream("GET", base + "/big") as r:
            async for _ in r.aiter_bytes():
                break
        assert (await client.get(base + "/next")).text == "GET /next 0 2"


async def test_read_timeout(base: str) -> None:
    async with Client(http1=False, http2=True, timeout=Timeout(10, read=0.05)) as client:
        with pytest.raises(ReadTimeout):
            await client.get(base + "/hang")
        assert (await client.get(base + "/ok")).status_code == 200


async def test_http_origin_uses_http11_unless_prior_knowledge(base: str) -> None:
    async with Client(http2=True) as client:
        assert (await client.get(base + "/")).http_version == "HTTP/1.1"


def test_http1_and_http2_cannot_both_be_off() -> None:
    with pytest.raises(ValueError, match="at least one"):
        Client(http1=False, http2=False)


# -- TLS and ALPN ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    import trustme

    folder = tmp_path_factory.mktemp("certs")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    paths = {n: str(folder / f"{n}.pem") for n in ("cert", "key", "ca")}
    cert.cert_chain_pems[0].write_to_path(paths["cert"])
    cert.private_key_pem.write_to_path(paths["key"])
    ca.cert_pem.write_to_path(paths["ca"])
    return paths


async def test_alpn_h2(certs: dict[str, str]) -> None:
    tls = {"ssl_certfile": certs["cert"], "ssl_keyfile": certs["key"]}
    async with vivace_server(app, **tls) as base:
        url = base.replace("http://", "https://")
        async with Client(http2=True, verify=certs["ca"]) as client:
            r = await client.get(url + "/x")
            assert r.text == "GET /x 0 2" and r.http_version == "HTTP/2"
        async with Client(verify=certs["ca"]) as client:  # http2 off: ALPN offers http/1.1
            assert (await client.get(url + "/x")).http_version == "HTTP/1.1"


async def test_alpn_falls_back_to_http11(certs: dict[str, str]) -> None:
    tls = {"ssl_certfile": certs["cert"], "ssl_keyfile": certs["key"], "http": "1"}
    async with vivace_server(app, **tls) as base:
        url = base.replace("http://", "https://")
        async with Client(http2=True, verify=certs["ca"]) as client:
            first = await client.get(url + "/x")
            second = await client.get(url + "/y")
            assert (first.http_version, second.http_version) == ("HTTP/1.1", "HTTP/1.1")
            assert client._transport.pool.connection_count == 1  # type: ignore[attr-defined]
        async with Client(http1=False, http2=True, verify=certs["ca"]) as client:
            with pytest.raises(UnsupportedProtocol):
                await client.get(url + "/x")


# -- scripted servers: GOAWAY, REFUSED_STREAM, protocol errors ------------------------------

Script = Callable[[H2Connection, Any, list[int]], None]


def scripted(script: Script, limits: H2Limits | None = None) -> Any:
    """A raw HTTP/2 server: ``script(conn, event, seen)`` for each request event."""
    connections: list[int] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = H2Connection(client=False, limits=limits)
        conn.initiate()
        connections.append(len(connections))
        seen: list[int] = []
        writer.write(conn.data_to_send())
        while data := await reader.read(65536):
            for event in conn.receive(data):
                if isinstance(event, RequestReceived):
                    seen.append(event.stream_id)
                    script(conn, event, seen)
                elif isinstance(event, DataReceived):
                    conn.acknowledge(event.stream_id, len(event.data))
            writer.write(conn.data_to_send())
            await writer.drain()
            if conn.closed:
                break

    return raw_server(handler), connections


def respond(conn: H2Connection, stream_id: int, text: bytes) -> None:
    conn.send_headers(stream_id, [(b":status", b"200")])
    conn.send_data(stream_id, text, end_stream=True)


async def test_goaway_retries_unprocessed_requests() -> None:
    def script(conn: H2Connection, event: Any, seen: list[int]) -> None:
        if len(seen) == 1:
            return  # answered below, once the second request came
        # Stream 1 was processed, 3 was not: GOAWAY says so, then 1 is answered.
        conn.goaway(ErrorCode.NO_ERROR, last_stream_id=seen[0])
        respond(conn, seen[0], b"first")

    server, connections = scripted(script)
    async with server as base, h2c() as client:
        first = asyncio.ensure_future(client.get(base + "/1"))
        second = asyncio.ensure_future(client.get(base + "/2"))
        assert (await first).text == "first"
        # The second went to a new connection, where it is the first request again: it
        # waits there forever in this script, so check only that it was retried.
        async with asyncio.timeout(10):
            while len(connections) < 2:
                await asyncio.sleep(0.005)
        assert not second.done()
        second.cancel()


async def test_refused_stream_is_retried() -> None:
    refused: list[int] = []

    def script(conn: H2Connection, event: Any, seen: list[int]) -> None:
        if not refused:  # the first stream ever is refused, the retry answered
            refused.append(event.stream_id)
            conn.reset_stream(event.stream_id, ErrorCode.REFUSED_STREAM)
            return
        respond(conn, event.stream_id, b"ok")

    server, _ = scripted(script)
    async with server as base, h2c() as client:
        assert (await client.get(base + "/")).text == "ok"
        assert refused == [1]


async def test_unprocessed_streaming_body_is_not_retried() -> None:
    def script(conn: H2Connection, event: Any, seen: list[int]) -> None:
        conn.reset_stream(event.stream_id, ErrorCode.REFUSED_STREAM)

    async def body() -> AsyncIterator[bytes]:
        yield b"once"

    server, _ = scripted(script)
    async with server as base, h2c() as client:
        with pytest.raises(RemoteProtocolError, match="not processed"):
            await client.post(base + "/", content=body())


async def test_server_protocol_error_fails_requests() -> None:
    def script(conn: H2Connection, event: Any, seen: list[int]) -> None:
        conn.send_headers(event.stream_id, [(b":status", b"abc")], end_stream=True)

    server, _ = scripted(script)
    async with server as base, h2c() as client:
        with pytest.raises(RemoteProtocolError):
            await client.get(base + "/")


async def test_informational_then_final_response() -> None:
    def script(conn: H2Connection, event: Any, seen: list[int]) -> None:
        conn.send_headers(event.stream_id, [(b":status", b"103"), (b"link", b"</a>")])
        respond(conn, event.stream_id, b"final")

    server, _ = scripted(script)
    async with server as base, h2c() as client:
        r = await client.get(base + "/")
        assert (r.status_code, r.text) == (200, "final")


async def test_server_error_mid_response() -> None:
    def script(conn: H2Connection, event: Any, seen: list[int]) -> None:
        conn.send_headers(event.stream_id, [(b":status", b"200")])
        conn.send_data(event.stream_id, b"part")
        conn.goaway(ErrorCode.INTERNAL_ERROR)

    server, _ = scripted(script)
    async with server as base, h2c() as client:
        with pytest.raises(RemoteProtocolError):
            await client.get(base + "/")


async def test_large_upload_respects_small_server_windows() -> None:
    server_limits = H2Limits(initial_window_size=65535, connection_window_size=65535)

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = H2Connection(client=False, limits=server_limits)
        conn.initiate()
        writer.write(conn.data_to_send())
        total = 0
        while data := await reader.read(65536):
            for event in conn.receive(data):
                if isinstance(event, DataReceived):
                    total += len(event.data)
                    conn.acknowledge(event.stream_id, len(event.data))
                    if event.end_stream:
                        respond(conn, event.stream_id, str(total).encode())
            writer.write(conn.data_to_send())
            await writer.drain()

    payload = os.urandom(5_000_000)
    async with raw_server(handler) as base, h2c() as client:
        r = await client.post(base + "/", content=payload)
        assert r.text == "5000000"


async def test_connection_lost_mid_response_is_a_read_error() -> None:
    from vivace.client import ReadError

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = H2Connection(client=False)
        conn.initiate()
        writer.write(conn.data_to_send())
        while data := await reader.read(65536):
            for event in conn.receive(data):
                if isinstance(event, RequestReceived):
                    conn.send_headers(event.stream_id, [(b":status", b"200")])
                    conn.send_data(event.stream_id, b"partial")
            writer.write(conn.data_to_send())
            await writer.drain()
            if conn.last_processed:
                writer.transport.abort()  # gone, mid-body
                return

    async with raw_server(handler) as base, h2c() as client:
        with pytest.raises(ReadError):
            await client.get(base + "/")


async def test_goaway_with_an_error_fails_processed_streams() -> None:
    def script(conn: H2Connection, event: Any, seen: list[int]) -> None:
        conn.send_headers(event.stream_id, [(b":status", b"200")])
        conn.goaway(ErrorCode.INTERNAL_ERROR, last_stream_id=event.stream_id)

    server, _ = scripted(script)
    async with server as base, h2c() as client:
        with pytest.raises(RemoteProtocolError, match=r"INTERNAL_ERROR|lost"):
            await client.get(base + "/")


async def test_reset_after_complete_response_is_no_error() -> None:
    def script(conn: H2Connection, event: Any, seen: list[int]) -> None:
        respond(conn, event.stream_id, b"done early")
        conn.reset_stream(event.stream_id, ErrorCode.NO_ERROR)  # RFC 9113 8.1

    async def body() -> AsyncIterator[bytes]:
        for _ in range(50):
            yield b"z" * 100_000
            await asyncio.sleep(0)

    server, _ = scripted(script)
    async with server as base, h2c() as client:
        r = await client.post(base + "/", content=body())
        assert r.text == "done early"


async def test_server_refusing_push_settings_is_an_error() -> None:
    """A server may not turn SETTINGS_ENABLE_PUSH on for its client (6.5.2)."""
    from tests.http.h2peer import settings as settings_frame

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(settings_frame(enable_push=1))
        await writer.drain()
        await reader.read(65536)
        await reader.read(65536)

    async with raw_server(handler) as base, h2c() as client:
        with pytest.raises(RemoteProtocolError):
            await client.get(base + "/")


async def test_idle_connection_past_keepalive_expiry_is_replaced(base: str) -> None:
    limits = Limits(keepalive_expiry=0.0)
    async with Client(http1=False, http2=True, limits=limits, timeout=10) as client:
        await client.get(base + "/a")
        h2 = client._transport._h2  # type: ignore[attr-defined]
        first = next(iter(h2._conns.values()))[0]
        await client.get(base + "/b")
        second = next(iter(h2._conns.values()))[0]
        assert first is not second and first.closed
