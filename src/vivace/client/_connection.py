"""One HTTP/1.1 connection: an ``asyncio.Protocol`` shell around ``ResponseReader``.

A Protocol (not StreamReader/StreamWriter) because the client's cost is per call: the
event loop hands ``data_received`` the bytes, the reader parses them in place, and the
request's coroutine is woken once, through one future, when what it waits for is there.

Theory of operation. A connection is IDLE (in the pool), ACTIVE (lent to one request) or
CLOSED. The request writes its head and body (``write``, ``write_stream``), then waits
for the head (``wait_head``) and reads the body (``next_chunk`` / ``read_all``). Every
wait has a deadline (``_waiters.wait``). When the response is complete and both sides
agree to keep the connection (``keep_alive``, RFC 9112 section 9.3), the request gives it
back to the pool; otherwise it is closed. Bytes arriving while IDLE mean the server broke
the protocol: the connection is closed. If a reused connection fails before any byte of
the response arrived, the server most likely closed it while idle, and the error is a
``StaleConnection`` the transport retries once on a fresh connection.

Flow control: while a streamed body waits unread above ``_HIGH_WATER`` bytes the socket
is paused (``pause_reading``), and resumed once the reader drained it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from vivace.client._exceptions import (
    ReadError,
    ReadTimeout,
    RemoteProtocolError,
    TransportError,
    WriteError,
    WriteTimeout,
)
from vivace.client._http11 import ResponseReader
from vivace.client._waiters import wait

if TYPE_CHECKING:
    from vivace.client._pool import Origin

__all__ = ["HTTP11Connection", "StaleConnection"]

_HIGH_WATER = 256 * 1024
_IDLE, _ACTIVE, _CLOSED = 0, 1, 2


def _forget(conn: HTTP11Connection) -> None:
    """The ``on_close`` of a connection the pool has already forgotten."""


class StaleConnection(Exception):
    """A reused connection failed before the response started: safe to retry."""

    def __init__(self, error: TransportError) -> None:
        super().__init__(str(error))
        self.error = error


class HTTP11Connection(asyncio.Protocol):
    """An HTTP/1.1 client connection (see the module docstring)."""

    __slots__ = (
        "_buffered",
        "_deadline",
        "_drain",
        "_error",
        "_lost",
        "_on_close",
        "_paused_reading",
        "_stale",
        "_timeout",
        "_timer",
        "_timer_at",
        "_waiter",
        "idle_since",
        "loop",
        "origin",
        "paused_writing",
        "reader",
        "requests",
        "state",
        "transport",
    )

    def __init__(
        self,
        origin: Origin,
        loop: asyncio.AbstractEventLoop,
        max_header_size: int,
        on_close: Callable[[HTTP11Connection], None],
    ) -> None:
        self.origin = origin
        self.loop = loop
        self.reader = ResponseReader(max_header_size)
        self.transport: asyncio.Transport | None = None
        self.state = _ACTIVE
        self.requests = 0
        self.idle_since = 0.0
        self._on_close = on_close
        self._waiter: asyncio.Future[None] | None = None
        self._drain: asyncio.Future[None] | None = None
        self.paused_writing = False  # read by the transport: request bytes still queued
        self._paused_reading = False
        self._buffered = 0
        self._error: TransportError | None = None
        self._lost = False
        self._stale = False
        self._deadline: float | None = None
        self._timeout: float | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0

    # -- asyncio.Protocol ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        reader = self.reader
        try:
            reader.feed(data)
        except RemoteProtocolError as exc:
            self._fail(exc)
            return
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)
        if not reader.complete and reader.head_complete:
            self._buffered += len(data)
            if self._buffered > _HIGH_WATER and not self._paused_reading:
                self._paused_reading = True
                self.transport.pause_reading()  # type: ignore[union-attr]

    def eof_received(self) -> bool:
        return False  # let the transport close; connection_lost finishes the story

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        if self.state == _ACTIVE and self._error is None and not self.reader.idle:
            try:
                self.reader.feed_eof()  # completes a body that ends at EOF
            except RemoteProtocolError as error:
                self._error = self._stale_or(error, exc)
        self._set_closed()
        self._wake()
        drain = self._drain
        if drain is not None and not drain.done():
            failure = WriteError("the connection closed while the request was being written")
            failure.__cause__ = exc
            drain.set_exception(failure)

    def pause_writing(self) -> None:
        self.paused_writing = True

    def resume_writing(self) -> None:
        self.paused_writing = False
        drain = self._drain
        if drain is not None:
            self._drain = None
            if not drain.done():
                drain.set_result(None)

    # -- state -----------------------------------------------------------------------------

    def _stale_or(self, error: TransportError, cause: Exception | None) -> TransportError:
        if self.requests > 1 and not self.reader.head_complete and not self.reader.headers:
            # Nothing of this response arrived on a connection that served others: the
            # server closed it while it sat idle. Mark it so the transport can retry.
            self._stale = True
            error = ReadError("the server closed the kept-alive connection")
        if cause is not None:
            error.__cause__ = cause
        return error

    def _fail(self, error: TransportError) -> None:
        if self._error is None:
            self._error = error
        self.close()
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def _set_closed(self) -> None:
        if self.state != _CLOSED:
            self.state = _CLOSED
            self._cancel_timer()
            self._on_close(self)

    @property
    def is_closed(self) -> bool:
        return self.state == _CLOSED

    def is_reusable(self) -> bool:
        """Idle and healthy: the last response completed with keep-alive agreed, and the
        request went out whole (a server may answer before reading a large body: the rest
        of it, still queued, must not reach the server as the start of the next request)."""
        reader = self.reader
        return (
            self.state != _CLOSED
            and not self._lost
            and reader.idle
            and reader.keep_alive
            and not self.paused_writing
        )

    def close(self) -> None:
        """Close now (the pool learns through ``on_close``)."""
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.close()
        self._set_closed()

    def detach(self) -> None:
        """Close without telling the pool, whose loop this connection's loop no longer is.

        The loop may be closed: then the transport cannot schedule its close callback
        (``RuntimeError``), and the socket goes when the transport is collected.
        """
        self._on_close = _forget
        transport = self.transport
        if transport is not None:
            try:
                transport.abort()
            except RuntimeError:
                pass
        self._set_closed()

    def abort(self) -> None:
        transport = self.transport
        if transport is not None:
            transport.abort()
        self._set_closed()

    # -- one exchange ------------------------------------------------------------------

    def set_idle(self, now: float) -> None:
        self.state = _IDLE
        self.idle_since = now

    def start(self, head_request: bool) -> None:
        self.state = _ACTIVE
        self.requests += 1
        self._buffered = 0
        self._error = None
        self.reader.start(head_request)

    def check(self) -> None:
        error = self._error
        if error is not None:
            if self._stale:
                raise StaleConnection(error)
            raise error

    def write(self, data: bytes) -> None:
        transport = self.transport
        if transport is None or transport.is_closing() or self._lost:
            if self.requests > 1:
                raise StaleConnection(ReadError("the server closed the kept-alive connection"))
            raise WriteError("the connection is closed")
        transport.write(data)

    async def drain(self, timeout: float | None) -> None:
        """Wait until the socket accepts more bytes (``write_stream`` between chunks)."""
        if not self.paused_writing:
            self.check()
            return
        self._drain = self.loop.create_future()
        await wait(self._drain, timeout, self._write_timed_out(timeout))

    async def wait_written(self, timeout: float | None) -> None:
        """After a request written at once (a bytes body) left the transport paused:
        wait until the socket took it all, up to the write timeout, so the read timeout
        starts once the request is sent (as httpx's does) and a server that does not
        read raises ``WriteTimeout``. The response head arriving first (a server
        refusing the body early, with a 413) ends the wait too."""
        reader = self.reader
        while self.paused_writing and not reader.head_complete:
            self.check()
            if self._lost:
                return  # wait_head reports how the connection ended
            # One future for both wake-ups: resume_writing and data_received.
            waiter = self._waiter = self._drain = self.loop.create_future()
            await wait(waiter, timeout, self._write_timed_out(timeout))

    def _write_timed_out(self, timeout: float | None) -> Callable[[], WriteTimeout]:
        def timed_out() -> WriteTimeout:
            self.abort()
            return WriteTimeout(f"the server did not accept the request within {timeout} s")

        return timed_out

    # -- the read deadline ----------------------------------------------------------------
    #
    # A timer armed and cancelled per wait costs more than the rest of a small exchange's
    # bookkeeping (call_later + cancel: ~3.5 us on uvloop), so the read deadline is lazy:
    # each wait only writes its deadline; one timer per connection fires at the earliest
    # deadline it was armed for, and if the deadline moved on it re-arms for the new one.
    # A busy kept-alive connection so arms about one timer per read timeout, not one per
    # request.

    async def _wait_read(self, waiter: asyncio.Future[None], timeout: float | None) -> None:
        if timeout is not None:
            deadline = self.loop.time() + timeout
            self._deadline = deadline
            self._timeout = timeout
            timer = self._timer
            if timer is None or self._timer_at > deadline:
                if timer is not None:
                    timer.cancel()
                self._timer = self.loop.call_at(deadline, self._on_timer)
                self._timer_at = deadline
        try:
            await waiter
        finally:
            self._deadline = None

    def _on_timer(self) -> None:
        self._timer = None
        deadline = self._deadline
        if deadline is None or self.state == _CLOSED:
            return
        if self.loop.time() < deadline:
            self._timer = self.loop.call_at(deadline, self._on_timer)
            self._timer_at = deadline
            return
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            self._waiter = None
            waiter.set_exception(ReadTimeout(f"no response data for {self._timeout} s"))
            self.abort()
        # Otherwise the data arrived just in time and its reader has yet to resume.

    def _cancel_timer(self) -> None:
        timer = self._timer
        if timer is not None:
            self._timer = None
            timer.cancel()

    async def wait_head(self, timeout: float | None) -> None:
        """Wait until the response head arrived (or raise the connection's error)."""
        reader = self.reader
        while not reader.head_complete:
            self.check()
            if self._lost:
                raise ReadError("the connection was closed")
            waiter = self._waiter = self.loop.create_future()
            await self._wait_read(waiter, timeout)
        self.check()

    async def next_chunk(self, timeout: float | None) -> bytes | None:
        """The next piece of the body, or ``None`` once it is complete."""
        reader = self.reader
        while True:
            chunks = reader.chunks
            if chunks:
                reader.chunks = []
                data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
                self._resume()
                return data
            if reader.complete:
                return None
            self.check()
            waiter = self._waiter = self.loop.create_future()
            await self._wait_read(waiter, timeout)

    async def read_all(self, timeout: float | None) -> bytes:
        """The rest of the body."""
        reader = self.reader
        parts: list[bytes] = []
        while not reader.complete:
            self.check()
            if reader.chunks:
                parts.extend(reader.chunks)
                reader.chunks = []
                self._resume()
            waiter = self._waiter = self.loop.create_future()
            await self._wait_read(waiter, timeout)
        self.check()
        if parts:
            parts.extend(reader.chunks)
        else:
            parts = reader.chunks
        reader.chunks = []
        if len(parts) == 1:
            return parts[0]
        return b"".join(parts)

    def _resume(self) -> None:
        self._buffered = 0
        if self._paused_reading:
            self._paused_reading = False
            if self.transport is not None and not self._lost:
                self.transport.resume_reading()
