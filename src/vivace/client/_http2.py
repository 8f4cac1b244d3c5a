"""One HTTP/2 client connection: an ``asyncio.Protocol`` shell around the sans-IO core.

Theory of operation. A connection carries many requests at once, each on its own stream
(``H2Exchange``). ``open`` sends a request head; ``send_body`` its body as flow control
allows, waiting while more than ``_SEND_HIGH_WATER`` bytes of the stream are still
waiting for a window (the core keeps them as memoryviews: a large upload is never
re-joined or copied more than once on its way out). ``data_received`` hands bytes to the
core and routes its events to the exchanges: the response head completes ``head``, DATA
feeds ``chunks``, trailers or END_STREAM end it, RST_STREAM fails it.

Errors a request can get, and whether the transport may retry it elsewhere (RFC 9113
section 8.7): a stream the server refused (REFUSED_STREAM) or never processed (above the
``last_stream_id`` of its GOAWAY, or no response frame before the connection closed after
a GOAWAY) is ``Unprocessed``, safe to retry whatever its method; any other reset is
``StreamReset`` (a ``RemoteProtocolError`` carrying the error code); a broken connection
is ``ReadError``/``WriteError`` as for HTTP/1.1.

Received bodies are acknowledged (WINDOW_UPDATE) as the response stream is read, so a
reader that stops stops the server, and no more than the stream window is ever buffered.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from vivace.client._exceptions import (
    ReadError,
    ReadTimeout,
    RemoteProtocolError,
    StreamReset,
    WriteError,
    WriteTimeout,
)
from vivace.client._waiters import wait
from vivace.http._h2_connection import H2Connection
from vivace.http._h2_events import (
    ConnectionTerminated,
    DataReceived,
    InformationalReceived,
    ResponseReceived,
    SendReady,
    SettingsChanged,
    TrailersReceived,
)
from vivace.http._h2_events import (
    StreamReset as StreamResetEvent,
)
from vivace.http._h2_frames import ErrorCode, H2Limits

if TYPE_CHECKING:
    from vivace.client._pool import Origin

__all__ = ["H2ClientConnection", "H2Exchange", "Unprocessed", "request_fields"]

_SEND_HIGH_WATER = 256 * 1024
_DROPPED = frozenset(
    (b"host", b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade")
)
#: The client's limits: a large stream window (a download is not throttled by the round
#: trip), streams bounded by what we open ourselves.
CLIENT_LIMITS = H2Limits(
    initial_window_size=4 * 1024 * 1024,
    connection_window_size=16 * 1024 * 1024,
    max_concurrent_streams=100,
)


def _nothing(conn: H2ClientConnection) -> None:
    """The default ``on_stream_done``."""


class Unprocessed(Exception):
    """The server did not process the request (RFC 9113 section 8.7): retry it."""


def request_fields(
    method: str, scheme: str, authority: bytes, target: str, headers: list[tuple[bytes, bytes]]
) -> list[tuple[bytes, bytes]]:
    """A request head's fields (section 8.3.1): pseudo-header fields, then the headers
    with lowercase names and without the connection-specific ones.

    >>> fields = request_fields("GET", "https", b"a", "/x", [(b"Host", b"a"), (b"Te", b"x")])
    >>> [name for name, _ in fields]
    [b':method', b':scheme', b':authority', b':path']
    """
    fields = [
        (b":method", method.encode("ascii")),
        (b":scheme", scheme.encode("ascii")),
        (b":authority", authority),
        (b":path", target.encode("ascii")),
    ]
    for name, value in headers:
        name = name.lower()
        if name in _DROPPED or (name == b"te" and value.lower() != b"trailers"):
            continue
        fields.append((name, value))
    return fields


class H2Exchange:
    """One request's stream: its response head, body chunks and end."""

    __slots__ = (
        "chunks",
        "conn",
        "drain",
        "ended",
        "error",
        "headers",
        "processed",
        "status",
        "stream_id",
        "trailers",
        "waiter",
    )

    def __init__(self, conn: H2ClientConnection, stream_id: int) -> None:
        self.conn = conn
        self.stream_id = stream_id
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.trailers: list[tuple[bytes, bytes]] = []
        self.chunks: deque[bytes] = deque()
        self.ended = False
        self.processed = False  # a frame of the response arrived
        self.error: Exception | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.drain: asyncio.Future[None] | None = None

    def check(self) -> None:
        """Raise the stream's error, if it failed before its response ended."""
        if self.error is not None and not self.ended:
            raise self.error

    def wake(self) -> None:
        waiter = self.waiter
        if waiter is not None:
            self.waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def fail(self, error: Exception) -> None:
        if self.error is None and not self.ended:
            self.error = error
        self.wake()
        drain = self.drain
        if drain is not None:
            self.drain = None
            if not drain.done():
                drain.set_result(None)

    async def _wait(self, timeout: float | None) -> None:
        self.waiter = waiter = self.conn.loop.create_future()
        await wait(waiter, timeout, lambda: ReadTimeout(f"no response data within {timeout} s"))

    async def wait_head(self, timeout: float | None) -> None:
        while not self.status:
            if self.error is not None:
                raise self.error
            await self._wait(timeout)

    async def next_chunk(self, timeout: float | None) -> bytes | None:
        """The next piece of the body (acknowledged to the server), or None at its end."""
        while True:
            chunks = self.chunks
            if chunks:
                data = chunks.popleft() if len(chunks) == 1 else b"".join(chunks)
                chunks.clear()
                self.conn.consumed(self.stream_id, len(data))
                return data
            if self.ended:
                return None
            if self.error is not None:
                raise self.error
            await self._wait(timeout)

    async def read_all(self, timeout: float | None) -> bytes:
        parts = []
        while (data := await self.next_chunk(timeout)) is not None:
            parts.append(data)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def cancel(self) -> None:
        """The response is not wanted any more: reset the stream (CANCEL)."""
        if not self.ended and self.error is None:
            self.error = ReadError("the response was closed")
            self.conn.reset(self.stream_id)


class H2ClientConnection(asyncio.Protocol):
    """An HTTP/2 client connection (see the module docstring)."""

    __slots__ = (
        "closed",
        "core",
        "error",
        "exchanges",
        "idle_since",
        "loop",
        "on_close",
        "on_stream_done",
        "origin",
        "settings",
        "transport",
        "websockets",
        "write_paused",
        "writer",
    )

    def __init__(
        self,
        origin: Origin,
        loop: asyncio.AbstractEventLoop,
        on_close: Callable[[H2ClientConnection], None],
        limits: H2Limits = CLIENT_LIMITS,
    ) -> None:
        self.origin = origin
        self.loop = loop
        self.on_close = on_close
        #: Called when a stream ends (the pool wakes a request waiting for one).
        self.on_stream_done: Callable[[H2ClientConnection], None] = _nothing
        self.core = H2Connection(client=True, limits=limits)
        self.exchanges: dict[int, H2Exchange] = {}
        #: WebSocket streams (RFC 8441, ``_websocket_h2``): their events go there.
        self.websockets: dict[int, Any] = {}
        #: Done once the server's first SETTINGS frame arrived.
        self.settings: asyncio.Future[None] = loop.create_future()
        self.closed = False
        self.error: Exception | None = None
        self.write_paused = False
        self.writer: asyncio.Future[None] | None = None
        self.transport: asyncio.Transport | None = None
        self.idle_since = loop.time()

    # -- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.core.initiate()
        self.flush()

    def data_received(self, data: bytes) -> None:
        core = self.core
        exchanges = self.exchanges
        events: list[Any] = core.receive(data)
        if not self.settings.done() and core.settings_received:
            self.settings.set_result(None)
        for event in events:
            kind = type(event)
            exchange = exchanges.get(getattr(event, "stream_id", 0))
            if exchange is None and self.websockets:
                self._websocket_event(kind, event)
                continue
            if kind is DataReceived:
                if exchange is not None:
                    if event.data:
                        exchange.chunks.append(event.data)
                    if event.end_stream:
                        self._end(exchange)
                    exchange.wake()
                else:
                    core.acknowledge(event.stream_id, len(event.data))
            elif kind is ResponseReceived:
                if exchange is not None:
                    exchange.processed = True
                    exchange.status = event.status
                    exchange.headers = event.headers
                    if event.end_stream:
                        self._end(exchange)
                    exchange.wake()
            elif kind is TrailersReceived:
                if exchange is not None:
                    exchange.trailers = event.headers
                    self._end(exchange)
                    exchange.wake()
            elif kind is InformationalReceived:
                if exchange is not None:
                    exchange.processed = True
            elif kind is StreamResetEvent:
                if exchange is not None:
                    self._reset(exchange, event.error_code, event.remote)
            elif kind is SendReady:
                if exchange is not None:
                    self._release(exchange)
            elif kind is ConnectionTerminated:
                self._terminated(event)
            elif kind is SettingsChanged:
                pass  # MAX_CONCURRENT_STREAMS is read from the core when a stream opens
        self.flush()
        if core.closed and self.transport is not None:
            self.transport.close()

    def _websocket_event(self, kind: type, event: Any) -> None:
        websocket = self.websockets.get(getattr(event, "stream_id", 0))
        if websocket is None:
            if kind is DataReceived:
                self.core.acknowledge(event.stream_id, len(event.data))
            elif kind is ConnectionTerminated:
                self._terminated(event)
            return
        if kind is ResponseReceived:
            websocket.on_head(event.status, event.headers, event.end_stream)
        elif kind is DataReceived:
            websocket.on_data(event.data, event.end_stream)
        elif kind is TrailersReceived:
            websocket.on_data(b"", True)
        elif kind is StreamResetEvent:
            websocket.on_reset(event.error_code)
        elif kind is SendReady:
            websocket.resume()

    def _end(self, exchange: H2Exchange) -> None:
        exchange.ended = True
        self.exchanges.pop(exchange.stream_id, None)
        # A body still being sent is not needed any more (RFC 9113 section 8.1).
        drain = exchange.drain
        if drain is not None:
            exchange.drain = None
            if not drain.done():
                drain.set_result(None)
        self._maybe_idle()

    def _reset(self, exchange: H2Exchange, code: int, remote: bool) -> None:
        self.exchanges.pop(exchange.stream_id, None)
        if code == ErrorCode.REFUSED_STREAM and not exchange.processed:
            exchange.fail(Unprocessed("the server refused the stream"))
        elif remote:
            exchange.fail(StreamReset(code))
        else:
            exchange.fail(RemoteProtocolError(f"invalid response ({ErrorCode.name(code)})"))
        self._maybe_idle()

    def _terminated(self, event: ConnectionTerminated) -> None:
        if event.remote:
            # Streams above last_stream_id were never processed (6.8): retry them.
            for sid, exchange in list(self.exchanges.items()):
                if sid > event.last_stream_id:
                    self.exchanges.pop(sid)
                    exchange.fail(Unprocessed("the server is going away (GOAWAY)"))
            if event.error_code != ErrorCode.NO_ERROR:
                self.error = RemoteProtocolError(
                    f"the server ended the connection: {ErrorCode.name(event.error_code)}"
                )
            if not self.exchanges and self.transport is not None:
                self.transport.close()
            return
        error = RemoteProtocolError(
            f"protocol error from the server: {event.debug.decode('utf-8', 'replace')}"
        )
        self.error = error
        for exchange in list(self.exchanges.values()):
            exchange.fail(error)
        self.exchanges.clear()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        goaway = self.core.remote_goaway
        for exchange in list(self.exchanges.values()):
            if goaway is not None and not exchange.processed:
                exchange.fail(Unprocessed("the server closed the connection (GOAWAY)"))
            else:
                error = self.error or ReadError(f"the connection was lost: {exc or 'closed'}")
                exchange.fail(error)
        self.exchanges.clear()
        for websocket in list(self.websockets.values()):
            websocket.on_reset(ErrorCode.CANCEL)
        if not self.settings.done():
            self.settings.set_exception(ReadError(f"the connection was lost: {exc or 'closed'}"))
            self.settings.exception()  # retrieved: nobody may be waiting
        writer = self.writer
        if writer is not None and not writer.done():
            writer.set_result(None)
        self.on_close(self)

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        writer = self.writer
        if writer is not None:
            self.writer = None
            if not writer.done():
                writer.set_result(None)
        for exchange in list(self.exchanges.values()):
            self._release(exchange)

    # -- state -----------------------------------------------------------------------------

    @property
    def available(self) -> bool:
        """Whether a new request may open a stream here now."""
        core = self.core
        return (
            not self.closed
            and not core.closed
            and core.remote_goaway is None
            and self.error is None
            and len(core.streams) < core.peer_max_concurrent
            and core.next_stream_id < (1 << 31)
        )

    @property
    def is_idle(self) -> bool:
        return not self.exchanges and not self.websockets

    def _maybe_idle(self) -> None:
        self.on_stream_done(self)
        if not self.exchanges and not self.websockets:
            self.idle_since = self.loop.time()
            if self.core.remote_goaway is not None and self.transport is not None:
                self.transport.close()

    def close(self) -> None:
        if not self.closed and self.transport is not None:
            self.core.goaway()
            self.flush()
            self.transport.close()
            self.closed = True

    # -- requests --------------------------------------------------------------------------

    def flush(self) -> None:
        data = self.core.data_to_send()
        if data and self.transport is not None and not self.closed:
            self.transport.write(data)

    def open(self, fields: list[tuple[bytes, bytes]], end_stream: bool) -> H2Exchange:
        """Start a request: its stream and head (and its end, without a body)."""
        core = self.core
        stream_id = core.open_stream()
        exchange = H2Exchange(self, stream_id)
        self.exchanges[stream_id] = exchange
        core.send_headers(stream_id, fields, end_stream)
        self.flush()
        return exchange

    async def send_body(
        self, exchange: H2Exchange, data: bytes, end_stream: bool, timeout: float | None
    ) -> None:
        """A piece of the request body; waits while too much of it waits for a window."""
        if exchange.error is not None:
            raise exchange.error
        if self.closed:
            raise WriteError("the connection was closed")
        stream_id = exchange.stream_id
        core = self.core
        if stream_id not in core.streams:
            return  # the response is complete (a server may answer before the body ends)
        core.send_data(stream_id, data, end_stream)
        self.flush()
        while (
            (core.pending_size(stream_id) > _SEND_HIGH_WATER or self.write_paused)
            and exchange.error is None
            and not exchange.ended
        ):
            if self.closed:
                raise WriteError("the connection was closed")
            if self.write_paused:
                self.writer = waiter = self.loop.create_future()
            else:
                exchange.drain = waiter = self.loop.create_future()
            await wait(waiter, timeout, lambda: WriteTimeout(f"body not sent within {timeout} s"))
        exchange.check()

    def _release(self, exchange: H2Exchange) -> None:
        drain = exchange.drain
        if drain is not None and self.core.pending_size(exchange.stream_id) <= _SEND_HIGH_WATER:
            exchange.drain = None
            if not drain.done():
                drain.set_result(None)

    def consumed(self, stream_id: int, size: int) -> None:
        if size and not self.closed:
            self.core.acknowledge(stream_id, size)
            self.flush()

    def reset(self, stream_id: int) -> None:
        self.exchanges.pop(stream_id, None)
        if stream_id in self.core.streams and not self.closed:
            self.core.reset_stream(stream_id, ErrorCode.CANCEL)
            self.flush()
        self._maybe_idle()
