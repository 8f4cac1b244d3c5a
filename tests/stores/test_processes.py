"""incr, compare-and-set and add are atomic across processes, on every shared backend:
several processes hammer the same keys at once and not one update is lost."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.stores.conftest import SHARED, drop_store, make_store, run_workers, store_url

PROCESSES = 3
ROUNDS = 24  # per process; a multiple of the worker's 4 tasks


@pytest.mark.slow
@pytest.mark.parametrize("backend", SHARED)
async def test_no_update_is_lost_across_processes(backend: str, tmp_path: Path) -> None:
    store, name = await make_store(backend, tmp_path)
    try:
        url = store_url(backend, tmp_path)
        args = ["-m", "tests.stores.worker", backend, url, name, str(ROUNDS)]
        outputs = await asyncio.get_running_loop().run_in_executor(
            None, run_workers, args, PROCESSES
        )
        assert outputs == ["done"] * PROCESSES
        total = PROCESSES * ROUNDS
        assert await store.get_many(["counter", "cas", "winners"]) == [
            b"%d" % total,
            b"%d" % total,
            b"1",
        ]
    finally:
        await drop_store(store, backend, name)
