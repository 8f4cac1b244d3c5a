"""SQLite's reader threads: reads outside transactions run on ``readers`` threads shared
by one Database's connections, each on its own connection
(vivace.db.backends.sqlite._Readers)."""

from __future__ import annotations

import asyncio
import contextvars
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from vivace.db import ConnectionLost, Database, InterfaceError, ProgrammingError

from .conftest import until


class Probe:
    """A SQL function ``probe(ms)`` that records how many calls overlap, and the threads
    they ran on."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0
        self.threads: list[str] = []

    def __call__(self, ms: int) -> int:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
            self.threads.append(threading.current_thread().name)
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
    """A cancelled read still runs on its reader thread (as any cancelled SQLite job
    does), and the next read waits for it; the reader is free again afterwards."""
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


def is_closed(raw: sqlite3.Connection) -> bool:
    try:
        raw.execute("SELECT 1").close()
    except sqlite3.ProgrammingError:
        return True
    return False


async def cancel_while_running(db: Database, probe: Probe, ms: int) -> None:
    """Start a read of ``probe(ms)`` and cancel it once SQLite runs it."""
    slow = asyncio.ensure_future(db.fetch_val(f"SELECT probe({ms})"))
    while probe.running == 0:
        await asyncio.sleep(0.005)
    slow.cancel()
    with pytest.raises(asyncio.CancelledError):
        await slow


def reader_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("vivace-sqlite-reader")]


async def test_reads_outside_transactions_run_on_the_reader_thread(tmp_path: Path) -> None:
    """Reads outside transactions (pinned connection blocks too) run on the reader
    thread; a transaction's reads, writes and DDL on the connection's own thread."""
    db, probe = await open_with_probe(tmp_path / "o.sqlite3", 2)
    try:
        async with asyncio.timeout(10):
            await db.execute("CREATE TABLE t (v INTEGER)")
            await db.fetch_val("SELECT probe(1)")
            await db.fetch_all("SELECT probe(1)")
            await db.fetch_rows("SELECT probe(1)")
            async with db.connection() as conn:
                await conn.fetch_one("SELECT probe(1)")
            assert all(name.startswith("vivace-sqlite-reader") for name in probe.threads)
            probe.threads.clear()
            async with db.transaction():
                await db.fetch_val("SELECT probe(1)")
                await db.execute("INSERT INTO t (v) SELECT probe(1)")
            await db.execute("INSERT INTO t (v) SELECT probe(1)")  # a write: the write gate
            await db.execute("CREATE TABLE u AS SELECT probe(1) AS v")
            assert len(probe.threads) == 4
            assert not any(name.startswith("vivace-sqlite-reader") for name in probe.threads)
            assert await db.fetch_val("SELECT count(*) FROM t") == 2
    finally:
        await db.disconnect()


async def test_a_read_on_the_reader_uses_its_own_connection(tmp_path: Path) -> None:
    """A read on the reader thread runs on the connection it was sent on: a temporary
    table made in a connection block is there for the block's reads, and no other."""
    db = Database(f"sqlite:///{tmp_path}/tmp.sqlite3", min_size=2, max_size=2)
    await db.connect()
    try:
        async with asyncio.timeout(10), db.connection() as conn:
            await conn.execute("CREATE TEMP TABLE scratch (v INTEGER)")
            await conn.execute("INSERT INTO scratch (v) VALUES (7)")
            assert await conn.fetch_val("SELECT v FROM scratch") == 7
            assert await conn.fetch_rows("SELECT v FROM scratch") == [(7,)]
            assert await db.fetch_val("SELECT v FROM scratch") == 7  # this task: the block's
            elsewhere = asyncio.get_running_loop().create_task(
                db.fetch_val("SELECT v FROM scratch"), context=contextvars.Context()
            )
            with pytest.raises(ProgrammingError, match="no such table"):
                await elsewhere  # outside the block: the pool's other connection
    finally:
        await db.disconnect()


async def test_a_connection_never_runs_two_jobs_at_once(tmp_path: Path) -> None:
    """The only connection's read is cancelled while it runs on the reader thread; the
    connection's next statements (a transaction's, on its own thread) wait for it."""
    db, probe = await open_with_probe(tmp_path / "n.sqlite3", 1)
    try:
        await db.execute("CREATE TABLE t (v INTEGER)")
        async with asyncio.timeout(10):
            await cancel_while_running(db, probe, 200)
            assert probe.running == 1  # SQLite still runs it
            async with db.transaction():
                await db.execute("INSERT INTO t (v) SELECT probe(1)")
            assert probe.most == 1
            assert await db.fetch_val("SELECT v FROM t") == 1
    finally:
        await db.disconnect()


async def test_closing_waits_for_a_cancelled_read(tmp_path: Path) -> None:
    """disconnect() while a cancelled read still runs on the reader: the connection is
    closed after it (never under it), and the reader thread stops with the last one."""
    before = len(reader_threads())
    db, probe = await open_with_probe(tmp_path / "c.sqlite3", 2)
    assert len(reader_threads()) == before + 1
    async with asyncio.timeout(10):
        await cancel_while_running(db, probe, 150)
        raws = [conn.raw for conn in db._pool._idle]  # type: ignore[union-attr]
        started = time.monotonic()
        await db.disconnect()
        assert time.monotonic() - started < 2  # closed politely, not after close's timeout
        assert probe.running == 0  # finished before its connection closed
        for raw in raws:
            with pytest.raises(sqlite3.ProgrammingError, match="closed"):
                raw.execute("SELECT 1")
        await until(lambda: len(reader_threads()) == before)
    # Connecting again starts a reader again.
    await db.connect()
    try:
        assert await db.fetch_val("SELECT 5") == 5
        assert len(reader_threads()) == before + 1
    finally:
        await db.disconnect()


async def test_a_terminated_connection_is_closed_after_its_cancelled_read(
    tmp_path: Path,
) -> None:
    db, probe = await open_with_probe(tmp_path / "k.sqlite3", 1)
    try:
        async with asyncio.timeout(10):
            await cancel_while_running(db, probe, 100)
            conn = db._pool._idle[-1]  # type: ignore[union-attr]
            conn.terminate()
            conn.terminate()  # twice: nothing more happens
            assert not conn.is_alive()
            with pytest.raises(ConnectionLost):
                await conn.fetch_val("SELECT 1", (), 0)
            # The pool opens a fresh connection (and a fresh reader: the last one stops
            # once it has finished the cancelled read and closed the connection).
            assert await db.fetch_val("SELECT 6") == 6
            reader = conn._readers.threads[0]  # type: ignore[attr-defined]
            await asyncio.to_thread(reader.join, 5)
            assert not reader.is_alive() and probe.running == 0 and is_closed(conn.raw)
    finally:
        await db.disconnect()


async def test_in_memory_databases_have_no_reader_thread() -> None:
    before = len(reader_threads())
    async with Database("sqlite://") as db:
        await db.execute("CREATE TABLE t (v INTEGER)")
        await db.execute("INSERT INTO t (v) VALUES (1)")
        assert await db.fetch_val("SELECT v FROM t") == 1
        assert len(reader_threads()) == before
    with pytest.raises(InterfaceError, match="readers must be a positive integer"):
        await Database("sqlite://", readers=0).connect()


async def test_a_connect_cancelled_while_opening_closes_what_it_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vivace.db.backends import sqlite as sqlite_backend

    opened: list[sqlite3.Connection] = []
    real_open = sqlite_backend._open

    def slow_open(thread: threading.Thread, *args: object) -> sqlite3.Connection:
        conn = real_open(thread, *args)  # type: ignore[arg-type]
        opened.append(conn)
        time.sleep(0.1)  # the caller gives up meanwhile
        return conn

    monkeypatch.setattr(sqlite_backend, "_open", slow_open)
    path = tmp_path / "x.sqlite3"
    backend = Database(f"sqlite:///{path}")._backend
    before = len(reader_threads())
    async with asyncio.timeout(10):
        task = asyncio.ensure_future(backend.connect())
        await until(lambda: bool(opened))
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        own = [t for t in threading.enumerate() if t.name == f"vivace-sqlite:{path}"]
        await asyncio.to_thread(own[0].join, 5)
    assert not own[0].is_alive() and is_closed(opened[0])
    await until(lambda: len(reader_threads()) == before)
