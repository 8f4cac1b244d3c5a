"""The Redis broadcast backend survives a lost connection: it reconnects with backoff and
resubscribes every wanted channel by itself; subscribers just keep iterating; publishing
while Redis is unreachable raises a clear ``BroadcastError``.

Two ways to lose Redis without disturbing anyone else on the shared server: ``CLIENT KILL``
of this test's own connections (found by a client name unique to the test), and a TCP
proxy the test controls, which can cut every connection and refuse new ones for as long
as the test wants (Redis "down").
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from vivace.web import Broadcast, BroadcastError
from vivace.web._broadcast_redis import RedisBackend
from vivace.web._broadcast_streams import StreamsBackend

from ..waiting import until
from .conftest import drop_redis_keys
from .test_broadcast import REDIS_URL, get, numsub

pytestmark = pytest.mark.redis


def backend_of(broadcast: Broadcast) -> RedisBackend:
    backend = broadcast.backend
    assert isinstance(backend, RedisBackend)
    return backend


class Proxy:
    """A TCP proxy to Redis that can go "down": cut every connection, refuse new ones."""

    def __init__(self) -> None:
        target = urlsplit(REDIS_URL)
        self.target = (target.hostname or "127.0.0.1", target.port or 6379)
        self.db = target.path or "/0"
        self.down = False
        self.accepted = 0
        self.refused = 0
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> Proxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        self.cut()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)
        await self._server.wait_closed()

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"redis://127.0.0.1:{port}{self.db}"

    def cut(self) -> None:
        self.down = True
        for writer in list(self._writers):
            writer.transport.abort()

    def restore(self) -> None:
        self.down = False

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.down:
            self.refused += 1
            writer.transport.abort()
            return
        self.accepted += 1
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self._writers.update((writer, up_writer))
        pipes = [
            asyncio.ensure_future(self._pipe(reader, up_writer)),
            asyncio.ensure_future(self._pipe(up_reader, writer)),
        ]
        self._tasks.update(pipes)
        try:
            await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in (writer, up_writer):
                self._writers.discard(w)
                w.transport.abort()
            for pipe in pipes:
                pipe.cancel()
                self._tasks.discard(pipe)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass


@pytest.fixture
async def proxy() -> AsyncIterator[Proxy]:
    async with Proxy() as running:
        yield running


def fast_backend(url: str, channel_prefix: str) -> RedisBackend:
    return RedisBackend(url, prefix=channel_prefix, reconnect_initial=0.02, reconnect_max=0.2)


async def test_reconnects_and_resubscribes_after_client_kill(
    prefix: str,
    redis_admin: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="vivace.web.broadcast")
    name = "vivace-test-" + uuid.uuid4().hex
    backend = fast_backend(f"{REDIS_URL}?client_name={name}", prefix)
    async with (
        Broadcast(backend=backend) as broadcast,
        Broadcast(REDIS_URL, prefix=prefix) as other_worker,
        broadcast.subscribe("room") as room,
        broadcast.subscribe("room", "news") as both,
    ):
        await other_worker.publish("room", "before")
        assert (await get(room)).message == "before"
        assert (await get(both)).message == "before"

        ours = [c["id"] for c in await redis_admin.client_list() if c.get("name") == name]
        assert len(ours) >= 2  # the pub/sub connection and the publisher
        for client_id in ours:
            await redis_admin.client_kill_filter(_id=client_id)
        await until(lambda: backend.reconnects == 1)
        assert backend.is_up

        # Nobody resubscribed by hand: the same subscribers get what comes next,
        # published by another worker and by this one (on a new connection).
        await other_worker.publish("room", "after")
        await other_worker.publish("news", "headline")
        await broadcast.publish("room", "from here")
        assert [(await get(room)).message for _ in range(2)] == ["after", "from here"]
        got = [(e.channel, e.message) for e in [await get(both) for _ in range(3)]]
        assert got == [("room", "after"), ("news", "headline"), ("room", "from here")]
        # One subscription per channel on the server: nothing doubled.
        assert await numsub(redis_admin, prefix + "room") == 1
        assert await numsub(redis_admin, prefix + "news") == 1
    messages = [r.getMessage() for r in caplog.records]
    assert any("connection failed" in m for m in messages)
    assert any("reconnected after" in m and "2 channel(s)" in m for m in messages)


async def test_outage_publish_raises_subscriptions_wait_and_recover(
    prefix: str,
    redis_admin: Any,
    proxy: Proxy,
) -> None:
    backend = fast_backend(proxy.url, prefix)
    async with (
        Broadcast(backend=backend) as broadcast,
        Broadcast(REDIS_URL, prefix=prefix) as direct,
        broadcast.subscribe("room") as room,
        broadcast.subscribe("leaving") as leaving,
    ):
        await direct.publish("room", "before")
        assert (await get(room)).message == "before"

        proxy.cut()  # Redis is now unreachable for this broadcast
        await until(lambda: not backend.is_up)
        with pytest.raises(BroadcastError, match=r"'room'.*is down \(reconnecting for"):
            await broadcast.publish("room", "lost")
        # Subscribing during the outage works; it takes effect on reconnection.
        async with broadcast.subscribe("joined") as joined:
            await broadcast._leave("leaving", leaving)  # the last subscriber leaves
            await until(lambda: proxy.refused >= 3)  # it keeps trying, with backoff
            getter = asyncio.ensure_future(room.get())
            await asyncio.sleep(0.05)
            assert not getter.done()  # the subscriber waits through the outage

            proxy.restore()
            await until(lambda: backend.reconnects == 1)
            await until(lambda: backend.is_up)
            await direct.publish("room", "after")
            assert (await asyncio.wait_for(getter, 5)).message == "after"
            await direct.publish("joined", "welcome")
            assert (await get(joined)).message == "welcome"
            await broadcast.publish("room", "publishing works again")
            assert (await get(room)).message == "publishing works again"
            assert await numsub(redis_admin, prefix + "joined") == 1
            assert await numsub(redis_admin, prefix + "leaving") == 0  # not resubscribed


async def test_backoff_bounds_the_attempts(prefix: str, proxy: Proxy) -> None:
    backend = RedisBackend(proxy.url, prefix=prefix, reconnect_initial=0.05, reconnect_max=0.2)
    async with Broadcast(backend=backend) as broadcast, broadcast.subscribe("room"):
        proxy.cut()
        await until(lambda: not backend.is_up)
        start = proxy.refused
        await asyncio.sleep(1.0)
        attempts = proxy.refused - start
        # Delays 0.05, 0.1, 0.2, 0.2... with jitter (x0.5-1): at least 4, at most ~40 in
        # one second; a reconnect loop without backoff would make thousands.
        assert 4 <= attempts <= 40
        proxy.restore()
        await until(lambda: backend.is_up)


async def test_disconnect_while_reconnecting(prefix: str, proxy: Proxy) -> None:
    backend = fast_backend(proxy.url, prefix)
    broadcast = Broadcast(backend=backend)
    await broadcast.connect()
    async with broadcast.subscribe("room") as room:
        proxy.cut()
        await until(lambda: not backend.is_up)
        await broadcast.disconnect()  # cancels the reconnection loop at once
        with pytest.raises(BroadcastError, match="disconnected"):
            await get(room)
    assert backend._reader.task is None and not backend.is_up


@pytest.mark.parametrize("kind", ["pubsub", "streams"])
async def test_disconnect_ends_the_reader_without_cancelling_it(
    prefix: str, proxy: Proxy, kind: str
) -> None:
    # Both backends stop their reader one way: the flag, then its connection closed
    # under the blocked read (a cancellation inside redis-py's read is not reliably
    # propagated). With Redis unreachable for new connections, it still returns at once.
    backend: RedisBackend | StreamsBackend = (
        fast_backend(proxy.url, prefix)
        if kind == "pubsub"
        else StreamsBackend(proxy.url, prefix=prefix, block=30.0, reconnect_initial=0.02)
    )
    broadcast = Broadcast(backend=backend)
    await broadcast.connect()
    try:
        async with broadcast.subscribe("room"):
            task = backend._reader.task
            assert task is not None
            await broadcast.publish("room", "in")  # the reader is reading now
            proxy.down = True  # refuse new connections; the open ones keep working
            loop = asyncio.get_running_loop()
            started = loop.time()
            await broadcast.disconnect()
            assert loop.time() - started < 5.0  # not the 30 s XREAD block, nor a hang
            assert task.done() and not task.cancelled()
            assert backend._reader.task is None and not backend.is_up
    finally:
        proxy.restore()
        await drop_redis_keys(prefix)


async def test_idle_reader_notices_a_dead_connection_on_subscribe(
    prefix: str,
    redis_admin: Any,
) -> None:
    # With nothing subscribed the reader does not read; a connection killed then is
    # found dead by the next subscribe, which still succeeds once the reader reconnects.
    name = "vivace-test-" + uuid.uuid4().hex
    backend = fast_backend(f"{REDIS_URL}?client_name={name}", prefix)
    async with (
        Broadcast(backend=backend) as broadcast,
        Broadcast(REDIS_URL, prefix=prefix) as other,
    ):
        async with broadcast.subscribe("warmup"):
            pass  # opens the pub/sub connection
        await until(lambda: not backend._channels)
        for client in await redis_admin.client_list():
            if client.get("name") == name:
                await redis_admin.client_kill_filter(_id=client["id"])
        async with broadcast.subscribe("room") as room:
            await until(lambda: backend.is_up and backend.reconnects == 1)
            await other.publish("room", "made it")
            assert (await get(room)).message == "made it"


async def test_subscribe_on_a_dead_idle_connection_while_redis_is_down(
    prefix: str, redis_admin: Any, proxy: Proxy
) -> None:
    # The reader is idle (nothing subscribed), so nobody has noticed the cut yet: the
    # subscribe finds the connection dead and Redis unreachable, still succeeds, and the
    # subscription is made when Redis is back.
    backend = fast_backend(proxy.url, prefix)
    async with (
        Broadcast(backend=backend) as broadcast,
        Broadcast(REDIS_URL, prefix=prefix) as other,
    ):
        async with broadcast.subscribe("warmup"):
            pass
        await until(lambda: not backend._pubsub.subscribed)
        proxy.cut()
        async with broadcast.subscribe("room") as room:
            await until(lambda: not backend.is_up)
            proxy.restore()
            await until(lambda: backend.is_up and backend.reconnects == 1)
            await other.publish("room", "made it")
            assert (await get(room)).message == "made it"
            assert await numsub(redis_admin, prefix + "room") == 1


async def test_password_is_not_in_errors() -> None:
    broadcast = Broadcast("redis://user:hunter2@127.0.0.1:1/0")
    with pytest.raises(BroadcastError) as info:
        await broadcast.connect()
    assert "hunter2" not in str(info.value) and "user:***@127.0.0.1:1" in str(info.value)


def test_reconnect_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="reconnect_initial"):
        RedisBackend(REDIS_URL, reconnect_initial=0)
    with pytest.raises(ValueError, match="reconnect_initial"):
        RedisBackend(REDIS_URL, reconnect_initial=2, reconnect_max=1)
