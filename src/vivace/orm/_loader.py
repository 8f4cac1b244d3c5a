"""Rows to objects: loader functions generated once per query shape.

A loader is Python source written for one plan (see _select) and compiled with
``exec``: one loop over the rows that unpacks each row into locals, converts only the
columns whose backend needs it, and fills a new object's ``__dict__`` with one dict
display — no per-field descriptor, no ``__init__``, no per-column branching on types.

The rows are plain ones (``Database.fetch_rows``: tuples, or asyncpg's Record), so a
row unpacks straight into the locals and a tuple result is the row itself: no record
per row and no ``values()`` call.  CPU time for 1,000 rows of bench/orm.py's 4-column
model, records before, plain rows after: values_list() 1.03 -> 0.72 ms on SQLite and
0.53 -> 0.24 ms on MySQL; model objects 1.4 -> 1.1 ms and 1.04 -> 0.68 ms
(PostgreSQL, where asyncpg builds either kind in C: 1.09 -> 0.96 ms).

The per-row work is what bench/orm.py's "filter: large" and "filter: dict/tuple"
operations measure (docs/benchmarks.md).
"""

from __future__ import annotations

import decimal
from collections import namedtuple
from collections.abc import Callable
from typing import Any

import orjson

from ._fields import SQLiteDecimal, json_loads_sqlite
from ._select import ModelPlan, ValuesPlan

__all__ = ["make_loader", "make_row_loader"]

Loader = Callable[[list[Any]], list[Any]]
RowLoader = Callable[[Any], Any]


def _convert(name: str, converter: Any, env: dict[str, Any], counter: list[int]) -> tuple[str, str]:
    """The expression converting local ``name``, and the condition for converting it
    (otherwise the value stays as it is: None, or a number SQLite gave back for JSON).

    SQLite's decimal and JSON converters are written out here rather than called: one
    Python call less per value.  CPU time of a 180-row values_list() of bench/orm.py's
    test 3 (two decimals, two JSON values a row) on SQLite: 575 -> 534 us (the raw
    driver contender: 365 us, with no quantize and no JSON-number check).
    """
    key = f"_k{counter[0]}"
    counter[0] += 1
    if isinstance(converter, SQLiteDecimal):
        env[key] = converter.quantum
        env["_Decimal"] = decimal.Decimal
        return f"_Decimal(repr({name})).quantize({key})", f"{name} is not None"
    if converter is json_loads_sqlite:
        env["_json_loads"] = orjson.loads
        env["_text"] = (str, bytes)
        return f"_json_loads({name})", f"isinstance({name}, _text)"
    env[key] = converter
    return f"{key}({name})", f"{name} is not None"


def _value(name: str, converter: Any, env: dict[str, Any], counter: list[int]) -> str:
    """The expression of local ``name``'s value, converted (None stays None)."""
    if converter is None:
        return name
    expression, condition = _convert(name, converter, env, counter)
    return f"({expression} if {condition} else {name})"


def _model_body(plan: ModelPlan, env: dict[str, Any]) -> tuple[list[str], int]:
    """Statements building ``o0`` (and related objects) from locals v0..vN."""
    counter = [0]
    lines: list[str] = []
    position = 0
    env["_C0"] = plan.model
    items = []
    for attname, converter in plan.columns:
        items.append(f"{attname!r}: {_value(f'v{position}', converter, env, counter)}")
        position += 1
    related_positions = []
    for related in plan.related:
        related_positions.append(position)
        position += len(related.columns)
    for name, converter in plan.annotations:
        items.append(f"{name!r}: {_value(f'v{position}', converter, env, counter)}")
        position += 1
    items.append("'_persisted': True")
    lines.append("o0 = _new(_C0)")
    lines.append(f"o0.__dict__ = {{{', '.join(items)}}}")
    for number, related in enumerate(plan.related, start=1):
        start = related_positions[number - 1]
        env[f"_C{number}"] = related.model
        fields = [
            f"{attname!r}: {_value(f'v{start + i}', converter, env, counter)}"
            for i, (attname, converter) in enumerate(related.columns)
        ]
        fields.append("'_persisted': True")
        lines.append(f"if v{start + related.pk_index} is None:")
        lines.append(f"    o{number} = None")
        lines.append("else:")
        lines.append(f"    o{number} = _new(_C{number})")
        lines.append(f"    o{number}.__dict__ = {{{', '.join(fields)}}}")
        parent = f"o{related.parent}"
        guard = f"if {parent} is not None:" if related.parent else "if True:"
        lines.append(guard)
        if related.forward:
            lines.append(f"    {parent}.__dict__[{related.name!r}] = o{number}")
        else:
            lines.append(
                f"    {parent}.__dict__.setdefault('_prefetched', {{}})[{related.name!r}] "
                f"= o{number}"
            )
    return lines, position


def _values_body(plan: ValuesPlan, env: dict[str, Any]) -> tuple[str, int]:
    counter = [0]
    parts = [_value(f"v{i}", c, env, counter) for i, c in enumerate(plan.converters)]
    count = len(parts)
    if plan.mode == "dict":
        return "{" + ", ".join(
            f"{n!r}: {p}" for n, p in zip(plan.names, parts, strict=True)
        ) + "}", count
    if plan.mode == "flat":
        return parts[0], count
    if plan.mode == "named":
        env["_Row"] = namedtuple("Row", plan.names)
        return f"_Row({', '.join(parts)})", count
    return f"({', '.join(parts)},)", count


def _source(plan: Any, env: dict[str, Any]) -> tuple[str, list[str], str]:
    """The row unpacking, the statements and the result expression for one row ``r``."""
    if isinstance(plan, ModelPlan):
        body, count = _model_body(plan, env)
        result = "o0"
    else:
        expression, count = _values_body(plan, env)
        body, result = [], expression
        if plan.mode == "tuple" and not any(plan.converters):
            # No conversion: the row's values are the tuple (a tuple row: itself).
            body, result, count = [], "tuple(r)", 0
        elif plan.mode == "flat" and not plan.converters[0]:
            body, result, count = [], "r[0]", 0
    unpack = f"{''.join(f'v{i}, ' for i in range(count))}= r" if count else ""
    return unpack, body, result


def _compile(lines: list[str], env: dict[str, Any], name: str) -> Any:
    exec(compile("\n".join(lines) + "\n", "<vivace.orm loader>", "exec"), env)
    return env[name]


def make_loader(plan: Any) -> Loader:
    """``load(rows) -> list`` for a plan; rows are plain sequences of the values
    (``fetch_rows``), not records.

    Only this one is compiled with the statement: Python's ``compile`` is most of a
    loader's cost (bench/orm.py test 3's 37-column tuple loader: 393 us for ``load``
    and ``load_one`` together, about half for ``load`` alone), and ``load_one`` serves
    ``iterator()`` only (``make_row_loader``, on its first use).
    """
    if isinstance(plan, ValuesPlan) and plan.mode == "tuple" and not any(plan.converters):
        return _as_tuples
    env: dict[str, Any] = {"_new": object.__new__}
    if isinstance(plan, ValuesPlan) and _converts_by_column(plan):
        return _compile(_by_column(plan, env), env, "load")  # type: ignore[no-any-return]
    unpack, body, result = _source(plan, env)
    if not body:
        # values()/values_list(): one expression a row, so a list comprehension that
        # unpacks each row in its ``for`` target, as the raw driver contender of
        # bench/orm.py builds its result. timeit, 1,000 rows of test 1's 4 columns,
        # CPython 3.11: tuples 23.3 -> 16.1 us, dicts 126 -> 116 us (the loop with
        # ``append`` before); model objects need statements and keep the loop.
        target = unpack.removesuffix("= r").strip() if unpack else "r"
        lines = ["def load(rows):", f"    return [{result} for {target} in rows]"]
        return _compile(lines, env, "load")  # type: ignore[no-any-return]
    lines = ["def load(rows):", "    out = []", "    ap = out.append", "    for r in rows:"]
    if unpack:
        lines.append(f"        {unpack}")
    lines += [f"        {line}" for line in body]
    lines += [f"        ap({result})", "    return out"]
    return _compile(lines, env, "load")  # type: ignore[no-any-return]


# From this many columns on, values_list() converts column by column (_by_column).
_WIDE = 16


def _converts_by_column(plan: ValuesPlan) -> bool:
    """Whether ``_by_column`` beats the row-by-row loader for this plan: values_list()
    of ``_WIDE`` columns or more with any to convert; values() too if a quarter of its
    columns or more are converted (its dict display costs the same either way, and the
    copy of each row to a list only pays for itself when many columns are converted)."""
    width = len(plan.converters)
    converted = sum(1 for converter in plan.converters if converter is not None)
    if width < _WIDE or not converted:
        return False
    return plan.mode == "tuple" or (plan.mode == "dict" and converted * 4 >= width)


def _by_column(plan: ValuesPlan, env: dict[str, Any]) -> list[str]:
    """A wide values()/values_list() loader: each row copied to a list (C), the columns
    that need it converted in place one column at a time, then each row made a tuple
    (C) or a dict.  The row-by-row loader unpacks and rebuilds every column of every
    row in bytecode; here only the converted ones cost bytecode.  timeit, 180 rows of
    bench/orm.py's test 3 (36 columns): SQLite (13 converted) tuples 491 -> 382 us,
    dicts 720 -> 617 us (the raw driver contender: 324 us for tuples); MySQL (4 JSON
    columns converted) tuples 222 -> 185 us, dicts 405 -> 416 us (slower: stays by row);
    36 columns with one converted: tuples 104 -> 50 us.  Narrow rows lose (4 columns,
    one converted: 19 -> 33 us; 12 columns, 2 converted: 104 -> 112 us).
    """
    counter = [0]
    lines = ["def load(rows):", "    rows = [list(r) for r in rows]"]
    for index, converter in enumerate(plan.converters):
        if converter is not None:
            expression, condition = _convert("v", converter, env, counter)
            lines += [
                "    for r in rows:",
                f"        v = r[{index}]",
                f"        if {condition}:",
                f"            r[{index}] = {expression}",
            ]
    if plan.mode == "tuple":
        lines.append("    return [tuple(r) for r in rows]")
    else:
        count = len(plan.names)
        display = ", ".join(f"{name!r}: v{i}" for i, name in enumerate(plan.names))
        target = "".join(f"v{i}, " for i in range(count))
        lines.append(f"    return [{{{display}}} for {target}in rows]")
    return lines


def _as_tuples(rows: list[Any]) -> list[Any]:
    """values_list() with nothing to convert.  Tuple rows (SQLite, MySQL: fetch_rows
    hands over a list of its own) are the result as they are; asyncpg's Records become
    tuples.  timeit, 180 rows of bench/orm.py's test 1: 4.6 us -> 0.05 us on tuple rows
    (the list comprehension of ``tuple(r)`` before), 3-5% of a values_list() query on
    MySQL (bench/orm.py's H: about 100 us of CPU a query)."""
    if not rows or type(rows[0]) is tuple:
        return rows
    return [tuple(r) for r in rows]


def make_row_loader(plan: Any) -> RowLoader:
    """``load_one(row) -> object``: what ``make_loader``'s loop does for one row."""
    env: dict[str, Any] = {"_new": object.__new__}
    unpack, body, result = _source(plan, env)
    lines = ["def load_one(r):"]
    if unpack:
        lines.append(f"    {unpack}")
    lines += [f"    {line}" for line in body]
    lines.append(f"    return {result}")
    return _compile(lines, env, "load_one")  # type: ignore[no-any-return]
