"""The HTTP/2 connection: a thin asyncio shell around the sans-IO ``H2Connection``.

Theory of operation. ``data_received`` gives the bytes to the core
(``vivace.http._h2_connection``) and acts on its events: a request head starts an
``H2Exchange`` and the app, DATA feeds the exchange's body, RST_STREAM disconnects it.
Apps that answer in their first step (the usual case) run right there, eagerly, the way
``_protocol`` runs HTTP/1.1 requests (``_driver``: the connection's host Task stands in as
the current task; an app that suspends continues in it, or in a Task of its own when the
host is busy). What they send is queued in the core, and the connection writes once at
the end of the batch: ten requests in one read cost one write. Sends from later loop
iterations are written by one callback per iteration (``wrote``).

How a connection gets here (``HTTPProtocol`` does the detection, ``take_over``): TLS with
ALPN ``h2``; the client preface on a cleartext connection (h2c with prior knowledge); an
HTTP/1.1 ``Upgrade: h2c`` request, which becomes stream 1 (RFC 7540 section 3.2).

Deadlines (checked by the server's sweep): the preface and first SETTINGS within
``timeout_request_head``; an idle connection (no open stream) is closed after
``timeout_keep_alive`` with GOAWAY; a stream whose data waited ``send_stall_timeout`` for
a window is reset; a transport that could not write for that long is dropped; more than
``SEND_BUFFER_CAP`` bytes queued for a peer that does not read drops it too.
Graceful shutdown: GOAWAY (NO_ERROR), streams in flight finish, then the connection closes.
"""

from __future__ import annotations

import asyncio
import logging
from contextvars import copy_context
from time import perf_counter
from types import CoroutineType
from typing import Any

from vivace.http._h2_connection import H2Connection
from vivace.http._h2_events import (
    ConnectionTerminated,
    DataReceived,
    RequestReceived,
    SendReady,
    StreamReset,
    TrailersReceived,
)
from vivace.http._h2_frames import ErrorCode
from vivace.server._cycle import DONE, INIT, STARTED, ends_at_shutdown
from vivace.server._driver import Resume, as_coroutine, enter_task, leave_task
from vivace.server._errors import ClientDisconnected, report_app_error
from vivace.server._h2_stream import SEND_HIGH_WATER, H2Exchange
from vivace.server._h2_websocket import StreamTransport, start_websocket
from vivace.server._http11 import HTTP_ASGI, parse_target
from vivace.server._proxy import is_trusted, resolve_proxy
from vivace.server._state import ServerState
from vivace.types import Scope

__all__ = ["SEND_BUFFER_CAP", "H2Protocol"]

logger = logging.getLogger("vivace.server")

#: A peer that does not read while we owe it this much (control-frame answers, mostly)
#: is dropped (CVE-2019-9512/-9515: floods that make us queue replies).
SEND_BUFFER_CAP = 4 * 1024 * 1024
#: The DATA queued in the transport's buffer at most (``flush``): more waits in the core
#: until the socket takes what is there (a window the peer opened is no reason to hold a
#: whole response in memory).
SEND_DATA_ROOM = 1024 * 1024
_RETURNED: Any = object()
_METHODS = {
    m.encode(): m for m in ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE")
}
_PROXY_FIELDS = frozenset((b"forwarded", b"x-forwarded-for", b"x-forwarded-proto"))
_EXTENSIONS: dict[str, dict[str, Any]] = {
    "http.response.pathsend": {},
    "http.response.trailers": {},
    "http.response.early_hint": {},
}
PREFACE, OPEN, IDLE = range(3)
_TEXTS = {
    400: b"Bad request",
    413: b"Request body too large",
    426: b"Upgrade required",
    500: b"Internal server error",
    501: b"Not implemented",
}


class H2Protocol(asyncio.Protocol):
    """One HTTP/2 connection (server side)."""

    __slots__ = (
        "app",
        "client",
        "closed",
        "core",
        "deadline",
        "deadline_kind",
        "done",
        "exchanges",
        "flush_scheduled",
        "handoff",
        "host",
        "host_busy",
        "loop",
        "receiving",
        "scheme",
        "server",
        "starting",
        "state",
        "tasks",
        "template",
        "transport",
        "trusted",
        "websockets",
        "write_paused",
        "write_paused_at",
    )

    def __init__(self, state: ServerState) -> None:
        self.state = state
        self.loop = state.loop
        self.app = state.app
        self.core = H2Connection(client=False, limits=state.h2_limits or state.config.h2_limits())
        self.exchanges: dict[int, H2Exchange] = {}
        #: WebSockets over HTTP/2 (RFC 8441), by stream (``_h2_websocket``).
        self.websockets: dict[int, StreamTransport] = {}
        self.closed = False
        self.receiving = False
        #: Requests with a body, started once the rest of their read is handled (``_handle``).
        self.starting: list[H2Exchange] = []
        self.flush_scheduled = False
        self.write_paused = False
        self.write_paused_at = 0.0
        self.host_busy = False
        self.tasks: set[asyncio.Task[None]] = set()

    # -- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.take_over(transport)  # type: ignore[arg-type]

    def take_over(
        self,
        transport: asyncio.Transport,
        data: bytes = b"",
        upgrade: tuple[Scope, bytes] | None = None,
    ) -> None:
        """Start on ``transport``; ``data`` came already (after the detected preface, or
        after an ``Upgrade: h2c`` request, whose scope and HTTP2-Settings are ``upgrade``)."""
        self.transport = transport
        state = self.state
        state.connections.add(self)
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
        self.template: dict[str, Any] = {
            "type": "http",
            "asgi": HTTP_ASGI,
            "http_version": "2",
            "server": self.server,
            "client": self.client,
            "scheme": self.scheme,
            "method": "GET",
            "root_path": state.root_path,
        }
        self.deadline = state.now + state.timeout_request_head
        self.deadline_kind = PREFACE
        self.handoff: asyncio.Future[Any] = self.loop.create_future()
        self.done: asyncio.Future[None] = self.loop.create_future()
        self.done.set_result(None)
        self.host = self.loop.create_task(self._host_main())
        core = self.core
        if upgrade is not None:
            scope, settings = upgrade
            core.initiate(upgrade_settings=settings)
            self._start_upgraded(scope)
        else:
            core.initiate()
        self.flush()
        if data:
            self.data_received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.state.connections.discard(self)
        for exchange in list(self.exchanges.values()):
            exchange.on_disconnect()
        for websocket in list(self.websockets.values()):
            websocket.on_disconnect()
        if not self.host_busy:
            self.host.cancel()

    def eof_received(self) -> bool | None:
        return None  # HTTP/2 has no half-close at the connection level: done

    def pause_writing(self) -> None:
        self.write_paused = True
        self.write_paused_at = self.state.now

    def resume_writing(self) -> None:
        self.write_paused = False
        if self.core.data_held:
            self.flush()  # the DATA that waited for room in the buffer
        for exchange in list(self.exchanges.values()):
            self._maybe_release(exchange)

    def data_received(self, data: bytes) -> None:
        if self.closed:
            return
        self.receiving = True
        try:
            self._handle(self.core.receive(data))
        finally:
            self.receiving = False
        self.flush()

    # -- events ----------------------------------------------------------------------------

    def _handle(self, events: list[Any]) -> None:
        exchanges = self.exchanges
        for event in events:
            kind = type(event)
            if kind is RequestReceived:
                self._on_request(event)
            elif kind is DataReceived:
                exchange = exchanges.get(event.stream_id)
                if exchange is not None:
                    self._on_data(exchange, event)
                elif event.stream_id in self.websockets:
                    self.websockets[event.stream_id].on_data(event.data, event.end_stream)
                else:  # the response is complete; nobody reads this body
                    self.core.acknowledge(event.stream_id, len(event.data))
            elif kind is TrailersReceived:
                exchange = exchanges.get(event.stream_id)
                if exchange is not None:
                    exchange.on_data(b"", True)
            elif kind is StreamReset:
                exchange = exchanges.pop(event.stream_id, None)
                if exchange is not None:
                    exchange.on_disconnect()
                websocket = self.websockets.pop(event.stream_id, None)
                if websocket is not None:
                    websocket.on_disconnect()
            elif kind is SendReady:
                exchange = exchanges.get(event.stream_id)
                if exchange is not None:
                    self._maybe_release(exchange)
                elif event.stream_id in self.websockets:
                    self.websockets[event.stream_id].resume()
            elif kind is ConnectionTerminated:
                self._on_terminated(event)
        starting = self.starting
        if starting:
            # A request with a body starts after the DATA frames that came in the same read
            # (most small bodies do): its app finds the body whole (``received_body()``, or
            # ``receive()`` without waiting) and answers in its first step, instead of
            # suspending on its first receive().
            self.starting = []
            for exchange in starting:
                self._run(exchange)
        if self.deadline_kind == PREFACE and self.core.settings_received:
            self.deadline_kind = OPEN
        if self.exchanges or self.websockets:
            self.deadline_kind = OPEN

    def _on_terminated(self, event: ConnectionTerminated) -> None:
        if event.remote:
            # The client is leaving: its streams up to last_stream_id may finish.
            if not self.exchanges and not self.websockets:
                self.close()
            return
        logger.info(
            "HTTP/2 connection error from %s: %s",
            self.client,
            event.debug.decode("utf-8", "replace"),
        )
        for exchange in list(self.exchanges.values()):
            exchange.on_disconnect()
        self.exchanges.clear()
        for websocket in list(self.websockets.values()):
            websocket.on_disconnect()
        self.flush()
        self.close()

    def _on_data(self, exchange: H2Exchange, event: DataReceived) -> None:
        data = event.data
        limit = self.state.max_body_size
        if limit is not None:
            exchange.received += len(data)
            if exchange.received > limit:
                self._too_large(exchange)
                return
        exchange.on_data(data, event.end_stream)

    def _too_large(self, exchange: H2Exchange) -> None:
        """413 if the response has not started (then NO_ERROR, RFC 9113 8.1), else reset."""
        stream_id = exchange.stream_id
        self.exchanges.pop(stream_id, None)
        exchange.on_disconnect()
        core = self.core
        if exchange.state == INIT and stream_id in core.streams:
            exchange.state = INIT.abandon
            self.simple(stream_id, 413)
        else:
            core.reset_stream(stream_id, ErrorCode.CANCEL)
        self.wrote()

    def simple(
        self, stream_id: int, status: int, extra: list[tuple[bytes, bytes]] | None = None
    ) -> None:
        """A plain-text error response the server writes itself."""
        body = _TEXTS.get(status, b"Service unavailable")
        fields = [
            (b":status", b"%d" % status),
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", b"%d" % len(body)),
            *(extra or ()),
        ]
        core = self.core
        core.send_headers(stream_id, fields)
        core.send_data(stream_id, body, end_stream=True)
        if stream_id in core.streams:  # the request body is not needed (RFC 9113 8.1)
            core.reset_stream(stream_id, ErrorCode.NO_ERROR)

    def _on_request(self, event: RequestReceived) -> None:
        state = self.state
        pseudo = event.pseudo
        stream_id = event.stream_id
        stream = self.core.streams.get(stream_id)
        if stream is None:  # reset by a later frame of the same read (rapid reset)
            return
        raw_method = pseudo[b":method"]
        method = _METHODS.get(raw_method)
        if method is None:
            if raw_method == b"CONNECT" and b":protocol" not in pseudo:
                self.simple(stream_id, 501)  # a tunnel (RFC 9113 8.5): not served
                return
            method = raw_method.decode("latin-1")
        url = pseudo[b":path"]
        # 8.3.1: origin-form or asterisk only; like HTTP/1.1, no fragment (parse_target).
        if (url[:1] != b"/" and url != b"*") or b"#" in url:
            self.simple(stream_id, 400)
            return
        target = state.targets.get(url)
        if target is None:
            target = parse_target(url, state)
        headers = event.headers
        authority = pseudo.get(b":authority")
        if authority is not None:
            for name, _ in headers:
                if name == b"host":
                    break
            else:
                headers.insert(0, (b"host", authority))
        limit = state.max_body_size
        if (
            limit is not None
            and stream.content_length is not None
            and stream.content_length > limit
        ):
            self.simple(stream_id, 413)
            return
        limit = state.limit_concurrency
        if limit is not None and (state.active >= limit or len(state.connections) > limit):
            self.simple(stream_id, 503)
            return
        scope = self.template.copy()
        if self.trusted:
            special = [pair for pair in headers if pair[0] in _PROXY_FIELDS]
            if special:
                proxy_client, proxy_scheme = resolve_proxy(special, state.trust)
                if proxy_client is not None:
                    scope["client"] = proxy_client
                if proxy_scheme is not None:
                    scope["scheme"] = proxy_scheme
        scope["method"] = method
        scope["path"], scope["raw_path"], scope["query_string"] = target
        scope["headers"] = headers
        scope["state"] = state.lifespan_state.copy()
        scope["extensions"] = _EXTENSIONS.copy()
        if raw_method == b"CONNECT":  # extended CONNECT (RFC 8441)
            if not start_websocket(self, event, scope):
                self.simple(stream_id, 501)
            return
        exchange = H2Exchange(self, stream_id, scope, headers, method == "HEAD", event.end_stream)
        access = state.access
        if access is not None and access.needs_duration:
            exchange.started_at = perf_counter()
        self.exchanges[stream_id] = exchange
        if event.end_stream:
            self._run(exchange)
        else:
            self.starting.append(exchange)  # see _handle

    def _start_upgraded(self, scope: Scope) -> None:
        """The HTTP/1.1 request of an h2c upgrade, as stream 1 (half-closed, remote)."""
        core = self.core
        stream = core.open_remote(1)
        stream.recv_closed = True
        scope = dict(scope)
        scope["http_version"] = "2"
        headers = [
            pair
            for pair in scope["headers"]
            if pair[0] not in (b"connection", b"upgrade", b"http2-settings")
        ]
        scope["headers"] = headers
        exchange = H2Exchange(self, 1, scope, headers, scope["method"] == "HEAD", True)
        self.exchanges[1] = exchange
        self.deadline_kind = OPEN
        self._run(exchange)

    # -- running apps ----------------------------------------------------------------------

    def _run(self, exchange: H2Exchange) -> None:
        """Start the app for one exchange: its first step eagerly when the host is free."""
        state = self.state
        try:
            coro = self.app(exchange.scope, exchange.receive, exchange.send)
            if type(coro) is not CoroutineType:
                coro = as_coroutine(coro)
        except BaseException as exc:
            state.active += 1
            self._app_done(exchange, exc)
            return
        context = copy_context()
        loop = self.loop
        if not self.host_busy:
            host = self.host
            try:
                enter_task(loop, host)
            except RuntimeError:  # already inside a Task (a test driving the protocol)
                pass
            else:
                try:
                    yielded = context.run(next, coro.__await__(), _RETURNED)
                except BaseException as exc:
                    leave_task(loop, host)
                    state.active += 1
                    self._app_done(exchange, exc)
                    return
                leave_task(loop, host)
                state.active += 1
                if yielded is _RETURNED:
                    self._app_done(exchange, None)
                    return
                self.host_busy = True
                self.handoff.set_result((exchange, coro, context, yielded))
                return
        state.active += 1
        task = loop.create_task(self._run_task(exchange, coro), context=context)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _run_task(self, exchange: H2Exchange, coro: Any) -> None:
        try:
            await coro
        except BaseException as exc:
            self._app_done(exchange, exc)
        else:
            self._app_done(exchange, None)

    async def _host_main(self) -> None:
        """The connection's host Task: drives app coroutines that suspended (``_driver``)."""
        task = asyncio.current_task()
        assert task is not None
        while True:
            handoff = self.handoff
            throw: BaseException | None = None
            try:
                exchange, coro, context, yielded = await handoff
            except asyncio.CancelledError as exc:
                if not handoff.done() or handoff.cancelled():
                    self.host_busy = True
                    return
                exchange, coro, context, yielded = handoff.result()
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
            self._app_done(exchange, error)
            if self.closed:
                return

    def _app_done(self, exchange: H2Exchange, error: BaseException | None) -> None:
        """The app returned or raised: check it answered, clean up."""
        self.state.active -= 1
        response_state = exchange.state
        if error is not None:
            report_app_error(error, exchange.disconnected)
        elif response_state != DONE and not exchange.disconnected and not exchange.ending:
            logger.error(
                "ASGI app returned without %s the response",
                "starting" if response_state in (INIT, STARTED) else "completing",
            )
        if response_state != DONE:
            exchange.state = response_state.abandon
            exchange.wake()
            stream_id = exchange.stream_id
            if self.exchanges.pop(stream_id, None) is not None and not self.closed:
                if exchange.ending and error is None:  # stopped at shutdown: cut, no error
                    self.core.reset_stream(stream_id, ErrorCode.CANCEL)
                elif response_state in (INIT, STARTED) and stream_id in self.core.streams:
                    self.simple(stream_id, 500)
                else:
                    self.core.reset_stream(stream_id, ErrorCode.INTERNAL_ERROR)
                self.wrote()
            self._maybe_idle()
        if error is not None and not isinstance(error, (Exception, asyncio.CancelledError)):
            raise error  # KeyboardInterrupt, SystemExit

    def response_complete(self, exchange: H2Exchange) -> None:
        """Called by the exchange once its last frame is queued."""
        state = self.state
        access = state.access
        if access is not None:
            scope = exchange.scope
            access.log(
                scope["client"],
                scope["method"],
                scope["raw_path"],
                scope["query_string"],
                "2",
                exchange.status,
                exchange.sent,
                perf_counter() - exchange.started_at if access.needs_duration else 0.0,
                exchange.headers,
            )
        stream_id = exchange.stream_id
        self.exchanges.pop(stream_id, None)
        if not exchange.body_done and stream_id in self.core.streams:
            # The request body is not needed any more (RFC 9113 section 8.1).
            self.core.reset_stream(stream_id, ErrorCode.NO_ERROR)
            self.wrote()
        limit = state.limit_max_requests
        if limit is not None:
            state.requests += 1
            if state.requests >= limit and state.on_limit_max_requests is not None:
                state.on_limit_max_requests()
        self._maybe_idle()

    def _maybe_idle(self) -> None:
        if self.exchanges or self.websockets:
            return
        core = self.core
        if core.local_goaway is not None or core.remote_goaway is not None:
            if not core.streams or core.closed or self.state.shutting_down:
                self.flush()
                self.close()
            return
        self.deadline = self.state.now + self.state.timeout_keep_alive
        self.deadline_kind = IDLE

    # -- writing ---------------------------------------------------------------------------

    def flush(self) -> None:
        """Write what the core queued, then let it frame as much DATA as the transport's
        buffer has room for (``SEND_DATA_ROOM``): DATA the peer's windows allow but the
        socket has not taken waits in the core, and goes when the buffer drains
        (``resume_writing``). Without that bound a response that fit a browser's or curl's
        windows (megabytes) went into the buffer whole, past ``SEND_BUFFER_CAP``, and the
        connection was aborted mid-body."""
        self.flush_scheduled = False
        core = self.core
        transport = self.transport
        while not self.closed:
            data = core.data_to_send()
            if data:
                transport.write(data)
            room = SEND_DATA_ROOM - transport.get_write_buffer_size()
            if room < SEND_DATA_ROOM - SEND_BUFFER_CAP:
                self.abort("the peer does not read what it asks for")
                return
            if not core.data_held or room <= 0:
                core.data_allowance = room if room > 0 else 0
                return
            core.allow_data(room)  # frames the held DATA: SendReady for those streams
            self._handle(core.take_events())

    def wrote(self) -> None:
        """Something was queued: write it at the end of this batch or loop iteration."""
        if not self.receiving and not self.flush_scheduled:
            self.flush_scheduled = True
            self.loop.call_soon(self.flush)

    def consumed(self, stream_id: int, size: int) -> None:
        """The app took ``size`` bytes of a request body: reopen the windows."""
        self.core.acknowledge(stream_id, size)
        self.wrote()

    def reset(self, stream_id: int, code: int) -> None:
        self.exchanges.pop(stream_id, None)
        if stream_id in self.core.streams:
            self.core.reset_stream(stream_id, code)
            self.wrote()

    def backpressure(self, exchange: H2Exchange) -> asyncio.Future[None]:
        """What ``send`` returns: done, or a wait until the stream's data drains."""
        if not self.write_paused and self.core.pending_size(exchange.stream_id) <= SEND_HIGH_WATER:
            return self.done
        if self.closed or exchange.disconnected:
            raise ClientDisconnected("client disconnected")
        waiter = exchange.drain_waiter
        if waiter is None or waiter.done():
            waiter = exchange.drain_waiter = self.loop.create_future()
        return waiter

    def _maybe_release(self, exchange: H2Exchange) -> None:
        waiter = exchange.drain_waiter
        if (
            waiter is not None
            and not self.write_paused
            and self.core.pending_size(exchange.stream_id) <= SEND_HIGH_WATER
        ):
            exchange.drain_waiter = None
            if not waiter.done():
                waiter.set_result(None)

    # -- deadlines, shutdown ---------------------------------------------------------------

    def postpone(self, seconds: float) -> None:
        """Move the deadlines back: the server's loop was stalled this long (``sweep``)."""
        self.deadline += seconds
        if self.write_paused:
            self.write_paused_at += seconds

    def check_deadline(self, now: float) -> None:
        """Called by the server's sweep once a tick."""
        if self.closed:
            return
        if self.write_paused and now - self.write_paused_at > self.core.limits.send_stall_timeout:
            self.abort("write timed out")
            return
        kind = self.deadline_kind
        if kind != OPEN and now >= self.deadline and not self.exchanges and not self.websockets:
            if kind == IDLE:
                self.core.goaway(ErrorCode.NO_ERROR)
                self.flush()
            self.close()
            return
        core = self.core
        core.check_stalls(core.limits.send_stall_timeout)
        events = core.take_events()
        if events:
            self._handle(events)
            self.flush()

    def shutdown(self) -> None:
        """Graceful shutdown: GOAWAY now; close once the streams in flight are done."""
        if self.closed:
            return
        if self.core.local_goaway is None:
            self.core.goaway(ErrorCode.NO_ERROR)
        for exchange in list(self.exchanges.values()):
            # SSE streams and long-polls stop; other responses finish (ends_at_shutdown)
            if ends_at_shutdown(exchange):
                exchange.end()
        self.flush()
        if not self.exchanges and not self.websockets:
            self.close()

    def close(self) -> None:
        if not self.closed:
            self.flush()
            self.closed = True
            self.state.connections.discard(self)
            self.transport.close()

    def abort(self, reason: str) -> None:
        if not self.closed:
            logger.debug("aborting HTTP/2 connection to %s: %s", self.client, reason)
            self.closed = True
            self.state.connections.discard(self)
            self.transport.abort()
