"""WebSockets over HTTP/2 (RFC 8441): an extended CONNECT stream, as the same ASGI scope.

The client asks with ``:method CONNECT`` and ``:protocol websocket`` on a connection
whose SETTINGS_ENABLE_CONNECT_PROTOCOL we set (RFC 8441 section 3). What follows is the
HTTP/1.1 WebSocket server (``_websocket.WebSocketProtocol``) unchanged but for the
handshake, on a stream instead of a socket:

* the request is checked here (section 4: ``:scheme``, ``:path``, ``:authority``;
  ``sec-websocket-version: 13`` as in RFC 6455), with no ``Sec-WebSocket-Key``;
* accepting answers ``:status 200`` (not 101) with the subprotocol and extensions;
* a denial (``websocket.close`` before accepting: 403, or the ``websocket.http.response``
  extension) is an ordinary response on the stream;
* frames travel in DATA frames; closing the WebSocket ends the stream (END_STREAM), a lost
  one resets it.

``StreamTransport`` is the stream seen as an ``asyncio.Transport``: ``write`` sends DATA,
``pause_reading`` stops acknowledging received data (the client's window closes: per-stream
backpressure), ``close`` ends the stream, ``abort`` resets it.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from vivace.http._h2_events import RequestReceived
from vivace.http._h2_frames import ErrorCode
from vivace.server._errors import ProtocolViolation
from vivace.server._h2_fields import STATUS, default_fields, response_fields
from vivace.server._h2_stream import SEND_HIGH_WATER
from vivace.server._http11 import WEBSOCKET_ASGI
from vivace.server._websocket import CLOSED, RESPONDING, WebSocketProtocol
from vivace.types import Message, Scope

if TYPE_CHECKING:
    from vivace.server._h2_protocol import H2Protocol

__all__ = ["H2WebSocketProtocol", "StreamTransport", "start_websocket"]


class StreamTransport(asyncio.Transport):
    """One HTTP/2 stream as the transport of a WebSocket (see the module docstring)."""

    def __init__(self, conn: H2Protocol, stream_id: int) -> None:
        super().__init__()
        self.conn = conn
        self.stream_id = stream_id
        self.protocol: WebSocketProtocol | None = None
        self.closing = False
        self.ended = False  # our END_STREAM went out
        self.lost = False
        self.paused = False
        self.unacked = 0
        self.write_paused = False
        # What H2Protocol's event handling expects of a stream's handler.
        self.disconnected = False
        self.drain_waiter: asyncio.Future[None] | None = None
        self.received = 0

    # -- asyncio.Transport -----------------------------------------------------------------

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.conn.transport.get_extra_info(name, default)

    def is_closing(self) -> bool:
        return self.closing

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self.closing or self.lost or not data:
            return
        core = self.conn.core
        core.send_data(self.stream_id, bytes(data))
        self.conn.wrote()
        if core.pending_size(self.stream_id) > SEND_HIGH_WATER and not self.write_paused:
            self.write_paused = True
            assert self.protocol is not None
            self.protocol.pause_writing()

    def respond(self, fields: list[tuple[bytes, bytes]], body: bytes, end: bool) -> None:
        """An HTTP response head (and body) on the stream: the handshake's answer."""
        core = self.conn.core
        if fields:
            core.send_headers(self.stream_id, fields, end_stream=end and not body)
        if body:
            core.send_data(self.stream_id, body, end_stream=end)
        elif end and not fields:
            core.send_data(self.stream_id, b"", end_stream=True)
        self.ended = end
        self.conn.wrote()

    def close(self) -> None:
        if self.closing:
            return
        self.closing = True
        conn = self.conn
        stream = conn.core.streams.get(self.stream_id)
        if stream is not None and not self.ended:
            conn.core.send_data(self.stream_id, b"", end_stream=True)
            self.ended = True
        if self.stream_id in conn.core.streams:
            # The WebSocket is closed: the peer's half is not needed (RFC 9113 8.1).
            conn.core.reset_stream(self.stream_id, ErrorCode.NO_ERROR)
        conn.wrote()
        self._lose()

    def abort(self) -> None:
        if not self.lost:
            self.closing = True
            self.conn.reset(self.stream_id, ErrorCode.CANCEL)
            self._lose()

    def _lose(self) -> None:
        self.conn.websockets.pop(self.stream_id, None)
        if not self.lost:
            self.lost = True
            protocol = self.protocol
            if protocol is not None:
                self.conn.loop.call_soon(protocol.connection_lost, None)

    def pause_reading(self) -> None:
        self.paused = True

    def resume_reading(self) -> None:
        self.paused = False
        if self.unacked:
            self.conn.consumed(self.stream_id, self.unacked)
            self.unacked = 0

    def is_reading(self) -> bool:
        return not self.paused

    # -- events from H2Protocol (the handler interface of an exchange) ---------------------

    def on_data(self, data: bytes, end_stream: bool) -> None:
        protocol = self.protocol
        if protocol is None or self.lost:
            return
        if data:
            if self.paused:
                self.unacked += len(data)
            else:
                self.conn.consumed(self.stream_id, len(data))
            protocol.data_received(data)
        if end_stream and not self.lost:
            protocol.eof_received()
            self.close()

    def on_disconnect(self) -> None:
        self.disconnected = True
        self.closing = True
        self._lose()

    def resume(self) -> None:
        """The stream's buffered data went out (SendReady)."""
        if self.write_paused and self.conn.core.pending_size(self.stream_id) <= SEND_HIGH_WATER:
            self.write_paused = False
            if self.protocol is not None:
                self.protocol.resume_writing()


class H2WebSocketProtocol(WebSocketProtocol):
    """``WebSocketProtocol`` with RFC 8441's handshake (see the module docstring)."""

    transport: StreamTransport

    def _check_request(self, scope: Scope) -> tuple[int, str, bytes] | None:
        return None  # checked by start_websocket, before the stream is handed over

    def _accept(self, message: Message) -> None:
        extensions, fields = self._accept_fields(message)
        head = [STATUS[200]]
        response_fields(fields, head)
        head += default_fields(self.state.default_lines, 0)
        self.transport.respond(head, b"", False)
        self._open(extensions, b"")

    def _respond(self, message: Message) -> None:
        if message["type"] == "websocket.http.response.start":
            self.response_start = message
            self.phase = RESPONDING
            return
        start = self.response_start
        assert start is not None
        more = bool(message.get("more_body", False))
        fields: list[tuple[bytes, bytes]] = []
        if not self.response_framing:
            status = start["status"]
            if type(status) is not int or not 200 <= status <= 999:
                raise ProtocolViolation(f"invalid response status {status!r}")
            fields = [STATUS[status]]
            _, own = response_fields(start.get("headers") or (), fields)
            fields += default_fields(self.state.default_lines, own)
            self.response_framing = 1
        self.transport.respond(fields, bytes(message.get("body", b"")), not more)
        if not more:
            self._finish_http()

    def _refuse(self, status: int, text: str) -> None:
        body = text.encode("utf-8")
        fields = [
            STATUS[status],
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", b"%d" % len(body)),
            *default_fields(self.state.default_lines, 0),
        ]
        self.transport.respond(fields, body, True)
        self._finish_http()

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self.phase = CLOSED


def start_websocket(conn: H2Protocol, event: RequestReceived, scope: Scope) -> bool:
    """Serve an extended CONNECT for ``websocket``; False if it is not one we serve."""
    state = conn.state
    if event.pseudo.get(b":protocol") != b"websocket" or not state.config.ws:
        return False
    stream_id = event.stream_id
    versions = [v for n, v in event.headers if n == b"sec-websocket-version"]
    if versions != [b"13"]:
        conn.simple(stream_id, 426, [(b"sec-websocket-version", b"13")])
        return True
    scope["type"] = "websocket"
    scope["asgi"] = WEBSOCKET_ASGI
    scope["scheme"] = "wss" if scope["scheme"] == "https" else "ws"
    transport = StreamTransport(conn, stream_id)
    conn.websockets[stream_id] = transport
    transport.protocol = H2WebSocketProtocol(state, transport, scope, b"")
    return True
