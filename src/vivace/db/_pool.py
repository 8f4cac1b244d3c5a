"""The connection pool: bounded, LIFO, with an acquire deadline and self-healing.

Theory of operation.  ``size`` counts every connection the pool owns or is opening;
it never exceeds ``max_size``.  Idle connections wait in a deque; ``try_acquire`` pops
the most recently used one (warm caches, prepared statements) without awaiting — the
hot path of every query outside a transaction.  When none is idle and the pool is
full, ``acquire`` queues a future and waits at most ``acquire_timeout`` seconds, then
raises ``PoolTimeout``.  ``release`` hands a connection straight to the oldest waiter,
or back to the deque.  A connection that is broken (lost, killed, interrupted
mid-statement), too old (``max_lifetime``) or idle too long (``max_idle``) is closed
instead of reused, and its place goes to a waiter, who opens a fresh one: the pool
recovers by itself after connections are killed or the server restarts.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from ._errors import DatabaseNotConnected, PoolTimeout
from .backends.base import BackendConnection

__all__ = ["Pool"]


class Pool:
    """A pool of backend connections (internal: used through ``Database``)."""

    __slots__ = (
        "_close_tasks",
        "_closed",
        "_connect",
        "_idle",
        "_in_use",
        "_waiters",
        "acquire_timeout",
        "max_idle",
        "max_lifetime",
        "max_size",
        "min_size",
        "size",
    )

    def __init__(
        self,
        connect: Callable[[], Awaitable[BackendConnection]],
        *,
        min_size: int,
        max_size: int,
        acquire_timeout: float,
        max_idle: float | None,
        max_lifetime: float | None,
    ) -> None:
        if max_size < 1:
            raise ValueError(f"max_size must be at least 1, not {max_size}")
        if not 0 <= min_size <= max_size:
            raise ValueError(
                f"min_size must be between 0 and max_size ({max_size}), not {min_size}"
            )
        if acquire_timeout <= 0:
            raise ValueError(f"acquire_timeout must be positive, not {acquire_timeout}")
        self._connect = connect
        self.min_size = min_size
        self.max_size = max_size
        self.acquire_timeout = acquire_timeout
        self.max_idle = max_idle
        self.max_lifetime = max_lifetime
        self.size = 0
        self._idle: deque[BackendConnection] = deque()
        self._in_use: set[BackendConnection] = set()
        self._waiters: deque[asyncio.Future[BackendConnection | None]] = deque()
        self._closed = False
        self._close_tasks: set[asyncio.Task[None]] = set()

    @property
    def idle(self) -> int:
        return len(self._idle)

    @property
    def in_use(self) -> int:
        return len(self._in_use)

    async def open(self, first: BackendConnection) -> None:
        """Adopt the first connection (already opened by the caller), open min_size."""
        self.size += 1
        first.last_used = time.monotonic()
        self._idle.append(first)
        while self.size < self.min_size:
            self.size += 1
            try:
                conn = await self._connect()
            except BaseException:
                self.size -= 1
                raise
            self._idle.append(conn)

    def _usable(self, conn: BackendConnection, now: float) -> bool:
        if not conn.is_alive():
            return False
        if self.max_lifetime is not None and now - conn.created > self.max_lifetime:
            return False
        return self.max_idle is None or now - conn.last_used <= self.max_idle

    def try_acquire(self) -> BackendConnection | None:
        """An idle connection at once, or None (then call ``acquire``)."""
        idle = self._idle
        if not idle or self._waiters:
            return None
        now = time.monotonic()
        while idle:
            conn = idle.pop()
            if self._usable(conn, now):
                self._in_use.add(conn)
                return conn
            self._discard(conn)
        return None

    async def acquire(self) -> BackendConnection:
        if self._closed:
            raise DatabaseNotConnected("the database is disconnected")
        conn = self.try_acquire()
        if conn is not None:
            return conn
        if self.size < self.max_size:
            self.size += 1
            return await self._open_for_caller()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[BackendConnection | None] = loop.create_future()
        self._waiters.append(future)
        try:
            async with asyncio.timeout(self.acquire_timeout):
                got = await future
        except TimeoutError:
            self._give_back(future)
            raise PoolTimeout(
                f"no database connection became free within {self.acquire_timeout:g} s "
                f"(pool max_size={self.max_size}, all {len(self._in_use)} in use); "
                f"raise max_size or acquire_timeout, or hold connections for less time"
            ) from None
        except BaseException:
            self._give_back(future)
            raise
        finally:
            try:
                self._waiters.remove(future)
            except ValueError:
                pass
        if got is None:  # a slot was freed for us: open a connection in it
            return await self._open_for_caller()
        return got

    def _give_back(self, future: asyncio.Future[BackendConnection | None]) -> None:
        """A waiter gave up: pass on whatever was handed to it meanwhile."""
        if future.done() and not future.cancelled():
            got = future.result()
            if got is None:
                self.size -= 1
                self._wake_opener()
            else:
                self._in_use.discard(got)
                self.release(got)

    async def _open_for_caller(self) -> BackendConnection:
        try:
            conn = await self._connect()
        except BaseException:
            self.size -= 1
            self._wake_opener()
            raise
        if self._closed:
            self.size -= 1
            conn.terminate()
            raise DatabaseNotConnected("the database was disconnected while connecting")
        self._in_use.add(conn)
        return conn

    def _wake_opener(self) -> None:
        """A slot is free: let the oldest waiter open a connection in it."""
        while self._waiters and self.size < self.max_size:
            future = self._waiters.popleft()
            if not future.done():
                self.size += 1
                future.set_result(None)

    def release(self, conn: BackendConnection) -> None:
        self._in_use.discard(conn)
        now = time.monotonic()
        # A connection left inside a transaction (a raw BEGIN never ended) must not
        # reach the next user: closing it makes the server roll the transaction back.
        if self._closed or not self._usable(conn, now) or conn.in_transaction():
            self._discard(conn)
            return
        conn.last_used = now
        waiters = self._waiters
        while waiters:
            future = waiters.popleft()
            if not future.done():
                self._in_use.add(conn)
                future.set_result(conn)
                return
        self._idle.append(conn)

    def _discard(self, conn: BackendConnection) -> None:
        self.size -= 1
        self._close_soon(conn)
        self._wake_opener()

    def _close_soon(self, conn: BackendConnection) -> None:
        if conn.broken:
            conn.terminate()
            return
        task = asyncio.get_running_loop().create_task(self._close_one(conn))
        self._close_tasks.add(task)
        task.add_done_callback(self._close_tasks.discard)

    @staticmethod
    async def _close_one(conn: BackendConnection, timeout: float = 5.0) -> None:
        try:
            async with asyncio.timeout(timeout):
                await conn.close()
        except BaseException:
            conn.terminate()

    async def close(self, timeout: float = 10.0) -> None:
        """Close idle connections now; wait up to ``timeout`` for the ones in use."""
        self._closed = True
        while self._waiters:
            future = self._waiters.popleft()
            if not future.done():
                future.set_exception(DatabaseNotConnected("the database is disconnecting"))
        idle = list(self._idle)
        self._idle.clear()
        self.size -= len(idle)
        await asyncio.gather(*(self._close_one(conn) for conn in idle))
        deadline = time.monotonic() + timeout
        while self._in_use and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        for conn in list(self._in_use):
            conn.terminate()
        self._in_use.clear()
        if self._close_tasks:
            await asyncio.gather(*self._close_tasks, return_exceptions=True)

    def stats(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "idle": len(self._idle),
            "in_use": len(self._in_use),
            "waiting": len(self._waiters),
            "max_size": self.max_size,
        }
