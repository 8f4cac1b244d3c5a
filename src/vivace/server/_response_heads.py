"""Writing HTTP/1.1 response heads: status lines, framing decisions, header validation.

A response head is built with one ``b"".join``. Every header the app sends is checked
before it is written: the name must be an RFC 9110 token and the value may not hold CR,
LF or NUL (RFC 9110 section 5.5), so a header can never split the head or inject
another. Apps repeat the same few headers, so each validated ``(name, value)`` pair is
remembered with its rendered line: a repeated header costs one dict lookup.

Framing (RFC 9112 section 6): the app's ``content-length`` is kept and enforced; a body
sent in one message gets a ``content-length``; a streamed body without one is sent
chunked to HTTP/1.1 clients and close-delimited to HTTP/1.0 clients. 1xx, 204, 304 and
responses to HEAD carry no body.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from vivace.http import is_field_value, is_token
from vivace.server._errors import ProtocolViolation

__all__ = [
    "FRAME_CHUNKED",
    "FRAME_CLOSE",
    "FRAME_LENGTH",
    "FRAME_NONE",
    "field_lines",
    "render_early_hints",
    "render_head",
    "render_trailers",
    "simple_response",
    "status_line",
]

FRAME_NONE = 0  # no body may follow (HEAD, 1xx, 204, 304)
FRAME_LENGTH = 1  # content-length framing
FRAME_CHUNKED = 2  # transfer-encoding: chunked
FRAME_CLOSE = 3  # body ends when the connection closes (HTTP/1.0 streaming)


# Header names the framing logic must see, by kind.
K_PLAIN, K_LENGTH, K_TE, K_CONNECTION, K_SERVER, K_DATE = range(6)
_SPECIAL = {
    b"content-length": K_LENGTH,
    b"transfer-encoding": K_TE,
    b"connection": K_CONNECTION,
    b"keep-alive": K_CONNECTION,
    b"server": K_SERVER,
    b"date": K_DATE,
}
# Validated ordinary (name, value) pairs -> their rendered line. Apps send the same few
# headers over and over (content-type, cache-control...), so most lines are looked up,
# not validated again. Bounded, so unique values (cookies, etags) cannot grow it forever.
_LINES: dict[tuple[bytes, bytes], bytes] = {}
_LINES_MAX = 4096
# Validated ``content-length`` pairs -> their value: frameworks send one with every
# response, and the few sizes an app answers with repeat. Bounded like ``_LINES``.
_LENGTH_PAIRS: dict[tuple[bytes, bytes], int] = {}
_LENGTH_LINES: dict[int, bytes] = {}


def check_app_header(pair: Any) -> tuple[bytes, bytes]:
    """One response header an app gave, as ``(name, value)`` if it may be written.

    The rule for HTTP/1.1 and HTTP/2 responses alike: a pair of bytes, the name a token,
    the value without CR, LF or NUL (``vivace.http.is_token`` / ``is_field_value``);
    anything else is the app's mistake, a ``ProtocolViolation``, never written.
    """
    try:
        name, value = pair
    except (TypeError, ValueError):
        raise ProtocolViolation(f"response header {pair!r} is not a (name, value) pair") from None
    if type(name) is not bytes or type(value) is not bytes:
        raise ProtocolViolation(f"response header {pair!r}: name and value must be bytes")
    if not is_token(name):
        raise ProtocolViolation(f"invalid response header name {name!r}")
    if not is_field_value(value):
        raise ProtocolViolation(
            f"response header {name!r} has a value with CR, LF or NUL: {value!r}"
        )
    return name, value


def _check_pair(pair: Any) -> tuple[int, bytes, bytes]:
    """Validate one app header: (kind, rendered line, value). Caches ordinary pairs."""
    name, value = check_app_header(pair)
    kind = _SPECIAL.get(name.lower(), K_PLAIN)
    line = name + b": " + value + b"\r\n"
    if type(pair) is tuple:
        if kind == K_PLAIN:
            if len(_LINES) < _LINES_MAX:
                _LINES[pair] = line
        elif kind == K_LENGTH and value.isdigit() and len(_LENGTH_PAIRS) < _LINES_MAX:
            _LENGTH_PAIRS[pair] = int(value)
    return kind, line, value


def _reason(status: int) -> bytes:
    try:
        return HTTPStatus(status).phrase.encode("ascii")
    except ValueError:
        return b""


_STATUS_LINES: dict[int, bytes] = {
    int(s): b"HTTP/1.1 %d %s\r\n" % (s, _reason(s)) for s in HTTPStatus if s >= 200
}


def status_line(status: int) -> bytes:
    """``b"HTTP/1.1 200 OK\\r\\n"``, cached for the registered codes.

    >>> status_line(404)
    b'HTTP/1.1 404 Not Found\\r\\n'
    >>> status_line(599)
    b'HTTP/1.1 599 \\r\\n'
    """
    line = _STATUS_LINES.get(status)
    if line is None:
        if type(status) is not int or not 200 <= status <= 999:
            raise ProtocolViolation(f"invalid response status {status!r}")
        line = b"HTTP/1.1 %d %s\r\n" % (status, _reason(status))
    return line


# Status lines of responses that carry a body with the usual framing (not 204/304).
_PLAIN_STATUS_LINES = {k: v for k, v in _STATUS_LINES.items() if k not in (204, 304)}


def length_line(length: int) -> bytes:
    """The rendered ``content-length`` line for ``length`` (cached when small)."""
    line = _LENGTH_LINES.get(length)
    if line is None:
        line = b"content-length: " + str(length).encode("ascii") + b"\r\n"
        if length < 65536:
            _LENGTH_LINES[length] = line
    return line


def render_head(
    status: int,
    headers: Any,
    default_lines: bytes,
    keep_alive: bool,
    http11: bool,
    body_length: int | None,
    head_request: bool,
    trailers: bool,
) -> tuple[bytes, int, int, bool]:
    """Build and validate a response head.

    ``default_lines`` holds the server's own header lines (Server, Date); a header of the
    same name from the app replaces them. ``body_length`` is the size of the whole body
    when it is known (sent in one message). Returns ``(head, framing, content_length or
    -1, keep_alive)``.
    """
    line = _STATUS_LINES.get(status)
    if line is None:
        line = status_line(status)
    parts = [line]
    append = parts.append
    length = -1
    chunked_by_app = own_server = own_date = False
    lines = _LINES
    lengths = _LENGTH_PAIRS
    for pair in headers:
        try:
            rendered = lines.get(pair)
            known_length = lengths.get(pair) if rendered is None else None
        except TypeError:  # an unhashable pair, e.g. a list: validated below
            rendered = known_length = None
        if rendered is not None:
            append(rendered)
            continue
        if known_length is not None and length == -1:
            length = known_length  # a second one is refused by the full check below
            continue  # written below, once framing is known
        kind, rendered, value = _check_pair(pair)
        if kind:
            if kind == K_LENGTH:
                if length != -1 or not value.isdigit():
                    raise ProtocolViolation(f"invalid content-length header {value!r}")
                length = int(value)
                continue  # written below, once framing is known
            if kind == K_TE:
                if value.lower() != b"chunked":
                    raise ProtocolViolation(f"unsupported transfer-encoding {value!r}")
                chunked_by_app = True
                continue
            if kind == K_CONNECTION:
                if b"close" in value.lower():
                    keep_alive = False
                continue  # the server manages the connection
            if kind == K_SERVER:
                own_server = True
            else:
                own_date = True
        append(rendered)

    if own_server or own_date:
        for default in default_lines.split(b"\r\n")[:-1]:
            lowered = default[:7].lower()
            if not (
                (own_server and lowered == b"server:") or (own_date and lowered[:5] == b"date:")
            ):
                append(default + b"\r\n")
    elif default_lines:
        append(default_lines)

    if status < 200 or status == 204 or status == 304 or head_request:
        framing = FRAME_NONE
        if length == -1 and head_request and body_length:
            length = body_length
        if length != -1 and status != 204 and status >= 200:
            append(length_line(length))
    elif trailers and http11:
        framing = FRAME_CHUNKED
        length = -1
        append(b"transfer-encoding: chunked\r\n")
    elif length != -1 and not chunked_by_app:
        framing = FRAME_LENGTH
        append(length_line(length))
    elif body_length is not None and not chunked_by_app:
        framing = FRAME_LENGTH
        length = body_length
        append(_LENGTH_LINES.get(length) or length_line(length))
    elif http11:
        framing = FRAME_CHUNKED
        length = -1
        append(b"transfer-encoding: chunked\r\n")
    else:
        framing = FRAME_CLOSE
        keep_alive = False

    if not keep_alive:
        append(b"connection: close\r\n\r\n")
    elif not http11:
        append(b"connection: keep-alive\r\n\r\n")
    else:
        append(b"\r\n")
    return b"".join(parts), framing, length, keep_alive


def field_lines(headers: Any) -> list[bytes]:
    return [_check_pair(pair)[1] for pair in headers]


def render_trailers(headers: Any) -> bytes:
    """The last chunk and a trailer section (RFC 9112 section 7.1.2).

    >>> render_trailers([(b"x-checksum", b"abc")])
    b'0\\r\\nx-checksum: abc\\r\\n\\r\\n'
    """
    return b"".join([b"0\r\n", *field_lines(headers), b"\r\n"])


def render_early_hints(links: Any) -> bytes:
    """A ``103 Early Hints`` interim response with one Link field per link (RFC 8297).

    >>> render_early_hints([b"</app.css>; rel=preload; as=style"])
    b'HTTP/1.1 103 Early Hints\\r\\nlink: </app.css>; rel=preload; as=style\\r\\n\\r\\n'
    """
    if isinstance(links, (bytes, str)):
        raise ProtocolViolation("early hint 'links' must be a list of bytes")
    parts = field_lines([(b"link", link) for link in links])
    return b"".join([b"HTTP/1.1 103 Early Hints\r\n", *parts, b"\r\n"])


def simple_response(status: int, text: str, default_lines: bytes, *, close: bool = True) -> bytes:
    """A complete plain-text response the server writes itself (errors, 503, 408...).

    >>> simple_response(400, "Bad request", b"").split(b"\\r\\n")[:2]
    [b'HTTP/1.1 400 Bad Request', b'content-type: text/plain; charset=utf-8']
    """
    body = text.encode("utf-8")
    return b"".join(
        (
            status_line(status),
            b"content-type: text/plain; charset=utf-8\r\n",
            b"content-length: %d\r\n" % len(body),
            default_lines,
            b"connection: close\r\n" if close else b"",
            b"\r\n",
            body,
        )
    )
