"""MySQL and MariaDB through asyncmy.

Why asyncmy and not aiomysql: both descend from PyMySQL, but asyncmy's protocol and
row decoding are compiled (Cython).  Measured here (bench/db_drivers.py, docs/db.md):
aiomysql took 1.91x asyncmy's time to fetch one row by key, 10.3x for 1000 rows, 1.10x
for a single insert and 1.08x for a 1000-row executemany.

Connections run in autocommit mode with ``CLIENT.FOUND_ROWS``: a statement outside a
transaction commits by itself, and an UPDATE reports the rows it matched (as PostgreSQL
and SQLite do), not only the rows whose values changed.
"""

from __future__ import annotations

import asyncio
import decimal
import math
import re
from collections.abc import AsyncGenerator, Awaitable, Sequence
from typing import Any, NoReturn

from .._compat import asyncmy_stream_broken, initialize_mysql_dialect
from .._errors import (
    CheckViolation,
    ConnectionLost,
    DatabaseError,
    DataError,
    ForeignKeyViolation,
    IntegrityError,
    InterfaceError,
    NotNullViolation,
    OperationalError,
    ProgrammingError,
    TransactionConflict,
    UniqueViolation,
)
from .._record import Record, columns_for
from .base import ISOLATION_LEVELS, Backend, BackendConnection

try:
    import asyncmy
    from asyncmy import converters
    from asyncmy import errors as mysql_errors
    from asyncmy.constants.CLIENT import FOUND_ROWS
    from asyncmy.cursors import SSCursor
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("MySQL/MariaDB support needs asyncmy: pip install 'vivace[mysql]'") from exc

__all__ = ["MySQLBackend", "MySQLConnection"]

# errno → (class, SQLSTATE).  MySQL reports class-level SQLSTATEs ("23000" for every
# integrity error), so the precise kind comes from the errno.
_ERRNO: dict[int, tuple[type[DatabaseError], str]] = {
    1062: (UniqueViolation, "23505"),
    1586: (UniqueViolation, "23505"),
    1451: (ForeignKeyViolation, "23503"),
    1452: (ForeignKeyViolation, "23503"),
    1216: (ForeignKeyViolation, "23503"),
    1217: (ForeignKeyViolation, "23503"),
    1048: (NotNullViolation, "23502"),
    1364: (NotNullViolation, "23502"),
    3819: (CheckViolation, "23514"),  # MySQL 8
    4025: (CheckViolation, "23514"),  # MariaDB
    1213: (TransactionConflict, "40001"),  # deadlock
    1205: (TransactionConflict, "40001"),  # lock wait timeout
    1927: (ConnectionLost, "08006"),  # MariaDB: connection killed
    1053: (ConnectionLost, "08006"),  # server shutdown in progress
    2006: (ConnectionLost, "08006"),  # server has gone away
    2013: (ConnectionLost, "08006"),  # lost connection during query
    2055: (ConnectionLost, "08006"),
    2002: (ConnectionLost, "08001"),  # cannot connect (socket)
    2003: (ConnectionLost, "08001"),  # cannot connect (TCP): server down or restarting
    1064: (ProgrammingError, "42000"),
    1146: (ProgrammingError, "42P01"),
    1054: (ProgrammingError, "42703"),
    1142: (ProgrammingError, "42501"),
    1044: (ProgrammingError, "42501"),
    1264: (DataError, "22003"),
    1366: (DataError, "22007"),
    1292: (DataError, "22007"),
    1406: (DataError, "22001"),
    1365: (DataError, "22012"),
}

_CONNECTION_ERRORS = (ConnectionError, OSError, asyncio.IncompleteReadError, EOFError)


class _NotFinite(ValueError):
    """A float or Decimal parameter MySQL cannot hold: infinity or NaN."""


def _escape_float(value: float, mapping: Any = None) -> str:
    # asyncmy refuses inf and nan (as a ProgrammingError) but writes -inf into the SQL
    # text as ``-infe0``, which the server reads as a column name.  Refuse all three.
    if not math.isfinite(value):
        raise _NotFinite(f"MySQL cannot store the float {value!r}")
    return converters.escape_float(value, mapping)


def _escape_decimal(value: decimal.Decimal, mapping: Any = None) -> str:
    # asyncmy writes Decimal('NaN') and Decimal('Infinity') into the SQL text as is.
    if not value.is_finite():
        raise _NotFinite(f"MySQL cannot store the Decimal {value}")
    return converters.decimal2literal(value, mapping)


#: asyncmy's conversions with the non-finite checks: handed to every connection.
_CONVERSIONS = {
    **converters.conversions,
    float: _escape_float,
    decimal.Decimal: _escape_decimal,
}


# The violated constraint's name, which MySQL gives only in the message (PostgreSQL has
# a field for it): "Duplicate entry 'x' for key 'slug'" (MariaDB; MySQL 8 writes
# 'table.slug'), "... CONSTRAINT `book_ibfk_1` FOREIGN KEY ...", "CONSTRAINT `ck`
# failed for ..." (MariaDB), "Check constraint 'ck' is violated." (MySQL 8). A duplicate
# entry quotes the row's value, which may hold anything: its key is read at the end.
_KEY = re.compile(r"for key '(?:[^'.]*\.)?([^']+)'$")
_NAMED = re.compile(r"CONSTRAINT `([^`]+)`|[Cc]heck constraint '([^']+)'")


def _constraint(cls: type[DatabaseError], message: str) -> str | None:
    found = (_KEY if cls is UniqueViolation else _NAMED).search(message)
    if found is None:
        return None
    return next(group for group in found.groups() if group is not None)


def translate(exc: BaseException, sql: str | None) -> DatabaseError | None:
    """The vivace error for an asyncmy (or socket) error; None for anything else."""
    if isinstance(exc, _NotFinite):
        return DataError(str(exc), sql=sql, sqlstate="22003")
    if isinstance(exc, mysql_errors.MySQLError):
        args = exc.args
        errno = args[0] if args and isinstance(args[0], int) else None
        message = str(args[1]) if len(args) > 1 else str(exc)
        sqlstate = getattr(exc, "sqlstate", None)
        known = _ERRNO.get(errno) if errno is not None else None
        if known is not None:
            cls, sqlstate = known
        elif isinstance(exc, mysql_errors.IntegrityError):
            cls = IntegrityError
        elif isinstance(exc, mysql_errors.DataError):
            cls = DataError
        elif isinstance(exc, mysql_errors.ProgrammingError):
            cls = ProgrammingError
        elif isinstance(exc, mysql_errors.InterfaceError):
            # asyncmy raises InterfaceError for a connection it already knows is closed.
            cls = ConnectionLost
        else:
            cls = OperationalError
        constraint = _constraint(cls, message) if issubclass(cls, IntegrityError) else None
        return cls(message, sql=sql, sqlstate=sqlstate, code=errno, constraint=constraint)
    if isinstance(exc, _CONNECTION_ERRORS):
        return ConnectionLost(f"connection to MySQL lost: {exc!r}", sql=sql)
    return None


class MySQLConnection(BackendConnection):
    __slots__ = ("_conn", "_cursor")

    def __init__(self, conn: Any) -> None:
        super().__init__()
        self._conn = conn
        # One buffered cursor per connection, reused for every statement.
        self._cursor = conn.cursor()

    @property
    def raw(self) -> Any:
        return self._conn

    def is_alive(self) -> bool:
        conn = self._conn
        return not self.broken and conn.connected and not asyncmy_stream_broken(conn)

    def in_transaction(self) -> bool:
        return bool(self._conn.get_transaction_status())

    def _fail(self, exc: BaseException, sql: str | None) -> NoReturn:
        error = translate(exc, sql)
        if error is None:
            raise exc
        if isinstance(error, ConnectionLost) or not self._conn.connected:
            self.broken = True
        raise error from exc

    def _cancelled(self) -> None:
        # The reply of an interrupted statement may still be on the wire.
        self.broken = True
        self._conn.close()

    def _records(self, rows: Sequence[Any]) -> list[Any]:
        columns = columns_for(tuple(d[0] for d in self._cursor.description))
        return [Record(row, columns) for row in rows]

    async def _call(self, sql: str, pending: Awaitable[Any]) -> Any:
        try:
            return await pending
        except asyncio.CancelledError:
            self._cancelled()
            raise
        except Exception as exc:
            self._fail(exc, sql)

    async def fetch_all(self, sql: str, args: Sequence[Any]) -> list[Any]:
        cursor = self._cursor
        await self._call(sql, cursor.execute(sql, args))
        if cursor.description is None:
            return []
        return self._records(await cursor.fetchall())

    async def fetch_rows(self, sql: str, args: Sequence[Any]) -> list[Any]:
        cursor = self._cursor
        await self._call(sql, cursor.execute(sql, args))
        if cursor.description is None:
            return []
        return list(await cursor.fetchall())

    async def fetch_one(self, sql: str, args: Sequence[Any]) -> Any:
        cursor = self._cursor
        try:
            await cursor.execute(sql, args)
        except asyncio.CancelledError:
            self._cancelled()
            raise
        except Exception as exc:
            self._fail(exc, sql)
        # A buffered cursor holds the rows already: fetchone does no I/O.
        row = await cursor.fetchone()
        if row is None:
            return None
        return Record(row, columns_for(tuple(d[0] for d in cursor.description)))

    async def fetch_val(self, sql: str, args: Sequence[Any], column: int | str) -> Any:
        row = await self.fetch_one(sql, args)
        return None if row is None else row[column]

    async def execute(self, sql: str, args: Sequence[Any]) -> int:
        return await self._call(sql, self._cursor.execute(sql, args))  # type: ignore[no-any-return]

    async def execute_insert(self, sql: str, args: Sequence[Any]) -> Any:
        cursor = self._cursor
        await self._call(sql, cursor.execute(sql, args))
        # The insert id of the server's OK reply: 0 when the statement made no key.
        return cursor.lastrowid or None

    async def execute_many(
        self, sql: str, args: list[Sequence[Any]], in_transaction: bool = True
    ) -> None:
        # A long batch is split into several statements: a savepoint (or, outside a
        # transaction, a transaction) makes the batch all-or-nothing.
        await self.execute("SAVEPOINT vivace_many" if in_transaction else "START TRANSACTION", ())
        try:
            await self._call(sql, self._cursor.executemany(sql, args))
        except DatabaseError:
            if self.is_alive():
                if in_transaction:
                    await self.rollback_to_savepoint("vivace_many")
                else:
                    await self.rollback()
            raise
        if in_transaction:
            await self.release_savepoint("vivace_many")
        else:
            await self.commit()

    async def iterate(
        self, sql: str, args: Sequence[Any], batch_size: int, in_transaction: bool
    ) -> AsyncGenerator[list[Any], None]:
        # An unbuffered cursor streams rows off the socket as they are read: memory
        # stays bounded, and the connection carries nothing else until the end.
        cursor = self._conn.cursor(SSCursor)
        try:
            await self._call(sql, cursor.execute(sql, args))
            columns = columns_for(tuple(d[0] for d in cursor.description))
            while True:
                rows = await self._call(sql, cursor.fetchmany(batch_size))
                if not rows:
                    break
                yield [Record(row, columns) for row in rows]
        finally:
            if self.is_alive():
                await self._call(sql, cursor.close())  # reads and drops unread rows

    async def begin(self, isolation: str | None) -> None:
        if isolation is not None:
            # Applies to the next transaction only (MySQL "SET TRANSACTION").
            await self.execute(f"SET TRANSACTION ISOLATION LEVEL {ISOLATION_LEVELS[isolation]}", ())
        await self.execute("START TRANSACTION", ())

    async def close(self) -> None:
        await self._conn.ensure_closed()

    def terminate(self) -> None:
        self._conn.close()


class MySQLBackend(Backend):
    name = "mysql"
    paramstyle = "format"
    iterate_holds_connection = True

    _URL_OPTIONS = ("charset", "connect_timeout", "ssl", "stmt_cache_size", "init_command")

    def make_dialect(self) -> Any:
        from sqlalchemy.dialects.mysql.asyncmy import MySQLDialect_asyncmy

        from .base import json_dumps, json_loads

        return MySQLDialect_asyncmy(json_serializer=json_dumps, json_deserializer=json_loads)

    def make_encoders(self) -> dict[type, Any]:
        return self.dialect_encoders()

    def connect_kwargs(self) -> dict[str, Any]:
        url = self.url
        options = dict(url.options)
        for key in options:
            if key not in self._URL_OPTIONS:
                raise InterfaceError(
                    f"unknown MySQL URL option {key!r} (known: {', '.join(self._URL_OPTIONS)})"
                )
        kwargs: dict[str, Any] = {
            "host": url.host or "localhost",
            "port": url.port or 3306,
            "user": url.username or "root",
            "password": url.password or "",
            "database": url.database,
            "autocommit": True,
            "client_flag": FOUND_ROWS,
            "charset": options.get("charset", "utf8mb4"),
            "conv": _CONVERSIONS,
        }
        if "connect_timeout" in options:
            kwargs["connect_timeout"] = float(options["connect_timeout"])
        if "stmt_cache_size" in options:
            kwargs["stmt_cache_size"] = int(options["stmt_cache_size"])
        if "init_command" in options:
            kwargs["init_command"] = options["init_command"]
        if "ssl" in options and options["ssl"].lower() in ("1", "true", "require", "required"):
            import ssl

            kwargs["ssl"] = ssl.create_default_context()
        kwargs.update(self.options)
        return kwargs

    async def connect(self) -> MySQLConnection:
        kwargs = self.connect_kwargs()
        try:
            conn = await asyncmy.connect(**kwargs)
        except Exception as exc:
            error = translate(exc, None)
            if error is None:
                raise
            # ConnectionLost (the server is down or restarting: a 503 in vivace.web), as
            # for PostgreSQL; OperationalError otherwise (refused login, unknown database).
            cls = ConnectionLost if isinstance(error, ConnectionLost) else OperationalError
            raise cls(
                f"cannot connect to MySQL at {kwargs['host']}:{kwargs['port']}: {error.message}",
                sqlstate=error.sqlstate,
                code=error.code,
            ) from exc
        return MySQLConnection(conn)

    async def setup(self, connection: BackendConnection) -> None:
        initialize_mysql_dialect(self.dialect, connection.raw.get_server_info())
        # The encoders follow the dialect's server-dependent types (MariaDB's UUID).
        self.encoders = self.make_encoders()
