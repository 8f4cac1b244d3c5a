"""vivace.orm against the raw driver and Tortoise ORM on bench/orm.py's writes to stored
objects only, many rounds: I (update every field, ``obj.save()``), J (update one field,
``save(update_fields=["level"])``) and K (``obj.delete()``).

    flock /tmp/vivace-bench.lock .venv/bin/python bench/orm_writes.py \
        [--backends postgresql,mysql,sqlite] [--tests 1,3] [--rounds 9] [--rows 900]

bench/orm.py times each of I, J and K once per round, each over the rows its A-C left
(900 at 300 iterations: 25-70 ms a phase on this machine), three rounds in a run of
several minutes: one figure moves by 1.5x between runs, and a run's ranking of two
contenders within 1.3x of each other is chance.  Here each contender gets a fresh model
and table per round (as there: the first save() and delete() of a model, which build
its statements, are timed too), ``--rows`` rows, then I, J and K exactly as bench/orm.py
runs them (10 tasks, each saving or deleting its share one by one inside its own
transaction), for ``--rounds`` rounds with the order of the contenders rotating.  Every
contender runs with the heap frozen as in bench/orm.py (``own_heap``).  It prints the
medians of rows per second and of this process's CPU time per row (SQLite's work runs in
threads of this process, so it is in that CPU time; the servers' is not), and vivace's
ratios (rows/s over the other's, above 1: vivace.orm is faster).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import Any

sys.path.insert(0, os.path.dirname(__file__))

from orm_contenders import Contender, Raw, Tortoise, Vivace

from orm import LEVELS, one_by_one, own_heap

CONCURRENCY = 10
OPS = "IJK"


async def changes(c: Contender, op: Callable[[Any, Any], Awaitable[None]]) -> tuple[float, float]:
    """Rows per second and CPU microseconds per row of one of I, J, K (bench/orm.py's)."""
    objs = await c.all()
    chunk = max(1, len(objs) // CONCURRENCY)

    wall, cpu = time.perf_counter(), time.process_time()
    rows = sum(
        await asyncio.gather(
            *(one_by_one(c, objs[i * chunk : (i + 1) * chunk - 1], op) for i in range(CONCURRENCY))
        )
    )
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return rows / wall, cpu / rows * 1e6


async def one_round(c: Contender, backend: str, test: int, rows: int, path: str) -> dict[str, Any]:
    await c.setup(backend, test, path)
    try:
        with own_heap():
            per = rows // CONCURRENCY
            await asyncio.gather(
                *(
                    c.bulk(None, [(random.choice(LEVELS), f"row {i}.{k}") for k in range(per)])
                    for i in range(CONCURRENCY)
                )
            )
            return {
                "I": await changes(c, lambda ctx, o: c.update_whole(ctx, o, random.choice(LEVELS))),
                "J": await changes(
                    c, lambda ctx, o: c.update_partial(ctx, o, random.choice(LEVELS))
                ),
                "K": await changes(c, c.delete),
            }
    finally:
        await c.teardown()


async def compare(backend: str, test: int, args: argparse.Namespace, folder: str) -> None:
    contenders: list[Contender] = [Vivace(), Raw(), Tortoise()]
    results: dict[str, list[dict[str, Any]]] = {c.name: [] for c in contenders}
    for r in range(args.rounds):
        shift = r % len(contenders)
        for c in contenders[shift:] + contenders[:shift]:
            path = os.path.join(folder, f"w{r}{test}{c.name[:3]}.sqlite3")
            results[c.name].append(await one_round(c, backend, test, args.rows, path))
    median = {
        name: {op: [statistics.median(x[op][k] for x in runs) for k in (0, 1)] for op in OPS}
        for name, runs in results.items()
    }
    v = median["vivace.orm"]
    for op in OPS:
        cells = " | ".join(
            f"{median[c.name][op][0]:,.0f} ({median[c.name][op][1]:.0f})" for c in contenders
        )
        ratios = " | ".join(f"{v[op][0] / median[c.name][op][0]:.2f}x" for c in contenders[1:])
        print(f"| {backend} {test} | {op} | {cells} | {ratios} |", flush=True)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="postgresql,mysql,sqlite")
    parser.add_argument("--tests", default="1,3")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--rows", type=int, default=900)
    args = parser.parse_args()
    print(
        f"bench/orm_writes.py: medians of {args.rounds} rounds, {args.rows} rows, "
        f"{CONCURRENCY} tasks, {time.strftime('%Y-%m-%d')}; rows/s (CPU us/row)\n"
    )
    print(
        "| backend, test | op | vivace.orm | raw driver | Tortoise ORM | "
        "vivace / raw | vivace / Tortoise |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    with tempfile.TemporaryDirectory() as folder:
        for backend in args.backends.split(","):
            for test in (int(t) for t in args.tests.split(",")):
                await compare(backend, test, args, folder)


if __name__ == "__main__":
    asyncio.run(main())
