"""Broadcast: the in-memory backend, and the Redis backend against the real server on
127.0.0.1:6379 (``VIVACE_REDIS_URL`` overrides; each test uses a channel prefix of its
own, so runs in parallel never see each other's messages)."""

from __future__ import annotations

import asyncio

import pytest

from tests.web.conftest import REDIS_URL
from vivace.web import (
    Broadcast,
    BroadcastError,
    BroadcastEvent,
    MemoryBackend,
    SubscriberLagged,
)


async def get(subscriber: object, timeout: float = 5.0) -> BroadcastEvent:
    return await asyncio.wait_for(subscriber.get(), timeout)  # type: ignore[attr-defined]


# -- memory ------------------------------------------------------------------------------


async def test_memory_publish_subscribe() -> None:
    async with Broadcast("memory://") as broadcast:
        assert broadcast.connected
        async with (
            broadcast.subscribe("a") as one,
            broadcast.subscribe("a", "b") as two,
        ):
            assert broadcast.subscriber_count("a") == 2
            await broadcast.publish("a", "first")
            await broadcast.publish("b", "second")
            await broadcast.publish("nobody", "lost")
            assert await get(one) == BroadcastEvent("a", "first")
            assert [await get(two), await get(two)] == [
                BroadcastEvent("a", "first"),
                BroadcastEvent("b", "second"),
            ]
            assert two.channels == ("a", "b")
        assert broadcast.subscriber_count("a") == 0
    assert not broadcast.connected


async def test_async_iteration_and_event_values() -> None:
    async with Broadcast() as broadcast, broadcast.subscribe("c") as subscriber:
        for i in range(3):
            await broadcast.publish("c", str(i))
        seen = []
        async for event in subscriber:
            seen.append(event.message)
            if len(seen) == 3:
                break
        assert seen == ["0", "1", "2"]
    event = BroadcastEvent("c", "m")
    assert hash(event) == hash(BroadcastEvent("c", "m"))
    assert event != "m"
    assert repr(event) == "BroadcastEvent(channel='c', message='m')"


async def test_lagging_subscriber_is_cut_off_alone() -> None:
    async with (
        Broadcast(max_queue=3) as broadcast,
        broadcast.subscribe("c") as slow,
        broadcast.subscribe("c") as fast,
    ):
        for i in range(4):
            await broadcast.publish("c", str(i))
            assert (await get(fast)).message == str(i)
        with pytest.raises(SubscriberLagged):
            await get(slow)
        await broadcast.publish("c", "after")  # ignored for the cut-off one
        assert (await get(fast)).message == "after"
        with pytest.raises(SubscriberLagged):
            await get(slow)


async def test_disconnect_ends_subscriptions() -> None:
    broadcast = Broadcast()
    await broadcast.connect()
    await broadcast.connect()  # idempotent
    async with broadcast.subscribe("c") as subscriber:
        waiting = asyncio.ensure_future(subscriber.get())
        await asyncio.sleep(0)
        await broadcast.disconnect()
        with pytest.raises(BroadcastError, match="disconnected"):
            await asyncio.wait_for(waiting, 5)
    await broadcast.disconnect()


async def test_misuse() -> None:
    broadcast = Broadcast()
    with pytest.raises(BroadcastError, match="not connected"):
        await broadcast.publish("c", "x")
    with pytest.raises(BroadcastError, match="not connected"):
        async with broadcast.subscribe("c"):
            pass
    async with broadcast:
        with pytest.raises(TypeError):
            await broadcast.publish("c", b"bytes")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="at least one"):
            async with broadcast.subscribe():
                pass
    with pytest.raises(ValueError, match="unsupported"):
        Broadcast("kafka://x")
    with pytest.raises(ValueError, match="max_queue"):
        Broadcast(max_queue=0)
    assert isinstance(Broadcast(backend=MemoryBackend()).backend, MemoryBackend)


# -- redis ---------------------------------------------------------------------------------


async def numsub(admin: object, channel: str) -> int:
    result = await admin.pubsub_numsub(channel)  # type: ignore[attr-defined]
    return int(result[0][1])


@pytest.mark.redis
async def test_redis_between_two_processes_worth_of_broadcasts(
    prefix: str, redis_admin: object
) -> None:
    # Two Broadcast objects with their own connections: what two workers have.
    async with (
        Broadcast(REDIS_URL, prefix=prefix) as one,
        Broadcast(REDIS_URL, prefix=prefix) as two,
    ):
        async with one.subscribe("room") as a, two.subscribe("room", "other") as b:
            await one.publish("room", "from one")
            assert await get(a) == BroadcastEvent("room", "from one")
            assert await get(b) == BroadcastEvent("room", "from one")
            await two.publish("other", "caf\u00e9")
            assert await get(b) == BroadcastEvent("other", "caf\u00e9")
            assert await numsub(redis_admin, prefix + "room") == 2
        # The last local subscriber gone: the process unsubscribes from Redis.
        for _ in range(200):
            if await numsub(redis_admin, prefix + "room") == 0:
                break
            await asyncio.sleep(0.01)
        assert await numsub(redis_admin, prefix + "room") == 0
        # Subscribing again after everything was dropped works.
        async with one.subscribe("room") as again:
            await two.publish("room", "back")
            assert (await get(again)).message == "back"


@pytest.mark.redis
async def test_redis_prefix_isolates_applications(prefix: str, redis_admin: object) -> None:
    async with (
        Broadcast(REDIS_URL, prefix=prefix + "a:") as app_a,
        Broadcast(REDIS_URL, prefix=prefix + "b:") as app_b,
        app_a.subscribe("room") as a,
    ):
        await app_b.publish("room", "not for a")
        await app_a.publish("room", "for a")
        assert (await get(a)).message == "for a"


async def test_redis_unreachable() -> None:
    broadcast = Broadcast("redis://127.0.0.1:1/0")
    with pytest.raises(BroadcastError, match="cannot connect"):
        await broadcast.connect()
    assert not broadcast.connected
