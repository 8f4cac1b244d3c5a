"""Writing rows: save (INSERT or UPDATE), bulk_create, bulk_update, get_or_create,
update_or_create, and the many-to-many link rows.

Statements are rendered once per model, backend and column set (cached in the ORM's
per-database connection) and run through vivace.db with bound values.  A new row's
generated key comes back with ``RETURNING`` (PostgreSQL, SQLite 3.35+); MySQL and
MariaDB report an AUTO_INCREMENT key with the INSERT itself (``execute_insert``), and
MariaDB's ``RETURNING`` is used only for other columns the database fills in.
``bulk_create`` sends multi-row INSERTs of at most ``batch_size`` rows (by default as
many as keep a statement under 30,000 parameters, at most 1,000 rows) and sets the keys
from RETURNING where the backend has it.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ._compiler import PARAMETER, refusing
from ._errors import FieldError, ORMError, QueryError, ValidationError
from ._fields import NOT_PROVIDED, DateField
from ._registry import Connection, connection_for

if TYPE_CHECKING:
    from vivace.db import Database

    from ._managers import ManyToManyManager
    from ._model import Model
    from ._queryset import QuerySet

__all__ = [
    "bulk_create",
    "bulk_update",
    "by_key",
    "get_or_create",
    "insert_links",
    "save",
    "update_or_create",
]

MAX_PARAMS = 30_000
MAX_ROWS = 1_000


class _Statement:
    """Rendered SQL plus, per parameter, the attname it reads and its conversion.

    ``binds`` lists (attname, to_db) in the order the placeholders appear in ``sql``:
    the values go to vivace.db as a list in that order, not as a mapping by name.
    For a 50-row INSERT of bench/orm.py's 36-column model (1,750 values) that binds
    1.6 us a row faster on PostgreSQL, 2.7 on MySQL and 3.0 on SQLite than a dict of
    1,750 names that vivace.db reads back in placeholder order (timeit of the binding
    and Database's argument list, 2026-12-07).
    """

    __slots__ = ("binds", "columns", "returning", "row", "sql")

    def __init__(
        self,
        sql: str,
        model: type[Model],
        columns: list[tuple[str, str, Any]],
        returning: list[Any],
        row: _Row | None = None,
    ):
        self.sql = sql
        self.columns = columns  # (parameter name, attname, to_db)
        self.returning = returning  # (attname, from_db) of RETURNING columns
        by_name = {name: (attname, to_db) for name, attname, to_db in columns}
        self.binds = [by_name[f"p{number}"] for number in PARAMETER.findall(sql)]
        if len(self.binds) != len(by_name):  # pragma: no cover - a bug, not bad input
            raise AssertionError(f"parameters used twice or not at all in {sql!r}")
        # One object's values (a multi-row INSERT passes its one-row statement's).
        self.row = row or _Row(self.binds, model)


#: A _Row's parse plans kept, by the value types met (a column's None or its own type,
#: a str from a form ...: a handful per statement in practice).
_MAX_PLANS = 64
_NONE = type(None)
#: (index in the row, attname, parser) of each value that must be parsed.
_Plan = tuple[tuple[int, str, Callable[[Any], Any]], ...]


class _Row:
    """Reads one object's values for a statement, parsed and converted for the database.

    ``operator.itemgetter`` takes them all from the object's ``__dict__`` in C, then
    only the columns with a conversion (JSON, datetimes, enums ...: 5 of the 36 of
    bench/orm.py's test 3 model) are converted, where a Python loop over every column
    tested each for a conversion: 1.59 -> 1.15 us an object of that model (timeit; the
    4 values of its test 1 model: 0.21 -> 0.24).

    Parsing: a value that is not of its field's type (``score="3"``, a date as text)
    is parsed as a filter value is (Field.write_parser: Django's to_python), the
    object keeps the parsed value, and one that does not parse raises a
    ValidationError naming the model and field before any SQL.  Without it SQLite
    stored the text "abc" in an INTEGER column, PostgreSQL raised a driver error and
    MySQL truncated it.  The parsers are chosen once per tuple of the values' types
    (``plans``), so an object whose values all have their fields' types costs one
    ``tuple(map(type, ...))`` and a dict lookup (measured in the commit that added it).
    """

    __slots__ = ("convert", "fields", "get", "plans")

    def __init__(self, binds: list[tuple[str, Any]], model: type[Model]) -> None:
        names = [attname for attname, _ in binds]
        self.get: Any
        if len(names) > 1:
            self.get = operator.itemgetter(*names)
        else:  # itemgetter needs a name, and for one returns the value, not a tuple
            self.get = lambda data: tuple([data[name] for name in names])
        self.convert = [(index, to_db) for index, (_, to_db) in enumerate(binds) if to_db]
        by_attname = model._meta.by_attname
        self.fields = [by_attname[name] for name in names]
        self.plans: dict[tuple[type, ...], _Plan] = {}

    def add(self, data: dict[str, Any], args: list[Any]) -> None:
        """Append the values of the object whose ``__dict__`` is ``data`` to ``args``."""
        values = self.get(data)
        types = tuple(map(type, values))
        plan = self.plans.get(types)
        if plan is None:
            plan = self._plan(types)
        if plan:
            values = self._parse(plan, data, values)
        start = len(args)
        args.extend(values)
        for index, to_db in self.convert:
            value = args[start + index]
            if value is not None:
                args[start + index] = to_db(value)

    def _plan(self, types: tuple[type, ...]) -> _Plan:
        """The parsers for values of ``types`` (for a type that can never be its field's,
        a list for an IntegerField ..., one that raises its ValidationError, so that
        ``_parse`` names every bad field of the object)."""
        plan = []
        for index, (field, value_type) in enumerate(zip(self.fields, types, strict=True)):
            if value_type is _NONE:
                continue  # NULL: a NOT NULL column refuses it (IntegrityError), as Django
            try:
                parse = field.write_parser(value_type)
            except ValidationError as exc:
                parse = refusing(exc)
            if parse is not None:
                plan.append((index, field.attname, parse))
        found = tuple(plan)
        if len(self.plans) < _MAX_PLANS:
            self.plans[types] = found
        return found

    @staticmethod
    def _parse(plan: _Plan, data: dict[str, Any], values: tuple[Any, ...]) -> list[Any]:
        """``values`` with those of ``plan`` parsed; the object keeps the parsed ones."""
        parsed = list(values)
        errors: dict[str, list[str]] = {}
        for index, attname, parse in plan:
            try:
                parsed[index] = data[attname] = parse(parsed[index])
            except ValidationError as exc:
                errors.update(exc.errors)
        if errors:
            raise ValidationError(errors)
        return parsed


def _parameters(
    model: type[Model], attnames: tuple[str, ...], backend: str, columns: list[Any]
) -> dict[Any, Any]:
    """``{column: :p<N>}`` for ``attnames``; each parameter's attname and conversion is
    appended to ``columns`` (numbered on from what is there).

    The placeholders are written as text for vivace.db to bind, not as SQLAlchemy bound
    parameters: on PostgreSQL those render with a cast each (``$7::NUMERIC(12, 8)``),
    which an INSERT's values and an UPDATE's SET and key do not need (PostgreSQL gives a
    parameter beside a column that column's type).  Without them bench/orm.py's 50-row
    INSERT of its 36-column model is 12 KB of SQL, not 29 KB: under asyncpg's 15 KB limit
    for its prepared-statement cache, so it is no longer parsed and planned by the server
    on every call (bench/orm_cpu.py, C on PostgreSQL test 3: 38.3 -> 14.7 us a row of
    CPU, the raw driver 13.0).
    """
    meta = model._meta
    values: dict[Any, Any] = {}
    for attname in attnames:
        field = meta.by_attname[attname]
        name = f"p{len(columns)}"
        columns.append((name, attname, field.converters(backend)[0]))
        values[meta.table.c[attname]] = _placeholder(name)
    return values


def _placeholder(name: str) -> Any:
    return sa.literal_column(f":{name}")


def _render(connection: Connection, statement: Any) -> str:
    return str(statement.compile(dialect=connection.dialect))


def _insert_statement(
    connection: Connection,
    model: type[Model],
    attnames: tuple[str, ...],
    rows: int,
    ignore: bool,
    single: bool = False,
) -> _Statement:
    """The INSERT of ``rows`` rows; ``single``: for ``save()`` of one object, which on
    MySQL and MariaDB takes a generated key from the server's reply (see ``_insert``)."""
    cache_key = ("insert", model, attnames, rows, ignore, single)
    found: _Statement | None = connection.cache.get(cache_key)
    if found is not None:
        return found
    if rows > 1:
        one = _insert_statement(connection, model, attnames, 1, ignore)
        return connection.remember(  # type: ignore[no-any-return]
            cache_key, _repeat_row(model, one, rows, len(attnames))
        )
    meta = model._meta
    table = meta.table
    backend = connection.backend
    columns: list[tuple[str, str, Any]] = []
    statement = _insert_ignoring(connection, table) if ignore else sa.insert(table)
    # A list of one row: the multi-row form, so no implicit RETURNING is added (the
    # PostgreSQL dialect adds one to a single-row INSERT of a table with an auto key).
    statement = statement.values([_parameters(model, attnames, backend, columns)])
    returning = []
    if connection.returning and not ignore:
        wanted = [f for f in meta.concrete if f.attname not in attnames]
        if single and backend == "mysql" and wanted == [meta.pk] and meta.pk.auto_increment:
            # Only the generated key: MariaDB reports it with the INSERT (see _insert).
            wanted = []
        if wanted:
            statement = statement.returning(*[table.c[f.attname] for f in wanted])
            returning = [(f.attname, f.converters(backend)[1]) for f in wanted]
    return connection.remember(  # type: ignore[no-any-return]
        cache_key, _Statement(_render(connection, statement), model, columns, returning)
    )


def _repeat_row(model: type[Model], one: _Statement, rows: int, width: int) -> _Statement:
    """The multi-row INSERT of ``rows`` rows, from the one-row statement's SQL.

    SQLAlchemy renders ``VALUES (:p0, :p1), (:p2, :p3) ...`` with a bound parameter
    object per value: compiling bulk_create's 30 rows of bench/orm.py's 36-column model
    made the first such bulk_create cost 37 ms of CPU on PostgreSQL and 60 ms on SQLite
    (later ones: 1.5 ms), again for every new batch size.  Repeating the one-row
    statement's VALUES group (each value a ``:pN`` placeholder, see ``_parameters``;
    the scan to the closing parenthesis also steps over nested ones) with its
    parameters renumbered gives the same SQL text
    (tests/orm/test_internals.py compares them): the first bulk_create now costs 13 ms
    and 12 ms (the one-row compile and the driver's prepare remain).
    """
    sql = one.sql
    start = sql.index("(:p0")
    depth = 0
    end = start
    for end in range(start, len(sql)):  # to the parenthesis closing the group
        if sql[end] == "(":
            depth += 1
        elif sql[end] == ")":
            depth -= 1
            if depth == 0:
                break
    pieces = PARAMETER.split(sql[start : end + 1])  # text, number, text, ..., text
    groups = []
    for row in range(rows):
        offset = row * width
        parts = list(pieces)
        for index in range(1, len(parts), 2):
            parts[index] = f":p{int(parts[index]) + offset}"
        groups.append("".join(parts))
    columns = [
        (f"p{row * width + position}", attname, to_db)
        for row in range(rows)
        for position, (_, attname, to_db) in enumerate(one.columns)
    ]
    return _Statement(
        sql[:start] + ", ".join(groups) + sql[end + 1 :], model, columns, one.returning, one.row
    )


def _insert_ignoring(connection: Connection, table: Any) -> Any:
    if connection.backend == "postgresql":
        from sqlalchemy.dialects.postgresql import insert

        return insert(table).on_conflict_do_nothing()
    if connection.backend == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table).on_conflict_do_nothing()
    return sa.insert(table).prefix_with("IGNORE")


def _update_statement(
    connection: Connection, model: type[Model], attnames: tuple[str, ...]
) -> _Statement:
    """``UPDATE <table> SET <column>=:p0, ... WHERE <table>.<key> = :pN``.

    Written out here rather than compiled by SQLAlchemy, with the dialect's own quoting:
    the same text for columns in the table's order, as save() sends them (SQLAlchemy
    orders SET by the table; tests/orm/test_internals.py compares them), but
    the first save() of a model no longer pays SQLAlchemy's compile (bench/orm.py makes
    a model per round and times its first save: the CPU of that save on PostgreSQL went
    from 1,016 to 462 us for its 36-column model, 639 to 236 for the 4-column one; the
    raw driver's first UPDATE, which asyncpg prepares too, 105-120).
    """
    cache_key = ("update_one", model, attnames)
    found: _Statement | None = connection.cache.get(cache_key)
    if found is not None:
        return found
    meta = model._meta
    backend = connection.backend
    quote = connection.dialect.identifier_preparer
    columns: list[tuple[str, str, Any]] = []
    sets = []
    for attname in (*attnames, meta.pk.attname):
        field = meta.by_attname[attname]
        name = f"p{len(columns)}"
        columns.append((name, attname, field.converters(backend)[0]))
        sets.append(f"{quote.format_column(meta.table.c[attname])}=:{name}")
    table, where = by_key(connection, model, columns[-1][0])
    sql = f"UPDATE {table} SET {', '.join(sets[:-1])} {where}"
    return connection.remember(  # type: ignore[no-any-return]
        cache_key, _Statement(sql, model, columns, [])
    )


def by_key(connection: Connection, model: type[Model], parameter: str) -> tuple[str, str]:
    """A model's quoted table name and ``WHERE <table>.<key> = :<parameter>``, as
    SQLAlchemy renders them for the connection's dialect."""
    meta = model._meta
    quote = connection.dialect.identifier_preparer
    table = quote.format_table(meta.table)
    key = quote.format_column(meta.table.c[meta.pk.attname])
    return table, f"WHERE {table}.{key} = :{parameter}"


def _insert_columns(obj: Model, connection: Connection) -> tuple[str, ...]:
    """The columns an INSERT sends: all but an unset auto key and unset db_default ones.

    The usual object has every column loaded and only its auto key unset: two set
    operations and a cache lookup, instead of a loop over the fields (6.2 us down to
    1.35 us an object for bench/orm.py's 36-column model; about 0.6 us either way for
    its 4-column one)."""
    model = type(obj)
    key = ("insert_columns", model)
    shape: tuple[frozenset[str], tuple[str, ...], dict[Any, Any]] | None = connection.cache.get(key)
    if shape is None:
        concrete = model._meta.concrete
        shape = connection.remember(
            key,
            (
                frozenset(f.attname for f in concrete),
                tuple(
                    f.attname
                    for f in concrete
                    if f.auto_increment or f.db_default is not NOT_PROVIDED
                ),
                {},
            ),
        )
    every, optional, chosen = shape
    data = obj.__dict__
    if every <= data.keys():
        unset = tuple(a for a in optional if data[a] is None)
        found: tuple[str, ...] | None = chosen.get(unset)
        if found is None:
            found = chosen[unset] = tuple(
                f.attname for f in model._meta.concrete if f.attname not in unset
            )
        return found
    # Deferred (never loaded) columns are left to their defaults too.
    return tuple(
        f.attname
        for f in model._meta.concrete
        if f.attname in data and not (f.attname in optional and data[f.attname] is None)
    )


async def _insert(obj: Model, connection: Connection) -> None:
    model = type(obj)
    data = obj.__dict__
    attnames = _insert_columns(obj, connection)
    statement = _insert_statement(connection, model, attnames, 1, False, single=True)
    values: list[Any] = []
    statement.row.add(data, values)
    database = connection.database
    if statement.returning:
        row = await database.fetch_one(statement.sql, values)
        for index, (attname, from_db) in enumerate(statement.returning):
            value = row[index]
            data[attname] = from_db(value) if from_db is not None and value is not None else value
    elif model._meta.pk.auto_increment and data.get(model._meta.pk.attname) is None:
        # MySQL and MariaDB: the server reports the generated key in its reply to the
        # INSERT.  One statement and no result set, where MariaDB's RETURNING sends one
        # to read (bench/orm.py's A on MariaDB, 10 tasks: 98.6 -> 88.8 us of CPU an
        # insert, the raw driver 60.5) and MySQL, which has no RETURNING, needed
        # BEGIN, INSERT, SELECT LAST_INSERT_ID() and COMMIT.
        pk = model._meta.pk
        key = await database.execute_insert(statement.sql, values)
        from_db = pk.converters(connection.backend)[1]
        data[pk.attname] = from_db(key) if from_db is not None else key
    else:
        await database.execute(statement.sql, values)
    data["_persisted"] = True


def _stamp_new(obj: Model, connection: Connection) -> None:
    """Stamp a new object's auto_now and auto_now_add fields (an auto_now_add one that
    was given a value keeps it).  An update's stamps are its _SavePlan's."""
    model = type(obj)
    key = ("now_fields", model)
    stamped: list[Any] | None = connection.cache.get(key)
    if stamped is None:
        # The auto_now / auto_now_add fields, found once per model, not per object
        # (7.3 us down to 0.8 us an object of bench/orm.py's 36-column model, timeit).
        stamped = connection.remember(
            key,
            [
                f
                for f in model._meta.concrete
                if isinstance(f, DateField) and (f.auto_now or f.auto_now_add)
            ],
        )
    data = obj.__dict__
    for field in stamped:
        if not (field.auto_now_add and data.get(field.attname) is not None):
            data[field.attname] = field.now()


class _SavePlan:
    """What ``save()`` of a stored object needs, for one model and one ``update_fields``
    (None: the whole object), found once per database: the columns to set, the
    auto_now fields to stamp and (at its first use) the UPDATE statement.

    One cache lookup a save() where there were three (the checked field names, the
    auto_now fields, the statement), each with a key tuple to build and hash.  With the
    imports moved out of Model.save and Model.delete and ``_Row``, the ORM's own CPU
    (Database.execute stubbed out, PostgreSQL, bench/orm.py's models, 2026-12-07) went
    from 2.44 to 1.3 us a whole save() of test 1 (4.36 -> 2.7 on test 3's 36 columns)
    and from 2.16 to 1.05 a save(update_fields=["level"]).
    """

    __slots__ = ("attnames", "every", "names", "stamped", "update")

    def __init__(self, model: type[Model], requested: tuple[str, ...] | None) -> None:
        meta = model._meta
        concrete = meta.concrete
        names: frozenset[str] | None = None
        if requested is not None:
            fields = [meta.get_field(name) for name in requested]
            for field in fields:
                if not field.concrete or field.primary_key:
                    raise FieldError(
                        f"save(update_fields=...): {field.name!r} cannot be updated this way "
                        f"(a primary key or a many-to-many relation)"
                    )
            names = frozenset(f.name for f in fields)
        self.names = names
        # Every column, to tell a loaded object from one with deferred columns.
        self.every = frozenset(f.attname for f in concrete)
        self.attnames = tuple(
            f.attname for f in concrete if not f.primary_key and (names is None or f.name in names)
        )
        # auto_now stamps each update; a field with auto_now_add too keeps its first one.
        self.stamped = [
            f
            for f in concrete
            if isinstance(f, DateField)
            and f.auto_now
            and not f.auto_now_add
            and (names is None or f.name in names)
        ]
        self.update: _Statement | None = None  # compiled at the first UPDATE


def _save_plan(
    connection: Connection, model: type[Model], requested: tuple[str, ...] | None
) -> _SavePlan:
    key = ("save", model, requested)
    plan: _SavePlan | None = connection.cache.get(key)
    if plan is None:
        plan = connection.remember(key, _SavePlan(model, requested))
    return plan


async def save(
    obj: Model,
    using: Database | None,
    update_fields: Iterable[str] | None,
    force_insert: bool,
    force_update: bool,
) -> None:
    if force_insert and (force_update or update_fields is not None):
        raise QueryError("save(): force_insert cannot go with force_update or update_fields")
    connection = connection_for(using)
    model = type(obj)
    plan = None
    if update_fields is not None:
        plan = _save_plan(connection, model, tuple(update_fields))
        if not plan.names:
            return
    data = obj.__dict__
    pk = model._meta.pk
    if force_insert or (
        not data.get("_persisted", False)
        and not force_update
        and (data.get(pk.attname) is None or pk.has_default)
    ):
        _stamp_new(obj, connection)
        await _insert(obj, connection)
        return
    if plan is None:
        plan = _save_plan(connection, model, None)
    for field in plan.stamped:
        data[field.attname] = field.now()
    key = data.get(pk.attname)
    if key is None:
        raise QueryError(f"cannot update a {model.__name__} without a primary key")
    if plan.names is None and not plan.every <= data.keys():
        # Deferred (never loaded) columns keep their values in the database.
        attnames = tuple(a for a in plan.attnames if a in data)
        statement = _update_statement(connection, model, attnames) if attnames else None
    else:
        statement = plan.update
        if statement is None and plan.attnames:
            statement = plan.update = _update_statement(connection, model, plan.attnames)
    if statement is not None:
        values: list[Any] = []
        statement.row.add(data, values)
        updated = await connection.database.execute(statement.sql, values)
    else:
        updated = int(await model.objects.using(using).filter(pk=key).exists())
    if updated:
        data["_persisted"] = True
        return
    if force_update or plan.names is not None:
        raise ORMError(
            f"save() of {model.__name__} with primary key {obj.pk!r} did not affect any "
            f"row (it is not in the database)"
        )
    _stamp_new(obj, connection)
    await _insert(obj, connection)


def _batch(model: type[Model], columns: int, batch_size: int | None) -> int:
    if batch_size is not None:
        if batch_size < 1:
            raise QueryError(f"batch_size must be at least 1, not {batch_size}")
        return batch_size
    return max(1, min(MAX_ROWS, MAX_PARAMS // max(columns, 1)))


async def bulk_create(
    model: type[Model],
    objs: list[Any],
    batch_size: int | None,
    ignore_conflicts: bool,
    using: Database | None,
) -> list[Any]:
    if not objs:
        return objs
    for obj in objs:
        if not isinstance(obj, model):
            raise TypeError(
                f"bulk_create() takes {model.__name__} objects, not {type(obj).__name__}"
            )
    connection = connection_for(using)
    groups: dict[tuple[str, ...], list[Any]] = {}
    for obj in objs:
        _stamp_new(obj, connection)
        groups.setdefault(_insert_columns(obj, connection), []).append(obj)
    database = connection.database
    chunks = [
        (attnames, members[start : start + size])
        for attnames, members in groups.items()
        for size in (_batch(model, len(attnames), batch_size),)
        for start in range(0, len(members), size)
    ]
    # Every chunk's values are read (and parsed) before the first INSERT: a value that
    # does not parse raises its ValidationError before any SQL.
    inserts = [_insert_values(connection, model, *chunk, ignore_conflicts) for chunk in chunks]
    if len(inserts) == 1 and not database.in_transaction():
        # One statement is atomic on its own: no BEGIN and COMMIT round trips around it
        # (3 round trips down to 1, as the raw driver's single INSERT; measured in
        # bench/orm.py's C "insert: bulk", docs/benchmarks.md).
        await _insert_chunk(connection, *inserts[0], ignore_conflicts)
        return objs
    async with database.transaction():
        for insert in inserts:
            await _insert_chunk(connection, *insert, ignore_conflicts)
    return objs


def _insert_values(
    connection: Connection,
    model: type[Model],
    attnames: tuple[str, ...],
    chunk: list[Any],
    ignore_conflicts: bool,
) -> tuple[_Statement, list[Any], list[Any]]:
    """The multi-row INSERT of ``chunk`` (objects sharing the column set ``attnames``),
    the objects and their values."""
    statement = _insert_statement(connection, model, attnames, len(chunk), ignore_conflicts)
    values: list[Any] = []
    add = statement.row.add  # one VALUES group
    for obj in chunk:
        add(obj.__dict__, values)
    return statement, chunk, values


async def _insert_chunk(
    connection: Connection,
    statement: _Statement,
    chunk: list[Any],
    values: list[Any],
    ignore_conflicts: bool,
) -> None:
    """Run one multi-row INSERT of ``_insert_values``."""
    database = connection.database
    if statement.returning:
        rows = await database.fetch_rows(statement.sql, values)
        for obj, row_values in zip(chunk, rows, strict=True):
            data = obj.__dict__
            for index, (attname, from_db) in enumerate(statement.returning):
                value = row_values[index]
                data[attname] = (
                    from_db(value) if from_db is not None and value is not None else value
                )
            data["_persisted"] = True
    else:
        await database.execute(statement.sql, values)
        if not ignore_conflicts:
            for obj in chunk:
                if obj.pk is not None:
                    obj.__dict__["_persisted"] = True


async def bulk_update(
    model: type[Model],
    objs: list[Any],
    fields: Sequence[str],
    batch_size: int | None,
    using: Database | None,
) -> int:
    if not fields:
        raise QueryError("bulk_update() needs the names of the fields to update")
    meta = model._meta
    chosen = [meta.get_field(name) for name in fields]
    for field in chosen:
        if not field.concrete or field.primary_key:
            raise FieldError(f"bulk_update(): {field.name!r} is not an updatable column")
    if not objs:
        return 0
    for obj in objs:
        if not isinstance(obj, model) or obj.pk is None:
            raise QueryError("bulk_update() takes saved objects of the queryset's model")
    connection = connection_for(using)
    attnames = tuple(f.attname for f in chosen)
    statement = _update_statement(connection, model, attnames)
    rows = []
    for obj in objs:
        values: list[Any] = []
        statement.row.add(obj.__dict__, values)
        rows.append(values)
    size = batch_size or MAX_ROWS
    async with connection.database.transaction():
        for start in range(0, len(rows), size):
            await connection.database.execute_many(statement.sql, rows[start : start + size])
    return len(objs)


def _plain_lookups(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in kwargs.items() if "__" not in key}


def _resolve(defaults: Mapping[str, Any] | None) -> dict[str, Any]:
    return {key: value() if callable(value) else value for key, value in (defaults or {}).items()}


async def get_or_create(
    queryset: QuerySet[Any], defaults: Mapping[str, Any] | None, kwargs: dict[str, Any]
) -> tuple[Any, bool]:
    from vivace.db import IntegrityError

    model = queryset.model
    try:
        return await queryset.get(**kwargs), False
    except model.DoesNotExist:
        pass
    values = {**_plain_lookups(kwargs), **_resolve(defaults)}
    database = connection_for(queryset._db).database
    try:
        async with database.transaction():  # a savepoint inside a transaction
            obj = await queryset.create(**values)
        return obj, True
    except IntegrityError:
        # Another task created it between our get and our insert: fetch theirs.
        try:
            return await queryset.get(**kwargs), False
        except model.DoesNotExist:
            pass
        raise


async def update_or_create(
    queryset: QuerySet[Any],
    defaults: Mapping[str, Any] | None,
    create_defaults: Mapping[str, Any] | None,
    kwargs: dict[str, Any],
) -> tuple[Any, bool]:
    model = queryset.model
    connection = connection_for(queryset._db)
    database = connection.database
    updates = _resolve(defaults)
    # MySQL's REPEATABLE READ locks the gap a FOR UPDATE finds empty, so two racing
    # creators deadlock; READ COMMITTED takes no gap locks.  Only an outermost
    # transaction can choose its level.
    isolation = (
        "read_committed"
        if connection.backend == "mysql" and not database.in_transaction()
        else None
    )
    async with database.transaction(isolation=isolation):
        try:
            obj = await queryset.select_for_update().get(**kwargs)
        except model.DoesNotExist:
            obj, created = await get_or_create(
                queryset, create_defaults if create_defaults is not None else defaults, kwargs
            )
            if created:
                return obj, True
        for name, value in updates.items():
            setattr(obj, name, value)
        if updates:
            await obj.save(using=queryset._db, update_fields=list(updates))
        return obj, False


async def insert_links(
    manager: ManyToManyManager[Any],
    key: Any,
    targets: list[Any],
    through_defaults: Mapping[str, Any] | None,
) -> None:
    """INSERT the missing join rows; rows that exist (or appear concurrently) are kept."""
    if not targets:
        return
    from ._queryset import QuerySet

    through = manager.through
    source, target = manager.source.attname, manager.target.attname
    existing = set(
        await QuerySet(through)
        .filter(**{source: key, f"{target}__in": targets})
        .values_list(target, flat=True)
    )
    extra = _resolve(through_defaults)
    rows = [through(**{source: key, target: t, **extra}) for t in targets if t not in existing]
    if rows:
        await bulk_create(through, rows, None, True, None)
