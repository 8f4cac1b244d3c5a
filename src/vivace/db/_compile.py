"""Turning queries into (SQL for the driver, argument list), once per statement.

Raw SQL is written with ``:name`` parameters on every backend.  ``parse_raw`` rewrites
it once into the driver's own placeholders — ``$1`` (asyncpg), ``%s`` (asyncmy),
``?`` (sqlite3) — and records which name goes to which position; later calls with the
same text find the result in a dict and only pick values out of the mapping.

Theory of operation of the scanner: the text is cut into tokens by one regular
expression per backend.  Tokens that cannot hold a parameter (string literals, quoted
identifiers, comments, PostgreSQL dollar-quoted bodies and ``::`` casts) are copied
unchanged; ``\\:`` becomes a literal colon; ``:name`` becomes a placeholder.  For the
``%s`` style, every literal ``%`` is doubled because the driver formats the statement
with ``%``.  Values are always sent as bound parameters, never spliced into the text.

SQLAlchemy Core statements are compiled by ``CoreCompiler`` with the backend's
dialect, cached by SQLAlchemy's own statement cache key (the statement's shape, not its
literal values), so a statement built afresh on every request compiles once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NoReturn

from . import _compat
from ._errors import InterfaceError, ParameterError

__all__ = ["CoreCompiler", "RawStatement", "Values", "parse_raw"]

Encoder = Callable[[Any], Any]

_COMMON = r"""
    (?P<str>'(?:[^']|'')*')
  | (?P<ident>"(?:[^"]|"")*")
  | (?P<line>--[^\n]*)
  | (?P<block>/\*.*?\*/)
  | (?P<cast>::)
  | (?P<escape>\\:)
  | (?P<param>(?<![\w:]):(?P<name>[A-Za-z_][A-Za-z0-9_]*))
"""
_PATTERNS = {
    # PostgreSQL: E'..' strings take backslash escapes; $tag$ .. $tag$ bodies.
    "dollar": re.compile(
        r"""(?P<estr>(?<![\w$])[eE]'(?:[^'\\]|\\.|'')*')
          | (?P<dq>(?<![\w$])\$(?P<tag>(?:[A-Za-z_][A-Za-z0-9_]*)?)\$.*?\$(?P=tag)\$)
          | """
        + _COMMON,
        re.VERBOSE | re.DOTALL,
    ),
    # MySQL/MariaDB: backslash escapes in strings, `ident`, # comments, literal %.
    "format": re.compile(
        r"""(?P<mstr>'(?:[^'\\]|\\.|'')*')
          | (?P<mdstr>"(?:[^"\\]|\\.|"")*")
          | (?P<tick>`(?:[^`]|``)*`)
          | (?P<hash>\#[^\n]*)
          | (?P<pct>%)
          | """
        + _COMMON,
        re.VERBOSE | re.DOTALL,
    ),
    # SQLite: `ident` and [ident] quoting.
    "qmark": re.compile(
        r"""(?P<tick>`(?:[^`]|``)*`)
          | """
        + _COMMON,
        re.VERBOSE | re.DOTALL,
    ),
}


#: Values for a query: a mapping of parameter names to values, or for raw SQL text a
#: list or tuple of values, one per distinct ``:name`` in the order they first appear.
Values = Mapping[str, Any] | list[Any] | tuple[Any, ...]


class RawStatement:
    """A raw SQL text rewritten for one driver: ``sql`` plus the parameter order.

    ``order`` names the parameter of each placeholder (a name used twice appears twice
    for ``?`` and ``%s``, once for ``$n``); ``distinct`` lists each name once, in the
    order of first appearance: the order of positional values.  ``positions`` maps
    placeholders to positional values where they differ (a repeated name), else None.
    """

    __slots__ = ("count", "distinct", "names", "order", "positions", "source", "sql")

    def __init__(self, source: str, sql: str, order: tuple[str, ...]) -> None:
        self.source = source
        self.sql = sql
        self.order = order
        self.names = frozenset(order)
        self.count = len(self.names)
        distinct = tuple(dict.fromkeys(order))
        self.distinct = distinct
        self.positions = (
            None if distinct == order else tuple(distinct.index(name) for name in order)
        )

    def bind(self, values: Values | None) -> list[Any]:
        """The argument list for ``values``; a ParameterError names what does not fit."""
        order = self.order
        if values is None:
            if order:
                self._mismatch({})
            return []
        if isinstance(values, (list, tuple)):
            return self._bind_positional(values)
        try:
            args = [values[name] for name in order]
        except KeyError:
            self._mismatch(values)
        except TypeError:
            raise ParameterError(
                f"query values must be a mapping of parameter names to values, or a list "
                f"or tuple of values in parameter order, not {type(values).__name__}",
                sql=self.source,
            ) from None
        if len(values) != self.count:
            self._mismatch(values)
        return args

    def _bind_positional(self, values: list[Any] | tuple[Any, ...]) -> list[Any]:
        # The ORM's writes bind this way: no dict to build and read back per value
        # (bench/orm_cpu.py's bulk insert of the 36-column model, see _writes.py).
        if len(values) != self.count:
            expected = ", ".join(f":{name}" for name in self.distinct) or "none"
            raise ParameterError(
                f"query parameters do not match: {len(values)} positional values for "
                f"{self.count} parameters (the query takes {expected}, in that order)",
                sql=self.source,
            )
        positions = self.positions
        if positions is None:
            return list(values)  # a copy: encoders replace values in it
        return [values[index] for index in positions]

    def _mismatch(self, values: Mapping[str, Any]) -> None:
        given = set(values)
        missing = tuple(sorted(self.names - given))
        extra = tuple(sorted(given - self.names))
        parts = []
        if missing:
            parts.append("missing " + ", ".join(f":{n}" for n in missing))
        if extra:
            parts.append("unexpected " + ", ".join(repr(n) for n in extra))
        expected = ", ".join(f":{n}" for n in sorted(self.names)) or "none"
        raise ParameterError(
            f"query parameters do not match: {'; '.join(parts)} (the query takes {expected})",
            sql=self.source,
            missing=missing,
            extra=extra,
        )


def parse_raw(sql: str, style: str) -> RawStatement:
    """Rewrite ``:name`` parameters into the driver's placeholder style.

    >>> s = parse_raw("SELECT * FROM t WHERE a = :a AND b = :b OR c::text = 'x:y'", "dollar")
    >>> s.sql, s.order
    ("SELECT * FROM t WHERE a = $1 AND b = $2 OR c::text = 'x:y'", ('a', 'b'))
    >>> parse_raw("SELECT :a, '%' LIKE :b -- :c", "format").sql
    "SELECT %s, '%%' LIKE %s -- :c"
    >>> parse_raw("SELECT :a, :a", "qmark").order
    ('a', 'a')
    """
    if type(sql) is not str:
        raise InterfaceError(f"a query must be a str or a SQLAlchemy statement, not {type(sql)!r}")
    pattern = _PATTERNS[style]
    out: list[str] = []
    order: list[str] = []
    numbers: dict[str, int] = {}
    position = 0
    doubling = style == "format"
    for match in pattern.finditer(sql):
        kind = match.lastgroup  # the outermost group: "param", not the inner "name"
        start, end = match.span()
        out.append(sql[position:start].replace("%", "%%") if doubling else sql[position:start])
        position = end
        if kind == "param":
            name = match.group("name")
            if style == "dollar":
                number = numbers.get(name)
                if number is None:
                    number = numbers[name] = len(numbers) + 1
                    order.append(name)
                out.append(f"${number}")
            else:
                order.append(name)
                out.append("%s" if doubling else "?")
        elif kind == "escape":
            out.append(":")
        elif kind == "pct":
            out.append("%%")
        else:
            text = match.group(0)
            out.append(text.replace("%", "%%") if doubling else text)
    tail = sql[position:]
    out.append(tail.replace("%", "%%") if doubling else tail)
    return RawStatement(sql, "".join(out), tuple(order))


class _Compiled:
    """One compiled Core statement shape and what binding it needs."""

    __slots__ = (
        "bind_processors",
        "compiled",
        "direct",
        "expanding",
        "positiontup",
        "prefetch",
        "result_processors",
        "sql",
    )

    def __init__(self, compiled: Any, keys: tuple[str, ...]) -> None:
        self.compiled = compiled
        self.sql: str = compiled.string
        self.positiontup: tuple[str, ...] = tuple(compiled.positiontup or ())
        processors = _compat.bind_processors(compiled)
        self.bind_processors = [processors.get(name) for name in self.positiontup]
        self.expanding = bool(compiled.post_compile_params or compiled.literal_execute_params)
        self.prefetch = [
            (column.key, column.default)
            for column in compiled.insert_prefetch
            if column.default is not None
        ] + [
            (column.key, column.onupdate)
            for column in compiled.update_prefetch
            if column.onupdate is not None
        ]
        # "direct": every placeholder is filled from the given keys or a Python-side
        # default, so execute_many can build rows without SQLAlchemy's per-row work.
        provided = set(keys) | {key for key, _ in self.prefetch}
        self.direct = not self.expanding and all(n in provided for n in self.positiontup)
        dialect = compiled.dialect
        result = [_result_processor(type_, dialect) for type_ in _compat.result_types(compiled)]
        self.result_processors = result if any(p is not None for p in result) else None


def _result_processor(type_: Any, dialect: Any) -> Any:
    """The type's result processor for the dialect, without the driver's column type code.

    A few processors want the driver's type code (asyncpg's Numeric picks a conversion
    by OID); vivace compiles before any row exists, and the drivers it uses already
    decode those types natively, so such a type gets no processor.
    """
    try:
        return type_.dialect_impl(dialect).result_processor(dialect, None)
    except (TypeError, KeyError):
        return None


class _DefaultContext:
    """What a context-sensitive column default sees (``context.get_current_parameters()``)."""

    __slots__ = ("current_parameters",)

    def __init__(self, parameters: dict[str, Any]) -> None:
        self.current_parameters = parameters

    def get_current_parameters(self, isolate_multiinsert_groups: bool = True) -> dict[str, Any]:
        return self.current_parameters


def _apply_defaults(entry: _Compiled, params: dict[str, Any]) -> dict[str, Any]:
    for key, default in entry.prefetch:
        if key in params:
            continue
        if default.is_scalar:
            params[key] = default.arg
        elif default.is_callable:
            params[key] = default.arg(_DefaultContext(params))
    return params


class CoreCompiler:
    """Compiles SQLAlchemy Core statements for one dialect, caching by statement shape."""

    __slots__ = ("_cache", "_max", "dialect")

    def __init__(self, dialect: Any, max_size: int = 1000) -> None:
        self.dialect = dialect
        self._cache: dict[Any, _Compiled] = {}
        self._max = max_size

    def _entry(self, statement: Any, keys: tuple[str, ...]) -> tuple[_Compiled, Any]:
        try:
            cache_key = _compat.cache_key(statement)
        except AttributeError:
            raise InterfaceError(
                f"a query must be a str or a SQLAlchemy Core statement, not {type(statement)!r}"
            ) from None
        if cache_key is None:  # a construct SQLAlchemy cannot cache: compile every time
            return _Compiled(self._compile(statement, keys, None), keys), None
        key = (cache_key.key, keys)
        entry = self._cache.get(key)
        if entry is None:
            if len(self._cache) >= self._max:
                # Evict the oldest half: statements built from changing shapes (dynamic
                # IN lists rendered as literals, ad-hoc columns) must not grow memory.
                for old in list(self._cache)[: self._max // 2]:
                    del self._cache[old]
            compiled = self._compile(statement, keys, cache_key)
            entry = self._cache[key] = _Compiled(compiled, keys)
        return entry, cache_key.bindparams

    def _compile(self, statement: Any, keys: tuple[str, ...], cache_key: Any) -> Any:
        from sqlalchemy.exc import SQLAlchemyError

        try:
            # With its cache key, the compiled form can take the literal values of later
            # statements of the same shape (construct_params(extracted_parameters=...)).
            return statement.compile(
                dialect=self.dialect, column_keys=list(keys) or None, cache_key=cache_key
            )
        except (SQLAlchemyError, NotImplementedError) as exc:
            raise InterfaceError(f"cannot compile statement: {exc}") from exc

    def _params(
        self, entry: _Compiled, values: Mapping[str, Any] | None, extracted: Any
    ) -> dict[str, Any]:
        from sqlalchemy.exc import SQLAlchemyError

        given = dict(values) if values else {}
        if entry.prefetch:
            _apply_defaults(entry, given)
        try:
            params: dict[str, Any] = entry.compiled.construct_params(
                params=given or None, extracted_parameters=extracted
            )
        except SQLAlchemyError as exc:
            raise ParameterError(str(exc).split("\n")[0], sql=entry.sql) from exc
        return params

    def compile(
        self, statement: Any, values: Values | None
    ) -> tuple[str, list[Any], list[Any] | None]:
        """SQL, arguments and result processors (None when rows need no conversion)."""
        if isinstance(values, (list, tuple)):
            _positional_refused(statement)
        keys = tuple(values) if values else ()
        entry, extracted = self._entry(statement, keys)
        params = self._params(entry, values, extracted)
        if entry.expanding:
            expanded = _compat.expand_postcompile(entry.compiled, params)
            procs = expanded.processors
            args = []
            for name in expanded.positiontup:
                value = expanded.parameters[name]
                processor = procs.get(name)
                args.append(processor(value) if processor is not None else value)
            return expanded.statement, args, entry.result_processors
        args = [params[name] for name in entry.positiontup]
        for i, processor in enumerate(entry.bind_processors):
            if processor is not None:
                args[i] = processor(args[i])
        return entry.sql, args, entry.result_processors

    def compile_many(self, statement: Any, given: Sequence[Values]) -> tuple[str, list[list[Any]]]:
        """SQL and one argument list per row (rows must all have the first row's keys)."""
        rows = [row for row in given if not isinstance(row, (list, tuple))]
        if len(rows) != len(given):
            _positional_refused(statement)
        keys = tuple(rows[0])
        entry, extracted = self._entry(statement, keys)
        if entry.expanding:
            raise InterfaceError("execute_many() cannot run a statement with expanding IN lists")
        out: list[list[Any]] = []
        if entry.direct and not extracted:
            names = entry.positiontup
            processors = list(enumerate(entry.bind_processors))
            for row in rows:
                params = _apply_defaults(entry, dict(row)) if entry.prefetch else row
                try:
                    args = [params[name] for name in names]
                except KeyError as exc:
                    raise ParameterError(
                        f"execute_many(): row {len(out)} lacks {exc.args[0]!r}; every row "
                        f"needs the keys of the first row ({', '.join(keys)})",
                        sql=entry.sql,
                        missing=(exc.args[0],),
                    ) from None
                for i, processor in processors:
                    if processor is not None:
                        args[i] = processor(args[i])
                out.append(args)
            return entry.sql, out
        for row in rows:
            params = self._params(entry, row, extracted)
            args = [params[name] for name in entry.positiontup]
            for i, processor in enumerate(entry.bind_processors):
                if processor is not None:
                    args[i] = processor(args[i])
            out.append(args)
        return entry.sql, out


def _positional_refused(statement: Any) -> NoReturn:
    # A Core statement's parameters have names but no order a caller can see.
    raise ParameterError(
        "positional values (a list or tuple) are for raw SQL text; a SQLAlchemy "
        "statement takes a mapping of parameter names to values",
        sql=str(statement),
    )
