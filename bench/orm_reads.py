"""vivace.orm against the raw driver on bench/orm.py's reads only, interleaved: F (get by
primary key), G (filter to dicts), H (filter to tuples) and D (filter to objects).

    flock /tmp/vivace-bench.lock .venv/bin/python bench/orm_reads.py \
        [--backends mysql,sqlite] [--tests 1,2] [--ops FGH] [--rounds 7] [--queries 1000] \
        [--rows 180] [--grow]

bench/orm.py runs each contender once per round, each operation once, in a run of
several minutes on a shared machine: a single F, G or H figure can move by 2x between
runs.  Here both contenders' tables are filled once (``--rows`` rows per level: 180 is
what bench/orm.py's 300 iterations leave), then each operation runs ``--rounds`` times,
vivace and the raw driver alternating (who goes first alternates too), ``--queries``
queries per round from 10 concurrent tasks as in bench/orm.py.  It prints the medians
of wall time and of this process's CPU time per query and the raw driver's time over
vivace's (above 1: vivace.orm is faster; bench/orm.py's G/H ratios read the same way,
its get ratio the other way round).  ``--grow`` first runs 10 concurrent transactions,
which leaves vivace's SQLite pool at 10 connections, as bench/orm.py's A-C do.
Every query takes its connection from the pool, the raw driver's too (bench/orm.py's F
lets the raw driver hold one connection per task: asyncpg's pool acquire is most of the
difference between the two F figures).
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

sys.path.insert(0, os.path.dirname(__file__))

from orm_contenders import Contender, Raw, Vivace

LEVELS = (10, 20, 30, 40, 50)
CONCURRENCY = 10


def reader(c: Contender, op: str, keys: list[Any]) -> Callable[[int], Awaitable[Any]]:
    if op == "F":
        return lambda i: c.get(None, keys[i % len(keys)])
    method = {"D": c.objects, "G": c.dicts, "H": c.tuples}[op]
    return lambda i: method(None, LEVELS[i % len(LEVELS)])


async def one(c: Contender, op: str, queries: int) -> tuple[float, float]:
    """Wall and CPU microseconds per query of one round of ``op``."""
    objs = await c.all()
    read = reader(c, op, [o[0] if isinstance(o, list) else o.id for o in objs])

    async def task() -> None:
        for i in range(queries // CONCURRENCY):
            await read(i)

    wall, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(task() for _ in range(CONCURRENCY)))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return wall / queries * 1e6, cpu / queries * 1e6


async def grow(c: Contender) -> None:
    async def task() -> None:
        async with c.task(True) as ctx:
            for _ in range(5):
                await c.create(ctx, 10, "grow")

    await asyncio.gather(*(task() for _ in range(CONCURRENCY)))


async def compare(backend: str, test: int, args: argparse.Namespace, folder: str) -> None:
    contenders: list[Contender] = [Vivace(), Raw()]
    for c in contenders:
        await c.setup(backend, test, os.path.join(folder, f"{c.name[:3]}{test}.sqlite3"))
    try:
        for c in contenders:
            for level in LEVELS:
                await c.bulk(None, [(level, "row")] * args.rows)
            if args.grow:
                await grow(c)
        for op in args.ops:
            times: dict[str, list[tuple[float, float]]] = {c.name: [] for c in contenders}
            for r in range(args.rounds):
                for c in contenders if r % 2 == 0 else contenders[::-1]:
                    times[c.name].append(await one(c, op, args.queries))
            wall = {n: statistics.median(w for w, _ in t) for n, t in times.items()}
            cpu = {n: statistics.median(c for _, c in t) for n, t in times.items()}
            v, r_ = "vivace.orm", "raw driver"
            print(
                f"| {backend} {test} | {op} | {wall[v]:.0f} | {wall[r_]:.0f} | "
                f"{wall[r_] / wall[v]:.2f}x | {cpu[v]:.0f} | {cpu[r_]:.0f} |"
            )
    finally:
        for c in contenders:
            await c.teardown()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="postgresql,mysql,sqlite")
    parser.add_argument("--tests", default="1,2")
    parser.add_argument("--ops", default="FGH")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--rows", type=int, default=180)
    parser.add_argument("--grow", action="store_true")
    args = parser.parse_args()
    print(
        f"bench/orm_reads.py: {args.rounds} rounds of {args.queries} queries, "
        f"{args.rows} rows a level, grow={args.grow}, {time.strftime('%Y-%m-%d')}\n"
    )
    print(
        "| backend, test | op | vivace wall (us/query) | raw wall (us/query) | "
        "raw time / vivace time | vivace CPU (us/query) | raw CPU (us/query) |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    with tempfile.TemporaryDirectory() as folder:
        for backend in args.backends.split(","):
            for test in (int(t) for t in args.tests.split(",")):
                await compare(backend, test, args, folder)


if __name__ == "__main__":
    asyncio.run(main())
