"""The ORM fixture of the vivace pytest plugin (vivace.orm).

- ``vivace_orm``: ``vivace_db`` (the test database in rollback mode: everything the
  test and the app it drives write is undone at teardown) bound as the ORM's database
  for the test; the binding in force before is restored afterwards.  Create the
  tables before the tests (migrations, or ``vivace.orm.create_tables`` in a session
  fixture): on MySQL, DDL commits implicitly and cannot be rolled back.

Async: it needs pytest-asyncio (see ``_fixtures_async``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from vivace.testing._fixtures_async import async_fixture

__all__ = ["vivace_orm"]


@async_fixture
async def vivace_orm(vivace_db: Any) -> AsyncIterator[Any]:
    """The rolled-back test database, bound to vivace.orm for this test."""
    from vivace import orm

    previous = orm.bind(vivace_db)
    try:
        yield vivace_db
    finally:
        if previous is None:
            orm.unbind()
        else:
            orm.bind(previous)
