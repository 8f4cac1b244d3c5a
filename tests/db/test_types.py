"""Column types read back as the same Python values on every backend."""

from __future__ import annotations

import datetime
import decimal
import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from vivace.db import Database

from .conftest import unique_name

# MySQL's DATETIME/TIME keep whole seconds unless told otherwise (fsp=6).
DATETIME = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
TIME = sa.Time().with_variant(mysql.TIME(fsp=6), "mysql", "mariadb")

EXPECTED = {
    "id": 1,
    "uid": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "doc": {"name": "Ada", "tags": ["x", "y"], "nested": {"n": 1.5, "ok": True, "none": None}},
    "day": datetime.date(2024, 2, 29),
    "moment": datetime.datetime(2024, 2, 29, 23, 59, 58, 123456),
    "clock": datetime.time(12, 30, 15, 500000),
    "price": decimal.Decimal("12345.67"),
    "flag": True,
    "off": False,
    "label": "héllo ✓",
    "payload": b"\x00\x01\xff",
    "big": 2**53 + 1,
    "ratio": 0.25,
}


@pytest.fixture
async def typed(db: Database) -> sa.Table:
    table = sa.Table(
        unique_name(),
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("uid", sa.Uuid),
        sa.Column("doc", sa.JSON),
        sa.Column("day", sa.Date),
        sa.Column("moment", DATETIME),
        sa.Column("clock", TIME),
        sa.Column("price", sa.Numeric(12, 2)),
        sa.Column("flag", sa.Boolean),
        sa.Column("off", sa.Boolean),
        sa.Column("label", sa.String(40)),
        sa.Column("payload", sa.LargeBinary),
        sa.Column("big", sa.BigInteger),
        sa.Column("ratio", sa.Float),
    )
    await db.execute(str(sa.schema.CreateTable(table).compile(dialect=db.dialect)))
    yield table
    await db.execute(f"DROP TABLE IF EXISTS {table.name}")


async def test_core_roundtrip_is_identical_on_every_backend(db: Database, typed: sa.Table) -> None:
    await db.execute(typed.insert(), EXPECTED)
    row = await db.fetch_one(sa.select(typed))
    assert dict(row) == EXPECTED
    for key, value in EXPECTED.items():
        assert isinstance(row[key], type(value)), key  # asyncpg: a uuid.UUID subclass
    nulls = {key: None for key in EXPECTED if key != "id"}
    await db.execute(typed.insert(), {"id": 2, **nulls})
    assert dict(await db.fetch_one(sa.select(typed).where(typed.c.id == 2))) == {"id": 2, **nulls}


async def test_raw_parameters_are_stored_as_core_stores_them(db: Database, typed: sa.Table) -> None:
    columns = ", ".join(EXPECTED)
    params = ", ".join(f":{name}" for name in EXPECTED)
    await db.execute(f"INSERT INTO {typed.name} ({columns}) VALUES ({params})", EXPECTED)
    # Read through a typed query: every value comes back exactly.
    assert dict(await db.fetch_one(sa.select(typed))) == EXPECTED
    # Typed raw SQL: text().columns() gives raw SQL the same conversions.
    query = sa.text(f"SELECT uid, doc, flag, day FROM {typed.name}").columns(
        uid=sa.Uuid, doc=sa.JSON, flag=sa.Boolean, day=sa.Date
    )
    row = await db.fetch_one(query)
    assert (row.uid, row.doc, row.flag, row.day) == (
        EXPECTED["uid"],
        EXPECTED["doc"],
        True,
        EXPECTED["day"],
    )
    # Comparisons with raw parameters find the row (same storage format).
    found = await db.fetch_val(
        f"SELECT id FROM {typed.name} WHERE uid = :uid AND day = :day AND moment = :moment",
        {"uid": EXPECTED["uid"], "day": EXPECTED["day"], "moment": EXPECTED["moment"]},
    )
    assert found == 1


async def test_json_string_is_taken_as_json_text(db: Database, typed: sa.Table) -> None:
    await db.execute(
        f"INSERT INTO {typed.name} (id, doc) VALUES (:id, :doc)", {"id": 3, "doc": '{"a": 1}'}
    )
    assert await db.fetch_val(sa.select(typed.c.doc).where(typed.c.id == 3)) == {"a": 1}


async def test_native_types_of_raw_queries(db: Database) -> None:
    # Servers with real types agree on raw queries too; SQLite has no DATE or DECIMAL
    # type, and returns what it stored (documented in docs/db.md).
    row = await db.fetch_one(
        "SELECT CAST('2024-01-02' AS DATE) AS d, CAST(1.5 AS DECIMAL(4,2)) AS n"
    )
    if db.url.backend == "sqlite":
        assert (row.d, row.n) == (2024, 1.5)  # numeric affinity: the year
    else:
        assert (row.d, row.n) == (datetime.date(2024, 1, 2), decimal.Decimal("1.50"))
