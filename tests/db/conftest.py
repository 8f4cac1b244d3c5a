"""Fixtures for the vivace.db suite: every integration test runs once per backend.

Servers (overridable):
  VIVACE_TEST_POSTGRES_URL  default postgresql://postgres@127.0.0.1:5432/test
  VIVACE_TEST_MYSQL_URL     default mysql://root@127.0.0.1:3306/test
  VIVACE_TEST_SQLITE_URL    default a file in a temporary directory
A server that cannot be reached fails its tests with the reason.  To leave a backend
out on purpose, list it in VIVACE_TEST_SKIP_BACKENDS (e.g. "mysql,postgresql").

Tests share these servers with other runs: every table is created with a unique name
and dropped afterwards, and nothing else is touched.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from vivace.db import Database, OperationalError

from ..waiting import until

__all__ = ["until"]  # re-exported for the db tests

BACKENDS = ["postgresql", "mysql", "sqlite"]
SERVER_BACKENDS = ["postgresql", "mysql"]
DEFAULT_URLS = {
    "postgresql": "postgresql://postgres@127.0.0.1:5432/test",
    "mysql": "mysql://root@127.0.0.1:3306/test",
}
ENV = {
    "postgresql": "VIVACE_TEST_POSTGRES_URL",
    "mysql": "VIVACE_TEST_MYSQL_URL",
    "sqlite": "VIVACE_TEST_SQLITE_URL",
}


def skipped_backends() -> set[str]:
    raw = os.environ.get("VIVACE_TEST_SKIP_BACKENDS", "")
    return {name.strip() for name in raw.split(",") if name.strip()}


def backend_url(backend: str, tmp_path: Path) -> str:
    if backend in skipped_backends():
        pytest.skip(f"{backend} disabled by VIVACE_TEST_SKIP_BACKENDS")
    url = os.environ.get(ENV[backend])
    if url:
        return url
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'test.sqlite3'}"
    return DEFAULT_URLS[backend]


def unique_name(prefix: str = "vt") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=SERVER_BACKENDS)
def server_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def url(backend: str, tmp_path: Path) -> str:
    return backend_url(backend, tmp_path)


async def open_database(url: str, **options: object) -> Database:
    db = Database(url, **options)  # type: ignore[arg-type]
    try:
        await db.connect()
    except OperationalError as exc:
        pytest.fail(
            f"{db.url.backend} at {db.url} is unreachable ({exc}); start it, point "
            f"{ENV[db.url.backend]} at it, or set VIVACE_TEST_SKIP_BACKENDS={db.url.backend}",
            pytrace=False,
        )
    return db


@pytest.fixture
async def db(url: str) -> AsyncIterator[Database]:
    database = await open_database(url, max_size=5, acquire_timeout=10)
    try:
        yield database
    finally:
        await database.disconnect()


TableFactory = Callable[[str], Awaitable[str]]


@pytest.fixture
async def make_table(db: Database) -> AsyncIterator[TableFactory]:
    """make_table("(id INTEGER PRIMARY KEY, name VARCHAR(50))") → a fresh table's name."""
    created: list[str] = []

    async def make(columns: str) -> str:
        name = unique_name()
        await db.execute(f"CREATE TABLE {name} {columns}")
        created.append(name)
        return name

    yield make
    if not created:
        return
    # A fresh pool: the test may have left db disconnected or in force_rollback mode.
    cleanup = await open_database(str(db.url._text))
    try:
        for name in reversed(created):
            await cleanup.execute(f"DROP TABLE IF EXISTS {name}")
    finally:
        await cleanup.disconnect()


@pytest.fixture
async def items(make_table: TableFactory) -> str:
    """A table (id, name, amount) with ids 1..3."""
    return await make_table("(id INTEGER PRIMARY KEY, name VARCHAR(50) NOT NULL, amount INTEGER)")


SESSION_STATE = {
    # The session's current command, or nothing once it is gone.
    "postgresql": "SELECT state FROM pg_stat_activity WHERE pid = :id",
    "mysql": "SELECT COMMAND FROM information_schema.PROCESSLIST WHERE ID = :id",
}


async def session_state(url: str, backend: str, session: int) -> str | None:
    observer = await open_database(url)
    try:
        return await observer.fetch_val(SESSION_STATE[backend], {"id": session})  # type: ignore[no-any-return]
    finally:
        await observer.disconnect()


async def wait_for_session(
    url: str, backend: str, session: int, wanted: Callable[[str | None], bool]
) -> None:
    """Poll the server until the session's state satisfies ``wanted`` (10 s deadline)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while not wanted(await session_state(url, backend, session)):
        if loop.time() > deadline:
            pytest.fail(f"session {session} did not reach the expected state")
        await asyncio.sleep(0.01)


RUNNING = {
    # Sessions other than the observer's own running a statement whose text matches.
    "postgresql": "SELECT count(*) FROM pg_stat_activity "
    "WHERE state = 'active' AND pid <> pg_backend_pid() AND query LIKE :pattern",
    "mysql": "SELECT count(*) FROM information_schema.PROCESSLIST "
    "WHERE ID <> CONNECTION_ID() AND INFO LIKE :pattern",
}


async def wait_for_statement(url: str, backend: str, marker: str) -> None:
    """Poll the server until a statement holding ``marker`` runs (10 s deadline).

    Give the statement a unique marker (an alias such as ``AS vt_1a2b``): other test runs
    share the server.
    """
    observer = await open_database(url)
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while not await observer.fetch_val(RUNNING[backend], {"pattern": f"%{marker}%"}):
            if loop.time() > deadline:
                pytest.fail(f"no statement holding {marker!r} started on the server")
            await asyncio.sleep(0.01)
    finally:
        await observer.disconnect()
