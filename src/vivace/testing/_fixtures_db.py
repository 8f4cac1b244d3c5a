"""The database fixtures of the vivace pytest plugin (vivace.db).

- ``vivace_database``: the Database under test, connected.  The default reads
  ``VIVACE_DATABASE_URL``; a project overrides it in its conftest.py to hand over its
  app's own Database (connect/disconnect nest, so the app's lifespan may connect too).
- ``vivace_db``: that Database in rollback mode for one test: every statement of the
  test and of the app it drives — in any task, transactions included (they become
  savepoints) — runs in one transaction that is rolled back at teardown.

Both are async: they need pytest-asyncio (see ``_fixtures_async``).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

import pytest

from vivace.testing._fixtures_async import async_fixture

__all__ = ["vivace_database", "vivace_db"]


@async_fixture
async def vivace_database() -> AsyncIterator[Any]:
    """A connected ``vivace.db.Database`` for ``VIVACE_DATABASE_URL`` (override me)."""
    from vivace.db import Database

    url = os.environ.get("VIVACE_DATABASE_URL")
    if not url:
        pytest.fail(
            "vivace_db needs a database: set VIVACE_DATABASE_URL, or override the "
            "vivace_database fixture to return your app's Database",
            pytrace=False,
        )
    database = Database(url)
    async with database:
        yield database


@async_fixture
async def vivace_db(vivace_database: Any) -> AsyncIterator[Any]:
    """The database in rollback mode: nothing the test writes survives it."""
    async with vivace_database.force_rollback():
        yield vivace_database
