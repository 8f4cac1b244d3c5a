"""One HTTP request/response exchange: the ASGI ``receive`` and ``send`` of a request.

The response side is a state machine (the table below, installed on the states by
``_machine.transitions``; shared with HTTP/2's ``H2Exchange``): ``send()`` looks each ASGI
message up in its state's row, and a message
with no move there is a ``ProtocolViolation`` (logged and answered with a 500 or a closed
connection, never written to the wire). The other events are the cycle's own::

    state     event                       next state
    INIT      http.response.early_hint    INIT       (103 written at once, HTTP/1.1 only)
    INIT      http.response.start         STARTED    (head kept until the first body)
    STARTED   http.response.body          BODY       (head and body written together)
    STARTED   http.response.pathsend      BODY       (head written, then the file)
    STARTED   complete                    DONE       (whole response in one write)
    BODY      http.response.body          BODY
    BODY      unwritten                   STARTED    (body too long; nothing was written)
    BODY      await_trailers              TRAILERS   (the last body, trailers announced)
    BODY      complete                    DONE       (the last body, or the file, is out)
    TRAILERS  http.response.trailers      DONE       (all trailers in one message)
    any       abandon                     DONE       (the app ended, or the request failed)

The head is written together with the first body message, so a response sent as
``start`` + one ``body`` costs a single ``transport.write``. ``send_whole_response`` is
those two messages in one call (INIT -> DONE), for frameworks that hold this ``send``.

The request side: body chunks are buffered as they arrive; ``receive()`` returns them
joined, waiting only when nothing is buffered. Reading from the socket pauses while more
than ``READ_HIGH_WATER`` bytes wait unread (read backpressure). ``Expect: 100-continue``
is answered when the app first asks for a body it has not got (RFC 9110 section 10.1.1).
Once the body is consumed, ``receive()`` waits for the response to finish or the client
to leave, then returns ``http.disconnect``.

Ending (``end()``): the client half-closed its side after a complete request (EOF), or the
server is shutting down. From then on ``receive()`` answers ``http.disconnect`` as soon as
the body is consumed, so streaming responses, SSE and long-polls stop; ``send()`` still
writes, so an ordinary response (or a half-closed client still reading) is not cut. An app
that stops without completing its response is then not an error: the connection closes.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from vivace.server._errors import ClientDisconnected, ProtocolViolation
from vivace.server._machine import State, transitions
from vivace.server._response_heads import (
    _LENGTH_LINES,
    _LENGTH_PAIRS,
    _LINES,
    _PLAIN_STATUS_LINES,
    FRAME_CHUNKED,
    FRAME_CLOSE,
    FRAME_LENGTH,
    length_line,
    render_early_hints,
    render_head,
    render_trailers,
)
from vivace.types import Message, Scope

if TYPE_CHECKING:
    from vivace.server._protocol import HTTPProtocol

__all__ = [
    "BODY",
    "DONE",
    "INIT",
    "READ_HIGH_WATER",
    "STARTED",
    "TRAILERS",
    "RequestCycle",
    "ends_at_shutdown",
]

logger = logging.getLogger("vivace.server")

READ_HIGH_WATER = 256 * 1024
_CHUNK_SIZE = 256 * 1024

INIT, STARTED, BODY, TRAILERS, DONE = (
    State("INIT"),
    State("STARTED"),
    State("BODY"),
    State("TRAILERS"),
    State("DONE"),
)
# The transition table above, as data.
transitions(
    "response",
    {
        INIT: {
            "http.response.early_hint": INIT,
            "http.response.start": STARTED,
            "abandon": DONE,
        },
        STARTED: {
            "http.response.body": BODY,
            "http.response.pathsend": BODY,
            "complete": DONE,
            "abandon": DONE,
        },
        BODY: {
            "http.response.body": BODY,
            "unwritten": STARTED,
            "await_trailers": TRAILERS,
            "complete": DONE,
            "abandon": DONE,
        },
        TRAILERS: {"http.response.trailers": DONE, "abandon": DONE},
        DONE: {},
    },
)

_DISCONNECT: dict[str, Any] = {"type": "http.disconnect"}
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


def _as_bytes(body: Any) -> bytes:
    """A response body given as a bytes-like object, as bytes (anything else is refused)."""
    if not isinstance(body, (bytearray, memoryview)):
        raise ProtocolViolation(
            f"http.response.body 'body' must be bytes, got {type(body).__name__}",
            message_type="http.response.body",
        )
    return bytes(body)


def _not_allowed(mtype: object, state: State) -> ProtocolViolation:
    return ProtocolViolation(
        f"ASGI message {mtype!r} is not allowed in response state {state.name}",
        message_type=mtype,
    )


class RequestCycle:
    """The state of one request on a connection; ``receive``/``send`` are its ASGI pair."""

    __slots__ = (
        "body",
        "body_done",
        "body_pending",
        "body_size",
        "disconnected",
        "ending",
        "expect_100",
        "framing",
        "head_request",
        "headers",
        "http11",
        "keep_alive",
        "proto",
        "remaining",
        "response_headers",
        "scope",
        "sent",
        "simple",
        "started_at",
        "state",
        "status",
        "trailers",
        "waiter",
    )
    proto: HTTPProtocol
    scope: Scope
    headers: list[tuple[bytes, bytes]]
    http11: bool
    keep_alive: bool
    head_request: bool
    simple: bool  # keep-alive HTTP/1.1 and not HEAD: a one-message response may be fast
    expect_100: bool
    #: perf_counter() at the head's end, set (and read) only for an access log that shows
    #: the duration.
    started_at: float
    body: list[bytes]
    body_size: int
    body_done: bool  # True: the request has no body (nothing to read)
    body_pending: bool
    disconnected: bool
    ending: bool
    waiter: asyncio.Future[None] | None
    state: State
    trailers: bool
    sent: int
    # Set by http.response.start (status, response_headers) and when the head is rendered
    # (framing, remaining), before anything reads them: not set in new(), as that runs for
    # every request.
    status: int
    response_headers: Any
    framing: int
    remaining: int

    @staticmethod
    def new(
        proto: HTTPProtocol,
        scope: Scope,
        headers: list[tuple[bytes, bytes]],
        http11: bool,
        keep_alive: bool,
        head_request: bool,
        expect_100: bool,
        body_done: bool,
    ) -> RequestCycle:
        """A new cycle (the class has no ``__init__``: it is called without arguments).

        Speed trick: the slots set here cost ~60 ns less than calling a class with an
        ``__init__`` (CPython 3.11's ``type.__call__`` passes the arguments to ``__init__``
        as a tuple): ~1.3% of a request in bench/server_inproc.py (timeit: 280 -> 220 ns a
        cycle). ``RequestCycle()`` only allocates, 16 ns less than ``object.__new__(cls)``
        (whose wrapper slices its argument tuple; timeit: 76.5 -> 60.1 ns).
        """
        self = RequestCycle()
        self.proto = proto
        self.scope = scope
        self.headers = headers
        self.http11 = http11
        self.keep_alive = keep_alive
        self.head_request = head_request
        self.simple = keep_alive and http11 and not head_request
        self.expect_100 = expect_100
        self.body = []
        self.body_size = 0
        self.body_done = body_done
        self.body_pending = True
        self.disconnected = False
        self.ending = False
        self.waiter = None
        self.state = INIT
        self.trailers = False
        self.sent = 0
        return self

    # -- events from the connection ------------------------------------------------------

    def wake(self) -> None:
        waiter = self.waiter
        if waiter is not None:
            self.waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def on_disconnect(self) -> None:
        self.disconnected = True
        self.wake()

    def end(self) -> None:
        """No more from the client (EOF after the request, or shutdown): see the docstring."""
        self.ending = True
        self.wake()

    # -- receive -------------------------------------------------------------------------

    async def receive(self) -> Message:
        """The next ASGI ``http.request`` message, or ``http.disconnect``."""
        while True:
            if self.disconnected or self.state is DONE:
                return dict(_DISCONNECT)
            if self.body_pending:
                body = self.body
                if body or self.body_done:  # received_body() takes it the same way
                    data = body[0] if len(body) == 1 else b"".join(body)
                    self.body = []
                    self.body_size = 0
                    if self.body_done:
                        self.body_pending = False
                    if self.proto.read_paused:
                        self.proto.body_consumed()
                    return {"type": "http.request", "body": data, "more_body": not self.body_done}
                if self.expect_100:
                    self.expect_100 = False
                    if self.state is INIT:
                        self.proto.transport.write(_CONTINUE)
            elif self.ending:
                return dict(_DISCONNECT)
            self.waiter = waiter = self.proto.loop.create_future()
            await waiter

    def received_body(self) -> bytes | None:
        """The whole request body, taken as ``receive()`` would take it in one
        ``http.request`` message with ``more_body`` false, when it has all arrived and none
        of it was taken; else None (``receive()`` then waits, or answers what it must).

        ``vivace.types.WholeBodyReceiver``: a framework holding this server's own
        ``receive`` reads a body that came with its head (the usual case) without the
        coroutine and the message dict (bench/server_inproc.py, the typed "POST /orders":
        see docs/server.md).
        """
        if not self.body_done or not self.body_pending or self.disconnected:
            return None
        if self.state is DONE:
            return None
        # The steps of receive()'s take of a buffered body, written out in both places on
        # purpose: one method shared by the two cost receive() 438 more instructions a
        # request (POST /echo 61,589 -> 62,027, 1.007x, bench/server_instructions.py,
        # 2026-12-07). A change to one is a change to the other.
        body = self.body
        data = body[0] if len(body) == 1 else b"".join(body)
        self.body = []
        self.body_size = 0
        self.body_pending = False
        if self.proto.read_paused:
            self.proto.body_consumed()
        return data

    # -- send ----------------------------------------------------------------------------

    def send(self, message: Message) -> Awaitable[None]:
        """Accept one ASGI response message.

        A plain function returning an awaitable (ASGI only asks for one): the work is done
        at once, and the result is an already-completed future, or the wait for the
        transport buffer to drain, or the file transfer of ``http.response.pathsend``.
        That saves a coroutine per message on the hottest path of the server.
        """
        if self.disconnected:
            raise ClientDisconnected("client disconnected")
        mtype = message["type"]
        state = self.state
        # The table decides what may come now. For the two messages of every response, the
        # move is an attribute of the state (``_machine``): ~2.6 ns where a lookup in the row
        # costs ~15.6 ns (timeit), twice a request.
        if mtype == "http.response.start":
            try:
                started = state.http_response_start
            except AttributeError:
                raise _not_allowed(mtype, state) from None
            status = message["status"]
            if type(status) is not int or not 200 <= status <= 999:
                raise ProtocolViolation(f"invalid response status {status!r}", message_type=mtype)
            self.status = status
            self.response_headers = message.get("headers", ())
            if message.get("trailers", False):
                self.trailers = True
                self.simple = False
            self.state = started
            return self.proto.done
        if mtype == "http.response.body":
            try:
                state.http_response_body  # noqa: B018 - the lookup is the check
            except AttributeError:
                raise _not_allowed(mtype, state) from None
            body = message.get("body", b"")
            more = message.get("more_body", False)
            if type(body) is not bytes:
                body = _as_bytes(body)
            if state is BODY:
                self._write_more(body, more)
            elif more:
                self._write_first(body, more)
            else:
                return self._send_last(body)
        # The other messages: their row holds the cycle's own events too, so the dispatch
        # below names each message.
        elif mtype not in state.moves:
            raise _not_allowed(mtype, state)
        elif mtype == "http.response.early_hint":
            data = render_early_hints(message.get("links", ()))
            if self.http11:  # RFC 8297: no 1xx responses to HTTP/1.0 clients
                self.proto.transport.write(data)
        elif mtype == "http.response.trailers":
            self._write_trailers(message)
        elif mtype == "http.response.pathsend":
            return self._send_path(message)
        else:  # one of the cycle's own events, sent as a message
            raise _not_allowed(mtype, state)
        if self.proto.write_paused:
            return self.proto.drain()
        return self.proto.done

    def send_whole_response(self, status: int, headers: Any, body: bytes) -> Awaitable[None]:
        """``http.response.start`` and one final ``http.response.body``, in one call.

        The same checks and the same bytes on the wire as those two messages, without
        building them: a framework that holds this server's own ``send`` (a bound method
        of this object, so no middleware wraps it) may call this through
        ``send.__self__`` to answer with a complete body (docs/server.md).
        """
        if self.disconnected:
            raise ClientDisconnected("client disconnected")
        if self.state is not INIT:
            raise ProtocolViolation(
                f"a whole response is not allowed in response state {self.state.name}",
                message_type="http.response.start",
            )
        # The status is checked where the head is written: a status that is not a known
        # int takes render_head's path, which refuses what is not an int in 200-999.
        if type(body) is not bytes:
            body = _as_bytes(body)
        self.status = status
        self.response_headers = headers
        self.state = INIT.http_response_start
        return self._send_last(body)

    def _send_last(self, body: bytes) -> Awaitable[None]:
        """Write the head (the response is STARTED) with ``body``, its whole body."""
        # The common case, inlined: every header a known-good pair, keep-alive, a body
        # with the usual framing: one join, one write.
        proto = self.proto
        pstate = proto.state
        size = len(body)
        fast = self.simple and self.body_done and not pstate.shutting_down
        if fast:
            line = _PLAIN_STATUS_LINES.get(self.status)
            if line is None:
                fast = False
            else:
                parts = [line]
                append = parts.append
                get = _LINES.get
                own_length = False
                try:
                    for pair in self.response_headers:
                        line = get(pair)
                        if line is None:
                            # A remembered content-length equal to the body's
                            # size, once, is the line written below anyway.
                            if own_length or _LENGTH_PAIRS.get(pair) != size:
                                fast = False
                                break
                            own_length = True
                            continue
                        append(line)
                except TypeError:
                    fast = False
        if fast:
            append(pstate.default_lines)
            append(_LENGTH_LINES.get(size) or length_line(size))
            append(b"\r\n")
            append(body)
            proto.transport.write(b"".join(parts))
            self.sent = size
            self.state = STARTED.complete
            if self.waiter is not None:
                self.wake()
            proto.response_complete(self)
            return proto.done
        head = self._head(size)
        self.state = STARTED.http_response_body
        self._write_more(body, False, head)
        if self.proto.write_paused:
            return self.proto.drain()
        return self.proto.done

    def _head(self, body_length: int | None) -> bytes:
        proto = self.proto
        keep_alive = self.keep_alive and self.body_done and not proto.state.shutting_down
        head, framing, length, keep_alive = render_head(
            self.status,
            self.response_headers,
            proto.state.default_lines,
            keep_alive,
            self.http11,
            body_length,
            self.head_request,
            self.trailers,
        )
        self.keep_alive = keep_alive
        self.framing = framing
        self.remaining = length
        return head

    def _write_first(self, body: bytes, more: bool) -> None:
        head = self._head(None)
        self.state = STARTED.http_response_body
        self._write_more(body, more, head)

    def _write_more(self, body: bytes, more: bool, head: bytes = b"") -> None:
        framing = self.framing
        size = len(body)
        if framing == FRAME_LENGTH:
            if size > self.remaining:
                if head:
                    # Nothing written yet: the app gets a 500.
                    self.state = BODY.unwritten
                else:
                    self.proto.abort("response body longer than its content-length")
                raise ProtocolViolation(
                    f"response body longer than its content-length ({self.remaining} left)",
                    message_type="http.response.body",
                )
            self.remaining -= size
            data = head + body
        elif framing == FRAME_CHUNKED:
            data = head + b"%x\r\n" % size + body + b"\r\n" if size else head
        elif framing == FRAME_CLOSE:
            data = head + body
        else:
            data = head
        self.sent += size
        if more:
            if data:
                self.proto.transport.write(data)
            return
        # The body is complete: write what is left, then finish or wait for trailers.
        if framing == FRAME_CHUNKED and not self.trailers:
            data += b"0\r\n\r\n"
        if data:
            self.proto.transport.write(data)
        if self.trailers:
            self.state = BODY.await_trailers
            return
        if framing == FRAME_LENGTH and self.remaining > 0:
            self.keep_alive = False
            logger.error(
                "ASGI app's response body is %d bytes shorter than its content-length; "
                "closing the connection",
                self.remaining,
            )
        self._complete()

    def _write_trailers(self, message: Message) -> None:
        headers = message.get("headers", ())
        more = message.get("more_trailers", False)
        if self.framing == FRAME_CHUNKED:
            data = render_trailers(headers)
            if more:
                raise ProtocolViolation(
                    "more_trailers=True is not supported: send all trailers in one message",
                    message_type="http.response.trailers",
                )
            self.proto.transport.write(data)
        self._complete(self.state.http_response_trailers)

    async def _send_path(self, message: Message) -> None:
        path = message.get("path")
        if not isinstance(path, str) or not os.path.isabs(path):
            raise ProtocolViolation(
                f"http.response.pathsend needs an absolute path, got {path!r}",
                message_type="http.response.pathsend",
            )
        proto = self.proto
        with open(path, "rb") as file:
            size = os.fstat(file.fileno()).st_size
            head = self._head(size)
            if self.framing == FRAME_LENGTH:
                if self.remaining != size:
                    raise ProtocolViolation(
                        f"content-length {self.remaining} does not match the file size {size}",
                        message_type="http.response.pathsend",
                    )
                self.state = STARTED.http_response_pathsend
                proto.transport.write(head)
                await proto.sendfile(file, size)
                self.remaining = 0
                self.sent = size
                self._complete()
            else:  # HEAD requests and no-body statuses
                self.state = STARTED.http_response_pathsend
                proto.transport.write(head)
                self._complete()

    def _complete(self, done: State | None = None) -> None:
        self.state = done or self.state.complete
        self.wake()
        self.proto.response_complete(self)


def ends_at_shutdown(exchange: Any) -> bool:
    """Whether a graceful shutdown tells ``exchange`` (an HTTP/1.1 ``RequestCycle`` or an
    HTTP/2 ``H2Exchange``) to end (``receive()`` then says ``http.disconnect``) rather
    than letting it finish within the graceful timeout.

    Its ``state`` is ``INIT`` while no response was started; its ``response_headers`` are the
    ``http.response.start`` headers once one was. Two kinds end at once:
    an exchange with no response yet (a long-poll waiting for an event, a handler polling
    ``is_disconnected()``; a handler that does not listen is not affected), and a server-sent
    event stream, which never ends by itself and whose client reconnects (to another
    worker during a rolling restart). Any other response in progress, a large download
    included, finishes within ``timeout_graceful_shutdown``: cutting it would lose what the
    client already waited for.
    """
    if exchange.state is INIT:
        return True
    try:
        for name, value in getattr(exchange, "response_headers", ()):
            if name.lower() == b"content-type":
                media_type = value.partition(b";")[0].strip().lower()
                return bool(media_type == b"text/event-stream")
    except (TypeError, ValueError):  # headers the head writer refused or consumed
        return False
    return False
