"""Edge paths of the pool, scopes, compiler, URL and records (SQLite unless noted)."""

from __future__ import annotations

import asyncio
import contextvars
import datetime
import pickle
import sqlite3
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from vivace.db import (
    ConnectionLost,
    Database,
    DatabaseNotConnected,
    DatabaseURL,
    InterfaceError,
    ParameterError,
    PoolTimeout,
    Record,
    TransactionError,
)
from vivace.db._compile import CoreCompiler, parse_raw
from vivace.db._record import Columns, convert_rows
from vivace.db.backends import sqlite as sqlite_backend

from .conftest import open_database, until


@pytest.fixture
async def lite(tmp_path: Path) -> Database:
    db = await open_database(f"sqlite:///{tmp_path}/i.sqlite3", max_size=2, acquire_timeout=2)
    await db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")
    yield db
    await db.disconnect()


def outside(coro: object) -> asyncio.Task[object]:
    """Run a coroutine in a fresh context: no transaction binding inherited."""
    return asyncio.get_running_loop().create_task(coro, context=contextvars.Context())  # type: ignore[arg-type]


# -- pool -----------------------------------------------------------------------------


async def test_pool_hands_connections_to_waiters_in_order(lite: Database) -> None:
    order: list[int] = []

    async def hold(i: int, gate: asyncio.Event) -> None:
        async with lite.connection():
            order.append(i)
            await asyncio.wait_for(gate.wait(), 5)

    gate = asyncio.Event()
    tasks = [outside(hold(i, gate)) for i in range(5)]
    await until(lambda: lite.pool_stats()["waiting"] == 3 and len(order) == 2)
    gate.set()
    await asyncio.gather(*tasks)
    assert sorted(order) == list(range(5)) and order[2:] == [2, 3, 4]
    assert lite.pool_stats()["in_use"] == 0 and lite.pool_stats()["idle"] == 2


async def test_pool_recycles_old_and_idle_connections(tmp_path: Path) -> None:
    db = await open_database(f"sqlite:///{tmp_path}/r.sqlite3", max_lifetime=0.05, max_idle=0.05)
    try:
        first = db._pool._idle[-1]
        await asyncio.sleep(0.1)
        assert await db.fetch_val("SELECT 1") == 1
        assert db._pool._idle[-1] is not first  # expired: closed and replaced
    finally:
        await db.disconnect()


async def test_pool_timeout_and_cancelled_waiters(lite: Database) -> None:
    hold = asyncio.Event()

    async def holder() -> None:
        async with lite.connection():
            await asyncio.wait_for(hold.wait(), 5)

    holders = [outside(holder()) for _ in range(2)]
    await until(lambda: lite.pool_stats()["in_use"] == 2)
    waiter = outside(lite.fetch_val("SELECT 1"))
    await until(lambda: lite.pool_stats()["waiting"] == 1)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    lite._require_pool().acquire_timeout = 0.05
    with pytest.raises(PoolTimeout):
        await outside(lite.fetch_val("SELECT 1"))
    hold.set()
    await asyncio.gather(*holders)
    assert await lite.fetch_val("SELECT 2") == 2
    assert lite.pool_stats()["waiting"] == 0


async def test_pool_failed_connect_wakes_the_next_waiter(tmp_path: Path) -> None:
    db = await open_database(f"sqlite:///{tmp_path}/w.sqlite3", max_size=1, min_size=1)
    try:
        # The only connection dies; the next statement opens a new one.
        conn = db._pool._idle[-1]
        conn.terminate()
        assert await db.fetch_val("SELECT 3") == 3
        # Opening fails: the error reaches the caller, the slot is freed.
        original = db._backend.connect

        async def failing() -> object:
            raise sqlite3.OperationalError("cannot open")

        db._pool._idle[-1].terminate()
        db._pool._connect = failing  # type: ignore[assignment]
        with pytest.raises(sqlite3.OperationalError):
            await db.fetch_val("SELECT 1")
        assert db._pool.size == 0
        db._pool._connect = original
        assert await db.fetch_val("SELECT 4") == 4
    finally:
        await db.disconnect()


async def test_disconnect_waits_for_connections_in_use(tmp_path: Path) -> None:
    db = await open_database(f"sqlite:///{tmp_path}/d.sqlite3", min_size=2)
    assert db._pool.idle == 2
    release = asyncio.Event()

    async def user() -> None:
        async with db.connection() as conn:
            await asyncio.wait_for(release.wait(), 5)
            await conn.fetch_val("SELECT 1")

    task = outside(user())
    await until(lambda: db.pool_stats()["in_use"] == 1)
    closing = asyncio.create_task(db.disconnect())
    await asyncio.sleep(0.05)
    assert not closing.done()  # waiting for the connection in use
    release.set()
    await task
    await closing
    with pytest.raises(DatabaseNotConnected):
        await db.fetch_val("SELECT 1")


async def test_disconnect_terminates_stuck_connections(tmp_path: Path) -> None:
    from vivace.db._pool import Pool

    db = await open_database(f"sqlite:///{tmp_path}/s.sqlite3")
    pool = db._require_pool()
    raw = await pool.acquire()
    db._pool = None
    db._connects = 0
    await pool.close(timeout=0.05)  # the connection never comes back: terminated
    assert not raw.is_alive() or raw.broken
    assert isinstance(pool, Pool) and pool.in_use == 0
    with pytest.raises(DatabaseNotConnected):
        await pool.acquire()


# -- scopes and transactions ------------------------------------------------------------


async def test_fetch_one_and_core_inside_scopes(lite: Database) -> None:
    t = sa.table("t", sa.column("id", sa.Integer), sa.column("name", sa.String))
    async with lite.transaction() as tx:
        await lite.execute("INSERT INTO t (id, name) VALUES (1, 'a')")
        assert (await lite.fetch_one("SELECT name FROM t")).name == "a"
        assert (await lite.fetch_one(sa.select(t.c.name))).name == "a"
        assert await lite.fetch_val(sa.select(t.c.name)) == "a"
        assert await tx.connection.fetch_val(sa.select(t.c.name)) == "a"
        assert (await tx.connection.fetch_one(sa.select(t.c.name))).name == "a"
        assert await tx.connection.fetch_one(sa.select(t.c.name).where(t.c.id == 9)) is None
        await tx.connection.execute_many("INSERT INTO t (id, name) VALUES (:id, :n)", [])
        typed = sa.text("SELECT name FROM t").columns(name=sa.String)
        assert [r.name for r in await tx.connection.fetch_all(typed)] == ["a"]
        assert [r.name async for r in lite.iterate(typed)] == ["a"]


async def test_connection_handle_after_its_block(lite: Database) -> None:
    async with lite.connection() as conn:
        pass
    with pytest.raises(TransactionError, match="already ended"):
        await conn.fetch_val("SELECT 1")
    with pytest.raises(TransactionError):
        async for _ in conn.iterate("SELECT 1"):
            pass


async def test_force_rollback_refused_inside_a_transaction(lite: Database) -> None:
    async with lite.transaction():
        with pytest.raises(TransactionError, match="inside a transaction"):
            await lite._begin_global()
    with pytest.raises(DatabaseNotConnected):
        async with Database("sqlite://").force_rollback():
            pass


async def test_nested_commit_with_open_child_scope_rolls_back(lite: Database) -> None:
    inner_started = asyncio.Event()
    finish = asyncio.Event()

    async def child() -> None:
        async with lite.transaction():
            await lite.execute("INSERT INTO t (id, name) VALUES (2, 'child')")
            inner_started.set()
            await asyncio.wait_for(finish.wait(), 5)

    with pytest.raises(TransactionError, match="nested transaction"):
        async with lite.transaction():
            await lite.execute("INSERT INTO t (id, name) VALUES (1, 'parent')")
            task = asyncio.create_task(child())
            await asyncio.wait_for(inner_started.wait(), 5)
    finish.set()
    with pytest.raises(TransactionError):
        await task
    assert await lite.fetch_val("SELECT count(*) FROM t") == 0


async def test_lost_connection_is_reported_for_the_rest_of_the_transaction(
    lite: Database,
) -> None:
    with pytest.raises(ConnectionLost):
        async with lite.transaction():
            await lite.execute("INSERT INTO t (id, name) VALUES (1, 'x')")
            lite._current_scope().lease.raw.terminate()  # type: ignore[union-attr]
            await asyncio.sleep(0.05)
            await lite.execute("INSERT INTO t (id, name) VALUES (2, 'y')")
    assert await lite.fetch_val("SELECT count(*) FROM t") == 0


async def test_commit_on_lost_connection_reports_nothing_committed(lite: Database) -> None:
    with pytest.raises(ConnectionLost, match="COMMIT"):
        async with lite.transaction():
            await lite.execute("INSERT INTO t (id, name) VALUES (1, 'x')")
            lite._current_scope().lease.raw.broken = True  # type: ignore[union-attr]
    assert await lite.fetch_val("SELECT count(*) FROM t") == 0


# -- compiling ----------------------------------------------------------------------------


def test_parse_raw_edge_cases() -> None:
    assert parse_raw("SELECT '\\:' || :a, 'a\\:b'", "qmark").sql == "SELECT '\\:' || ?, 'a\\:b'"
    assert parse_raw("SELECT \\:a, :b", "qmark").sql == "SELECT :a, ?"
    assert parse_raw("SELECT 5 % 2, :a", "format").sql == "SELECT 5 %% 2, %s"
    assert parse_raw('SELECT ":x", `:y`, /* :z */ :w', "format").order == ("w",)
    assert parse_raw("SELECT x::int, a[1:2], :p", "dollar").sql == "SELECT x::int, a[1:2], $1"
    with pytest.raises(InterfaceError, match="str or a SQLAlchemy"):
        parse_raw(b"SELECT 1", "qmark")  # type: ignore[arg-type]


def test_core_compiler_edges() -> None:
    from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite

    compiler = CoreCompiler(SQLiteDialect_pysqlite(dbapi=sqlite3), max_size=4)
    t = sa.table("t", sa.column("a"), sa.column("b"))
    for i in range(10):  # more shapes than the cache holds: it is trimmed, not grown
        compiler.compile(sa.select(sa.literal_column(f"{i}")), None)
    assert len(compiler._cache) <= 4
    with pytest.raises(InterfaceError, match="SQLAlchemy Core statement"):
        compiler.compile(object(), None)
    with pytest.raises(ParameterError):
        compiler.compile(sa.select(t.c.a).where(t.c.a == sa.bindparam("x")), None)
    with pytest.raises(InterfaceError, match="expanding"):
        compiler.compile_many(sa.select(t.c.a).where(t.c.a.in_([1, 2])), [{"x": 1}])
    with pytest.raises(ParameterError, match="row 1"):
        compiler.compile_many(t.insert(), [{"a": 1, "b": 2}, {"a": 1}])
    _sql, rows = compiler.compile_many(t.insert().values(b=sa.bindparam("bb")), [{"a": 1, "bb": 2}])
    assert rows == [[1, 2]]
    with pytest.raises(InterfaceError, match="cannot compile"):
        compiler.compile(sa.select(sa.Sequence("s").next_value()), None)


def test_context_sensitive_default() -> None:
    from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite

    def slug(context: object) -> str:
        return context.get_current_parameters()["title"].lower()  # type: ignore[attr-defined]

    t = sa.Table(
        "x",
        sa.MetaData(),
        sa.Column("title", sa.String),
        sa.Column("slug", sa.String, default=slug),
    )
    compiler = CoreCompiler(SQLiteDialect_pysqlite(dbapi=sqlite3))
    _sql, args, _ = compiler.compile(t.insert(), {"title": "Hello"})
    assert args == ["Hello", "hello"]


async def test_raw_parameter_encoders_in_execute_many(lite: Database) -> None:
    await lite.execute("CREATE TABLE e (u TEXT, d TEXT)")
    u = uuid.uuid4()
    await lite.execute_many(
        "INSERT INTO e (u, d) VALUES (:u, :d)", [{"u": u, "d": datetime.date(2020, 1, 2)}]
    )
    assert await lite.fetch_one("SELECT u, d FROM e") == {"u": u.hex, "d": "2020-01-02"}


async def test_raw_statement_cache_is_bounded(
    lite: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    import vivace.db._database as module

    monkeypatch.setattr(module, "_RAW_CACHE_SIZE", 4)
    for i in range(10):
        await lite.fetch_val(f"SELECT {i}")
    assert len(lite._raw_cache) <= 4


# -- URL, records, errors -------------------------------------------------------------------


def test_urls() -> None:
    with pytest.raises(InterfaceError, match="unsupported"):
        DatabaseURL("oracle://x")
    with pytest.raises(InterfaceError, match="invalid database URL"):
        DatabaseURL("postgresql://u:p@h:notaport/db")
    with pytest.raises(InterfaceError, match="no host"):
        DatabaseURL("sqlite://host/x.db")
    url = DatabaseURL("postgresql+asyncpg://u:p%40ss@h/db")
    assert url.password == "p@ss" and "p%40ss" not in repr(url)
    assert DatabaseURL(url) == url and hash(DatabaseURL(url)) == hash(url) and url != "x"
    assert DatabaseURL("sqlite:///file::memory:?cache=shared").is_memory
    assert not DatabaseURL("sqlite:///a.db").is_memory
    assert DatabaseURL("mariadb://root@h/db").sqlalchemy_url() == "mysql+asyncmy://root@h/db"
    assert (
        str(DatabaseURL.build("postgresql", host="h", port=1, database="d")) == "postgresql://h:1/d"
    )
    assert DatabaseURL._redacted("http://[::1") == "<unparsable URL>"


async def test_unknown_url_options_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InterfaceError, match="unknown SQLite URL option"):
        await Database(f"sqlite:///{tmp_path}/x.db?nope=1").connect()
    with pytest.raises(InterfaceError, match="journal_mode"):
        await Database(f"sqlite:///{tmp_path}/x.db?journal_mode=bad").connect()
    with pytest.raises(InterfaceError, match="foreign_keys"):
        await Database(f"sqlite:///{tmp_path}/x.db?foreign_keys=maybe").connect()
    with pytest.raises(InterfaceError, match="unknown PostgreSQL URL option"):
        await Database("postgresql://u@127.0.0.1/x?nope=1").connect()
    with pytest.raises(InterfaceError, match="unknown MySQL URL option"):
        await Database("mysql://u@127.0.0.1/x?nope=1").connect()
    with pytest.raises(Exception, match="cannot open SQLite"):
        await Database(f"sqlite:///{tmp_path}/missing/dir/x.db").connect()


def test_records() -> None:
    cols = Columns(("id", "id", "name"))
    row = Record((1, 2, "x"), cols)
    assert row["id"] == 1 and row[1] == 2 and len(row) == 3  # first duplicate wins
    assert pickle.loads(pickle.dumps(row)) == row
    with pytest.raises(AttributeError):
        row.__wrapped__  # noqa: B018
    assert repr(Record((), Columns(()))) == "<Record>"
    assert convert_rows([], [None]) == []
    converted = convert_rows([Record((1, None), Columns(("a", "b")))], [str, str])
    assert dict(converted[0]) == {"a": "1", "b": None}


def test_sqlite_error_translation() -> None:
    translate = sqlite_backend.translate
    assert translate(ValueError("x"), None) is None
    assert type(translate(sqlite3.OperationalError("database is locked"), "S")).__name__ == (
        "OperationalError"
    )
    busy = sqlite3.OperationalError("database is locked")
    busy.sqlite_errorname = "SQLITE_BUSY"  # type: ignore[attr-defined]
    assert type(translate(busy, "S")).__name__ == "TransactionConflict"
    assert type(translate(sqlite3.DataError("x"), "S")).__name__ == "DataError"
    assert (
        type(
            translate(sqlite3.ProgrammingError("Cannot operate on a closed database."), "S")
        ).__name__
        == "ConnectionLost"
    )
    assert type(translate(sqlite3.ProgrammingError("other"), "S")).__name__ == "InterfaceError"
    assert type(translate(sqlite3.IntegrityError("x"), "S")).__name__ == "IntegrityError"


# -- more pool paths ---------------------------------------------------------------------


async def test_broken_connection_frees_a_slot_for_a_waiter(lite: Database) -> None:
    release = asyncio.Event()

    async def holder(break_it: bool) -> None:
        async with lite.connection():
            await asyncio.wait_for(release.wait(), 5)
            if break_it:
                lite._current_scope().lease.raw.broken = True  # type: ignore[union-attr]

    holders = [outside(holder(True)), outside(holder(False))]
    await until(lambda: lite.pool_stats()["in_use"] == 2)
    waiter = outside(lite.fetch_val("SELECT 6"))
    await until(lambda: lite.pool_stats()["waiting"] == 1)
    release.set()
    assert await waiter == 6  # got a freshly opened connection in the freed slot
    await asyncio.gather(*holders)


async def test_disconnect_fails_waiters(lite: Database) -> None:
    release = asyncio.Event()

    async def holder() -> None:
        async with lite.connection():
            await asyncio.wait_for(release.wait(), 5)

    holders = [outside(holder()) for _ in range(2)]
    await until(lambda: lite.pool_stats()["in_use"] == 2)
    waiter = outside(lite.fetch_val("SELECT 1"))
    await until(lambda: lite.pool_stats()["waiting"] == 1)
    closing = asyncio.create_task(lite.disconnect())
    with pytest.raises(DatabaseNotConnected):
        await waiter
    release.set()
    await asyncio.gather(*holders)
    await closing
    await lite.connect()  # (the fixture disconnects again)


async def test_pool_give_back_and_close_one(tmp_path: Path) -> None:
    from vivace.db._pool import Pool

    db = await open_database(f"sqlite:///{tmp_path}/g.sqlite3", max_size=3)
    try:
        pool = db._require_pool()
        conn = await pool.acquire()
        resolved: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        resolved.set_result(conn)
        pool._give_back(resolved)  # type: ignore[arg-type]
        assert pool.idle == 1 and pool.in_use == 0
        slot: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        slot.set_result(None)
        pool.size += 1
        pool._give_back(slot)  # type: ignore[arg-type]
        assert pool.size == 1
        other = await db._backend.connect()
        await Pool._close_one(other, timeout=0)  # too slow: terminated instead
        assert not other.is_alive()
    finally:
        await db.disconnect()


async def test_pool_open_and_connect_failures(tmp_path: Path) -> None:
    from vivace.db._pool import Pool

    db = Database(f"sqlite:///{tmp_path}/o.sqlite3")
    calls = 0

    async def flaky() -> object:
        nonlocal calls
        calls += 1
        raise OSError("refused")

    pool = Pool(flaky, min_size=2, max_size=2, acquire_timeout=1, max_idle=None, max_lifetime=None)  # type: ignore[arg-type]
    first = await db._backend.connect()
    with pytest.raises(OSError, match="refused"):
        await pool.open(first)
    assert pool.size == 1
    await pool.close()

    gate = asyncio.Event()

    async def slow() -> object:
        await asyncio.wait_for(gate.wait(), 5)
        return await db._backend.connect()

    pool = Pool(slow, min_size=0, max_size=1, acquire_timeout=1, max_idle=None, max_lifetime=None)  # type: ignore[arg-type]
    opening = asyncio.create_task(pool.acquire())
    await asyncio.sleep(0.01)
    closing = asyncio.create_task(pool.close())
    await asyncio.sleep(0.01)
    gate.set()
    with pytest.raises(DatabaseNotConnected):
        await opening
    await closing
    assert pool.stats()["size"] == 0


# -- more scope paths --------------------------------------------------------------------


async def test_statement_for_an_ended_scope_is_refused(lite: Database) -> None:
    async with lite.transaction() as tx:
        scope = lite._current_scope()
    assert scope is not None and not scope.open
    with pytest.raises(TransactionError):
        await scope.lease.enter(scope)
    assert tx.state == "committed"


async def test_waiters_of_an_ended_scope_fail(lite: Database) -> None:
    started = asyncio.Event()
    results: list[object] = []

    async def nested_holder() -> None:
        async with lite.transaction():
            started.set()
            await asyncio.sleep(0.05)

    async def late() -> None:
        await asyncio.wait_for(started.wait(), 5)
        try:
            await lite.fetch_val("SELECT 1")
        except TransactionError as exc:
            results.append(exc)

    async with lite.transaction():
        holder = asyncio.create_task(nested_holder())
        waiter = asyncio.create_task(late())
        await asyncio.wait_for(started.wait(), 5)
        await asyncio.sleep(0)
        await holder
        await waiter
    assert results == []  # the waiter ran once the savepoint ended, in the transaction


async def test_explicit_nested_transaction_ended_from_another_task(lite: Database) -> None:
    async with lite.transaction():
        inner = await lite.transaction().start()
        await lite.execute("INSERT INTO t (id, name) VALUES (1, 'x')")
        await asyncio.create_task(inner.commit())  # ended from another context
        # This task falls back to the enclosing transaction, still open.
        await lite.execute("INSERT INTO t (id, name) VALUES (2, 'y')")
    assert await lite.fetch_val("SELECT count(*) FROM t") == 2


async def test_aborted_stream_is_reported(lite: Database) -> None:
    async with lite.connection() as conn:
        lease = lite._current_scope().lease  # type: ignore[union-attr]
        lease.aborted = "dropped for the test"
        with pytest.raises(ConnectionLost, match="dropped for the test"):
            await conn.fetch_val("SELECT 1")
        lease.aborted = None


def test_postgres_protocol_state_error_is_a_lost_connection() -> None:
    # bench/faults.py postgres-kill: pg_terminate_backend during a statement leaves
    # asyncpg's protocol mid-operation; it was a raw InternalClientError (a 500).
    asyncpg = pytest.importorskip("asyncpg")
    from vivace.db.backends import postgres

    exc = asyncpg.exceptions.InternalClientError(
        "cannot switch to state 15; another operation (2) is in progress"
    )
    error = postgres.translate(exc, "SELECT 1")
    assert isinstance(error, ConnectionLost) and error.service_unavailable
    assert "unusable" in str(error)


@pytest.mark.parametrize("scheme", ["postgresql://postgres", "mysql://root"])
async def test_a_server_that_refuses_connections_is_a_lost_connection(scheme: str) -> None:
    # bench/faults.py *-restart: while the server is down, opening a connection fails
    # with ConnectionLost (503 in vivace.web), not a bare OperationalError (500).
    import socket

    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]  # nothing listens there once closed
    db = Database(f"{scheme}@127.0.0.1:{port}/test", min_size=0, acquire_timeout=5)
    with pytest.raises(ConnectionLost, match="cannot connect to"):
        async with db:
            await db.fetch_val("SELECT 1")


async def test_sqlite_autocommit_writes_queue_at_the_write_gate(tmp_path: Path) -> None:
    """Outside a transaction, INSERT/UPDATE/DELETE/REPLACE and execute_many wait for the
    Database's write gate (not in SQLite's sleeping busy handler); reads do not."""
    from vivace.db import TransactionConflict

    db = await open_database(f"sqlite:///{tmp_path}/g.sqlite3?timeout=0.2", max_size=3)
    try:
        await db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")
        held = asyncio.Event()
        done = asyncio.Event()

        async def writer() -> None:
            async with db.transaction():
                await db.execute("INSERT INTO t (name) VALUES ('tx')")
                held.set()
                await asyncio.wait_for(done.wait(), 5)

        holding = outside(writer())
        await asyncio.wait_for(held.wait(), 5)
        # The gate's own timeout error, not SQLite's "database is locked".
        for statement in (
            "INSERT INTO t (name) VALUES ('x')",
            "  update t SET name = 'y'",
            "DELETE FROM t",
            "REPLACE INTO t (id, name) VALUES (9, 'z')",
        ):
            with pytest.raises(TransactionConflict, match="held SQLite's write lock"):
                await outside(db.execute(statement))
        with pytest.raises(TransactionConflict, match="held SQLite's write lock"):
            await outside(db.execute_many("INSERT INTO t (name) VALUES (:n)", [{"n": "m"}]))
        assert await outside(db.fetch_val("SELECT count(*) FROM t")) == 0  # reads pass
        done.set()
        await holding
        # Gathered autocommit writes take turns: all of them land.
        await asyncio.gather(
            *(outside(db.execute("INSERT INTO t (name) VALUES (:n)", {"n": i})) for i in range(20))
        )
        assert await db.fetch_val("SELECT count(*) FROM t") == 21
    finally:
        await db.disconnect()


def test_sqlite_pragmas_wait_out_a_locked_file() -> None:
    # Switching a new file to WAL while another process does the same can fail at once
    # with "database is locked" (SQLite's busy timeout does not cover it): retried until
    # the connection's timeout; any other error is raised at once.
    import sqlite3
    import time

    from vivace.db.backends.sqlite import _pragma

    class Conn:
        def __init__(self, failures: list[str]) -> None:
            self.failures = failures
            self.calls = 0

        def execute(self, sql: str) -> sqlite3.Cursor:
            self.calls += 1
            if self.failures:
                raise sqlite3.OperationalError(self.failures.pop(0))
            return sqlite3.connect(":memory:").execute("SELECT 1")

    locked = Conn(["database is locked", "database is locked"])
    _pragma(locked, "PRAGMA journal_mode = wal", time.monotonic() + 5)  # type: ignore[arg-type]
    assert locked.calls == 3
    with pytest.raises(sqlite3.OperationalError, match="disk I/O"):
        _pragma(Conn(["disk I/O error"]), "PRAGMA x", time.monotonic() + 5)  # type: ignore[arg-type]
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        _pragma(Conn(["database is locked"] * 1000), "PRAGMA x", time.monotonic() + 0.05)  # type: ignore[arg-type]
