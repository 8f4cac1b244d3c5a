"""Edge paths of the network transport: flow control both ways, cancellation, connect
failures and time-outs, stale and closed connections, caches."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from vivace.client import (
    Client,
    ConnectError,
    ConnectTimeout,
    Limits,
    Request,
    SyncByteStream,
    Timeout,
    WriteError,
)
from vivace.client._config import DEFAULT_TIMEOUT
from vivace.client._network import HTTPTransport
from vivace.client._pool import ConnectionPool

from ..waiting import until
from .servers import raw_server, read_head, read_request, uvicorn_server

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


async def keepalive(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while (await read_request(reader))[0]:
        writer.write(OK)
        await writer.drain()


def pool_of(client: Client) -> ConnectionPool:
    return client.transport.pool  # type: ignore[attr-defined,no-any-return]


async def count_app(scope: Any, receive: Any, send: Any) -> None:
    total = 0
    while True:
        message = await receive()
        total += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": str(total).encode()})


async def test_large_upload_pauses_and_resumes_writing() -> None:
    async def body() -> Any:
        for _ in range(256):
            yield b"u" * 65536

    async with uvicorn_server(count_app) as url, Client() as client:
        r = await client.post(url, content=body())
        assert r.text == str(256 * 65536)


async def test_sync_only_request_stream() -> None:
    class Lines(SyncByteStream):
        def __iter__(self) -> Iterator[bytes]:
            yield b"one"
            yield b""
            yield b"two"

    async with uvicorn_server(count_app) as url, Client() as client:
        request = Request("POST", url, stream=Lines(), headers={"transfer-encoding": "chunked"})
        assert (await client.send(request)).text == "6"
        transport = client.transport
        direct = Request("GET", url, extensions={"timeout": 2.0})
        response = await transport.handle_async_request(direct)
        assert await response.aread() == b"0"


async def test_server_closes_while_upload_waits() -> None:
    async def closes(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        await asyncio.sleep(0.2)
        writer.transport.abort()

    async def body() -> Any:
        for _ in range(4000):
            yield b"x" * 65536

    async with raw_server(closes) as url, Client() as client:
        with pytest.raises(WriteError):
            await client.post(url, content=body())


async def test_small_streamed_response_closed_unread_goes_back_to_pool() -> None:
    async with raw_server(keepalive) as url, Client() as client:
        async with client.stream("GET", url) as r:
            pass  # head and the 2-byte body came in one write, so the body is here too
        assert r.closed
        await r.aclose()
        assert pool_of(client).idle_count == 1


async def test_cancelled_request_closes_its_connection() -> None:
    arrived = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        arrived.set()
        await asyncio.sleep(30)

    async with raw_server(silent) as url, Client() as client:
        task = asyncio.ensure_future(client.get(url))
        await asyncio.wait_for(arrived.wait(), 10)  # cancelled while waiting for the response
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert pool_of(client).connection_count == 0


async def test_tls_handshake_that_never_completes() -> None:
    accepted = 0

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal accepted
        accepted += 1
        await asyncio.sleep(30)

    async with raw_server(silent) as url, Client() as client:
        secure = url.replace("http://", "https://")
        with pytest.raises(ConnectTimeout):
            await client.get(secure, timeout=Timeout(5.0, connect=0.2))
        task = asyncio.ensure_future(client.get(secure))
        await until(lambda: accepted == 2, what="the second connection")  # mid-handshake
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert pool_of(client).connection_count == 0


async def test_handed_connection_returns_when_waiter_is_cancelled() -> None:
    async with raw_server(keepalive) as url, Client(limits=Limits(max_connections=1)) as client:
        await client.get(url)
        pool = pool_of(client)
        transport: HTTPTransport = client.transport  # type: ignore[assignment]
        origin = transport._origin(Request("GET", url))
        conn = await pool.acquire(origin, DEFAULT_TIMEOUT)
        waiter = asyncio.ensure_future(pool.acquire(origin, DEFAULT_TIMEOUT))
        await asyncio.sleep(0)
        pool.release(conn)  # handed to the waiter...
        waiter.cancel()  # ...which is cancelled before it runs
        with pytest.raises(asyncio.CancelledError):
            await waiter
        assert pool.idle_count == 1


async def test_sweep_reschedules_while_connections_stay_idle() -> None:
    limits = Limits(keepalive_expiry=0.1)
    async with raw_server(keepalive) as a, raw_server(keepalive) as b, Client(limits=limits) as c:
        await c.get(a)
        await asyncio.sleep(0.06)  # time passing is what this test is about
        await c.get(b)
        await asyncio.sleep(0.06)
        assert pool_of(c).idle_count == 1  # a expired at the first sweep, b is younger
        await until(lambda: pool_of(c).idle_count == 0, what="b expired at a later sweep")


async def test_closing_pool_fails_every_waiter() -> None:
    arrived = asyncio.Event()

    async def slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        arrived.set()
        await asyncio.sleep(30)

    async with raw_server(slow) as url:
        client = Client(limits=Limits(max_connections=1))
        tasks = [asyncio.ensure_future(client.get(url)) for _ in range(3)]
        await asyncio.wait_for(arrived.wait(), 10)
        await until(lambda: pool_of(client).waiting_count == 2, what="two queued requests")
        await client.aclose()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert all(isinstance(r, Exception) for r in results)
        assert sum(isinstance(r, RuntimeError) for r in results) >= 1


async def test_write_on_closed_connection_and_caches() -> None:
    async with raw_server(keepalive) as url, Client() as client:
        transport: HTTPTransport = client.transport  # type: ignore[assignment]
        pool = pool_of(client)
        origin = transport._origin(Request("GET", url))
        conn = await pool.acquire(origin, DEFAULT_TIMEOUT)
        conn.close()
        conn.abort()
        conn.start(False)
        with pytest.raises(WriteError, match="closed"):
            conn.write(b"GET / HTTP/1.1\r\n\r\n")
        for port in range(1030):
            transport._origin(Request("GET", f"http://127.0.0.1:{port + 1}/"))
        assert len(transport._origins) < 1030
    async with Client() as client:
        with pytest.raises(ConnectError):
            await client.get("http://bücher.invalid/")


async def test_lazy_read_timer_firing_while_idle_keeps_the_connection() -> None:
    async with raw_server(keepalive) as url, Client(timeout=Timeout(5.0, read=0.05)) as client:
        assert (await client.get(url)).text == "ok"
        await asyncio.sleep(0.15)  # the read timer fires with no read pending
        assert pool_of(client).idle_count == 1
        assert (await client.get(url)).text == "ok"
        assert pool_of(client).connection_count == 1
