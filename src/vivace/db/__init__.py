"""vivace.db: async database access for PostgreSQL, MySQL/MariaDB and SQLite.

One API over three backends; queries as raw SQL with ``:name`` parameters or as
SQLAlchemy Core statements.  See docs/db.md.

>>> import asyncio
>>> from vivace.db import Database
>>> async def main():
...     async with Database("sqlite://") as db:
...         return await db.fetch_val("SELECT :a + :b", {"a": 2, "b": 3})
>>> asyncio.run(main())
5
"""

from ._connection import Connection
from ._database import Database
from ._ddl import create_if_absent
from ._errors import (
    CheckViolation,
    ConnectionLost,
    DatabaseError,
    DatabaseNotConnected,
    DataError,
    ForeignKeyViolation,
    IntegrityError,
    InterfaceError,
    NotNullViolation,
    OperationalError,
    ParameterError,
    PoolTimeout,
    ProgrammingError,
    TransactionConflict,
    TransactionError,
    UniqueViolation,
)
from ._record import Record
from ._transaction import Transaction
from ._url import DatabaseURL

__all__ = [
    "CheckViolation",
    "Connection",
    "ConnectionLost",
    "DataError",
    "Database",
    "DatabaseError",
    "DatabaseNotConnected",
    "DatabaseURL",
    "ForeignKeyViolation",
    "IntegrityError",
    "InterfaceError",
    "NotNullViolation",
    "OperationalError",
    "ParameterError",
    "PoolTimeout",
    "ProgrammingError",
    "Record",
    "Transaction",
    "TransactionConflict",
    "TransactionError",
    "UniqueViolation",
    "create_if_absent",
]
