"""Driver choice for vivace.db: asyncmy vs aiomysql (MySQL/MariaDB), aiosqlite vs a thread.

    flock /tmp/vivace-bench.lock .venv/bin/python bench/db_drivers.py [--rounds 7]

Each round runs every candidate once per operation, interleaved (A, B, A, B, ...), on
the same table; the table prints medians (microseconds per operation) and ratios. The
SQLite "thread" candidate is vivace.db's own backend (one worker thread per connection,
one thread hop per query); aiosqlite is used through its public API as its users do.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable

MYSQL = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": "", "db": "test"}
TABLE = f"bench_drv_{os.getpid()}"
N_ONE = 2000
N_INSERT = 1000

Op = Callable[[], Awaitable[None]]


async def timed(fn: Op, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        await fn()
    return (time.perf_counter() - start) / n * 1e6


async def mysql_candidates() -> dict[str, dict[str, tuple[Op, int]]]:
    import aiomysql
    import asyncmy

    setup = await asyncmy.connect(**MYSQL, autocommit=True)
    async with setup.cursor() as cur:
        await cur.execute(f"DROP TABLE IF EXISTS {TABLE}")
        await cur.execute(
            f"CREATE TABLE {TABLE} (id INT PRIMARY KEY AUTO_INCREMENT, name VARCHAR(50),"
            " amount INT, note VARCHAR(100))"
        )
        await cur.executemany(
            f"INSERT INTO {TABLE} (name, amount, note) VALUES (%s, %s, %s)",
            [(f"name{i}", i, "x" * 40) for i in range(1000)],
        )
    setup.close()

    out: dict[str, dict[str, tuple[Op, int]]] = {}
    conns = {
        "asyncmy": await asyncmy.connect(**MYSQL, autocommit=True),
        "aiomysql": await aiomysql.connect(**MYSQL, autocommit=True),
    }
    rows = [(f"n{i}", i, "y" * 40) for i in range(1000)]
    for name, conn in conns.items():
        cur = conn.cursor()
        if asyncio.iscoroutine(cur):
            cur = await cur

        async def one(cur=cur) -> None:
            await cur.execute(f"SELECT id, name, amount, note FROM {TABLE} WHERE id = %s", (7,))
            await cur.fetchone()

        async def many(cur=cur) -> None:
            await cur.execute(f"SELECT id, name, amount, note FROM {TABLE} LIMIT 1000")
            await cur.fetchall()

        async def insert(cur=cur) -> None:
            await cur.execute(
                f"INSERT INTO {TABLE} (name, amount, note) VALUES (%s, %s, %s)", ("a", 1, "b")
            )

        async def execmany(cur=cur) -> None:
            await cur.executemany(
                f"INSERT INTO {TABLE} (name, amount, note) VALUES (%s, %s, %s)", rows
            )

        out[name] = {
            "fetch one": (one, N_ONE),
            "fetch 1000": (many, 50),
            "insert": (insert, N_INSERT),
            "execute_many 1000": (execmany, 5),
        }
    return out


async def mysql_cleanup() -> None:
    import asyncmy

    conn = await asyncmy.connect(**MYSQL, autocommit=True)
    async with conn.cursor() as cur:
        await cur.execute(f"DROP TABLE IF EXISTS {TABLE}")
    conn.close()


async def sqlite_candidates(path: str) -> dict[str, dict[str, tuple[Op, int]]]:
    import aiosqlite

    from vivace.db import Database

    db = Database(f"sqlite:///{path}")
    await db.connect()
    await db.execute(
        f"CREATE TABLE {TABLE} (id INTEGER PRIMARY KEY, name TEXT, amount INT, note TEXT)"
    )
    await db.execute_many(
        f"INSERT INTO {TABLE} (name, amount, note) VALUES (:n, :a, :t)",
        [{"n": f"name{i}", "a": i, "t": "x" * 40} for i in range(1000)],
    )
    conn = await aiosqlite.connect(path, isolation_level=None)
    rows = [(f"n{i}", i, "y" * 40) for i in range(1000)]
    sel_one = f"SELECT id, name, amount, note FROM {TABLE} WHERE id = ?"
    sel_many = f"SELECT id, name, amount, note FROM {TABLE} LIMIT 1000"
    ins = f"INSERT INTO {TABLE} (name, amount, note) VALUES (?, ?, ?)"

    async def a_one() -> None:
        async with conn.execute(sel_one, (7,)) as cur:
            await cur.fetchone()

    async def a_many() -> None:
        async with conn.execute(sel_many) as cur:
            await cur.fetchall()

    async def a_insert() -> None:
        await conn.execute(ins, ("a", 1, "b"))

    async def a_execmany() -> None:
        await conn.executemany(ins, rows)

    vrows = [{"n": n, "a": a, "t": t} for n, a, t in rows]

    async def v_one() -> None:
        await db.fetch_one(f"SELECT id, name, amount, note FROM {TABLE} WHERE id = :id", {"id": 7})

    async def v_many() -> None:
        await db.fetch_all(sel_many)

    async def v_insert() -> None:
        await db.execute(
            f"INSERT INTO {TABLE} (name, amount, note) VALUES (:n, :a, :t)",
            {"n": "a", "a": 1, "t": "b"},
        )

    async def v_execmany() -> None:
        await db.execute_many(
            f"INSERT INTO {TABLE} (name, amount, note) VALUES (:n, :a, :t)", vrows
        )

    return {
        "aiosqlite (raw)": {
            "fetch one": (a_one, N_ONE),
            "fetch 1000": (a_many, 50),
            "insert": (a_insert, N_INSERT),
            "execute_many 1000": (a_execmany, 5),
        },
        "vivace thread (full Database API)": {
            "fetch one": (v_one, N_ONE),
            "fetch 1000": (v_many, 50),
            "insert": (v_insert, N_INSERT),
            "execute_many 1000": (v_execmany, 5),
        },
    }


async def run(cands: dict[str, dict[str, tuple[Op, int]]], rounds: int) -> None:
    names = list(cands)
    ops = list(cands[names[0]])
    results: dict[tuple[str, str], list[float]] = {}
    for _ in range(rounds):
        for op in ops:
            for name in names:
                fn, n = cands[name][op]
                results.setdefault((name, op), []).append(await timed(fn, n))
    base = names[0]
    print(f"| operation | {' | '.join(f'{n} (µs)' for n in names)} | ratio {names[1]}/{base} |")
    print("| --- " * (len(names) + 2) + "|")
    for op in ops:
        meds = [statistics.median(results[(n, op)]) for n in names]
        print(f"| {op} | {' | '.join(f'{m:.1f}' for m in meds)} | {meds[1] / meds[0]:.2f} |")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, rounds {args.rounds}\n\nMySQL/MariaDB:\n")
    try:
        await run(await mysql_candidates(), args.rounds)
    finally:
        await mysql_cleanup()
    print("\nSQLite (file in a temp dir):\n")
    with tempfile.TemporaryDirectory() as tmp:
        await run(await sqlite_candidates(os.path.join(tmp, "bench.sqlite3")), args.rounds)


if __name__ == "__main__":
    asyncio.run(main())
