"""Deleting rows and applying ``on_delete``.

The database does CASCADE and SET_NULL itself (the foreign keys are declared that
way), so deleting rows is one ``DELETE`` whenever nothing else is needed — the common
case.  The ORM steps in only where a model reachable through cascades has a rule the
database does not apply: PROTECT (refuse if any row refers to a deleted one: raises
``ProtectedError`` listing them), RESTRICT (refuse unless every referring row is itself
deleted by a cascade: ``RestrictedError``), SET_DEFAULT (set the foreign key to its
default first), and CASCADE/SET_NULL of a foreign key with ``db_constraint=False``.
Then the rows to be deleted are collected level by level (one query per relation
and level), the rules are checked and applied, the collected rows are deleted
children first, and everything runs in one transaction: a refusal leaves nothing
half-done.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._errors import ProtectedError, RestrictedError
from ._registry import Connection, connection_for, registry
from ._relations import CASCADE, PROTECT, RESTRICT, SET_DEFAULT, SET_NULL
from ._writes import by_key

if TYPE_CHECKING:
    from vivace.db import Database

    from ._model import Model
    from ._queryset import QuerySet

__all__ = ["delete_object", "delete_queryset", "delete_statement", "needs_collector"]

_DB_RULES = (CASCADE, SET_NULL)
_SHOWN = 20  # refused rows named in a ProtectedError/RestrictedError message


def needs_collector(model: type[Model]) -> bool:
    """Whether deleting rows of ``model`` needs the ORM (not only the database)."""
    cached = model._meta.deletion_plan
    if cached is not None and cached[0] == registry.version:
        return bool(cached[1])
    result = _needs(model, set())
    model._meta.deletion_plan = (registry.version, result)
    return result


def _needs(model: type[Model], seen: set[type[Model]]) -> bool:
    if model in seen:
        return False
    seen.add(model)
    for fk in model._meta.incoming:
        rule = fk.on_delete
        if rule in (PROTECT, RESTRICT, SET_DEFAULT):
            return True
        if rule in _DB_RULES and not fk.db_constraint:
            return True
        if rule is CASCADE and _needs(fk.model, seen):
            return True
    return False


async def delete_object(obj: Model, using: Database | None) -> int:
    """``obj.delete()``: one ``DELETE`` by key, or the collector where on_delete rules
    need the ORM; returns the rows deleted here."""
    model = type(obj)
    data = obj.__dict__
    key = data.get(model._meta.pk.attname)
    if key is None:
        raise ValueError(f"{model.__name__} object can't be deleted: its primary key is None")
    if needs_collector(model):
        from ._queryset import QuerySet

        count = await delete_queryset(QuerySet(model, db=using).filter(pk__in=[key]))
    else:
        count = await _delete_one(model, key, using)
    data["_persisted"] = False
    return count


async def _delete_one(model: type[Model], key: Any, using: Database | None) -> int:
    """``DELETE ... WHERE pk = :pk``, its SQL rendered once per model and database.

    ``obj.delete()`` of a model nothing needs collecting for, without building and
    keying a queryset each time (``filter(pk__in=[key])``): bench/orm.py's K on MariaDB,
    10 tasks in transactions: 65.7 -> 46.0 us of CPU a delete (the raw driver 37).
    """
    connection = connection_for(using)
    sql, to_db = delete_statement(connection, model)
    return await connection.database.execute(sql, [key if to_db is None else to_db(key)])


def delete_statement(connection: Connection, model: type[Model]) -> tuple[str, Any]:
    """``DELETE FROM <table> WHERE <table>.<key> = :pk`` and the key's conversion.

    Written out, not compiled by SQLAlchemy: the same text (test_internals.py compares
    them), without a compile in the first delete() of a model (its CPU on PostgreSQL:
    284 -> 131 us, the raw driver's first DELETE 83).
    """
    cache_key = ("delete_one", model)
    found: tuple[str, Any] | None = connection.cache.get(cache_key)
    if found is None:
        table, where = by_key(connection, model, "pk")
        to_db = model._meta.pk.converters(connection.backend)[0]
        found = connection.remember(cache_key, (f"DELETE FROM {table} {where}", to_db))
    return found


async def delete_queryset(queryset: QuerySet[Any]) -> int:
    from ._queryset import compiled_other

    model = queryset.model
    connection = connection_for(queryset._db)
    database = connection.database
    if not needs_collector(model):
        params: list[Any] = []
        key = queryset._query.key(params)
        entry = compiled_other(connection, "delete", key)
        return await database.execute(entry.sql, entry.values(params))
    async with database.transaction():
        keys = list(await queryset.values_list("pk", flat=True))
        if not keys:
            return 0
        collector = _Collector(queryset._db)
        await collector.collect(model, keys)
        await collector.check()
        await collector.apply()
        from ._queryset import QuerySet

        return await _delete_simple(QuerySet(model, db=queryset._db), keys)


async def _delete_simple(queryset: QuerySet[Any], keys: list[Any]) -> int:
    from ._queryset import compiled_other

    connection = connection_for(queryset._db)
    params: list[Any] = []
    key = queryset.filter(pk__in=keys)._query.key(params)
    entry = compiled_other(connection, "delete", key)
    return await connection.database.execute(entry.sql, entry.values(params))


class _Collector:
    """The rows a deletion reaches, and the ORM's share of the work."""

    def __init__(self, using: Database | None) -> None:
        self.using = using
        self.deleted: dict[type[Model], set[Any]] = {}
        self.orm_deletes: list[tuple[type[Model], list[Any]]] = []
        self.updates: list[tuple[Any, list[Any], Any]] = []  # (fk, keys, value)
        self.restricted: list[tuple[Any, list[Any]]] = []
        self.protected: list[Any] = []

    def _queryset(self, model: type[Model]) -> QuerySet[Any]:
        from ._queryset import QuerySet

        return QuerySet(model, db=self.using)

    async def collect(self, model: type[Model], keys: list[Any]) -> None:
        fresh = [k for k in keys if k not in self.deleted.setdefault(model, set())]
        if not fresh:
            return
        self.deleted[model].update(fresh)
        for fk in model._meta.incoming:
            rule = fk.on_delete
            related = fk.model
            target_keys = fresh
            if fk.target_field is not model._meta.pk:
                target_keys = list(
                    await self._queryset(model)
                    .filter(pk__in=fresh)
                    .values_list(fk.target_field.attname, flat=True)
                )
            lookup = {f"{fk.attname}__in": target_keys}
            if rule is CASCADE:
                # Collected even where the database cascades: RESTRICT must know every
                # row the deletion reaches.
                children = list(
                    await self._queryset(related).filter(**lookup).values_list("pk", flat=True)
                )
                if children:
                    # Deleted by the ORM, children first: a database's NO ACTION check
                    # (PostgreSQL's) can fire before its own cascade reaches a row.
                    self.orm_deletes.append((related, children))
                    await self.collect(related, children)
            elif rule is SET_NULL and not fk.db_constraint:
                self.updates.append((fk, target_keys, None))
            elif rule is SET_DEFAULT:
                self.updates.append((fk, target_keys, fk.get_default()))
            elif rule is PROTECT:
                found = await self._queryset(related).filter(**lookup)[:_SHOWN]
                self.protected.extend(found)
            elif rule is RESTRICT:
                self.restricted.append((fk, target_keys))

    async def check(self) -> None:
        if self.protected:
            names = ", ".join(repr(o) for o in self.protected[:_SHOWN])
            first = self.protected[0]
            raise ProtectedError(
                f"cannot delete: {type(first).__name__} rows refer to it through a protected "
                f"foreign key (on_delete=PROTECT): {names}",
                self.protected,
            )
        refused: list[Any] = []
        for fk, keys in self.restricted:
            deleted = self.deleted.get(fk.model, set())
            rows = await self._queryset(fk.model).filter(**{f"{fk.attname}__in": keys})
            refused.extend(row for row in rows if row.pk not in deleted)
        if refused:
            names = ", ".join(repr(o) for o in refused[:_SHOWN])
            raise RestrictedError(
                f"cannot delete: rows refer to it through a restricted foreign key "
                f"(on_delete=RESTRICT) and are not deleted with it: {names}",
                refused,
            )

    async def apply(self) -> None:
        for fk, keys, value in self.updates:
            await (
                self._queryset(fk.model)
                .filter(**{f"{fk.attname}__in": keys})
                .update(**{fk.attname: value})
            )
        # Every collected row, children first (then the database cascades nothing).
        for model, keys in reversed(self.orm_deletes):
            await _delete_simple(self._queryset(model), keys)
