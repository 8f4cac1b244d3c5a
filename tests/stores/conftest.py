"""Fixtures for the store tests: one store per backend, each on names of its own.

Redis keys go under a unique prefix and database stores into a unique table; both are
removed afterwards (other test runs share these servers).
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REDIS_URL
from tests.db.conftest import backend_url, unique_name
from vivace.db import Database
from vivace.stores import DatabaseStore, MemoryStore, RedisStore, Store


def backends(*names: str) -> list[Any]:
    """Parameters for ``names``; Redis marked ``redis`` (see tests/conftest.py)."""
    return [pytest.param(n, marks=pytest.mark.redis) if n.startswith("redis") else n for n in names]


# "redis-near": a RedisStore with a near cache (vivace.stores._near): the same tests, so
# the near cache must behave exactly as the store without it.
BACKENDS = backends("memory", "redis", "redis-near", "postgresql", "mysql", "sqlite")
SHARED = backends("redis", "redis-near", "postgresql", "mysql", "sqlite")


def store_url(backend: str, tmp_path: Path) -> str:
    """The URL a backend's store lives at (a test's own SQLite file)."""
    if backend.startswith("redis"):
        return REDIS_URL
    return backend_url(backend, tmp_path)


async def make_store(backend: str, tmp_path: Path, prefix: str = "") -> tuple[Store, str]:
    """An opened store of ``backend``; returns it and its prefix (Redis) or table name."""
    if backend == "memory":
        store: Store = MemoryStore(prefix=prefix)
        name = ""
    elif backend.startswith("redis"):
        name = f"vivace-test-{uuid.uuid4().hex}:"
        near = 1 << 20 if backend == "redis-near" else 0
        store = RedisStore(REDIS_URL, prefix=name + prefix, near_cache=near)
    else:
        name = unique_name("vstore")
        database = Database(store_url(backend, tmp_path), max_size=10)
        store = DatabaseStore(database, table=name, prefix=prefix)
    await store.open()
    return store, name


async def drop_store(store: Store, backend: str, name: str) -> None:
    """Remove what ``make_store`` created on the server, then close the store."""
    if backend.startswith("redis"):
        assert isinstance(store, RedisStore)
        keys = [key async for key in store.client.scan_iter(match=name + "*")]
        if keys:
            await store.client.delete(*keys)
    elif isinstance(store, DatabaseStore):
        await store.database.execute(f"DROP TABLE IF EXISTS {name}")
    await store.close()


@pytest.fixture(params=BACKENDS)
def store_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def store(store_backend: str, tmp_path: Path) -> AsyncIterator[Store]:
    made, name = await make_store(store_backend, tmp_path)
    try:
        yield made
    finally:
        await drop_store(made, store_backend, name)


ROOT = Path(__file__).resolve().parents[2]


def run_workers(args: list[str], count: int = 3, timeout: float = 45.0) -> list[str]:
    """Run ``count`` processes of ``python *args`` together; returns what each printed.

    Each worker prints ``ready`` once connected and then waits for a line on stdin: all
    of them are released at once, so their work overlaps (the point of these tests).
    """
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    procs = [
        subprocess.Popen(
            [sys.executable, *args],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": path},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None
            ready = proc.stdout.readline().strip()
            assert ready == "ready", proc.stderr.read() if proc.stderr else ""
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        outputs = []
        for proc in procs:
            out, err = proc.communicate(timeout=timeout)
            assert proc.returncode == 0, err
            outputs.append(out.strip())
        return outputs
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()


@pytest.fixture(params=backends("memory", "redis"))
async def fast_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """A memory or Redis store: for the middleware tests, where the backend matters less
    than in tests/stores (which covers every backend)."""
    made, name = await make_store(request.param, tmp_path)
    try:
        yield made
    finally:
        await drop_store(made, request.param, name)
