"""``RedisStore(near_cache=...)``: reads answered in-process, never staler than Redis says.

Every store test also runs on a near-cached RedisStore (``redis-near`` in conftest), as do
the cross-process atomicity tests. Here: hits stay local; a write by another client, or
another process, reaches the near cache through Redis's invalidation messages; expiry
follows the server's TTL; a lost or silent connection flushes everything; a value
changed while its read was in flight is not kept; the byte budget holds.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio
import redis.exceptions

from tests.conftest import REDIS_URL
from vivace.stores import RedisStore, StoreUnavailable
from vivace.stores._near import NearCache

pytestmark = pytest.mark.redis


@pytest.fixture
async def near() -> AsyncIterator[tuple[RedisStore, Any, str]]:
    """A near-cached store, a plain client (another writer) and the store's prefix."""
    prefix = f"vivace-test-near-{uuid.uuid4().hex}:"
    store = RedisStore(REDIS_URL, prefix=prefix, near_cache=1 << 16)
    other = redis.asyncio.Redis.from_url(REDIS_URL)
    await store.open()
    try:
        yield store, other, prefix
    finally:
        keys = [key async for key in other.scan_iter(match=prefix + "*")]
        if keys:
            await other.delete(*keys)
        await store.close()
        await other.aclose()


def layer(store: RedisStore) -> NearCache:
    assert store._near is not None
    return store._near


async def tracking_up(store: RedisStore) -> NearCache:
    """The store's near cache with tracking set up, and ``k`` = ``1`` in Redis."""
    await store.set("k", b"1", ttl=60)
    assert await store.get("other") is None  # a near miss: tracking is set up
    assert layer(store).up
    return layer(store)


async def until(check: Any, what: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)


async def test_hits_are_local(near: tuple[RedisStore, Any, str]) -> None:
    store, _, _ = near
    await store.set("page", b"cached", ttl=60)
    assert await store.get_many(["page", "absent"]) == [b"cached", None]  # miss: kept
    hits = layer(store).hits
    for _ in range(50):
        assert await store.get_many(["page", "absent"]) == [b"cached", None]
        assert await store.get("page") == b"cached"
    assert layer(store).hits == hits + 100
    # Writes through the store itself are seen at once.
    await store.set("page", b"new", ttl=60)
    assert await store.get("page") == b"new"
    await store.delete("page")
    assert await store.get("page") is None
    assert await store.incr("n") == 1 and await store.get("n") == b"1"
    assert await store.add("n", b"x") is False and await store.get("n") == b"1"
    assert await store.expire("n", 0.05) and await store.get("n") == b"1"
    await until(lambda: _is(store, "n", None), "the expiry")


async def _is(store: RedisStore, key: str, value: bytes | None) -> bool:
    return await store.get(key) == value


async def test_another_writer_invalidates(near: tuple[RedisStore, Any, str]) -> None:
    store, other, prefix = near
    await store.set("k", b"1", ttl=60)
    assert await store.get("k") == b"1" and await store.get("k") == b"1"
    for value in (b"2", b"3"):
        await other.set(prefix + "k", value)
        await until(lambda value=value: _is(store, "k", value), "the invalidation")
        # Once seen, the new value stays: the old one never comes back.
        for _ in range(20):
            assert await store.get("k") == value
    # An absent key that another client creates, and one it deletes.
    assert await store.get("later") is None and await store.get("later") is None
    await other.set(prefix + "later", b"here")
    await until(lambda: _is(store, "later", b"here"), "a created key")
    await other.delete(prefix + "k")
    await until(lambda: _is(store, "k", None), "a deleted key")


WRITER = """
import asyncio, sys
from vivace.stores import RedisStore

async def main(url, prefix):
    async with RedisStore(url, prefix=prefix, near_cache=1 << 16) as store:
        assert await store.get("shared") == b"before"
        await store.set("shared", b"after", ttl=60)

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


async def test_a_write_in_another_process(near: tuple[RedisStore, Any, str]) -> None:
    store, _, prefix = near
    await store.set("shared", b"before", ttl=60)
    assert await store.get("shared") == b"before" and await store.get("shared") == b"before"
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", WRITER, REDIS_URL, prefix],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    await until(lambda: _is(store, "shared", b"after"), "the other process's write")


async def test_local_entries_expire_with_the_server(near: tuple[RedisStore, Any, str]) -> None:
    store, _, _ = near
    await store.set("short", b"v", ttl=0.2)
    assert await store.get("short") == b"v" and await store.get("short") == b"v"
    await asyncio.sleep(0.25)
    assert await store.get("short") is None


@pytest.mark.parametrize("side", [0, 1], ids=["listener", "reader"])
async def test_a_lost_connection_flushes_everything(
    near: tuple[RedisStore, Any, str], side: int
) -> None:
    store, other, prefix = near
    await store.set("k", b"1", ttl=60)
    assert await store.get("k") == b"1" and await store.get("k") == b"1"
    ids = layer(store).connection_ids
    assert ids is not None
    await other.execute_command("CLIENT", "KILL", "ID", ids[side])
    await until(lambda: _down(store), "the layer to notice")
    assert layer(store)._entries == {}
    # Written while nobody listens: read from the server, tracking set up anew.
    await other.set(prefix + "k", b"2")
    assert await store.get("k") == b"2"
    assert layer(store).up and layer(store).connection_ids != ids
    await other.set(prefix + "k", b"3")
    await until(lambda: _is(store, "k", b"3"), "invalidations on the new connections")


async def _down(store: RedisStore) -> bool:
    return not layer(store).up


async def test_nothing_is_served_once_the_heartbeat_is_late(
    near: tuple[RedisStore, Any, str],
) -> None:
    store, _, _ = near
    await store.set("k", b"1", ttl=60)
    assert await store.get("k") == b"1"
    near_cache, key = layer(store), store.prefix + "k"
    assert near_cache.get_many([key]) == [b"1"]
    # A connection that died silently stops answering PINGs: past the bound, every
    # read goes to Redis until the heartbeat is answered again.
    near_cache._listener_ok = time.monotonic() - 0.001
    assert near_cache.get_many([key]) is None
    await until(lambda: _served_locally(near_cache, key), "the next heartbeat")


async def _served_locally(near_cache: NearCache, key: str) -> bool:
    return near_cache.get_many([key]) == [b"1"]


async def test_a_value_changed_during_its_read_is_not_kept(
    near: tuple[RedisStore, Any, str],
) -> None:
    store, _, _ = near
    near_cache = await tracking_up(store)
    reader = near_cache._reader
    real = reader.read_response
    calls = 0

    async def read_response(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:  # the invalidation lands between the request and its reply
            near_cache.drop([store.prefix + "k"])
        return await real(*args, **kwargs)

    reader.read_response = read_response
    try:
        assert await store.get("k") == b"1"
    finally:
        reader.read_response = real
    assert store.prefix + "k" not in near_cache._entries
    # A flush during a read: nothing of it is kept either.
    reader.read_response = _flushing(near_cache, real)
    try:
        assert await store.get_many(["k", "other"]) == [b"1", None]
    finally:
        reader.read_response = real
    assert near_cache._entries == {}


def _flushing(near_cache: NearCache, real: Any) -> Any:
    async def read_response(*args: Any, **kwargs: Any) -> Any:
        near_cache.flush()
        return await real(*args, **kwargs)

    return read_response


async def test_the_byte_budget(near: tuple[RedisStore, Any, str]) -> None:
    store, _, _ = near
    near_cache = layer(store)
    big = b"x" * (near_cache.max_bytes + 1)
    await store.set("big", big, ttl=60)
    assert await store.get("big") == big
    assert store.prefix + "big" not in near_cache._entries  # larger than the budget
    value = b"v" * 10_000
    for i in range(20):
        await store.set(f"k{i}", value, ttl=60)
        assert await store.get(f"k{i}") == value
        assert near_cache.size <= near_cache.max_bytes
    kept = list(near_cache._entries)
    assert store.prefix + "k19" in kept and store.prefix + "k0" not in kept  # oldest out
    await store.set("k19", b"short", ttl=60)  # replacing an entry frees its bytes
    assert await store.get("k19") == b"short"
    assert near_cache.size <= near_cache.max_bytes
    with pytest.raises(ValueError, match="bytes"):
        NearCache(store.client, -1)


async def test_an_unreachable_server() -> None:
    store = RedisStore("redis://127.0.0.1:1/0", near_cache=1024, socket_connect_timeout=1)
    try:
        with pytest.raises(StoreUnavailable):
            await store.get("k")
        assert not layer(store).up
        # No new attempt to set tracking up on every read: a pause first.
        retry_at = layer(store)._retry_at
        assert retry_at > time.monotonic()
        with pytest.raises(StoreUnavailable):
            await store.get_many(["k", "j"])
        assert layer(store)._retry_at == retry_at
    finally:
        await store.close()


async def test_a_read_failing_on_the_tracking_connection_goes_to_the_pool(
    near: tuple[RedisStore, Any, str],
) -> None:
    store, _, _ = near
    near_cache = await tracking_up(store)

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise redis.exceptions.ConnectionError("connection reset")

    near_cache._reader.read_response = broken
    assert await store.get("k") == b"1"  # answered through the pool, not an error
    assert not near_cache.up and near_cache._entries == {}
    assert await store.get("k") == b"1" and near_cache.up  # set up again


async def test_a_cancelled_read_takes_tracking_down(near: tuple[RedisStore, Any, str]) -> None:
    store, _, _ = near
    near_cache = await tracking_up(store)
    started = asyncio.Event()

    async def stuck(*args: Any, **kwargs: Any) -> Any:
        started.set()
        await asyncio.sleep(60)

    near_cache._reader.read_response = stuck
    task = asyncio.create_task(store.get("k"))
    await asyncio.wait_for(started.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not near_cache.up
