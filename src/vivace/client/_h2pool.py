"""HTTP/2 connections of a transport, per origin: multiplexed, then more of them.

Theory of operation. A request takes the first connection of its origin that can open a
stream now (``H2ClientConnection.available``: open, no GOAWAY, fewer streams than the
server's SETTINGS_MAX_CONCURRENT_STREAMS). If there is none, a new connection is opened
while the origin has fewer than ``max_connections`` (the ``Limits``' per-host limit, else
its total, else 10); otherwise the request waits (``timeout.pool``) until a stream ends
somewhere. Requests that arrive while the origin's first connection is being made wait
for it rather than each opening their own: one handshake serves them all.

Which protocol. ``https`` origins offer ``h2`` and ``http/1.1`` by ALPN (RFC 9113 section
3.2): when the server picks HTTP/1.1 the new TLS connection is handed, already open, to the
HTTP/1.1 pool (``ConnectionPool.adopt``) and the origin is remembered as HTTP/1.1, so later
requests go there directly. ``http`` origins are HTTP/2 only with prior knowledge (section
3.3), when the transport was made with ``http1=False``.

A connection without streams for longer than ``keepalive_expiry`` is closed (GOAWAY) when
a request next looks for one, rather than reused. Event loops: like ``ConnectionPool``,
bound to the loop of its requests; a request on a new loop (the old one stopped) drops
the old loop's connections.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from typing import TYPE_CHECKING

from vivace.client._connection import HTTP11Connection
from vivace.client._exceptions import ConnectError, ConnectTimeout, PoolTimeout
from vivace.client._http2 import H2ClientConnection
from vivace.client._waiters import wait

if TYPE_CHECKING:
    from vivace.client._config import Limits, Timeout
    from vivace.client._pool import ConnectionPool, Origin

__all__ = ["H2Pool"]

Key = tuple[str, str, int]


class _Negotiate(asyncio.Protocol):
    """Decides, once TLS is up, which protocol the connection speaks (ALPN)."""

    def __init__(self, pool: H2Pool, origin: Origin, loop: asyncio.AbstractEventLoop) -> None:
        self.pool = pool
        self.origin = origin
        self.loop = loop
        self.chosen: H2ClientConnection | HTTP11Connection | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        ssl_object = transport.get_extra_info("ssl_object")
        protocol: H2ClientConnection | HTTP11Connection
        if ssl_object is None or ssl_object.selected_alpn_protocol() == "h2":
            protocol = H2ClientConnection(self.origin, self.loop, self.pool._on_close)
        else:
            h1 = self.pool.h1
            protocol = HTTP11Connection(self.origin, self.loop, h1.max_header_size, h1._on_close)
        self.chosen = protocol
        transport.set_protocol(protocol)
        protocol.connection_made(transport)


class H2Pool:
    """HTTP/2 connections per origin (see the module docstring)."""

    def __init__(self, limits: Limits, h1: ConnectionPool) -> None:
        self.h1 = h1
        self.max_per_origin = limits.max_connections_per_host or limits.max_connections or 10
        self.keepalive_expiry = limits.keepalive_expiry
        self.h1_origins: set[Key] = set()  # origins whose ALPN chose HTTP/1.1
        self._conns: dict[Key, list[H2ClientConnection]] = {}
        self._opening: dict[Key, int] = {}
        self._waiters: dict[Key, deque[asyncio.Future[None]]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    def _bind(self, loop: asyncio.AbstractEventLoop) -> None:
        for conns in self._conns.values():
            for conn in conns:
                if conn.transport is not None:
                    try:
                        conn.transport.abort()
                    except RuntimeError:  # the old loop is closed
                        pass
        self._conns = {}
        self._opening = {}
        self._waiters = {}
        self._loop = loop

    def _on_close(self, conn: H2ClientConnection) -> None:
        conns = self._conns.get(conn.origin.key)
        if conns is not None and conn in conns:
            conns.remove(conn)
        self._wake(conn.origin.key)

    def _wake(self, key: Key) -> None:
        queue = self._waiters.get(key)
        while queue:
            waiter = queue.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def stream_done(self, conn: H2ClientConnection) -> None:
        """A stream of ``conn`` ended: a request waiting for its origin may go."""
        self._wake(conn.origin.key)

    async def acquire(self, origin: Origin, timeout: Timeout) -> H2ClientConnection | None:
        """A connection with a free stream; None if the origin speaks only HTTP/1.1."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._bind(loop)
        key = origin.key
        while True:
            if self._closed:
                raise RuntimeError("the connection pool is closed")
            if key in self.h1_origins:
                return None
            conns = self._conns.get(key, [])
            expiry = self.keepalive_expiry
            for conn in list(conns):
                if expiry is not None and conn.is_idle and loop.time() - conn.idle_since > expiry:
                    conn.close()  # idle too long: the server may be about to drop it
                    conns.remove(conn)
                elif conn.available:
                    return conn
            opening = self._opening.get(key, 0)
            if not opening and len(conns) < self.max_per_origin:
                conn_or_none = await self._connect(origin, timeout.connect, loop)
                if conn_or_none is None:
                    return None
                if conn_or_none.available:
                    return conn_or_none  # a new connection is used at once, never expired
                continue
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiters.setdefault(key, deque()).append(waiter)
            await wait(
                waiter,
                timeout.pool,
                lambda: PoolTimeout(f"no HTTP/2 stream to {origin} free within {timeout.pool} s"),
            )

    async def _connect(
        self, origin: Origin, timeout: float | None, loop: asyncio.AbstractEventLoop
    ) -> H2ClientConnection | None:
        key = origin.key
        self._opening[key] = self._opening.get(key, 0) + 1
        negotiate = _Negotiate(self, origin, loop)
        try:
            async with asyncio.timeout(timeout):
                await loop.create_connection(
                    lambda: negotiate,
                    origin.host,
                    origin.port,
                    ssl=origin.ssl,
                    server_hostname=origin.server_hostname,
                )
        except TimeoutError:
            raise ConnectTimeout(f"could not connect to {origin} within {timeout} s") from None
        except (OSError, ssl.SSLError, ssl.CertificateError) as exc:
            raise ConnectError(f"could not connect to {origin}: {exc}") from exc
        finally:
            self._opening[key] -= 1
            # Whoever waited for this connection to exist looks again.
            for waiter in self._waiters.pop(key, ()):
                if not waiter.done():
                    waiter.set_result(None)
        chosen = negotiate.chosen
        if isinstance(chosen, HTTP11Connection):
            self.h1_origins.add(key)
            self.h1.adopt(chosen)
            return None
        assert chosen is not None
        chosen.on_stream_done = self.stream_done
        self._conns.setdefault(key, []).append(chosen)
        return chosen

    async def aclose(self) -> None:
        self._closed = True
        for conns in list(self._conns.values()):
            for conn in list(conns):
                conn.close()
        for queue in self._waiters.values():
            for waiter in queue:
                if not waiter.done():
                    waiter.set_exception(RuntimeError("the client was closed"))
        self._conns = {}
        await asyncio.sleep(0)
