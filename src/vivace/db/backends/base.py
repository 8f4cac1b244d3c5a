"""The contract between vivace.db and a database driver.

``Backend`` is created once per ``Database``: it holds the SQLAlchemy dialect used to
compile Core statements, the placeholder style for raw SQL, the encoders for parameter
values the driver cannot send itself, and opens ``BackendConnection`` objects.

A ``BackendConnection`` runs one statement at a time (the pool and the connection gate
in ``vivace.db`` guarantee that) and returns records.  Every driver error leaves it as a
``vivace.db`` error; an error that means the connection is gone sets ``broken`` so the
pool discards the connection instead of handing it out again.  A statement interrupted
by cancellation also marks the connection broken where the wire protocol may be left
mid-message (PostgreSQL, MySQL): a fresh connection is cheaper than a desynchronised one.
"""

from __future__ import annotations

import datetime
import decimal
import time
import uuid
from collections.abc import AsyncGenerator, Callable, Sequence
from typing import Any, ClassVar

import orjson

from .._errors import InterfaceError
from .._url import DatabaseURL

__all__ = ["Backend", "BackendConnection", "json_dumps", "json_loads"]

# Isolation levels, as SQL spells them.
ISOLATION_LEVELS = {
    "read_uncommitted": "READ UNCOMMITTED",
    "read_committed": "READ COMMITTED",
    "repeatable_read": "REPEATABLE READ",
    "serializable": "SERIALIZABLE",
}


def json_dumps(value: Any) -> str:
    """JSON text for a parameter; a str is taken as JSON text already (as SQLAlchemy does)."""
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


# Python data from JSON text: orjson's own function, no wrapper.  asyncpg calls it once
# per json/jsonb value it decodes; a Python wrapper around it cost 0.4 us a call (1.37 us
# against 0.95 us for a 5-key object, timeit), 1.6 us a row of bench/orm.py's wide model.
json_loads: Callable[[str | bytes], Any] = orjson.loads


class BackendConnection:
    """One driver connection.  Subclasses implement the statement methods."""

    __slots__ = ("broken", "created", "last_used")

    def __init__(self) -> None:
        self.broken = False
        self.created = self.last_used = time.monotonic()

    def is_alive(self) -> bool:
        """Cheap local check (no round trip) that the connection is still usable."""
        raise NotImplementedError

    def in_transaction(self) -> bool:
        """True while a transaction is open on the connection (local state, no round trip)."""
        raise NotImplementedError

    async def fetch_all(self, sql: str, args: Sequence[Any]) -> list[Any]:
        raise NotImplementedError

    async def fetch_rows(self, sql: str, args: Sequence[Any]) -> list[Any]:
        """All rows as positional sequences (the driver's own rows), no records."""
        raise NotImplementedError

    async def fetch_one(self, sql: str, args: Sequence[Any]) -> Any:
        raise NotImplementedError

    async def fetch_val(self, sql: str, args: Sequence[Any], column: int | str) -> Any:
        raise NotImplementedError

    async def execute(self, sql: str, args: Sequence[Any]) -> int:
        raise NotImplementedError

    async def execute_insert(self, sql: str, args: Sequence[Any]) -> Any:
        """Run an INSERT; the AUTO_INCREMENT key the server reports with it (MySQL)."""
        raise InterfaceError(
            "execute_insert() is for MySQL and MariaDB, whose servers report a new row's "
            "key with the INSERT; on PostgreSQL and SQLite add RETURNING to the INSERT and "
            "use fetch_val()",
            sql=sql,
        )

    async def execute_many(
        self, sql: str, args: list[Sequence[Any]], in_transaction: bool = True
    ) -> None:
        """Run ``sql`` once per argument list.  Outside a transaction (``in_transaction``
        False) the batch is atomic all the same: every row or none."""
        raise NotImplementedError

    def iterate(
        self, sql: str, args: Sequence[Any], batch_size: int, in_transaction: bool
    ) -> AsyncGenerator[list[Any], None]:
        """Batches of records, holding at most ``batch_size`` rows in memory."""
        raise NotImplementedError

    async def begin(self, isolation: str | None) -> None:
        raise NotImplementedError

    async def commit(self) -> None:
        await self.execute("COMMIT", ())

    async def rollback(self) -> None:
        await self.execute("ROLLBACK", ())

    async def savepoint(self, name: str) -> None:
        await self.execute(f"SAVEPOINT {name}", ())

    async def release_savepoint(self, name: str) -> None:
        await self.execute(f"RELEASE SAVEPOINT {name}", ())

    async def rollback_to_savepoint(self, name: str) -> None:
        await self.execute(f"ROLLBACK TO SAVEPOINT {name}", ())

    async def close(self) -> None:
        """Close politely (the pool calls this with a timeout, then ``terminate``)."""
        raise NotImplementedError

    def terminate(self) -> None:
        """Close at once, without talking to the server."""
        raise NotImplementedError

    @property
    def raw(self) -> Any:
        """The driver's own connection object."""
        raise NotImplementedError


class Backend:
    """Per-Database driver glue: dialect, placeholder style, parameter encoders."""

    name: ClassVar[str]
    paramstyle: ClassVar[str]
    #: A streaming iterate() occupies the connection until its last row (MySQL).
    iterate_holds_connection: ClassVar[bool] = False

    def __init__(self, url: DatabaseURL, options: dict[str, Any]) -> None:
        self.url = url
        self.options = options
        self.dialect = self.make_dialect()
        self.encoders = self.make_encoders()

    def make_dialect(self) -> Any:
        raise NotImplementedError

    def make_encoders(self) -> dict[type, Callable[[Any], Any]]:
        """Encoders for raw-SQL parameter values, by exact type.

        They come from the dialect's own bind processors, so a value stored through raw
        SQL is stored exactly as SQLAlchemy Core would store it (and reads back the same
        through a typed Core query).
        """
        return {}

    def dialect_encoders(self) -> dict[type, Callable[[Any], Any]]:
        import sqlalchemy as sa

        dialect = self.dialect
        out: dict[type, Callable[[Any], Any]] = {}
        pairs: list[tuple[type, Any]] = [
            (uuid.UUID, sa.Uuid()),
            (dict, sa.JSON()),
            (list, sa.JSON()),
            (decimal.Decimal, sa.Numeric()),
            (datetime.datetime, sa.DateTime()),
            (datetime.date, sa.Date()),
            (datetime.time, sa.Time()),
        ]
        for python_type, sa_type in pairs:
            processor = sa_type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                out[python_type] = processor
        return out

    async def connect(self) -> BackendConnection:
        raise NotImplementedError

    async def setup(self, connection: BackendConnection) -> None:
        """Configure the dialect from the server (version) after the first connection."""

    @property
    def max_connections(self) -> int | None:
        """A hard limit the backend imposes on the pool size (SQLite in memory: 1)."""
        return None
