"""The HTTP/1.1 connection: httptools parsing, request scheduling, timeouts, hand-off.

Theory of operation. ``data_received`` feeds bytes to the httptools (llhttp) parser,
whose callbacks build a ``RequestCycle`` per request and append it to ``pipeline``.
After the parser returns, the first queued cycle starts if no response is in progress:
requests are answered strictly in order (RFC 9112 section 9.3.2), one at a time. The app
is never called from inside a parser callback.

Starting a cycle runs the app's first step eagerly inside the connection's host Task
(see ``_driver``). When the app completes its response in that step, the next pipelined
request starts in the same loop; otherwise the host drives the app, and a request that
arrives while the host is still busy (say, with a background task after the response)
runs in a Task of its own.

Connection states, by deadline kind (checked by the server's sweep once a tick)::

    HEAD   waiting for (the rest of) a request head   expiry: 408 if bytes came, close
    BUSY   a request is being handled                 no deadline: the app takes its time
    IDLE   keep-alive, between requests               expiry: close quietly

Errors in the request (the parser's, or a limit) are answered in order: a response in
progress finishes first, then the error response goes out and the connection closes.

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
from contextvars import copy_context
from time import perf_counter
from types import CoroutineType
from typing import IO, Any, Protocol
from urllib.parse import unquote_to_bytes

import httptools

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
from vivace.server._errors import ClientDisconnected
from vivace.server._proxy import is_trusted, resolve_proxy
from vivace.server._response import simple_response
from vivace.server._state import ServerState
from vivace.types import Scope

__all__ = ["HTTPProtocol", "UpgradeHandler"]

logger = logging.getLogger("vivace.server")

HEAD, BUSY, IDLE = range(3)
MAX_PIPELINE = 16
# Graceful shutdown: how long a connection with no request in progress stays open for
# one that may already be on its way (sent before the client could know we stop). Closing
# it at once loses that request: issue 20 measured 71 read errors in 374,669 requests
# across two rolling restarts under wrk. The request that comes is answered with
# ``Connection: close``; a connection that stays quiet is closed when the grace ends.
SHUTDOWN_GRACE = 1.0
_CHUNK = 256 * 1024
_RETURNED: Any = object()  # what the app's first step gives when the app returned

_METHODS = {
    m.encode(): m for m in ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE")
}
_WATCHED = frozenset(
    (
        b"connection",
        b"expect",
        b"host",
        b"upgrade",
        b"content-length",
        b"transfer-encoding",
        b"forwarded",
        b"x-forwarded-for",
        b"x-forwarded-proto",
    )
)
# The ASGI extensions this server supports. Each request gets its own copy of the outer
# dict (an app may add to it); the empty per-extension dicts are placeholders, shared.
_EXTENSIONS: dict[str, dict[str, Any]] = {
    "http.response.pathsend": {},
    "http.response.trailers": {},
    "http.response.early_hint": {},
}


_TARGETS_MAX = 1024


def _parse_target(url: bytes, state: ServerState) -> tuple[str, bytes, bytes]:
    """Split a request target into ASGI path, raw_path and query_string (RFC 9112 3.2).

    Results are cached per server in ``state.targets`` (url -> (path, raw_path, query)):
    most traffic hits a few URLs. Bounded, so unique URLs cannot grow it without limit.
    """
    root_path = state.root_path
    if b"#" in url:
        # RFC 9112 section 3.2: a request target has no fragment (a client cuts it off,
        # RFC 9110 section 7.1). Refused rather than cut, so that no proxy in front and
        # this server can disagree on which resource "/a#/../b" names.
        raise _Reject(400, "Bad request target: a fragment ('#') is not allowed")
    if url[:1] == b"/":
        raw_path, _, query = url.partition(b"?")
    elif url == b"*":  # asterisk-form, OPTIONS * (RFC 9112 section 3.2.4)
        raw_path, query = b"*", b""
    else:  # absolute-form (RFC 9112 section 3.2.2)
        try:
            parsed = httptools.parse_url(url)
        except httptools.HttpParserInvalidURLError:
            raise _Reject(400, "Bad request target") from None
        raw_path = parsed.path or b"/"
        query = parsed.query or b""
    if b"%" in raw_path:
        path = unquote_to_bytes(raw_path).decode("utf-8", "replace")
    else:
        path = raw_path.decode("latin-1")
    if root_path:  # ASGI: path and raw_path include root_path
        path = root_path + path
        raw_path = root_path.encode("utf-8") + raw_path
    target = (path, raw_path, query)
    if len(state.targets) < _TARGETS_MAX:
        state.targets[url] = target
    return target


class UpgradeHandler(Protocol):
    """Takes over a connection after an ``Upgrade`` request (the WebSocket layer's hook)."""

    def __call__(
        self, transport: asyncio.Transport, scope: Scope, data: bytes
    ) -> asyncio.BaseProtocol: ...


class _Reject(Exception):
    """Raised inside a parser callback to answer the request with an error status."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.text = text


class HTTPProtocol(asyncio.Protocol):
    """One HTTP/1.1 connection. Created by the server for each accepted socket."""

    __slots__ = (
        "app",
        "building",
        "client",
        "closed",
        "connection_field",
        "cycle",
        "deadline",
        "deadline_kind",
        "done",
        "drain_waiters",
        "failed",
        "handoff",
        "headers",
        "host",
        "host_busy",
        "host_fields",
        "loop",
        "parser",
        "pipeline",
        "read_paused",
        "scheme",
        "server",
        "sniff",
        "special",
        "starting",
        "state",
        "tasks",
        "template",
        "transport",
        "trusted",
        "unparsed",
        "upgrade",
        "url",
        "write_paused",
    )

    def __init__(self, state: ServerState) -> None:
        self.state = state
        self.loop = state.loop
        self.app = state.app
        self.closed = False
        self.cycle: RequestCycle | None = None
        self.building: RequestCycle | None = None
        self.pipeline: deque[RequestCycle | tuple[int, str]] = deque()
        self.starting = False
        self.host_busy = False
        self.tasks: set[asyncio.Task[None]] = set()
        self.drain_waiters: list[asyncio.Future[None]] = []
        self.write_paused = False
        self.read_paused = False
        self.failed = False
        self.upgrade: tuple[Scope, UpgradeHandler] | None = None
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.special: list[tuple[bytes, bytes]] = []
        self.host_fields = 0
        self.connection_field = False
        self.unparsed = 0

    # -- asyncio.Protocol ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        state = self.state
        self.sniff: bytes | None = None
        if state.h2_limits is not None:
            if _h2_upgrade.alpn_h2(transport):
                self.closed = True
                _h2_upgrade.take_over(state, self.transport)
                return
            if state.h2c:
                self.sniff = b""
        state.connections.add(self)
        self.parser = httptools.HttpRequestParser(self)
        sockname = transport.get_extra_info("sockname")
        peername = transport.get_extra_info("peername")
        if isinstance(sockname, tuple):
            self.server: tuple[str, int | None] | None = (str(sockname[0]), int(sockname[1]))
        elif isinstance(sockname, str) and sockname:
            self.server = (sockname, None)
        else:
            self.server = None
        if isinstance(peername, tuple):
            self.client: tuple[str, int] | None = (str(peername[0]), int(peername[1]))
            peer_host: str | None = self.client[0]
        else:
            self.client = None
            peer_host = "unix:"
        self.scheme = "https" if transport.get_extra_info("sslcontext") is not None else "http"
        self.trusted = state.proxy_headers and is_trusted(peer_host, state.trust)
        # The scope keys that stay the same for every request on this connection, in
        # scope order: a request's scope is a copy with the per-request keys set, which
        # costs about half as much as building the dict from a literal.
        self.template: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.5"},
            "http_version": "1.1",
            "server": self.server,
            "client": self.client,
            "scheme": self.scheme,
            "method": "GET",
            "root_path": state.root_path,
        }
        self.deadline = state.now + state.timeout_request_head
        self.deadline_kind = HEAD
        self.handoff: asyncio.Future[Any] = self.loop.create_future()
        # What send() returns when it has nothing to wait for: awaiting it is free.
        self.done: asyncio.Future[None] = self.loop.create_future()
        self.done.set_result(None)
        self.host = self.loop.create_task(self._host_main())
        if state.shutting_down:  # accepted from the queue as the server stops
            self.shutdown()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.state.connections.discard(self)
        self.deadline_kind = BUSY
        if self.cycle is not None:
            self.cycle.on_disconnect()
        for item in self.pipeline:
            if type(item) is RequestCycle:
                item.on_disconnect()
        if self.building is not None:
            self.building.on_disconnect()
        for waiter in self.drain_waiters:
            if not waiter.done():
                waiter.set_exception(ClientDisconnected("client disconnected"))
        self.drain_waiters.clear()
        if not self.host_busy:
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
        if self.building is not None or self.scheme == "https" or self.closed:
            return None
        if self.cycle is None and not self.pipeline:
            return None
        for item in (self.cycle, *self.pipeline):
            if type(item) is RequestCycle:  # not None, not a queued error response
                item.end()
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
        if self.failed:
            return
        if self.building is None:
            self.unparsed += len(data)  # bytes of a request head not yet complete
            if self.deadline_kind == IDLE:
                self.deadline = self.state.now + self.state.timeout_request_head
                self.deadline_kind = HEAD
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as exc:
            self._on_upgrade(data[exc.args[0] :] if exc.args else b"")
            return
        except httptools.HttpParserError as exc:
            context = exc.__context__
            if isinstance(context, _Reject):
                self.fail(context.status, context.text)
            elif isinstance(exc, httptools.HttpParserCallbackError):
                raise (context or exc) from None  # a bug in a callback: asyncio logs it
            else:
                self.fail(400, f"Bad request: {exc}")
            return
        if self.cycle is None and self.pipeline:
            self.start_next()
        elif self.unparsed > self.state.max_head_size and self.building is None:
            self.fail(431, "Request header fields too large")

    # -- parser callbacks ----------------------------------------------------------------

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.building is not None:
            return  # a trailer field of a chunked request body: not part of the scope
        name = name.lower()
        # RFC 9112 section 5: "field-name ":" OWS field-value OWS"; llhttp drops the
        # leading OWS only. The trailing OWS is removed here, before the app and every
        # framing check see the value (RFC 9110 section 5.5). rstrip returns the same
        # object when there is nothing to strip: 31 ns a field (docs/benchmarks-log.md).
        value = value.rstrip(b" \t")
        self.headers.append((name, value))
        if name in _WATCHED:
            if name == b"host":
                self.host_fields += 1
            elif name == b"connection":
                self.connection_field = True
            else:
                self.special.append((name, value))

    def on_headers_complete(self) -> None:
        state = self.state
        url = self.url
        headers = self.headers
        # Limits. The raw bytes received since the head began bound its size from above,
        # so the exact size is only added up when that bound is over the limit.
        if (
            self.unparsed > state.max_head_size
            and len(url) + sum(len(n) + len(v) + 4 for n, v in headers) > state.max_head_size
        ):
            raise _Reject(431, "Request header fields too large")
        if len(headers) > state.max_header_count:
            raise _Reject(431, "Too many request header fields")
        self.unparsed = 0
        self.url = b""
        self.headers = []
        parser = self.parser
        keep_alive = parser.should_keep_alive()
        if keep_alive and not self.connection_field:
            # llhttp accepts versions 0.9, 1.0, 1.1 and 2.0, and keeps a connection alive
            # without a Connection field only for 1.1: the version is known without
            # get_http_version(), which formats a new string each time (~170 ns).
            version = "1.1"
            http11 = True
        else:
            self.connection_field = False
            version = parser.get_http_version()
            http11 = version == "1.1"
            if not http11 and version != "1.0":
                raise _Reject(505, "HTTP version not supported")
        # RFC 9112 section 3.2: an HTTP/1.1 request carries exactly one Host field; two
        # are refused on HTTP/1.0 too, so no proxy and app can disagree on the target.
        hosts = self.host_fields
        if hosts != 1:
            if hosts > 1:
                raise _Reject(400, "More than one Host header")
            if http11:
                raise _Reject(400, "Missing Host header")
        self.host_fields = 0
        raw_method = parser.get_method()
        method = _METHODS.get(raw_method)
        if method is None:
            if raw_method == b"CONNECT":
                raise _Reject(501, "CONNECT is not supported")
            method = raw_method.decode("ascii")
        target = state.targets.get(url)
        if target is None:
            target = _parse_target(url, state)
        path, raw_path, query = target

        client = self.client
        scheme = self.scheme
        expect_100 = False
        special = self.special
        if special:
            self.special = []
            for name, value in special:
                if name == b"expect":
                    if value.lower() == b"100-continue":
                        expect_100 = http11
                    else:
                        raise _Reject(417, "Expectation failed")
                elif name == b"transfer-encoding":
                    if value.lower() != b"chunked":
                        raise _Reject(501, "Unsupported transfer coding")
                elif name == b"content-length":
                    limit = state.max_body_size
                    if limit is not None and int(value) > limit:
                        raise _Reject(413, "Request body too large")
            if self.trusted:
                proxy_client, proxy_scheme = resolve_proxy(special, state.trust)
                if proxy_client is not None:
                    client = proxy_client
                if proxy_scheme is not None:
                    scheme = proxy_scheme

        scope = self.template.copy()
        if version != "1.1":
            scope["http_version"] = version
        if client is not self.client:
            scope["client"] = client
        if scheme is not self.scheme:
            scope["scheme"] = scheme
        scope["method"] = method
        scope["path"] = path
        scope["raw_path"] = raw_path
        scope["query_string"] = query
        scope["headers"] = headers
        scope["state"] = state.lifespan_state.copy()
        scope["extensions"] = _EXTENSIONS.copy()
        # An upgrade needs an Upgrade field (CONNECT is refused above), which is special.
        if special and parser.should_upgrade() and self._check_upgrade(method, scope, special):
            return  # handed off when the parser stops at the end of this request

        self.deadline_kind = BUSY
        limit = state.limit_concurrency
        if limit is not None and (state.active >= limit or len(state.connections) > limit):
            raise _Reject(503, "Service unavailable")
        cycle = RequestCycle(
            self,
            scope,
            headers,
            http11,
            keep_alive,
            method == "HEAD",
            expect_100,
        )
        access = state.access
        if access is not None and access.needs_duration:
            cycle.started_at = perf_counter()  # read only by the access log, then
        self.building = cycle
        pipeline = self.pipeline
        pipeline.append(cycle)
        if len(pipeline) > MAX_PIPELINE and not self.read_paused:
            self.read_paused = True
            self.transport.pause_reading()

    def on_body(self, body: bytes) -> None:
        cycle = self.building
        if cycle is None:  # pragma: no cover - llhttp reports a body only inside a message
            return
        cycle.body.append(body)
        size = cycle.body_size = cycle.body_size + len(body)
        limit = self.state.max_body_size
        if limit is not None:
            cycle.received += len(body)
            if cycle.received > limit:
                raise _Reject(413, "Request body too large")
        if size > READ_HIGH_WATER and not self.read_paused:
            self.read_paused = True
            self.transport.pause_reading()
        cycle.wake()

    def on_message_complete(self) -> None:
        cycle = self.building
        if cycle is None:  # an upgrade request that the handler takes over
            return
        self.building = None
        cycle.body_done = True
        if cycle.waiter is not None:
            cycle.wake()

    # -- flow control --------------------------------------------------------------------

    def body_consumed(self) -> None:
        if self.read_paused:
            self._maybe_resume()

    def _maybe_resume(self) -> None:
        building = self.building
        if (
            not self.closed
            and not self.failed
            and len(self.pipeline) <= MAX_PIPELINE
            and (building is None or building.body_size <= READ_HIGH_WATER)
        ):
            self.read_paused = False
            self.transport.resume_reading()

    async def drain(self) -> None:
        """Wait until the transport's write buffer is below its low-water mark."""
        if self.closed:
            raise ClientDisconnected("client disconnected")
        waiter = self.loop.create_future()
        self.drain_waiters.append(waiter)
        await waiter

    async def sendfile(self, file: IO[bytes], size: int) -> None:
        """Send ``size`` bytes of ``file`` after the head (zero-copy where the loop can)."""
        transport = self.transport
        if native_sendfile(transport):
            if self.closed:
                raise ClientDisconnected("client disconnected")
            await self.loop.sendfile(transport, file, 0, size)
            return
        offset = 0
        while offset < size:
            chunk = file.read(min(_CHUNK, size - offset))
            if not chunk:
                self.abort("file shrank while being sent")
                raise ClientDisconnected("file shrank while being sent")
            if self.closed:
                raise ClientDisconnected("client disconnected")
            transport.write(chunk)
            offset += len(chunk)
            if self.write_paused:
                await self.drain()

    # -- running requests ----------------------------------------------------------------

    def start_next(self) -> None:
        """Start queued requests while no response is in progress."""
        if self.starting:
            return
        self.starting = True
        pipeline = self.pipeline
        loop = self.loop
        state = self.state
        cycle: RequestCycle
        try:
            while self.cycle is None and pipeline and not self.closed:
                item = pipeline.popleft()
                if type(item) is tuple:
                    self._write_error(*item)
                    return
                cycle = item  # type: ignore[assignment]  # not a tuple: a RequestCycle
                self.cycle = cycle
                if self.read_paused:
                    self._maybe_resume()
                # Run the app: its first step right here, inside the host Task. A request
                # counts in state.active (limit_concurrency) once it outlives that step;
                # _app_done, which uncounts it, is called only for counted requests.
                try:
                    coro = self.app(cycle.scope, cycle.receive, cycle.send)
                    if type(coro) is not CoroutineType:
                        coro = as_coroutine(coro)
                except BaseException as exc:
                    state.active += 1
                    self._app_done(cycle, exc)
                    continue
                context = copy_context()
                if not self.host_busy:
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
                            if cycle.state != DONE:
                                state.active += 1
                                self._app_done(cycle, None)
                            continue
                        state.active += 1
                        self.host_busy = True
                        self.handoff.set_result((cycle, coro, context, yielded))
                        continue
                state.active += 1
                task = loop.create_task(self._run_task(cycle, coro), context=context)
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)
        finally:
            self.starting = False

    async def _run_task(self, cycle: RequestCycle, coro: Any) -> None:
        try:
            await coro
        except BaseException as exc:
            self._app_done(cycle, exc)
        else:
            self._app_done(cycle, None)
        if self.cycle is None and self.pipeline and not self.closed:
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
                    self.host_busy = True
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
            self.host_busy = False
            self.handoff = self.loop.create_future()
            self._app_done(cycle, error)
            if self.closed:
                return
            if self.cycle is None and self.pipeline:
                self.loop.call_soon(self.start_next)

    def _app_done(self, cycle: RequestCycle, error: BaseException | None) -> None:
        """The app returned or raised: check it answered, clean up."""
        self.state.active -= 1
        response_state = cycle.state
        if error is not None:
            if cycle.disconnected and isinstance(error, (OSError, asyncio.CancelledError)):
                logger.debug("ASGI app stopped after the client disconnected: %r", error)
            elif isinstance(error, asyncio.CancelledError):
                logger.warning("ASGI app was cancelled before it finished its response")
            else:
                logger.error("Exception in ASGI application", exc_info=error)
        elif response_state != DONE:
            if cycle.disconnected or cycle.ending:
                # The app heard http.disconnect and stopped: the usual end of a stream.
                logger.debug("ASGI app stopped its response: the client is gone or leaving")
            else:
                logger.error(
                    "ASGI app returned without %s the response",
                    "starting" if response_state in (INIT, STARTED) else "completing",
                )
        if response_state != DONE:
            cycle.state = DONE
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
        if self.pipeline:
            if not self.starting:
                self.loop.call_soon(self.start_next)
        elif self.building is None:
            if cycle.ending:  # the client half-closed: no request can follow
                self.close()
                return
            if self.unparsed:
                # Part of the next head came while this response was busy (no deadline
                # then): the head deadline runs from now, so a slow head still gets 408.
                self.deadline = state.now + state.timeout_request_head
                self.deadline_kind = HEAD
            else:
                self.deadline = state.now + state.timeout_keep_alive
                self.deadline_kind = IDLE
                if state.shutting_down:  # the response promised keep-alive before that
                    self.shutdown()

    # -- errors, timeouts, shutdown ------------------------------------------------------

    def fail(self, status: int, text: str) -> None:
        """Answer a bad request (after any response in progress) and close."""
        self.failed = True
        self.deadline_kind = BUSY
        if not self.read_paused:
            self.read_paused = True
            self.transport.pause_reading()
        building = self.building
        self.building = None
        if building is not None:
            if building is self.cycle:
                if building.state == INIT:
                    building.state = DONE
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
            self.pipeline.append((status, text))
            if self.cycle is None:
                self.start_next()

    def _write_error(self, status: int, text: str) -> None:
        # is_closing(): a response that ended the connection closed the transport, and
        # connection_lost (which sets ``closed``) comes a loop iteration later; an error
        # queued behind that response must not be written after it (found by fuzz/).
        if self.closed or self.transport.is_closing():
            return
        if status >= 500:
            logger.debug("answering %d: %s", status, text)
        else:
            logger.info("bad request from %s: %d %s", self.client, status, text)
        self.transport.write(simple_response(status, text, self.state.default_lines))
        self.close()

    def _check_upgrade(self, method: str, scope: Scope, special: list[tuple[bytes, bytes]]) -> bool:
        """Whether an Upgrade request goes to a handler (else it is served as HTTP)."""
        tokens: set[bytes] = set()
        for name, value in special:
            if name == b"upgrade":
                tokens.update(t.strip().lower() for t in value.split(b","))
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
            raise _Reject(400, "WebSocket upgrade is not supported by this server")
        if self.cycle is not None or self.pipeline:
            raise _Reject(400, "Upgrade request pipelined behind another request")
        scope = dict(scope)
        scope["type"] = "websocket"
        scope["scheme"] = "wss" if scope["scheme"] == "https" else "ws"
        self.upgrade = (scope, handler)
        return True

    def _on_upgrade(self, rest: bytes) -> None:
        """The parser stopped after an Upgrade request; hand off or carry on as HTTP."""
        upgrade = self.upgrade
        if upgrade is None:  # an ignored upgrade: keep parsing with a fresh parser
            self.parser = httptools.HttpRequestParser(self)
            if self.cycle is None and self.pipeline:
                self.start_next()
            if rest and not self.closed:
                self.data_received(rest)
            return
        scope, handler = upgrade
        self.upgrade = None
        self.detach()
        protocol = handler(self.transport, scope, rest)
        self.transport.set_protocol(protocol)

    def detach(self) -> None:
        """Stop managing this connection (its transport now belongs to another protocol)."""
        self.closed = True
        self.deadline_kind = BUSY
        self.state.connections.discard(self)
        if not self.host_busy:
            self.host.cancel()

    def postpone(self, seconds: float) -> None:
        """Move the deadline back: the server's loop was stalled this long (``sweep``)."""
        self.deadline += seconds

    def check_deadline(self, now: float) -> None:
        """Called by the server's sweep: enforce head and keep-alive deadlines."""
        kind = self.deadline_kind
        if kind == BUSY or now < self.deadline:
            return
        if kind == HEAD and self.unparsed and self.building is None:
            self.failed = True  # part of a request head came, too slowly
            self.deadline_kind = BUSY
            self._write_error(408, "Request timeout")
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
        if self.closed:
            return
        cycle = self.cycle
        if cycle is not None:
            if ends_at_shutdown(cycle):
                cycle.end()
            return
        if self.deadline_kind == BUSY or self.unparsed:
            return  # busy, or part of a head came: its response closes the connection
        state = self.state
        grace = SHUTDOWN_GRACE
        if 0 < state.timeout_keep_alive < grace:
            grace = state.timeout_keep_alive
        self.deadline = min(self.deadline, state.now + grace)

    def close(self) -> None:
        if not self.closed:
            self.deadline_kind = BUSY
            self.transport.close()

    def abort(self, reason: str) -> None:
        """Drop the connection at once (the response cannot be completed correctly)."""
        if not self.closed:
            logger.debug("aborting connection to %s: %s", self.client, reason)
            self.deadline_kind = BUSY
            self.transport.abort()
