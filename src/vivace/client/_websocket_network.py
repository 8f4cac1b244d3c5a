"""WebSocket sessions over the network (``HTTPTransport.connect_websocket``).

One ``asyncio.Protocol`` per session, on a connection of its own (never from the pool:
after the handshake it is no longer HTTP). Theory of operation::

    CONNECTING --write handshake--> HANDSHAKE --101 checked--> OPEN --> CLOSING --> CLOSED
                                        |--other status: WebSocketRejected (body read)
                                        |--bad 101: RemoteProtocolError

The handshake (RFC 6455 section 4.1) is parsed by httptools, as every response of the
client is; a 101 is accepted only with ``Upgrade: websocket``, ``Connection: upgrade``,
the right ``Sec-WebSocket-Accept``, a subprotocol we offered and extensions we asked for
(permessage-deflate, RFC 7692, offered with ``client_max_window_bits``). Then framing is
``vivace.http.WebSocketCore``'s: ``data_received`` feeds it and queues whole messages;
``receive`` takes them. Flow control both ways: more than ``_HIGH_WATER`` messages
unread pause the socket's reading (the server's ``send`` then waits: backpressure), and
``send`` waits while the transport's write buffer is full.

Keep-alive: every ``ping_interval`` seconds a ping goes out; no pong within
``ping_timeout`` fails the connection (close code 1011, the socket is dropped). Closing:
we send a close frame, wait for the server's and for it to close the TCP connection
(RFC 6455 section 7.1.1: the server closes first), at most ``close_timeout`` seconds,
then drop the socket ourselves.
"""

from __future__ import annotations

import asyncio
import base64
import os
import time
from collections import deque
from typing import TYPE_CHECKING, Any

import httptools

from vivace.client._exceptions import (
    ConnectError,
    ConnectTimeout,
    ReadTimeout,
    RemoteProtocolError,
    WriteTimeout,
)
from vivace.client._http11 import build_head, safe_target
from vivace.client._models import Response
from vivace.client._streams import ByteStream
from vivace.client._waiters import wait
from vivace.client._websocket import WebSocketOptions, WebSocketRejected, WebSocketSession
from vivace.http import (
    Headers,
    WebSocketClosed,
    WebSocketCore,
    WebSocketDisconnect,
    WebSocketPong,
    accept_key,
)

if TYPE_CHECKING:
    from vivace.client._config import Timeout
    from vivace.client._models import Request
    from vivace.client._pool import Origin

__all__ = ["NetworkWebSocketSession", "connect"]

_HIGH_WATER = 256  # unread messages before the socket stops reading
_LOW_WATER = 64
_MAX_HANDSHAKE = 64 * 1024
_DROPPED = frozenset((b"accept-encoding", b"content-length", b"content-type", b"connection"))
_HANDSHAKE, _OPEN, _CLOSED = 0, 1, 2


class _HandshakeReader:
    """httptools callbacks for the handshake response."""

    __slots__ = ("body", "complete", "head_complete", "headers", "size", "status")

    def __init__(self) -> None:
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.status = 0
        self.size = 0
        self.head_complete = False
        self.complete = False

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        self.head_complete = True

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.complete = True


class NetworkWebSocketSession(asyncio.Protocol, WebSocketSession):
    """A WebSocket client connection (see the module docstring)."""

    def __init__(
        self,
        request: Request,
        options: WebSocketOptions,
        timeout: Timeout,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self._request = request
        self._options = options
        self._timeout = timeout
        self._loop = loop
        self._key = base64.b64encode(os.urandom(16)).decode("ascii")
        self._reader = _HandshakeReader()
        self._parser = httptools.HttpResponseParser(self._reader)
        self._handshake: asyncio.Future[None] = loop.create_future()
        self._handshake_error: BaseException | None = None
        self._state = _HANDSHAKE
        self._core: WebSocketCore | None = None
        self._messages: deque[str | bytes] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._drain: asyncio.Future[None] | None = None
        self._lost: asyncio.Future[None] = loop.create_future()
        self._paused_reading = False
        self._paused_writing = False
        self._pings: dict[bytes, tuple[asyncio.Future[float] | None, float]] = {}
        self._keepalive: asyncio.TimerHandle | None = None
        self._ping_deadline: asyncio.TimerHandle | None = None
        self.transport: asyncio.Transport | None = None
        self.headers = Headers()

    # -- the handshake -------------------------------------------------------------------

    def handshake_request(self) -> bytes:
        request = self._request
        raw = [(n, v) for n, v in request.headers.raw if n not in _DROPPED]
        raw += [
            (b"connection", b"Upgrade"),
            (b"upgrade", b"websocket"),
            (b"sec-websocket-version", b"13"),
            (b"sec-websocket-key", self._key.encode("ascii")),
        ]
        options = self._options
        if options.compression:
            raw.append((b"sec-websocket-extensions", b"permessage-deflate; client_max_window_bits"))
        if options.subprotocols:
            raw.append((b"sec-websocket-protocol", ", ".join(options.subprotocols).encode()))
        return build_head("GET", safe_target(request.url.target), raw)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.transport.write(self.handshake_request())  # type: ignore[union-attr]

    def _handshake_data(self, data: bytes) -> None:
        reader = self._reader
        if not reader.head_complete:
            # Raw bytes, not parsed headers: llhttp reports a header only once its line
            # ends, so an endless line would otherwise grow without bound.
            reader.size += len(data)
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:
            offset = upgrade.args[0] if upgrade.args else len(data)
            self._open(data[offset:])
            return
        except httptools.HttpParserCallbackError as exc:
            self._fail_handshake(exc.__context__ or RemoteProtocolError(str(exc)))
            return
        except httptools.HttpParserError as exc:
            if reader.head_complete and self._parser.get_status_code() == 101:
                self._open(b"")  # a 101 llhttp will not upgrade: _open names what is wrong
            else:
                self._fail_handshake(RemoteProtocolError(f"malformed handshake response: {exc}"))
            return
        if reader.head_complete and self._parser.get_status_code() == 101:
            self._open(b"")  # a 101 without Upgrade: _open rejects it
        elif reader.complete:
            self._reject()
        elif not reader.head_complete and reader.size > _MAX_HANDSHAKE:
            self._fail_handshake(RemoteProtocolError("the handshake response head is too large"))

    def _fail_handshake(self, error: BaseException) -> None:
        if self._handshake_error is None:
            self._handshake_error = error
        if not self._handshake.done():
            self._handshake.set_result(None)
        if self.transport is not None:
            self.transport.abort()

    def _reject(self) -> None:
        reader = self._reader
        status = self._parser.get_status_code()
        response = Response._from_transport(
            status, reader.headers, ByteStream(b"".join(reader.body)), self._request
        )
        self._fail_handshake(
            WebSocketRejected(
                f"the WebSocket handshake was refused with {status}",
                request=self._request,
                response=response,
            )
        )

    def _open(self, rest: bytes) -> None:
        headers = Headers(self._reader.headers)
        self.headers = headers
        try:
            extensions = self._check_response(headers)
        except RemoteProtocolError as exc:
            self._fail_handshake(exc)
            return
        self._core = WebSocketCore(
            client=True,
            max_message_size=self._options.max_message_size,
            extensions=extensions,
        )
        self._state = _OPEN
        self._schedule_keepalive()
        if not self._handshake.done():
            self._handshake.set_result(None)
        if rest:
            self._frames(rest)

    def _check_response(self, headers: Headers) -> list[Any]:
        if self._parser.get_status_code() != 101:  # pragma: no cover - httptools upgrades 101
            raise RemoteProtocolError("the server did not switch protocols")
        if headers.get("upgrade", "").lower() != "websocket":
            raise RemoteProtocolError("the handshake response has no 'Upgrade: websocket'")
        connection = {t.strip().lower() for t in headers.get("connection", "").split(",")}
        if "upgrade" not in connection:
            raise RemoteProtocolError("the handshake response has no 'Connection: upgrade'")
        if headers.get("sec-websocket-accept") != accept_key(self._key):
            raise RemoteProtocolError("the handshake response has a wrong Sec-WebSocket-Accept")
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

    # -- asyncio.Protocol ----------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._state == _OPEN:
            self._frames(data)
        elif self._state == _HANDSHAKE:
            self._handshake_data(data)

    def _frames(self, data: bytes) -> None:
        core = self._core
        assert core is not None
        events = core.receive_data(data)
        messages = self._messages
        for event in events:
            if type(event) is str or type(event) is bytes:
                messages.append(event)
            elif isinstance(event, WebSocketPong):
                self._pong(event.data)
            elif isinstance(event, WebSocketClosed):
                self._set_closed(event.code, event.reason)
        out = core.data_to_send()
        transport = self.transport
        if out and transport is not None and not transport.is_closing():
            transport.write(b"".join(out))
        if len(messages) > _HIGH_WATER and not self._paused_reading and transport is not None:
            self._paused_reading = True
            transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        if self._state == _OPEN:
            core = self._core
            assert core is not None
            for event in core.receive_eof():
                if isinstance(event, WebSocketClosed):
                    self._set_closed(event.code, event.reason)
            self._wake()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if self._state == _HANDSHAKE:
            if self._reader.head_complete:  # a refusal whose body ended with the connection
                self._reject()
            else:
                error = RemoteProtocolError("the server closed the connection during the handshake")
                error.__cause__ = exc
                self._fail_handshake(error)
        self._set_closed(1006, "the connection was lost")
        self._wake()
        if not self._lost.done():
            self._lost.set_result(None)
        drain = self._drain
        if drain is not None and not drain.done():
            drain.set_result(None)
        for future, _ in self._pings.values():
            if future is not None and not future.done():
                future.set_exception(WebSocketDisconnect(self.close_code or 1006, "lost"))
        self._pings.clear()

    def pause_writing(self) -> None:
        self._paused_writing = True

    def resume_writing(self) -> None:
        self._paused_writing = False
        drain = self._drain
        if drain is not None:
            self._drain = None
            if not drain.done():
                drain.set_result(None)

    # -- state ---------------------------------------------------------------------------

    def _set_closed(self, code: int, reason: str) -> None:
        if self._state != _CLOSED:
            self._state = _CLOSED
            if self.close_code is None or code != 1006:
                self.close_code = code
                self.close_reason = reason
            self._cancel_keepalive()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    # -- keep-alive ----------------------------------------------------------------------

    def _schedule_keepalive(self) -> None:
        interval = self._options.ping_interval
        if interval is not None and self._state == _OPEN:
            self._keepalive = self._loop.call_later(interval, self._send_keepalive)

    def _send_keepalive(self) -> None:
        self._keepalive = None
        if self._state != _OPEN:
            return
        payload = os.urandom(4)
        self._pings[payload] = (None, time.monotonic())
        self._write_ping(payload)
        timeout = self._options.ping_timeout
        if timeout is not None:
            self._ping_deadline = self._loop.call_later(timeout, self._ping_timed_out)
        else:
            self._schedule_keepalive()

    def _ping_timed_out(self) -> None:
        self._ping_deadline = None
        if self._state != _OPEN:
            return
        core = self._core
        assert core is not None and self.transport is not None
        self.transport.write(core.send_close(1011, "keepalive ping timeout"))
        self._set_closed(1011, "keepalive ping timeout")
        self.transport.abort()
        self._wake()

    def _pong(self, data: bytes) -> None:
        entry = self._pings.pop(data, None)
        if entry is None:
            return  # unsolicited (RFC 6455 5.5.3: allowed, ignored)
        future, sent = entry
        if future is None:  # a keep-alive ping answered
            if self._ping_deadline is not None:
                self._ping_deadline.cancel()
                self._ping_deadline = None
            self._schedule_keepalive()
        elif not future.done():
            future.set_result(time.monotonic() - sent)

    def _cancel_keepalive(self) -> None:
        for handle in (self._keepalive, self._ping_deadline):
            if handle is not None:
                handle.cancel()
        self._keepalive = self._ping_deadline = None

    def _write_ping(self, payload: bytes) -> None:
        core = self._core
        assert core is not None and self.transport is not None
        self.transport.write(core.send_ping(payload))

    # -- the session API -----------------------------------------------------------------

    def _disconnect(self) -> WebSocketDisconnect:
        return WebSocketDisconnect(self.close_code or 1006, self.close_reason)

    async def send(self, data: str | bytes) -> None:
        core = self._core
        if self._state != _OPEN or core is None or not core.open:
            raise self._disconnect()
        transport = self.transport
        assert transport is not None
        transport.write(core.send_text(data) if isinstance(data, str) else core.send_bytes(data))
        if self._paused_writing:
            self._drain = drain = self._loop.create_future()
            limit = self._timeout.write
            await wait(drain, limit, lambda: WriteTimeout(f"the server read nothing for {limit} s"))

    async def receive(self, timeout: float | None = None) -> str | bytes:
        messages = self._messages
        while not messages:
            if self._state != _OPEN:
                raise self._disconnect()
            waiter = self._waiter = self._loop.create_future()
            await wait(waiter, timeout, lambda: ReadTimeout(f"no message within {timeout} s"))
        message = messages.popleft()
        if self._paused_reading and len(messages) <= _LOW_WATER:
            self._paused_reading = False
            if self.transport is not None and not self.transport.is_closing():
                self.transport.resume_reading()
        return message

    async def ping(self, data: bytes = b"") -> float:
        """Send a ping and wait (at most ``ping_timeout``) for its pong; the round trip."""
        if self._state != _OPEN:
            raise self._disconnect()
        payload = data or os.urandom(4)
        future: asyncio.Future[float] = self._loop.create_future()
        self._pings[payload] = (future, time.monotonic())
        self._write_ping(payload)
        limit = self._options.ping_timeout
        return await wait(future, limit, lambda: ReadTimeout(f"no pong within {limit} s"))

    async def close(self, code: int = 1000, reason: str = "") -> None:
        transport = self.transport
        core = self._core
        if transport is None:  # pragma: no cover - sessions are returned connected
            return
        if self._state == _OPEN and core is not None and core.open:
            transport.write(core.send_close(code, reason))
            self._cancel_keepalive()
            if self.close_code is None:  # the server's echo may still say otherwise
                self.close_code, self.close_reason = code, reason
        deadline = self._loop.time() + self._options.close_timeout
        # Wait for the server's close frame, then for it to end the TCP connection.
        while self._state == _OPEN:
            waiter = self._waiter = self._loop.create_future()
            remaining = deadline - self._loop.time()
            try:
                await wait(waiter, max(remaining, 0.0), _CloseTimeout)
            except _CloseTimeout:
                break
        if not self._lost.done():
            try:
                await wait(self._lost, max(deadline - self._loop.time(), 0.0), _CloseTimeout)
            except _CloseTimeout:
                transport.abort()
                return
        transport.close()


class _CloseTimeout(Exception):
    pass


def _negotiate_extensions(offered: list[str]) -> list[Any]:
    from websockets.exceptions import InvalidHandshake
    from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory
    from websockets.headers import parse_extension

    factory = ClientPerMessageDeflateFactory(client_max_window_bits=True)
    accepted: list[Any] = []
    try:
        for value in offered:
            for name, params in parse_extension(value):
                if name != factory.name:
                    raise RemoteProtocolError(f"the server chose an unknown extension {name!r}")
                accepted.append(factory.process_response_params(params, accepted))
    except InvalidHandshake as exc:
        raise RemoteProtocolError(f"invalid Sec-WebSocket-Extensions: {exc}") from exc
    return accepted


async def connect(
    origin: Origin, request: Request, options: WebSocketOptions, timeout: Timeout
) -> NetworkWebSocketSession:
    """Connect, shake hands, and return the open session (or raise)."""
    loop = asyncio.get_running_loop()
    session = NetworkWebSocketSession(request, options, timeout, loop)
    try:
        async with asyncio.timeout(timeout.connect):
            await loop.create_connection(
                lambda: session,
                origin.host,
                origin.port,
                ssl=origin.ssl,
                server_hostname=origin.server_hostname,
            )
    except TimeoutError:
        raise ConnectTimeout(
            f"could not connect to {origin} within {timeout.connect} s", request=request
        ) from None
    except OSError as exc:
        raise ConnectError(f"could not connect to {origin}: {exc}", request=request) from exc
    try:
        limit = timeout.read
        await wait(
            session._handshake,
            limit,
            lambda: ReadTimeout(f"no handshake response within {limit} s", request=request),
        )
    except BaseException:
        if session.transport is not None:
            session.transport.abort()
        raise
    error = session._handshake_error
    if error is not None:
        if isinstance(error, RemoteProtocolError) and error._request is None:
            error._request = request
        if isinstance(error, WebSocketRejected):
            await error.response.aread()
        raise error
    return session
