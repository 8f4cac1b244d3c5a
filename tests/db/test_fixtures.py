"""The ``vivace_db`` fixture of the vivace pytest plugin: each test rolled back.

``vivace_database`` is overridden here (as a project would, to hand over its app's
Database); its teardown runs after ``vivace_db``'s and checks that nothing the test
wrote survived.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from vivace.db import Database

from .conftest import backend_url, open_database, unique_name

TABLES: dict[str, str] = {}


@pytest.fixture
async def vivace_database(backend: str, tmp_path: Path) -> AsyncIterator[Database]:
    url = backend_url(backend, tmp_path)
    db = await open_database(url)
    table = unique_name()
    await db.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, name VARCHAR(20))")
    TABLES[backend] = table
    try:
        yield db
        left = await db.fetch_val(f"SELECT count(*) FROM {table}")
    finally:
        await db.execute(f"DROP TABLE IF EXISTS {table}")
        await db.disconnect()
    assert left == 0, "vivace_db let rows survive the test"


async def app_handler(db: Database, table: str, i: int) -> None:
    """What an app's request handler does: its own transaction, nested work."""
    async with db.transaction():
        await db.execute(f"INSERT INTO {table} (id, name) VALUES (:id, 'x')", {"id": i})
        async with db.transaction():
            await db.execute(f"UPDATE {table} SET name = 'y' WHERE id = :id", {"id": i})


async def test_everything_is_rolled_back(vivace_db: Database, backend: str) -> None:
    table = TABLES[backend]
    await asyncio.gather(*(app_handler(vivace_db, table, i) for i in range(5)))
    await asyncio.create_task(app_handler(vivace_db, table, 99))
    assert await vivace_db.fetch_val(f"SELECT count(*) FROM {table} WHERE name = 'y'") == 6


def run_pytest(folder: Path, source: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    (folder / "test_sample.py").write_text(textwrap.dedent(source))
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-o",
            "asyncio_mode=auto",
            "-o",
            "asyncio_default_fixture_loop_scope=function",
            "-W",
            "error",
            "test_sample.py",
        ],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.slow
def test_default_database_comes_from_the_environment(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "VIVACE_DATABASE_URL"}
    done = run_pytest(tmp_path, "async def test_it(vivace_db):\n    pass\n", env)
    assert done.returncode != 0
    assert "set VIVACE_DATABASE_URL" in done.stdout
    env["VIVACE_DATABASE_URL"] = f"sqlite:///{tmp_path / 'f.sqlite3'}"
    done = run_pytest(
        tmp_path,
        """
        async def test_it(vivace_db):
            await vivace_db.execute("CREATE TABLE t (x INTEGER)")
            await vivace_db.execute("INSERT INTO t VALUES (1)")
            assert await vivace_db.fetch_val("SELECT count(*) FROM t") == 1

        async def test_again(vivace_db):
            # The table of the test before was rolled back (SQLite DDL is transactional).
            await vivace_db.execute("CREATE TABLE t (x INTEGER)")
        """,
        env,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout


async def test_app_driven_through_the_client_is_rolled_back(
    vivace_db: Database, backend: str
) -> None:
    from vivace.testing import AsyncTestClient
    from vivace.web import App, JSONResponse, Request, Route

    table = TABLES[backend]

    async def create(request: Request) -> JSONResponse:
        await app_handler(vivace_db, table, int(request.path_params["id"]))
        return JSONResponse({"ok": True})

    app = App(
        routes=[Route("/items/{id:int}", create, methods=["POST"])], lifespan=vivace_db.lifespan
    )
    async with AsyncTestClient(app) as client:  # the app's lifespan connects too: it nests
        for i in range(3):
            assert (await client.post(f"/items/{i}")).status_code == 200
    assert vivace_db.is_connected
    assert await vivace_db.fetch_val(f"SELECT count(*) FROM {table}") == 3
