"""Cache: values on every store backend, and get_or_set's stampede protection within a
process (tasks) and across processes."""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.stores.conftest import backends, drop_store, make_store, run_workers, store_url
from vivace.cache import Cache
from vivace.stores import MemoryStore, Store


@dataclass
class Point:
    x: int
    y: int


async def test_values_round_trip(store: Store) -> None:
    cache = Cache(store, default_ttl=60)
    values: dict[str, Any] = {
        "int": 42,
        "negative": -7,
        "bytes": b"\x00\xff",
        "text": "café",
        "none": None,
        "bool": True,
        "float": 1.5,
        "list": [1, "a", None],
        "dict": {"nested": {"k": [1]}},
    }
    for key, value in values.items():
        await cache.set(key, value)
    for key, value in values.items():
        got = await cache.get(key, default="MISSING")
        assert got == value and type(got) is type(value), key
    await cache.set("point", Point(1, 2))
    assert await cache.get("point") == {"x": 1, "y": 2}
    assert await cache.get("absent") is None
    assert await cache.get("absent", default=0) == 0
    assert await cache.get_many(["int", "absent", "text"]) == {"int": 42, "text": "café"}
    remaining = await cache.store.ttl("int")
    assert remaining is not None and remaining <= 60


async def test_operations(store: Store) -> None:
    cache = Cache(store, default_ttl=None)
    assert await cache.add("k", 1) is True
    assert await cache.add("k", 2) is False
    assert await cache.incr("k") == 2 and await cache.get("k") == 2
    assert await cache.incr("fresh", 5, ttl=30) == 5
    remaining = await cache.store.ttl("fresh")
    assert remaining is not None and remaining <= 30
    assert await cache.store.ttl("k") == math.inf  # default_ttl None: forever
    assert await cache.touch("k", 10) is True
    assert await cache.touch("missing", 10) is False
    remaining = await cache.store.ttl("k")
    assert remaining is not None and remaining <= 10
    await cache.set("a", "x")
    await cache.set("b", "y")
    assert await cache.delete("a") is True and await cache.delete("a") is False
    assert await cache.delete_many(["b", "k", "nope"]) == 2
    await cache.set("word", "text")
    with pytest.raises(ValueError, match="integer"):
        await cache.incr("word")
    # A value written by something else reads as missing, never as garbage.
    await cache.store.set("foreign", b"not an encoding")
    assert await cache.get("foreign", default="MISSING") == "MISSING"
    assert await cache.get_many(["foreign"]) == {}
    await cache.store.set("badjson", b"j{")
    assert await cache.get("badjson", default="MISSING") == "MISSING"
    assert await cache.clear() >= 2
    assert [k async for k in store.scan()] == []


async def test_get_or_set_computes_once_for_concurrent_tasks() -> None:
    cache = Cache(MemoryStore())
    calls = 0
    gate = asyncio.Event()

    async def factory() -> dict[str, int]:
        nonlocal calls
        calls += 1
        await gate.wait()
        return {"n": calls}

    tasks = [asyncio.ensure_future(cache.get_or_set("k", factory, ttl=60)) for _ in range(20)]
    await asyncio.sleep(0.01)
    gate.set()
    assert await asyncio.gather(*tasks) == [{"n": 1}] * 20
    assert calls == 1
    assert await cache.get_or_set("k", factory) == {"n": 1}  # cached now
    assert calls == 1


async def test_get_or_set_failures_and_cancellation() -> None:
    cache = Cache(MemoryStore())
    gate = asyncio.Event()

    async def failing() -> int:
        await gate.wait()
        raise RuntimeError("backend down")

    tasks = [asyncio.ensure_future(cache.get_or_set("k", failing)) for _ in range(3)]
    await asyncio.sleep(0.01)
    gate.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)
    assert await cache.store.get("lock:k") is None  # the lock was released

    async def ok() -> int:
        return 7

    assert await cache.get_or_set("k", ok) == 7  # the next call computes again

    slow_started = asyncio.Event()

    async def slow() -> int:
        slow_started.set()
        await asyncio.sleep(3600)
        return 0

    leader = asyncio.ensure_future(cache.get_or_set("c", slow))
    await slow_started.wait()
    follower = asyncio.ensure_future(cache.get_or_set("c", ok))
    await asyncio.sleep(0.01)
    leader.cancel()
    assert await asyncio.wait_for(follower, 5) == 7  # it took over
    with pytest.raises(asyncio.CancelledError):
        await leader


async def test_a_dead_lock_holder_is_taken_over() -> None:
    cache = Cache(MemoryStore(), lock_timeout=0.2)
    # Another process took the lock and died: it expires, then a waiter computes.
    await cache.store.set("lock:k", b"someone else", ttl=0.2)

    async def factory() -> str:
        return "computed"

    assert await asyncio.wait_for(cache.get_or_set("k", factory), 5) == "computed"
    # A holder that never lets go (no expiry): the waiter gives up waiting at the deadline.
    await cache.store.set("lock:stuck", b"forever")
    assert await asyncio.wait_for(cache.get_or_set("stuck", factory), 5) == "computed"


WORKER = """
import asyncio, sys
from vivace.cache import Cache
from vivace.db import Database
from vivace.stores import DatabaseStore, RedisStore

async def main(backend, url, name):
    if backend == "redis":
        store = RedisStore(url, prefix=name)
    else:
        store = DatabaseStore(Database(url, max_size=4), table=name, create=False)
    async with store:
        cache = Cache(store)
        print("ready", flush=True)
        sys.stdin.readline()

        async def factory():
            await store.incr("factory-calls")
            await asyncio.sleep(0.3)  # long enough for every process to miss
            return "value"

        values = await asyncio.gather(*(cache.get_or_set("hot", factory) for _ in range(5)))
        print(",".join(values), flush=True)

asyncio.run(main(*sys.argv[1:]))
"""


# Redis and one database: the stampede logic is the same on every store; its atomic
# primitives are tested across processes on every backend in tests/stores.
@pytest.mark.slow
@pytest.mark.parametrize("backend", backends("redis", "postgresql"))
async def test_one_computation_across_processes(backend: str, tmp_path: Path) -> None:
    store, name = await make_store(backend, tmp_path)
    try:
        url = store_url(backend, tmp_path)
        args = ["-c", WORKER, backend, url, name]
        outputs = await asyncio.get_running_loop().run_in_executor(None, run_workers, args)
        assert outputs == [",".join(["value"] * 5)] * 3
        assert await store.get("factory-calls") == b"1"  # 15 callers in 3 processes: one run
    finally:
        await drop_store(store, backend, name)


async def test_two_processes_sharing_a_store() -> None:
    # Two Cache objects on one store stand for two processes: no shared futures.
    store = MemoryStore()
    one, two = Cache(store), Cache(store)
    started = asyncio.Event()
    gate = asyncio.Event()

    async def slow() -> str:
        started.set()
        await gate.wait()
        return "from one"

    async def never() -> str:
        raise AssertionError("the second process must wait for the first")

    leader = asyncio.ensure_future(one.get_or_set("k", slow))
    await started.wait()
    follower = asyncio.ensure_future(two.get_or_set("k", never))
    await asyncio.sleep(0.02)
    gate.set()
    assert await asyncio.wait_for(asyncio.gather(leader, follower), 5) == ["from one"] * 2

    # The first one fails: the lock goes, the second takes it and computes.
    gate.clear()
    started.clear()

    async def failing() -> str:
        started.set()
        await gate.wait()
        raise RuntimeError("down")

    async def fallback() -> str:
        return "from two"

    leader = asyncio.ensure_future(one.get_or_set("f", failing))
    await started.wait()
    follower = asyncio.ensure_future(two.get_or_set("f", fallback))
    await asyncio.sleep(0.02)
    gate.set()
    with pytest.raises(RuntimeError, match="down"):
        await leader
    assert await asyncio.wait_for(follower, 5) == "from two"


async def test_single_flight_lookup_after_the_lock_and_waiter_cancellation() -> None:
    cache = Cache(MemoryStore())

    async def found() -> Any:
        return "already there"

    async def compute() -> str:
        raise AssertionError("not needed")

    assert await cache.single_flight("k", found, compute) == "already there"

    gate = asyncio.Event()

    async def missing() -> Any:
        return Cache.MISSING

    async def slow() -> str:
        await gate.wait()
        return "done"

    leader = asyncio.ensure_future(cache.single_flight("x", missing, slow))
    await asyncio.sleep(0.01)
    waiter = asyncio.ensure_future(cache.single_flight("x", missing, slow))
    await asyncio.sleep(0.01)
    waiter.cancel()  # the waiter goes; the leader goes on
    with pytest.raises(asyncio.CancelledError):
        await waiter
    gate.set()
    assert await leader == "done"
