"""The HTTP/1.1 protocol core of the server: no I/O, bytes in, request events out.

``RequestReader`` wraps httptools' llhttp parser for one connection (the client's
``client/_http11.py`` is its mirror image). The shell (``_protocol.HTTPProtocol``) calls
``feed(data)`` with what the socket delivered; the reader checks each head, builds the
request with the shell's factory and queues it::

    request = new_request(scope, headers, http11, keep_alive, head_request, expect_100,
                          complete)   # complete: no body follows (RFC 9112 section 6.3)
    queue(request)

and reports the rest, in order, to its ``RequestSink``:

    request_upgrade(scope, tokens) -> bool    an Upgrade request: does the shell take it?
    request_body(request, data)               a piece of the body (chunked or sized)
    request_end(request)                      the body is complete
    request_rejected(status, text, request)   the request is refused (``request``: the one
                                              whose body was being read, or None);
                                              nothing more is read
    upgraded(rest)                            the parser stopped after a taken upgrade

Speed trick: building and queueing through the two callables (the shell's are
``RequestCycle.new`` bound to the shell and ``deque.append``) instead of a sink method that
does both saves a Python frame a request: -0.15 us of ~4.7 us in bench/server_inproc.py
(3%, docs/benchmarks.md, issue 15).

``new_request`` and ``request_upgrade`` may raise ``Reject`` (a limit only the shell knows:
concurrency, a pipelined upgrade); it ends like any other refusal. What the reader
checks itself: the head size and field count (``max_head_size``, ``max_header_count``: 431),
the version (505), exactly one Host (400), CONNECT (501), Expect (417), Transfer-Encoding
other than chunked (501), the request target (400), the body size (``max_body_size``: 413).
llhttp refuses the rest (400): duplicate or invalid Content-Length, Content-Length with
Transfer-Encoding, obs-fold, bad chunk sizes, bare CR/LF, invalid tokens.

Theory of operation (the ``transitions`` table below; a move it lacks raises
``IllegalMove``)::

    IDLE --data--> HEAD --head--> BODY --end--> IDLE      (keep-alive: the next request)
    IDLE/HEAD --whole--> COMPLETE --end--> IDLE          (no body: the head is the request)
    IDLE/HEAD --upgrade--> SWITCHED                       (the shell took the connection)
    IDLE/HEAD/BODY --reject--> REJECTED                   (no more bytes are read)

IDLE means no byte of a next head has been counted. Bytes fed in IDLE or HEAD count toward
``unparsed`` (the head size bound) until a head completes; a head may complete in IDLE too,
when it followed the previous request in one piece of data. An ignored upgrade (h2c that
does not qualify) is served as HTTP/1.1: the parser stops after it anyway, and the reader
goes on with a fresh one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import unquote_to_bytes

import httptools

from vivace.server._machine import State, transitions
from vivace.server._proxy import PROXY_HEADERS, resolve_proxy
from vivace.server._state import ServerState
from vivace.types import Scope

__all__ = [
    "BODY",
    "HEAD",
    "IDLE",
    "REJECTED",
    "SWITCHED",
    "Reject",
    "RequestReader",
    "RequestSink",
    "parse_target",
]

IDLE, HEAD, BODY, COMPLETE, SWITCHED, REJECTED = (
    State("IDLE"),
    State("HEAD"),
    State("BODY"),
    State("COMPLETE"),
    State("SWITCHED"),
    State("REJECTED"),
)
_HEAD_MOVES = {
    "data": HEAD,
    "head": BODY,
    "whole": COMPLETE,
    "upgrade": SWITCHED,
    "reject": REJECTED,
}
transitions(
    "request reader",
    {
        IDLE: _HEAD_MOVES,
        HEAD: {"data": HEAD, **_HEAD_MOVES},
        BODY: {"data": BODY, "end": IDLE, "reject": REJECTED},
        COMPLETE: {"end": IDLE, "reject": REJECTED},  # the shell may refuse the head
        SWITCHED: {"end": SWITCHED},  # llhttp completes the upgrade request, then stops
        REJECTED: {},
    },
)

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
# The ASGI spec versions declared. An HTTP scope says 2.3, not 2.4, though send()
# raises OSError (ClientDisconnected) on a lost connection as 2.4 asks: an app told 2.4
# may stop listening for ``http.disconnect`` and wait for a failed send() instead
# (Starlette's StreamingResponse and FileResponse do), and a client that closes after
# its request is heard by receive() at once (eof_received) but by send() only once a
# write fails, two writes later (docs/server.md, "Clients that leave"): told 2.3,
# a Starlette or FastAPI stream stops when its client leaves, as on uvicorn (which
# declares 2.3), not 2-3 events later. A WebSocket scope says 2.5 (the reason of
# websocket.disconnect, implemented here).
HTTP_ASGI = {"version": "3.0", "spec_version": "2.3"}
WEBSOCKET_ASGI = {"version": "3.0", "spec_version": "2.5"}
# The watched fields a request with a body rarely has: proxy fields and Upgrade. A request
# framed by Content-Length (every POST) has a special field; only these make it look for a
# proxy's client or an upgrade (see the speed tricks in on_headers_complete).
_ROUTING = PROXY_HEADERS | {b"upgrade"}
_TARGETS_MAX = 1024


class Reject(Exception):
    """A request refused with ``status``; raised inside the parser's callbacks (and by
    ``new_request`` or the sink's ``request_upgrade``), reported as ``request_rejected``."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.text = text


class RequestSink(Protocol):
    """What the reader reports to (the connection shell; a list-builder in the tests).
    ``request`` is what ``new_request`` built."""

    def request_upgrade(self, scope: Scope, tokens: set[bytes]) -> bool: ...

    def request_body(self, request: Any, data: bytes) -> None: ...

    def request_end(self, request: Any) -> None: ...

    def request_rejected(self, status: int, text: str, request: Any) -> None: ...

    def upgraded(self, rest: bytes) -> None: ...


def parse_target(url: bytes, state: ServerState) -> tuple[str, bytes, bytes]:
    """Split a request target into ASGI path, raw_path and query_string (RFC 9112 3.2).

    Results are cached per server in ``state.targets`` (url -> (path, raw_path, query)):
    most traffic hits a few URLs. Bounded, so unique URLs cannot grow it without limit.
    """
    root_path = state.root_path
    if b"#" in url:
        # RFC 9112 section 3.2: a request target has no fragment (a client cuts it off,
        # RFC 9110 section 7.1). Refused rather than cut, so that no proxy in front and
        # this server can disagree on which resource "/a#/../b" names.
        raise Reject(400, "Bad request target: a fragment ('#') is not allowed")
    if url[:1] == b"/":
        raw_path, _, query = url.partition(b"?")
    elif url == b"*":  # asterisk-form, OPTIONS * (RFC 9112 section 3.2.4)
        raw_path, query = b"*", b""
    else:  # absolute-form (RFC 9112 section 3.2.2)
        try:
            parsed = httptools.parse_url(url)
        except httptools.HttpParserInvalidURLError:
            raise Reject(400, "Bad request target") from None
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


class RequestReader:
    """Parses and checks the requests of one connection (see the module docstring)."""

    __slots__ = (
        "body_received",
        "building",
        "client",
        "connection_field",
        "headers",
        "host_fields",
        "new_request",
        "parser",
        "queue",
        "routing",
        "scheme",
        "server_state",
        "sink",
        "sink_body",
        "special",
        "state",
        "template",
        "trusted",
        "unparsed",
        "upgrading",
        "url",
    )

    def __init__(
        self,
        server_state: ServerState,
        sink: RequestSink,
        new_request: Callable[..., Any],
        queue: Callable[[Any], None],
        *,
        server: tuple[str, int | None] | None,
        client: tuple[str, int] | None,
        scheme: str,
        trusted: bool,
    ) -> None:
        self.server_state = server_state
        self.sink = sink
        self.new_request = new_request
        self.queue = queue
        # Bound once: ~15 ns a call less than self.sink.request_body(...) each time.
        self.sink_body = sink.request_body
        #: The request whose body is being read (BODY), else None.
        self.building: Any = None
        self.client = client
        self.scheme = scheme
        self.trusted = trusted
        self.state = IDLE
        self.parser = httptools.HttpRequestParser(self)
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.special: list[tuple[bytes, bytes]] = []
        self.routing = False  # a proxy or Upgrade field is among ``special``
        self.host_fields = 0
        self.connection_field = False
        self.unparsed = 0  # bytes fed since the head began: an upper bound of its size
        self.body_received = 0
        self.upgrading = False
        # The scope keys that stay the same for every request on this connection, in
        # scope order: a request's scope is a copy with the per-request keys set, which
        # costs about half as much as building the dict from a literal.
        self.template: dict[str, Any] = {
            "type": "http",
            "asgi": HTTP_ASGI,
            "http_version": "1.1",
            "server": server,
            "client": client,
            "scheme": scheme,
            "method": "GET",
            "root_path": server_state.root_path,
        }

    def feed(self, data: bytes) -> None:
        """Parse bytes from the socket, reporting to the sink as requests take shape."""
        state = self.state
        if state is not BODY:
            self.state = state.data  # AttributeError once rejected or switched
            self.unparsed += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as exc:
            rest = data[exc.args[0] :] if exc.args else b""
            if self.upgrading:
                self.upgrading = False
                self.sink.upgraded(rest)
            else:  # an ignored upgrade: go on as HTTP/1.1 with a fresh parser
                self.parser = httptools.HttpRequestParser(self)
                if rest:
                    self.feed(rest)
            return
        except httptools.HttpParserError as exc:
            context = exc.__context__
            if isinstance(context, Reject):
                self.reject(context.status, context.text)
            elif isinstance(exc, httptools.HttpParserCallbackError):
                raise (context or exc) from None  # a bug in a callback (or the sink)
            else:
                self.reject(400, f"Bad request: {exc}")
            return
        if self.state is HEAD and self.unparsed > self.server_state.max_head_size:
            self.reject(431, "Request header fields too large")

    def reject(self, status: int, text: str) -> None:
        """Refuse the request being read (also the shell's way, for a head deadline)."""
        self.state = self.state.reject
        building = self.building
        self.building = None
        self.sink.request_rejected(status, text, building)

    # -- llhttp callbacks --------------------------------------------------------------

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.state is BODY:
            return  # a trailer field of a chunked request body: not part of the scope
        name = name.lower()
        # RFC 9112 section 5: "field-name ":" OWS field-value OWS"; llhttp drops the
        # leading OWS only. The trailing OWS is removed here, before the app and every
        # framing check see the value (RFC 9110 section 5.5). rstrip returns the same
        # object when there is nothing to strip. Without an argument it strips ASCII
        # whitespace, which in a value llhttp accepts is only SP and HTAB (it refuses VT,
        # FF and bare CR or LF; obs-text is not whitespace to bytes.rstrip): the same
        # result as rstrip(b" \t"), without parsing an argument (timeit: 20.8 -> 15.6 ns).
        value = value.rstrip()
        self.headers.append((name, value))
        if name in _WATCHED:
            if name == b"host":
                self.host_fields += 1
            elif name == b"connection":
                self.connection_field = True
            else:
                self.special.append((name, value))
                if name in _ROUTING:
                    self.routing = True

    def on_headers_complete(self) -> None:
        # The common request takes no step below: each is called behind an inline test
        # of its rare case (a method call costs ~50 ns; this runs once a request).
        url = self.url
        headers = self.headers
        state = self.server_state
        if self.unparsed > state.max_head_size or len(headers) > state.max_header_count:
            self._check_size(url, headers)
        self.unparsed = 0
        self.url = b""
        self.headers = []
        keep_alive = self.parser.should_keep_alive()
        if keep_alive and not self.connection_field:
            # llhttp accepts versions 0.9, 1.0, 1.1 and 2.0, and keeps a connection alive
            # without a Connection field only for 1.1: the version is known without
            # get_http_version(), which formats a new string each time (~170 ns).
            version = "1.1"
            http11 = True
        else:
            version, http11 = self._version()
        if self.host_fields != 1:
            self._check_host(http11)
        self.host_fields = 0
        raw_method = self.parser.get_method()
        method = _METHODS.get(raw_method)
        if method is None:
            method = self._other_method(raw_method)
        target = state.targets.get(url)
        if target is None:
            target = parse_target(url, state)
        path, raw_path, query = target

        expect_100 = False
        framed = False  # a Content-Length or Transfer-Encoding field: a body may follow
        special = self.special
        routing = False
        if special:
            self.special = []
            expect_100, framed = self._check_special(special, http11)
            # Speed trick: a request with a body has a special field (Content-Length), but
            # rarely a proxy or Upgrade field; the flag set in on_header spares it the
            # proxy resolution (a call that finds nothing) and should_upgrade(). With the
            # two calls the shell skips for a body that came with its head (request_body's
            # wake, receive's body_consumed): bench/server_inproc.py "POST /echo" 6.52 ->
            # 6.27 us, the typed "POST /orders" 15.5 -> 15.0 us (docs/benchmarks.md).
            routing = self.routing
            self.routing = False

        scope = self.template.copy()
        if not http11:
            scope["http_version"] = version
        if routing and self.trusted:  # the template's client and scheme are the peer's
            proxy_client, proxy_scheme = resolve_proxy(special, state.trust)
            if proxy_client is not None:
                scope["client"] = proxy_client
            if proxy_scheme is not None:
                scope["scheme"] = proxy_scheme
        scope["method"] = method
        scope["path"] = path
        scope["raw_path"] = raw_path
        scope["query_string"] = query
        scope["headers"] = headers
        scope["state"] = state.lifespan_state.copy()
        scope["extensions"] = _EXTENSIONS.copy()
        # An upgrade needs an Upgrade field (CONNECT is refused above), which sets routing.
        if routing and self.parser.should_upgrade():
            tokens: set[bytes] = set()
            for name, value in special:
                if name == b"upgrade":
                    tokens.update(t.strip().lower() for t in value.split(b","))
            if self.sink.request_upgrade(scope, tokens):
                self.state = self.state.upgrade
                self.upgrading = True
                return  # handed off when the parser stops at the end of this request
        if framed:
            self.state = self.state.head
            self.body_received = 0
        else:
            # No body (RFC 9112 section 6.3): the head is the whole request, and the shell
            # is not called again for its end (a call less for most requests, ~60 ns).
            self.state = self.state.whole
        # The two callables are loaded before the call: ``self.queue(request)`` would be a
        # method lookup that CPython 3.11 cannot specialise for a slot (~6 ns a call).
        new_request = self.new_request
        request = new_request(
            scope, headers, http11, keep_alive, method == "HEAD", expect_100, not framed
        )
        queue = self.queue
        queue(request)
        if framed:
            self.building = request

    def on_body(self, body: bytes) -> None:
        limit = self.server_state.max_body_size
        if limit is not None:
            self.body_received += len(body)
            if self.body_received > limit:
                raise Reject(413, "Request body too large")
        sink_body = self.sink_body  # loaded first, as in on_headers_complete
        sink_body(self.building, body)

    def on_message_complete(self) -> None:
        state = self.state
        self.state = state.end
        if state is BODY:  # not a request reported whole, nor one the shell took over
            request = self.building
            self.building = None
            self.sink.request_end(request)

    # -- the steps of on_headers_complete ------------------------------------------------

    def _check_size(self, url: bytes, headers: list[tuple[bytes, bytes]]) -> None:
        state = self.server_state
        # The raw bytes received since the head began bound its size from above, so the
        # exact size is only added up when that bound is over the limit.
        if (
            self.unparsed > state.max_head_size
            and len(url) + sum(len(n) + len(v) + 4 for n, v in headers) > state.max_head_size
        ):
            raise Reject(431, "Request header fields too large")
        if len(headers) > state.max_header_count:
            raise Reject(431, "Too many request header fields")

    def _version(self) -> tuple[str, bool]:
        """The version of a request with a Connection field or not kept alive."""
        self.connection_field = False
        version: str = self.parser.get_http_version()
        if version == "1.1":
            return version, True
        if version != "1.0":
            raise Reject(505, "HTTP version not supported")
        return version, False

    def _check_host(self, http11: bool) -> None:
        # RFC 9112 section 3.2: an HTTP/1.1 request carries exactly one Host field; two
        # are refused on HTTP/1.0 too, so no proxy and app can disagree on the target.
        if self.host_fields > 1:
            raise Reject(400, "More than one Host header")
        if http11:
            raise Reject(400, "Missing Host header")

    def _other_method(self, raw_method: bytes) -> str:
        if raw_method == b"CONNECT":
            raise Reject(501, "CONNECT is not supported")
        return raw_method.decode("ascii")

    def _check_special(self, special: list[tuple[bytes, bytes]], http11: bool) -> tuple[bool, bool]:
        """Expect, Transfer-Encoding and Content-Length: whether 100-continue is asked,
        and whether the request is framed (a body may follow)."""
        expect_100 = False
        framed = False
        for name, value in special:
            if name == b"expect":
                # RFC 9110 section 10.1.1: 100-continue is the only expectation defined.
                if value.lower() != b"100-continue":
                    raise Reject(417, "Expectation failed")
                expect_100 = http11  # no 1xx responses to HTTP/1.0 clients
            elif name == b"transfer-encoding":
                # RFC 9112 section 6.1: a coding we do not know means we cannot find the
                # end of the body; llhttp has already refused it together with CL.
                if value.lower() != b"chunked":
                    raise Reject(501, "Unsupported transfer coding")
                framed = True
            elif name == b"content-length":
                framed = True
                limit = self.server_state.max_body_size
                if limit is not None and int(value) > limit:
                    raise Reject(413, "Request body too large")
        return expect_100, framed
