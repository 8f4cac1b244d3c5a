"""Concurrency: the encode/databases "another operation is in progress" family, made impossible.

Each test names the encode/databases failure it guards against (issue numbers of that
project's tracker): concurrent statements on one connection (#81, #230), transactions
of concurrent tasks sharing a connection (#134, #327, #340), gather inside a
transaction (#573), force_rollback seen from other tasks (#38), iterate with a
query in the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from vivace.db import ConnectionLost, Database, DatabaseError, InterfaceError, TransactionError

from .conftest import backend_url, open_database, unique_name, wait_for_statement
from .test_backends import SLEEP

SESSION_ID = {
    "postgresql": "SELECT pg_backend_pid()",
    "mysql": "SELECT CONNECTION_ID()",
}


async def add(db: Database, table: str, id_: int, name: str = "x") -> None:
    await db.execute(
        f"INSERT INTO {table} (id, name) VALUES (:id, :name)", {"id": id_, "name": name}
    )


async def count(db: Database, table: str) -> int:
    return int(await db.fetch_val(f"SELECT count(*) FROM {table}"))


async def test_gather_outside_transactions(db: Database, items: str) -> None:
    # 100 concurrent statements over a pool of 5: each borrows its own connection.
    await asyncio.gather(*(add(db, items, i) for i in range(100)))
    results = await asyncio.gather(*(db.fetch_val("SELECT :v + 0", {"v": i}) for i in range(100)))
    assert [int(r) for r in results] == list(range(100))
    assert await count(db, items) == 100
    assert db.pool_stats()["in_use"] == 0


async def test_gather_inside_transaction_shares_it(db: Database, items: str) -> None:
    # Children of the transaction's task run on its connection, one statement at a
    # time, and see its uncommitted rows (encode/databases #81, #230).
    async with db.transaction():
        await add(db, items, 0)
        seen = await asyncio.gather(*(count(db, items) for _ in range(20)))
        assert seen == [1] * 20
        await asyncio.gather(*(add(db, items, i) for i in range(1, 51)))
        assert await count(db, items) == 51
        if db.url.backend in SESSION_ID:
            ids = await asyncio.gather(
                *(db.fetch_val(SESSION_ID[db.url.backend]) for _ in range(10))
            )
            assert len(set(ids)) == 1
    assert await count(db, items) == 51


async def test_gather_inside_transaction_rolls_back_together(db: Database, items: str) -> None:
    with pytest.raises(ValueError, match="late"):
        async with db.transaction():

            async def late_failure() -> None:
                await add(db, items, 1000)
                raise ValueError("late")

            await asyncio.gather(*(add(db, items, i) for i in range(10)), late_failure())
    assert await count(db, items) == 0


async def test_failed_child_does_not_break_the_transaction(db: Database, items: str) -> None:
    # encode/databases #573: one child raises, the other's work still commits.
    async def fails() -> None:
        await db.fetch_val("SELECT 1")
        raise ValueError("oh")

    async def works() -> None:
        await add(db, items, 1)

    async with db.transaction():
        results = await asyncio.gather(fails(), works(), return_exceptions=True)
        assert isinstance(results[0], ValueError)
    assert await count(db, items) == 1


async def test_concurrent_transactions_are_isolated(url: str, items: str, db: Database) -> None:
    # encode/databases #134/#327/#340: each task's transaction has its own connection.
    started = asyncio.Event()
    release = asyncio.Event()

    async def writer(base: int, fail: bool) -> None:
        async with db.transaction():
            for i in range(5):
                await add(db, items, base + i)
            if base == 0:
                started.set()
                await asyncio.wait_for(release.wait(), 10)
            if fail:
                raise ValueError

    async def observer() -> None:
        await asyncio.wait_for(started.wait(), 10)
        # Writer 0 holds uncommitted rows: invisible outside its transaction.
        assert await count(db, items) in (0, 5, 10)
        release.set()

    if db.url.backend == "sqlite":
        # One writer at a time in SQLite: BEGIN IMMEDIATE queues the others.
        await asyncio.gather(writer(0, False), observer(), return_exceptions=False)
        await asyncio.gather(writer(100, True), writer(200, False), return_exceptions=True)
    else:
        await asyncio.gather(
            writer(0, False),
            writer(100, True),
            writer(200, False),
            observer(),
            return_exceptions=True,
        )
    ids = sorted(r.id for r in await db.fetch_all(f"SELECT id FROM {items}"))
    assert ids == [0, 1, 2, 3, 4, 200, 201, 202, 203, 204]


async def test_nested_transactions_in_concurrent_children(db: Database, items: str) -> None:
    # Savepoints of sibling tasks never interleave: each child's nested transaction
    # has the connection to itself until it ends.
    async def child(i: int) -> None:
        try:
            async with db.transaction():
                await add(db, items, i)
                await asyncio.sleep(0)
                await add(db, items, i + 1000)
                if i % 2:
                    raise ValueError(i)
        except ValueError:
            pass

    async with db.transaction():
        await asyncio.gather(*(child(i) for i in range(20)))
        assert await count(db, items) == 20
    ids = sorted(r.id for r in await db.fetch_all(f"SELECT id FROM {items}"))
    assert ids == sorted([*range(0, 20, 2), *range(1000, 1020, 2)])


async def test_sibling_statement_waits_for_nested_transaction(db: Database, items: str) -> None:
    order: list[str] = []
    inside = asyncio.Event()

    async def nested() -> None:
        async with db.transaction():
            await add(db, items, 1)
            inside.set()
            await asyncio.sleep(0.05)
            order.append("nested done")
            raise_ = False
            if raise_:
                raise AssertionError

    async def sibling() -> None:
        await asyncio.wait_for(inside.wait(), 10)
        await add(db, items, 2)  # waits until the savepoint above is released
        order.append("sibling ran")

    async with db.transaction():
        await asyncio.gather(nested(), sibling())
    assert order == ["nested done", "sibling ran"]
    assert await count(db, items) == 2


async def test_child_outliving_its_transaction_gets_a_clear_error(db: Database, items: str) -> None:
    gate = asyncio.Event()

    async def straggler() -> None:
        await asyncio.wait_for(gate.wait(), 10)
        await add(db, items, 1)

    async with db.transaction():
        task = asyncio.create_task(straggler())
        await asyncio.sleep(0)
    gate.set()
    with pytest.raises(TransactionError, match="already ended"):
        await asyncio.wait_for(task, 10)
    assert await count(db, items) == 0


async def test_transaction_committed_from_another_task(db: Database, items: str) -> None:
    tx = await db.transaction().start()
    await add(db, items, 1)
    await asyncio.create_task(tx.commit())  # ends it from another context
    assert tx.state == "committed"
    # This task's context still names the ended transaction: it falls back to the pool.
    await add(db, items, 2)
    assert await count(db, items) == 2
    assert db.pool_stats()["in_use"] == 0


async def test_connection_handle_shared_by_gather(db: Database) -> None:
    async with db.connection() as conn:
        values = await asyncio.gather(
            *(conn.fetch_val("SELECT :v + 0", {"v": i}) for i in range(30))
        )
        assert [int(v) for v in values] == list(range(30))


async def test_force_rollback_is_seen_by_every_task(url: str, items: str, db: Database) -> None:
    # encode/databases #38: all tasks, and transactions in any task, share the
    # rolled-back connection.
    async with db.force_rollback():

        async def worker(i: int) -> None:
            async with db.transaction():
                await add(db, items, i)

        await asyncio.gather(*(worker(i) for i in range(10)))
        await asyncio.create_task(add(db, items, 100))
        assert await count(db, items) == 11
    assert await count(db, items) == 0


async def test_query_inside_iterate_loop(db: Database, items: str) -> None:
    for i in range(6):
        await add(db, items, i)
    # Outside a transaction the loop body uses other pooled connections.
    total = 0
    async for row in db.iterate(f"SELECT id FROM {items} ORDER BY id", batch_size=2):
        total += int(await db.fetch_val("SELECT :v + 0", {"v": row.id}))
    assert total == 15
    async with db.transaction():
        rows = db.iterate(f"SELECT id FROM {items} ORDER BY id", batch_size=2)
        if db.url.backend == "mysql":
            # MySQL streams over the connection: a statement on it must wait for the
            # end — refused with a clear error instead of a deadlock or a protocol mess.
            with pytest.raises(InterfaceError, match="still streaming"):
                async with contextlib.aclosing(rows):
                    async for _row in rows:
                        await db.fetch_val("SELECT 1")
        else:
            seen = [int(await db.fetch_val("SELECT :v + 0", {"v": row.id})) async for row in rows]
            assert seen == list(range(6))
        # The connection is fine afterwards.
        assert await count(db, items) == 6


async def test_many_tasks_many_transactions_stress(db: Database, items: str) -> None:
    async def job(i: int) -> None:
        async with db.transaction():
            await add(db, items, i)
            async with db.transaction():
                await db.fetch_val("SELECT :v + 0", {"v": i})

    if db.url.backend == "sqlite":
        await asyncio.gather(*(job(i) for i in range(30)))
    else:
        await asyncio.gather(*(job(i) for i in range(60)))
    assert await count(db, items) == (30 if db.url.backend == "sqlite" else 60)
    assert db.pool_stats()["in_use"] == 0


async def test_cancelled_waiter_passes_the_gate_on(db: Database, items: str) -> None:
    async with db.transaction():
        waiters = [asyncio.create_task(add(db, items, i)) for i in range(5)]
        await asyncio.sleep(0)
        waiters[1].cancel()
        waiters[3].cancel()
        results = await asyncio.gather(*waiters, return_exceptions=True)
        assert sum(isinstance(r, asyncio.CancelledError) for r in results) <= 2
        assert await db.fetch_val("SELECT 1") == 1
    assert await count(db, items) >= 3
    assert db.pool_stats()["in_use"] == 0


async def test_two_databases_do_not_mix(url: str, db: Database) -> None:
    # (Two write transactions on one SQLite file in one task would wait on each other.)
    other = await open_database(url + "-other" if db.url.backend == "sqlite" else url)
    try:
        async with db.transaction(), other.transaction():
            assert await db.fetch_val("SELECT 1") == 1
            assert await other.fetch_val("SELECT 2") == 2
    finally:
        await other.disconnect()


async def test_transaction_ending_under_an_unfinished_stream(db: Database, items: str) -> None:
    for i in range(10):
        await add(db, items, i)
    with pytest.raises(ConnectionLost, match="still streaming"):
        async with db.connection() as conn, conn.transaction():
            await add(db, items, 50)
            rows = conn.iterate(f"SELECT id FROM {items} ORDER BY id", batch_size=2)
            async for _row in rows:
                break  # left suspended, holding the connection where it streams
            if db.url.backend != "mysql":
                # PostgreSQL and SQLite cursors in a transaction do not hold it:
                # simulate the MySQL case for them with a connection-level stream.
                await rows.aclose()
                raise ConnectionLost("still streaming (simulated)")
    assert await count(db, items) == 10
    assert db.pool_stats()["in_use"] == 0


async def test_connection_block_cancelled_while_waiting_for_its_child(
    server_backend: str, tmp_path: Path
) -> None:
    # The block ends while a task it started still runs a statement on its connection:
    # leaving waits for that statement. Cancelled while it waits, the block drops the
    # connection (the server ends the statement) and the pool serves fresh ones.
    url = backend_url(server_backend, tmp_path)
    db = await open_database(url, max_size=2)
    marker = unique_name()
    leaving = asyncio.Event()
    child: asyncio.Task[object] | None = None

    async def block() -> None:
        nonlocal child
        async with db.connection() as conn:
            child = asyncio.create_task(conn.fetch_val(f"{SLEEP[server_backend]} AS {marker}"))
            await wait_for_statement(url, server_backend, marker)
            leaving.set()

    try:
        parent = asyncio.create_task(block())
        await asyncio.wait_for(leaving.wait(), 10)
        await asyncio.sleep(0)  # the block's exit is now waiting for the child's statement
        parent.cancel()
        with pytest.raises(asyncio.CancelledError):
            await parent
        assert child is not None
        with pytest.raises(DatabaseError):
            await asyncio.wait_for(child, 10)
        assert db.pool_stats()["in_use"] == 0
        assert await db.fetch_val("SELECT 7") == 7
    finally:
        await db.disconnect()
