"""Creating and dropping the tables of models (tests, scripts, first runs).

Migrations (``vivace db makemigrations`` / ``upgrade``) are the way to evolve a
database; ``create_tables`` is for a fresh database: a test fixture, a script, an
in-memory SQLite.  Tables are created in dependency order (a table after the tables
its foreign keys point at) and dropped in the reverse order.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ._errors import ModelDefinitionError
from ._options import skipped_on
from ._registry import check_resolved, connection_for

if TYPE_CHECKING:
    from vivace.db import Database

    from ._model import Model

__all__ = ["create_tables", "drop_tables"]


def _tables(models: Iterable[type[Model]]) -> list[sa.Table]:
    chosen: dict[str, sa.Table] = {}
    for model in models:
        check_resolved(model)
        meta = model._meta
        if meta.abstract:
            raise ModelDefinitionError(f"{model.__name__} is abstract: it has no table")
        chosen[meta.table_name] = meta.table
        for field in meta.many_to_many:
            through = getattr(field, "through", None)
            if through is not None and through._meta.auto_through:
                chosen[through._meta.table_name] = through._meta.table
    # Dependency order within the chosen tables.
    ordered = [t for t in sa.schema.sort_tables(list(chosen.values())) if t.name in chosen]
    return ordered


def _ddl(connection: Any, element: Any) -> str:
    return str(element.compile(dialect=connection.dialect))


async def create_tables(*models: type[Model], using: Database | None = None) -> None:
    """CREATE TABLE (and indexes) for ``models`` and their automatic join tables.

    >>> import asyncio
    >>> from vivace.db import Database
    >>> from vivace.orm import Model, CharField, create_tables
    >>> class Memo(Model):
    ...     text: str = CharField(max_length=20)
    >>> async def main():
    ...     async with Database("sqlite://") as db:
    ...         await create_tables(Memo, using=db)
    ...         await Memo.objects.using(db).create(text="hi")
    ...         return await Memo.objects.using(db).count()
    >>> asyncio.run(main())
    1
    """
    connection = connection_for(using)
    for table in _tables(models):
        await connection.database.execute(_ddl(connection, sa.schema.CreateTable(table)))
        for index in table.indexes:
            if skipped_on(index, connection.backend):
                continue
            await connection.database.execute(_ddl(connection, sa.schema.CreateIndex(index)))


async def drop_tables(*models: type[Model], using: Database | None = None) -> None:
    """DROP TABLE IF EXISTS for ``models`` and their automatic join tables."""
    connection = connection_for(using)
    for table in reversed(_tables(models)):
        await connection.database.execute(
            _ddl(connection, sa.schema.DropTable(table, if_exists=True))
        )
