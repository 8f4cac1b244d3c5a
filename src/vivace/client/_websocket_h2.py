"""WebSocket sessions over HTTP/2 (RFC 8441): one stream of a shared connection.

When the transport speaks HTTP/2 to an origin whose SETTINGS allow extended CONNECT
(SETTINGS_ENABLE_CONNECT_PROTOCOL, RFC 8441 section 3), ``websocket_connect`` opens a
stream with ``:method CONNECT`` and ``:protocol websocket`` instead of a connection of its
own. The session is ``NetworkWebSocketSession`` with the RFC 8441 handshake: a ``200``
accepts (no ``Sec-WebSocket-Accept``: section 5), anything else is a
``WebSocketRejected`` with the response's body; subprotocol and extension negotiation are
RFC 6455's. After it, frames are DATA frames of the stream (``_StreamPipe``, the stream as
the session's transport): closing ends the stream, a lost session resets it, and unread
messages stop the stream's window updates (backpressure on that stream alone).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from vivace.client._exceptions import ReadTimeout, RemoteProtocolError
from vivace.client._http2 import H2ClientConnection, request_fields
from vivace.client._http11 import safe_target
from vivace.client._models import Response
from vivace.client._streams import ByteStream
from vivace.client._waiters import wait
from vivace.client._websocket import WebSocketOptions, WebSocketRejected
from vivace.client._websocket_network import (
    _HANDSHAKE,
    NetworkWebSocketSession,
    _negotiate_extensions,
)
from vivace.http import Headers
from vivace.http._h2_frames import ErrorCode

if TYPE_CHECKING:
    from vivace.client._config import Timeout
    from vivace.client._models import Request

__all__ = ["H2WebSocketSession", "connect_h2"]

_SEND_HIGH_WATER = 256 * 1024
_DROPPED = frozenset((b"accept-encoding", b"content-length", b"content-type"))


class _StreamPipe(asyncio.Transport):
    """One HTTP/2 stream as the transport of a WebSocket session."""

    def __init__(self, conn: H2ClientConnection, session: H2WebSocketSession) -> None:
        super().__init__()
        self.conn = conn
        self.session = session
        self.stream_id = 0
        self.ended = False
        self.lost = False
        self.paused = False
        self.unacked = 0
        self.write_paused = False
        self.body: list[bytes] = []

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        transport = self.conn.transport
        return default if transport is None else transport.get_extra_info(name, default)

    def is_closing(self) -> bool:
        return self.ended or self.lost

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self.ended or self.lost or self.stream_id not in self.conn.core.streams:
            return
        core = self.conn.core
        core.send_data(self.stream_id, bytes(data))
        self.conn.flush()
        if core.pending_size(self.stream_id) > _SEND_HIGH_WATER and not self.write_paused:
            self.write_paused = True
            self.session.pause_writing()

    def close(self) -> None:
        if not self.ended and self.stream_id in self.conn.core.streams:
            self.ended = True
            self.conn.core.send_data(self.stream_id, b"", end_stream=True)
            self.conn.flush()
        if not self.lost:
            # The close handshake is over: the server's half is not needed any more.
            self.conn.reset(self.stream_id)
            self._lose()

    def abort(self) -> None:
        self.ended = True
        if not self.lost:
            self.conn.reset(self.stream_id)
            self._lose()

    def pause_reading(self) -> None:
        self.paused = True

    def resume_reading(self) -> None:
        self.paused = False
        if self.unacked:
            self.conn.consumed(self.stream_id, self.unacked)
            self.unacked = 0

    def _lose(self) -> None:
        if not self.lost:
            self.lost = True
            self.conn.websockets.pop(self.stream_id, None)
            self.conn.loop.call_soon(self.session.connection_lost, None)

    # -- events from H2ClientConnection ----------------------------------------------------

    def on_head(self, status: int, headers: list[tuple[bytes, bytes]], end_stream: bool) -> None:
        self.session.on_head(status, headers)
        if end_stream:
            self.on_data(b"", True)

    def on_data(self, data: bytes, end_stream: bool) -> None:
        session = self.session
        if data:
            if session._state == _HANDSHAKE:
                self.body.append(data)  # a refusal's body
                self.conn.consumed(self.stream_id, len(data))
            elif self.paused:
                self.unacked += len(data)
                session.data_received(data)
            else:
                self.conn.consumed(self.stream_id, len(data))
                session.data_received(data)
        if end_stream:
            if session._state == _HANDSHAKE:
                session.rejected(b"".join(self.body))
            else:
                session.eof_received()
            self._lose()

    def on_reset(self, code: int) -> None:
        self.session.reset_error = code
        self._lose()

    def resume(self) -> None:
        if self.write_paused and self.conn.core.pending_size(self.stream_id) <= _SEND_HIGH_WATER:
            self.write_paused = False
            self.session.resume_writing()


class H2WebSocketSession(NetworkWebSocketSession):
    """``NetworkWebSocketSession`` on an HTTP/2 stream (see the module docstring)."""

    def __init__(
        self,
        request: Request,
        options: WebSocketOptions,
        timeout: Timeout,
        loop: asyncio.AbstractEventLoop,
        conn: H2ClientConnection,
    ) -> None:
        super().__init__(request, options, timeout, loop)
        self._conn = conn
        self._status = 0
        self.reset_error: int | None = None

    def start(self, scheme: str) -> None:
        """Open the stream: the extended CONNECT request (RFC 8441 section 4)."""
        request = self._request
        raw = [(n, v) for n, v in request.headers.raw if n.lower() not in _DROPPED]
        raw.append((b"sec-websocket-version", b"13"))
        options = self._options
        if options.compression:
            raw.append((b"sec-websocket-extensions", b"permessage-deflate; client_max_window_bits"))
        if options.subprotocols:
            raw.append((b"sec-websocket-protocol", ", ".join(options.subprotocols).encode()))
        authority = next((v for n, v in raw if n.lower() == b"host"), None)
        if authority is None:
            authority = request.url.netloc.encode("ascii")
        fields = request_fields("CONNECT", scheme, authority, safe_target(request.url.target), raw)
        fields.insert(1, (b":protocol", b"websocket"))
        pipe = _StreamPipe(self._conn, self)
        self.transport = pipe
        core = self._conn.core
        stream_id = core.open_stream()
        pipe.stream_id = stream_id
        self._conn.websockets[stream_id] = pipe
        core.send_headers(stream_id, fields)
        self._conn.flush()

    def on_head(self, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        self._status = status
        self._reader.headers = headers
        self._reader.head_complete = True
        if status == 200:
            self._open(b"")

    def _check_response(self, headers: Headers) -> list[Any]:
        subprotocol = headers.get("sec-websocket-protocol")
        if subprotocol is not None and subprotocol not in self._options.subprotocols:
            raise RemoteProtocolError(f"the server chose a subprotocol not offered: {subprotocol}")
        self.subprotocol = subprotocol
        offered = headers.getlist("sec-websocket-extensions")
        if not offered:
            return []
        if not self._options.compression:
            raise RemoteProtocolError("the server chose extensions that were not offered")
        return _negotiate_extensions(offered)

    def rejected(self, body: bytes) -> None:
        """The stream ended before a 200: the server refused (its response, read)."""
        status = self._status
        if not status:
            self._fail_handshake(RemoteProtocolError("the server ended the stream"))
            return
        response = Response._from_transport(
            status, self._reader.headers, ByteStream(body), self._request, "HTTP/2"
        )
        self._fail_handshake(
            WebSocketRejected(
                f"the WebSocket handshake was refused with {status}",
                request=self._request,
                response=response,
            )
        )

    def _reject(self) -> None:
        # The base class reads a refusal from its HTTP/1.1 parser; here it is complete
        # when the stream ends (``rejected``), or the stream was lost without one.
        self.rejected(
            b"".join(self.transport.body) if isinstance(self.transport, _StreamPipe) else b""
        )

    def connection_lost(self, exc: Exception | None) -> None:
        if self._state == _HANDSHAKE and not self._reader.head_complete:
            code = self.reset_error
            reason = ErrorCode.name(code) if code is not None else "closed"
            self._fail_handshake(RemoteProtocolError(f"the server reset the stream: {reason}"))
        super().connection_lost(exc)


async def connect_h2(
    conn: H2ClientConnection,
    scheme: str,
    request: Request,
    options: WebSocketOptions,
    timeout: Timeout,
) -> H2WebSocketSession:
    """Open a WebSocket on ``conn`` (which allows extended CONNECT) and shake hands."""
    session = H2WebSocketSession(request, options, timeout, conn.loop, conn)
    session.start(scheme)
    try:
        limit = timeout.read
        await wait(
            session._handshake,
            limit,
            lambda: ReadTimeout(f"no handshake response within {limit} s", request=request),
        )
    except BaseException:
        session.transport.abort()  # type: ignore[union-attr]
        raise
    error = session._handshake_error
    if error is not None:
        if isinstance(error, RemoteProtocolError) and error._request is None:
            error._request = request
        if isinstance(error, WebSocketRejected):
            await error.response.aread()
        raise error
    return session
