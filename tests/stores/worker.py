"""A store client in a process of its own, for the cross-process atomicity tests.

    python -m tests.stores.worker BACKEND URL NAME ROUNDS

Waits for "go" on stdin (so every process starts together), then runs ROUNDS increments,
ROUNDS compare-and-set read-modify-writes and one race for a single ``add``, with a few
tasks at once, on the store named by NAME (the Redis prefix or the database table).
"""

from __future__ import annotations

import asyncio
import sys

from vivace.db import Database
from vivace.stores import DatabaseStore, RedisStore, Store


def bump(current: bytes | None) -> tuple[bytes, None]:
    return b"%d" % (int(current or b"0") + 1), None


async def main(backend: str, url: str, name: str, rounds: int) -> None:
    if backend.startswith("redis"):
        near = 1 << 20 if backend == "redis-near" else 0
        store: Store = RedisStore(url, prefix=name, near_cache=near)
    else:
        store = DatabaseStore(Database(url, max_size=4), table=name, create=False)
    async with store:
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)

        async def work(share: int) -> None:
            for _ in range(share):
                await store.incr("counter")
                await store.transform("cas", bump)

        tasks = 4
        await asyncio.gather(*(work(rounds // tasks) for _ in range(tasks)))
        if await store.add("lock", b"mine", ttl=60):
            await store.incr("winners")
    print("done", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
