"""The read fast paths return what the general ones do: values()/values_list() without
field names share the model query's compiled SELECT (``_queryset._model_twin``), and
``iterator()`` builds its row loader on first use (``_loader.make_row_loader``)."""

from __future__ import annotations

import datetime
import decimal
import uuid
from typing import Any

import pytest

from vivace.db import Database
from vivace.orm._registry import connection_for

from .models import Book, Everything
from .test_fields import VALUES

pytestmark = pytest.mark.asyncio(loop_scope="package")

# Values that each backend stores in its own way: NULLs, a JSON number, string and
# false (SQLite gives a number back unparsed), a negative decimal, a naive datetime
# with microseconds, booleans both ways, the nil UUID.
OTHER = {
    "ratio": -2.0,
    "price": decimal.Decimal("-0.01"),
    "flag": False,
    "moment": datetime.datetime(1999, 12, 31, 0, 0, 0, 1),
    "uid": uuid.UUID(int=0),
    "doc": 7,
}
NAMES = [f.attname for f in Everything._meta.concrete]


async def rows(db: Database) -> list[Everything]:
    empty = {n: None for n in VALUES if Everything._meta.get_field(n).null}
    await Everything.objects.bulk_create(
        [
            Everything(**VALUES),
            Everything(**empty),
            Everything(**{**VALUES, **OTHER}),
            Everything(**{**VALUES, "doc": "text", "flag": True}),
            Everything(**{**VALUES, "doc": False}),
        ]
    )
    return await Everything.objects.order_by("id")


def strict(rows: list[Any]) -> list[Any]:
    """Values with their types, so 1 == True == 1.0 cannot pass for one another."""
    if rows and isinstance(rows[0], dict):
        return [{k: (type(v), v) for k, v in row.items()} for row in rows]
    return [tuple((type(v), v) for v in row) for row in rows]


async def test_values_without_names_match_the_general_path(db: Database) -> None:
    objects = await rows(db)
    everything = Everything.objects.order_by("id")
    general = strict(await everything.values(*NAMES))  # names given: compiled on its own
    assert general == strict([{n: getattr(o, n) for n in NAMES} for o in objects])
    assert strict(await everything.values()) == general
    assert strict(await everything.values_list()) == strict(await everything.values_list(*NAMES))
    named = await everything.values_list(named=True)
    assert strict(named) == strict(await everything.values_list(*NAMES))
    assert named[1]._fields == tuple(NAMES)
    assert all(
        row[NAMES.index("doc")] is None for row in await everything.filter(doc=None).values_list()
    )


async def test_the_values_shapes_share_the_model_querys_sql(db: Database) -> None:
    await rows(db)
    connection = connection_for(None)
    for first in ("values", "model"):  # values() first compiles the model shape for it
        connection.cache.clear()
        queryset = Everything.objects.filter(flag=True).order_by("-id")
        shapes = {
            "model": queryset,
            "values": queryset.values(),
            "tuple": queryset.values_list(),
            "named": queryset.values_list(named=True),
        }
        order = [first, *(s for s in shapes if s != first)]
        results = {shape: await shapes[shape] for shape in order}
        keys = {shape: q._query.key([]) for shape, q in shapes.items()}
        sql = connection.cache[keys["model"]].sql
        assert all(connection.cache[k].sql is sql for k in keys.values())
        ids = [o.id for o in results["model"]]
        assert [r["id"] for r in results["values"]] == ids
        assert [r[0] for r in results["tuple"]] == ids == [r.id for r in results["named"]]


async def test_shapes_that_change_the_columns_compile_their_own(db: Database) -> None:
    """only/defer/select_related change the model query's columns: values() there keeps
    every column of its own, from a statement of its own."""
    await rows(db)
    connection = connection_for(None)
    plain = await Everything.objects.order_by("id").values()
    books = Book.objects.order_by("id")
    for queryset, expected in (
        (Everything.objects.only("name").order_by("id"), plain),
        (Everything.objects.defer("body").order_by("id"), plain),
        (books.select_related("author"), await books.values()),
    ):
        await queryset  # the model shape, compiled first
        assert await queryset.values() == expected
        model_sql = connection.cache[queryset._query.key([])].sql
        assert connection.cache[queryset.values()._query.key([])].sql != model_sql


async def test_values_list_with_nothing_to_convert_is_a_fresh_list_of_tuples(
    db: Database,
) -> None:
    """values_list() of columns no backend converts hands over the driver's rows: tuples
    on every backend (asyncpg's Records become tuples), in a new list each time."""
    from .models import Author

    await Author.objects.bulk_create([Author(name="a", age=1), Author(name="b", age=2)])
    queryset = Author.objects.order_by("id").values_list("name", "age")
    first, second = await queryset, await queryset
    assert connection_for(None).cache[queryset._query.key([])].load.__name__ == "_as_tuples"
    assert first == second == [("a", 1), ("b", 2)] and first is not second
    assert all(type(row) is tuple for row in first)
    assert await queryset.filter(name="c") == []
    first.append(("c", 3))  # the caller's own list
    assert await queryset == [("a", 1), ("b", 2)]


async def test_iterator_rows_match_the_list(db: Database) -> None:
    await rows(db)
    everything = Everything.objects.order_by("id")
    for queryset in (everything, everything.values(), everything.values_list()):
        listed = await queryset
        streamed = [row async for row in queryset.iterator(chunk_size=2)]
        if queryset is everything:
            listed = [o.__dict__ for o in listed]
            streamed = [o.__dict__ for o in streamed]
        assert strict(streamed) == strict(listed)


async def test_inlined_sqlite_converters_equal_calling_them() -> None:
    """The loader writes SQLite's decimal and JSON conversions out inline: the same
    values, types and scales as calling the field's converter."""
    from vivace.orm._fields import DecimalField, JSONField, SQLiteDecimal, json_loads_sqlite
    from vivace.orm._loader import make_loader
    from vivace.orm._select import ValuesPlan

    decimal_from_db = DecimalField(max_digits=12, decimal_places=3).converters("sqlite")[1]
    json_from_db = JSONField().converters("sqlite")[1]
    assert isinstance(decimal_from_db, SQLiteDecimal) and json_from_db is json_loads_sqlite
    column = [None, 0, 2, -1.5, 1.0005, 0.1 + 0.2, 1e-9, 123456789.123]
    documents = [None, '{"a": [1, null]}', b'["x"]', 7, 2.5, '"text"', "false", "null"]
    rows = list(zip(column, documents, strict=True))
    plan = ValuesPlan("tuple", ["d", "j"], [decimal_from_db, json_from_db])
    expected = [
        (None if d is None else decimal_from_db(d), None if j is None else json_from_db(j))
        for d, j in rows
    ]
    loaded = make_loader(plan)(rows)
    assert [tuple((type(v), str(v)) for v in row) for row in loaded] == [
        tuple((type(v), str(v)) for v in row) for row in expected
    ]
    assert loaded[4][0] == decimal.Decimal("1.000")  # half-even at the declared scale


@pytest.mark.parametrize("mode", ["tuple", "dict"])
async def test_wide_rows_convert_by_column_as_narrow_ones_by_row(
    mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """values()/values_list() of _WIDE columns or more convert column by column: the
    same values and types as the row-by-row loader, NULLs and SQLite's unparsed JSON
    numbers included; the driver's rows are left as they were."""
    from vivace.orm import _loader
    from vivace.orm._fields import DecimalField, JSONField
    from vivace.orm._select import ValuesPlan

    decimal_from_db = DecimalField(max_digits=12, decimal_places=3).converters("sqlite")[1]
    json_from_db = JSONField().converters("sqlite")[1]
    converters = [None, datetime.datetime.fromisoformat, decimal_from_db, float, json_from_db]
    width = _loader._WIDE + 1
    plan = ValuesPlan(
        mode, [f"c{i}" for i in range(width)], [converters[i % 5] for i in range(width)]
    )
    samples = [
        [None, "2020-01-02 03:04:05.000006", 1.0005, 2, '{"a": [1, null]}'],
        [7, None, None, None, None],
        ["x", "1999-12-31", -1.5, 2.5, 7],
        [b"b", "2000-01-01 00:00:00", 0, 0.1, "false"],
    ]
    rows = [tuple(sample[i % 5] for i in range(width)) for sample in samples]
    copies = list(rows)
    load = _loader.make_loader(plan)
    assert load.__code__.co_varnames == ("rows", "r", "v")  # the loop by column
    by_column = load(rows)
    monkeypatch.setattr(_loader, "_WIDE", width + 1)
    load = _loader.make_loader(plan)
    assert load.__code__.co_varnames == ("rows",)  # one comprehension, row by row
    by_row = load(rows)
    assert strict(by_column) == strict(by_row) and rows == copies
    assert len(by_column) == 4 and _loader.make_loader(plan)([]) == []
    assert isinstance(by_column[0], tuple if mode == "tuple" else dict)
    # One column converted of many: values_list() still by column, values() by row.
    sparse = ValuesPlan(mode, plan.names, [float] + [None] * (width - 1))
    monkeypatch.setattr(_loader, "_WIDE", width)
    names = _loader.make_loader(sparse).__code__.co_varnames
    assert names == (("rows", "r", "v") if mode == "tuple" else ("rows",))
    narrow = ValuesPlan(mode, plan.names[:4], plan.converters[:4])
    assert _loader.make_loader(narrow).__code__.co_varnames == ("rows",)


async def test_query_clone_copies_every_slot() -> None:
    from vivace.orm._query import Query

    query = Query(Everything)
    marks = {name: object() for name in Query.__slots__}
    for name, mark in marks.items():
        setattr(query, name, mark)
    clone = query.clone()
    assert {n: getattr(clone, n) for n in Query.__slots__ if n != "plain"} == {
        n: m for n, m in marks.items() if n != "plain"
    }
    assert clone.plain is False
