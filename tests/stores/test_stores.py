"""The store API, run identically on every backend (memory, Redis, PostgreSQL, MariaDB,
SQLite): values, expiry, counters, compare-and-set, scans, namespaces, hostile input."""

from __future__ import annotations

import asyncio
import math
import uuid
from pathlib import Path

import pytest

from tests.stores.conftest import drop_store, make_store
from vivace.stores import MAX_KEY_BYTES, MemoryStore, Store, StoreConflict, open_store


async def until_gone(store: Store, key: str, timeout: float = 5.0) -> None:
    """Poll until ``key`` has expired; fail after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while await store.get(key) is not None:
        if loop.time() > deadline:
            pytest.fail(f"{key!r} did not expire within {timeout} s")
        await asyncio.sleep(0.01)


async def test_get_set_delete(store: Store) -> None:
    assert await store.get("missing") is None
    await store.set("a", b"\x00binary\xff")
    assert await store.get("a") == b"\x00binary\xff"
    await store.set("a", b"")  # empty values are values
    assert await store.get("a") == b""
    assert await store.delete("a") is True
    assert await store.delete("a") is False
    await store.set("b", b"2")
    await store.set("c", b"3")
    assert await store.get_many(["b", "nope", "c"]) == [b"2", None, b"3"]
    assert await store.get_many([]) == []
    assert await store.delete_many(["b", "c", "nope"]) == 2
    assert await store.delete_many([]) == 0
    key = "ü€𝄞 key with spaces"  # any Unicode, byte-exact
    await store.set(key, b"u")
    assert await store.get(key) == b"u"
    assert await store.get(key + " ") is None


async def test_keys_are_exact_not_case_or_space_folded(store: Store) -> None:
    await store.set("Key", b"upper")
    await store.set("key", b"lower")
    await store.set("key ", b"space")
    assert await store.get_many(["Key", "key", "key "]) == [b"upper", b"lower", b"space"]


async def test_ttl_and_expiry(store: Store) -> None:
    await store.set("short", b"x", ttl=0.05)
    await store.set("long", b"y", ttl=300)
    await store.set("forever", b"z")
    assert await store.ttl("forever") == math.inf
    remaining = await store.ttl("long")
    assert remaining is not None and 290 < remaining <= 300
    assert await store.ttl("missing") is None
    await until_gone(store, "short")
    assert await store.ttl("short") is None
    assert await store.add("short", b"again")  # an expired key is absent
    await store.set("long", b"y2")  # set without ttl clears the expiry
    assert await store.ttl("long") == math.inf


async def test_expire(store: Store) -> None:
    assert await store.expire("missing", 10) is False
    assert await store.expire("missing", None) is False
    await store.set("k", b"v")
    assert await store.expire("k", 100) is True
    remaining = await store.ttl("k")
    assert remaining is not None and remaining <= 100
    assert await store.expire("k", None) is True
    assert await store.ttl("k") == math.inf
    assert await store.expire("k", 0.05) is True
    await until_gone(store, "k")
    assert await store.expire("k", 10) is False


async def test_incr(store: Store) -> None:
    assert await store.incr("n") == 1
    assert await store.incr("n", 41) == 42
    assert await store.incr("n", -50) == -8
    assert await store.get("n") == b"-8"
    await store.set("text", b"12")
    assert await store.incr("text") == 13  # a value written as digits counts
    await store.set("word", b"twelve")
    with pytest.raises(ValueError, match="integer"):
        await store.incr("word")
    assert await store.get("word") == b"twelve"
    await store.set("big", b"%d" % (2**63 - 1))
    with pytest.raises(ValueError, match="overflow"):
        await store.incr("big")
    with pytest.raises(TypeError):
        await store.incr("n", 1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        await store.incr("n", True)
    with pytest.raises(ValueError, match="64-bit"):
        await store.incr("n", 2**63)


async def test_incr_ttl_applies_on_creation_only(store: Store) -> None:
    assert await store.incr("window", ttl=100) == 1
    first = await store.ttl("window")
    assert first is not None and first <= 100
    assert await store.incr("window", ttl=1000) == 2  # does not extend the window
    second = await store.ttl("window")
    assert second is not None and second <= 100
    await store.set("plain", b"1")
    assert await store.incr("plain", ttl=100) == 2
    assert await store.ttl("plain") == math.inf
    assert await store.incr("brief", ttl=0.05) == 1
    await until_gone(store, "brief")
    assert await store.incr("brief") == 1  # a dead counter starts again at 0
    assert await store.ttl("brief") == math.inf


async def test_compare_and_set(store: Store) -> None:
    assert await store.compare_and_set("k", None, None) is True  # "is absent"
    assert await store.compare_and_set("k", b"wrong", b"v") is False
    assert await store.compare_and_set("k", None, b"v1", ttl=100) is True
    assert await store.compare_and_set("k", None, None) is False
    assert await store.compare_and_set("k", None, b"v2") is False  # present: no add
    assert await store.compare_and_set("k", b"v2", b"v3") is False
    assert await store.compare_and_set("k", b"v1", b"v2") is True  # the new value: no ttl
    assert await store.ttl("k") == math.inf
    assert await store.get("k") == b"v2"
    assert await store.compare_and_set("k", b"v1", None) is False
    assert await store.compare_and_set("k", b"v2", None) is True  # delete if equal
    assert await store.get("k") is None
    assert await store.add("k", b"first") is True
    assert await store.add("k", b"second") is False
    assert await store.get("k") == b"first"
    await store.set("dead", b"x", ttl=0.05)
    await until_gone(store, "dead")
    assert await store.compare_and_set("dead", b"x", b"y") is False  # expired ≠ equal


async def test_transform(store: Store) -> None:
    def append(current: bytes | None) -> tuple[bytes | None, int]:
        new = (current or b"") + b"."
        return new, len(new)

    assert await store.transform("t", append) == 1
    assert await store.transform("t", append, ttl=100) == 2
    remaining = await store.ttl("t")
    assert remaining is not None and remaining <= 100
    assert await store.transform("t", lambda current: (None, "deleted")) == "deleted"
    assert await store.get("t") is None
    assert await store.transform("t", lambda current: (None, current)) is None
    with pytest.raises(TypeError):
        await store.transform("t", lambda current: ("text", 0))  # type: ignore[arg-type,return-value]


async def test_scan_and_clear(store: Store) -> None:
    names = ["user:1", "user:2", "user:10", "users", "order:1", "us%er_*?[x]\\"]
    for name in names:
        await store.set(name, b"1")
    await store.set("user:dead", b"1", ttl=0.05)
    await until_gone(store, "user:dead")
    assert sorted([k async for k in store.scan("user:")]) == ["user:1", "user:10", "user:2"]
    assert sorted([k async for k in store.scan("us%er_*")]) == ["us%er_*?[x]\\"]
    assert sorted([k async for k in store.scan()]) == sorted(names)
    assert [k async for k in store.scan("nothing")] == []
    assert await store.clear() == len(names)
    assert [k async for k in store.scan()] == []


async def test_scan_pages_through_many_keys(store: Store) -> None:
    await asyncio.gather(*(store.set(f"many:{i:04d}", b"") for i in range(1234)))
    seen = [k async for k in store.scan("many:")]
    assert sorted(seen) == [f"many:{i:04d}" for i in range(1234)]


async def test_namespaces_are_isolated(store: Store) -> None:
    one, two = store.namespace("one:"), store.namespace("two:")
    await one.set("k", b"1")
    await two.set("k", b"2")
    assert (await one.get("k"), await two.get("k"), await store.get("k")) == (b"1", b"2", None)
    assert await store.get("one:k") == b"1"  # the parent sees the child's keys
    assert [k async for k in one.scan()] == ["k"]
    assert await one.clear() == 1
    assert await two.get("k") == b"2"
    with pytest.raises(ValueError, match="prefix"):
        store.namespace("")


@pytest.mark.parametrize(
    ("key", "error"),
    [
        ("", ValueError),
        ("x" * (MAX_KEY_BYTES + 1), ValueError),
        ("€" * (MAX_KEY_BYTES // 3 + 1), ValueError),  # counted in UTF-8 bytes
        ("\ud800", ValueError),  # a lone surrogate cannot be stored
        (b"bytes", TypeError),
        (None, TypeError),
        (42, TypeError),
    ],
)
async def test_bad_keys_are_refused(store: Store, key: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        await store.get(key)  # type: ignore[arg-type]
    with pytest.raises(error):
        await store.set(key, b"v")  # type: ignore[arg-type]


async def test_longest_key_works(store: Store) -> None:
    key = "k" * (MAX_KEY_BYTES - len(store.prefix))
    await store.set(key, b"v")
    assert await store.get(key) == b"v"


@pytest.mark.parametrize("ttl", [0, -1, math.inf, math.nan, "10", True])
async def test_bad_ttls_are_refused(store: Store, ttl: object) -> None:
    with pytest.raises((ValueError, TypeError)):
        await store.set("k", b"v", ttl=ttl)  # type: ignore[arg-type]
    with pytest.raises((ValueError, TypeError)):
        await store.expire("k", ttl)  # type: ignore[arg-type]
    assert await store.get("k") is None


@pytest.mark.parametrize("value", ["text", 1, None, bytearray(b"x")])
async def test_values_must_be_bytes(store: Store, value: object) -> None:
    with pytest.raises(TypeError):
        await store.set("k", value)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        await store.compare_and_set("k", b"x", value if value is not None else 1)  # type: ignore[arg-type]
    if value is not None:
        with pytest.raises(TypeError):
            await store.compare_and_set("k", value, b"x")  # type: ignore[arg-type]


async def test_big_values(store: Store) -> None:
    value = bytes(range(256)) * 4096  # 1 MiB
    await store.set("big", value)
    assert await store.get("big") == value


async def test_concurrent_tasks_never_lose_an_increment(store: Store) -> None:
    await asyncio.gather(*(store.incr("counter") for _ in range(100)))

    def bump(current: bytes | None) -> tuple[bytes, None]:
        return b"%d" % (int(current or b"0") + 1), None

    await asyncio.gather(*(store.transform("cas", bump) for _ in range(30)))
    assert await store.get_many(["counter", "cas"]) == [b"100", b"30"]


async def test_open_store_urls(tmp_path: Path) -> None:
    assert isinstance(open_store("memory://", prefix="p:"), MemoryStore)
    store = open_store(f"sqlite:///{tmp_path / 'kv.db'}", table="kv")
    async with store:
        await store.set("k", b"v")
        assert await store.get("k") == b"v"
    with pytest.raises(ValueError, match="unsupported store URL"):
        open_store("ftp://example.com")


def test_constructor_errors() -> None:
    from vivace.stores import DatabaseStore, RedisStore

    with pytest.raises(ValueError, match="identifier"):
        DatabaseStore("sqlite://", table="bad; DROP TABLE x")
    with pytest.raises(ValueError, match="identifier"):
        DatabaseStore.ddl("sqlite", "1bad")
    with pytest.raises(ValueError, match="URL or a client"):
        RedisStore()
    with pytest.raises(ValueError, match="sweep_every"):
        MemoryStore(sweep_every=0)
    with pytest.raises(TypeError):
        MemoryStore(prefix=1)  # type: ignore[arg-type]


async def test_memory_sweeps_expired_entries() -> None:
    store = MemoryStore(sweep_every=10)
    for i in range(5):
        await store.set(f"dead{i}", b"", ttl=0.01)
    await until_gone(store, "dead4")
    assert len(store) >= 4  # read lazily: the others are still held
    for i in range(10):
        await store.set(f"live{i}", b"")
    assert len(store) == 10


async def test_unreachable_backends_raise_store_unavailable(tmp_path: Path) -> None:
    from vivace.stores import RedisStore, StoreUnavailable

    store = RedisStore("redis://127.0.0.1:1/0", socket_connect_timeout=1)
    with pytest.raises(StoreUnavailable):
        await store.open()
    with pytest.raises(StoreUnavailable):
        await store.get("k")
    await store.close()
    missing = open_store("postgresql://postgres@127.0.0.1:1/test", table="t")
    with pytest.raises(StoreUnavailable):
        await missing.open()


async def test_conflict_after_too_many_lost_races(monkeypatch: pytest.MonkeyPatch) -> None:
    store = MemoryStore()

    async def always_lose(*args: object) -> bool:
        return False

    async def no_wait(attempt: int) -> None:
        return None

    monkeypatch.setattr(MemoryStore, "_swap", always_lose)
    monkeypatch.setattr("vivace.stores._base.backoff", no_wait)
    with pytest.raises(StoreConflict):
        await store.transform("k", lambda current: (b"x", None))
    with pytest.raises(StoreConflict):
        await Store._incr(store, "k", 1, None)


async def test_database_store_purges_dead_rows(tmp_path: Path) -> None:
    store, name = await make_store("sqlite", tmp_path)
    try:
        assert hasattr(store, "purge_expired")
        store.purge_interval = 0  # type: ignore[attr-defined]
        await store.set("dead", b"x", ttl=0.01)
        await until_gone(store, "dead")
        await store.set("live", b"y")  # a write purges (interval 0)
        db = store.database  # type: ignore[attr-defined]
        assert await db.fetch_val(f"SELECT count(*) FROM {name}") == 1
    finally:
        await drop_store(store, "sqlite", name)


@pytest.mark.parametrize("backend", ["postgresql", "mysql", "sqlite"])
async def test_processes_starting_together_create_the_table_once(
    backend: str, tmp_path: Path
) -> None:
    from tests.db.conftest import unique_name
    from tests.stores.conftest import store_url
    from vivace.db import Database
    from vivace.stores import DatabaseStore

    table = unique_name("vstore")
    stores = [DatabaseStore(Database(store_url(backend, tmp_path)), table=table) for _ in range(4)]
    try:
        await asyncio.gather(*(store.open() for store in stores))
        await stores[0].set("k", b"v")
        assert await stores[3].get("k") == b"v"
    finally:
        await stores[0].database.execute(f"DROP TABLE IF EXISTS {table}")
        for store in stores:
            await store.close()


@pytest.mark.redis
async def test_redis_commands_in_flight_are_bounded() -> None:
    from tests.conftest import REDIS_URL
    from vivace.stores import RedisStore, StoreUnavailable

    with pytest.raises(ValueError, match="max_connections"):
        RedisStore(REDIS_URL, max_connections=0)
    store = RedisStore(REDIS_URL, prefix="vivace-test-bound:", max_connections=1, pool_timeout=0.05)
    try:
        async with store._slots:  # the one slot is taken: the next command must wait
            with pytest.raises(StoreUnavailable, match="no Redis connection became free"):
                await store.get("k")
        assert await store.get("k") is None  # free again
        # Many concurrent commands through one slot: they queue, none fails.
        wide = RedisStore(REDIS_URL, prefix="vivace-test-bound:", max_connections=2)
        assert await asyncio.gather(*(wide.get("k") for _ in range(50))) == [None] * 50
        await wide.close()
    finally:
        await store.close()


@pytest.mark.redis
async def test_redis_errors_are_store_errors() -> None:
    from tests.conftest import REDIS_URL
    from vivace.stores import RedisStore, StoreError, StoreUnavailable

    down = RedisStore("redis://127.0.0.1:1/0", socket_connect_timeout=1)
    calls = [
        down.get("k"),
        down.get_many(["k"]),
        down.set("k", b"v"),
        down.add("k", b"v"),
        down.delete("k"),
        down.incr("k"),
        down.expire("k", 1),
        down.expire("k", None),
        down.ttl("k"),
        down.clear(),
    ]
    for call in calls:
        with pytest.raises(StoreUnavailable):
            await call
    await down.close()
    store = RedisStore(REDIS_URL, prefix=f"vivace-test-{uuid.uuid4().hex}:")
    try:
        await store.client.rpush(store.prefix + "list", b"x")  # not a string value
        with pytest.raises(StoreError, match="failed the operation"):
            await store.get("list")
        with pytest.raises(StoreError, match="WRONGTYPE"):
            await store.incr("list")
    finally:
        await store.client.delete(store.prefix + "list")
        await store.close()


async def test_create_tables_tolerates_a_twin_that_won_the_race() -> None:
    # PostgreSQL's answers to the loser of two concurrent CREATE TABLE IF NOT EXISTS:
    # 23505 (catalog unique violation), 42710 (its row type exists), 42P07 (relation
    # exists). Each means the table is there: the statement is run again. Any other
    # error is the caller's.
    from vivace.db import IntegrityError, ProgrammingError, create_if_absent

    class Twin:
        def __init__(self, first: Exception) -> None:
            self.first: Exception | None = first
            self.ran: list[str] = []

        async def execute(self, statement: str) -> None:
            self.ran.append(statement)
            if self.first is not None:
                first, self.first = self.first, None
                raise first

    for lost in (
        IntegrityError("duplicate key", sqlstate="23505"),
        ProgrammingError('type "t" already exists', sqlstate="42710"),
        ProgrammingError('relation "t" already exists', sqlstate="42P07"),
    ):
        twin = Twin(lost)
        await create_if_absent(twin, ["CREATE TABLE IF NOT EXISTS t ()"])  # type: ignore[arg-type]
        assert twin.ran == ["CREATE TABLE IF NOT EXISTS t ()"] * 2
    syntax = Twin(ProgrammingError("syntax error", sqlstate="42601"))
    with pytest.raises(ProgrammingError, match="syntax"):
        await create_if_absent(syntax, ["CREATE TABLE IF NOT EXISTS t ("])  # type: ignore[arg-type]
