"""SQLite through the standard library's sqlite3, on one thread per connection.

Why our own thread and not aiosqlite: aiosqlite hops to its thread and back for each
driver call (execute, fetch, close cursor: three hops for one query).  Here a whole
statement — execute, fetch, build records — runs as one job on the connection's
thread: one hop per query.  Measured (bench/db_drivers.py, numbers in docs/db.md).

Theory of operation: ``_Worker`` owns the sqlite3 connection; it takes jobs (a function
and its arguments) from a queue, runs them in order and resolves the caller's future
on the event loop with ``call_soon_threadsafe``.  Jobs never overlap, so a job whose
caller was cancelled simply finishes before the next one starts: the connection is
never left in a half state.  Transactions are explicit (``isolation_level=None``:
sqlite3 issues no BEGIN of its own).

Each connection gets a ``regexp`` function (Python's ``re.search``), so ``x REGEXP y``
works as on MySQL.

Defaults: ``BEGIN IMMEDIATE`` for transactions (the write lock is taken up front, so two
writers queue on the busy timeout instead of failing with SQLITE_BUSY on the read→write
lock upgrade), a 5 s busy timeout, foreign keys enforced, WAL journal for file databases.
An in-memory database lives in one connection, so its pool holds one connection.
"""

from __future__ import annotations

import asyncio
import queue
import re
import sqlite3
import threading
import time
from collections.abc import AsyncGenerator, Callable, Sequence
from contextlib import AbstractContextManager
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
        return cls(message, sql=sql, sqlstate=sqlstate, code=name)
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


def _regexp(pattern: str | None, value: object) -> bool | None:
    """``value REGEXP pattern``: Python's re.search (its own cache keeps compiled patterns)."""
    if pattern is None or value is None:
        return None
    return re.search(pattern, value if isinstance(value, str) else str(value)) is not None


def _set_result(future: asyncio.Future[Any], value: Any) -> None:
    if not future.done():
        future.set_result(value)


def _set_exception(future: asyncio.Future[Any], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)


_STOP = object()

# A statement that writes: outside a transaction it takes the write gate for its run.
_WRITES = re.compile(r"\s*(?:INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)


class _Worker(threading.Thread):
    """The thread that owns one sqlite3 connection and runs its jobs in order."""

    def __init__(self, path: str, uri: bool, timeout: float) -> None:
        super().__init__(name=f"vivace-sqlite:{path}", daemon=True)
        self.jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.path = path
        self.uri = uri
        self.timeout = timeout
        self.conn: sqlite3.Connection | None = None

    def run(self) -> None:
        get = self.jobs.get
        while True:
            job = get()
            if job is _STOP:
                break
            function, args, loop, future, slots = job
            try:
                if slots is None:
                    result = function(*args)
                else:
                    with slots:  # a read outside a transaction: see _read_slots
                        result = function(*args)
            except BaseException as exc:
                try:
                    loop.call_soon_threadsafe(_set_exception, future, exc)
                except RuntimeError:  # pragma: no cover - the loop closed meanwhile
                    pass
            else:
                try:
                    loop.call_soon_threadsafe(_set_result, future, result)
                except RuntimeError:  # pragma: no cover - the loop closed meanwhile
                    pass
        if self.conn is not None:
            self.conn.close()

    def submit(
        self,
        function: Callable[..., Any],
        *args: Any,
        slots: AbstractContextManager[Any] | None = None,
    ) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self.jobs.put((function, args, loop, future, slots))
        return future

    # The functions below run on the worker thread.

    def open(self, pragmas: Sequence[str]) -> None:
        conn = sqlite3.connect(
            self.path,
            timeout=self.timeout,
            isolation_level=None,
            check_same_thread=False,
            uri=self.uri,
            cached_statements=256,
        )
        try:
            deadline = time.monotonic() + self.timeout
            for pragma in pragmas:
                _pragma(conn, pragma, deadline)
            # SQLite parses ``x REGEXP y`` but ships no function for it.
            conn.create_function("regexp", 2, _regexp, deterministic=True)
        except BaseException:
            conn.close()
            raise
        self.conn = conn

    def fetch_all(self, sql: str, args: Sequence[Any]) -> list[Any]:
        assert self.conn is not None
        cursor = self.conn.execute(sql, args)
        try:
            rows = cursor.fetchall()
            description = cursor.description
        finally:
            cursor.close()
        if description is None:
            return []
        columns = columns_for(tuple(d[0] for d in description))
        return [Record(row, columns) for row in rows]

    def fetch_rows(self, sql: str, args: Sequence[Any]) -> list[Any]:
        assert self.conn is not None
        cursor = self.conn.execute(sql, args)
        try:
            return cursor.fetchall()
        finally:
            cursor.close()

    def fetch_one(self, sql: str, args: Sequence[Any]) -> Any:
        assert self.conn is not None
        cursor = self.conn.execute(sql, args)
        try:
            row = cursor.fetchone()
            description = cursor.description
        finally:
            cursor.close()
        if row is None or description is None:
            return None
        return Record(row, columns_for(tuple(d[0] for d in description)))

    def execute(self, sql: str, args: Sequence[Any]) -> int:
        assert self.conn is not None
        cursor = self.conn.execute(sql, args)
        try:
            return cursor.rowcount
        finally:
            cursor.close()

    def execute_many(self, sql: str, args: list[Sequence[Any]], in_transaction: bool) -> None:
        assert self.conn is not None
        if in_transaction:
            # A savepoint makes the batch atomic inside the transaction too (sqlite3
            # runs it row by row: a failing row would leave the rows before it).
            self.conn.execute("SAVEPOINT vivace_many").close()
            try:
                self.conn.executemany(sql, args).close()
            except BaseException:
                self.conn.execute("ROLLBACK TO SAVEPOINT vivace_many").close()
                self.conn.execute("RELEASE SAVEPOINT vivace_many").close()
                raise
            self.conn.execute("RELEASE SAVEPOINT vivace_many").close()
            return
        # One transaction for the batch: all-or-nothing, and one journal sync, not one
        # per row.
        self.conn.execute("BEGIN IMMEDIATE").close()
        try:
            self.conn.executemany(sql, args).close()
        except BaseException:
            self.conn.execute("ROLLBACK").close()
            raise
        self.conn.execute("COMMIT").close()

    def cursor_open(self, sql: str, args: Sequence[Any]) -> sqlite3.Cursor:
        assert self.conn is not None
        return self.conn.execute(sql, args)

    @staticmethod
    def cursor_fetch(cursor: sqlite3.Cursor, size: int) -> list[Any]:
        rows = cursor.fetchmany(size)
        if not rows or cursor.description is None:
            return []
        columns = columns_for(tuple(d[0] for d in cursor.description))
        return [Record(row, columns) for row in rows]

    @staticmethod
    def cursor_close(cursor: sqlite3.Cursor) -> None:
        cursor.close()


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


def _read_slots(size: int) -> AbstractContextManager[Any]:
    """At most ``size`` reads outside transactions run at once among a Database's
    connections: each connection's thread takes a slot for such a read and gives it
    back when SQLite is done; the other threads wait for one, blocked outside the GIL.

    Why: the pool opens a connection (a thread) per overlapping task, and sqlite3 lets
    go of the GIL for every row it steps and takes it back to build the row, so ten
    threads reading at once spend their time handing the GIL to each other and to the
    event loop.  The slot is taken on the thread, not in asyncio: the next read starts
    the moment the last one ends, without a trip through the event loop, and a read
    whose task was cancelled (it still runs: see _Worker) holds its slot while it runs.

    Measured (10 tasks on a pool of 10 connections, 180-row results, SQLite file,
    2026-12-07, loaded 2-core machine), microseconds of wall / CPU per query and raw
    aiosqlite (one connection, one thread) over vivace:
    unlimited threads: test 1 values() 624 / 845 (0.55x); test 3 2,891 / 3,438 (0.64x).
    Slots in asyncio (a read waits for a slot before it is handed to its thread),
    then on the threads (/tmp ab_exp, the four alternating in one process), test 3:
    get by pk 1 slot 61 / 61 (1.35x), 2 slots 52 / 52 (1.57x), on the threads 1 slot
    49 / 49 (1.67x), 2 slots 49 / 48 (1.68x); values() 0.75x, 0.83x, 1.00x, 0.92x;
    values_list() 1.12x, 0.91x, 1.13x, 0.98x; test 1 get by pk 0.89x, 0.97x, 1.13x,
    1.07x.  One slot on the threads is the default; a Database whose reads run long
    (SQLite runs them outside the GIL, in parallel) can raise ``readers``.

    Statements in a transaction and writes never take a slot (a transaction's next
    statement must not queue behind reads, and writes are one at a time already at the
    write gate); SQL other than ``fetch_*`` reads (DDL, PRAGMA) neither, since it may
    wait in SQLite's busy handler for a lock that only a transaction's next statement
    frees.  A read itself takes no lock in WAL mode; in the other journal modes it
    may wait for a writer's lock, which the writer's statements (slot-free) release.
    """
    # threading.Lock is C code throughout; Semaphore is Python over a Condition.
    return threading.Lock() if size == 1 else threading.BoundedSemaphore(size)


class SQLiteConnection(BackendConnection):
    __slots__ = ("_gate", "_holding", "_reading", "_reads", "_worker")

    def __init__(
        self,
        worker: _Worker,
        gate: _WriteGate | None = None,
        reads: AbstractContextManager[Any] | None = None,
    ) -> None:
        super().__init__()
        self._worker = worker
        self._gate = gate
        self._reads = reads
        self._reading = (worker.fetch_rows, worker.fetch_all, worker.fetch_one)
        self._holding = False

    def _release(self) -> None:
        if self._holding:
            self._holding = False
            assert self._gate is not None
            self._gate.lock.release()

    @property
    def raw(self) -> Any:
        return self._worker.conn

    def is_alive(self) -> bool:
        return not self.broken and self._worker.is_alive()

    def in_transaction(self) -> bool:
        conn = self._worker.conn
        return conn is not None and conn.in_transaction

    def _fail(self, exc: BaseException, sql: str | None) -> NoReturn:
        error = translate(exc, sql)
        if error is None:
            raise exc
        if isinstance(error, ConnectionLost):
            self.broken = True
        raise error from exc

    async def _run(self, function: Callable[..., Any], sql: str, *args: Any) -> Any:
        if not self._worker.is_alive():
            self.broken = True
            raise ConnectionLost("the SQLite connection is closed", sql=sql)
        gate = self._gate
        if (
            gate is not None
            and not self._holding
            and (function == self._worker.execute_many or _WRITES.match(sql))
            and not self.in_transaction()
        ):
            # An autocommit write: one writer at a time (see _WriteGate).
            await gate.acquire()
            try:
                return await self._submit(function, sql, *args)
            finally:
                gate.lock.release()
        if function in self._reading and not self.in_transaction():
            # A read outside a transaction: its thread takes a read slot (_read_slots).
            return await self._submit(function, sql, *args, slots=self._reads)
        return await self._submit(function, sql, *args)

    async def _submit(
        self,
        function: Callable[..., Any],
        sql: str,
        *args: Any,
        slots: AbstractContextManager[Any] | None = None,
    ) -> Any:
        try:
            return await self._worker.submit(function, sql, *args, slots=slots)
        except Exception as exc:
            self._fail(exc, sql)

    async def fetch_all(self, sql: str, args: Sequence[Any]) -> list[Any]:
        return await self._run(self._worker.fetch_all, sql, args)  # type: ignore[no-any-return]

    async def fetch_rows(self, sql: str, args: Sequence[Any]) -> list[Any]:
        return await self._run(self._worker.fetch_rows, sql, args)  # type: ignore[no-any-return]

    async def fetch_one(self, sql: str, args: Sequence[Any]) -> Any:
        return await self._run(self._worker.fetch_one, sql, args)

    async def fetch_val(self, sql: str, args: Sequence[Any], column: int | str) -> Any:
        row = await self._run(self._worker.fetch_one, sql, args)
        return None if row is None else row[column]

    async def execute(self, sql: str, args: Sequence[Any]) -> int:
        return await self._run(self._worker.execute, sql, args)  # type: ignore[no-any-return]

    async def execute_many(
        self, sql: str, args: list[Sequence[Any]], in_transaction: bool = True
    ) -> None:
        await self._run(self._worker.execute_many, sql, args, in_transaction)

    async def iterate(
        self, sql: str, args: Sequence[Any], batch_size: int, in_transaction: bool
    ) -> AsyncGenerator[list[Any], None]:
        worker = self._worker
        cursor = await self._run(worker.cursor_open, sql, args)
        try:
            while True:
                try:
                    rows = await worker.submit(worker.cursor_fetch, cursor, batch_size)
                except Exception as exc:
                    self._fail(exc, sql)
                if rows:
                    yield rows
                if len(rows) < batch_size:
                    break
        finally:
            if worker.is_alive():
                await worker.submit(worker.cursor_close, cursor)

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

    async def close(self) -> None:
        self._release()
        worker = self._worker
        if worker.is_alive():
            worker.jobs.put(_STOP)
            await asyncio.get_running_loop().run_in_executor(None, worker.join, 10)

    def terminate(self) -> None:
        self._release()
        worker = self._worker
        if worker.is_alive():
            worker.jobs.put(_STOP)
        self.broken = True


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
    _reads: AbstractContextManager[Any] | None = None
    _gate_loop: Any = None

    def make_dialect(self) -> Any:
        from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite

        return SQLiteDialect_pysqlite(
            dbapi=sqlite3, json_serializer=json_dumps, json_deserializer=json_loads
        )

    def make_encoders(self) -> dict[type, Any]:
        return self.dialect_encoders()

    @property
    def max_connections(self) -> int | None:
        return 1 if self.url.is_memory else None

    def _readers(self) -> int:
        """How many reads outside transactions run at once (``readers``: 1; _read_slots)."""
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
            self._reads = _read_slots(self._readers())
            self._gate_loop = loop
        worker = _Worker(path, uri, timeout)
        worker.start()
        try:
            await worker.submit(worker.open, pragmas)
        except sqlite3.Error as exc:
            worker.jobs.put(_STOP)
            raise OperationalError(f"cannot open SQLite database {path!r}: {exc}") from exc
        return SQLiteConnection(worker, self._gate, self._reads)
