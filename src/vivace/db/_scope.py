"""Which connection a statement runs on: scopes, leases and the connection gate.

Theory of operation.

*Outside any scope* a statement borrows a pooled connection for itself and returns it
at once, so concurrent statements (``asyncio.gather``) each get their own connection.

*A scope* is opened by ``db.transaction()`` or ``db.connection()`` (or, for the whole
database, ``db.force_rollback()``).  A root scope leases one pooled connection
(``_Lease``); a nested scope (a savepoint) shares its parent's lease.  The scope is
bound to the current asyncio context through one ContextVar, so every statement of
the task — and of every task it spawns inside the block, since tasks copy their
creator's context — runs on the scope's connection and sees its uncommitted work.

*The gate* makes sharing safe.  A lease runs one statement at a time; statements from
concurrent tasks queue and run in order (never "another operation is in progress").
The lease serves only its innermost open scope: while a task holds a nested
transaction open, statements of the enclosing scope from other tasks wait until it
ends, so savepoints of concurrent tasks can never interleave.  Ending a scope (commit,
rollback) waits for the statement in flight, then closes the scope and every scope
nested in it; statements still queued for a closed scope fail with TransactionError.

*Lost connections*: once a lease's connection is broken, every later statement of its
scopes raises ConnectionLost — the transaction is never continued elsewhere.

States of a scope: open → closed (commit, rollback, or its parent ended).  Illegal
moves (ending twice, committing with a nested scope of another task still open) raise
TransactionError.
"""

from __future__ import annotations

import asyncio
from collections import deque
from contextvars import ContextVar, Token
from typing import Any

from ._errors import ConnectionLost, InterfaceError, TransactionError
from .backends.base import BackendConnection

__all__ = ["Lease", "Scope", "bind", "bindings", "unbind"]

# One variable for every Database: {database: innermost scope of this context}.
bindings: ContextVar[dict[Any, Scope] | None] = ContextVar("vivace_db_scopes", default=None)


class Lease:
    """One pooled connection serving a tree of scopes, with its gate."""

    __slots__ = (
        "aborted",
        "active",
        "busy",
        "pool",
        "raw",
        "savepoints",
        "stream_id",
        "streaming",
        "waiters",
    )

    def __init__(self, raw: BackendConnection, pool: Any) -> None:
        self.raw = raw
        self.pool = pool  # where raw goes back to, even while the Database disconnects
        self.busy = False
        self.active: Scope | None = None
        # (scope, future): scope None means "any scope" (ending a scope).
        self.waiters: deque[tuple[Scope | None, asyncio.Future[None]]] = deque()
        self.savepoints = 0
        self.streaming: asyncio.Task[Any] | None = None
        self.stream_id: object | None = None
        self.aborted: str | None = None

    def _check_lost(self) -> None:
        if self.aborted is not None:
            raise ConnectionLost(self.aborted)
        if self.raw.broken:
            raise ConnectionLost(
                "the connection of this transaction was lost earlier; the server rolled "
                "the transaction back, and nothing more runs in it"
            )

    def try_enter(self, scope: Scope) -> bool:
        """Take the gate for ``scope`` at once if it is free and ``scope`` the innermost
        open one; False: await ``enter`` instead.  A statement in a connection block or
        transaction almost always finds it so: no coroutine to make and run for it."""
        if not self.busy and scope is self.active:
            self.busy = True
            return True
        return False

    async def enter(self, scope: Scope | None) -> None:
        """Wait for the gate: for ``scope`` to be the innermost open one (None: any)."""
        if not self.busy and (scope is None or scope is self.active):
            self.busy = True
            return
        if scope is not None and not scope.open:
            raise scope.closed_error()
        if self.streaming is not None and self.streaming is asyncio.current_task():
            if scope is None:
                # The scope is ending while this task's iterate() still holds the
                # connection mid-result (an iteration left unfinished): abandon the
                # stream and the connection with it; the server rolls back.
                self.aborted = (
                    "the transaction ended while iterate() was still streaming rows over "
                    "its connection; the connection was dropped and the server rolled the "
                    "transaction back"
                )
                self.streaming = self.stream_id = None
                self.raw.broken = True
                self.raw.terminate()
                return  # the gate stays taken (busy), now on behalf of the caller
            raise InterfaceError(
                "iterate() is still streaming rows over this connection (MySQL sends a "
                "result over the connection until its last row); finish or close the "
                "iteration first, or use fetch_all()"
            )
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (scope, future)
        self.waiters.append(entry)
        try:
            await future
        except BaseException:
            if future.done() and not future.cancelled() and future.exception() is None:
                self.leave()  # granted just as we were cancelled: pass the gate on
            else:
                try:
                    self.waiters.remove(entry)
                except ValueError:
                    pass
            raise

    def leave(self) -> None:
        self.busy = False
        self.dispatch()

    def dispatch(self) -> None:
        """Grant the gate to the first eligible waiter; fail waiters of closed scopes."""
        if self.busy:
            return
        for entry in list(self.waiters):
            scope, future = entry
            if future.done():
                self.waiters.remove(entry)
                continue
            if scope is not None and not scope.open:
                self.waiters.remove(entry)
                future.set_exception(scope.closed_error())
                continue
            if scope is None or scope is self.active:
                self.waiters.remove(entry)
                self.busy = True
                future.set_result(None)
                return


class Scope:
    """A transaction or connection block: the binding a context's statements follow."""

    __slots__ = ("isolation", "lease", "open", "owner", "parent", "savepoint", "transaction")

    def __init__(
        self,
        lease: Lease,
        parent: Scope | None,
        *,
        transaction: bool,
        savepoint: str | None = None,
        isolation: str | None = None,
    ) -> None:
        self.lease = lease
        self.parent = parent
        self.transaction = transaction
        self.savepoint = savepoint
        self.isolation = isolation
        self.open = True
        self.owner = asyncio.current_task()

    @property
    def in_transaction(self) -> bool:
        scope: Scope | None = self
        while scope is not None:
            if scope.transaction:
                return True
            scope = scope.parent
        return False

    def closed_error(self) -> TransactionError:
        kind = "transaction" if self.transaction else "connection block"
        return TransactionError(
            f"this statement belongs to a {kind} that has already ended; a task started "
            f"inside a transaction must finish before the transaction block ends"
        )

    def close_down_to_self(self) -> None:
        """Close this scope and every open scope nested in it (innermost first)."""
        lease = self.lease
        scope = lease.active
        while scope is not None and scope is not self:
            scope.open = False
            scope = scope.parent
        self.open = False
        lease.active = self.parent

    def contains(self, other: Scope | None) -> bool:
        while other is not None:
            if other is self:
                return True
            other = other.parent
        return False


def bind(database: Any, scope: Scope) -> Token[dict[Any, Scope] | None]:
    current = bindings.get()
    updated = dict(current) if current else {}
    updated[database] = scope
    return bindings.set(updated)


def unbind(database: Any, scope: Scope, token: Token[dict[Any, Scope] | None] | None) -> None:
    """Undo ``bind``; from another context, re-point the current one to the parent."""
    if token is not None:
        try:
            bindings.reset(token)
            return
        except ValueError:  # ended from a different context than it started in
            pass
    current = bindings.get()
    if current and current.get(database) is scope:
        updated = dict(current)
        if scope.parent is not None and scope.parent.open:
            updated[database] = scope.parent
        else:
            del updated[database]
        bindings.set(updated or None)


def live_scope(database: Any, scope: Scope) -> Scope | None:
    """The scope a statement should use: ``scope`` if open, else explain or fall back.

    A context can hold a closed scope only when the scope was ended from another
    context (explicit ``commit()`` elsewhere).  The task that opened it falls back to
    the enclosing scope; any other task — one spawned inside the block — gets an
    error, because it expected to run inside a transaction that is gone.
    """
    while not scope.open:
        if scope.owner is not asyncio.current_task():
            raise scope.closed_error()
        parent = scope.parent
        current = bindings.get()
        if current is not None:
            updated = dict(current)
            if parent is not None:
                updated[database] = parent
            else:
                updated.pop(database, None)
            bindings.set(updated or None)
        if parent is None:
            return None
        scope = parent
    scope.lease._check_lost()
    return scope
