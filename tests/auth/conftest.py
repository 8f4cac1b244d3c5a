"""Fixtures of the auth suite: the auth tables in a database of their own, per backend.

The auth tables have fixed names (``auth_user`` ...), so on the shared PostgreSQL and
MariaDB servers each run creates a database with a unique name and drops it at the end;
SQLite gets a temporary file. Each test runs in rollback mode (vivace.db's
force_rollback), on the package's event loop (``pytestmark`` in each module).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import pytest_asyncio

from tests.conftest import REDIS_URL
from tests.db.conftest import backend_url, open_database
from vivace import orm
from vivace.auth import Argon2Hasher, Auth, Passwords, PBKDF2Hasher, create_tables, drop_tables
from vivace.db import Database
from vivace.stores import MemoryStore, RedisStore, Store

from .models import Member

DB_BACKENDS = ["sqlite", "postgresql", "mysql"]
SECRET = "auth-tests-secret"


def fast_passwords() -> Passwords:
    """argon2id first (cheap parameters: the tests check behaviour, not cost), then PBKDF2."""
    return Passwords(
        [Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1), PBKDF2Hasher(iterations=1000)]
    )


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


@pytest_asyncio.fixture(scope="package", loop_scope="package", params=DB_BACKENDS)
async def auth_database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Database]:
    backend = str(request.param)
    url = backend_url(backend, Path(tmp_path_factory.mktemp("auth")))
    name = f"vauth_{uuid.uuid4().hex[:12]}"
    server: Database | None = None
    if backend != "sqlite":
        server = await open_database(url, max_size=1)
        await server.execute(f"CREATE DATABASE {name}")
        url = with_database(url, name)
    database = await open_database(url, max_size=8, acquire_timeout=20)
    try:
        await create_tables(using=database)
        await orm.create_tables(Member, using=database)
        yield database
    finally:
        orm.unbind()
        await orm.drop_tables(Member, using=database)
        await drop_tables(using=database)
        await database.disconnect()
        if server is not None:
            await server.execute(f"DROP DATABASE IF EXISTS {name}")
            await server.disconnect()


@pytest_asyncio.fixture(loop_scope="package")
async def db(auth_database: Database) -> AsyncIterator[Database]:
    """The auth database bound to the ORM, rolled back after the test."""
    orm.bind(auth_database)
    async with auth_database.force_rollback():
        yield auth_database


@pytest.fixture
def backend(auth_database: Database) -> str:
    return auth_database.url.backend


@pytest.fixture
def auth(db: Database) -> Auth:
    return Auth(secret_key=SECRET, passwords=fast_passwords())


@contextlib.asynccontextmanager
async def redis_store() -> AsyncIterator[Store]:
    """A Redis store under a unique prefix, emptied afterwards (opened on the test's loop)."""
    prefix = f"vivace-test-auth-{uuid.uuid4().hex}:"
    store = RedisStore(REDIS_URL, prefix=prefix)
    await store.open()
    try:
        yield store
    finally:
        keys = [key async for key in store.client.scan_iter(match=prefix + "*")]
        if keys:
            await store.client.delete(*keys)
        await store.close()


@contextlib.asynccontextmanager
async def memory_store() -> AsyncIterator[Store]:
    store = MemoryStore()
    await store.open()
    try:
        yield store
    finally:
        await store.close()
