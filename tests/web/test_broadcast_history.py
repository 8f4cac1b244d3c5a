"""Broadcast backends with history: Redis Streams and PostgreSQL LISTEN/NOTIFY.

Each test runs on both, with names of its own (a Redis prefix, a PostgreSQL table and
channel prefix) removed afterwards. Two ``Broadcast`` objects stand for two processes.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from tests.conftest import REDIS_URL
from tests.db.conftest import DEFAULT_URLS, unique_name
from tests.web.conftest import drop_redis_keys
from vivace.db import Database
from vivace.web import Broadcast, BroadcastError, BroadcastEvent, ReplayBackend
from vivace.web._broadcast_postgres import PostgresBackend
from vivace.web._broadcast_streams import StreamsBackend

PG_URL = DEFAULT_URLS["postgresql"]
Factory = Callable[..., Broadcast]


async def get(subscriber: Any, timeout: float = 5.0) -> BroadcastEvent:
    return await asyncio.wait_for(subscriber.get(), timeout)  # type: ignore[no-any-return]


@pytest.fixture(params=[pytest.param("streams", marks=pytest.mark.redis), "postgres"])
async def make(request: pytest.FixtureRequest) -> AsyncIterator[Factory]:
    """``make(**options)``: a new (not yet connected) Broadcast on the test's own names."""
    prefix = f"vivace-test-{uuid.uuid4().hex}:"
    table = unique_name("vbcast")
    kind = request.param

    def factory(**options: Any) -> Broadcast:
        if kind == "streams":
            backend: Any = StreamsBackend(REDIS_URL, prefix=prefix, **options)
        else:
            backend = PostgresBackend(PG_URL, prefix=prefix, table=table, **options)
        return Broadcast(backend=backend)

    yield factory
    if kind == "streams":
        await drop_redis_keys(prefix)
    else:
        async with Database(PG_URL) as db:
            await db.execute(f"DROP TABLE IF EXISTS {table}")


async def test_ids_and_delivery_across_instances(make: Factory) -> None:
    async with make() as one, make() as two:
        assert isinstance(one.backend, ReplayBackend)
        async with one.subscribe("room") as a, two.subscribe("room", "other") as b:
            first = await one.publish("room", "from one")
            second = await two.publish("other", "caf\u00e9 \U0001f600")
            assert first is not None and second is not None
            assert await get(a) == BroadcastEvent("room", "from one", first)
            assert await get(b) == BroadcastEvent("room", "from one", first)
            assert await get(b) == BroadcastEvent("other", "caf\u00e9 \U0001f600", second)
            key = one.backend.event_key  # type: ignore[attr-defined]
            assert key(second) >= key(first)


async def test_replay_after_last_event_id(make: Factory) -> None:
    async with make() as broadcast:
        ids = [await broadcast.publish("news", f"n{i}") for i in range(5)]
        assert all(ids)
        async with broadcast.subscribe("news", last_event_id=ids[1]) as subscriber:
            live = await broadcast.publish("news", "live")
            got = [await get(subscriber) for _ in range(4)]
        assert [e.message for e in got] == ["n2", "n3", "n4", "live"]
        assert [e.id for e in got] == [*ids[2:], live]
        # The latest id replays nothing; ids that are not ours replay nothing either.
        for last in (live, "garbage", "", "12-x", "9" * 30, "-1"):
            async with broadcast.subscribe("news", last_event_id=last) as subscriber:
                await broadcast.publish("news", "next")
                assert (await get(subscriber)).message == "next"


async def test_live_events_during_the_replay_come_after_it_once(make: Factory) -> None:
    async with make() as publisher, make() as listener:
        first = await publisher.publish("c", "old")
        assert first is not None
        backend = listener.backend
        real = backend.history  # type: ignore[attr-defined]

        async def slow_history(channel: str, after: str) -> list[tuple[str, str]]:
            # A message published while the history is being read: it is both in the
            # table/stream and delivered live.
            await publisher.publish("c", "during")
            await asyncio.sleep(0.2)
            return await real(channel, after)  # type: ignore[no-any-return]

        backend.history = slow_history  # type: ignore[attr-defined]
        async with listener.subscribe("c", last_event_id=first) as subscriber:
            await publisher.publish("c", "after")
            got = [(await get(subscriber)).message for _ in range(2)]
            assert got == ["during", "after"]
            with pytest.raises(asyncio.TimeoutError):
                await get(subscriber, timeout=0.3)  # "during" was not delivered twice


async def test_replay_is_bounded(make: Factory) -> None:
    async with make(max_replay=3) as broadcast:
        first = await broadcast.publish("c", "0")
        assert first is not None
        for i in range(1, 8):
            await broadcast.publish("c", str(i))
        async with broadcast.subscribe("c", last_event_id=first) as subscriber:
            assert [(await get(subscriber)).message for _ in range(3)] == ["5", "6", "7"]


async def test_multi_channel_replay_is_in_id_order(make: Factory) -> None:
    async with make() as broadcast:
        start = await broadcast.publish("a", "start")
        assert start is not None
        for message in ("a1", "b1", "a2", "b2"):
            await broadcast.publish(message[0], message)
        async with broadcast.subscribe("a", "b", last_event_id=start) as subscriber:
            got = [await get(subscriber) for _ in range(4)]
        # Each channel in order; across channels in id order (PostgreSQL ids are one
        # sequence: publish order; Redis stream ids are milliseconds: ties keep either).
        assert [e.message for e in got if e.channel == "a"] == ["a1", "a2"]
        assert [e.message for e in got if e.channel == "b"] == ["b1", "b2"]
        keys = [broadcast.backend.event_key(e.id) for e in got]  # type: ignore[attr-defined]
        assert keys == sorted(keys)


async def test_unsubscribed_channels_stop_and_errors(make: Factory) -> None:
    broadcast = make()
    with pytest.raises(BroadcastError):
        await broadcast.backend.subscribe("x")
    async with broadcast:
        async with broadcast.subscribe("x") as subscriber:
            await broadcast.publish("x", "1")
            assert (await get(subscriber)).message == "1"
        async with broadcast.subscribe("y") as subscriber:
            await broadcast.publish("x", "not for y")
            await broadcast.publish("y", "2")
            assert (await get(subscriber)).message == "2"


async def test_postgres_big_messages_and_trimming() -> None:
    table = unique_name("vbcast")
    backend = PostgresBackend(
        PG_URL, prefix=f"t{uuid.uuid4().hex}:", table=table, history=3, trim_every=2
    )
    try:
        async with Broadcast(backend=backend) as broadcast:
            async with broadcast.subscribe("big") as subscriber:
                huge = "é" * 9000  # over NOTIFY's 8000-byte payload
                event_id = await broadcast.publish("big", huge)
                event = await get(subscriber)
                assert event.message == huge and event.id == event_id
                for i in range(6):
                    await broadcast.publish("big", str(i))
                    await get(subscriber)
            count = await backend.database.fetch_val(f"SELECT count(*) FROM {table}")
            assert count <= 4  # trimmed to about `history`
    finally:
        async with Database(PG_URL) as db:
            await db.execute(f"DROP TABLE IF EXISTS {table}")


async def test_postgres_constructor_checks() -> None:
    with pytest.raises(ValueError, match="either"):
        PostgresBackend()
    with pytest.raises(ValueError, match="identifier"):
        PostgresBackend(PG_URL, table="x; DROP")
    with pytest.raises(ValueError, match="PostgreSQL"):
        PostgresBackend("sqlite://")
    with pytest.raises(ValueError, match="at least 1"):
        PostgresBackend(PG_URL, history=0)
    with pytest.raises(ValueError, match="reconnect"):
        PostgresBackend(PG_URL, reconnect_initial=0)
    with pytest.raises(ValueError, match="at least 1"):
        StreamsBackend(REDIS_URL, max_replay=0)
    with pytest.raises(ValueError, match="reconnect"):
        StreamsBackend(REDIS_URL, reconnect_max=0.01)
    unreachable = Broadcast(backend=PostgresBackend("postgresql://postgres@127.0.0.1:1/x"))
    with pytest.raises(BroadcastError, match="cannot connect"):
        await unreachable.connect()
    no_redis = Broadcast("redis+streams://127.0.0.1:1/0")
    with pytest.raises(BroadcastError, match="cannot connect"):
        await no_redis.connect()


def test_urls_choose_the_backends() -> None:
    assert isinstance(Broadcast("redis+streams://127.0.0.1:6379/0").backend, StreamsBackend)
    assert isinstance(Broadcast("rediss+streams://example.com/0").backend, StreamsBackend)
    assert isinstance(Broadcast(PG_URL).backend, PostgresBackend)
    with pytest.raises(ValueError, match="unsupported broadcast URL"):
        Broadcast("kafka://x")


# -- losing the connection ----------------------------------------------------------------


@pytest.mark.redis
async def test_streams_resume_after_a_lost_connection(caplog: pytest.LogCaptureFixture) -> None:
    import redis.asyncio

    caplog.set_level(logging.WARNING, logger="vivace.web.broadcast")
    prefix = f"vivace-test-{uuid.uuid4().hex}:"
    backend = StreamsBackend(REDIS_URL, prefix=prefix, block=0.2)
    admin = redis.asyncio.Redis.from_url(REDIS_URL)
    try:
        async with Broadcast(backend=backend) as broadcast, broadcast.subscribe("c") as sub:
            await broadcast.publish("c", "before")
            assert (await get(sub)).message == "before"
            clients = await admin.client_list()
            reader = next(c for c in clients if c["name"] == backend.reader_name)
            await admin.execute_command("CLIENT", "KILL", "ID", reader["id"])
            await admin.xadd(prefix + "c", {"m": "while down"})  # as another process would
            await broadcast.publish("c", "after")
            assert [(await get(sub)).message for _ in range(2)] == ["while down", "after"]
        assert "reconnected" in caplog.text and backend.reconnects == 1
    finally:
        await admin.aclose()
        await drop_redis_keys(prefix)


async def test_postgres_catches_up_after_a_lost_connection(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="vivace.web.broadcast")
    table = unique_name("vbcast")
    backend = PostgresBackend(PG_URL, prefix=f"t{uuid.uuid4().hex}:", table=table)
    admin = Database(PG_URL)
    await admin.connect()
    try:
        async with Broadcast(backend=backend) as broadcast, broadcast.subscribe("c") as sub:
            await broadcast.publish("c", "before")
            assert (await get(sub)).message == "before"
            pid = backend._raw.get_server_pid()
            await admin.execute("SELECT pg_terminate_backend(:pid)", {"pid": pid})
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 10
            while backend.is_up and backend._raw.get_server_pid() == pid:
                assert loop.time() < deadline, "the listener did not notice"
                await asyncio.sleep(0.01)
            # Published by "another process" while this one is not listening.
            other = PostgresBackend(database=admin, prefix=backend.prefix, table=table)
            await other.publish("c", "while down")
            while backend.reconnects == 0:
                assert loop.time() < deadline, "the listener did not reconnect"
                await asyncio.sleep(0.01)
            await broadcast.publish("c", "after")
            assert [(await get(sub)).message for _ in range(2)] == ["while down", "after"]
        assert "reconnected" in caplog.text
    finally:
        await admin.execute(f"DROP TABLE IF EXISTS {table}")
        await admin.disconnect()


@pytest.mark.redis
async def test_streams_ids_increase_across_channels() -> None:
    # Redis' own ids count per stream: a first event on b in the millisecond of a's last
    # event got a's id, and a replay of a and b "after" it skipped b's event.
    import redis.asyncio

    prefix = f"vivace-test-{uuid.uuid4().hex}:"
    backend = StreamsBackend(REDIS_URL, prefix=prefix)
    admin = redis.asyncio.Redis.from_url(REDIS_URL)
    try:
        async with Broadcast(backend=backend) as broadcast:
            ids = [await broadcast.publish(c, str(i)) for i in range(200) for c in ("a", "b")]
            keys = [backend.event_key(i) for i in ids if i is not None]
            assert len(keys) == 400 and len(set(keys)) == 400
            assert keys == sorted(keys)  # type: ignore[type-var]
            last_ms = keys[-1][0]  # type: ignore[index]
            # A stream already ahead of the prefix's last id (an entry added by hand):
            await admin.xadd(prefix + "a", {"m": "by hand"}, id=f"{last_ms + 10_000}-5")
            after_hand = await broadcast.publish("a", "next")
            assert backend.event_key(after_hand or "") == (last_ms + 10_000, 6)
            after_that = await broadcast.publish("b", "then")
            assert backend.event_key(after_that or "") == (last_ms + 10_000, 7)
            assert [m for _, m in await backend.history("b", ids[-1] or "")] == ["then"]
            with pytest.raises(BroadcastError, match="own keys"):
                await broadcast.publish("~last-id", "x")
            with pytest.raises(BroadcastError, match="own keys"):
                await backend.subscribe("~wake:x")
    finally:
        await admin.aclose()
        await drop_redis_keys(prefix)


@pytest.mark.redis
async def test_streams_errors_and_foreign_entries() -> None:
    import redis.asyncio

    prefix = f"vivace-test-{uuid.uuid4().hex}:"
    backend = StreamsBackend(REDIS_URL, prefix=prefix)
    admin = redis.asyncio.Redis.from_url(REDIS_URL)
    try:
        async with Broadcast(backend=backend) as broadcast, broadcast.subscribe("c") as sub:
            await admin.xadd(prefix + "c", {"other": "field"})  # not a broadcast entry
            await broadcast.publish("c", "ours")
            assert (await get(sub)).message == "ours"
            assert await backend.history("c", "0-0") == [(await backend.history("c", "0-0"))[0]]
            working = backend._client
            backend._client = redis.asyncio.Redis.from_url("redis://127.0.0.1:1/0")
            try:
                with pytest.raises(BroadcastError, match="cannot publish"):
                    await broadcast.publish("c", "x")
                with pytest.raises(BroadcastError, match="cannot subscribe"):
                    await backend.subscribe("d")
                with pytest.raises(BroadcastError, match="history"):
                    await backend.history("c", "0-0")
                await backend._wake()  # a wake-up while down is dropped quietly
            finally:
                await backend._client.aclose()
                backend._client = working
    finally:
        await admin.aclose()
        await drop_redis_keys(prefix)


async def test_postgres_errors() -> None:
    table = unique_name("vbcast")
    backend = PostgresBackend(PG_URL, prefix=f"t{uuid.uuid4().hex}:", table=table)
    try:
        async with Broadcast(backend=backend) as broadcast:
            async with broadcast.subscribe("c") as sub:
                await backend.database.execute(  # a notification that is not ours
                    "SELECT pg_notify(:n, 'not-an-id')", {"n": backend._pg_channel("c")}
                )
                await broadcast.publish("c", "ours")
                assert (await get(sub)).message == "ours"
                assert await backend.history("c", "x") == []
            await backend.database.execute(f"DROP TABLE {table}")
            with pytest.raises(BroadcastError, match="cannot publish"):
                await broadcast.publish("c", "x")
            with pytest.raises(BroadcastError, match="cannot subscribe"):
                await backend.subscribe("c")
            with pytest.raises(BroadcastError, match="history"):
                await backend.history("c", "1")
    finally:
        async with Database(PG_URL) as db:
            await db.execute(f"DROP TABLE IF EXISTS {table}")
