"""vivace.db against its anchors, one run per backend, interleaved rounds.

    flock /tmp/vivace-bench.lock .venv/bin/python bench/db.py [--backends postgresql,mysql,sqlite]
        [--rounds 5] [--quick]

Anchors (the ``bench`` extra installs them): the raw driver (asyncpg — both a plain
connection and its pool —, asyncmy, aiosqlite), encode/databases and SQLAlchemy's
async Core.  Operations: fetch one row by primary key, fetch 1000 rows and read every
value, single-row INSERTs (autocommit), and execute_many of 1000 rows.  Each round runs
every contender once per operation (A, B, C, A, B, C ...); reads come from a table
that never changes, writes go to another (UNLOGGED on PostgreSQL, so commits do not
wait for this shared machine's disk; ENGINE=MEMORY on MySQL unless --durable); the
table shows the median
microseconds per operation and each contender's time as a multiple of vivace's
(> 1 = slower than vivace).  Servers: as the test suite (VIVACE_TEST_POSTGRES_URL ...).
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
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from vivace.db import Database

TABLE = f"bench_db_{os.getpid()}"  # read: 1000 rows, never written during the run
WTABLE = f"bench_dbw_{os.getpid()}"  # write: inserts and execute_many go here
URLS = {
    "postgresql": os.environ.get(
        "VIVACE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
    ),
    "mysql": os.environ.get("VIVACE_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/test"),
}
OPS = {"fetch one": 400, "fetch 1000 rows": 15, "insert": 300, "execute_many 1000": 3}

Op = Callable[[], Awaitable[Any]]

md = sa.MetaData()
table = sa.Table(
    TABLE,
    md,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(50)),
    sa.Column("amount", sa.Integer),
    sa.Column("note", sa.String(100)),
)
wtable = sa.Table(
    WTABLE,
    md,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(50)),
    sa.Column("amount", sa.Integer),
    sa.Column("note", sa.String(100)),
)
MANY = [{"name": f"m{i}", "amount": i, "note": "z" * 40} for i in range(1000)]


def consume_mapping(rows: Any) -> int:
    total = 0
    for row in rows:
        total += row["amount"] + len(row["name"]) + len(row["note"]) + row["id"]
    return total


def consume_attr(rows: Any) -> int:
    total = 0
    for row in rows:
        total += row.amount + len(row.name) + len(row.note) + row.id
    return total


class Contender:
    def __init__(self, name: str) -> None:
        self.name = name
        self.ops: dict[str, Op] = {}
        self.close: Callable[[], Awaitable[None]] | None = None


async def vivace(url: str) -> list[Contender]:
    db = Database(url, max_size=10)
    await db.connect()
    one = f"SELECT id, name, amount, note FROM {TABLE} WHERE id = :id"
    many = f"SELECT id, name, amount, note FROM {TABLE} ORDER BY id LIMIT 1000"
    ins = f"INSERT INTO {WTABLE} (name, amount, note) VALUES (:name, :amount, :note)"
    raw = Contender("vivace.db")
    raw.ops = {
        "fetch one": lambda: db.fetch_one(one, {"id": 7}),
        "fetch 1000 rows": lambda: _then(db.fetch_all(many), consume_mapping),
        "insert": lambda: db.execute(ins, {"name": "a", "amount": 1, "note": "b"}),
        "execute_many 1000": lambda: db.execute_many(ins, MANY),
    }
    core = Contender("vivace.db (Core stmt)")
    sel_one = sa.select(table).where(table.c.id == 7)
    sel_many = sa.select(table).order_by(table.c.id).limit(1000)
    core.ops = {
        "fetch one": lambda: db.fetch_one(sa.select(table).where(table.c.id == 7)),
        "fetch 1000 rows": lambda: _then(db.fetch_all(sel_many), consume_mapping),
        "insert": lambda: db.execute(wtable.insert(), {"name": "a", "amount": 1, "note": "b"}),
        "execute_many 1000": lambda: db.execute_many(wtable.insert(), MANY),
    }
    del sel_one
    raw.close = db.disconnect
    return [raw, core]


async def _then(awaitable: Awaitable[Any], fn: Callable[[Any], Any]) -> Any:
    return fn(await awaitable)


async def databases_contender(url: str) -> Contender:
    import databases

    scheme = {
        "postgresql": "postgresql+asyncpg",
        "mysql": "mysql+asyncmy",
        "sqlite": "sqlite+aiosqlite",
    }
    backend, rest = url.split(":", 1)
    pool = {} if backend == "sqlite" else {"min_size": 1, "max_size": 10}
    db = databases.Database(scheme[backend] + ":" + rest, **pool)
    await db.connect()
    one = f"SELECT id, name, amount, note FROM {TABLE} WHERE id = :id"
    many = f"SELECT id, name, amount, note FROM {TABLE} ORDER BY id LIMIT 1000"
    ins = f"INSERT INTO {WTABLE} (name, amount, note) VALUES (:name, :amount, :note)"
    c = Contender("encode/databases")
    c.ops = {
        "fetch one": lambda: db.fetch_one(one, {"id": 7}),
        "fetch 1000 rows": lambda: _then(db.fetch_all(many), consume_mapping),
        "insert": lambda: db.execute(ins, {"name": "a", "amount": 1, "note": "b"}),
        "execute_many 1000": lambda: db.execute_many(ins, MANY),
    }
    c.close = db.disconnect
    return c


async def sqlalchemy_contender(url: str) -> Contender:
    scheme = {
        "postgresql": "postgresql+asyncpg",
        "mysql": "mysql+asyncmy",
        "sqlite": "sqlite+aiosqlite",
    }
    backend, rest = url.split(":", 1)
    pool = {} if backend == "sqlite" else {"pool_size": 10}
    engine = create_async_engine(scheme[backend] + ":" + rest, **pool)
    sel_many = sa.select(table).order_by(table.c.id).limit(1000)

    async def one() -> Any:
        async with engine.connect() as conn:
            return (await conn.execute(sa.select(table).where(table.c.id == 7))).first()

    async def many() -> Any:
        async with engine.connect() as conn:
            return consume_attr((await conn.execute(sel_many)).all())

    async def insert() -> Any:
        async with engine.begin() as conn:
            await conn.execute(wtable.insert(), {"name": "a", "amount": 1, "note": "b"})

    async def execmany() -> Any:
        async with engine.begin() as conn:
            await conn.execute(wtable.insert(), MANY)

    c = Contender("SQLAlchemy async Core")
    c.ops = {
        "fetch one": one,
        "fetch 1000 rows": many,
        "insert": insert,
        "execute_many 1000": execmany,
    }
    c.close = engine.dispose
    return c


async def raw_contenders(backend: str, url: str) -> list[Contender]:
    one_args = (7,)
    rows_tuples = [(r["name"], r["amount"], r["note"]) for r in MANY]
    if backend == "postgresql":
        import asyncpg

        conn = await asyncpg.connect(url)
        pool = await asyncpg.create_pool(url, min_size=1, max_size=10)
        one = f"SELECT id, name, amount, note FROM {TABLE} WHERE id = $1"
        many = f"SELECT id, name, amount, note FROM {TABLE} ORDER BY id LIMIT 1000"
        ins = f"INSERT INTO {WTABLE} (name, amount, note) VALUES ($1, $2, $3)"
        c = Contender("raw asyncpg (connection)")
        c.ops = {
            "fetch one": lambda: conn.fetchrow(one, *one_args),
            "fetch 1000 rows": lambda: _then(conn.fetch(many), consume_mapping),
            "insert": lambda: conn.execute(ins, "a", 1, "b"),
            "execute_many 1000": lambda: conn.executemany(ins, rows_tuples),
        }
        c.close = conn.close
        p = Contender("raw asyncpg (pool)")
        p.ops = {
            "fetch one": lambda: pool.fetchrow(one, *one_args),
            "fetch 1000 rows": lambda: _then(pool.fetch(many), consume_mapping),
            "insert": lambda: pool.execute(ins, "a", 1, "b"),
            "execute_many 1000": lambda: pool.executemany(ins, rows_tuples),
        }
        p.close = pool.close
        return [c, p]
    if backend == "mysql":
        import asyncmy
        from asyncmy.constants.CLIENT import FOUND_ROWS

        from vivace.db import DatabaseURL

        u = DatabaseURL(url)
        conn = await asyncmy.connect(
            host=u.host,
            port=u.port or 3306,
            user=u.username,
            password=u.password or "",
            database=u.database,
            autocommit=True,
            client_flag=FOUND_ROWS,
        )
        cur = conn.cursor()
        one = f"SELECT id, name, amount, note FROM {TABLE} WHERE id = %s"
        many = f"SELECT id, name, amount, note FROM {TABLE} ORDER BY id LIMIT 1000"
        ins = f"INSERT INTO {WTABLE} (name, amount, note) VALUES (%s, %s, %s)"

        async def fetch_one() -> Any:
            await cur.execute(one, one_args)
            return await cur.fetchone()

        async def fetch_many() -> Any:
            await cur.execute(many)
            total = 0
            for row in await cur.fetchall():  # tuples: by position
                total += row[2] + len(row[1]) + len(row[3]) + row[0]
            return total

        c = Contender("raw asyncmy (connection)")
        c.ops = {
            "fetch one": fetch_one,
            "fetch 1000 rows": fetch_many,
            "insert": lambda: cur.execute(ins, ("a", 1, "b")),
            "execute_many 1000": lambda: cur.executemany(ins, rows_tuples),
        }

        async def close() -> None:
            conn.close()

        c.close = close
        return [c]
    import aiosqlite

    path = url.split("///", 1)[1]
    conn = await aiosqlite.connect(path, isolation_level=None)
    one = f"SELECT id, name, amount, note FROM {TABLE} WHERE id = ?"
    many = f"SELECT id, name, amount, note FROM {TABLE} ORDER BY id LIMIT 1000"
    ins = f"INSERT INTO {WTABLE} (name, amount, note) VALUES (?, ?, ?)"

    async def a_one() -> Any:
        async with conn.execute(one, one_args) as cur:
            return await cur.fetchone()

    async def a_many() -> Any:
        async with conn.execute(many) as cur:
            total = 0
            for row in await cur.fetchall():
                total += row[2] + len(row[1]) + len(row[3]) + row[0]
            return total

    c = Contender("raw aiosqlite")
    c.ops = {
        "fetch one": a_one,
        "fetch 1000 rows": a_many,
        "insert": lambda: conn.execute(ins, ("a", 1, "b")),
        "execute_many 1000": lambda: conn.executemany(ins, rows_tuples),
    }
    c.close = conn.close
    return [c]


async def timed(fn: Op, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        await fn()
    return (time.perf_counter() - start) / n * 1e6


async def bench_backend(
    backend: str, url: str, rounds: int, scale: float, durable: bool = False
) -> str:
    setup = Database(url)
    await setup.connect()
    for name, t in ((TABLE, table), (WTABLE, wtable)):
        await setup.execute(f"DROP TABLE IF EXISTS {name}")
        create = str(sa.schema.CreateTable(t).compile(dialect=setup.dialect))
        if backend == "postgresql" and t is wtable:
            # Unlogged: commits do not wait for the disk, whose latency on this shared
            # machine would drown the client-side differences measured here.
            create = create.replace("CREATE TABLE", "CREATE UNLOGGED TABLE", 1)
        if backend == "mysql" and t is wtable and not durable:
            create += " ENGINE=MEMORY"  # the same, for MySQL (see --durable)
        await setup.execute(create)
    await setup.execute_many(table.insert(), MANY)
    if backend != "sqlite":
        await setup.execute(f"ANALYZE {'TABLE ' if backend == 'mysql' else ''}{TABLE}")
    contenders: list[Contender] = []
    try:
        contenders += await vivace(url)
        contenders += await raw_contenders(backend, url)
        contenders.append(await databases_contender(url))
        contenders.append(await sqlalchemy_contender(url))
        times: dict[tuple[str, str], list[float]] = {}
        for fn in (c.ops[op] for c in contenders for op in OPS):  # warm-up
            await fn()
        for _ in range(rounds):
            await setup.execute(f"DELETE FROM {WTABLE}")  # same table size every round
            for op, n in OPS.items():
                count = max(1, int(n * scale))
                for c in contenders:
                    times.setdefault((c.name, op), []).append(await timed(c.ops[op], count))
    finally:
        for c in contenders:
            if c.close is not None:
                await c.close()
        await setup.execute(f"DROP TABLE IF EXISTS {TABLE}")
        await setup.execute(f"DROP TABLE IF EXISTS {WTABLE}")
        await setup.disconnect()
    lines = [f"### {backend}", ""]
    header = "| operation | " + " | ".join(c.name for c in contenders) + " |"
    lines += [header, "|" + " --- |" * (len(contenders) + 1)]
    base = contenders[0].name
    for op in OPS:
        ours = statistics.median(times[(base, op)])
        cells = []
        for c in contenders:
            med = statistics.median(times[(c.name, op)])
            cells.append(
                f"{med:,.0f} µs" if c.name == base else f"{med:,.0f} µs ({med / ours:.2f}x)"
            )
        lines.append(f"| {op} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backends", default="postgresql,mysql,sqlite")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="fewer iterations per round")
    parser.add_argument(
        "--durable",
        action="store_true",
        help="MySQL writes to InnoDB (each commit waits for the disk) instead of MEMORY",
    )
    args = parser.parse_args()
    scale = 0.25 if args.quick else 1.0
    print(f"python {sys.version.split()[0]}, rounds {args.rounds}, iterations per round {OPS}")
    print("cells: median µs per operation (that contender's time / vivace.db's time)\n")
    with tempfile.TemporaryDirectory() as tmp:
        urls = dict(URLS, sqlite=f"sqlite:///{tmp}/bench.sqlite3")
        for backend in args.backends.split(","):
            print(await bench_backend(backend, urls[backend], args.rounds, scale, args.durable))
            print()


if __name__ == "__main__":
    asyncio.run(main())
