"""``Database``: the entry point — a URL, a pool, and the query methods.

See ``_scope`` for which connection each statement runs on, ``_compile`` for how
queries become driver SQL, ``_pool`` for the pool.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import aclosing
from types import TracebackType
from typing import Any

from ._compile import CoreCompiler, RawStatement, Values, parse_raw
from ._connection import Connection
from ._errors import DatabaseNotConnected, InterfaceError, ParameterError, TransactionError
from ._pool import Pool
from ._record import convert_rows, convert_values
from ._scope import Lease, Scope, bind, bindings, live_scope, unbind
from ._transaction import Transaction
from ._url import DatabaseURL
from .backends import get_backend
from .backends.base import Backend, BackendConnection

__all__ = ["Database"]

_POOL_OPTIONS = ("min_size", "max_size", "acquire_timeout", "max_idle", "max_lifetime")
_RAW_CACHE_SIZE = 2000


class Database:
    """An async database: PostgreSQL, MySQL/MariaDB or SQLite behind one API.

    ``Database(url, **options)``: pool options are ``min_size`` (1), ``max_size`` (10),
    ``acquire_timeout`` (30 s: then PoolTimeout), ``max_idle`` (600 s) and
    ``max_lifetime`` (None: unlimited); ``force_rollback=True`` runs everything in one
    transaction that is rolled back on disconnect (tests).  Other keyword options go
    to the driver's connect function.

    >>> import asyncio
    >>> async def main():
    ...     async with Database("sqlite://") as db:
    ...         await db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
    ...         await db.execute("INSERT INTO notes (text) VALUES (:text)", {"text": "hi"})
    ...         row = await db.fetch_one("SELECT id, text FROM notes WHERE id = :id", {"id": 1})
    ...         return row.text, row["id"]
    >>> asyncio.run(main())
    ('hi', 1)
    """

    __slots__ = (
        "_backend",
        "_connects",
        "_core",
        "_encoders",
        "_force_rollback",
        "_global",
        "_global_tx",
        "_lock",
        "_pool",
        "_pool_options",
        "_raw_cache",
        "_style",
        "url",
    )

    def __init__(
        self, url: str | DatabaseURL, *, force_rollback: bool = False, **options: Any
    ) -> None:
        self.url = DatabaseURL(url)
        pool_options = {key: options.pop(key) for key in _POOL_OPTIONS if key in options}
        backend_cls = get_backend(self.url.backend)
        self._backend: Backend = backend_cls(self.url, options)
        limit = self._backend.max_connections
        max_size = pool_options.get("max_size", 10)
        if limit is not None and max_size > limit:
            # An in-memory SQLite database exists inside one connection.
            pool_options["max_size"] = limit
            pool_options["min_size"] = min(pool_options.get("min_size", 1), limit)
        self._pool_options = {
            "min_size": 1,
            "max_size": 10,
            "acquire_timeout": 30.0,
            "max_idle": 600.0,
            "max_lifetime": None,
            **pool_options,
        }
        # Validate now, not at connect time.
        Pool(self._backend.connect, **self._pool_options)
        self._force_rollback = force_rollback
        self._style = self._backend.paramstyle
        self._encoders = self._backend.encoders
        self._core = CoreCompiler(self._backend.dialect)
        self._raw_cache: dict[str, RawStatement] = {}
        self._pool: Pool | None = None
        self._global: Scope | None = None
        self._global_tx: Transaction | None = None
        self._connects = 0
        self._lock: asyncio.Lock | None = None

    def __repr__(self) -> str:
        state = "connected" if self._pool is not None else "disconnected"
        return f"<Database {self.url} {state}>"

    # -- lifecycle ---------------------------------------------------------------

    @property
    def is_connected(self) -> bool:
        return self._pool is not None

    @property
    def dialect(self) -> Any:
        """The SQLAlchemy dialect used to compile Core statements for this database."""
        return self._backend.dialect

    def pool_stats(self) -> dict[str, Any]:
        """Pool counters: size, idle, in_use, waiting, max_size."""
        return self._require_pool().stats()

    async def connect(self) -> None:
        """Open the pool (one connection at least, so a bad URL fails here).

        Calls nest: each ``connect()`` needs a matching ``disconnect()``, and only the
        last one closes the pool — so a test fixture and an app's lifespan can both
        connect the same Database.
        """
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            self._connects += 1
            if self._connects > 1:
                return
            try:
                pool = Pool(self._backend.connect, **self._pool_options)
                first = await self._backend.connect()
                try:
                    await self._backend.setup(first)
                    await pool.open(first)
                except BaseException:
                    first.terminate()
                    raise
                self._encoders = self._backend.encoders
                self._pool = pool
                if self._force_rollback:
                    await self._begin_global()
            except BaseException:
                self._connects = 0
                if self._pool is not None:
                    await self._pool.close()
                    self._pool = None
                raise

    async def disconnect(self) -> None:
        """Close the pool (after the matching number of ``connect()`` calls)."""
        if self._lock is None or self._connects == 0:
            return
        async with self._lock:
            self._connects -= 1
            if self._connects > 0:
                return
            pool = self._pool
            try:
                if self._global_tx is not None:
                    await self._end_global()
            finally:
                self._pool = None
                if pool is not None:
                    await pool.close()

    async def __aenter__(self) -> Database:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.disconnect()

    def lifespan(self, app: Any = None) -> _Lifespan:
        """An async context manager that connects on enter and disconnects on exit.

        Takes (and ignores) the app, so it fits ``App(lifespan=db.lifespan)`` and
        Starlette's ``Starlette(lifespan=db.lifespan)`` alike.
        """
        return _Lifespan(self)

    def force_rollback(self) -> _ForceRollback:
        """Run everything — every task's statements — in one transaction, rolled back at exit.

        Transactions inside become savepoints.  For tests: see ``vivace.testing``'s
        ``vivace_db`` fixture.
        """
        return _ForceRollback(self)

    async def _begin_global(self) -> None:
        if self._global_tx is not None:
            raise TransactionError("force_rollback is already active on this database")
        transaction = Transaction(self, _bind=False)
        saved = bindings.get()
        if saved is not None and self in saved:
            # Start at the top level even if the caller sits in a transaction.
            raise TransactionError("force_rollback cannot start inside a transaction")
        await transaction.start()
        self._global_tx = transaction
        self._global = transaction._scope

    async def _end_global(self) -> None:
        transaction = self._global_tx
        assert transaction is not None
        self._global_tx = None
        self._global = None
        if transaction.state == "started":
            await transaction.rollback()

    def _require_pool(self) -> Pool:
        pool = self._pool
        if pool is None:
            raise DatabaseNotConnected(
                f"database {self.url} is not connected: call `await db.connect()` first "
                f"(or use `async with db:` / the lifespan)"
            )
        return pool

    def _current_scope(self) -> Scope | None:
        current = bindings.get()
        if current is not None:
            scope = current.get(self)
            if scope is not None:
                return live_scope(self, scope)
        scope = self._global
        if scope is not None:
            scope.lease._check_lost()
        return scope

    # -- compiling -----------------------------------------------------------------

    def _sql(
        self, query: Any, values: Values | None
    ) -> tuple[str, Sequence[Any], list[Any] | None]:
        if type(query) is str:
            statement = self._raw_cache.get(query)
            if statement is None:
                statement = self._parse(query)
            args = statement.bind(values)
            encoders = self._encoders
            if encoders and args:
                for i, value in enumerate(args):
                    encoder = encoders.get(type(value))
                    if encoder is not None:
                        args[i] = encoder(value)
            return statement.sql, args, None
        return self._core.compile(query, values)

    def _parse(self, query: str) -> RawStatement:
        statement = parse_raw(query, self._style)
        cache = self._raw_cache
        if len(cache) >= _RAW_CACHE_SIZE:
            for old in list(cache)[: _RAW_CACHE_SIZE // 2]:
                del cache[old]
        cache[query] = statement
        return statement

    def _sql_many(self, query: Any, values: Sequence[Values]) -> tuple[str, list[Any]]:
        if type(query) is str:
            statement = self._raw_cache.get(query)
            if statement is None:
                statement = self._parse(query)
            bind = statement.bind
            try:
                rows = [bind(row) for row in values]
            except ParameterError as exc:
                index = next(i for i, row in enumerate(values) if _mismatched(statement, row))
                raise ParameterError(
                    f"execute_many(): row {index}: {exc.message}",
                    sql=exc.sql,
                    missing=exc.missing,
                    extra=exc.extra,
                ) from None
            encoders = self._encoders
            if encoders:
                for args in rows:
                    for i, value in enumerate(args):
                        encoder = encoders.get(type(value))
                        if encoder is not None:
                            args[i] = encoder(value)
            return statement.sql, rows
        return self._core.compile_many(query, values)

    # -- queries -------------------------------------------------------------------

    async def fetch_all(self, query: Any, values: Values | None = None) -> list[Any]:
        """All rows, as a list of records."""
        sql, args, processors = self._sql(query, values)
        if bindings.get() is None and self._global is None:
            pool = self._pool or self._require_pool()
            raw = pool.try_acquire() or await pool.acquire()
            try:
                rows = await raw.fetch_all(sql, args)
            finally:
                pool.release(raw)
        else:
            rows = await self._bound("fetch_all", sql, args)
        if processors is not None:
            return convert_rows(rows, processors)
        return rows

    async def fetch_rows(self, query: Any, values: Values | None = None) -> list[Sequence[Any]]:
        """All rows as plain sequences of their values in column order, no records.

        For code that reads rows by position (the ORM's row loaders): it skips the
        record vivace.db builds around each row on SQLite and MySQL (0.5 us a row) and
        a record's ``values()`` call (0.4 us).  Each row indexes and unpacks like a
        tuple (it is one on SQLite and MySQL; asyncpg's Record on PostgreSQL).

        >>> async def main():
        ...     async with Database("sqlite://") as db:
        ...         return await db.fetch_rows("SELECT 1 AS a, 'x' AS b")
        >>> [tuple(row) for row in asyncio.run(main())]
        [(1, 'x')]
        """
        sql, args, processors = self._sql(query, values)
        if bindings.get() is None and self._global is None:
            pool = self._pool or self._require_pool()
            raw = pool.try_acquire() or await pool.acquire()
            try:
                rows = await raw.fetch_rows(sql, args)
            finally:
                pool.release(raw)
        else:
            rows = await self._bound("fetch_rows", sql, args)
        if processors is not None:
            return convert_values(rows, processors)
        return rows

    async def fetch_one(self, query: Any, values: Values | None = None) -> Any:
        """The first row as a record, or None."""
        sql, args, processors = self._sql(query, values)
        if bindings.get() is None and self._global is None:
            pool = self._pool or self._require_pool()
            raw = pool.try_acquire() or await pool.acquire()
            try:
                row = await raw.fetch_one(sql, args)
            finally:
                pool.release(raw)
        else:
            row = await self._bound("fetch_one", sql, args)
        if processors is not None and row is not None:
            return convert_rows([row], processors)[0]
        return row

    async def fetch_val(
        self, query: Any, values: Values | None = None, column: int | str = 0
    ) -> Any:
        """One value of the first row (column by position or name), or None."""
        if processors_needed(query):
            row = await self.fetch_one(query, values)
            return None if row is None else row[column]
        sql, args, _ = self._sql(query, values)
        if bindings.get() is None and self._global is None:
            pool = self._pool or self._require_pool()
            raw = pool.try_acquire() or await pool.acquire()
            try:
                return await raw.fetch_val(sql, args, column)
            finally:
                pool.release(raw)
        return await self._bound("fetch_val", sql, args, column)

    async def execute(self, query: Any, values: Values | None = None) -> int:
        """Run a statement; returns the row count for INSERT, UPDATE and DELETE.

        For generated keys use RETURNING with ``fetch_val`` (PostgreSQL, MariaDB 10.5+,
        SQLite 3.35+).
        """
        sql, args, _ = self._sql(query, values)
        if bindings.get() is None and self._global is None:
            pool = self._pool or self._require_pool()
            raw = pool.try_acquire() or await pool.acquire()
            try:
                return await raw.execute(sql, args)
            finally:
                pool.release(raw)
        return await self._bound("execute", sql, args)  # type: ignore[no-any-return]

    async def execute_insert(self, query: Any, values: Values | None = None) -> Any:
        """Run an INSERT on MySQL or MariaDB; returns the AUTO_INCREMENT key the server
        generated for its (first) row, or None if it generated none.

        The server reports the key in its reply to the INSERT, so this is one round trip
        with no result set to read: cheaper than ``RETURNING`` (MariaDB 10.5+), and the
        only one-statement way on MySQL, which has no ``RETURNING``.  Other backends
        raise ``InterfaceError``: there, add RETURNING and use ``fetch_val``.
        """
        sql, args, _ = self._sql(query, values)
        if bindings.get() is None and self._global is None:
            pool = self._pool or self._require_pool()
            raw = pool.try_acquire() or await pool.acquire()
            try:
                return await raw.execute_insert(sql, args)
            finally:
                pool.release(raw)
        return await self._bound("execute_insert", sql, args)

    async def execute_many(self, query: Any, values: Sequence[Values]) -> None:
        """Run a statement once per mapping in ``values`` (batched by the driver)."""
        if not values:
            return
        sql, rows = self._sql_many(query, values)
        if bindings.get() is None and self._global is None:
            pool = self._pool or self._require_pool()
            raw = pool.try_acquire() or await pool.acquire()
            try:
                await raw.execute_many(sql, rows, False)
            finally:
                pool.release(raw)
            return
        await self._bound("execute_many", sql, rows)

    def iterate(
        self, query: Any, values: Values | None = None, *, batch_size: int = 500
    ) -> AsyncIterator[Any]:
        """Stream rows; at most ``batch_size`` rows are held in memory at a time.

        Close it early with ``contextlib.aclosing`` (or let ``break`` and garbage
        collection close it) to give the connection back.
        """
        return self._iterate_in(None, query, values, batch_size)

    def transaction(
        self, *, isolation: str | None = None, force_rollback: bool = False
    ) -> Transaction:
        """A transaction: ``async with``, decorator, or explicit ``start()``.

        ``isolation``: ``read_uncommitted``, ``read_committed``, ``repeatable_read`` or
        ``serializable``.  Inside another transaction this is a savepoint.
        """
        return Transaction(self, isolation=isolation, force_rollback=force_rollback)

    def in_transaction(self) -> bool:
        """Whether statements of the current task run inside a transaction of this
        database (its own, one it inherited from its creator, or force_rollback's)."""
        scope = self._current_scope()
        return scope is not None and scope.in_transaction

    def connection(self) -> _ConnectionBlock:
        """Pin one connection to this task (and its children) for the block.

        Statements run in autocommit mode unless a transaction is opened inside.
        Inside a transaction or another block, it is that block's connection.
        """
        return _ConnectionBlock(self)

    # -- the bound path ------------------------------------------------------------

    async def _bound(self, method: str, sql: str, args: Any, *extra: Any) -> Any:
        scope = self._current_scope()
        if scope is None:
            pool = self._require_pool()
            raw = pool.try_acquire() or await pool.acquire()
            if method == "execute_many":
                extra = (False,)
            try:
                return await getattr(raw, method)(sql, args, *extra)
            finally:
                pool.release(raw)
        lease = scope.lease
        if method == "execute_many":
            extra = (scope.in_transaction,)
        if not lease.try_enter(scope):
            await lease.enter(scope)
        try:
            lease._check_lost()
            return await getattr(lease.raw, method)(sql, args, *extra)
        finally:
            lease.leave()

    async def _run_in(self, scope: Scope, method: str, query: Any, values: Any, *extra: Any) -> Any:
        """Run on a given scope (a Connection handle's), whatever the context's binding."""
        if not scope.open:
            raise scope.closed_error()
        if method == "execute_many":
            if not values:
                return None
            sql, rows = self._sql_many(query, values)
            processors = None
            args: Any = rows
            extra = (scope.in_transaction,)
        else:
            sql, args, processors = self._sql(query, values)
            if method == "fetch_val" and processors is not None:
                row = await self._run_in(scope, "fetch_one", query, values)
                return None if row is None else row[extra[0]]
        lease = scope.lease
        await lease.enter(scope)
        try:
            lease._check_lost()
            result = await getattr(lease.raw, method)(sql, args, *extra)
        finally:
            lease.leave()
        if processors is not None:
            if method == "fetch_all":
                return convert_rows(result, processors)
            if method == "fetch_one" and result is not None:
                return convert_rows([result], processors)[0]
            if method == "fetch_rows":
                return convert_values(result, processors)
        return result

    async def _iterate_in(
        self, scope: Scope | None, query: Any, values: Any, batch_size: int
    ) -> AsyncIterator[Any]:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        sql, args, processors = self._sql(query, values)
        if scope is None:
            scope = self._current_scope()
        if scope is None:
            pool = self._require_pool()
            raw = pool.try_acquire() or await pool.acquire()
            try:
                async with aclosing(raw.iterate(sql, args, batch_size, False)) as batches:
                    async for batch in batches:
                        for row in convert_rows(batch, processors) if processors else batch:
                            yield row
            finally:
                pool.release(raw)
            return
        if not scope.open:
            raise scope.closed_error()
        lease = scope.lease
        in_transaction = scope.in_transaction
        hold = self._backend.iterate_holds_connection or not in_transaction
        raw_iter = lease.raw.iterate(sql, args, batch_size, in_transaction)
        await lease.enter(scope)
        held = True
        token = object()
        if hold:
            lease.streaming = asyncio.current_task()
            lease.stream_id = token
        try:
            lease._check_lost()
            while True:
                if not held:
                    await lease.enter(scope)
                    held = True
                try:
                    batch = await raw_iter.__anext__()
                except StopAsyncIteration:
                    break
                if not hold:
                    lease.leave()
                    held = False
                for row in convert_rows(batch, processors) if processors else batch:
                    yield row
        finally:
            if hold and lease.stream_id is not token:
                # The scope ended under us and took the connection (see Lease.enter).
                await raw_iter.aclose()
            else:
                try:
                    if not held:
                        await lease.enter(scope)
                        held = True
                    await raw_iter.aclose()
                finally:
                    if hold:
                        lease.streaming = lease.stream_id = None
                    if held:
                        lease.leave()


def _mismatched(statement: RawStatement, values: Any) -> bool:
    try:
        statement.bind(values)
    except ParameterError:
        return True
    return False


def processors_needed(query: Any) -> bool:
    """fetch_val of a Core statement goes through fetch_one to convert the value."""
    return type(query) is not str


class _Lifespan:
    """``async with db.lifespan(app):`` — connect, then disconnect."""

    __slots__ = ("_database",)

    def __init__(self, database: Database) -> None:
        self._database = database

    async def __aenter__(self) -> None:
        await self._database.connect()

    async def __aexit__(self, *exc_info: object) -> None:
        await self._database.disconnect()


class _ForceRollback:
    __slots__ = ("_database",)

    def __init__(self, database: Database) -> None:
        self._database = database

    async def __aenter__(self) -> Database:
        self._database._require_pool()
        await self._database._begin_global()
        return self._database

    async def __aexit__(self, *exc_info: object) -> None:
        await self._database._end_global()


class _ConnectionBlock:
    """``async with db.connection() as conn``: pin a connection for the block."""

    __slots__ = ("_database", "_owned", "_scope", "_token")

    def __init__(self, database: Database) -> None:
        self._database = database
        self._scope: Scope | None = None
        self._owned = False
        self._token: Any = None

    async def __aenter__(self) -> Connection:
        database = self._database
        current = database._current_scope()
        if current is not None:
            self._scope = current
            return Connection(database, current)
        pool = database._require_pool()
        raw: BackendConnection = pool.try_acquire() or await pool.acquire()
        lease = Lease(raw, pool)
        scope = Scope(lease, None, transaction=False)
        lease.active = scope
        self._scope = scope
        self._owned = True
        self._token = bind(database, scope)
        return Connection(database, scope)

    async def __aexit__(self, *exc_info: object) -> None:
        if not self._owned:
            return
        scope = self._scope
        assert scope is not None
        lease = scope.lease
        database = self._database
        try:
            await lease.enter(None)
        except BaseException:  # cancelled while waiting for a statement of its own tasks
            scope.close_down_to_self()
            unbind(database, scope, self._token)
            lease.raw.broken = True
            lease.pool.release(lease.raw)
            raise
        nested = lease.active is not scope
        scope.close_down_to_self()
        lease.leave()
        unbind(database, scope, self._token)
        if nested:
            # A transaction opened inside the block (by another task) was still open:
            # drop the connection, which makes the server roll it back.
            lease.raw.broken = True
        lease.pool.release(lease.raw)
        if nested:
            raise InterfaceError(
                "the connection block ended while a transaction opened inside it was "
                "still open; that transaction was rolled back"
            )
