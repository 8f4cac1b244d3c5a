"""CPU time per operation of vivace.orm and of the raw driver (bench/orm.py's
contenders), one operation at a time: what the ORM costs this process on top of the
driver, whatever the database server's own time (which bench/orm.py's rows/s include).

    flock /tmp/vivace-bench.lock .venv/bin/python bench/orm_cpu.py \
        [--backends postgresql,mysql,sqlite] [--tests 1,3] [--rounds 5]

Per operation (bench/orm.py's letters): A insert one row; C bulk insert (50-row
batches; per row); D filter to objects, G to dicts, H to tuples (per row, 1,000-row
results); F get by primary key; I update every field; J update one field; K delete one
object at a time (200 rows inserted and loaded for each batch, outside the timing).  Each is
timed with ``time.process_time`` over a batch, the best of ``--rounds`` batches.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from typing import Any

sys.path.insert(0, os.path.dirname(__file__))

from orm_contenders import Contender, Raw, Vivace

OPS = "ACDFGHIJK"


async def batch(c: Contender, op: str, objs: list[Any]) -> tuple[float, int]:
    """CPU seconds of one batch of ``op`` and the rows it handled."""
    if op == "K":
        await c.bulk(None, [(30, "K")] * 200)
        doomed = [o for o in await c.all() if (o[2] if isinstance(o, list) else o.level) == 30]
        start = time.process_time()
        async with c.task(True) as ctx:
            for obj in doomed:
                await c.delete(ctx, obj)
        return time.process_time() - start, len(doomed)
    start = time.process_time()
    if op == "A":
        for _ in range(200):
            await c.create(None, 10, "A")
        rows = 200
    elif op == "C":
        for _ in range(4):
            await c.bulk(None, [(10, "C")] * 50)
        rows = 200
    elif op in "DGH":
        read = {"D": c.objects, "G": c.dicts, "H": c.tuples}[op]
        rows = sum([len(await read(None, 20)) for _ in range(3)])
    elif op == "F":
        keys = [o[0] if isinstance(o, list) else o.id for o in objs[:200]]
        async with c.task(False) as ctx:
            for key in keys:
                await c.get(ctx, key)
        rows = len(keys)
    else:
        change = c.update_whole if op == "I" else c.update_partial
        async with c.task(True) as ctx:
            for obj in objs[:200]:
                await change(ctx, obj, 10)
        rows = min(200, len(objs))
    return time.process_time() - start, rows


async def measure(c: Contender, rounds: int) -> dict[str, float]:
    for _ in range(5):  # the 1,000 rows D, G and H read (PostgreSQL: < 32,767 parameters)
        await c.bulk(None, [(20, "D")] * 200)
    objs = await c.all()
    out = {}
    for op in OPS:
        await batch(c, op, objs)  # warm: statements compiled and prepared
        best = float("inf")
        for _ in range(rounds):
            seconds, rows = await batch(c, op, objs)
            best = min(best, seconds / rows)
        out[op] = best * 1e6
    return out


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="postgresql,mysql,sqlite")
    parser.add_argument("--tests", default="1,3")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(f"bench/orm_cpu.py: best of {args.rounds} batches, {time.strftime('%Y-%m-%d')}")
    print("\n| backend, test | contender | " + " | ".join(OPS) + " |")
    print("| --- | --- |" + " ---: |" * len(OPS))
    for backend in args.backends.split(","):
        for test in (int(t) for t in args.tests.split(",")):
            results = {}
            for contender in (Vivace(), Raw()):
                with tempfile.TemporaryDirectory() as folder:
                    await contender.setup(backend, test, os.path.join(folder, "cpu.sqlite3"))
                    try:
                        results[contender.name] = await measure(contender, args.rounds)
                    finally:
                        await contender.teardown()
            for name, cpu in results.items():
                cells = " | ".join(f"{cpu[op]:.1f}" for op in OPS)
                print(f"| {backend} {test} | {name} (us/row) | {cells} |")
            ratio = results["vivace.orm"]
            raw = results["raw driver"]
            cells = " | ".join(f"{ratio[op] / raw[op]:.2f}x" for op in OPS)
            print(f"| {backend} {test} | vivace / raw | {cells} |")


if __name__ == "__main__":
    asyncio.run(main())
