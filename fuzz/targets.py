"""The fuzz targets: one function per parser or decoder, ``target(data: bytes) -> None``.

Each target feeds ``data`` to one parser and checks properties, not only "no crash":

* only the exceptions the parser documents escape (anything else is a bug, and the
  fuzzer reports it as a crash);
* what comes out is well formed (types, bounds, limits honoured);
* round trips hold where the module has both directions: ``parse(render(x)) == x``;
* where a parser is incremental, feeding the input in pieces gives what feeding it whole
  gives (the first byte of the input picks where it is cut).

Time and memory per input are bounded by the runner (``fuzz/run.py``), not here.
A violated property raises ``AssertionError``, which atheris reports with the input.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

__all__ = ["TARGETS"]

Target = Callable[[bytes], None]
TARGETS: dict[str, Target] = {}


def target(func: Target) -> Target:
    TARGETS[func.__name__] = func
    return func


def _cuts(data: bytes) -> tuple[int, bytes, list[bytes]]:
    """(control byte, payload, the payload cut into pieces): the control byte picks cuts."""
    if not data:
        return 0, b"", []
    control, payload = data[0], data[1:]
    step = (control % 7) + 1
    if control & 0x80 or not payload:
        return control, payload, [payload]
    size = max(1, len(payload) // step)
    return control, payload, [payload[i : i + size] for i in range(0, len(payload), size)]


def _text(payload: bytes) -> str:
    return payload.decode("utf-8", "ignore")


# -- the server's HTTP/1.1 request path ------------------------------------------------


class _Transport(asyncio.Transport):
    """A transport with no socket: records writes, close and abort."""

    def __init__(self) -> None:
        super().__init__()
        self.data = bytearray()
        self.closed = False
        self.protocol: Any = None

    def write(self, data: Any) -> None:
        assert not self.closed, "the protocol wrote after closing its transport"
        self.data += data

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("10.0.0.1", 5000)}.get(name)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            asyncio.get_running_loop().call_soon(self.protocol.connection_lost, None)

    def abort(self) -> None:
        self.close()

    def is_closing(self) -> bool:
        return self.closed

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def set_protocol(self, protocol: Any) -> None:
        self.protocol = protocol

    def get_protocol(self) -> Any:
        return self.protocol

    def get_write_buffer_size(self) -> int:
        return 0


def serve_bytes(
    loop: asyncio.AbstractEventLoop, state: Any, pieces: list[bytes]
) -> tuple[Any, _Transport]:
    """Feed ``pieces`` to a new ``HTTPProtocol`` on ``state``; run the loop until the app
    has answered what it can; close the connection. Returns protocol and transport."""
    from vivace.server import HTTPProtocol

    transport = _Transport()
    protocol = HTTPProtocol(state)
    transport.protocol = protocol

    async def drive() -> None:
        protocol.connection_made(transport)
        for piece in pieces:
            if transport.closed:
                break
            protocol.data_received(piece)
            await asyncio.sleep(0)
        for _ in range(20):  # let the app answer what it can
            await asyncio.sleep(0)
        if not transport.closed:
            transport.close()
        for _ in range(5):
            await asyncio.sleep(0)

    loop.run_until_complete(drive())
    return protocol, transport


class _Errors(logging.Handler):
    """Counts records at ERROR and above: a request must never cause one."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


_server: dict[str, Any] = {}
# Statuses the server itself answers a request with (the app below answers 200).
_SERVER_STATUSES = {100, 200, 400, 408, 413, 417, 426, 431, 501, 503, 505}


async def _echo_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break  # the client left: answer anyway (the server drops it quietly)
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    # No body for HEAD: its Content-Length would then announce bytes that never come,
    # and the response reader here cannot know which request a response answers.
    answer = b"" if scope["method"] == "HEAD" else b"%d" % len(body)
    await send({"type": "http.response.body", "body": answer})


def _server_setup() -> dict[str, Any]:
    if not _server:
        from vivace.server import Config
        from vivace.server._state import ServerState

        loop = asyncio.new_event_loop()
        errors = _Errors()
        logging.getLogger("vivace").addHandler(errors)
        loop.set_exception_handler(lambda _loop, context: errors.records.append(context))  # type: ignore[arg-type]
        config = Config(
            _echo_app,
            access_log=False,
            max_body_size=1 << 16,
            proxy_headers=True,
            forwarded_allow_ips="*",
        )
        state = ServerState(config, _echo_app, loop)
        _server.update(loop=loop, errors=errors, state=state)
    return _server


def _read_responses(data: bytes) -> list[int]:
    import httptools

    statuses: list[int] = []

    class Reader:
        def on_headers_complete(self) -> None:
            statuses.append(parser.get_status_code())

    parser = httptools.HttpResponseParser(Reader())
    parser.feed_data(data)  # raises if we wrote a malformed response
    return statuses


@target
def http11_server(data: bytes) -> None:
    """Bytes into the HTTP/1.1 protocol core (through a socketless transport)."""
    setup = _server_setup()
    loop: asyncio.AbstractEventLoop = setup["loop"]
    errors: _Errors = setup["errors"]
    state = setup["state"]
    state.targets.clear()
    _, _, pieces = _cuts(data)
    protocol, transport = serve_bytes(loop, state, pieces)
    assert not errors.records, errors.records
    written = bytes(transport.data)
    # h2c prior knowledge: once 4 bytes came, the server compares what it has with the
    # preface; HTTP/2 from there if they match (an invalid rest of the preface then gets
    # HTTP/2's GOAWAY: the h2_frames target's job).
    first = b""
    for piece in pieces:
        first += piece
        if len(first) >= 4:
            break
    if len(first) >= 4 and first[:24] == _PREFACE[: len(first[:24])]:
        assert not written or written[3] == 4, written[:20]  # our SETTINGS frame first
        return
    statuses = _read_responses(written)
    assert all(s in _SERVER_STATUSES for s in statuses), statuses
    assert protocol.closed and protocol not in state.connections
    assert state.active == 0, "a request is still counted as active"
    assert not protocol.tasks or all(t.done() for t in protocol.tasks)


# -- the client's response parser -----------------------------------------------------


@target
def http11_client(data: bytes) -> None:
    """A server's bytes into the client's response reader, then EOF."""
    from vivace.client._exceptions import RemoteProtocolError
    from vivace.client._http11 import ResponseReader

    control, payload, pieces = _cuts(data)
    reader = ResponseReader(max_header_size=4096)
    reader.start(head_request=bool(control & 0x40))
    try:
        for piece in pieces:
            reader.feed(piece)
            if reader.complete:
                break
        if not reader.complete:
            reader.feed_eof()
    except RemoteProtocolError:
        return
    assert reader.complete
    assert 200 <= reader.status <= 999, reader.status
    assert sum(len(c) for c in reader.chunks) <= len(payload)
    assert sum(len(n) + len(v) for n, v in reader.headers) <= 4096
    assert all(n == n.lower() for n, _ in reader.headers)


# -- WebSocket frames, both sides -------------------------------------------------------


def _websocket(data: bytes, client: bool) -> None:
    from vivace.http import WebSocketClosed, WebSocketCore, WebSocketPing, WebSocketPong

    limit = 4096
    _, payload, pieces = _cuts(data)
    core = WebSocketCore(client=client, max_message_size=limit)
    events: list[Any] = []
    for piece in pieces:
        events += core.receive_data(piece)
        core.data_to_send()
    events += core.receive_eof()
    closed = [e for e in events if isinstance(e, WebSocketClosed)]
    assert len(closed) == 1 and events[-1] is closed[0], events  # exactly one, last
    assert core.closed
    for event in events[:-1]:
        if isinstance(event, str | bytes):
            assert len(event.encode() if isinstance(event, str) else event) <= limit
        else:
            assert isinstance(event, WebSocketPing | WebSocketPong), event
            assert len(event.data) <= 125  # RFC 6455 5.5: control frames are short
    assert 1000 <= closed[0].code <= 4999, closed[0]
    # Round trip: the message the payload makes, sent by the other side, arrives whole.
    peer, me = WebSocketCore(client=not client), WebSocketCore(client=client)
    text = _text(payload[:limit])
    assert me.receive_data(peer.send_text(text)) == [text]
    assert me.receive_data(peer.send_bytes(payload[:limit])) == [payload[:limit]]


@target
def websocket_server(data: bytes) -> None:
    """A client's frames into the server side (frames must be masked)."""
    _websocket(data, client=False)


@target
def websocket_client(data: bytes) -> None:
    """A server's frames into the client side (frames must not be masked)."""
    _websocket(data, client=True)


# -- forms ------------------------------------------------------------------------------


@target
def multipart(data: bytes) -> None:
    """A multipart/form-data body, in pieces; then a body rendered from it round-trips."""
    from vivace.http import FormError, MultipartParser, PartData, PartEnd, PartStart

    _, payload, pieces = _cuts(data)
    parser = MultipartParser(b"b0undary", max_parts=20, max_field_size=2048, max_file_size=4096)
    events: list[Any] = []
    try:
        for piece in pieces:
            events += parser.feed(piece)
        events += parser.close()
    except FormError:
        pass
    else:
        assert parser.done
    inside = False
    size = 0
    parts = 0
    for event in events:
        if isinstance(event, PartStart):
            assert not inside
            inside, size, parts = True, 0, parts + 1
        elif isinstance(event, PartData):
            assert inside
            size += len(event.data)
            assert size <= 4096
        else:
            assert isinstance(event, PartEnd) and inside
            inside = False
    assert parts <= 20
    # Round trip: fields made from the payload, rendered, parsed back.
    values = [v for v in payload.split(b"|")[:5] if b"--b0undary" not in v]
    body = b"".join(
        b'--b0undary\r\nContent-Disposition: form-data; name="f%d"\r\n\r\n%s\r\n' % (i, v)
        for i, v in enumerate(values)
    )
    body += b"--b0undary--\r\n"
    parser = MultipartParser(b"b0undary", max_field_size=1 << 20)
    got: list[bytes] = []
    for event in parser.feed(body) + parser.close():
        if isinstance(event, PartStart):
            assert event.name == f"f{len(got)}", event.name
            got.append(b"")
        elif isinstance(event, PartData):
            got[-1] += event.data
    assert got == values, (got, values)


@target
def urlencoded(data: bytes) -> None:
    """A urlencoded body: in pieces equals whole; ``parse(urlencode(pairs)) == pairs``."""
    from vivace.http import FormLimitExceeded, UrlencodedParser

    _, payload, pieces = _cuts(data)

    def parse(chunks: list[bytes]) -> list[tuple[str, str]] | str:
        parser = UrlencodedParser(max_fields=50, max_field_size=1024)
        out: list[tuple[str, str]] = []
        try:
            for chunk in chunks:
                out += parser.feed(chunk)
            out += parser.close()
        except FormLimitExceeded as exc:
            return str(exc.limit)  # type: ignore[attr-defined]
        assert all(isinstance(n, str) and isinstance(v, str) for n, v in out)
        return out

    whole = parse([payload])
    if isinstance(whole, list):
        assert parse(pieces) == whole
        assert len(whole) <= 50
    text = _text(payload)
    pairs = [(k, v) for k, _, v in (p.partition("=") for p in text.split("\n")[:10])]
    back = parse([urlencode(pairs).encode()])
    assert back == pairs or back == "max_field_size", (back, pairs)


# -- cookies ----------------------------------------------------------------------------


@target
def cookies(data: bytes) -> None:
    """Cookie and Set-Cookie headers; a formatted Set-Cookie parses back to its value."""
    from vivace.http import (
        InvalidCookie,
        format_set_cookie,
        is_token,
        parse_cookie_header,
        parse_set_cookie,
    )

    text = data.decode("latin-1")
    parsed = parse_cookie_header(text)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in parsed.items())
    cookie = parse_set_cookie(text, now=1_000_000.0)
    if cookie is not None:
        assert cookie.name and isinstance(cookie.value, str)
        assert cookie.path is None or cookie.path.startswith("/")
        assert cookie.domain is None or not cookie.domain.startswith(".")
        assert cookie.samesite in (None, "lax", "strict", "none"), cookie.samesite
    name, _, value = _text(data).partition("=")
    try:
        header = format_set_cookie(name, value, max_age=60)
    except InvalidCookie:
        assert not is_token(name) or "\x7f" in value or any(ord(c) < 32 for c in value)
        return
    assert "\r" not in header and "\n" not in header and "\x00" not in header
    back = parse_set_cookie(header, now=0.0)
    assert back is not None and back.name == name and back.expires == 60.0, (header, back)
    assert parse_cookie_header(header.partition(";")[0]) == {name: value}, header


# -- URLs and query strings -------------------------------------------------------------


@target
def urls(data: bytes) -> None:
    """URL parsing, query strings and their round trip."""
    from vivace.http import URL, InvalidURL, QueryParams

    text = _text(data)
    try:
        url = URL(text)
        parts = (url.scheme, url.netloc, url.path, url.query, url.fragment)
        port = url.port
        assert port is None or 0 <= port <= 65535
        assert all(isinstance(p, str) for p in parts)
        str(url.query_params)
    except InvalidURL:
        pass
    params = QueryParams(data)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in params.multi_items())
    again = QueryParams(str(params))
    assert again.multi_items() == params.multi_items(), (params, again)
    pairs = [(k, v) for k, _, v in (p.partition("=") for p in text.split("\n")[:10])]
    assert QueryParams(str(QueryParams(pairs))).multi_items() == pairs


# -- Range and conditional headers ------------------------------------------------------


@target
def range_conditional(data: bytes) -> None:
    """Range, If-None-Match / If-Match and HTTP dates."""
    from vivace.http import format_http_date, parse_http_date
    from vivace.web._fileresponse import MAX_RANGES, parse_range_header, weak_etag_match

    control, payload, _ = _cuts(data)
    text = payload.decode("latin-1")
    size = (control * 37) % 5000
    ranges = parse_range_header(text, size)
    if ranges is not None:
        previous = -1
        for start, end in ranges:
            assert 0 <= start < end <= size, (start, end, size)
            assert start > previous  # sorted, merged: no overlap, no adjacency
            previous = end
        assert len(ranges) <= 100 and MAX_RANGES > 0
    weak_etag_match('"abc"', text)
    weak_etag_match('W/"abc"', text)
    assert weak_etag_match('"abc"', text + ', "abc"')
    stamp = parse_http_date(text)
    if stamp is not None:
        assert isinstance(stamp, float | int)
    when = int.from_bytes(payload[:4].ljust(4, b"\0"), "big")
    assert parse_http_date(format_http_date(when)) == when


# -- proxy headers ----------------------------------------------------------------------


@target
def proxy_headers(data: bytes) -> None:
    """Forwarded / X-Forwarded-* from a trusted peer: a sane client and scheme, or none."""
    from vivace.server._proxy import resolve_proxy

    names = (b"forwarded", b"x-forwarded-for", b"x-forwarded-proto")
    headers = [(names[(line[:1] or b"\0")[0] % 3], line[1:]) for line in data.split(b"\n")[:8]]
    trusts: list[Any] = [
        (True, (), frozenset()),
        (False, (ipaddress.ip_network("10.0.0.0/8"),), frozenset({"unix:"})),
    ]
    for trust in trusts:
        client, scheme = resolve_proxy(headers, trust)
        assert scheme in (None, "http", "https", "ws", "wss"), scheme
        if client is not None:
            host, port = client
            assert isinstance(host, str) and host
            assert 0 <= port <= 99999 and isinstance(port, int)


# -- vivace.schema's JSON decoding ------------------------------------------------------

_schemas: dict[str, Any] = {}


def _schema() -> Any:
    if not _schemas:
        from typing import Annotated

        from vivace.schema import Field, Schema

        class Tag(Schema):
            name: Annotated[str, Field(max_length=20)]
            weight: float = 1.0

        class Item(Schema):
            id: int
            title: Annotated[str, Field(min_length=1, max_length=200)]
            price: Annotated[float, Field(ge=0)] = 0.0
            tags: list[Tag] | None = None
            extra: dict[str, int] | None = None

        _schemas["Item"] = Item
    return _schemas["Item"]


@target
def schema_json(data: bytes) -> None:
    """JSON into a schema: an instance or ValidationError; a valid one round-trips."""
    from vivace.schema import ValidationError

    item_type = _schema()
    try:
        item = item_type.validate_json(data)
    except ValidationError as exc:
        errors = exc.errors()
        assert errors and all("loc" in e and "code" in e for e in errors)
        return
    assert isinstance(item, item_type)
    assert item_type.validate_json(item.dump_json()) == item


# -- HTTP/2 frames and HPACK ------------------------------------------------------------

_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


@target
def h2_frames(data: bytes) -> None:
    """A client's bytes (after the preface) into the server's HTTP/2 connection."""
    from vivace.http._h2_connection import H2Connection

    _, payload, pieces = _cuts(data)
    conn = H2Connection(client=False)
    conn.initiate()
    events: list[Any] = conn.receive(_PREFACE)
    for piece in pieces:
        events += conn.receive(piece)
        out = conn.data_to_send()
        assert isinstance(out, bytes)
    assert len(events) <= 2 * len(payload) + 4, len(events)


@target
def hpack(data: bytes) -> None:
    """Header blocks into the HPACK decoder; an encoded header list decodes to itself."""
    from vivace.http._hpack import HPACKDecoder, HPACKEncoder, HPACKError

    decoder = HPACKDecoder(max_table_size=4096)
    for block in data.split(b"\xff\xfe")[:4]:
        try:
            headers = decoder.decode(block, max_list_size=16384)
        except HPACKError:
            break
        assert sum(len(n) + len(v) + 32 for n, v in headers) <= 16384
        assert decoder.table_size <= 4096
    pairs = [
        (n.lower() or b"x", v) for n, _, v in (p.partition(b":") for p in data.split(b"\n")[:8])
    ]
    block = HPACKEncoder().encode(pairs)
    assert HPACKDecoder().decode(block) == pairs
