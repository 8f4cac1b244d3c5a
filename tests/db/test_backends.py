"""Backend details: driver error translation, URL options, cancellation, dialect setup."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest
from asyncmy import errors as my

from vivace.db import (
    ConnectionLost,
    Database,
    DataError,
    IntegrityError,
    InterfaceError,
    NotNullViolation,
    OperationalError,
    ProgrammingError,
    TransactionConflict,
    UniqueViolation,
)
from vivace.db.backends import mysql as mysql_backend
from vivace.db.backends import postgres as pg_backend

from .conftest import backend_url, open_database, unique_name, wait_for_statement

SLEEP = {"postgresql": "SELECT pg_sleep(30)", "mysql": "SELECT SLEEP(30)"}


def test_postgres_translation() -> None:
    t = pg_backend.translate
    assert t(ValueError(), None) is None
    unique = asyncpg.exceptions.UniqueViolationError("dup")
    assert isinstance(t(unique, "S"), UniqueViolation)
    assert isinstance(t(ConnectionResetError(), "S"), ConnectionLost)
    assert isinstance(t(asyncpg.InterfaceError("connection is closed"), "S"), ConnectionLost)
    assert isinstance(t(asyncpg.InterfaceError("other misuse"), "S"), InterfaceError)
    assert isinstance(t(TimeoutError(), "S"), OperationalError)
    admin = asyncpg.exceptions.AdminShutdownError("terminating")
    assert isinstance(t(admin, "S"), ConnectionLost)
    assert isinstance(t(asyncpg.exceptions.SerializationError("x"), "S"), TransactionConflict)


def test_mysql_translation() -> None:
    t = mysql_backend.translate
    assert t(ValueError(), None) is None
    assert isinstance(t(my.IntegrityError(1062, "dup"), "S"), UniqueViolation)
    assert isinstance(t(my.IntegrityError(1048, "null"), "S"), NotNullViolation)
    assert isinstance(t(my.IntegrityError(9999, "other"), "S"), IntegrityError)
    assert isinstance(t(my.DataError(9998, "bad"), "S"), DataError)
    assert isinstance(t(my.ProgrammingError(9997, "bad"), "S"), ProgrammingError)
    assert isinstance(t(my.InterfaceError(0, "closed"), "S"), ConnectionLost)
    assert isinstance(t(my.OperationalError(2013, "lost"), "S"), ConnectionLost)
    assert isinstance(t(my.OperationalError(1213, "deadlock"), "S"), TransactionConflict)
    assert isinstance(t(my.OperationalError(9996, "other"), "S"), OperationalError)
    assert isinstance(t(my.MySQLError("no args"), "S"), OperationalError)
    assert isinstance(t(asyncio.IncompleteReadError(b"", 4), "S"), ConnectionLost)


async def test_postgres_url_options(tmp_path: Path) -> None:
    url = backend_url("postgresql", tmp_path)
    sep = "&" if "?" in url else "?"
    db = await open_database(
        url + f"{sep}sslmode=disable&application_name=vivace-test&statement_cache_size=0"
        "&connect_timeout=5"
    )
    try:
        assert await db.fetch_val("SHOW application_name") == "vivace-test"
        assert await db.fetch_val("SELECT :a::int + 1", {"a": 1}) == 2
    finally:
        await db.disconnect()


async def test_mysql_url_options(tmp_path: Path) -> None:
    url = backend_url("mysql", tmp_path)
    sep = "&" if "?" in url else "?"
    db = await open_database(
        url + f"{sep}charset=utf8mb4&connect_timeout=5&stmt_cache_size=16"
        "&init_command=SET%20@vivace%3D7&ssl=false"
    )
    try:
        assert await db.fetch_val("SELECT @vivace") == 7
        assert await db.fetch_val("SELECT :a + 1", {"a": 1}) == 2  # server-side prepared
        rows = await db.fetch_all("SELECT :a AS a UNION ALL SELECT :b", {"a": 1, "b": 2})
        assert [r.a for r in rows] == [1, 2]
    finally:
        await db.disconnect()


async def test_driver_keyword_options_pass_through(server_backend: str, tmp_path: Path) -> None:
    url = backend_url(server_backend, tmp_path)
    extra = {"postgresql": {"command_timeout": 30}, "mysql": {"read_timeout": 30}}
    db = await open_database(url, **extra[server_backend])
    try:
        assert await db.fetch_val("SELECT 1") == 1
    finally:
        await db.disconnect()


@pytest.mark.parametrize("method", ["execute", "fetch_all", "iterate"])
async def test_cancelled_statement_drops_its_connection(
    server_backend: str, tmp_path: Path, method: str
) -> None:
    url = backend_url(server_backend, tmp_path)
    db = await open_database(url, max_size=2)
    try:
        marker = unique_name()
        sql = f"{SLEEP[server_backend]} AS {marker}"

        async def run() -> None:
            if method == "iterate":
                async for _ in db.iterate(sql):
                    pass
            else:
                await getattr(db, method)(sql)

        task = asyncio.create_task(run())
        await wait_for_statement(url, server_backend, marker)  # cancelled mid-statement
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert db.pool_stats()["in_use"] == 0
        assert await db.fetch_val("SELECT 5") == 5
    finally:
        await db.disconnect()


async def test_mysql_statement_error_keeps_connection(tmp_path: Path) -> None:
    db = await open_database(backend_url("mysql", tmp_path), max_size=1)
    try:
        with pytest.raises(ProgrammingError):
            async for _ in db.iterate("SELECT * FROM vt_missing_xyz"):
                pass
        with pytest.raises(ProgrammingError):
            await db.fetch_all("SELEC 1")
        assert await db.fetch_all("DO 1") == []  # a statement without a result set
        assert await db.fetch_val("SELECT 1") == 1
    finally:
        await db.disconnect()


async def test_postgres_iterate_error_rolls_back_its_transaction(tmp_path: Path) -> None:
    db = await open_database(backend_url("postgresql", tmp_path), max_size=1)
    try:
        with pytest.raises(ProgrammingError):
            async for _ in db.iterate("SELECT * FROM vt_missing_xyz"):
                pass
        assert await db.fetch_val("SELECT 1") == 1  # not left inside the cursor's BEGIN
    finally:
        await db.disconnect()


async def test_bad_password_and_database(server_backend: str, tmp_path: Path) -> None:
    url = backend_url(server_backend, tmp_path)
    base = url.rsplit("/", 1)[0]
    db = Database(base + "/vt_no_such_database_xyz")
    with pytest.raises(OperationalError if server_backend == "mysql" else Exception):
        await db.connect()
    assert not db.is_connected


def test_dialect_json_and_sqlite_memory_pool() -> None:
    db = Database("sqlite://", max_size=5, min_size=3)
    assert db._pool_options["max_size"] == 1 and db._pool_options["min_size"] == 1
    assert "disconnected" in repr(db)
