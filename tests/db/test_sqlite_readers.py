"""SQLite's read slots: at most ``readers`` reads outside transactions run at once
among one Database's connections (vivace.db.backends.sqlite._read_slots)."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest

from vivace.db import Database, InterfaceError


class Probe:
    """A SQL function ``probe(ms)`` that records how many calls overlap."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0

    def __call__(self, ms: int) -> int:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(ms / 1000)
        with self.lock:
            self.running -= 1
        return ms


async def open_with_probe(
    path: Path, connections: int, **options: object
) -> tuple[Database, Probe]:
    """A Database with ``connections`` connections open, each knowing ``probe()``."""
    db = Database(f"sqlite:///{path}", min_size=connections, max_size=connections, **options)
    await db.connect()
    probe = Probe()
    async with asyncio.timeout(10):
        held = [await db._pool.acquire() for _ in range(connections)]  # type: ignore[union-attr]
        for conn in held:
            conn.raw.create_function("probe", 1, probe)
            db._pool.release(conn)  # type: ignore[union-attr]
    return db, probe


@pytest.mark.parametrize("readers", [1, 2, 3])
async def test_reads_outside_transactions_run_at_most_readers_at_once(
    tmp_path: Path, readers: int
) -> None:
    db, probe = await open_with_probe(tmp_path / "r.sqlite3", 4, readers=readers)
    try:
        async with asyncio.timeout(10):
            results = await asyncio.gather(
                *(db.fetch_val("SELECT probe(:ms)", {"ms": 30 + i}) for i in range(8))
            )
        assert results == [30 + i for i in range(8)]
        assert probe.most == readers
    finally:
        await db.disconnect()


async def test_the_default_is_one_reader_and_a_url_option_sets_it(tmp_path: Path) -> None:
    db, probe = await open_with_probe(tmp_path / "d.sqlite3", 4)
    try:
        async with asyncio.timeout(10):
            await asyncio.gather(*(db.fetch_rows("SELECT probe(20)") for _ in range(6)))
        assert probe.most == 1
    finally:
        await db.disconnect()
    path = tmp_path / "u.sqlite3"
    db = Database(f"sqlite:///{path}?readers=2", min_size=3, max_size=3)
    await db.connect()
    try:
        probe = Probe()
        async with asyncio.timeout(10):
            held = [await db._pool.acquire() for _ in range(3)]  # type: ignore[union-attr]
            for conn in held:
                conn.raw.create_function("probe", 1, probe)
                db._pool.release(conn)  # type: ignore[union-attr]
            await asyncio.gather(*(db.fetch_all("SELECT probe(20)") for _ in range(4)))
        assert probe.most == 2
    finally:
        await db.disconnect()


async def test_a_transaction_does_not_queue_behind_reads(tmp_path: Path) -> None:
    """With every read slot busy, a transaction's reads and writes still run (its next
    statement may be what frees a lock others wait for)."""
    db, probe = await open_with_probe(tmp_path / "t.sqlite3", 3, readers=1)
    try:
        await db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)")
        async with asyncio.timeout(10):
            slow = asyncio.ensure_future(db.fetch_val("SELECT probe(400)"))
            while probe.running == 0:
                await asyncio.sleep(0.005)
            started = time.monotonic()
            async with db.transaction():
                await db.execute("INSERT INTO t (v) VALUES (1)")
                assert await db.fetch_val("SELECT count(*) FROM t") == 1
            assert time.monotonic() - started < 0.3 and not slow.done()
            assert await slow == 400
            assert await db.fetch_val("SELECT v FROM t") == 1
    finally:
        await db.disconnect()


async def test_a_cancelled_read_keeps_its_slot_until_sqlite_is_done(tmp_path: Path) -> None:
    """A cancelled read still runs on its thread (as any cancelled SQLite job does) and
    holds its slot while it runs; the slots are whole again afterwards."""
    db, probe = await open_with_probe(tmp_path / "c.sqlite3", 3, readers=1)
    try:
        async with asyncio.timeout(10):
            running = asyncio.ensure_future(db.fetch_val("SELECT probe(150)"))
            while probe.running == 0:
                await asyncio.sleep(0.005)
            waiting = asyncio.ensure_future(db.fetch_val("SELECT probe(1)"))
            await asyncio.sleep(0.01)
            waiting.cancel()  # cancelled while its thread waits for the slot
            running.cancel()  # cancelled while SQLite runs it: the slot stays taken
            next_read = asyncio.ensure_future(db.fetch_val("SELECT probe(2)"))
            for task in (running, waiting):
                with pytest.raises(asyncio.CancelledError):
                    await task
            assert await next_read == 2
            assert probe.most == 1  # the next read waited for SQLite to finish the first
            # The slot count is whole again: eight reads in turn, still one at a time.
            await asyncio.gather(*(db.fetch_val("SELECT probe(3)") for _ in range(8)))
            assert probe.most == 1
    finally:
        await db.disconnect()


async def test_concurrent_reads_and_writes_stay_correct(tmp_path: Path) -> None:
    """Many tasks reading and writing through one reader slot: every write lands, every
    read sees a consistent count, transactions stay atomic."""
    db = Database(f"sqlite:///{tmp_path}/w.sqlite3", max_size=10, readers=1)
    await db.connect()
    try:
        await db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, grp INTEGER, n INTEGER)")

        async def writer(group: int) -> None:
            for i in range(5):
                async with db.transaction():
                    await db.execute("INSERT INTO t (grp, n) VALUES (:g, :n)", {"g": group, "n": i})
                    await db.execute(
                        "INSERT INTO t (grp, n) VALUES (:g, :n)", {"g": group, "n": -i}
                    )

        async def reader() -> None:
            for _ in range(20):
                # Rows come in pairs (n, -n) per transaction: the sum is always 0.
                assert await db.fetch_val("SELECT coalesce(sum(n), 0) FROM t") == 0
                assert await db.fetch_val("SELECT count(*) FROM t") % 2 == 0

        async with asyncio.timeout(30):
            await asyncio.gather(*(writer(g) for g in range(5)), *(reader() for _ in range(5)))
        assert await db.fetch_val("SELECT count(*) FROM t") == 50
    finally:
        await db.disconnect()


@pytest.mark.parametrize("bad", ["0", "-1", "two", "1.5"])
async def test_bad_readers_are_refused(tmp_path: Path, bad: str) -> None:
    db = Database(f"sqlite:///{tmp_path}/b.sqlite3?readers={bad}")
    with pytest.raises(InterfaceError, match="readers must be a positive integer"):
        await db.connect()
    for value in (0, True, 2.0, None):
        db = Database(f"sqlite:///{tmp_path}/b.sqlite3", readers=value)
        with pytest.raises(InterfaceError, match="readers must be a positive integer"):
            await db.connect()
