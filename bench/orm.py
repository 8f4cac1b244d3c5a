"""vivace.orm against Tortoise ORM, the SQLAlchemy async ORM, Piccolo, the Django ORM
(sync) and the raw driver: the operations of tortoise/orm-benchmarks, in one run.

    flock /tmp/vivace-bench.lock .venv/bin/python bench/orm.py \
        [--backends postgresql,mysql,sqlite] [--tests 1,2,3] [--rounds 3] \
        [--iterations 1000] [--concurrency 10] [--repeat K] [--quick]

Operations (rows per second, higher is better), as that suite defines them:
A insert one row at a time; B the same, each task in a transaction; C bulk insert;
D filter a level (large results, model objects); E 20 rows at a random offset;
F get by primary key; G filter to dicts; H filter to tuples; I update every field
of each object (saved one by one in a transaction per task); J update one field;
K delete one by one.  Tests: 1 a 4-column model; 2 the same with a self foreign key
and a self many-to-many; 3 the same with 32 more typed columns.  The async ORMs run
``--concurrency`` tasks at a time (10, as there); Django runs synchronously, as there.
The pools open their connections up front (as that suite opens Tortoise's:
minsize = maxsize = concurrency), so A does not time connection set-up; the raw driver
does what an application needs to get the values the ORMs return (the new key, JSON
encoded and decoded, SQLite's timestamps and decimals parsed: see orm_contenders.Raw).
G and H repeat: each task runs its query set (one filter per level) ``--repeat`` times
in the one timed operation, every contender the same number of times, and the rows/s
are all the rows read over the whole time (the same rows/s as one pass, measured over
more of them).  One pass is only 5 queries a task, 50 in all, 9-114 ms for the fastest
contender at 300 iterations (2026-12-07), so one round's G/H ratio moved by up to 2x
with the machine's load; by default (``--repeat 0``) K is chosen so that the fastest
contender's G or H lasts about ``READ_SECONDS``: K = READ_SECONDS x the fastest
contender's rows/s (``FASTEST``) / the rows of one pass (3 x iterations x concurrency).
The queries themselves are those of one pass.  F (get) repeats too: ``--get-repeat``
(default 10) times the suite's 2 x iterations gets; one pass was 600 gets at 300
iterations, 20-45 ms for the fastest contenders, and one run's get ratio moved by 2x with
no code change (2026-12-07).  Ten passes add about 3 minutes to a 300-iteration run of
all three backends.  D and E keep one pass: repeating them as well would make such a run
about 20 minutes longer (G and H: about 8).
Each round runs every contender on fresh tables (A..K in order); the table shows
medians over the rounds, the geometric mean of each contender, and vivace's ratios.
Every contender runs with the objects that exist when its setup ends frozen out of the
garbage collector (see ``own_heap``), as if in a process of its own (as that suite runs
each ORM).
Piccolo has no MySQL backend.  Servers: as the test suite (VIVACE_TEST_POSTGRES_URL ...).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import math
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import Any

sys.path.insert(0, os.path.dirname(__file__))

from orm_anchors import Django, Piccolo, SQLAlchemy
from orm_contenders import Contender, Raw, Tortoise, Vivace

LEVELS = [10, 20, 30, 40, 50]
OPS = "ABCDEFGHIJK"
NAMES = {
    "A": "insert: single",
    "B": "insert: batch",
    "C": "insert: bulk",
    "D": "filter: large",
    "E": "filter: small",
    "F": "get",
    "G": "filter: dict",
    "H": "filter: tuple",
    "I": "update: whole",
    "J": "update: partial",
    "K": "delete",
}


async def timed(work: Callable[[], Awaitable[int]]) -> float:
    start = time.perf_counter()
    rows = await asyncio.wait_for(work(), OP_TIMEOUT)
    return rows / (time.perf_counter() - start)


OP_TIMEOUT = 300.0  # one operation of one contender; a hang is a failure, not a stall
READ_SECONDS = 0.5
GET_REPEAT = 10  # F's passes (--get-repeat), see the docstring
# The fastest contender's G/H rows/s in the run of 2026-12-07 (docs/benchmarks.md: the
# raw driver's H on MySQL, 1.02M and 214k), by test: test 3's rows are 9x as wide.
FASTEST = {1: 1_000_000, 2: 1_000_000, 3: 220_000}


def read_repeat(test: int, n: int, conc: int) -> int:
    """G and H's default repeat (see the docstring): A-C leave 3n rows, each task reads
    them all once a pass."""
    return max(1, math.ceil(READ_SECONDS * FASTEST.get(test, FASTEST[1]) / (3 * n * conc)))


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


async def run_async(c: Contender, n: int, conc: int, repeat: int) -> dict[str, float]:
    per = max(1, n // conc)
    out: dict[str, float] = {}

    async def gather(job: Callable[[int], Awaitable[int]]) -> int:
        return sum(await asyncio.gather(*(job(i) for i in range(conc))))

    async def insert(transaction: bool, tag: str) -> int:
        async def job(i: int) -> int:
            async with c.task(transaction) as ctx:
                for k in range(per):
                    # The task's own connection or session, in a transaction or not.
                    await c.create(ctx, random.choice(LEVELS), f"{tag} {i}.{k}")
            return per

        return await gather(job)

    progress("  A")
    out["A"] = await timed(lambda: insert(False, "A"))
    out["B"] = await timed(lambda: insert(True, "B"))

    async def bulk() -> int:
        async def job(i: int) -> int:
            await c.bulk(None, [(random.choice(LEVELS), f"C {i}.{k}") for k in range(per)])
            return per

        return await gather(job)

    progress("  C")
    out["C"] = await timed(bulk)

    def reads(
        method: Callable[[Any, int], Awaitable[list[Any]]], passes: int = 1
    ) -> Callable[[], Awaitable[int]]:
        async def work() -> int:
            async def job(i: int) -> int:
                return sum([len(await method(None, lv)) for _ in range(passes) for lv in LEVELS])

            return await gather(job)

        return work

    out["D"] = await timed(reads(c.objects))
    total = 3 * per * conc

    async def small() -> int:
        async def job(i: int) -> int:
            count = 0
            for _ in range(max(1, n // 10 // conc)):
                for level in LEVELS:
                    count += len(
                        await c.page(None, level, random.randrange(max(1, total // 5 - 20)))
                    )
            return count

        return await gather(job)

    out["E"] = await timed(small)
    objs = await c.all()
    keys = [o[0] if isinstance(o, list) else o.id for o in objs]

    async def gets() -> int:
        each = 2 * n * GET_REPEAT // conc

        async def job(i: int) -> int:
            async with c.task(False) as ctx:
                for _ in range(each):
                    await c.get(ctx, random.choice(keys))
            return each

        return await gather(job)

    progress("  F")
    out["F"] = await timed(gets)
    out["G"] = await timed(reads(c.dicts, repeat))
    out["H"] = await timed(reads(c.tuples, repeat))
    chunk = max(1, len(objs) // conc)

    def changes(op: Callable[[Any, Any], Awaitable[None]]) -> Callable[[], Awaitable[int]]:
        async def work() -> int:
            return await gather(lambda i: one_by_one(c, objs[i * chunk : (i + 1) * chunk - 1], op))

        return work

    progress("  I")
    out["I"] = await timed(changes(lambda ctx, o: c.update_whole(ctx, o, random.choice(LEVELS))))
    objs = await c.all()
    out["J"] = await timed(changes(lambda ctx, o: c.update_partial(ctx, o, random.choice(LEVELS))))
    objs = await c.all()
    out["K"] = await timed(changes(c.delete))
    return out


async def one_by_one(
    c: Contender, part: list[Any], op: Callable[[Any, Any], Awaitable[None]]
) -> int:
    """One task's share of I, J or K: each object saved or deleted in turn, inside the
    task's own transaction."""
    async with c.task(True) as ctx:
        for obj in part:
            await op(ctx, obj)
    return len(part)


@contextlib.contextmanager
def own_heap() -> Any:
    """Run a contender's operations with every object that exists now frozen out of the
    cyclic garbage collector's reach (``gc.freeze``), as in a process of its own.

    This process imports all six contenders (Django, SQLAlchemy, Tortoise, Piccolo and
    the drivers: about 106,000 tracked objects after a round), so one full collection
    took 41-66 ms here (2026-12-07, MySQL test 1, 100 iterations) — longer than a whole
    operation of the faster contenders (600 gets: about 30 ms).  Which operation a full
    collection lands in is chance: in three 300-iteration MySQL rounds one fell in
    vivace.orm's D (0.15x the raw driver's rate that round, 0.6x-0.8x in the others),
    in PostgreSQL rounds in vivace.orm's D (41 ms) and F (63 ms: 0.37x), in
    Tortoise's H, and in SQLAlchemy's D and E in every round.  tortoise/orm-benchmarks
    runs each ORM in a process of its own, where a full collection walks only that
    ORM's objects; frozen here, a collection inside an operation walks only what the
    contender made since its setup, as it would there.  Every contender, the raw
    driver included, runs this way.
    """
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def run_django(c: Any, n: int, repeat: int) -> dict[str, float]:
    from django.db import transaction

    manager, alias = c.manager, c.alias
    out: dict[str, float] = {}

    def timed_sync(work: Callable[[], int]) -> float:
        start = time.perf_counter()
        rows = work()
        return rows / (time.perf_counter() - start)

    def insert_a() -> int:
        for k in range(n):
            manager.create(level=random.choice(LEVELS), text=f"A {k}")
        return n

    def insert_b() -> int:
        with transaction.atomic(using=alias):
            for k in range(n):
                manager.create(level=random.choice(LEVELS), text=f"B {k}")
        return n

    def insert_c() -> int:
        manager.bulk_create([c.model(level=random.choice(LEVELS), text=f"C {k}") for k in range(n)])
        return n

    out["A"], out["B"], out["C"] = timed_sync(insert_a), timed_sync(insert_b), timed_sync(insert_c)
    out["D"] = timed_sync(lambda: sum(len(list(manager.filter(level=lv))) for lv in LEVELS))
    total = 3 * n

    def small() -> int:
        count = 0
        for _ in range(max(1, n // 10)):
            for level in LEVELS:
                offset = random.randrange(max(1, total // 5 - 20))
                count += len(list(manager.filter(level=level)[offset : offset + 20]))
        return count

    out["E"] = timed_sync(small)
    keys = list(manager.values_list("id", flat=True))

    def gets() -> int:
        for _ in range(2 * n * GET_REPEAT):
            manager.get(id=random.choice(keys))
        return 2 * n * GET_REPEAT

    out["F"] = timed_sync(gets)
    passes = range(repeat)
    out["G"] = timed_sync(
        lambda: sum(len(list(manager.filter(level=lv).values())) for _ in passes for lv in LEVELS)
    )
    out["H"] = timed_sync(
        lambda: sum(
            len(list(manager.filter(level=lv).values_list())) for _ in passes for lv in LEVELS
        )
    )

    def changes(op: Callable[[Any], None]) -> Callable[[], int]:
        def work() -> int:
            objs = list(manager.all())
            with transaction.atomic(using=alias):
                for obj in objs:
                    op(obj)
            return len(objs)

        return work

    def whole(obj: Any) -> None:
        obj.level = random.choice(LEVELS)
        obj.text = f"{obj.text} Update"
        obj.save(using=alias)

    def partial(obj: Any) -> None:
        obj.level = random.choice(LEVELS)
        obj.save(using=alias, update_fields=["level"])

    out["I"] = timed_sync(changes(whole))
    out["J"] = timed_sync(changes(partial))
    out["K"] = timed_sync(changes(lambda obj: obj.delete(using=alias)))
    return out


def django_round(
    contender: Any, backend: str, test: int, path: str, n: int, repeat: int
) -> dict[str, float]:
    contender.setup_sync(backend, test, path)
    try:
        with own_heap():
            return run_django(contender, n, repeat)
    finally:
        contender.teardown_sync()


def contenders_for(backend: str) -> list[Contender]:
    chosen: list[Contender] = [Vivace(), Raw(), Tortoise(), SQLAlchemy()]
    if backend != "mysql":
        chosen.append(Piccolo())
    chosen.append(Django())
    return chosen


async def one_round(
    backend: str, test: int, n: int, conc: int, repeat: int
) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, float]] = {}
    contenders = contenders_for(backend)
    random.shuffle(contenders)  # no contender always runs first (warm caches, autovacuum)
    for contender in contenders:
        progress(f"{backend} test {test}: {contender.name}")
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "bench.sqlite3")
            if contender.sync:
                # Django refuses to run in the event loop's thread: one thread of its own
                # (its connections are per thread) runs setup, the operations, teardown.
                results[contender.name] = await asyncio.to_thread(
                    django_round, contender, backend, test, path, n, repeat
                )
            else:
                await contender.setup(backend, test, path)
                try:
                    with own_heap():
                        results[contender.name] = await run_async(contender, n, conc, repeat)
                finally:
                    await contender.teardown()
    return results


def geomean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values))


def report(
    backend: str, test: int, rounds: list[dict[str, dict[str, float]]], repeat: int
) -> dict[str, float]:
    names = list(rounds[0])
    order = [
        "vivace.orm",
        "raw driver",
        "Tortoise ORM",
        "SQLAlchemy async ORM",
        "Piccolo",
        "Django ORM (sync)",
    ]
    names = [n for n in order if n in names]
    medians = {n: {op: statistics.median(r[n][op] for r in rounds) for op in OPS} for n in names}
    print(
        f"\n#### {backend}, test {test} (rows/s, median of {len(rounds)} rounds; "
        f"G and H: {repeat} passes per task, F: {GET_REPEAT})\n"
    )
    print("| operation | " + " | ".join(names) + " |")
    print("| --- |" + " ---: |" * len(names))
    for op in OPS:
        cells = " | ".join(f"{medians[n][op]:,.0f}" for n in names)
        print(f"| {op} {NAMES[op]} | {cells} |")
    means = {n: geomean(list(medians[n].values())) for n in names}
    print("| **geometric mean** | " + " | ".join(f"**{means[n]:,.0f}**" for n in names) + " |")
    vivace = medians["vivace.orm"]
    ratios = ", ".join(
        f"{means['vivace.orm'] / means[n]:.2f}x {n}" for n in names if n != "vivace.orm"
    )
    print(f"\nvivace.orm geometric mean: {ratios}")
    # The >= 8x SQLAlchemy target against what the bare driver itself reaches here.
    print(
        f"raw driver geometric mean: "
        f"{means['raw driver'] / means['SQLAlchemy async ORM']:.2f}x SQLAlchemy async ORM"
    )
    raw = medians["raw driver"]
    print(
        f"values() {vivace['G'] / raw['G']:.2f}x, values_list() {vivace['H'] / raw['H']:.2f}x "
        f"the raw driver's fetch + dict/tuple (target >= 0.9); get by pk "
        f"{raw['F'] / vivace['F']:.2f}x the raw driver's time (target <= 1.3)"
    )
    return means


async def main() -> None:
    global GET_REPEAT
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="postgresql,mysql,sqlite")
    parser.add_argument("--tests", default="1,2,3")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--iterations", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument(
        "--repeat", type=int, default=0, help="G/H passes per task (0: about 0.5 s, see above)"
    )
    parser.add_argument("--get-repeat", type=int, default=GET_REPEAT, help="F's passes per task")
    parser.add_argument("--quick", action="store_true", help="1 round, 200 iterations")
    args = parser.parse_args()
    GET_REPEAT = max(1, args.get_repeat)
    if args.quick:
        args.rounds, args.iterations = 1, 200
    print(
        f"bench/orm.py: {args.iterations} iterations, concurrency {args.concurrency}, "
        f"{args.rounds} rounds, {time.strftime('%Y-%m-%d')}"
    )
    summary: dict[str, dict[int, dict[str, float]]] = {}
    for backend in args.backends.split(","):
        for test in (int(t) for t in args.tests.split(",")):
            repeat = args.repeat or read_repeat(test, args.iterations, args.concurrency)
            progress(f"{backend} test {test}: G and H {repeat} passes per task, F {GET_REPEAT}")
            rounds = [
                await one_round(backend, test, args.iterations, args.concurrency, repeat)
                for _ in range(args.rounds)
            ]
            summary.setdefault(backend, {})[test] = report(backend, test, rounds, repeat)
    print("\n#### geometric means over the tests (rows/s) and vivace.orm's ratios\n")
    for backend, tests in summary.items():
        names = list(next(iter(tests.values())))
        overall = {n: geomean([tests[t][n] for t in tests]) for n in names}
        ratios = ", ".join(
            f"{overall['vivace.orm'] / overall[n]:.2f}x {n}" for n in names if n != "vivace.orm"
        )
        print(f"- {backend}: {ratios}")


if __name__ == "__main__":
    asyncio.run(main())
