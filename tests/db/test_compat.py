"""The private parts of SQLAlchemy and asyncmy that vivace.db relies on (db/_compat.py).

Each test names what it checks, so a release that changes one fails here, naming it.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

import asyncmy
import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql, sqlite

from vivace.db import _compat

from .conftest import DEFAULT_URLS, ENV, skipped_backends

metadata = sa.MetaData()
items = sa.Table(
    "items",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("uid", sa.Uuid),
    sa.Column("price", sa.Numeric(10, 2)),
)


def test_cache_key_is_the_shape_and_the_extracted_values() -> None:
    one = _compat.cache_key(sa.select(items).where(items.c.id == 1))
    two = _compat.cache_key(sa.select(items).where(items.c.id == 2))
    other = _compat.cache_key(sa.select(items.c.id).where(items.c.id == 1))
    assert one is not None and two is not None and other is not None, "_generate_cache_key"
    assert one.key == two.key != other.key
    assert [p.value for p in one.bindparams] == [1] and [p.value for p in two.bindparams] == [2]
    with pytest.raises(AttributeError):
        _compat.cache_key("SELECT 1")


def test_bind_processors_and_result_types() -> None:
    statement = sa.select(items.c.uid, items.c.price).where(items.c.uid == sa.bindparam("u"))
    compiled = statement.compile(dialect=sqlite.dialect())
    processors = _compat.bind_processors(compiled)  # compiled._bind_processors
    assert callable(processors["u"])  # SQLite stores a UUID as text
    types = _compat.result_types(compiled)  # compiled._result_columns
    assert [type(t) for t in types] == [sa.Uuid, sa.Numeric]
    assert _compat.result_types(items.insert().compile(dialect=sqlite.dialect())) == []


def test_expand_postcompile_renders_an_expanding_in_list() -> None:
    statement = sa.select(items.c.id).where(items.c.id.in_(sa.bindparam("ids", expanding=True)))
    compiled = statement.compile(dialect=postgresql.asyncpg.dialect())
    params = compiled.construct_params(params={"ids": [3, 4, 5]})
    expanded = _compat.expand_postcompile(compiled, params)  # _process_parameters_for_...
    assert expanded.statement.count("$") == 3
    assert [expanded.parameters[name] for name in expanded.positiontup] == [3, 4, 5]
    assert isinstance(expanded.processors, dict)


@pytest.mark.parametrize(
    ("version", "mariadb", "info"),
    [("10.11.19-MariaDB-0+deb12u1", True, (10, 11, 19)), ("8.0.36", False, (8, 0, 36))],
)
def test_initialize_mysql_dialect(version: str, mariadb: bool, info: tuple[int, ...]) -> None:
    dialect = mysql.asyncmy.dialect()
    _compat.initialize_mysql_dialect(dialect, version)  # _parse_server_version, _initialize_*
    assert dialect.is_mariadb is mariadb
    assert dialect.server_version_info[:3] == info
    # What the initialisation decides from the version: MariaDB 10.7+ has a UUID type.
    assert dialect.supports_native_uuid is mariadb


async def test_asyncmy_stream_broken() -> None:
    if "mysql" in skipped_backends():
        pytest.skip("mysql disabled by VIVACE_TEST_SKIP_BACKENDS")
    url = urlsplit(os.environ.get(ENV["mysql"], DEFAULT_URLS["mysql"]))
    server = {"host": url.hostname, "port": url.port or 3306, "user": url.username or "root"}
    server["password"] = url.password or ""
    conn = await asyncmy.connect(**server)
    killer = await asyncmy.connect(**server)
    try:
        assert _compat.asyncmy_stream_broken(conn) is False  # Connection._stream_broken
        async with killer.cursor() as cursor:
            await cursor.execute("KILL %s", (conn.thread_id(),))
        with pytest.raises(Exception):  # noqa: B017,PT011 - whatever the driver raises
            async with conn.cursor() as cursor:
                await cursor.execute("SELECT 1")
        assert _compat.asyncmy_stream_broken(conn) is True
    finally:
        conn.close()
        killer.close()
