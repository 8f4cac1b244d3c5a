"""QuerySet: lazy, chainable, immutable; awaited to run.

Every chained call returns a new queryset and runs nothing; SQL runs when the queryset
is awaited (``await qs`` → a list), iterated (``async for obj in qs`` streams over a
server-side cursor), or asked a question (``get``, ``count``, ``exists`` ...).  A
queryset's SQL is compiled once per shape and database (see _compiler) and then only
has its values bound.

>>> from vivace.orm import Model, CharField
>>> class Note(Model):
...     title: str = CharField(max_length=50)
>>> qs = Note.objects.filter(title__startswith="a").exclude(id=3).order_by("-id")[:10]
>>> type(qs).__name__
'QuerySet'
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import AsyncIterator, Awaitable, Generator, Iterable, Mapping, Sequence
from contextlib import aclosing
from typing import TYPE_CHECKING, Any, Generic, NoReturn, TypeVar, overload

from ._compiler import PARAMETER, Compiled, Compiler, Scope
from ._errors import FieldError, QueryError
from ._expressions import Aggregate, Expression, F, Q, check_names, order_token, token
from ._loader import make_loader, make_row_loader
from ._query import Query, QueryKey
from ._registry import Connection, connection_for
from ._select import (
    ModelPlan,
    ValuesPlan,
    build_aggregate,
    build_count,
    build_exists,
    build_select,
    build_update,
)

if TYPE_CHECKING:
    from vivace.db import Database

    from ._model import Model

__all__ = ["QuerySet"]

T = TypeVar("T")
M = TypeVar("M", bound="Model")
MAX_GET_RESULTS = 21
_KEY_TYPES = frozenset((int, str, uuid.UUID))
# What still makes sense once a queryset is sliced: the same rows, shaped differently.
_AFTER_SLICE = frozenset(
    (
        "slice",
        "using",
        "values",
        "only",
        "defer",
        "select_related",
        "prefetch_related",
        "select_for_update",
    )
)


def _check_path(model: type[Model], path: str, method: str, *, single: bool) -> None:
    """Refuse a select_related/prefetch_related path that names no relation, now."""
    current = model
    for part in path.split("__") if isinstance(path, str) else [path]:
        meta = current._meta
        relations = meta.relations if single else meta.accessors
        relation = relations.get(part) if isinstance(part, str) else None
        if relation is None or (single and relation.multi):
            choices = [n for n, r in relations.items() if not (single and r.multi)]
            hint = (
                " (a multi-valued relation: use prefetch_related)"
                if single and relation is not None
                else ""
            )
            shown = path[:60] if isinstance(path, str) else path
            raise FieldError(
                f"invalid {method} path {shown!r}: {current.__name__} has no "
                f"{'single-valued ' if single else ''}relation {str(part)[:60]!r}{hint} "
                f"(choices: {', '.join(choices)})"
            )
        current = relation.target


def _model_twin(key: QueryKey) -> QueryKey | None:
    """The model-objects key whose SELECT is this values()/values_list() key's own.

    ``values()`` and ``values_list()`` without field names select every concrete column
    in the model's order, as the model query does when nothing changes its columns
    (only/defer, select_related, annotations) or its statement (union, grouping): the
    same SQL, the same parameters; only the loader differs.  Sharing it skips
    SQLAlchemy's compile for the second and third shape of a filter (bench/orm.py's
    G and H after D: 1.5 ms of CPU each for test 3's 36-column model on SQLite,
    0.4 ms for test 1's, paid inside the timed operation).
    """
    if (
        key.mode in ("dict", "tuple", "named")
        and key.fields is None
        and not key.annotations
        and not key.related
        and key.only is None
        and not key.defer
        and key.combined is None
        and not key.group_values
    ):
        return key._replace(mode="model")
    return None


def compiled_select(connection: Connection, key: QueryKey) -> Compiled:
    """The cached compiled SELECT for ``key`` on ``connection``."""
    entry: Compiled | None = connection.cache.get(key)
    if entry is None:
        twin = _model_twin(key)
        if twin is not None:
            model_entry = compiled_select(connection, twin)
            model_plan: ModelPlan = model_entry.plan
            names = [attname for attname, _ in model_plan.columns]
            plan = ValuesPlan(key.mode, names, [c for _, c in model_plan.columns])
            entry = model_entry.sharing(make_loader(plan), plan)
            connection.remember(key, entry)
            return entry
        compiler = Compiler(connection)
        model = key.model
        statement, plan = build_select(compiler, Scope(model, model._meta.table), key)
        entry = Compiled(statement, compiler)
        entry.load = make_loader(plan)
        entry.plan = plan
        connection.remember(key, entry)
    return entry


def compiled_other(connection: Connection, kind: str, key: QueryKey, extra: Any = None) -> Compiled:
    cache_key = (kind, key, extra)
    entry: Compiled | None = connection.cache.get(cache_key)
    if entry is None:
        compiler = Compiler(connection)
        model = key.model
        scope = Scope(model, model._meta.table)
        if kind == "count":
            statement = build_count(compiler, scope, key)
        elif kind == "exists":
            statement = build_exists(compiler, scope, key)
        elif kind == "update":
            statement = build_update(compiler, scope, key, extra)
        elif kind == "delete":
            from ._select import build_delete

            statement = build_delete(compiler, scope, key)
        else:
            statement, converters = build_aggregate(compiler, scope, key, extra)
        entry = Compiled(statement, compiler)
        if kind == "aggregate":
            entry.plan = converters
        connection.remember(cache_key, entry)
    return entry


class _ByKey:
    """``get(pk=...)``'s statement on one database: its SQL, its loader, and its two
    values (the key, the LIMIT) as a list in the order of their placeholders.

    vivace.db's positional binding takes the list as it is, where a mapping is built
    per get and read back by name.  Where SQLAlchemy bound a value of its own (SQLite's
    ``OFFSET``), the mapping it stays.
    """

    __slots__ = ("convert", "entry", "load", "positional", "sql")

    def __init__(self, entry: Compiled) -> None:
        self.entry = entry
        self.sql = entry.sql
        self.load = entry.load
        # Query.key numbers the key's placeholder p0 and the LIMIT's p1.
        self.positional = not entry.fixed and PARAMETER.findall(entry.sql) == ["0", "1"]
        self.convert = next(c for _, index, c in entry.slots if index == 0)

    def arguments(self, value: Any) -> Any:
        # LIMIT 2: a second row would mean the key is not unique (MultipleObjectsReturned).
        if not self.positional:
            return self.entry.values([value, 2])
        if self.convert is not None:
            value = self.convert(value)
        return [value, 2]


class QuerySet(Generic[T]):
    """A lazy query over ``model``; ``await`` it for a list of results."""

    __slots__ = ("_db", "_query", "model")

    def __init__(self, model: type[Model], query: Query | None = None, db: Database | None = None):
        self.model = model
        self._query = query if query is not None else Query(model)
        self._db = db

    def __repr__(self) -> str:
        return f"<QuerySet {self.model.__name__}>"

    def _chain(self, query: Query | None = None) -> QuerySet[Any]:
        return QuerySet(self.model, query if query is not None else self._query.clone(), self._db)

    def _mutable(self, operation: str) -> Query:
        query = self._query
        if query.combined is not None and operation not in ("order_by", "slice", "using"):
            raise QueryError(f"{operation}() is not allowed after union()")
        if query.sliced and operation not in _AFTER_SLICE:
            raise QueryError(f"cannot {operation}() a queryset once it is sliced")
        return query.clone()

    # -- building --------------------------------------------------------------------------

    def all(self) -> QuerySet[T]:
        """A copy of this queryset."""
        return self._chain()

    def using(self, db: Database | None) -> QuerySet[T]:
        """Run on ``db`` instead of the bound default."""
        return QuerySet(self.model, self._query, db if db is not None else self._db)

    def filter(self, *args: Q, **kwargs: Any) -> QuerySet[T]:
        """Rows matching every condition: ``filter(title__icontains="orm", views__gt=10)``."""
        return self._where(Q(*args, **kwargs), "filter")

    def exclude(self, *args: Q, **kwargs: Any) -> QuerySet[T]:
        """Rows not matching the conditions (taken together)."""
        return self._where(~Q(*args, **kwargs), "exclude")

    def _where(self, condition: Q, operation: str) -> QuerySet[T]:
        query = self._mutable(operation)
        if condition.children:
            query.where = (*query.where, condition)
        return self._chain(query)

    def order_by(self, *terms: str | Expression) -> QuerySet[T]:
        """Order by fields (``"-created"`` descending, ``"author__name"``) or expressions;
        no arguments: no ordering at all (not even Meta.ordering)."""
        query = self._mutable("order_by")
        for term in terms:
            order_token(term, [])  # refuses what cannot be an ordering, now
        query.order = tuple(terms)
        query.reverse = False
        return self._chain(query)

    def reverse(self) -> QuerySet[T]:
        """The same rows in the opposite order."""
        query = self._mutable("reverse")
        query.reverse = not query.reverse
        return self._chain(query)

    def distinct(self, *fields: str) -> QuerySet[T]:
        """Without duplicate rows (``SELECT DISTINCT``).  With field names, one row per
        distinct set of their values: PostgreSQL's ``DISTINCT ON``, the ordering starting
        with those fields (``NotSupportedError`` on the other backends)."""
        query = self._mutable("distinct")
        for name in fields:
            if not isinstance(name, str) or not name:
                raise QueryError(f"distinct() takes field names, not {name!r}")
        query.distinct = tuple(dict.fromkeys(fields)) if fields else True
        return self._chain(query)

    def only(self, *fields: str) -> QuerySet[T]:
        """Load only these fields (and the primary key); reading another raises."""
        query = self._mutable("only")
        query.only = frozenset(fields)
        query.defer = frozenset()
        return self._chain(query)

    def defer(self, *fields: str) -> QuerySet[T]:
        """Leave these fields out of the query; reading one raises NotLoadedError."""
        query = self._mutable("defer")
        query.defer = query.defer | frozenset(fields)
        return self._chain(query)

    def select_related(self, *paths: str) -> QuerySet[T]:
        """Load these single-valued relations in the same query (LEFT OUTER JOINs)."""
        query = self._mutable("select_related")
        for path in paths:
            _check_path(self.model, path, "select_related", single=True)
        query.related = tuple(dict.fromkeys((*query.related, *paths)))
        return self._chain(query)

    def prefetch_related(self, *lookups: Any) -> QuerySet[T]:
        """Load these relations after the main query, one query per relation
        (``Prefetch("tags", queryset=Tag.objects.order_by("name"))`` to refine one)."""
        query = self._mutable("prefetch_related")
        from ._prefetch import Prefetch

        for lookup in lookups:
            if not isinstance(lookup, str | Prefetch):
                raise QueryError(
                    f"prefetch_related() takes paths or Prefetch objects, not {lookup!r}"
                )
            path = lookup.lookup if isinstance(lookup, Prefetch) else lookup
            _check_path(self.model, path, "prefetch_related", single=False)
        query.prefetch = (*query.prefetch, *lookups) if lookups else ()
        return self._chain(query)

    def annotate(self, *args: Aggregate, **kwargs: Any) -> QuerySet[T]:
        """Add computed values: ``annotate(n=Count("books"))`` (aggregates group by the row)."""
        query = self._mutable("annotate")
        annotations = dict(query.annotations)
        for aggregate in args:
            if not isinstance(aggregate, Aggregate) or not isinstance(aggregate.expression, F):
                raise QueryError("annotate() needs a name for an expression: annotate(name=...)")
            kwargs[f"{aggregate.expression.name}__{aggregate.function}"] = aggregate
        check_names(list(kwargs), "annotate()")
        for name, expression in kwargs.items():
            if not isinstance(expression, Expression):
                raise QueryError(f"annotate({name}=...) takes an expression, not {expression!r}")
            if name in annotations:
                raise QueryError(f"the annotation {name!r} is already set")
            annotations[name] = expression
        query.annotations = annotations
        if query.mode != "model" and query.fields is not None:
            query.group_values = True
        return self._chain(query)

    def values(self, *fields: str, **expressions: Expression) -> QuerySet[dict[str, Any]]:
        """Rows as dicts of these fields (all columns if none are named)."""
        return self._values("dict", fields, expressions)

    @overload
    def values_list(self, *fields: str) -> QuerySet[tuple[Any, ...]]: ...
    @overload
    def values_list(self, *fields: str, flat: bool = ..., named: bool = ...) -> QuerySet[Any]: ...
    def values_list(self, *fields: str, flat: bool = False, named: bool = False) -> QuerySet[Any]:
        """Rows as tuples (``flat=True``: single values; ``named=True``: named tuples)."""
        if flat and named:
            raise QueryError("values_list(): flat and named cannot both be set")
        if flat and len(fields) != 1:
            raise QueryError("values_list(flat=True) takes exactly one field")
        return self._values("flat" if flat else "named" if named else "tuple", fields, {})

    def _values(
        self, mode: str, fields: Sequence[str], expressions: Mapping[str, Expression]
    ) -> QuerySet[Any]:
        query = self._mutable("values")
        query.mode = mode
        if not fields and not expressions:
            # All columns: nothing to check or build.  With Query.key's and Q's fast
            # paths, filter(level=...).values_list() 3.54 -> 2.83 us to build (timeit).
            query.fields = None
        else:
            check_names(list(expressions), "values()")
            for name in fields:
                if not isinstance(name, str):
                    raise QueryError(f"values() takes field names, not {name!r}")
            query.fields = (*fields, *expressions.items())
        return self._chain(query)

    def dates(self, field_name: str, kind: str, order: str = "ASC") -> QuerySet[datetime.date]:
        """The distinct values of a date (or datetime) field truncated to ``kind``
        ("year", "month", "week": its Monday, "day"), as ``date`` objects in ``order``
        ("ASC" or "DESC"); NULLs left out.  A datetime is truncated as stored (UTC)."""
        from ._dates import DATE_KINDS

        return self._truncated("dates", field_name, kind, order, DATE_KINDS, None)

    def datetimes(
        self, field_name: str, kind: str, order: str = "ASC", tzinfo: datetime.tzinfo | None = None
    ) -> QuerySet[datetime.datetime]:
        """The distinct values of a datetime field truncated to ``kind`` ("year" ...
        "week" ... "day", "hour", "minute", "second") as ``datetime`` objects: naive
        UTC, or with ``tzinfo`` truncated in that zone's local time and aware in it."""
        from ._dates import DATETIME_KINDS, transitions

        if tzinfo is not None:
            if not isinstance(tzinfo, datetime.tzinfo):
                raise QueryError(f"datetimes(): tzinfo must be a datetime.tzinfo, not {tzinfo!r}")
            transitions(tzinfo)  # read (and cached) now: a zone without offsets fails here
        return self._truncated("datetimes", field_name, kind, order, DATETIME_KINDS, tzinfo)

    def _truncated(
        self,
        method: str,
        field_name: str,
        kind: str,
        order: str,
        kinds: tuple[str, ...],
        tzinfo: datetime.tzinfo | None,
    ) -> QuerySet[Any]:
        from ._dates import Trunc, check_field

        if kind not in kinds:
            raise QueryError(
                f"{method}(): kind must be one of {', '.join(map(repr, kinds))}, not {kind!r}"
            )
        if order not in ("ASC", "DESC"):
            raise QueryError(f"{method}(): order must be 'ASC' or 'DESC', not {order!r}")
        check_field(self.model, field_name, method, kinds)
        output = "date" if method == "dates" else "datetime"
        truncated = Trunc(field_name, kind, output, tzinfo)
        # NULLs left out by a condition on the very column truncated (an annotation):
        # filter(books__published__isnull=False) would be an EXISTS, and the join the
        # truncation reads could still bring another book's NULL.
        rows = self.annotate(plain_field=F(field_name)).filter(plain_field__isnull=False)
        values = rows._values("flat", (), {"datefield": truncated}).distinct()
        return values.order_by(("-" if order == "DESC" else "") + "datefield")

    def none(self) -> QuerySet[T]:
        """A queryset that matches nothing (and runs no query)."""
        query = self._query.clone()
        query.empty = True
        return self._chain(query)

    def union(self, *others: QuerySet[Any], all: bool = False) -> QuerySet[T]:
        """The rows of this queryset and the others (``all=True`` keeps duplicates)."""
        query = self._mutable("union")
        parts = [o._query for o in others if not o._query.empty]
        for part in parts:
            if part.combined is not None:
                raise QueryError("union(): nested unions are not supported")
        if query.empty:
            if not parts:
                return self._chain(query)
            first, *rest = parts
            query = first.clone()
            parts = rest
        if parts:
            query.combined = ("union", all, tuple(parts))
        return self._chain(query)

    def select_for_update(self, *, nowait: bool = False, skip_locked: bool = False) -> QuerySet[T]:
        """Lock the selected rows until the end of the transaction (``FOR UPDATE``;
        SQLite locks the whole database for a write transaction instead)."""
        if nowait and skip_locked:
            raise QueryError("select_for_update(): nowait and skip_locked cannot both be set")
        query = self._mutable("select_for_update")
        query.for_update = (nowait, skip_locked)
        return self._chain(query)

    @overload
    def __getitem__(self, index: int) -> Awaitable[T]: ...
    @overload
    def __getitem__(self, index: slice) -> QuerySet[T]: ...
    def __getitem__(self, index: int | slice) -> Any:
        query = self._query
        if isinstance(index, int):
            if index < 0:
                raise QueryError("negative indexing is not supported")
            return self._index(index)
        if not isinstance(index, slice):
            raise TypeError(
                f"QuerySet indices must be integers or slices, not {type(index).__name__}"
            )
        if index.step is not None:
            raise QueryError("slicing with a step is not supported")
        start, stop = index.start or 0, index.stop
        if start < 0 or (stop is not None and stop < 0):
            raise QueryError("negative indexing is not supported")
        query = query.clone()
        low = query.low + start
        high = query.low + stop if stop is not None else query.high
        if query.high is not None and high is not None:
            high = min(high, query.high)
        if high is not None and high < low:
            high = low
        query.low, query.high = low, high
        return self._chain(query)

    async def _index(self, index: int) -> T:
        found = await self[index : index + 1]._fetch_all()
        if not found:
            raise IndexError(f"{self.model.__name__} queryset index {index} out of range")
        return found[0]

    # -- running ------------------------------------------------------------------------------

    def __await__(self) -> Generator[Any, None, list[T]]:
        return self._fetch_all().__await__()

    async def _fetch_all(self) -> list[T]:
        query = self._query
        if query.empty and query.combined is None:
            return []
        connection = connection_for(self._db)
        if query.for_update is not None and not connection.database.in_transaction():
            raise QueryError(
                "select_for_update() outside a transaction would lock nothing: run it "
                "inside `async with db.transaction():`"
            )
        params: list[Any] = []
        key = query.key(params)
        entry = connection.cache.get(key) or compiled_select(connection, key)
        rows = await connection.database.fetch_rows(entry.sql, entry.values(params))
        result: list[T] = entry.load(rows)
        if query.prefetch and result and query.mode == "model":
            # values()/values_list() rows hold no relations: prefetch_related() is
            # ignored for them, as in Django (a manager's default prefetch stays usable).
            from ._prefetch import prefetch

            await prefetch(result, query.prefetch, self._db)
        return result

    def __aiter__(self) -> AsyncIterator[T]:
        return self.iterator()

    async def iterator(self, chunk_size: int = 500) -> AsyncIterator[T]:
        """Stream the results, ``chunk_size`` rows in memory at a time.

        Without prefetch_related: one query over a server-side cursor.  With it: one
        query per chunk (LIMIT/OFFSET in the queryset's order), each chunk's relations
        prefetched before its objects are yielded — a cursor cannot stay open while
        the prefetch queries run (MySQL streams over the connection itself).
        """
        if chunk_size < 1:
            raise QueryError(f"chunk_size must be at least 1, not {chunk_size}")
        query = self._query
        if query.empty and query.combined is None:
            return
        if query.prefetch and query.mode == "model":
            base = self._ordered()
            start = 0
            while True:
                chunk = await base[start : start + chunk_size]._fetch_all()
                for obj in chunk:
                    yield obj
                if len(chunk) < chunk_size:
                    return
                start += chunk_size
        connection = connection_for(self._db)
        params: list[Any] = []
        key = query.key(params)
        entry = compiled_select(connection, key)
        load_one = entry.load_one
        if load_one is None:
            load_one = entry.load_one = make_row_loader(entry.plan)
        rows: Any = connection.database.iterate(
            entry.sql, entry.values(params), batch_size=chunk_size
        )
        async with aclosing(rows):
            async for row in rows:
                yield load_one(tuple(row.values()))  # a record: its values, in order

    async def get(self, *args: Q, **kwargs: Any) -> T:
        """The one row matching; ``Model.DoesNotExist`` / ``MultipleObjectsReturned`` else."""
        if self._query.plain and not args and len(kwargs) == 1:
            # Model.objects.get(pk=...): the hottest query there is goes straight to its
            # compiled statement (no queryset chain, no key to build, no second coroutine).
            ((name, value),) = kwargs.items()
            model = self.model
            if type(value) in _KEY_TYPES and (name == "pk" or name == model._meta.pk.name):
                connection = connection_for(self._db)
                by_key: _ByKey | None = connection.cache.get((_ByKey, model))
                if by_key is None:
                    by_key = self._by_key(connection, value)
                rows = await connection.database.fetch_rows(by_key.sql, by_key.arguments(value))
                if len(rows) == 1:
                    found: list[T] = by_key.load(rows)
                    return found[0]
                return self._not_one(len(rows))
        queryset = self.filter(*args, **kwargs) if args or kwargs else self
        if not queryset._query.sliced:
            queryset = queryset[:MAX_GET_RESULTS]
        found = await queryset._fetch_all()
        if len(found) == 1:
            return found[0]
        return self._not_one(len(found))

    def _not_one(self, count: int) -> NoReturn:
        model = self.model
        if not count:
            raise model.DoesNotExist(f"{model.__name__} matching query does not exist")
        more = "more than 20" if count == MAX_GET_RESULTS else str(count)
        raise model.MultipleObjectsReturned(
            f"get() returned more than one {model.__name__} (it returned {more})"
        )

    def _by_key(self, connection: Connection, value: Any) -> _ByKey:
        params: list[Any] = []
        key = self.filter(pk=value)[:MAX_GET_RESULTS]._query.key(params)
        by_key = _ByKey(compiled_select(connection, key))
        connection.remember((_ByKey, self.model), by_key)
        return by_key

    def _ordered(self) -> QuerySet[T]:
        query = self._query
        if query.order is None and not self.model._meta.ordering:
            return self.order_by("pk")
        return self

    async def first(self) -> T | None:
        """The first row (by primary key if the queryset is not ordered), or None."""
        found = await self._ordered()[:1]._fetch_all()
        return found[0] if found else None

    async def last(self) -> T | None:
        """The last row (by primary key if the queryset is not ordered), or None."""
        found = await self._ordered().reverse()[:1]._fetch_all()
        return found[0] if found else None

    async def earliest(self, *fields: str) -> T:
        """The first row ordered by ``fields``; DoesNotExist if there is none."""
        return await self.order_by(*fields)[:1].get()

    async def latest(self, *fields: str) -> T:
        """The last row ordered by ``fields``; DoesNotExist if there is none."""
        return await self.order_by(*fields).reverse()[:1].get()

    async def _scalar(self, kind: str, extra: Any = None, params: list[Any] | None = None) -> Any:
        connection = connection_for(self._db)
        params = params if params is not None else []
        key = self._query.key(params)
        if extra is not None:
            extra = extra(params)
        entry = compiled_other(connection, kind, key, extra)
        return connection, entry, params

    async def count(self) -> int:
        """The number of rows (``SELECT count(*)``)."""
        if self._query.empty and self._query.combined is None:
            return 0
        connection, entry, params = await self._scalar("count")
        count: int = await connection.database.fetch_val(entry.sql, entry.values(params))
        return int(count)

    async def exists(self) -> bool:
        """Whether any row matches (``SELECT 1 ... LIMIT 1``)."""
        if self._query.empty and self._query.combined is None:
            return False
        connection, entry, params = await self._scalar("exists")
        return await connection.database.fetch_one(entry.sql, entry.values(params)) is not None

    async def aggregate(self, *args: Aggregate, **kwargs: Aggregate) -> dict[str, Any]:
        """Aggregates over the whole queryset: ``aggregate(total=Sum("views"))`` → dict."""
        for aggregate in args:
            if not isinstance(aggregate, Aggregate) or not isinstance(aggregate.expression, F):
                raise QueryError("aggregate() needs a name for an expression: aggregate(name=...)")
            kwargs[f"{aggregate.expression.name}__{aggregate.function}"] = aggregate
        if not kwargs:
            raise QueryError("aggregate() needs at least one aggregate")
        check_names(list(kwargs), "aggregate()")
        for name, value in kwargs.items():
            if not isinstance(value, Expression):
                raise QueryError(f"aggregate({name}=...) takes an aggregate, not {value!r}")
        if self._query.empty:
            return {
                name: (0 if value.function == "count" else None)
                for name, value in kwargs.items()
                if isinstance(value, Aggregate)
            }

        def extra(params: list[Any]) -> tuple[Any, ...]:
            return tuple((name, value.key(params)) for name, value in kwargs.items())

        connection, entry, params = await self._scalar("aggregate", extra)
        row = await connection.database.fetch_one(entry.sql, entry.values(params))
        out: dict[str, Any] = {}
        for index, (name, converter) in enumerate(entry.plan):
            value = row[index]
            out[name] = converter(value) if converter is not None and value is not None else value
        return out

    async def in_bulk(
        self, id_list: Iterable[Any] | None = None, *, field_name: str = "pk"
    ) -> dict[Any, T]:
        """``{key: object}`` for the given keys (all rows if ``id_list`` is None)."""
        meta = self.model._meta
        field = meta.pk if field_name == "pk" else meta.get_field(field_name)
        if field_name != "pk" and not field.unique:
            raise QueryError(f"in_bulk(): {field_name!r} is not a unique field")
        queryset = self
        if id_list is not None:
            ids = list(id_list)
            if not ids:
                return {}
            queryset = self.filter(**{f"{field.name}__in": ids})
        found = await queryset._fetch_all()
        return {getattr(obj, field.attname): obj for obj in found}

    async def update(self, **kwargs: Any) -> int:
        """UPDATE every matching row; returns the number of rows matched."""
        if not kwargs:
            raise QueryError("update() needs at least one field")
        query = self._query
        if query.sliced:
            raise QueryError("cannot update() a sliced queryset")
        if query.combined is not None:
            raise QueryError("update() is not allowed after union()")
        if isinstance(query.distinct, tuple):
            # The rows DISTINCT ON would keep depend on the ordering: not a set to update.
            raise QueryError("update() is not allowed after distinct(*fields)")
        if query.empty:
            return 0
        meta = self.model._meta
        for name in kwargs:
            field = meta.get_field(name)
            if not field.concrete:
                raise FieldError(f"update(): {name!r} is a many-to-many relation, not a column")

        def extra(params: list[Any]) -> tuple[Any, ...]:
            assignments = []
            for name, value in kwargs.items():
                field = meta.get_field(name)
                if isinstance(value, Expression) and value.contains_aggregate:
                    raise QueryError("update() cannot use aggregates")
                assignments.append((field.attname, token(value, params)))
            return tuple(assignments)

        connection, entry, params = await self._scalar("update", extra)
        changed: int = await connection.database.execute(entry.sql, entry.values(params))
        return changed

    async def delete(self) -> int:
        """DELETE every matching row (applying on_delete rules); returns rows deleted."""
        query = self._query
        if query.sliced:
            raise QueryError("cannot delete() a sliced queryset")
        if query.combined is not None or query.distinct:
            raise QueryError("delete() is not allowed after union() or distinct()")
        if query.empty:
            return 0
        from ._deletion import delete_queryset

        return await delete_queryset(self)

    # -- writes through the queryset ---------------------------------------------------------

    async def create(self, **kwargs: Any) -> T:
        """Make an object and INSERT it: ``await Article.objects.create(title="x")``."""
        obj: Any = self.model(**kwargs)
        await obj.save(using=self._db, force_insert=True)
        return obj  # type: ignore[no-any-return]

    async def get_or_create(
        self, defaults: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> tuple[T, bool]:
        """The matching object, or a new one (``defaults`` added); ``(obj, created)``.

        Race-safe given a unique constraint over the lookup: a concurrent creator's
        IntegrityError turns into fetching its row."""
        from ._writes import get_or_create

        return await get_or_create(self, defaults, kwargs)

    async def update_or_create(
        self,
        defaults: Mapping[str, Any] | None = None,
        create_defaults: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> tuple[T, bool]:
        """Update the matching object with ``defaults`` (locked with select_for_update),
        or create it (with ``create_defaults`` if given); ``(obj, created)``."""
        from ._writes import update_or_create

        return await update_or_create(self, defaults, create_defaults, kwargs)

    async def bulk_create(
        self, objs: Iterable[T], *, batch_size: int | None = None, ignore_conflicts: bool = False
    ) -> list[T]:
        """INSERT many objects in batched multi-row statements; primary keys are set
        from RETURNING where the backend has it (not with ``ignore_conflicts``)."""
        from ._writes import bulk_create

        return await bulk_create(self.model, list(objs), batch_size, ignore_conflicts, self._db)

    async def bulk_update(
        self, objs: Iterable[T], fields: Sequence[str], *, batch_size: int | None = None
    ) -> int:
        """UPDATE ``fields`` of many objects (by primary key); returns the object count."""
        from ._writes import bulk_update

        return await bulk_update(self.model, list(objs), fields, batch_size, self._db)

    # -- used by subqueries and prefetching -----------------------------------------------------

    def _subquery_key(self, params: list[Any]) -> QueryKey:
        query = self._query
        if query.mode != "model" and (query.fields is None or len(query.fields) != 1):
            raise QueryError(
                "a queryset used as a value must select one column "
                "(values_list('field', flat=True))"
            )
        return query.key(params)
