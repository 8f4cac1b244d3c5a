"""The connection pool: keep-alive connections per origin, with limits and deadlines.

Theory of operation. Connections are counted from the moment a slot is reserved for one
(connecting) until it closes. Idle connections wait in a per-origin stack, so the warmest
is reused first and acquire/release are O(1) (``list.pop``/``append``). A request:

1. pops an idle connection of its origin that is still open and not expired; else
2. reserves a slot if ``max_connections`` and ``max_connections_per_host`` allow, closing
   an idle connection of another origin to make room if that is all that stands in the
   way, and connects (``timeout.connect``); else
3. waits in its origin's queue (``timeout.pool``). A connection released for that origin
   is handed straight to the first waiter; a closed connection frees a slot and wakes a
   waiter (its own origin's first) to try again.

Released connections go back to their stack if the response completed with keep-alive and
fewer than ``max_keepalive_connections`` are idle; otherwise they are closed. A timer runs
while any connection is idle and closes those idle longer than ``keepalive_expiry``.

Event loops. Connections, futures and timers belong to the loop that made them, so the
pool is bound to one loop at a time: the loop of the first request, and again after that
loop is gone. A client kept in a global and used from one ``asyncio.run`` after another
must keep working, as a sync client would:

- When the pool binds to a loop it starts a tiny async generator there (``_watch``).
  ``asyncio.run``, ``asyncio.Runner``, ``uvloop.run`` and pytest-asyncio close every
  live async generator of the loop (``loop.shutdown_asyncgens()``) before closing it; its
  ``finally`` then closes the pooled connections while the loop can still run their close
  callbacks, and unbinds the pool. No socket is left to a dead loop.
- A request on another loop while the bound loop is not running (closed without
  ``shutdown_asyncgens``, or just stopped) drops the old loop's connections and binds to
  the new loop. Their sockets are closed as far as the old loop allows.
- A request on another loop while the bound loop is running (another thread) raises
  ``RuntimeError``: the pool is not thread-safe and its connections cannot move.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING

from vivace.client._config import Limits
from vivace.client._connection import HTTP11Connection
from vivace.client._exceptions import ConnectError, ConnectTimeout, PoolTimeout
from vivace.client._waiters import wait

if TYPE_CHECKING:
    from vivace.client._config import Timeout

__all__ = ["ConnectionPool", "Origin"]


class Origin:
    """Where connections go: scheme, host and port, and the TLS context for https."""

    __slots__ = ("host", "key", "port", "scheme", "server_hostname", "ssl")

    def __init__(self, scheme: str, host: str, port: int, ssl: ssl.SSLContext | None) -> None:
        self.scheme = scheme
        self.host = host
        self.port = port
        self.ssl = ssl
        self.server_hostname = host if ssl is not None else None
        self.key = (scheme, host, port)

    def __repr__(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"


class ConnectionPool:
    """Connections to any number of origins (see the module docstring)."""

    def __init__(self, limits: Limits, max_header_size: int = 64 * 1024) -> None:
        self.limits = limits
        self.max_header_size = max_header_size
        self._idle: dict[tuple[str, str, int], list[HTTP11Connection]] = {}
        self._idle_count = 0
        self._total = 0
        self._per_host: dict[tuple[str, str, int], int] = {}
        self._waiters: dict[tuple[str, str, int], deque[asyncio.Future[HTTP11Connection | None]]]
        self._waiters = {}
        self._all: set[HTTP11Connection] = set()
        self._sweeper: asyncio.TimerHandle | None = None
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._watcher: AsyncGenerator[None, None] | None = None
        max_keepalive = limits.max_keepalive_connections
        self._max_idle = limits.max_connections if max_keepalive is None else max_keepalive

    # -- counting ------------------------------------------------------------------------

    @property
    def connection_count(self) -> int:
        """Open (and opening) connections."""
        return self._total

    @property
    def idle_count(self) -> int:
        return self._idle_count

    @property
    def waiting_count(self) -> int:
        """Requests queued for a connection (every origin), not yet handed one."""
        return sum(not waiter.done() for queue in self._waiters.values() for waiter in queue)

    def _can_open(self, key: tuple[str, str, int]) -> bool:
        per_host = self.limits.max_connections_per_host
        if per_host is not None and self._per_host.get(key, 0) >= per_host:
            return False
        total = self.limits.max_connections
        if total is None or self._total < total:
            return True
        # At the global limit: an idle connection of another origin can make room.
        for other, stack in self._idle.items():
            if other != key and stack:
                victim = stack.pop(0)  # the coldest one; close() frees its slot now
                self._idle_count -= 1
                victim.close()
                return self._total < total
        return False

    def _reserve(self, key: tuple[str, str, int]) -> None:
        self._total += 1
        self._per_host[key] = self._per_host.get(key, 0) + 1

    def _unreserve(self, key: tuple[str, str, int]) -> None:
        self._total -= 1
        left = self._per_host[key] - 1
        if left:
            self._per_host[key] = left
        else:
            del self._per_host[key]
        self._wake_one(key)

    def _wake_one(self, key: tuple[str, str, int]) -> None:
        # A slot is free: wake a waiter of this origin, else of any origin.
        queue = self._waiters.get(key)
        if not queue:
            queue = next((q for q in self._waiters.values() if q), None)
        while queue:
            waiter = queue.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _on_close(self, conn: HTTP11Connection) -> None:
        # Called once per connection by HTTP11Connection when it closes.
        self._all.discard(conn)
        key = conn.origin.key
        stack = self._idle.get(key)
        if stack and conn in stack:
            stack.remove(conn)
            self._idle_count -= 1
        self._unreserve(key)

    # -- acquire / release ---------------------------------------------------------------

    async def acquire(self, origin: Origin, timeout: Timeout) -> HTTP11Connection:
        """A connection to ``origin``: idle, new, or the next one freed."""
        key = origin.key
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._bind(loop)
        while True:
            if self._closed:
                raise RuntimeError("the connection pool is closed")
            stack = self._idle.get(key)
            if stack:
                now = loop.time()
                expiry = self.limits.keepalive_expiry
                while stack:
                    conn = stack.pop()
                    self._idle_count -= 1
                    if conn.is_reusable() and (expiry is None or now - conn.idle_since < expiry):
                        return conn
                    conn.close()
            if self._can_open(key):
                return await self._connect(origin, timeout.connect, loop)
            waiter: asyncio.Future[HTTP11Connection | None] = loop.create_future()
            queue = self._waiters.get(key)
            if queue is None:
                queue = self._waiters[key] = deque()
            queue.append(waiter)
            try:
                conn_or_none = await wait(
                    waiter,
                    timeout.pool,
                    lambda: PoolTimeout(f"no connection to {origin} free within {timeout.pool} s"),
                )
            except BaseException:
                # Handed a connection while timing out or being cancelled: give it back.
                if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                    handed = waiter.result()
                    if handed is not None:
                        self.release(handed)
                raise
            if conn_or_none is not None:
                return conn_or_none

    async def _connect(
        self, origin: Origin, timeout: float | None, loop: asyncio.AbstractEventLoop
    ) -> HTTP11Connection:
        key = origin.key
        self._reserve(key)
        conn = HTTP11Connection(origin, loop, self.max_header_size, self._on_close)
        try:
            async with asyncio.timeout(timeout):
                await loop.create_connection(
                    lambda: conn,
                    origin.host,
                    origin.port,
                    ssl=origin.ssl,
                    server_hostname=origin.server_hostname,
                )
        except TimeoutError:
            self._connect_failed(conn, key)
            raise ConnectTimeout(f"could not connect to {origin} within {timeout} s") from None
        except (OSError, ssl.SSLError, ssl.CertificateError) as exc:
            self._connect_failed(conn, key)
            raise ConnectError(f"could not connect to {origin}: {exc}") from exc
        except BaseException:
            self._connect_failed(conn, key)
            raise
        self._all.add(conn)
        return conn

    def _connect_failed(self, conn: HTTP11Connection, key: tuple[str, str, int]) -> None:
        if conn.transport is not None:  # connected, then failed (a TLS handshake, usually)
            conn.transport.abort()
        if not conn.is_closed:
            conn.state = 2  # closed, without calling _on_close: the slot is released here
            self._unreserve(key)

    def adopt(self, conn: HTTP11Connection) -> None:
        """Take in a connection opened elsewhere (TLS whose ALPN chose HTTP/1.1 when
        HTTP/2 was offered, ``_h2pool``): counted, then idle or handed to a waiter."""
        self._reserve(conn.origin.key)
        self._all.add(conn)
        self.release(conn)

    def release(self, conn: HTTP11Connection) -> None:
        """Give back a connection whose response is finished (or close it)."""
        if conn.is_closed:
            return
        if self._closed or not conn.is_reusable() or conn.loop is not self._loop:
            conn.close()
            return
        key = conn.origin.key
        queue = self._waiters.get(key)
        while queue:
            waiter = queue.popleft()
            if not waiter.done():
                waiter.set_result(conn)  # straight to the next request for this origin
                return
        if self._max_idle is not None and self._idle_count >= self._max_idle:
            conn.close()
            return
        loop = conn.loop
        conn.set_idle(loop.time())
        stack = self._idle.get(key)
        if stack is None:
            stack = self._idle[key] = []
        stack.append(conn)
        self._idle_count += 1
        if self._sweeper is None and self.limits.keepalive_expiry is not None:
            self._sweeper = loop.call_later(self.limits.keepalive_expiry, self._sweep, loop)

    def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        self._sweeper = None
        expiry = self.limits.keepalive_expiry
        assert expiry is not None
        now = loop.time()
        for stack in list(self._idle.values()):
            for conn in [c for c in stack if now - c.idle_since >= expiry]:
                conn.close()
        if self._idle_count and not self._closed:
            self._sweeper = loop.call_later(expiry, self._sweep, loop)

    # -- event loops (see the module docstring) -------------------------------------------

    def _bind(self, loop: asyncio.AbstractEventLoop) -> None:
        old = self._loop
        if old is not None:
            if old.is_running():
                raise RuntimeError(
                    "this client's connection pool is in use by another event loop that is "
                    "still running (in another thread); a Client is not thread-safe: "
                    "use one Client per event loop"
                )
            self._drop()
        self._loop = loop
        watcher = self._watch(loop)
        # Run it to its ``yield`` now: the first step registers it with the running loop
        # (sys.set_asyncgen_hooks), so the loop's shutdown_asyncgens() will close it.
        try:
            watcher.asend(None).send(None)
        except StopIteration:
            self._watcher = watcher

    async def _watch(self, loop: asyncio.AbstractEventLoop) -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            # The loop is shutting down (or the pool closing): close its connections
            # while it can still run their callbacks.
            if self._loop is loop:
                self._watcher = None
                self._shut(RuntimeError("the event loop of the request shut down"))
                self._loop = None

    def _stop_watching(self) -> None:
        watcher = self._watcher
        if watcher is not None:
            self._watcher = None
            # Its ``finally`` does not await, so closing it finishes in one step.
            try:
                watcher.aclose().send(None)
            except StopIteration:
                pass

    def _drop(self) -> None:
        # The bound loop is not running and may be closed: forget its connections and
        # close their sockets as far as that loop still can.
        self._loop = None
        self._stop_watching()
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for conn in self._all:
            conn.detach()
        self._idle = {}
        self._idle_count = 0
        self._total = 0
        self._per_host = {}
        self._waiters = {}  # their futures belong to the old loop and can never run
        self._all = set()

    def _shut(self, error: Exception) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for conn in list(self._all):
            conn.close()
        for queue in self._waiters.values():
            while queue:
                waiter = queue.popleft()
                if not waiter.done():
                    waiter.set_exception(error)

    async def aclose(self) -> None:
        """Close every connection; requests waiting for one get ``PoolTimeout``-free errors."""
        loop = asyncio.get_running_loop()
        if self._loop is not None and loop is not self._loop:
            if self._loop.is_running():
                raise RuntimeError(
                    "this client's connection pool is in use by another event loop that is "
                    "still running (in another thread); close it from that loop"
                )
            self._closed = True
            self._drop()
            return
        self._closed = True
        self._stop_watching()
        self._shut(RuntimeError("the client was closed"))
        self._loop = None
        # Let the transports run their close callbacks before the loop may end.
        await asyncio.sleep(0)
