"""The connection pool: reuse, limits (total and per host), waiting with a deadline,
hand-over, keep-alive limits and expiry, eviction across origins."""

from __future__ import annotations

import asyncio

import pytest

from vivace.client import Client, Limits, PoolTimeout, Timeout
from vivace.client._config import DEFAULT_TIMEOUT
from vivace.client._pool import ConnectionPool, Origin

from ..waiting import until
from .servers import raw_server, read_request

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


class KeepAlive:
    """A keep-alive server that can hold responses until released."""

    def __init__(self) -> None:
        self.connections = 0
        self.requests = 0  # request heads received
        self.gate = asyncio.Event()
        self.gate.set()

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        while True:
            head, _ = await read_request(reader)
            if not head:
                return
            self.requests += 1
            await asyncio.wait_for(self.gate.wait(), 10)
            writer.write(OK)
            await writer.drain()


def pool_of(client: Client) -> ConnectionPool:
    return client.transport.pool  # type: ignore[attr-defined,no-any-return]


async def test_reuse_and_total_limit() -> None:
    server = KeepAlive()
    async with raw_server(server) as url, Client(limits=Limits(max_connections=2)) as client:
        results = await asyncio.gather(*[client.get(url) for _ in range(20)])
        assert [r.text for r in results] == ["ok"] * 20
        assert server.connections == 2
        assert pool_of(client).connection_count == 2 and pool_of(client).idle_count == 2


async def test_pool_timeout_and_handover() -> None:
    server = KeepAlive()
    server.gate.clear()
    limits = Limits(max_connections=1)
    async with raw_server(server) as url, Client(limits=limits) as client:
        first = asyncio.ensure_future(client.get(url))
        await until(lambda: server.requests == 1, what="the first request at the server")
        with pytest.raises(PoolTimeout) as info:
            await client.get(url, timeout=Timeout(5.0, pool=0.1))
        assert info.value.request.url == url
        waiting = asyncio.ensure_future(client.get(url))
        await until(lambda: pool_of(client).waiting_count == 1, what="a queued request")
        server.gate.set()
        assert (await first).text == "ok" and (await waiting).text == "ok"
        assert server.connections == 1  # handed over, not reconnected


async def test_per_host_limit_and_eviction() -> None:
    one, two = KeepAlive(), KeepAlive()
    limits = Limits(max_connections=2, max_connections_per_host=1)
    async with raw_server(one) as a, raw_server(two) as b, Client(limits=limits) as client:
        await asyncio.gather(*[client.get(a) for _ in range(5)])
        assert one.connections == 1
        await client.get(b)
        assert pool_of(client).connection_count == 2
    three = KeepAlive()
    limits = Limits(max_connections=1)
    async with raw_server(one) as a, raw_server(three) as c, Client(limits=limits) as client:
        await client.get(a)
        await client.get(c)  # the idle connection to a is closed to make room
        assert pool_of(client).connection_count == 1 and three.connections == 1


async def test_waiter_for_other_origin_wakes_when_a_slot_frees() -> None:
    slow, fast = KeepAlive(), KeepAlive()
    slow.gate.clear()
    limits = Limits(max_connections=1, max_keepalive_connections=0)
    async with raw_server(slow) as a, raw_server(fast) as b, Client(limits=limits) as client:
        first = asyncio.ensure_future(client.get(a))
        await until(lambda: slow.requests == 1, what="the first request at the server")
        second = asyncio.ensure_future(client.get(b))
        await until(lambda: pool_of(client).waiting_count == 1, what="a queued request")
        slow.gate.set()
        assert (await first).text == "ok" and (await second).text == "ok"
        assert pool_of(client).idle_count == 0


async def test_keepalive_expiry_sweeps_idle_connections() -> None:
    server = KeepAlive()
    limits = Limits(keepalive_expiry=0.05)
    async with raw_server(server) as url, Client(limits=limits) as client:
        await client.get(url)
        assert pool_of(client).idle_count == 1
        await until(lambda: pool_of(client).connection_count == 0, what="the idle sweep")
        await client.get(url)
        assert server.connections == 2


async def test_expired_connection_not_reused_on_acquire() -> None:
    server = KeepAlive()
    limits = Limits(keepalive_expiry=None)
    async with raw_server(server) as url, Client(limits=limits) as client:
        await client.get(url)
        await client.get(url)
        assert server.connections == 1
        pool = pool_of(client)
        pool.limits = Limits(keepalive_expiry=0.0)
        await client.get(url)
        assert server.connections == 2


async def test_closed_pool() -> None:
    server = KeepAlive()
    server.gate.clear()
    async with raw_server(server) as url:
        client = Client(limits=Limits(max_connections=1))
        busy = asyncio.ensure_future(client.get(url))
        await until(lambda: server.requests == 1, what="the first request at the server")
        waiting = asyncio.ensure_future(client.get(url))
        await until(lambda: pool_of(client).waiting_count == 1, what="a queued request")
        await client.aclose()
        with pytest.raises(RuntimeError, match="closed"):
            await waiting
        with pytest.raises(Exception):  # noqa: B017,PT011 - the connection was closed under it
            await busy
        pool = ConnectionPool(Limits())
        await pool.aclose()
        with pytest.raises(RuntimeError, match="closed"):
            await pool.acquire(Origin("http", "127.0.0.1", 9, None), DEFAULT_TIMEOUT)
        assert repr(Origin("http", "h", 1, None)) == "http://h:1"


async def test_unlimited_pool() -> None:
    server = KeepAlive()
    limits = Limits(max_connections=None)
    async with raw_server(server) as url, Client(limits=limits) as client:
        await asyncio.gather(*[client.get(url) for _ in range(5)])
        assert 1 <= server.connections <= 5
