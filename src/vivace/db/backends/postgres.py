"""PostgreSQL through asyncpg.

Why asyncpg: it speaks the binary protocol, decodes rows in C straight into its own
record objects, and prepares and caches every statement it runs (``statement_cache_size``,
100 by default).  vivace passes it a subclass of ``asyncpg.Record`` as ``record_class``,
so the rows asyncpg builds already are vivace records: no per-row wrapping.

``json``/``jsonb`` columns are decoded with orjson on every connection (and encoded
from dicts and lists), so JSON reads back as Python data as on the other backends.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Mapping, Sequence
from typing import Any, NoReturn

from .._errors import (
    ConnectionLost,
    DatabaseError,
    InterfaceError,
    OperationalError,
    TransactionError,
    error_for_sqlstate,
)
from .._record import Record, record_repr
from .base import ISOLATION_LEVELS, Backend, BackendConnection, json_dumps, json_loads

try:
    import asyncpg
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("PostgreSQL support needs asyncpg: pip install 'vivace[postgres]'") from exc

__all__ = ["PostgresBackend", "PostgresConnection"]


class PGRecord(asyncpg.Record):  # type: ignore[misc]
    """asyncpg's record with vivace's Record contract (attribute access, Mapping iteration)."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError:
            raise AttributeError(
                f"record has no column {name!r} (columns: {', '.join(self.keys())})"
            ) from None

    def __iter__(self) -> Any:
        return self.keys()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return dict(self.items()) == dict(other.items())
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return record_repr(self)


Record.register(PGRecord)

_BAD_ARGUMENT = "invalid input for query argument "
_CONNECTION_ERRORS = (ConnectionError, OSError, asyncpg.exceptions.ConnectionDoesNotExistError)


def translate(exc: BaseException, sql: str | None) -> DatabaseError | None:
    """The vivace error for an asyncpg (or socket) error; None for anything else."""
    if isinstance(exc, asyncpg.PostgresError):
        sqlstate = exc.sqlstate
        message = getattr(exc, "message", None) or str(exc)
        cause = exc.__cause__
        if cause is not None and message.startswith(_BAD_ARGUMENT):
            # asyncpg could not encode a parameter (int beyond int64, wrong type): it
            # raises its DataError (SQLSTATE 22000) from the codec's error, quoting the
            # value.  Keep the position and the reason, drop the value (it may be a
            # secret), and report an overflow as numeric_value_out_of_range.
            position = message[len(_BAD_ARGUMENT) :].partition(": ")[0]
            message = f"{_BAD_ARGUMENT}{position}: {cause}"
            if isinstance(cause, OverflowError):
                sqlstate = "22003"
        cls = error_for_sqlstate(sqlstate)
        return cls(
            message,
            sql=sql,
            sqlstate=sqlstate,
            code=sqlstate,
            constraint=getattr(exc, "constraint_name", None),
        )
    if isinstance(exc, _CONNECTION_ERRORS):
        return ConnectionLost(f"connection to PostgreSQL lost: {exc}", sql=sql)
    if isinstance(exc, asyncpg.InterfaceError):
        if "closed" in str(exc):
            return ConnectionLost(f"connection to PostgreSQL lost: {exc}", sql=sql)
        return InterfaceError(str(exc), sql=sql)
    if isinstance(exc, asyncio.TimeoutError):
        return OperationalError(f"PostgreSQL did not answer in time: {exc}", sql=sql)
    if isinstance(exc, asyncpg.exceptions.InternalClientError):
        # "cannot switch to state N; another operation is in progress": asyncpg's protocol
        # state was left mid-operation when the server ended the connection under it
        # (pg_terminate_backend during a statement: bench/faults.py postgres-kill). The
        # connection cannot be used again: it is lost, like a closed one.
        return ConnectionLost(f"connection to PostgreSQL unusable: {exc}", sql=sql)
    return None


class PostgresConnection(BackendConnection):
    __slots__ = ("_conn",)

    def __init__(self, conn: Any) -> None:
        super().__init__()
        self._conn = conn

    @property
    def raw(self) -> Any:
        return self._conn

    def is_alive(self) -> bool:
        return not self.broken and not self._conn.is_closed()

    def in_transaction(self) -> bool:
        return bool(self._conn.is_in_transaction())

    def _fail(self, exc: BaseException, sql: str | None) -> NoReturn:
        error = translate(exc, sql)
        if error is None:
            raise exc
        if isinstance(error, ConnectionLost) or self._conn.is_closed():
            self.broken = True
        raise error from exc

    def _cancelled(self) -> None:
        # asyncpg would need a cancel request and a reset round trip to reuse the
        # connection; a connection interrupted mid-statement is dropped instead.
        self.broken = True
        self._conn.terminate()

    async def _call(self, sql: str, pending: Awaitable[Any]) -> Any:
        try:
            return await pending
        except asyncio.CancelledError:
            self._cancelled()
            raise
        except Exception as exc:
            self._fail(exc, sql)

    async def fetch_all(self, sql: str, args: Sequence[Any]) -> list[Any]:
        return await self._call(sql, self._conn.fetch(sql, *args))  # type: ignore[no-any-return]

    async def fetch_rows(self, sql: str, args: Sequence[Any]) -> list[Any]:
        # asyncpg's own Record (not PGRecord, the Mapping): it unpacks to its values.
        # The ORM's path (every get and filter): no helper frame in between, as fetch_one.
        try:
            return await self._conn.fetch(  # type: ignore[no-any-return]
                sql, *args, record_class=asyncpg.Record
            )
        except asyncio.CancelledError:
            self._cancelled()
            raise
        except Exception as exc:
            self._fail(exc, sql)

    async def fetch_one(self, sql: str, args: Sequence[Any]) -> Any:
        # The one-row path: no helper frame in between.
        try:
            return await self._conn.fetchrow(sql, *args)
        except asyncio.CancelledError:
            self._cancelled()
            raise
        except Exception as exc:
            self._fail(exc, sql)

    async def fetch_val(self, sql: str, args: Sequence[Any], column: int | str) -> Any:
        row = await self.fetch_one(sql, args)
        return None if row is None else row[column]

    async def execute(self, sql: str, args: Sequence[Any]) -> int:
        # The ORM's save() and delete() path: no helper frame in between, as fetch_one
        # (one coroutine less: 0.1-0.2 us a statement, bench/orm.py's I-K with asyncpg's
        # execute stubbed out).
        try:
            status: str = await self._conn.execute(sql, *args)
        except asyncio.CancelledError:
            self._cancelled()
            raise
        except Exception as exc:
            self._fail(exc, sql)
        # "INSERT 0 5", "UPDATE 3", "DELETE 1", "SELECT 2"; DDL has no count.
        count = status.rpartition(" ")[2]
        return int(count) if count.isdigit() else -1

    async def execute_many(
        self, sql: str, args: list[Sequence[Any]], in_transaction: bool = True
    ) -> None:
        # asyncpg's executemany is atomic by itself (one implicit transaction).
        await self._call(sql, self._conn.executemany(sql, args))

    async def iterate(
        self, sql: str, args: Sequence[Any], batch_size: int, in_transaction: bool
    ) -> AsyncGenerator[list[Any], None]:
        # A server-side cursor lives inside a transaction: outside one, open our own.
        if not in_transaction:
            await self.execute("BEGIN", ())
        try:
            cursor = await self._call(sql, self._conn.cursor(sql, *args))
            while True:
                rows = await self._call(sql, cursor.fetch(batch_size))
                if rows:
                    yield rows
                if len(rows) < batch_size:
                    break
        except BaseException:
            if not in_transaction and self.is_alive():
                await self.rollback()
            raise
        if not in_transaction:
            await self.commit()

    async def commit(self) -> None:
        status = await self._call("COMMIT", self._conn.execute("COMMIT"))
        if status == "ROLLBACK":
            # PostgreSQL answers COMMIT with ROLLBACK when a statement of the
            # transaction failed (and the error was caught): nothing was committed.
            raise TransactionError(
                "the transaction was rolled back by PostgreSQL, not committed: a statement "
                "in it failed earlier (its error was caught) and aborted the transaction",
                sql="COMMIT",
                sqlstate="25P02",
            )

    async def begin(self, isolation: str | None) -> None:
        if isolation is None:
            await self.execute("BEGIN", ())
        else:
            await self.execute(f"BEGIN ISOLATION LEVEL {ISOLATION_LEVELS[isolation]}", ())

    async def close(self) -> None:
        await self._conn.close()

    def terminate(self) -> None:
        self._conn.terminate()


class PostgresBackend(Backend):
    name = "postgresql"
    paramstyle = "dollar"

    # URL query options understood here; everything else is refused with a list.
    _URL_OPTIONS = ("ssl", "sslmode", "application_name", "statement_cache_size", "connect_timeout")

    def make_dialect(self) -> Any:
        from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg

        return PGDialect_asyncpg(  # type: ignore[no-untyped-call]
            json_serializer=json_dumps, json_deserializer=json_loads
        )

    def connect_kwargs(self) -> dict[str, Any]:
        url = self.url
        kwargs: dict[str, Any] = {
            "host": url.host or "localhost",
            "port": url.port or 5432,
            "user": url.username,
            "password": url.password,
            "database": url.database,
            "record_class": PGRecord,
        }
        options = dict(url.options)
        server_settings: dict[str, str] = {}
        for key in list(options):
            if key not in self._URL_OPTIONS:
                raise InterfaceError(
                    f"unknown PostgreSQL URL option {key!r} (known: {', '.join(self._URL_OPTIONS)})"
                )
        if "sslmode" in options or "ssl" in options:
            kwargs["ssl"] = options.pop("ssl", None) or options.pop("sslmode")
        if "application_name" in options:
            server_settings["application_name"] = options.pop("application_name")
        if "statement_cache_size" in options:
            kwargs["statement_cache_size"] = int(options.pop("statement_cache_size"))
        if "connect_timeout" in options:
            kwargs["timeout"] = float(options.pop("connect_timeout"))
        if server_settings:
            kwargs["server_settings"] = server_settings
        kwargs.update(self.options)
        return kwargs

    async def connect(self) -> PostgresConnection:
        kwargs = self.connect_kwargs()
        try:
            conn = await asyncpg.connect(**kwargs)
        except Exception as exc:
            error = translate(exc, None)
            if error is None:
                raise
            raise type(error)(
                f"cannot connect to PostgreSQL at {kwargs['host']}:{kwargs['port']}: {exc}",
                sqlstate=error.sqlstate,
            ) from exc
        try:
            for name in ("json", "jsonb"):
                await conn.set_type_codec(
                    name, encoder=json_dumps, decoder=json_loads, schema="pg_catalog"
                )
        except BaseException:
            conn.terminate()
            raise
        return PostgresConnection(conn)

    async def setup(self, connection: BackendConnection) -> None:
        version = connection.raw.get_server_version()
        self.dialect.server_version_info = (version.major, version.minor, version.micro)
