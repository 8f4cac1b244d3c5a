"""Transactions: context manager, decorator, explicit start/commit/rollback, savepoints.

::

    async with db.transaction():                 # BEGIN ... COMMIT, or ROLLBACK on error
        await db.execute(...)
        async with db.transaction():             # SAVEPOINT ... RELEASE / ROLLBACK TO
            ...

    @db.transaction(isolation="serializable")    # a fresh transaction per call
    async def transfer(...): ...

    tx = await db.transaction().start()          # explicit: binds the current task
    try: ...; await tx.commit()
    except BaseException: await tx.rollback(); raise

States: new → started → committed | rolled back.  Starting twice, or ending a
transaction that is not started or already ended, raises TransactionError.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from contextvars import Token
from types import TracebackType
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from ._errors import ConnectionLost, TransactionError
from ._scope import Lease, Scope, bind, unbind
from .backends.base import ISOLATION_LEVELS

if TYPE_CHECKING:
    from ._connection import Connection
    from ._database import Database

__all__ = ["Transaction"]

P = ParamSpec("P")
R = TypeVar("R")

_NEW, _STARTED, _COMMITTED, _ROLLED_BACK = "new", "started", "committed", "rolled back"


class Transaction:
    """A database transaction (or, nested, a savepoint).  Made by ``db.transaction()``."""

    __slots__ = (
        "_bind",
        "_database",
        "_force_rollback",
        "_on",
        "_scope",
        "_state",
        "_token",
        "isolation",
    )

    def __init__(
        self,
        database: Database,
        *,
        isolation: str | None = None,
        force_rollback: bool = False,
        on: Scope | None = None,
        _bind: bool = True,
    ) -> None:
        if isolation is not None and isolation not in ISOLATION_LEVELS:
            raise ValueError(
                f"unknown isolation level {isolation!r} (use one of {', '.join(ISOLATION_LEVELS)})"
            )
        self._database = database
        self.isolation = isolation
        self._force_rollback = force_rollback
        self._on = on  # the scope of the Connection this was made from, if any
        self._bind = _bind  # False for the database-wide force_rollback transaction
        self._scope: Scope | None = None
        self._token: Token[Any] | None = None
        self._state = _NEW

    @property
    def state(self) -> str:
        """``new``, ``started``, ``committed`` or ``rolled back``."""
        return self._state

    @property
    def connection(self) -> Connection:
        """The connection this transaction runs on (started transactions only)."""
        from ._connection import Connection

        if self._scope is None:
            raise TransactionError("the transaction has not started")
        return Connection(self._database, self._scope)

    async def __aenter__(self) -> Transaction:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None and not self._force_rollback:
            await self.commit()
        else:
            await self.rollback()

    def __call__(self, function: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        """Use as a decorator: each call runs in a new transaction."""

        @functools.wraps(function)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            async with Transaction(
                self._database, isolation=self.isolation, force_rollback=self._force_rollback
            ):
                return await function(*args, **kwargs)

        return wrapper

    async def start(self) -> Transaction:
        """BEGIN (or SAVEPOINT inside a transaction) and bind the current task to it."""
        if self._state != _NEW:
            raise TransactionError(f"cannot start a transaction that is {self._state}")
        database = self._database
        parent = self._on if self._on is not None else database._current_scope()
        if parent is None:
            pool = database._require_pool()
            raw = pool.try_acquire() or await pool.acquire()
            lease = Lease(raw, pool)
            scope = Scope(lease, None, transaction=True, isolation=self.isolation)
            try:
                await raw.begin(self.isolation)
            except BaseException:
                pool.release(raw)
                raise
            lease.active = scope
        else:
            lease = parent.lease
            await lease.enter(parent)
            try:
                lease._check_lost()
                if parent.in_transaction:
                    if self.isolation is not None:
                        raise TransactionError(
                            "a nested transaction (savepoint) cannot set its own isolation "
                            "level; set it on the outermost transaction"
                        )
                    lease.savepoints += 1
                    name = f"vivace_sp_{lease.savepoints}"
                    await lease.raw.savepoint(name)
                    scope = Scope(lease, parent, transaction=True, savepoint=name)
                else:  # a transaction inside a db.connection() block: a real BEGIN
                    await lease.raw.begin(self.isolation)
                    scope = Scope(lease, parent, transaction=True, isolation=self.isolation)
                lease.active = scope
            finally:
                lease.leave()
        self._scope = scope
        if self._bind:
            self._token = bind(database, scope)
        self._state = _STARTED
        return self

    async def commit(self) -> None:
        """COMMIT (RELEASE SAVEPOINT when nested)."""
        await self._end(commit=True)

    async def rollback(self) -> None:
        """ROLLBACK (ROLLBACK TO SAVEPOINT when nested).  Never fails on a lost connection:
        the server has already rolled the transaction back."""
        await self._end(commit=False)

    async def _end(self, *, commit: bool) -> None:
        if self._state != _STARTED:
            verb = "commit" if commit else "roll back"
            raise TransactionError(f"cannot {verb} a transaction that is {self._state}")
        scope = self._scope
        assert scope is not None
        lease = scope.lease
        raw = lease.raw
        if not scope.open:
            # The enclosing transaction ended first (rolled back, taking this one along).
            self._state = _ROLLED_BACK
            if self._bind:
                unbind(self._database, scope, self._token)
            if commit:
                raise TransactionError(
                    "cannot commit: the enclosing transaction already ended and took this "
                    "nested one with it"
                )
            return
        self._state = _COMMITTED if commit else _ROLLED_BACK
        try:
            await lease.enter(None)  # waits for the statement in flight, any scope
        except BaseException:
            self._state = _STARTED
            raise
        nested_open = lease.active is not scope and scope.contains(lease.active)
        try:
            if commit and nested_open:
                commit = False
                self._state = _ROLLED_BACK
                error: BaseException | None = TransactionError(
                    "cannot commit: a nested transaction started inside it (by another task) "
                    "is still open; the transaction was rolled back"
                )
            else:
                error = None
            if raw.broken:
                if commit:
                    self._state = _ROLLED_BACK
                    raise ConnectionLost(
                        lease.aborted
                        or "the connection was lost before COMMIT: the server rolled the "
                        "transaction back, nothing of it was committed"
                    )
            elif scope.savepoint is not None:
                if commit:
                    await raw.release_savepoint(scope.savepoint)
                else:
                    await raw.rollback_to_savepoint(scope.savepoint)
                    await raw.release_savepoint(scope.savepoint)
            elif commit:
                await raw.commit()
            else:
                await raw.rollback()
            if error is not None:
                raise error
        except BaseException:
            if not commit and raw.broken:
                return  # rollback on a dead connection: the server did it for us
            raise
        finally:
            scope.close_down_to_self()
            lease.leave()
            if self._bind:
                unbind(self._database, scope, self._token)
            self._token = None
            if scope.parent is None:
                lease.pool.release(raw)
