"""The exceptions of vivace.db: one tree, built for ``except`` clauses.

Every driver error is translated at the backend boundary into one of these; the
driver's own exception stays reachable as ``__cause__``.  Each error carries the SQL
it came from (``.sql``), the SQLSTATE where the server or driver reports one
(``.sqlstate``), the driver's own error code (``.code``: MySQL errno, SQLite extended
result name) and, for integrity errors, the constraint name where known.  Parameter
*values* are never put into messages: they may be secrets.

::

    DatabaseError
    ├── InterfaceError            the API was used wrongly; nothing reached the server
    │   ├── DatabaseNotConnected  query on a Database that is not connected (or closed)
    │   ├── ParameterError        missing, extra or misspelt :name parameters
    │   └── TransactionError      illegal transaction move (commit twice, ended scope)
    ├── OperationalError          the server or the network failed the operation
    │   ├── ConnectionLost        the connection died (killed, server restart, network)
    │   ├── PoolTimeout           no pooled connection became free in time
    │   └── TransactionConflict   serialization failure / deadlock: retry the transaction
    ├── IntegrityError            a constraint refused the change
    │   ├── UniqueViolation
    │   ├── ForeignKeyViolation
    │   ├── NotNullViolation
    │   └── CheckViolation
    ├── ProgrammingError          bad SQL: syntax, unknown table or column, permissions
    └── DataError                 bad value: out of range, invalid input, division by zero

>>> try:
...     raise UniqueViolation("duplicate key", sql="INSERT INTO t VALUES ($1)", sqlstate="23505")
... except IntegrityError as exc:
...     print(type(exc).__name__, exc.sqlstate)
UniqueViolation 23505
"""

from __future__ import annotations

__all__ = [
    "CheckViolation",
    "ConnectionLost",
    "DataError",
    "DatabaseError",
    "DatabaseNotConnected",
    "ForeignKeyViolation",
    "IntegrityError",
    "InterfaceError",
    "NotNullViolation",
    "OperationalError",
    "ParameterError",
    "PoolTimeout",
    "ProgrammingError",
    "TransactionConflict",
    "TransactionError",
    "UniqueViolation",
]


class DatabaseError(Exception):
    """Base of every vivace.db error.

    ``message`` is the human text; ``sql`` the statement (as sent to the driver),
    ``sqlstate`` the five-character SQLSTATE, ``code`` the driver's own error code and
    ``constraint`` the violated constraint's name, each None where unknown.
    """

    def __init__(
        self,
        message: str,
        *,
        sql: str | None = None,
        sqlstate: str | None = None,
        code: int | str | None = None,
        constraint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.sql = sql
        self.sqlstate = sqlstate
        self.code = code
        self.constraint = constraint

    def __str__(self) -> str:
        text = self.message
        if self.sqlstate:
            text += f" [SQLSTATE {self.sqlstate}]"
        if self.sql is not None:
            sql = self.sql if len(self.sql) <= 500 else self.sql[:500] + "..."
            text += f"\n  SQL: {sql}"
        return text


class InterfaceError(DatabaseError):
    """The API was used in a way that cannot work; nothing was sent to the server."""


class DatabaseNotConnected(InterfaceError):
    """A query or transaction on a Database that is not connected, or already closed."""


class ParameterError(InterfaceError, ValueError):
    """The values given do not match the statement's ``:name`` parameters.

    ``missing`` and ``extra`` hold the names, sorted.
    """

    def __init__(
        self,
        message: str,
        *,
        sql: str | None = None,
        missing: tuple[str, ...] = (),
        extra: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message, sql=sql)
        self.missing = missing
        self.extra = extra


class TransactionError(InterfaceError):
    """An illegal transaction move: commit after rollback, a query for a scope that ended."""


class OperationalError(DatabaseError):
    """The server or the network failed the operation (not the statement's fault)."""


class ConnectionLost(OperationalError):
    """The connection died: killed by an administrator, server restart, network failure;
    or a new one could not be opened (the server is down, restarting, or unreachable).

    The pool discards the connection.  A transaction that was open on it was rolled back
    by the server; every later statement of that transaction raises this error too,
    so a transaction is never silently continued on another connection.
    """

    #: vivace.web answers an exception with this attribute set with 503 Service
    #: Unavailable and one log line (no traceback): the database is down or restarting,
    #: and the next request may well succeed (docs/operations.md).
    service_unavailable = True


class PoolTimeout(OperationalError, TimeoutError):
    """No pooled connection became available within the pool's ``acquire_timeout``."""

    service_unavailable = True  # see ConnectionLost


class TransactionConflict(OperationalError):
    """The server aborted the transaction to resolve a conflict (serialization failure,
    deadlock, lock wait timeout).  Running the whole transaction again may succeed."""


class IntegrityError(DatabaseError):
    """A constraint refused the change (SQLSTATE class 23)."""


class UniqueViolation(IntegrityError):
    """A unique or primary key constraint refused a duplicate (SQLSTATE 23505)."""


class ForeignKeyViolation(IntegrityError):
    """A foreign key constraint refused the change (SQLSTATE 23503)."""


class NotNullViolation(IntegrityError):
    """NULL given for a NOT NULL column (SQLSTATE 23502)."""


class CheckViolation(IntegrityError):
    """A CHECK constraint refused the row (SQLSTATE 23514)."""


class ProgrammingError(DatabaseError):
    """The SQL is wrong: syntax error, unknown table or column, missing privilege."""


class DataError(DatabaseError):
    """A value is wrong for its column or operation (SQLSTATE class 22)."""


# SQLSTATE → class, for the backends that report SQLSTATEs (PostgreSQL; MySQL through
# its errno table).  Class-level fallbacks live in ``error_for_sqlstate``.
_BY_SQLSTATE: dict[str, type[DatabaseError]] = {
    "23505": UniqueViolation,
    "23503": ForeignKeyViolation,
    "23502": NotNullViolation,
    "23514": CheckViolation,
    "40001": TransactionConflict,
    "40P01": TransactionConflict,
    "55P03": TransactionConflict,  # lock_not_available (NOWAIT, lock_timeout)
    "57P01": ConnectionLost,  # admin_shutdown: pg_terminate_backend
    "57P02": ConnectionLost,  # crash_shutdown
    "57P03": ConnectionLost,  # cannot_connect_now
}

_BY_CLASS: dict[str, type[DatabaseError]] = {
    "08": ConnectionLost,
    "22": DataError,
    "23": IntegrityError,
    "40": TransactionConflict,
    "42": ProgrammingError,
    "0A": ProgrammingError,  # feature_not_supported
    "3F": ProgrammingError,  # invalid_schema_name
}


def error_for_sqlstate(sqlstate: str | None) -> type[DatabaseError]:
    """The error class for a SQLSTATE (OperationalError when nothing more precise fits).

    >>> error_for_sqlstate("23505").__name__, error_for_sqlstate("42P01").__name__
    ('UniqueViolation', 'ProgrammingError')
    """
    if not sqlstate:
        return OperationalError
    found = _BY_SQLSTATE.get(sqlstate)
    if found is not None:
        return found
    return _BY_CLASS.get(sqlstate[:2], OperationalError)
