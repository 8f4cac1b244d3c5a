"""The HTTP/1.1 connection: the asyncio shell around the request reader (``_http11``).

Theory of operation. ``data_received`` feeds bytes to the connection's ``RequestReader``
(the sans-IO core: parsing, limits and checks), which builds a ``RequestCycle`` for each
request with this shell's factory (``_request_factory``) and appends it to ``pipeline``.
After the reader returns, the first queued cycle starts if no response is in progress:
requests are answered strictly in order (RFC 9112 section 9.3.2), one at a time. The app is never
called from inside a parser callback. The shell keeps what needs a loop or a transport:
scheduling, read and write flow control, deadlines, shutdown and hand-off.

Starting a cycle runs the app's first step eagerly inside the connection's host Task
(see ``_driver``). When the app completes its response in that step, the next pipelined
request starts in the same loop; otherwise the host drives the app, and a request that
arrives while the host is still driving (say, a background task after the response)
runs in a Task of its own.

The connection's states (the table is ``transitions(...)`` below; the server's sweep
checks deadlines)::

    state       meaning                                 deadline expiry
    AWAIT_HEAD  waiting for (the rest of) a head        408 if bytes came, else close
    KEEP_ALIVE  between requests                        close quietly
    BUSY        requests are being handled              none: the app takes its time
    FAILED      a request was refused: its error       none
                answer waits for the responses before
                it; nothing more is read
    CLOSING     the transport is closing                none
    CLOSED      connection lost, or handed over

    AWAIT_HEAD/KEEP_ALIVE --request--> BUSY --idle--> KEEP_ALIVE
    KEEP_ALIVE --data--> AWAIT_HEAD;  BUSY --partial--> AWAIT_HEAD (part of a head came)
    AWAIT_HEAD/KEEP_ALIVE/BUSY --fail--> FAILED;  any --close--> CLOSING;  any --lost--> CLOSED

The moves are made as the reader's events come in, except ``request``: the shell makes it
after ``feed`` returns, when the reader queued requests (so a keep-alive connection that
receives a whole request moves KEEP_ALIVE --request--> BUSY).

The host Task's states: IDLE (the next request may run its first step in it), DRIVING
(it drives a suspended app; new requests get Tasks of their own), GONE (it ended with the
connection). The pipeline holds request cycles only; a refused request is not queued:
its answer (``refusal``) goes out once the cycles before it are done, then the
connection closes.

An ``Upgrade: websocket`` request is handed to the handler registered for it in
``ServerState.upgrade_handlers``: the handler gets the transport, the scope and any bytes
after the request and returns the protocol that takes the transport over. Without one,
the request gets a 400. ``Upgrade: h2c`` goes to the handler registered for it when HTTP/2
is on and the request qualifies (``_h2_upgrade``); other upgrades are ignored, as RFC 9110
section 7.8 allows, and the request is served over HTTP/1.1.

HTTP/2 hooks (``_h2_upgrade``): ``connection_made`` hands a TLS connection whose ALPN chose
``h2`` to ``H2Protocol``; with h2c on, the first bytes are checked (``sniff``) for the
HTTP/2 client preface, and a connection that starts with it is handed over too.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from contextvars import copy_context
from time import perf_counter
from types import CoroutineType, MethodType
from typing import IO, Any, Protocol

from vivace.server import _h2_upgrade
from vivace.server._compat import native_sendfile
from vivace.server._cycle import (
    DONE,
    INIT,
    READ_HIGH_WATER,
    STARTED,
    RequestCycle,
    ends_at_shutdown,
)
from vivace.server._driver import Resume, as_coroutine, enter_task, leave_task
from vivace.server._errors import ClientDisconnected, report_app_error
from vivace.server._http11 import HEAD as READING_HEAD
from vivace.server._http11 import WEBSOCKET_ASGI, Reject, RequestReader
from vivace.server._machine import State, transitions
from vivace.server._proxy import is_trusted
from vivace.server._response_heads import simple_response
from vivace.server._state import ServerState
from vivace.types import Scope

__all__ = ["HTTPProtocol", "UpgradeHandler"]

logger = logging.getLogger("vivace.server")

AWAIT_HEAD, KEEP_ALIVE, BUSY, FAILED, CLOSING, CLOSED = (
    State("AWAIT_HEAD"),
    State("KEEP_ALIVE"),
    State("BUSY"),
    State("FAILED"),
    State("CLOSING"),
    State("CLOSED"),
)
_ENDS = {"close": CLOSING, "lost": CLOSED}
transitions(
    "HTTP/1.1 connection",
    {
        AWAIT_HEAD: {"request": BUSY, "fail": FAILED, **_ENDS},
        KEEP_ALIVE: {"data": AWAIT_HEAD, "request": BUSY, "fail": FAILED, **_ENDS},
        BUSY: {"request": BUSY, "idle": KEEP_ALIVE, "partial": AWAIT_HEAD, "fail": FAILED, **_ENDS},
        FAILED: _ENDS,
        CLOSING: _ENDS,
        CLOSED: {"lost": CLOSED},
    },
)
HOST_IDLE, HOST_DRIVING, HOST_GONE = State("IDLE"), State("DRIVING"), State("GONE")
transitions(
    "host Task",
    {
        HOST_IDLE: {"drive": HOST_DRIVING, "end": HOST_GONE},
        HOST_DRIVING: {"done": HOST_IDLE},
        HOST_GONE: {},
    },
)
MAX_PIPELINE = 16
# Graceful shutdown: how long a connection with no request in progress stays open for
# one that may already be on its way (sent before the client could know we stop). Closing
# it at once loses that request: issue 20 measured 71 read errors in 374,669 requests
# across two rolling restarts under wrk. The request that comes is answered with
# ``Connection: close``; a connection that stays quiet is closed when the grace ends.
SHUTDOWN_GRACE = 1.0
_CHUNK = 256 * 1024
_RETURNED: Any = object()  # what the app's first step gives when the app returned


class UpgradeHandler(Protocol):
    """Takes over a connection after an ``Upgrade`` request (the WebSocket layer's hook)."""

    def __call__(
        self, transport: asyncio.Transport, scope: Scope, data: bytes
    ) -> asyncio.BaseProtocol: ...


class HTTPProtocol(asyncio.Protocol):
    """One HTTP/1.1 connection. Created by the server for each accepted socket."""

    __slots__ = (
        "app",
        "client",
        "conn",
        "cycle",
        "deadline",
        "done",
        "drain_waiters",
        "handoff",
        "host",
        "host_state",
        "loop",
        "pipeline",
        "read_paused",
        "reader",
        "refusal",
        "scheme",
        "sniff",
        "starting",
        "state",
        "tasks",
        "transport",
        "upgrade",
        "write_paused",
    )

    def __init__(self, state: ServerState) -> None:
        self.state = state
        self.loop = state.loop
        self.app = state.app
        self.conn = AWAIT_HEAD
        self.cycle: RequestCycle | None = None
        self.pipeline: deque[RequestCycle] = deque()
        self.refusal: tuple[int, str] | None = None
        self.starting = False  # start_next is running (it is not re-entered)
        self.host_state = HOST_IDLE
        self.tasks: set[asyncio.Task[None]] = set()
        self.drain_waiters: list[asyncio.Future[None]] = []
        self.write_paused = False
        self.read_paused = False
        self.upgrade: tuple[Scope, UpgradeHandler] | None = None

    @property
    def closed(self) -> bool:
        """The connection is lost, or its transport belongs to another protocol now."""
        return self.conn is CLOSED

    @property
    def host_busy(self) -> bool:
        """The host Task is not free to run a request (what the server's shutdown asks
        of every connection, HTTP/2 ones too)."""
        return self.host_state is not HOST_IDLE

    # -- asyncio.Protocol ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        state = self.state
        self.sniff: bytes | None = None
        if state.h2_limits is not None:
            if _h2_upgrade.alpn_h2(transport):
                self.conn = self.conn.lost
                _h2_upgrade.take_over(state, self.transport)
                return
            if state.h2c:
                self.sniff = b""
        state.connections.add(self)
        sockname = transport.get_extra_info("sockname")
        peername = transport.get_extra_info("peername")
        server: tuple[str, int | None] | None
        if isinstance(sockname, tuple):
            server = (str(sockname[0]), int(sockname[1]))
        elif isinstance(sockname, str) and sockname:
            server = (sockname, None)
        else:
            server = None
        if isinstance(peername, tuple):
            self.client: tuple[str, int] | None = (str(peername[0]), int(peername[1]))
            peer_host: str | None = self.client[0]
        else:
            self.client = None
            peer_host = "unix:"
        self.scheme = "https" if transport.get_extra_info("sslcontext") is not None else "http"
        self.reader = RequestReader(
            state,
            self,
            self._request_factory(),
            self.pipeline.append,
            server=server,
            client=self.client,
            scheme=self.scheme,
            trusted=state.proxy_headers and is_trusted(peer_host, state.trust),
        )
        self.deadline = state.now + state.timeout_request_head
        self.handoff: asyncio.Future[Any] = self.loop.create_future()
        # What send() returns when it has nothing to wait for: awaiting it is free.
        self.done: asyncio.Future[None] = self.loop.create_future()
        self.done.set_result(None)
        self.host = self.loop.create_task(self._host_main())
        if state.shutting_down:  # accepted from the queue as the server stops
            self.shutdown()

    def connection_lost(self, exc: Exception | None) -> None:
        self.conn = self.conn.lost
        self.state.connections.discard(self)
        if self.cycle is not None:
            self.cycle.on_disconnect()
        for cycle in self.pipeline:
            cycle.on_disconnect()
        building = self.reader.building
        if building is not None:  # its response may be out, its body still coming
            building.on_disconnect()
        for waiter in self.drain_waiters:
            if not waiter.done():
                waiter.set_exception(ClientDisconnected("client disconnected"))
        self.drain_waiters.clear()
        if self.host_state is HOST_IDLE:
            self.host.cancel()

    def eof_received(self) -> bool | None:
        """The client closed its sending side (FIN).

        Idle, in a partial head, in the middle of a request body, or over TLS (asyncio
        cannot half-close a TLS transport): the connection closes, and every request on it
        hears ``http.disconnect``. After complete requests the client may still be reading
        (RFC 9112 section 9.6 lets it half-close): the requests already received are
        answered, but each one is told to end (``RequestCycle.end``): ``receive()`` says
        ``http.disconnect`` at once, so a stream or long-poll for a client that has gone
        away stops, and the connection closes after the last response (docs/server.md).
        """
        if self.reader.building is not None or self.scheme == "https" or self.conn is CLOSED:
            return None
        if self.cycle is None and not self.pipeline:
            return None
        if self.cycle is not None:
            self.cycle.end()
        for cycle in self.pipeline:
            cycle.end()
        return True

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        waiters = self.drain_waiters
        self.drain_waiters = []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def data_received(self, data: bytes) -> None:
        if self.sniff is not None:
            data = self.sniff + data
            if len(data) < _h2_upgrade.SNIFF and _h2_upgrade.is_preface(data):
                self.sniff = data
                return
            self.sniff = None
            if _h2_upgrade.is_preface(data):
                _h2_upgrade.switch(self, self.transport, data)
                return
        conn = self.conn
        # KEEP_ALIVE first: a keep-alive connection's next request is the usual data.
        if conn is not KEEP_ALIVE and conn is not BUSY and conn is not AWAIT_HEAD:
            return  # FAILED, CLOSING, CLOSED: nothing more is read
        self.reader.feed(data)
        # The connection's move follows what the reader made of the data: a whole request
        # after keep-alive goes straight to BUSY, without starting a head deadline that
        # would be dropped at once (~30 ns a request).
        pipeline = self.pipeline
        conn = self.conn
        if pipeline:  # the reader queued requests (or some still wait their turn)
            if conn is KEEP_ALIVE or conn is AWAIT_HEAD:
                self.conn = conn.request
            if self.cycle is None:
                self.start_next()
            if pipeline and len(pipeline) > MAX_PIPELINE and not self.read_paused:
                self.read_paused = True
                self.transport.pause_reading()
        elif conn is KEEP_ALIVE:  # part of a head came: its deadline starts
            self.deadline = self.state.now + self.state.timeout_request_head
            self.conn = KEEP_ALIVE.data

    # -- events from the request reader (RequestSink) ------------------------------------

    def _request_factory(self) -> Callable[..., RequestCycle]:
        """What the reader builds each request with: ``RequestCycle.new`` bound to this
        connection, through a check first when a limit or the access log needs one."""
        state = self.state
        access = state.access
        if state.limit_concurrency is None and (access is None or not access.needs_duration):
            # A method object, not functools.partial: it passes the 8 arguments on
            # without copying them (partial copies more than 5 to the heap): ~30 ns less.
            return MethodType(RequestCycle.new, self)
        return self._checked_request

    def _checked_request(self, *args: Any) -> RequestCycle:
        state = self.state
        limit = state.limit_concurrency
        if limit is not None and (state.active >= limit or len(state.connections) > limit):
            raise Reject(503, "Service unavailable")
        cycle = RequestCycle.new(self, *args)
        access = state.access
        if access is not None and access.needs_duration:
            cycle.started_at = perf_counter()  # read only by the access log, then
        return cycle

    def request_upgrade(self, scope: Scope, tokens: set[bytes]) -> bool:
        """Whether an Upgrade request goes to a handler (else it is served as HTTP)."""
        if b"websocket" not in tokens:
            h2c = self.state.upgrade_handlers.get(b"h2c") if b"h2c" in tokens else None
            if (
                h2c is None
                or self.cycle is not None
                or self.pipeline
                or _h2_upgrade.h2c_settings(scope) is None
            ):
                return False  # ignored: the request is served as HTTP/1.1
            self.upgrade = (scope, h2c)
            return True
        handler = self.state.upgrade_handlers.get(b"websocket")
        if handler is None:
            raise Reject(400, "WebSocket upgrade is not supported by this server")
        if self.cycle is not None or self.pipeline:
            raise Reject(400, "Upgrade request pipelined behind another request")
        scope = dict(scope)
        scope["type"] = "websocket"
        scope["asgi"] = WEBSOCKET_ASGI
        scope["scheme"] = "wss" if scope["scheme"] == "https" else "ws"
        self.upgrade = (scope, handler)
        return True

    def request_body(self, cycle: RequestCycle, data: bytes) -> None:
        cycle.body.append(data)
        size = cycle.body_size = cycle.body_size + len(data)
        if size > READ_HIGH_WATER and not self.read_paused:
            self.read_paused = True
            self.transport.pause_reading()
        if cycle.waiter is not None:  # the app waits: a body that came with its head has none
            cycle.wake()

    def request_end(self, cycle: RequestCycle) -> None:
        cycle.body_done = True
        if cycle.waiter is not None:
            cycle.wake()

    def upgraded(self, rest: bytes) -> None:
        """The parser stopped after an Upgrade request the shell took: hand it over."""
        upgrade = self.upgrade
        assert upgrade is not None  # set by request_upgrade before it said yes
        scope, handler = upgrade
        self.upgrade = None
        self.detach()
        protocol = handler(self.transport, scope, rest)
        self.transport.set_protocol(protocol)

    # -- flow control --------------------------------------------------------------------

    def body_consumed(self) -> None:
        """The app took the buffered body while reading was paused (the cycle checks
        ``read_paused`` first: a call less for every body): resume if nothing holds it."""
        self._maybe_resume()

    def _maybe_resume(self) -> None:
        building = self.reader.building
        conn = self.conn
        if (
            (conn is BUSY or conn is AWAIT_HEAD or conn is KEEP_ALIVE)
            and len(self.pipeline) <= MAX_PIPELINE
            and (building is None or building.body_size <= READ_HIGH_WATER)
        ):
            self.read_paused = False
            self.transport.resume_reading()

    async def drain(self) -> None:
        """Wait until the transport's write buffer is below its low-water mark."""
        if self.conn is CLOSED:
            raise ClientDisconnected("client disconnected")
        waiter = self.loop.create_future()
        self.drain_waiters.append(waiter)
        await waiter

    async def sendfile(self, file: IO[bytes], size: int) -> None:
        """Send ``size`` bytes of ``file`` after the head (zero-copy where the loop can)."""
        transport = self.transport
        if native_sendfile(transport):
            if self.conn is CLOSED:
                raise ClientDisconnected("client disconnected")
            await self.loop.sendfile(transport, file, 0, size)
            return
        offset = 0
        while offset < size:
            chunk = file.read(min(_CHUNK, size - offset))
            if not chunk:
                self.abort("file shrank while being sent")
                raise ClientDisconnected("file shrank while being sent")
            if self.conn is CLOSED:
                raise ClientDisconnected("client disconnected")
            transport.write(chunk)
            offset += len(chunk)
            if self.write_paused:
                await self.drain()

    # -- running requests ----------------------------------------------------------------

    def start_next(self) -> None:
        """Start queued requests while no response is in progress; then a refusal."""
        if self.starting:
            return
        self.starting = True
        pipeline = self.pipeline
        loop = self.loop
        state = self.state
        # A local: self.app(...) is a method lookup CPython 3.11 cannot specialise for a
        # slot that holds a function (~6 ns a request).
        app = self.app
        try:
            while self.cycle is None and pipeline and self.conn is not CLOSED:
                cycle = pipeline.popleft()
                self.cycle = cycle
                if self.read_paused:
                    self._maybe_resume()
                # Run the app: its first step right here, inside the host Task. A request
                # counts in state.active (limit_concurrency) once it outlives that step;
                # _app_done, which uncounts it, is called only for counted requests.
                try:
                    coro = app(cycle.scope, cycle.receive, cycle.send)
                    if type(coro) is not CoroutineType:
                        coro = as_coroutine(coro)
                except BaseException as exc:
                    state.active += 1
                    self._app_done(cycle, exc)
                    continue
                context = copy_context()
                if self.host_state is HOST_IDLE:
                    host = self.host
                    try:
                        enter_task(loop, host)
                    except RuntimeError:  # already inside a Task (a test driving the protocol)
                        pass
                    else:
                        try:
                            # next() with a default turns the coroutine's StopIteration
                            # into _RETURNED in C: ~110 ns less than catching it here.
                            yielded = context.run(next, coro.__await__(), _RETURNED)
                        except BaseException as exc:
                            leave_task(loop, host)
                            state.active += 1
                            self._app_done(cycle, exc)
                            continue
                        leave_task(loop, host)
                        if yielded is _RETURNED:
                            if cycle.state is not DONE:
                                state.active += 1
                                self._app_done(cycle, None)
                            continue
                        state.active += 1
                        self.host_state = HOST_IDLE.drive
                        self.handoff.set_result((cycle, coro, context, yielded))
                        continue
                state.active += 1
                task = loop.create_task(self._run_task(cycle, coro), context=context)
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)
            if self.refusal is not None and self.cycle is None and not pipeline:
                status, text = self.refusal
                self.refusal = None
                self._write_error(status, text)
        finally:
            self.starting = False

    async def _run_task(self, cycle: RequestCycle, coro: Any) -> None:
        try:
            await coro
        except BaseException as exc:
            self._app_done(cycle, exc)
        else:
            self._app_done(cycle, None)
        if self.cycle is None and self.conn is not CLOSED and (self.pipeline or self.refusal):
            self.start_next()

    async def _host_main(self) -> None:
        """The connection's host Task: drives app coroutines that suspended (``_driver``)."""
        task = asyncio.current_task()
        assert task is not None
        while True:
            handoff = self.handoff
            throw: BaseException | None = None
            try:
                cycle, coro, context, yielded = await handoff
            except asyncio.CancelledError as exc:
                if not handoff.done() or handoff.cancelled():
                    # Cancelled while idle: the connection closes, or the loop shuts down.
                    # Later requests on a still-open connection run in Tasks of their own.
                    self.host_state = self.host_state.end
                    return
                cycle, coro, context, yielded = handoff.result()
                throw = exc
                if isinstance(yielded, asyncio.Future):
                    yielded.cancel()
            error: BaseException | None = None
            try:
                await Resume(coro, context, yielded, throw)
            except BaseException as exc:
                error = exc
            while task.cancelling():
                task.uncancel()
            self.host_state = self.host_state.done
            self.handoff = self.loop.create_future()
            self._app_done(cycle, error)
            if self.conn is CLOSED:
                return
            if self.cycle is None and (self.pipeline or self.refusal):
                self.loop.call_soon(self.start_next)

    def _app_done(self, cycle: RequestCycle, error: BaseException | None) -> None:
        """The app returned or raised: check it answered, clean up."""
        self.state.active -= 1
        response_state = cycle.state
        if error is not None:
            report_app_error(error, cycle.disconnected)
        elif response_state is not DONE:
            if cycle.disconnected or cycle.ending:
                # The app heard http.disconnect and stopped: the usual end of a stream.
                logger.debug("ASGI app stopped its response: the client is gone or leaving")
            else:
                logger.error(
                    "ASGI app returned without %s the response",
                    "starting" if response_state in (INIT, STARTED) else "completing",
                )
        if response_state is not DONE:
            cycle.state = response_state.abandon
            cycle.wake()
            if self.cycle is cycle:
                self.cycle = None
            if cycle.disconnected:
                self.abort("response incomplete")
            elif cycle.ending and error is None:
                # What was written goes out, then FIN: an incomplete chunked or sized body
                # shows the client the response was cut (an EventSource reconnects).
                self.close()
            elif response_state in (INIT, STARTED):
                self._write_error(500, "Internal server error")
            else:
                self.abort("response incomplete")
        if error is not None and not isinstance(error, (Exception, asyncio.CancelledError)):
            raise error  # KeyboardInterrupt, SystemExit

    def response_complete(self, cycle: RequestCycle) -> None:
        """Called by the cycle when the last byte of its response has been handed over."""
        state = self.state
        access = state.access
        if access is not None:
            scope = cycle.scope
            access.log(
                scope["client"],
                scope["method"],
                scope["raw_path"],
                scope["query_string"],
                scope["http_version"],
                cycle.status,
                cycle.sent,
                perf_counter() - cycle.started_at if access.needs_duration else 0.0,
                cycle.headers,
            )
        if self.cycle is cycle:
            self.cycle = None
        limit = state.limit_max_requests
        if limit is not None:
            state.requests += 1
            if state.requests >= limit and state.on_limit_max_requests is not None:
                state.on_limit_max_requests()
        if not cycle.keep_alive:  # said so in the response (always, once shutting down)
            self.close()
            return
        reader = self.reader
        if self.pipeline:
            if not self.starting:
                self.loop.call_soon(self.start_next)
        elif self.conn is not BUSY:  # FAILED: a refusal may wait for its turn
            if self.refusal is not None and not self.starting:
                self.loop.call_soon(self.start_next)
        elif reader.building is None:
            if cycle.ending:  # the client half-closed: no request can follow
                self.close()
                return
            if reader.state is READING_HEAD:
                # Part of the next head came while this response was busy (no deadline
                # then): the head deadline runs from now, so a slow head still gets 408.
                self.deadline = state.now + state.timeout_request_head
                self.conn = BUSY.partial
            else:
                self.deadline = state.now + state.timeout_keep_alive
                self.conn = BUSY.idle
                if state.shutting_down:  # the response promised keep-alive before that
                    self.shutdown()

    # -- errors, timeouts, shutdown ------------------------------------------------------

    def request_rejected(self, status: int, text: str, building: RequestCycle | None) -> None:
        """Answer a bad request (after any response in progress) and close; ``building``
        is the request whose body was being read, if any."""
        self.conn = self.conn.fail
        if not self.read_paused:
            self.read_paused = True
            self.transport.pause_reading()
        if building is not None:
            if building is self.cycle:
                if building.state is INIT:
                    building.state = INIT.abandon
                    building.on_disconnect()
                    self.cycle = None
                    self._write_error(status, text)
                else:
                    building.on_disconnect()
                    self.abort(text)
                return
            try:
                self.pipeline.remove(building)
            except ValueError:  # pragma: no cover - a building cycle is always queued
                pass
        if self.cycle is None and not self.pipeline:
            self._write_error(status, text)
        else:
            self.refusal = (status, text)
            if self.cycle is None:
                self.start_next()

    def _write_error(self, status: int, text: str) -> None:
        # is_closing(): a response that ended the connection closed the transport, and
        # connection_lost (which sets ``closed``) comes a loop iteration later; an error
        # queued behind that response must not be written after it (found by fuzz/).
        if self.conn is CLOSED or self.transport.is_closing():
            return
        if status >= 500:
            logger.debug("answering %d: %s", status, text)
        else:
            logger.info("bad request from %s: %d %s", self.client, status, text)
        self.transport.write(simple_response(status, text, self.state.default_lines))
        self.close()

    def detach(self) -> None:
        """Stop managing this connection (its transport now belongs to another protocol)."""
        self.conn = self.conn.lost
        self.state.connections.discard(self)
        if self.host_state is HOST_IDLE:
            self.host.cancel()

    def postpone(self, seconds: float) -> None:
        """Move the deadline back: the server's loop was stalled this long (``sweep``)."""
        self.deadline += seconds

    def check_deadline(self, now: float) -> None:
        """Called by the server's sweep: enforce head and keep-alive deadlines."""
        conn = self.conn
        if (conn is not AWAIT_HEAD and conn is not KEEP_ALIVE) or now < self.deadline:
            return
        if conn is AWAIT_HEAD and self.reader.state is READING_HEAD:
            self.reader.reject(408, "Request timeout")  # part of a head came, too slowly
            return
        self.close()

    def shutdown(self) -> None:
        """Graceful shutdown: the response in progress, or the next request within
        ``SHUTDOWN_GRACE``, is the last (it says ``Connection: close``); a connection
        that stays quiet for the grace closes then (the server's sweep).

        A request in progress with no response yet, or streaming server-sent events, is
        told to end (``RequestCycle.end``; ``ends_at_shutdown`` says why): once its body is
        read, ``receive()`` says ``http.disconnect``, so SSE streams and long-polls stop
        now instead of holding the shutdown for its whole timeout. Other responses in
        progress (downloads, a handler that does not listen) finish as before.
        """
        conn = self.conn
        if conn is CLOSED:
            return
        cycle = self.cycle
        if cycle is not None:
            if ends_at_shutdown(cycle):
                cycle.end()
            return
        if (conn is not AWAIT_HEAD and conn is not KEEP_ALIVE) or self.reader.state is READING_HEAD:
            return  # busy, or part of a head came: its response closes the connection
        state = self.state
        grace = SHUTDOWN_GRACE
        if 0 < state.timeout_keep_alive < grace:
            grace = state.timeout_keep_alive
        self.deadline = min(self.deadline, state.now + grace)

    def close(self) -> None:
        if self.conn is not CLOSED:
            self.conn = self.conn.close
            self.transport.close()

    def abort(self, reason: str) -> None:
        """Drop the connection at once (the response cannot be completed correctly)."""
        if self.conn is not CLOSED:
            logger.debug("aborting connection to %s: %s", self.client, reason)
            self.conn = self.conn.close
            self.transport.abort()
