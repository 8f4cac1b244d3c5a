"""SQLite through the standard library's sqlite3, on one thread per connection.

Why our own thread and not aiosqlite: aiosqlite hops to its thread and back for each
driver call (execute, fetch, close cursor: three hops for one query).  Here a whole
statement — execute, fetch, build records — runs as one job on the connection's
thread: one hop per query.  Measured (bench/db_drivers.py, numbers in docs/db.md).

Theory of operation: each connection has a ``_Thread`` of its own, which opens the
sqlite3 connection; a thread takes jobs (a function and its arguments) from a queue,
runs them in order and resolves the caller's future on the event loop with
``call_soon_threadsafe``.  Reads outside transactions go to the Database's reader
threads instead (``_Readers``), still on their own connection's sqlite3 connection.
A connection's jobs never overlap: a job whose caller was cancelled finishes before
the connection's next one starts, on the same thread, so the connection is never left
in a half state.  Transactions are explicit (``isolation_level=None``: sqlite3 issues
no BEGIN of its own).

Each connection gets a ``regexp`` function (Python's ``re.search``), so ``x REGEXP y``
works as on MySQL.

Defaults: ``BEGIN IMMEDIATE`` for transactions (the write lock is taken up front, so two
writers queue on the busy timeout instead of failing with SQLITE_BUSY on the read→write
lock upgrade), a 5 s busy timeout, foreign keys enforced, WAL journal for file databases.
An in-memory database lives in one connection, so its pool holds one connection.
"""

from __future__ import annotations

import asyncio
import decimal
import queue
import re
import sqlite3
import threading
import time
from collections.abc import AsyncGenerator, Callable, Sequence
from typing import Any, NoReturn

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
from .base import Backend, BackendConnection, json_dumps, json_loads

__all__ = ["SQLiteBackend", "SQLiteConnection"]

_INTEGRITY = {
    "SQLITE_CONSTRAINT_UNIQUE": (UniqueViolation, "23505"),
    "SQLITE_CONSTRAINT_PRIMARYKEY": (UniqueViolation, "23505"),
    "SQLITE_CONSTRAINT_FOREIGNKEY": (ForeignKeyViolation, "23503"),
    "SQLITE_CONSTRAINT_NOTNULL": (NotNullViolation, "23502"),
    "SQLITE_CONSTRAINT_CHECK": (CheckViolation, "23514"),
}
_PROGRAMMING_HINTS = ("syntax error", "no such table", "no such column", "has no column")
_FAILED = "constraint failed: "


def _constraint(message: str) -> str | None:
    """What SQLite names in an integrity error's message (``.constraint``): a CHECK
    constraint's name (its expression when it has none), the columns of a UNIQUE or
    NOT NULL one as it writes them ("t.a, t.b": it keeps no name for those), a unique
    index on an expression by its name; None for a foreign key (it names nothing).
    SQLite never puts a value into these messages."""
    _, found, detail = message.partition(_FAILED)
    if not found or not detail:
        return None
    if detail.startswith("index '") and detail.endswith("'"):
        return detail[len("index '") : -1]
    return detail


def translate(exc: BaseException, sql: str | None) -> DatabaseError | None:
    """The vivace error for a sqlite3 error; None for anything else."""
    if isinstance(exc, OverflowError):
        # sqlite3 raises it while binding an int outside SQLite's 64-bit INTEGER (the
        # jobs run nothing else that can overflow).  The value itself stays out of the
        # message: it may be a secret.
        return DataError(f"a parameter is out of range: {exc}", sql=sql, sqlstate="22003")
    if not isinstance(exc, sqlite3.Error):
        return None
    name = getattr(exc, "sqlite_errorname", None)
    message = str(exc)
    if isinstance(exc, sqlite3.IntegrityError):
        cls, sqlstate = _INTEGRITY.get(name or "", (IntegrityError, "23000"))
        return cls(message, sql=sql, sqlstate=sqlstate, code=name, constraint=_constraint(message))
    if name in ("SQLITE_BUSY", "SQLITE_LOCKED") or (name or "").startswith("SQLITE_BUSY"):
        return TransactionConflict(message, sql=sql, code=name)
    if isinstance(exc, sqlite3.DataError) or name in ("SQLITE_TOOBIG", "SQLITE_MISMATCH"):
        return DataError(message, sql=sql, code=name)
    if isinstance(exc, sqlite3.OperationalError) and any(
        hint in message for hint in _PROGRAMMING_HINTS
    ):
        return ProgrammingError(message, sql=sql, code=name)
    if isinstance(exc, sqlite3.ProgrammingError):
        if "closed" in message:
            return ConnectionLost(message, sql=sql, code=name)
        return InterfaceError(message, sql=sql, code=name)
    return OperationalError(message, sql=sql, code=name)


def _bound_float(value: float) -> float:
    """A float parameter, refused when NaN: SQLite binds a NaN as NULL, so it was stored
    as NULL in a nullable column (the value lost without a word) and broke a NOT NULL
    one with a misleading "NOT NULL constraint failed". MySQL refuses it too (mysql.py);
    PostgreSQL stores it. Infinities are stored and read back as they are."""
    if value == value:
        return value
    raise DataError(
        "SQLite cannot store the float nan (it would bind it as NULL)", sqlstate="22003"
    )


def _decimal_binder(to_float: Callable[[Any], Any]) -> Callable[[decimal.Decimal], Any]:
    """The dialect's Decimal binding (a float: SQLite has no decimal type), refusing a
    Decimal the float would change: more than 15 significant digits that a double does
    not hold (``Decimal("123456789012345678.91")`` was stored as 123456789012345680, a
    DecimalField(max_digits=20) silently rounded), and NaN (bound as NULL). Up to 15
    digits a double always holds the value: no check beyond counting them, by the length
    of the text, which shows every digit of the coefficient (timeit: 61 ns, against 302 for
    ``len(value.as_tuple().digits)``)."""

    def bind(value: decimal.Decimal) -> Any:
        if value.is_finite() and len(str(value)) <= 15:
            return to_float(value)
        if value.is_nan():
            raise DataError(
                "SQLite cannot store the Decimal NaN (it would bind it as NULL)",
                sqlstate="22003",
            )
        stored = to_float(value)
        if decimal.Decimal(repr(stored)) != value:
            raise DataError(
                f"SQLite cannot store Decimal('{value}') exactly: it keeps a double, "
                f"{stored!r} (15 significant digits are always kept)",
                sqlstate="22003",
            )
        return stored

    return bind


def _regexp(pattern: str | None, value: object) -> bool | None:
    """``value REGEXP pattern``: Python's re.search (its own cache keeps compiled patterns)."""
    if pattern is None or value is None:
        return None
    return re.search(pattern, value if isinstance(value, str) else str(value)) is not None


_STOP = object()

# A statement that writes: outside a transaction it takes the write gate for its run.
_WRITES = re.compile(r"\s*(?:INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)


def _resolve(owner: SQLiteConnection | None, thread: _Thread, future: Any, value: Any) -> None:
    thread.load -= 1
    if owner is not None:
        owner._pending -= 1
    if not future.done():
        future.set_result(value)


def _reject(
    owner: SQLiteConnection | None, thread: _Thread, future: Any, exc: BaseException
) -> None:
    thread.load -= 1
    if owner is not None:
        owner._pending -= 1
    if not future.done():
        future.set_exception(exc)


class _Thread(threading.Thread):
    """A thread that runs jobs (a function and its arguments) in order and resolves each
    job's future on its caller's event loop.  A connection's own thread opens it and runs
    its statements; a reader thread (see _Readers) runs reads for any connection."""

    def __init__(self, name: str) -> None:
        super().__init__(name=name, daemon=True)
        self.jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.load = 0  # jobs queued or running, counted on the event loop
        # Cleared when the thread ends.  Thread.is_alive() costs 1.3 us (it polls a
        # lock); a connection checks liveness three times per statement (2026-12-07,
        # cProfile of 10 tasks getting by primary key: 4 us a query of 47).
        self.running = True
        self.opened: sqlite3.Connection | None = None  # by _open, until a connection has it

    def run(self) -> None:
        get = self.jobs.get
        try:
            while True:
                job = get()
                if job is _STOP:
                    break
                function, args, loop, future, owner = job
                outcome: Callable[..., None]
                try:
                    outcome, value = _resolve, function(*args)
                except BaseException as exc:
                    outcome, value = _reject, exc
                if loop is not None:
                    try:
                        loop.call_soon_threadsafe(outcome, owner, self, future, value)
                    except RuntimeError:  # pragma: no cover - the loop closed meanwhile
                        pass
        finally:
            self.running = False

    def submit(self, function: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
        """Queue ``function(*args)``; the future of its result."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self.jobs.put((function, args, loop, future, None))
        self.load += 1
        return future

    def call(self, function: Callable[..., Any], *args: Any) -> None:
        """Queue a job nobody waits for (closing a connection from ``terminate``)."""
        self.jobs.put((function, args, None, None, None))


# The jobs: they run on a thread of the connection's (its own or a reader).


def _open(
    thread: _Thread, path: str, uri: bool, timeout: float, pragmas: Sequence[str]
) -> sqlite3.Connection:
    conn = sqlite3.connect(
        path,
        timeout=timeout,
        isolation_level=None,
        check_same_thread=False,  # its reads run on a reader thread: see _Readers
        uri=uri,
        cached_statements=256,
    )
    try:
        deadline = time.monotonic() + timeout
        for pragma in pragmas:
            _pragma(conn, pragma, deadline)
        # SQLite parses ``x REGEXP y`` but ships no function for it.
        conn.create_function("regexp", 2, _regexp, deterministic=True)
    except BaseException:
        conn.close()
        raise
    thread.opened = conn
    return conn


def _close_opened(thread: _Thread) -> None:
    """Close what ``_open`` opened for a caller that gave up (cancelled) meanwhile."""
    if thread.opened is not None:
        thread.opened.close()


def _fetch_all(conn: sqlite3.Connection, sql: str, args: Sequence[Any]) -> list[Any]:
    cursor = conn.execute(sql, args)
    try:
        rows = cursor.fetchall()
        description = cursor.description
    finally:
        cursor.close()
    if description is None:
        return []
    columns = columns_for(tuple(d[0] for d in description))
    return [Record(row, columns) for row in rows]


def _fetch_rows(conn: sqlite3.Connection, sql: str, args: Sequence[Any]) -> list[Any]:
    cursor = conn.execute(sql, args)
    try:
        return cursor.fetchall()
    finally:
        cursor.close()


def _fetch_one(conn: sqlite3.Connection, sql: str, args: Sequence[Any]) -> Any:
    cursor = conn.execute(sql, args)
    try:
        row = cursor.fetchone()
        description = cursor.description
    finally:
        cursor.close()
    if row is None or description is None:
        return None
    return Record(row, columns_for(tuple(d[0] for d in description)))


def _execute(conn: sqlite3.Connection, sql: str, args: Sequence[Any]) -> int:
    cursor = conn.execute(sql, args)
    try:
        return cursor.rowcount
    finally:
        cursor.close()


def _execute_many(
    conn: sqlite3.Connection, sql: str, args: list[Sequence[Any]], in_transaction: bool
) -> None:
    if in_transaction:
        # A savepoint makes the batch atomic inside the transaction too (sqlite3
        # runs it row by row: a failing row would leave the rows before it).
        conn.execute("SAVEPOINT vivace_many").close()
        try:
            conn.executemany(sql, args).close()
        except BaseException:
            conn.execute("ROLLBACK TO SAVEPOINT vivace_many").close()
            conn.execute("RELEASE SAVEPOINT vivace_many").close()
            raise
        conn.execute("RELEASE SAVEPOINT vivace_many").close()
        return
    # One transaction for the batch: all-or-nothing, and one journal sync, not one
    # per row.
    conn.execute("BEGIN IMMEDIATE").close()
    try:
        conn.executemany(sql, args).close()
    except BaseException:
        conn.execute("ROLLBACK").close()
        raise
    conn.execute("COMMIT").close()


def _cursor_open(conn: sqlite3.Connection, sql: str, args: Sequence[Any]) -> sqlite3.Cursor:
    return conn.execute(sql, args)


def _cursor_fetch(cursor: sqlite3.Cursor, size: int) -> list[Any]:
    rows = cursor.fetchmany(size)
    if not rows or cursor.description is None:
        return []
    columns = columns_for(tuple(d[0] for d in cursor.description))
    return [Record(row, columns) for row in rows]


def _cursor_close(cursor: sqlite3.Cursor) -> None:
    cursor.close()


def _close(conn: sqlite3.Connection) -> None:
    conn.close()


# Reads: outside a transaction they run on a reader thread (_Readers).
_READS = (_fetch_rows, _fetch_all, _fetch_one)


class _WriteGate:
    """One writer at a time among a Database's connections, queued in asyncio.

    SQLite lets one connection write at a time; a second ``BEGIN IMMEDIATE`` waits in
    SQLite's busy handler, which sleeps 1, 2, 5, 10 ... 100 ms between tries.  Queuing
    the transactions of one Database here instead hands the lock over as soon as it is
    free.  Measured (bench/orm.py, SQLite file, 10 tasks each inserting in a transaction,
    2026-12-07): vivace.orm's batch inserts went from 850 to 5,128 rows/s.  A write
    outside a transaction (INSERT, UPDATE, DELETE, REPLACE, and execute_many's own
    transaction) queues here too, for its one statement: 10 tasks each sending one
    30-row INSERT at once (bulk_create with no transaction around a single statement)
    took 151 ms, now 31-73 ms; bench/orm.py's C on SQLite: docs/benchmarks.md.
    Connections of other processes still meet in the busy handler, as before.
    """

    __slots__ = ("lock", "timeout")

    def __init__(self, timeout: float) -> None:
        self.lock = asyncio.Lock()
        self.timeout = timeout

    async def acquire(self) -> None:
        try:
            await asyncio.wait_for(self.lock.acquire(), self.timeout)
        except TimeoutError:
            raise TransactionConflict(
                f"another transaction held SQLite's write lock for {self.timeout} s",
                sql="BEGIN IMMEDIATE",
                code="SQLITE_BUSY",
            ) from None


class _Readers:
    """The ``readers`` threads (1 by default) that run a Database's reads outside
    transactions, each read on its own connection's sqlite3 connection.

    Why: the pool opens a connection (a thread) per overlapping task, and sqlite3 lets
    go of the GIL for every row it steps and takes it back to build the row, so ten
    threads reading at once spend their time handing the GIL to each other and to the
    event loop.  Here such reads queue on one thread, which runs them back to back, as
    aiosqlite's one thread does: no thread is woken per read while others are queued,
    and no thread waits for another's lock.  The read still runs on the connection it
    was sent on (sqlite3 connections may move between threads: ``check_same_thread``
    off), so its temporary tables, functions and attached databases are its own.

    Measured (bench/orm_reads.py --backends sqlite --tests 1,2,3 --rounds 5 --grow: ten
    tasks, a pool grown to ten connections, the raw driver aiosqlite on one connection;
    2026-12-07, 2-core machine shared with other jobs, two runs each, main alternating
    with this), raw driver's time over vivace's: get by primary key 1.07x/0.69x/1.69x and
    1.18x/0.92x/1.06x (tests 1/2/3) with one read slot taken on the connections' own
    threads (before), 1.45x/2.24x/2.60x and 1.50x/2.05x/2.39x with one reader thread;
    CPU per get on test 2 71 -> 21 us and 121 -> 48 us.  values()/values_list() of 180
    rows stay where the slot had them (0.85x-1.68x).  Before the slot, a thread per
    connection reading at once: values() 0.55x (test 1) and 0.64x (test 3).

    A connection's jobs never overlap: while some are unfinished (a cancelled caller's
    still runs), its next job follows them on the same thread (``_pending``/``_home``).
    Statements in a transaction and writes run on the connection's own thread (a
    transaction's next statement must not queue behind reads, and writes are one at a
    time already at the write gate); SQL other than ``fetch_*`` reads (DDL, PRAGMA)
    too, since it may wait in SQLite's busy handler for a lock that only a
    transaction's next statement frees.  A read itself takes no lock in WAL mode; in
    the other journal modes it may wait for a writer's lock, which the writer's
    statements (on their own threads) release.  The threads stop with the Database's
    last connection.
    """

    __slots__ = ("threads", "users")

    def __init__(self, size: int, name: str) -> None:
        self.threads = [_Thread(f"vivace-sqlite-reader:{name}") for _ in range(size)]
        for thread in self.threads:
            thread.start()
        self.users = 0

    def pick(self) -> _Thread:
        """The reader thread with the fewest jobs queued or running."""
        threads = self.threads
        if len(threads) == 1:
            return threads[0]
        return min(threads, key=_load)

    def leave(self) -> None:
        """A connection closed; the threads stop with the last one."""
        self.users -= 1
        if self.users == 0:
            for thread in self.threads:
                thread.jobs.put(_STOP)


def _load(thread: _Thread) -> int:
    return thread.load


class SQLiteConnection(BackendConnection):
    __slots__ = (
        "_closed",
        "_conn",
        "_gate",
        "_holding",
        "_home",
        "_pending",
        "_readers",
        "_thread",
    )

    def __init__(
        self,
        conn: sqlite3.Connection,
        thread: _Thread,
        gate: _WriteGate | None = None,
        readers: _Readers | None = None,
    ) -> None:
        super().__init__()
        self._conn = conn
        self._thread = thread
        self._gate = gate
        self._readers = readers
        self._holding = False
        self._closed = False
        # Jobs sent and not yet finished, and the thread they went to.
        self._pending = 0
        self._home = thread

    def _release(self) -> None:
        if self._holding:
            self._holding = False
            assert self._gate is not None
            self._gate.lock.release()

    @property
    def raw(self) -> Any:
        return self._conn

    def is_alive(self) -> bool:
        return not self.broken and not self._closed and self._thread.running

    def in_transaction(self) -> bool:
        return self._conn.in_transaction

    def _fail(self, exc: BaseException, sql: str | None) -> NoReturn:
        error = translate(exc, sql)
        if error is None:
            raise exc
        if isinstance(error, ConnectionLost):
            self.broken = True
        raise error from exc

    async def _run(self, function: Callable[..., Any], sql: str, *args: Any) -> Any:
        thread = self._thread
        if not thread.running or self._closed:
            self.broken = True
            raise ConnectionLost("the SQLite connection is closed", sql=sql)
        gate = self._gate
        if (
            gate is not None
            and not self._holding
            and (function is _execute_many or _WRITES.match(sql))
            and not self._conn.in_transaction
        ):
            # An autocommit write: one writer at a time (see _WriteGate).
            await gate.acquire()
            try:
                return await self._call(thread, sql, function, self._conn, sql, *args)
            finally:
                gate.lock.release()
        readers = self._readers
        if readers is not None and function in _READS and not self._conn.in_transaction:
            # A read outside a transaction: on a reader thread (_Readers).
            thread = readers.pick()
        return await self._call(thread, sql, function, self._conn, sql, *args)

    async def _call(
        self, thread: _Thread, sql: str | None, function: Callable[..., Any], *args: Any
    ) -> Any:
        try:
            return await self._send(thread, function, *args)
        except Exception as exc:
            self._fail(exc, sql)

    def _send(self, thread: _Thread, function: Callable[..., Any], *args: Any) -> Any:
        """Queue ``function(*args)`` on ``thread``, or behind this connection's unfinished
        jobs on theirs; returns the future of its result."""
        if self._pending:
            thread = self._home
        else:
            self._home = thread
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        thread.jobs.put((function, args, loop, future, self))
        self._pending += 1
        thread.load += 1
        return future

    async def fetch_all(self, sql: str, args: Sequence[Any]) -> list[Any]:
        return await self._run(_fetch_all, sql, args)  # type: ignore[no-any-return]

    async def fetch_rows(self, sql: str, args: Sequence[Any]) -> list[Any]:
        return await self._run(_fetch_rows, sql, args)  # type: ignore[no-any-return]

    async def fetch_one(self, sql: str, args: Sequence[Any]) -> Any:
        return await self._run(_fetch_one, sql, args)

    async def fetch_val(self, sql: str, args: Sequence[Any], column: int | str) -> Any:
        row = await self._run(_fetch_one, sql, args)
        return None if row is None else row[column]

    async def execute(self, sql: str, args: Sequence[Any]) -> int:
        return await self._run(_execute, sql, args)  # type: ignore[no-any-return]

    async def execute_many(
        self, sql: str, args: list[Sequence[Any]], in_transaction: bool = True
    ) -> None:
        await self._run(_execute_many, sql, args, in_transaction)

    async def iterate(
        self, sql: str, args: Sequence[Any], batch_size: int, in_transaction: bool
    ) -> AsyncGenerator[list[Any], None]:
        thread = self._thread
        cursor = await self._run(_cursor_open, sql, args)
        try:
            while True:
                rows = await self._call(thread, sql, _cursor_fetch, cursor, batch_size)
                if rows:
                    yield rows
                if len(rows) < batch_size:
                    break
        finally:
            if self.is_alive():
                await self._send(thread, _cursor_close, cursor)

    async def begin(self, isolation: str | None) -> None:
        # SQLite transactions are serializable whatever is asked; IMMEDIATE takes the
        # write lock now (see the module docstring), after this Database's other
        # transactions (the write gate).
        if self._gate is not None:
            await self._gate.acquire()
            self._holding = True
        try:
            await self.execute("BEGIN IMMEDIATE", ())
        except BaseException:
            self._release()
            raise

    async def commit(self) -> None:
        try:
            await self.execute("COMMIT", ())
        finally:
            if not self.in_transaction():
                self._release()

    async def rollback(self) -> None:
        try:
            await self.execute("ROLLBACK", ())
        finally:
            if not self.in_transaction():
                self._release()

    def _shut(self) -> _Thread | None:
        """Mark the connection closed; the thread to close it on (after its unfinished
        jobs), or None if it was closed already."""
        self._release()
        if self._closed:
            return None
        self._closed = True
        return self._home if self._pending else self._thread

    def _leave(self) -> None:
        # After the close job is queued: the readers stop with their last connection.
        self._thread.jobs.put(_STOP)
        if self._readers is not None:
            self._readers.leave()

    async def close(self) -> None:
        home = self._shut()
        if home is None:
            return
        try:
            closing = self._send(home, _close, self._conn)
        finally:
            self._leave()
        await closing
        await asyncio.get_running_loop().run_in_executor(None, self._thread.join, 10)

    def terminate(self) -> None:
        home = self._shut()
        self.broken = True
        if home is not None:
            home.call(_close, self._conn)
            self._leave()


def _pragma(conn: sqlite3.Connection, pragma: str, deadline: float) -> None:
    """Run ``pragma`` on a new connection (worker thread), retrying while the file is
    locked until ``deadline``: switching a new file to WAL takes a lock that SQLite's busy
    timeout does not wait for, so processes opening one file together (workers at
    start-up) could fail with "database is locked" (tests/stores' four-process test did)."""
    while True:
        try:
            conn.execute(pragma).close()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.005)


class SQLiteBackend(Backend):
    name = "sqlite"
    paramstyle = "qmark"

    _URL_OPTIONS = ("timeout", "journal_mode", "foreign_keys", "mode", "cache", "readers")
    _gate: _WriteGate | None = None
    _readers: _Readers | None = None
    _gate_loop: Any = None

    def make_dialect(self) -> Any:
        from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite

        return SQLiteDialect_pysqlite(
            dbapi=sqlite3, json_serializer=json_dumps, json_deserializer=json_loads
        )

    def make_encoders(self) -> dict[type, Any]:
        encoders = self.dialect_encoders()
        encoders[float] = _bound_float
        encoders[decimal.Decimal] = _decimal_binder(encoders[decimal.Decimal])
        return encoders

    @property
    def max_connections(self) -> int | None:
        return 1 if self.url.is_memory else None

    def _reader_count(self) -> int:
        """How many reads outside transactions run at once (``readers``: 1; _Readers)."""
        value = self.options.get("readers", dict(self.url.options).get("readers", 1))
        try:
            readers = int(value)
        except (TypeError, ValueError):
            readers = 0
        if readers < 1 or isinstance(value, bool | float):
            raise InterfaceError(f"SQLite readers must be a positive integer, not {value!r}")
        return readers

    def _settings(self) -> tuple[str, bool, float, list[str]]:
        options = dict(self.url.options)
        for key in options:
            if key not in self._URL_OPTIONS:
                raise InterfaceError(
                    f"unknown SQLite URL option {key!r} (known: {', '.join(self._URL_OPTIONS)})"
                )
        timeout = float(self.options.get("timeout", options.get("timeout", 5.0)))
        path = self.url.database or ":memory:"
        uri = path.startswith("file:")
        pragmas = []
        foreign_keys = options.get("foreign_keys", "on").lower()
        if foreign_keys not in ("on", "off", "1", "0", "true", "false"):
            raise InterfaceError(f"SQLite foreign_keys must be on or off, not {foreign_keys!r}")
        pragmas.append(f"PRAGMA foreign_keys = {foreign_keys}")
        journal = options.get("journal_mode", "memory" if self.url.is_memory else "wal").lower()
        if journal not in ("delete", "truncate", "persist", "memory", "wal", "off"):
            raise InterfaceError(f"unknown SQLite journal_mode {journal!r}")
        pragmas.append(f"PRAGMA journal_mode = {journal}")
        return path, uri, timeout, pragmas

    async def connect(self) -> SQLiteConnection:
        path, uri, timeout, pragmas = self._settings()
        loop = asyncio.get_running_loop()
        if self._gate is None or self._gate_loop is not loop:
            self._gate = _WriteGate(timeout)
            self._gate_loop = loop
        count = self._reader_count()
        readers = None
        if not self.url.is_memory:  # one connection: its reads may as well stay on its thread
            readers = self._readers
            if readers is None or readers.users == 0:  # the first connection, or all closed
                readers = self._readers = _Readers(count, path)
            readers.users += 1
        thread = _Thread(f"vivace-sqlite:{path}")
        thread.start()
        try:
            conn = await thread.submit(_open, thread, path, uri, timeout, pragmas)
        except BaseException as exc:
            thread.call(_close_opened, thread)
            thread.jobs.put(_STOP)
            if readers is not None:
                readers.leave()
            if isinstance(exc, sqlite3.Error):
                raise OperationalError(f"cannot open SQLite database {path!r}: {exc}") from exc
            raise
        thread.opened = None
        return SQLiteConnection(conn, thread, self._gate, readers)
