"""The server side of WebSockets: RFC 6455 over the HTTP/1.1 Upgrade, as ASGI.

``HTTPProtocol`` hands an ``Upgrade: websocket`` request over (``upgrade_handler``): the
transport, the websocket scope and the bytes that followed the request. From then on
``WebSocketProtocol`` owns the connection; framing is ``vivace.http.WebSocketCore``.

Theory of operation
-------------------
States (``self.phase``)::

    HANDSHAKE --websocket.accept----------------> OPEN --close frames / EOF--> CLOSED
        |--websocket.close: 403----------------------------------------------> CLOSED
        |--websocket.http.response.*: the app's response (denial) -----------> CLOSED
        |--the app fails or returns: 500 ------------------------------------> CLOSED
    OPEN --websocket.close: close frame sent--> CLOSING --the client's close--> CLOSED

The handshake request is checked before the app runs (RFC 6455 section 4.2.1): a GET, a
``Connection: upgrade``, a 16-byte ``Sec-WebSocket-Key`` and version 13 (else 426 with
``Sec-WebSocket-Version: 13``, section 4.4). The offered subprotocols go to
``scope["subprotocols"]``; a permessage-deflate offer (RFC 7692) is negotiated when the
app accepts, with bounded windows and memory (``ws_per_message_deflate``).

The app's ``receive`` returns ``websocket.connect``, then one ``websocket.receive`` per
message, then ``websocket.disconnect`` (with the close code) for ever. Its ``send`` is a
plain function returning an awaitable: done at once unless the transport's buffer is
full, in which case the app waits until it drains (backpressure). Frames are written
once per loop iteration (``_Flusher``), or at once past ``_FLUSH_AT`` queued bytes, so
an app that sends in a loop without awaiting anything else meets a full buffer too. A
``send`` after the client left raises ``ClientDisconnected`` (an ``OSError``, ASGI 2.4).

Flow control on the way in: more than ``_HIGH_WATER`` unread messages pause reading
until the app catches up. Limits: ``ws_max_size`` bounds a message (1009);
``ws_ping_interval`` sends a ping that must be answered within ``ws_ping_timeout``
(else 1011 and the connection is dropped); after the app's close frame the client has
``ws_close_timeout`` seconds to answer before the TCP connection is closed anyway.
Graceful shutdown closes open connections with 1001 (``shutdown``).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
from collections import deque
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from vivace.http import (
    WebSocketClosed,
    WebSocketCore,
    WebSocketPong,
    accept_key,
)
from vivace.server._errors import ClientDisconnected, ProtocolViolation
from vivace.server._response_heads import field_lines, render_head, simple_response
from vivace.types import Message, Scope

if TYPE_CHECKING:
    from vivace.server._state import ServerState

__all__ = ["WebSocketProtocol", "upgrade_handler"]

logger = logging.getLogger("vivace.server")

HANDSHAKE, OPEN, CLOSING, CLOSED, RESPONDING = range(5)
_HIGH_WATER = 64  # unread messages before the socket stops reading
_FLUSH_AT = 1 << 16  # queued bytes written at once rather than at the end of the iteration
_LOW_WATER = 16
_UPGRADE_LINES = (
    b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n"
)
# Headers the server writes on a 101 itself; the app's copies are dropped.
_OWN = frozenset(
    (b"upgrade", b"connection", b"sec-websocket-accept", b"sec-websocket-extensions",
     b"content-length", b"transfer-encoding")
)  # fmt: skip


class _Flusher:
    """Writes the frames every connection queued during one loop iteration, once.

    An app that sends several messages before it waits (a broadcast drained from its
    queue, a burst of replies) would otherwise cost one ``send`` system call per message;
    queued and written at the end of the iteration, they cost one per connection. The
    profile of a 256-client broadcast had ``transport.write`` at 40% of the server's time.
    """

    __slots__ = ("loop", "pending", "scheduled")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.pending: list[WebSocketProtocol] = []
        self.scheduled = False

    def add(self, protocol: WebSocketProtocol) -> None:
        self.pending.append(protocol)
        if not self.scheduled:
            self.scheduled = True
            self.loop.call_soon(self.run)

    def run(self) -> None:
        self.scheduled = False
        pending, self.pending = self.pending, []
        for protocol in pending:
            protocol.flush()


def upgrade_handler(state: ServerState) -> Any:
    """The handler ``HTTPProtocol`` calls for ``Upgrade: websocket`` on this server."""
    flusher = _Flusher(state.loop)

    def handle(transport: asyncio.Transport, scope: Scope, rest: bytes) -> WebSocketProtocol:
        return WebSocketProtocol(state, transport, scope, rest, flusher)

    return handle


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> list[bytes]:
    return [value for key, value in headers if key == name]


def _tokens(values: list[bytes]) -> set[bytes]:
    return {t.strip().lower() for value in values for t in value.split(b",")}


class WebSocketProtocol(asyncio.Protocol):
    """One server-side WebSocket connection (see the module docstring)."""

    __slots__ = (
        "close_message",
        "config",
        "core",
        "done",
        "drain",
        "flusher",
        "key",
        "loop",
        "lost",
        "out",
        "out_size",
        "pending",
        "phase",
        "ping_sent",
        "queue",
        "read_paused",
        "response_framing",
        "response_start",
        "scope",
        "state",
        "task",
        "timer",
        "transport",
        "waiter",
        "write_paused",
    )

    def __init__(
        self,
        state: ServerState,
        transport: asyncio.Transport,
        scope: Scope,
        rest: bytes,
        flusher: _Flusher | None = None,
    ) -> None:
        self.state = state
        self.flusher = flusher or _Flusher(state.loop)
        self.out: list[bytes] | None = None
        self.out_size = 0
        self.loop = state.loop
        self.transport = transport
        self.scope = scope
        self.phase = HANDSHAKE
        self.core: WebSocketCore | None = None
        self.queue: deque[Message] = deque()
        self.waiter: asyncio.Future[Message] | None = None
        self.drain: asyncio.Future[None] | None = None
        self.write_paused = False
        self.read_paused = False
        self.lost = False
        self.close_message: Message | None = None
        self.pending = bytearray(rest)
        self.task: asyncio.Task[None] | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.ping_sent: bytes | None = None
        self.response_start: Message | None = None
        self.response_framing = 0
        self.key = b""
        done = self.done = self.loop.create_future()
        done.set_result(None)
        config = state.config
        self.config = config
        problem = self._check_request(scope)
        if problem is not None:
            status, text, extra = problem
            logger.info("refused WebSocket handshake from %s: %s", scope.get("client"), text)
            response = simple_response(status, text, state.default_lines + extra)
            transport.write(response)
            transport.close()
            self.phase = CLOSED
            self.lost = True
            return
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        protocols = _header(headers, b"sec-websocket-protocol")
        scope["subprotocols"] = [
            p.strip().decode("latin-1") for v in protocols for p in v.split(b",") if p.strip()
        ]
        scope["extensions"] = {"websocket.http.response": {}}
        scope.pop("method", None)
        self.queue.append({"type": "websocket.connect"})
        # Tracked until both the connection and the app are done (graceful shutdown).
        state.websockets.add(self)
        self.task = self.loop.create_task(self._run())
        self.task.add_done_callback(self._app_done)

    # -- the handshake -------------------------------------------------------------------

    def _check_request(self, scope: Scope) -> tuple[int, str, bytes] | None:
        # RFC 6455 section 4.2.1: what a server must find in the opening handshake.
        if scope.get("method") != "GET":
            return 400, "WebSocket handshake must be a GET request", b""
        headers = scope["headers"]
        if b"upgrade" not in _tokens(_header(headers, b"connection")):
            return 400, "WebSocket handshake without 'Connection: upgrade'", b""
        versions = _header(headers, b"sec-websocket-version")
        if versions != [b"13"]:
            # Section 4.4: say which version we speak.
            return 426, "Unsupported WebSocket version", b"sec-websocket-version: 13\r\n"
        keys = _header(headers, b"sec-websocket-key")
        try:
            valid = len(keys) == 1 and len(base64.b64decode(keys[0], validate=True)) == 16
        except binascii.Error:
            valid = False
        if not valid:
            return 400, "Invalid Sec-WebSocket-Key", b""
        self.key = keys[0]
        return None

    def _negotiate(self) -> tuple[list[Any], bytes]:
        """permessage-deflate, if offered and enabled: (extensions, response field value)."""
        offers = _header(self.scope["headers"], b"sec-websocket-extensions")
        if not offers or not self.config.ws_per_message_deflate:
            return [], b""
        from websockets.exceptions import InvalidHandshake
        from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
        from websockets.headers import build_extension, parse_extension

        # Bounded memory per connection (RFC 7692 section 7.1.2): 4 KB windows both ways
        # and a small zlib state, as the websockets library recommends for servers.
        factory = ServerPerMessageDeflateFactory(
            server_max_window_bits=12,
            client_max_window_bits=12,
            compress_settings={"memLevel": 5},
        )
        for value in offers:
            try:
                parsed = parse_extension(value.decode("latin-1"))
            except InvalidHandshake:
                continue
            for name, params in parsed:
                if name != factory.name:
                    continue
                try:
                    response, extension = factory.process_request_params(params, [])
                except InvalidHandshake:
                    continue  # this offer's parameters cannot be met: try the next one
                return [extension], build_extension([(name, response)]).encode("latin-1")
        return [], b""

    def _accept_fields(self, message: Message) -> tuple[list[Any], list[tuple[bytes, bytes]]]:
        """What accepting needs: the extensions agreed, and the response's fields (the
        subprotocol, the extension parameters, the app's headers but ours)."""
        subprotocol = message.get("subprotocol")
        app_headers = list(message.get("headers") or ())
        if subprotocol is None:
            for name, value in app_headers:
                if bytes(name).lower() == b"sec-websocket-protocol":
                    subprotocol = bytes(value).decode("latin-1")
        fields: list[tuple[bytes, bytes]] = []
        if subprotocol is not None:
            if subprotocol not in self.scope["subprotocols"]:
                raise ProtocolViolation(
                    f"the app accepted subprotocol {subprotocol!r}, which the client did not offer",
                    message_type="websocket.accept",
                )
            fields.append((b"sec-websocket-protocol", subprotocol.encode("latin-1")))
        extensions, extension_value = self._negotiate()
        if extension_value:
            fields.append((b"sec-websocket-extensions", extension_value))
        fields += [
            (name, value)
            for name, value in app_headers
            if bytes(name).lower() not in _OWN and bytes(name).lower() != b"sec-websocket-protocol"
        ]
        return extensions, fields

    def _accept(self, message: Message) -> None:
        extensions, fields = self._accept_fields(message)
        lines = [_UPGRADE_LINES, b"sec-websocket-accept: ", accept_key(self.key).encode(), b"\r\n"]
        lines.extend(field_lines(fields))  # validated: no CR, LF or NUL gets through
        lines.append(self.state.default_lines)
        lines.append(b"\r\n")
        self._open(extensions, b"".join(lines))

    def _open(self, extensions: list[Any], response: bytes) -> None:
        """Send the accepting response and start framing."""
        self.core = WebSocketCore(
            client=False, max_message_size=self.config.ws_max_size, extensions=extensions
        )
        self.phase = OPEN
        self.transport.write(response)
        self._arm_ping()
        if self.pending:
            data = bytes(self.pending)
            self.pending.clear()
            self._frames(data)

    def _respond(self, message: Message) -> None:
        """The denial response (the ``websocket.http.response`` extension)."""
        kind = message["type"]
        if kind == "websocket.http.response.start":
            self.response_start = message
            self.phase = RESPONDING
            return
        start = self.response_start
        assert start is not None
        body = bytes(message.get("body", b""))
        more = bool(message.get("more_body", False))
        if start is not None and self.response_framing == 0:
            head, framing, _, _ = render_head(
                int(start["status"]),
                start.get("headers") or (),
                self.state.default_lines,
                False,
                True,
                None if more else len(body),
                False,
                False,
            )
            self.response_framing = framing
            self.transport.write(head)
        if self.response_framing == 2:  # chunked
            if body:
                self.transport.write(b"%x\r\n%s\r\n" % (len(body), body))
            if not more:
                self.transport.write(b"0\r\n\r\n")
        elif body:
            self.transport.write(body)
        if not more:
            self._finish_http()

    def _refuse(self, status: int, text: str) -> None:
        self.transport.write(simple_response(status, text, self.state.default_lines))
        self._finish_http()

    def _finish_http(self) -> None:
        self.phase = CLOSED
        self.close_message = {"type": "websocket.disconnect", "code": 1006, "reason": ""}
        self.transport.close()

    # -- running the app -----------------------------------------------------------------

    async def _run(self) -> None:
        try:
            await self.state.app(self.scope, self.receive, self.send)
        except BaseException as exc:
            quiet = isinstance(exc, asyncio.CancelledError) or (
                isinstance(exc, ClientDisconnected) and self.phase in (CLOSING, CLOSED)
            )  # (sending after the client closed: what ASGI apps run into, not a bug)
            if not quiet:
                logger.error("exception in the WebSocket app", exc_info=exc)
            phase = self.phase
            if phase == HANDSHAKE:
                self._refuse(500, "Internal Server Error")
            elif phase == RESPONDING:
                self.transport.abort()
            elif phase == OPEN:
                self._close(1011, "")
            if not isinstance(exc, Exception):
                raise
        else:
            phase = self.phase
            if phase == HANDSHAKE:
                logger.error("the WebSocket app returned without accepting or closing")
                self._refuse(500, "Internal Server Error")
            elif phase == RESPONDING:
                logger.error("the WebSocket app returned in the middle of its denial response")
                self.transport.abort()
            elif phase == OPEN:
                self._close(1000, "")

    def receive(self) -> Awaitable[Message]:
        queue = self.queue
        if queue:
            message = queue.popleft()
            if self.read_paused and len(queue) <= _LOW_WATER:
                self.read_paused = False
                if not self.lost:
                    self.transport.resume_reading()
            future = self.loop.create_future()
            future.set_result(message)
            return future
        if self.close_message is not None:
            future = self.loop.create_future()
            future.set_result(self.close_message)
            return future
        waiter = self.waiter
        if waiter is None or waiter.done():
            waiter = self.waiter = self.loop.create_future()
        return waiter

    def _deliver(self, message: Message) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done() and not self.queue:
            self.waiter = None
            waiter.set_result(message)
            return
        self.queue.append(message)
        if len(self.queue) > _HIGH_WATER and not self.read_paused and not self.lost:
            self.read_paused = True
            self.transport.pause_reading()

    def _disconnected(self, code: int, reason: str) -> None:
        if self.close_message is None:
            self.close_message = {"type": "websocket.disconnect", "code": code, "reason": reason}
            waiter = self.waiter
            if waiter is not None and not waiter.done() and not self.queue:
                self.waiter = None
                waiter.set_result(self.close_message)

    def send(self, message: Message) -> Awaitable[None]:
        phase = self.phase
        kind = message["type"]
        if phase == OPEN:
            if kind == "websocket.send":
                core = self.core
                assert core is not None
                text = message.get("text")
                if text is not None:
                    frame = core.send_text(text)
                else:
                    data = message.get("bytes")
                    if data is None:
                        raise ProtocolViolation(
                            "websocket.send needs 'text' or 'bytes'", message_type=kind
                        )
                    frame = core.send_bytes(data)
                out = self.out
                if out is None:
                    self.out = [frame]
                    self.out_size = len(frame)
                    self.flusher.add(self)
                else:
                    out.append(frame)
                    self.out_size += len(frame)
                    if self.out_size > _FLUSH_AT:
                        # An app that sends in a loop without waiting never lets the loop
                        # reach the flusher: written now, a full socket pauses writing
                        # (below), so memory stays bounded and the app waits its turn.
                        self.flush()
                if self.write_paused:
                    drain = self.drain
                    if drain is None or drain.done():
                        drain = self.drain = self.loop.create_future()
                    return drain
                return self.done
            if kind == "websocket.close":
                self._close(int(message.get("code") or 1000), message.get("reason") or "")
                return self.done
            raise ProtocolViolation(f"unexpected {kind!r} on an open WebSocket", message_type=kind)
        if self.lost or phase in (CLOSING, CLOSED):
            if phase == CLOSING and kind == "websocket.close":
                return self.done
            raise ClientDisconnected("the WebSocket connection is closed")
        if phase == HANDSHAKE:
            if kind == "websocket.accept":
                self._accept(message)
            elif kind == "websocket.close":
                self._refuse(403, "Forbidden")
            elif kind == "websocket.http.response.start":
                self._respond(message)
            else:
                raise ProtocolViolation(
                    f"unexpected {kind!r} before the WebSocket handshake", message_type=kind
                )
            return self.done
        # RESPONDING
        if kind != "websocket.http.response.body":
            raise ProtocolViolation(f"unexpected {kind!r} in a denial response", message_type=kind)
        self._respond(message)
        return self.done

    # -- closing ---------------------------------------------------------------------------

    def _close(self, code: int, reason: str) -> None:
        """Send our close frame; the client has ``ws_close_timeout`` seconds to answer."""
        core = self.core
        if core is None or self.phase != OPEN:
            return
        try:
            frame = core.send_close(code, reason)
        except ValueError as exc:
            raise ProtocolViolation(str(exc), message_type="websocket.close") from None
        self.phase = CLOSING
        self._cancel_timer()
        if not self.lost:
            self.flush()
            self.transport.write(frame)
            self.timer = self.loop.call_later(self.config.ws_close_timeout, self._give_up)
        self._disconnected(code, reason)

    def _give_up(self) -> None:
        self.timer = None
        if not self.lost:
            self.transport.abort()

    def shutdown(self) -> None:
        """Graceful shutdown: close with 1001 (RFC 6455 7.4.1 "going away")."""
        if self.phase == OPEN:
            self._close(1001, "server shutting down")
        elif self.phase == HANDSHAKE and not self.lost:
            self._refuse(503, "Service Unavailable")
            self._disconnected(1001, "")

    # -- keep-alive ------------------------------------------------------------------------

    def _arm_ping(self) -> None:
        interval = self.config.ws_ping_interval
        if interval is not None and interval > 0:
            self.timer = self.loop.call_later(interval, self._ping)

    def _ping(self) -> None:
        self.timer = None
        core = self.core
        if self.phase != OPEN or core is None or self.lost:
            return
        payload = base64.b64encode(self.loop.time().hex().encode())[:8]
        self.ping_sent = payload
        self.flush()
        self.transport.write(core.send_ping(payload))
        timeout = self.config.ws_ping_timeout
        if timeout is not None and timeout > 0:
            self.timer = self.loop.call_later(timeout, self._ping_timed_out)
        else:
            self._arm_ping()

    def _ping_timed_out(self) -> None:
        self.timer = None
        if self.phase == OPEN and not self.lost:
            logger.info("WebSocket keep-alive ping not answered: closing")
            core = self.core
            assert core is not None
            self.flush()
            self.transport.write(core.send_close(1011, "keepalive ping timeout"))
            self.phase = CLOSED
            self._disconnected(1011, "keepalive ping timeout")
            self.transport.abort()

    def _cancel_timer(self) -> None:
        timer = self.timer
        if timer is not None:
            self.timer = None
            timer.cancel()

    # -- asyncio.Protocol ------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self.phase == HANDSHAKE or self.phase == RESPONDING:
            # Frames before the 101 (a client must not send them, RFC 6455 4.1): held,
            # within a bound, until the app has decided.
            if len(self.pending) + len(data) > 1 << 20:
                self.transport.abort()
                return
            self.pending += data
            return
        if self.core is not None:
            self._frames(data)

    def _frames(self, data: bytes) -> None:
        core = self.core
        assert core is not None
        events = core.receive_data(data)
        for event in events:
            kind = type(event)
            if kind is str:
                self._deliver({"type": "websocket.receive", "text": event})
            elif kind is bytes:
                self._deliver({"type": "websocket.receive", "bytes": event})
            elif kind is WebSocketPong:
                if event.data == self.ping_sent:  # type: ignore[union-attr]
                    self.ping_sent = None
                    self._cancel_timer()
                    self._arm_ping()
            elif kind is WebSocketClosed:
                self.phase = CLOSED
                self._cancel_timer()
                self._disconnected(event.code, event.reason)  # type: ignore[union-attr]
        out = core.data_to_send()
        transport = self.transport
        if out and not self.lost:
            self.flush()  # queued messages go before the pong or the close frame
            transport.write(b"".join(out) if len(out) > 1 else out[0])
        if core.should_close and not self.lost:
            self.flush()
            transport.close()  # RFC 6455 7.1.1: the server closes the TCP connection first

    def eof_received(self) -> bool:
        core = self.core
        if core is not None:
            for event in core.receive_eof():
                if isinstance(event, WebSocketClosed):
                    # The stream is over (connection_lost may come much later, once what
                    # is buffered is written): sends raise ClientDisconnected, no pings.
                    self.phase = CLOSED
                    self._cancel_timer()
                    self._disconnected(event.code, event.reason)
                    if not self.lost:
                        # Returning False closes the transport once its buffer is written:
                        # never, to a client that half-closed and stopped reading.
                        self.timer = self.loop.call_later(
                            self.config.ws_close_timeout, self._give_up
                        )
        return False

    def flush(self) -> None:
        """Write the frames queued by ``send`` (see ``_Flusher``)."""
        out = self.out
        if out is not None:
            self.out = None
            if not self.lost:
                self.transport.write(out[0] if len(out) == 1 else b"".join(out))

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        drain = self.drain
        if drain is not None:
            self.drain = None
            if not drain.done():
                drain.set_result(None)

    def _app_done(self, task: asyncio.Task[None]) -> None:
        if self.lost:
            self.state.websockets.discard(self)

    def abort(self) -> None:
        """Graceful shutdown timed out: drop the connection and cancel the app."""
        if not self.lost:
            self.transport.abort()
        task = self.task
        if task is not None and not task.done():
            task.cancel()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.out = None
        self.phase = CLOSED
        self._cancel_timer()
        if self.task is None or self.task.done():
            self.state.websockets.discard(self)
        self._disconnected(1006, "")
        drain = self.drain
        if drain is not None and not drain.done():
            drain.set_exception(ClientDisconnected("the WebSocket connection was lost"))
            drain.exception()  # retrieved: the app may never await it
