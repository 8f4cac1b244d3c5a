"""``Connection``: a handle on the connection of a scope (``db.connection()``, a transaction).

Everything run through it goes to that one connection, through its gate, so the handle
may be passed to concurrent tasks.  ``raw_connection`` is the driver's own object for
what vivace does not wrap (COPY, LISTEN/NOTIFY ...): use it only while no other task
is using the handle.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

from ._scope import Scope, bindings
from ._transaction import Transaction

if TYPE_CHECKING:
    from ._compile import Values
    from ._database import Database

__all__ = ["Connection"]


class Connection:
    """A pinned connection.  Same query methods as ``Database``.

    >>> import asyncio
    >>> from vivace.db import Database
    >>> async def main():
    ...     async with Database("sqlite://") as db, db.connection() as conn:
    ...         await conn.execute("CREATE TEMP TABLE t (x INTEGER)")
    ...         await conn.execute("INSERT INTO t VALUES (:x)", {"x": 1})
    ...         return await conn.fetch_val("SELECT count(*) FROM t")
    >>> asyncio.run(main())
    1
    """

    __slots__ = ("_database", "_scope")

    def __init__(self, database: Database, scope: Scope) -> None:
        self._database = database
        self._scope = scope

    def _target(self) -> Scope:
        # The context's own scope when it is on this connection (it may be a nested
        # transaction inside this block); else the block the handle was made for.
        current = bindings.get()
        if current is not None:
            scope = current.get(self._database)
            if scope is not None and scope.lease is self._scope.lease and scope.open:
                return scope
        return self._scope

    @property
    def raw_connection(self) -> Any:
        """The driver's connection (asyncpg / asyncmy Connection, sqlite3.Connection)."""
        return self._scope.lease.raw.raw

    async def fetch_all(self, query: Any, values: Values | None = None) -> list[Any]:
        return await self._database._run_in(self._target(), "fetch_all", query, values)  # type: ignore[no-any-return]

    async def fetch_rows(self, query: Any, values: Values | None = None) -> list[Sequence[Any]]:
        return await self._database._run_in(self._target(), "fetch_rows", query, values)  # type: ignore[no-any-return]

    async def fetch_one(self, query: Any, values: Values | None = None) -> Any:
        return await self._database._run_in(self._target(), "fetch_one", query, values)

    async def fetch_val(
        self, query: Any, values: Values | None = None, column: int | str = 0
    ) -> Any:
        return await self._database._run_in(self._target(), "fetch_val", query, values, column)

    async def execute(self, query: Any, values: Values | None = None) -> int:
        return await self._database._run_in(self._target(), "execute", query, values)  # type: ignore[no-any-return]

    async def execute_insert(self, query: Any, values: Values | None = None) -> Any:
        return await self._database._run_in(self._target(), "execute_insert", query, values)

    async def execute_many(self, query: Any, values: Sequence[Values]) -> None:
        await self._database._run_in(self._target(), "execute_many", query, values)

    def iterate(
        self, query: Any, values: Values | None = None, *, batch_size: int = 500
    ) -> AsyncIterator[Any]:
        return self._database._iterate_in(self._target(), query, values, batch_size)

    def transaction(
        self, *, isolation: str | None = None, force_rollback: bool = False
    ) -> Transaction:
        """A transaction on this connection (a savepoint when one is already open)."""
        return Transaction(
            self._database, isolation=isolation, force_rollback=force_rollback, on=self._target()
        )
