"""One HTTP/2 request/response exchange: the ASGI ``receive`` and ``send`` of a stream.

The same response state machine as HTTP/1.1 (``_cycle``: INIT, STARTED, BODY, TRAILERS,
DONE; the same messages allowed in each state, a ``ProtocolViolation`` for anything else)
over frames instead of lines:

* ``http.response.start`` is held until the first body message, so a response sent as
  start + one body becomes HEADERS + DATA (END_STREAM) in the connection's next write, or
  one HEADERS frame with END_STREAM when the body is empty (also for HEAD requests and
  statuses that carry no body);
* ``http.response.early_hint`` sends a 103 HEADERS frame at once (RFC 8297);
* ``http.response.trailers`` ends the stream with a trailing HEADERS frame (RFC 9113
  section 8.1) - HTTP/2 needs no chunked encoding for them;
* ``http.response.pathsend`` streams the file in DATA frames as flow control allows.

A declared ``content-length`` must match the body (section 8.1.1): a longer body is a
``ProtocolViolation``, a shorter one resets the stream (INTERNAL_ERROR).

Backpressure: ``send`` returns an already-done future unless the stream holds more than
``SEND_HIGH_WATER`` bytes waiting for a flow-control window, or the transport's buffer is
full; then the app waits until they drain. The request body arrives as DATA events,
buffered until ``receive()`` takes it; taking it reopens the peer's windows. RST_STREAM
from the client (or the connection closing) makes ``receive()`` return
``http.disconnect`` and ``send`` raise ``ClientDisconnected``. At a graceful shutdown the
exchange is told to end (``end()``, as ``RequestCycle.end``): once its body is consumed,
``receive()`` returns ``http.disconnect`` while ``send`` still works, so streams stop.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from vivace.http._h2_frames import ErrorCode
from vivace.server._cycle import (
    BODY,
    DONE,
    INIT,
    STARTED,
    _as_bytes,
)
from vivace.server._errors import ClientDisconnected, ProtocolViolation
from vivace.server._h2_fields import STATUS, default_fields, response_fields
from vivace.types import Message, Scope

if TYPE_CHECKING:
    from vivace.server._h2_protocol import H2Protocol

__all__ = ["SEND_HIGH_WATER", "H2Exchange"]

logger = logging.getLogger("vivace.server")

SEND_HIGH_WATER = 64 * 1024
_FILE_CHUNK = 64 * 1024
_NO_BODY = frozenset((204, 304))
_DISCONNECT: dict[str, Any] = {"type": "http.disconnect"}
_EARLY_HINT = STATUS[103]


class H2Exchange:
    """The state of one request on an HTTP/2 stream; ``receive``/``send`` are its ASGI pair."""

    __slots__ = (
        "body",
        "body_done",
        "body_pending",
        "body_size",
        "conn",
        "disconnected",
        "drain_waiter",
        "ended",
        "ending",
        "head_request",
        "headers",
        "received",
        "remaining",
        "response_headers",
        "scope",
        "sent",
        "started_at",
        "state",
        "status",
        "stream_id",
        "trailers",
        "waiter",
    )

    def __init__(
        self,
        conn: H2Protocol,
        stream_id: int,
        scope: Scope,
        headers: list[tuple[bytes, bytes]],
        head_request: bool,
        body_done: bool,
    ) -> None:
        self.conn = conn
        self.stream_id = stream_id
        self.scope = scope
        self.headers = headers
        self.head_request = head_request
        self.body: list[bytes] = []
        self.body_size = 0
        self.received = 0
        self.body_done = body_done
        self.body_pending = True
        self.disconnected = False
        self.waiter: asyncio.Future[None] | None = None
        self.drain_waiter: asyncio.Future[None] | None = None
        self.state = INIT
        self.trailers = False
        self.ended = False  # our END_STREAM went out: later body bytes are dropped
        self.ending = False  # the server is shutting down: see end()
        self.sent = 0
        self.remaining: int | None = None
        self.started_at: float
        self.status: int
        self.response_headers: Any

    # -- events from the connection --------------------------------------------------------

    def wake(self) -> None:
        waiter = self.waiter
        if waiter is not None:
            self.waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def on_data(self, data: bytes, end_stream: bool) -> None:
        if data:
            self.body.append(data)
            self.body_size += len(data)
        if end_stream:
            self.body_done = True
        self.wake()

    def on_disconnect(self) -> None:
        self.disconnected = True
        self.wake()
        drain = self.drain_waiter
        if drain is not None:
            self.drain_waiter = None
            if not drain.done():
                drain.set_exception(ClientDisconnected("client disconnected"))

    def end(self) -> None:
        """Graceful shutdown: ``receive()`` says ``http.disconnect`` once the body is read."""
        self.ending = True
        self.wake()

    # -- receive ---------------------------------------------------------------------------

    async def receive(self) -> Message:
        """The next ASGI ``http.request`` message, or ``http.disconnect``."""
        while True:
            if self.disconnected or self.state == DONE:
                return dict(_DISCONNECT)
            if self.body_pending:
                if self.body or self.body_done:
                    data = self._take()
                    return {"type": "http.request", "body": data, "more_body": not self.body_done}
            elif self.ending:
                return dict(_DISCONNECT)
            self.waiter = waiter = self.conn.loop.create_future()
            await waiter

    def received_body(self) -> bytes | None:
        """The whole request body, taken as ``receive()`` would take it in one
        ``http.request`` message with ``more_body`` false, when the stream has ended and
        none of it was taken; else None (``receive()`` then waits, or answers what it
        must). ``vivace.types.WholeBodyReceiver``, as ``_cycle.RequestCycle.received_body``
        on HTTP/1.1: a typed JSON body is read without a coroutine and a message dict."""
        if not self.body_done or not self.body_pending or self.disconnected:
            return None
        if self.state == DONE:
            return None
        return self._take()

    def _take(self) -> bytes:
        """What has arrived of the body, counted as taken (the last of it once the stream
        has ended), its flow-control windows reopened."""
        body = self.body
        data = body[0] if len(body) == 1 else b"".join(body)
        self.body = []
        self.body_size = 0
        if self.body_done:
            self.body_pending = False
        if data:
            self.conn.consumed(self.stream_id, len(data))
        return data

    # -- send ------------------------------------------------------------------------------

    def send(self, message: Message) -> Awaitable[None]:
        """Accept one ASGI response message (a plain function, as in ``_cycle``)."""
        if self.disconnected:
            raise ClientDisconnected("client disconnected")
        mtype = message["type"]
        state = self.state
        if state == INIT and mtype == "http.response.start":
            status = message["status"]
            if type(status) is not int or not 200 <= status <= 999:
                raise ProtocolViolation(f"invalid response status {status!r}", message_type=mtype)
            self.status = status
            self.response_headers = message.get("headers", ())
            if message.get("trailers", False):
                self.trailers = True
            self.state = state.move(mtype)
            return self.conn.done
        if mtype == "http.response.body" and (state is STARTED or state is BODY):
            body = message.get("body", b"")
            if type(body) is not bytes:
                body = _as_bytes(body)
            more = message.get("more_body", False)
            if state == STARTED:
                self._send_head(not more and not body and not self.trailers)
            self._send_body(body, more)
        elif mtype not in state.moves or not mtype.startswith("http.response."):
            raise ProtocolViolation(
                f"ASGI message {mtype!r} is not allowed in response state {state.name}",
                message_type=mtype,
            )
        elif mtype == "http.response.early_hint":
            links = message.get("links", ())
            if isinstance(links, (bytes, str)):
                raise ProtocolViolation("early hint 'links' must be a list of bytes")
            fields = [_EARLY_HINT]
            response_fields([(b"link", link) for link in links], fields)
            self.conn.core.send_headers(self.stream_id, fields)
            self.conn.wrote()
        elif mtype == "http.response.trailers":
            if message.get("more_trailers", False):
                raise ProtocolViolation(
                    "more_trailers=True is not supported: send all trailers in one message",
                    message_type=mtype,
                )
            fields = []
            response_fields(message.get("headers", ()), fields)
            if not self.ended:
                self.conn.core.send_headers(self.stream_id, fields, end_stream=True)
                self.conn.wrote()
            self._complete(mtype)
        else:  # http.response.pathsend
            return self._send_path(message)
        return self.conn.backpressure(self)

    def send_whole_response(self, status: int, headers: Any, body: bytes) -> Awaitable[None]:
        """``http.response.start`` and one final ``http.response.body``, in one call."""
        if self.disconnected:
            raise ClientDisconnected("client disconnected")
        if self.state != INIT:
            raise ProtocolViolation(
                f"a whole response is not allowed in response state {self.state.name}",
                message_type="http.response.start",
            )
        if type(status) is not int or not 200 <= status <= 999:
            raise ProtocolViolation(
                f"invalid response status {status!r}", message_type="http.response.start"
            )
        if type(body) is not bytes:
            body = _as_bytes(body)
        self.status = status
        self.response_headers = headers
        self.state = self.state.move("http.response.start")
        self._send_head(not body)
        self._send_body(body, False)
        return self.conn.backpressure(self)

    def _send_head(self, end_stream: bool) -> None:
        status = self.status
        fields = [STATUS[status]]
        length, own = response_fields(self.response_headers, fields)
        conn = self.conn
        fields += default_fields(conn.state.default_lines, own)
        no_body = self.head_request or status in _NO_BODY
        if no_body:
            end_stream = True
            length = None
        elif length is not None and end_stream and length:
            raise ProtocolViolation(
                f"response body shorter than its content-length ({length})",
                message_type="http.response.body",
            )
        self.remaining = length
        conn.core.send_headers(self.stream_id, fields, end_stream)
        conn.wrote()
        self.ended = end_stream
        self.state = self.state.move("http.response.body")  # the head goes with the body

    def _send_body(self, body: bytes, more: bool) -> None:
        if self.ended:  # no body goes out (HEAD, 204, 304, or empty and ended)
            if not more:
                if self.trailers:
                    self.state = self.state.move("await_trailers")
                else:
                    self._complete()
            return
        size = len(body)
        remaining = self.remaining
        if remaining is not None:
            if size > remaining:
                self.conn.reset(self.stream_id, ErrorCode.INTERNAL_ERROR)
                raise ProtocolViolation(
                    f"response body longer than its content-length ({remaining} left)",
                    message_type="http.response.body",
                )
            remaining -= size
            self.remaining = remaining
        self.sent += size
        end_stream = not more and not self.trailers
        if size or end_stream:
            if end_stream and remaining:
                logger.error(
                    "ASGI app's response body is %d bytes shorter than its content-length; "
                    "resetting the stream",
                    remaining,
                )
                self.conn.reset(self.stream_id, ErrorCode.INTERNAL_ERROR)
                self._complete()
                return
            self.conn.core.send_data(self.stream_id, body, end_stream)
            self.conn.wrote()
            self.ended = end_stream
        if not more:
            if self.trailers:
                self.state = self.state.move("await_trailers")
            else:
                self._complete()

    async def _send_path(self, message: Message) -> None:
        path = message.get("path")
        if not isinstance(path, str) or not os.path.isabs(path):
            raise ProtocolViolation(
                f"http.response.pathsend needs an absolute path, got {path!r}",
                message_type="http.response.pathsend",
            )
        with open(path, "rb") as file:
            size = os.fstat(file.fileno()).st_size
            if self.head_request or self.status in _NO_BODY:
                self._send_head(True)
                self._complete()
                return
            self._send_head(size == 0)
            if self.remaining is not None and self.remaining != size:
                self.conn.reset(self.stream_id, ErrorCode.INTERNAL_ERROR)
                raise ProtocolViolation(
                    f"content-length {self.remaining} does not match the file size {size}",
                    message_type="http.response.pathsend",
                )
            if size == 0:
                self._complete()
                return
            offset = 0
            while offset < size:
                chunk = file.read(min(_FILE_CHUNK, size - offset))
                if not chunk:
                    self.conn.reset(self.stream_id, ErrorCode.INTERNAL_ERROR)
                    raise ClientDisconnected("file shrank while being sent")
                if self.disconnected:
                    raise ClientDisconnected("client disconnected")
                offset += len(chunk)
                self.remaining = None
                self._send_body(chunk, offset < size)
                await self.conn.backpressure(self)

    def _complete(self, event: str = "complete") -> None:
        """The response is whole: ``event`` is the table's move to DONE from this state."""
        self.state = self.state.move(event)
        self.wake()
        self.conn.response_complete(self)
