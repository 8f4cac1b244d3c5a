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


def _value(name: str, converter: Any, env: dict[str, Any], counter: list[int]) -> str:
    """The expression converting local ``name`` (None stays None).

    SQLite's decimal and JSON converters are written out here rather than called: one
    Python call less per value.  CPU time of a 180-row values_list() of bench/orm.py's
    test 3 (two decimals, two JSON values a row) on SQLite: 575 -> 534 us (the raw
    driver contender: 365 us, with no quantize and no JSON-number check).
    """
    if converter is None:
        return name
    key = f"_k{counter[0]}"
    counter[0] += 1
    if isinstance(converter, SQLiteDecimal):
        env[key] = converter.quantum
        env["_Decimal"] = decimal.Decimal
        return f"(_Decimal(repr({name})).quantize({key}) if {name} is not None else None)"
    if converter is json_loads_sqlite:
        env["_json_loads"] = orjson.loads
        env["_text"] = (str, bytes)
        # None (not text) stays as it is, like a number SQLite gave back unparsed.
        return f"(_json_loads({name}) if isinstance({name}, _text) else {name})"
    env[key] = converter
    return f"({key}({name}) if {name} is not None else None)"


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
    env: dict[str, Any] = {"_new": object.__new__}
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
