"""Records: one result row, read by column name, by position or as an attribute.

A ``Record`` is a read-only ``Mapping`` from column name to value: ``row["name"]``,
``row.name``, ``row[0]``, ``dict(row)``, ``row.keys()``, ``"name" in row``, iteration
over the column names.  Rows of one result share one ``Columns`` object (the name →
position table), so a record costs one small object on top of the driver's row.

On PostgreSQL, asyncpg builds records of a subclass of ``asyncpg.Record`` directly (no
extra object per row); it is registered as a virtual subclass of ``Record`` and follows
the same contract, which the test suite checks on every backend.

A column whose name is also a method name (``keys``, ``values``, ``items``, ``get``)
is read with ``row["keys"]``; attribute access finds the method first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

__all__ = ["Columns", "Record"]


class Columns:
    """The column names of a result and their positions (shared by its records).

    >>> cols = Columns(("id", "name"))
    >>> cols.index["name"], cols.index[-1]
    (1, 1)
    """

    __slots__ = ("index", "names")

    def __init__(self, names: Sequence[str]) -> None:
        self.names = tuple(names)
        index: dict[Any, int] = {}
        count = len(self.names)
        for position in range(count):
            index[position] = position
            index[position - count] = position
        # With duplicate names (a join selecting two "id" columns) the first one wins,
        # as in SQLAlchemy's Row and asyncpg's Record.
        for position in range(count - 1, -1, -1):
            index[self.names[position]] = position
        self.index = index


_columns_cache: dict[tuple[str, ...], Columns] = {}


def columns_for(names: tuple[str, ...]) -> Columns:
    """A shared ``Columns`` for these names (bounded cache: results repeat their shapes)."""
    found = _columns_cache.get(names)
    if found is None:
        if len(_columns_cache) >= 2048:
            _columns_cache.clear()
        found = _columns_cache[names] = Columns(names)
    return found


class Record(Mapping[str, Any]):
    """One row of a result.

    >>> row = Record((1, "Ada"), Columns(("id", "name")))
    >>> row["name"], row.name, row[0], dict(row)
    ('Ada', 'Ada', 1, {'id': 1, 'name': 'Ada'})
    >>> row
    <Record id=1 name='Ada'>
    """

    __slots__ = ("_columns", "_values")

    _values: Sequence[Any]
    _columns: Columns

    def __init__(self, values: Sequence[Any], columns: Columns) -> None:
        self._values = values
        self._columns = columns

    def __getitem__(self, key: str | int) -> Any:
        try:
            return self._values[self._columns.index[key]]
        except KeyError:
            if isinstance(key, int):
                raise IndexError(f"record index {key} out of range") from None
            raise KeyError(
                f"no column {key!r} in this record (columns: {', '.join(self._columns.names)})"
            ) from None

    def __getattr__(self, name: str) -> Any:
        # Only reached when normal lookup fails; the two slots must not recurse here
        # (copy and pickle probe attributes on half-built objects).
        if name in ("_values", "_columns") or name.startswith("__"):
            raise AttributeError(name)
        try:
            return self._values[self._columns.index[name]]
        except KeyError:
            raise AttributeError(
                f"record has no column {name!r} (columns: {', '.join(self._columns.names)})"
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._columns.names)

    def __len__(self) -> int:
        return len(self._columns.names)

    def __contains__(self, key: object) -> bool:
        return key in self._columns.names

    def values(self) -> Any:
        return tuple(self._values)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return dict(self) == dict(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mappings are not hashable

    def __repr__(self) -> str:
        return record_repr(self)

    def __reduce__(self) -> tuple[Any, ...]:
        return (Record, (tuple(self._values), Columns(self._columns.names)))


def record_repr(record: Mapping[str, Any]) -> str:
    """``<Record a=1 b='x'>`` for any record."""
    fields = " ".join(f"{key}={record[key]!r}" for key in record)
    return f"<Record {fields}>" if fields else "<Record>"


Processor = Callable[[Any], Any] | None


def convert_values(rows: list[Any], processors: Sequence[Processor]) -> list[Sequence[Any]]:
    """``convert_rows`` for plain rows (``fetch_rows``): tuples of converted values."""
    pairs = [(i, p) for i, p in enumerate(processors) if p is not None]
    out: list[Sequence[Any]] = []
    for row in rows:
        values = list(row)
        for i, processor in pairs:
            value = values[i]
            if value is not None:
                values[i] = processor(value)
        out.append(tuple(values))
    return out


def convert_rows(rows: list[Any], processors: Sequence[Processor]) -> list[Any]:
    """Apply per-column result processors (SQLAlchemy type conversions) to records.

    Used for SQLAlchemy Core statements whose column types need converting on this
    backend (JSON text, UUID strings, SQLite dates ...); other rows pass unchanged.
    """
    if not rows:
        return rows
    first = rows[0]
    columns = first._columns if type(first) is Record else columns_for(tuple(first.keys()))
    pairs = [(i, p) for i, p in enumerate(processors) if p is not None]
    out = []
    for row in rows:
        values = list(row.values())
        for i, processor in pairs:
            value = values[i]
            if value is not None:
                values[i] = processor(value)
        out.append(Record(values, columns))
    return out
