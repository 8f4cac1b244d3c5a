"""Transactions on every backend: commit, rollback, savepoints, isolation, decorator."""

from __future__ import annotations

import asyncio

import pytest

from vivace.db import Database, InterfaceError, Transaction, TransactionError

from .conftest import open_database


async def names(db: Database, table: str) -> list[str]:
    return [r.name for r in await db.fetch_all(f"SELECT name FROM {table} ORDER BY id")]


async def add(db: Database, table: str, id_: int, name: str) -> None:
    await db.execute(
        f"INSERT INTO {table} (id, name) VALUES (:id, :name)", {"id": id_, "name": name}
    )


class Boom(Exception):
    pass


async def test_commit_and_rollback_on_exception(db: Database, items: str) -> None:
    async with db.transaction() as tx:
        await add(db, items, 1, "kept")
        assert tx.state == "started"
    assert tx.state == "committed"
    with pytest.raises(Boom):
        async with db.transaction():
            await add(db, items, 2, "dropped")
            assert await names(db, items) == ["kept", "dropped"]
            raise Boom
    assert await names(db, items) == ["kept"]
    assert db.pool_stats()["in_use"] == 0


async def test_nested_transactions_are_savepoints(db: Database, items: str) -> None:
    async with db.transaction():
        await add(db, items, 1, "outer")
        with pytest.raises(Boom):
            async with db.transaction():
                await add(db, items, 2, "inner-dropped")
                raise Boom
        async with db.transaction():
            await add(db, items, 3, "inner-kept")
            async with db.transaction():
                await add(db, items, 4, "deep")
        assert await names(db, items) == ["outer", "inner-kept", "deep"]
    assert await names(db, items) == ["outer", "inner-kept", "deep"]


async def test_decorator_runs_each_call_in_its_own_transaction(db: Database, items: str) -> None:
    @db.transaction()
    async def create(id_: int, fail: bool) -> None:
        await add(db, items, id_, f"n{id_}")
        if fail:
            raise Boom

    await create(1, False)
    with pytest.raises(Boom):
        await create(2, True)
    await create(3, False)
    assert await names(db, items) == ["n1", "n3"]


async def test_explicit_start_commit_rollback(db: Database, items: str) -> None:
    tx = await db.transaction().start()
    await add(db, items, 1, "a")
    await tx.commit()
    tx2 = await db.transaction().start()
    await add(db, items, 2, "b")
    await tx2.rollback()
    assert await names(db, items) == ["a"]
    with pytest.raises(TransactionError, match="committed"):
        await tx.commit()
    with pytest.raises(TransactionError, match="rolled back"):
        await tx2.rollback()
    with pytest.raises(TransactionError, match="committed"):
        await tx.start()
    with pytest.raises(TransactionError, match="new"):
        await Transaction(db).commit()
    with pytest.raises(TransactionError, match="not started"):
        _ = Transaction(db).connection


async def test_force_rollback_transaction(db: Database, items: str) -> None:
    async with db.transaction(force_rollback=True):
        await add(db, items, 1, "temp")
        assert await names(db, items) == ["temp"]
    assert await names(db, items) == []


@pytest.mark.parametrize(
    "level", ["read_uncommitted", "read_committed", "repeatable_read", "serializable"]
)
async def test_isolation_levels(db: Database, items: str, level: str) -> None:
    async with db.transaction(isolation=level):
        await add(db, items, 1, level)
        if db.url.backend == "postgresql":
            shown = await db.fetch_val("SHOW transaction_isolation")
            # PostgreSQL runs READ UNCOMMITTED as READ COMMITTED, but reports the request.
            assert shown == level.replace("_", " ")
        elif db.url.backend == "mysql":
            shown = await db.fetch_val("SELECT @@tx_isolation")
            # SET TRANSACTION applies to this transaction only; the session keeps its own.
            assert shown in ("REPEATABLE-READ", level.upper().replace("_", "-"))
    assert await names(db, items) == [level]
    with pytest.raises(ValueError, match="unknown isolation level"):
        db.transaction(isolation="chaos")
    async with db.transaction():
        with pytest.raises(TransactionError, match="isolation"):
            await db.transaction(isolation=level).start()


async def test_database_force_rollback_mode(url: str, items: str, db: Database) -> None:
    rolled = await open_database(url, force_rollback=True)
    try:
        await add(rolled, items, 1, "invisible")
        async with rolled.transaction():  # a savepoint inside the global transaction
            await add(rolled, items, 2, "also")
        assert await names(rolled, items) == ["invisible", "also"]
        with pytest.raises(TransactionError, match="already active"):
            async with rolled.force_rollback():
                pass
    finally:
        await rolled.disconnect()
    assert await names(db, items) == []
    # The context-manager form, on a normal database.
    async with db.force_rollback():
        await add(db, items, 3, "gone")
    assert await names(db, items) == []


async def test_connection_block_pins_one_connection(db: Database, items: str) -> None:
    backend = db.url.backend
    session_id = {
        "postgresql": "SELECT pg_backend_pid()",
        "mysql": "SELECT CONNECTION_ID()",
        "sqlite": "SELECT 1",
    }[backend]
    async with db.connection() as conn:
        first = await conn.fetch_val(session_id)
        assert await db.fetch_val(session_id) == first  # db.* follows the block too
        async with db.connection() as same:  # nested block: the same connection
            assert await same.fetch_val(session_id) == first
        async with conn.transaction():
            await conn.execute(
                f"INSERT INTO {items} (id, name) VALUES (:id, :name)", {"id": 1, "name": "x"}
            )
            async with conn.transaction():  # savepoint
                await add(db, items, 2, "y")
        assert conn.raw_connection is not None
        assert [r.name async for r in conn.iterate(f"SELECT name FROM {items} ORDER BY id")] == [
            "x",
            "y",
        ]
    assert await names(db, items) == ["x", "y"]


async def test_transaction_connection_handle(db: Database, items: str) -> None:
    async with db.transaction() as tx:
        await tx.connection.execute(
            f"INSERT INTO {items} (id, name) VALUES (:id, :name)", {"id": 1, "name": "h"}
        )
        assert await tx.connection.fetch_val(f"SELECT count(*) FROM {items}") == 1
    assert await names(db, items) == ["h"]


async def test_connection_block_with_open_nested_transaction_is_refused(
    db: Database, items: str
) -> None:
    with pytest.raises(InterfaceError, match="still open"):
        async with db.connection():
            tx = await db.transaction().start()
            await add(db, items, 1, "x")
            # The block ends while tx is open: the connection is dropped, tx rolled back.
            from vivace.db._scope import bindings

            bindings.set(None)  # as if tx had been started by another task
    assert await names(db, items) == []
    assert tx.state == "started"


async def test_connection_left_in_a_raw_transaction_is_not_reused(
    url: str, db: Database, items: str
) -> None:
    await db.execute("BEGIN")  # a transaction the pool knows nothing of
    await add(db, items, 1, "committed")  # must not run inside it
    other = await open_database(url)
    try:
        assert await names(other, items) == ["committed"]
    finally:
        await other.disconnect()


async def test_in_transaction(db: Database) -> None:
    assert not db.in_transaction()
    async with db.transaction():
        assert db.in_transaction()
        inner = await asyncio.gather(asyncio.create_task(_in_tx(db)))
        assert inner == [True]
    async with db.connection():
        assert not db.in_transaction()
    async with db.force_rollback():
        assert db.in_transaction()
    assert not db.in_transaction()


async def _in_tx(db: Database) -> bool:
    return db.in_transaction()
