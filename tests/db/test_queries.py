"""Query methods on every backend: raw SQL and SQLAlchemy Core."""

from __future__ import annotations

import contextlib
import datetime
from collections.abc import Mapping

import pytest
import sqlalchemy as sa

from vivace.db import (
    Database,
    DatabaseError,
    InterfaceError,
    ParameterError,
    Record,
    TransactionError,
    UniqueViolation,
)

from .conftest import TableFactory, unique_name

# A generated integer key, as each backend declares it.
AUTO_KEY = {
    "postgresql": "id SERIAL PRIMARY KEY",
    "mysql": "id INTEGER PRIMARY KEY AUTO_INCREMENT",
    "sqlite": "id INTEGER PRIMARY KEY",
}


async def fill(db: Database, table: str, count: int = 3) -> None:
    await db.execute_many(
        f"INSERT INTO {table} (id, name, amount) VALUES (:id, :name, :amount)",
        [{"id": i, "name": f"n{i}", "amount": i * 10} for i in range(1, count + 1)],
    )


async def test_fetch_methods(db: Database, items: str) -> None:
    await fill(db, items)
    rows = await db.fetch_all(f"SELECT id, name FROM {items} ORDER BY id")
    assert [(r.id, r["name"]) for r in rows] == [(1, "n1"), (2, "n2"), (3, "n3")]
    row = await db.fetch_one(f"SELECT id, name FROM {items} WHERE id = :id", {"id": 2})
    assert row is not None and row.name == "n2"
    assert await db.fetch_one(f"SELECT id FROM {items} WHERE id = :id", {"id": 99}) is None
    assert await db.fetch_val(f"SELECT count(*) FROM {items}") == 3
    assert await db.fetch_val(f"SELECT id, name FROM {items} WHERE id = 1", column=1) == "n1"
    assert await db.fetch_val(f"SELECT id, name FROM {items} WHERE id = 1", column="name") == "n1"
    assert await db.fetch_val(f"SELECT id FROM {items} WHERE id = 99") is None
    assert await db.fetch_all(f"SELECT id FROM {items} WHERE id > 99") == []


async def test_fetch_rows(db: Database, items: str) -> None:
    """Plain rows: by position, unpacked, as tuples; on every path a query can take."""
    await fill(db, items)
    query = f"SELECT id, name FROM {items} WHERE id >= :low ORDER BY id"
    rows = await db.fetch_rows(query, {"low": 2})
    assert [tuple(r) for r in rows] == [(2, "n2"), (3, "n3")]
    (first_id, first_name), _ = rows
    assert (first_id, first_name, rows[1][1], len(rows[1])) == (2, "n2", "n3", 2)
    assert await db.fetch_rows(f"SELECT id FROM {items} WHERE id > 99") == []
    assert await db.fetch_rows(f"UPDATE {items} SET amount = 0 WHERE id = 1") == []
    async with db.transaction():  # the task's own connection
        assert [tuple(r) for r in await db.fetch_rows(query, {"low": 3})] == [(3, "n3")]
    async with db.connection() as conn:
        assert [tuple(r) for r in await conn.fetch_rows(query, {"low": 3})] == [(3, "n3")]
    # Core statements: the values fetch_all gives, the dialect's result conversions
    # applied (SQLite keeps dates as text: they come back as dates).
    day = datetime.date(2026, 12, 7)
    core = sa.select(sa.literal(day, sa.Date()).label("day"), sa.literal(5).label("n"))
    expected = [tuple(r.values()) for r in await db.fetch_all(core)]
    assert [tuple(r) for r in await db.fetch_rows(core)] == expected
    async with db.connection() as conn:
        assert [tuple(r) for r in await conn.fetch_rows(core)] == expected
    if db.url.backend == "sqlite":
        assert expected == [(day, 5)]
    with pytest.raises(ParameterError):
        await db.fetch_rows(query, {"high": 1})
    with pytest.raises(DatabaseError):
        await db.fetch_rows(f"SELECT no_such_column FROM {items}")


async def test_execute_returns_row_count(db: Database, items: str) -> None:
    insert = f"INSERT INTO {items} (id, name, amount) VALUES (:id, :name, :amount)"
    assert await db.execute(insert, {"id": 1, "name": "a", "amount": 1}) == 1
    await fill(db, items, 0)
    await db.execute(insert, {"id": 2, "name": "b", "amount": 1})
    # Matched rows, also where the value does not change (MySQL FOUND_ROWS).
    assert await db.execute(f"UPDATE {items} SET amount = :a", {"a": 1}) == 2
    assert await db.execute(f"DELETE FROM {items} WHERE id = :id", {"id": 2}) == 1
    assert await db.execute(f"DELETE FROM {items} WHERE id = :id", {"id": 2}) == 0


async def test_returning_gives_generated_keys(db: Database, make_table: TableFactory) -> None:
    auto = AUTO_KEY[db.url.backend]
    table = await make_table(f"({auto}, name VARCHAR(20))")
    sql = f"INSERT INTO {table} (name) VALUES (:name) RETURNING id"
    first = await db.fetch_val(sql, {"name": "a"})
    second = await db.fetch_val(sql, {"name": "b"})
    assert second == first + 1


async def test_execute_insert_reports_the_generated_key(
    db: Database, make_table: TableFactory
) -> None:
    auto = AUTO_KEY[db.url.backend]
    table = await make_table(f"({auto}, name VARCHAR(20))")
    sql = f"INSERT INTO {table} (name) VALUES (:name)"
    if db.url.backend != "mysql":
        with pytest.raises(InterfaceError, match="RETURNING") as caught:
            await db.execute_insert(sql, {"name": "a"})
        assert caught.value.sql is not None and table in caught.value.sql
        return
    first = await db.execute_insert(sql, {"name": "a"})
    assert isinstance(first, int)
    assert await db.fetch_val(f"SELECT name FROM {table} WHERE id = :id", [first]) == "a"
    # Positional values, a Core statement, inside a transaction, through a handle.
    assert await db.execute_insert(sql, ["b"]) == first + 1
    core = sa.table(table, sa.column("id"), sa.column("name")).insert()
    assert await db.execute_insert(core, {"name": "c"}) == first + 2
    async with db.transaction():
        assert await db.execute_insert(sql, ["d"]) == first + 3
    async with db.connection() as conn:
        assert await conn.execute_insert(sql, ["e"]) == first + 4
    # A multi-row INSERT reports its first row's key; an explicit key is reported as
    # it is; a table without AUTO_INCREMENT reports none.
    many = f"INSERT INTO {table} (name) VALUES (:a), (:b)"
    assert await db.execute_insert(many, ["f", "g"]) == first + 5
    assert (
        await db.execute_insert(f"INSERT INTO {table} (id, name) VALUES (:id, :n)", [900, "x"])
        == 900
    )
    plain = await make_table("(id INTEGER PRIMARY KEY, name VARCHAR(20))")
    assert await db.execute_insert(f"INSERT INTO {plain} (id, name) VALUES (1, 'p')") is None
    with pytest.raises(UniqueViolation):
        await db.execute_insert(f"INSERT INTO {plain} (id, name) VALUES (1, 'p')")


async def test_execute_many_and_percent_and_colons(db: Database, items: str) -> None:
    rows = [{"id": i, "name": f"50% off :x {i}", "amount": i} for i in range(1, 201)]
    await db.execute_many(
        f"INSERT INTO {items} (id, name, amount) VALUES (:id, :name, :amount)", rows
    )
    await db.execute_many(f"INSERT INTO {items} (id, name) VALUES (:id, :name)", [])
    assert await db.fetch_val(f"SELECT count(*) FROM {items}") == 200
    assert (
        await db.fetch_val(
            f"SELECT count(*) FROM {items} WHERE name LIKE '50%' AND name LIKE '%:x%'"
        )
        == 200
    )
    assert await db.fetch_val("SELECT '100%' AS p") == "100%"


async def test_iterate_streams_in_batches(db: Database, items: str) -> None:
    await fill(db, items, 25)
    seen = [row.id async for row in db.iterate(f"SELECT id FROM {items} ORDER BY id", batch_size=4)]
    assert seen == list(range(1, 26))
    # Breaking early gives the connection back (aclosing), and the pool stays usable.
    async with contextlib.aclosing(
        db.iterate(f"SELECT id FROM {items} ORDER BY id", batch_size=3)
    ) as rows:
        async for row in rows:
            if row.id == 5:
                break
    assert db.pool_stats()["in_use"] == 0
    assert await db.fetch_val(f"SELECT count(*) FROM {items}") == 25
    with pytest.raises(ValueError, match="batch_size"):
        async for _ in db.iterate("SELECT 1", batch_size=0):
            pass


async def test_record_contract(db: Database) -> None:
    row = await db.fetch_one("SELECT 1 AS a, 'x' AS b")
    assert isinstance(row, Record) and isinstance(row, Mapping)
    assert row["a"] == 1 and row.a == 1 and row[0] == 1 and row[-1] == "x"
    assert dict(row) == {"a": 1, "b": "x"}
    assert list(row) == ["a", "b"] and len(row) == 2
    assert "a" in row and "z" not in row
    assert list(row.keys()) == ["a", "b"]
    assert list(row.values()) == [1, "x"]
    assert list(row.items()) == [("a", 1), ("b", "x")]
    assert row.get("b") == "x" and row.get("z", 5) == 5
    assert row == {"a": 1, "b": "x"} and row != {"a": 2, "b": "x"}
    assert repr(row) == "<Record a=1 b='x'>"
    with pytest.raises(KeyError):
        row["z"]
    with pytest.raises(AttributeError, match="no column 'z'"):
        row.z  # noqa: B018
    with pytest.raises(IndexError):
        row[5]
    with pytest.raises(TypeError):
        hash(row)
    assert (row == 5) is False


async def test_positional_values(db: Database, items: str) -> None:
    """A list or tuple binds raw SQL's parameters in order of first appearance; a name
    used twice takes one value (all three placeholder styles)."""
    insert = f"INSERT INTO {items} (id, name, amount) VALUES (:id, :name, :amount)"
    assert await db.execute(insert, [1, "n1", 10]) == 1
    await db.execute_many(insert, [(2, "n2", 20), [3, "n3", 30]])
    select = f"SELECT name, amount FROM {items} WHERE id = :id OR amount = :id * 10"
    row = await db.fetch_one(select, (2,))
    assert (row.name, row.amount) == ("n2", 20)
    rows = await db.fetch_rows(
        f"SELECT id FROM {items} WHERE amount > :low AND id < :high OR id = :low ORDER BY id",
        [15, 3],
    )
    assert [tuple(row) for row in rows] == [(2,)]
    # Values come back as given, the caller's list untouched (encoders work on a copy).
    values = [4, "n4", 40]
    await db.execute(insert, values)
    assert values == [4, "n4", 40]
    repeated = f"SELECT count(*) FROM {items} WHERE id IN (:a, :b) AND id <> :a"
    assert await db.fetch_val(repeated, [1, 2]) == 1
    assert await db.fetch_val("SELECT 1", []) == 1
    async with db.connection() as conn:
        assert await conn.fetch_val(f"SELECT name FROM {items} WHERE id = :id", [4]) == "n4"
        assert len(await conn.fetch_all(f"SELECT id FROM {items} WHERE id > :id", (1,))) == 3


async def test_positional_values_refused(db: Database, items: str) -> None:
    with pytest.raises(ParameterError, match=r"2 positional values for 3 parameters") as info:
        await db.execute(f"INSERT INTO {items} VALUES (:id, :name, :amount)", [1, "x"])
    assert "(the query takes :id, :name, :amount, in that order)" in info.value.message
    with pytest.raises(ParameterError, match=r"1 positional values for 0 parameters"):
        await db.fetch_val("SELECT 1", [1])
    with pytest.raises(ParameterError, match=r"execute_many\(\): row 1"):
        await db.execute_many(f"SELECT :a FROM {items}", [[1], [1, 2]])
    for wrong in ("ab", 5, {1}):  # a str is a sequence, but not a list of values
        with pytest.raises(ParameterError, match=r"a mapping .* or a list or tuple"):
            await db.fetch_val("SELECT :a", wrong)  # type: ignore[arg-type]
    # Nothing was written by the refused statements.
    assert await db.fetch_val(f"SELECT count(*) FROM {items}") == 0


async def test_positional_values_not_for_core(db: Database, items: str) -> None:
    table = sa.table(items, sa.column("id"), sa.column("name"))
    query = sa.select(table.c.name).where(table.c.id == sa.bindparam("id"))
    with pytest.raises(ParameterError, match=r"positional values .* are for raw SQL text"):
        await db.fetch_val(query, [1])
    with pytest.raises(ParameterError, match=r"positional values .* are for raw SQL text"):
        await db.execute_many(sa.insert(table), [{"id": 1, "name": "a"}, (2, "b")])
    assert await db.fetch_val(f"SELECT count(*) FROM {items}") == 0


metadata = sa.MetaData()
notes = sa.Table(
    "vt_notes_placeholder",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("title", sa.String(50), nullable=False),
    sa.Column("status", sa.String(10), default="draft"),
    sa.Column("score", sa.Integer, default=lambda: 7),
)


@pytest.fixture
async def notes_table(db: Database) -> object:
    table = notes.to_metadata(sa.MetaData(), name=unique_name("vt_notes"))
    create = sa.schema.CreateTable(table).compile(dialect=db.dialect)
    await db.execute(str(create))
    yield table
    await db.execute(f"DROP TABLE IF EXISTS {table.name}")


async def test_core_statements(db: Database, notes_table: sa.Table) -> None:
    t = notes_table
    assert await db.execute(t.insert(), {"id": 1, "title": "one"}) == 1
    await db.execute_many(t.insert(), [{"id": i, "title": f"t{i}"} for i in range(2, 6)])
    await db.execute_many(
        t.insert().values(status="fixed"), [{"id": 6, "title": "six"}, {"id": 7, "title": "x"}]
    )
    row = await db.fetch_one(sa.select(t).where(t.c.id == 1))
    assert dict(row) == {"id": 1, "title": "one", "status": "draft", "score": 7}
    for wanted in (2, 3):  # same shape, different literal: one compile, right value
        assert await db.fetch_val(sa.select(t.c.title).where(t.c.id == wanted)) == f"t{wanted}"
    assert len(db._core._cache) >= 1
    ids = [r.id for r in await db.fetch_all(sa.select(t.c.id).where(t.c.id.in_([2, 4, 6])))]
    assert sorted(ids) == [2, 4, 6]
    assert await db.fetch_val(sa.select(t.c.status).where(t.c.id == 7)) == "fixed"
    await db.execute(t.update().where(t.c.id == 1), {"title": "uno"})
    assert await db.fetch_val(sa.select(t.c.title).where(t.c.id == 1)) == "uno"
    bound = sa.select(t.c.title).where(t.c.id == sa.bindparam("wanted"))
    assert await db.fetch_val(bound, {"wanted": 5}) == "t5"
    text = sa.text(f"SELECT title FROM {t.name} WHERE id = :id").columns(title=sa.String)
    assert (await db.fetch_one(text, {"id": 5})).title == "t5"
    assert await db.execute(t.delete().where(t.c.id > 3)) == 4
    assert await db.fetch_val(sa.select(sa.func.count()).select_from(t)) == 3
    async with db.connection() as conn:
        assert await conn.fetch_val(sa.select(t.c.title).where(t.c.id == 2)) == "t2"
        assert [r.id for r in await conn.fetch_all(sa.select(t.c.id).order_by(t.c.id))] == [
            1,
            2,
            3,
        ]
        await conn.execute_many(t.insert(), [{"id": 50, "title": "c"}])
    streamed = [r.id async for r in db.iterate(sa.select(t.c.id).order_by(t.c.id), batch_size=2)]
    assert streamed == [1, 2, 3, 50]


async def test_execute_many_is_all_or_nothing(db: Database, items: str) -> None:
    rows = [{"id": i, "name": f"n{i}", "amount": i} for i in range(1, 3001)]
    rows[2500]["id"] = 7  # a duplicate key near the end
    sql = f"INSERT INTO {items} (id, name, amount) VALUES (:id, :name, :amount)"
    with pytest.raises(UniqueViolation):
        await db.execute_many(sql, rows)
    assert await db.fetch_val(f"SELECT count(*) FROM {items}") == 0
    with pytest.raises(UniqueViolation):
        async with db.transaction():
            await db.execute_many(sql, rows[:10] + rows[:1])
    assert await db.fetch_val(f"SELECT count(*) FROM {items}") == 0
    postgres = db.url.backend == "postgresql"
    # PostgreSQL aborts the whole transaction on an error; its COMMIT then rolls back,
    # which vivace reports instead of passing it off as a commit.
    outcome = (
        pytest.raises(TransactionError, match="rolled back by PostgreSQL")
        if postgres
        else contextlib.nullcontext()
    )
    with outcome:
        async with db.transaction():
            await db.execute(sql, rows[100])
            with pytest.raises(UniqueViolation):
                await db.execute_many(sql, rows[:10] + rows[:1])
            if not postgres:
                assert await db.fetch_val(f"SELECT count(*) FROM {items}") == 1
                await db.execute(sql, rows[101])
    if db.url.backend == "postgresql":
        assert await db.fetch_val(f"SELECT count(*) FROM {items}") == 0
    else:
        assert await db.fetch_val(f"SELECT count(*) FROM {items}") == 2
        await db.execute(f"DELETE FROM {items}")
    await db.execute_many(sql, rows[:2500])
    assert await db.fetch_val(f"SELECT count(*) FROM {items}") == 2500


async def test_sqlite_has_regexp(tmp_path: object) -> None:
    async with Database("sqlite://") as db:
        assert await db.fetch_val("SELECT 'abc' REGEXP :p", {"p": "^a.c$"}) == 1
        assert await db.fetch_val("SELECT 'abc' REGEXP :p", {"p": "^B"}) == 0
        assert await db.fetch_val("SELECT 12 REGEXP :p", {"p": "^1"}) == 1
        assert await db.fetch_val("SELECT NULL REGEXP :p", {"p": "x"}) is None
