"""Fixtures of the ORM suite: every test runs once per backend, on shared tables.

The test models' tables (see models.py: names unique to this run) are created once
per backend for the whole package and dropped at the end.  ``db`` runs a test in
rollback mode (vivace.db's force_rollback: everything, in every task, is undone at
the end); ``live_db`` gives real transactions and concurrency, and empties the tables
afterwards.  Every async test and fixture here runs on the package's event loop
(``pytestmark`` in each module), which the shared connections belong to.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from vivace import orm
from vivace.db import Database

from ..db.conftest import BACKENDS, backend_url, open_database
from .models import ALL


@pytest_asyncio.fixture(scope="package", loop_scope="package", params=BACKENDS)
async def orm_database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Database]:
    url = backend_url(str(request.param), Path(tmp_path_factory.mktemp("orm")))
    database = await open_database(url, max_size=8, acquire_timeout=20)
    try:
        await orm.drop_tables(*ALL, using=database)
        await orm.create_tables(*ALL, using=database)
        yield database
    finally:
        orm.unbind()
        await orm.drop_tables(*ALL, using=database)
        await database.disconnect()


@pytest_asyncio.fixture(loop_scope="package")
async def db(orm_database: Database) -> AsyncIterator[Database]:
    """The test database bound to the ORM, in rollback mode for this test."""
    orm.bind(orm_database)
    async with orm_database.force_rollback():
        yield orm_database


@pytest_asyncio.fixture(loop_scope="package")
async def live_db(orm_database: Database) -> AsyncIterator[Database]:
    """The test database bound to the ORM with real commits; emptied afterwards."""
    orm.bind(orm_database)
    try:
        yield orm_database
    finally:
        orm.bind(orm_database)
        for model in reversed(ALL):
            for field in model._meta.many_to_many:
                through = field.through
                if through._meta.auto_through:
                    await orm_database.execute(f"DELETE FROM {through._meta.table_name}")
            await orm_database.execute(f"DELETE FROM {model._meta.table_name}")


@pytest.fixture
def backend(orm_database: Database) -> str:
    return orm_database.url.backend
