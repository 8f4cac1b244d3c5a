"""The HTTP/1.1 protocol core of the client: no I/O, bytes in, state out.

Writing (RFC 9112 sections 3 and 7): ``build_head`` makes the request line and header
block; ``chunk`` frames one piece of a body sent with chunked transfer coding.

Reading: ``ResponseReader`` wraps httptools' llhttp parser for one connection and is
reused for every response on it. Theory of operation::

    IDLE --start()--> HEAD --headers complete--> BODY --message complete--> DONE
      ^                 |  (1xx: back to HEAD)     |                          |
      +-----------------+--------------------------+---- start() (keep-alive) +
    any state --malformed bytes, oversized head, EOF mid-message--> ERROR (raises)

The shell (``_connection``) calls ``feed(data)`` with what the socket delivered and then
looks at ``head_complete``, ``chunks`` and ``complete``; ``feed_eof()`` when the peer
closed. Errors are raised as ``RemoteProtocolError``. Things llhttp does not know and the
reader handles: a response to HEAD has no body whatever its headers say (RFC 9110 section
9.3.2), so the reader stops after the head and the parser is replaced; a body with neither
``Content-Length`` nor chunked coding ends at EOF (RFC 9112 section 6.3 rule 8); an
interim 1xx response (100 Continue, 103 Early Hints) is skipped (RFC 9110 section 15.2).
The head may not exceed ``max_header_size`` bytes, counted while it is incomplete too, so
a server that never ends its head cannot make the client buffer without bound.
"""

from __future__ import annotations

import re
from urllib.parse import quote

import httptools

from vivace.client._exceptions import LocalProtocolError, RemoteProtocolError
from vivace.http import is_token

__all__ = ["ResponseReader", "build_head", "check_method", "chunk", "safe_target"]

_KNOWN_METHODS = frozenset(
    ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT")
)
# A request target is visible ASCII only (RFC 9112 section 3.2); anything else is encoded.
_TARGET_OK = re.compile(r"[!-~]+")
_TARGET_SAFE = "!#$%&'()*+,/:;=?@[]~"

_IDLE, _HEAD, _BODY, _DONE = 0, 1, 2, 3
_STATE_NAMES = ("IDLE", "HEAD", "BODY", "DONE")
# The moves the reader makes (see the module docstring); start() and feed() check them.
_TRANSITIONS: dict[int, frozenset[int]] = {
    _IDLE: frozenset({_HEAD}),  # start()
    _HEAD: frozenset({_HEAD, _BODY}),  # interim 1xx responses, then the final head
    _BODY: frozenset({_DONE}),  # message complete (or EOF for an EOF-delimited body)
    _DONE: frozenset({_HEAD}),  # start() again on a kept-alive connection
}


def check_method(method: str) -> str:
    """``method`` if it is a token (RFC 9110 section 9.1), else ``LocalProtocolError``."""
    if method in _KNOWN_METHODS or is_token(method):
        return method
    raise LocalProtocolError(f"invalid request method {method!r}")


def safe_target(target: str) -> str:
    """The request target with anything but visible ASCII percent-encoded.

    >>> safe_target("/a b/é?q=1")
    '/a%20b/%C3%A9?q=1'
    """
    if _TARGET_OK.fullmatch(target):
        return target
    return quote(target, safe=_TARGET_SAFE)


def build_head(method: str, target: str, headers: list[tuple[bytes, bytes]]) -> bytes:
    """The request line and header block, ready for the wire.

    >>> build_head("GET", "/x", [(b"host", b"a.test"), (b"accept", b"*/*")])
    b'GET /x HTTP/1.1\\r\\nhost: a.test\\r\\naccept: */*\\r\\n\\r\\n'
    """
    lines = [b"%s: %s\r\n" % pair for pair in headers]
    lines.append(b"\r\n")
    return b"".join([f"{method} {target} HTTP/1.1\r\n".encode("ascii"), *lines])


def chunk(data: bytes) -> bytes:
    """One chunk of chunked transfer coding (RFC 9112 section 7.1); ``b""`` is the end.

    >>> chunk(b"hello"), chunk(b"")
    (b'5\\r\\nhello\\r\\n', b'0\\r\\n\\r\\n')
    """
    if not data:
        return b"0\r\n\r\n"
    return b"%x\r\n%s\r\n" % (len(data), data)


class ResponseReader:
    """Parses the responses of one connection (see the module docstring)."""

    __slots__ = (
        "_eof_body",
        "_fed",
        "_head_request",
        "_parser",
        "_received",
        "_size",
        "_state",
        "chunks",
        "complete",
        "head_complete",
        "headers",
        "http_version",
        "keep_alive",
        "max_header_size",
        "status",
    )

    def __init__(self, max_header_size: int = 64 * 1024) -> None:
        self.max_header_size = max_header_size
        self._parser = httptools.HttpResponseParser(self)
        self._state = _IDLE
        self._head_request = False
        self._eof_body = False
        self._size = 0
        self._fed = 0
        self._received = 0
        self.status = 0
        self.http_version = "HTTP/1.1"
        self.headers: list[tuple[bytes, bytes]] = []
        self.chunks: list[bytes] = []
        self.head_complete = False
        self.complete = False
        self.keep_alive = False

    @property
    def idle(self) -> bool:
        """No response expected (between exchanges)."""
        return self._state in (_IDLE, _DONE)

    def start(self, head_request: bool = False) -> None:
        """Expect the response to a request just sent (``head_request``: to a HEAD)."""
        if _HEAD not in _TRANSITIONS[self._state]:
            raise LocalProtocolError(
                f"cannot send a request while a response is {_STATE_NAMES[self._state]}"
            )
        self._state = _HEAD
        self._head_request = head_request
        self._eof_body = False
        self._size = 0
        self._fed = 0
        self._received = 0
        self.status = 0
        self.headers = []
        self.chunks = []
        self.head_complete = False
        self.complete = False
        self.keep_alive = False

    def feed(self, data: bytes) -> None:
        """Parse bytes from the socket; raises ``RemoteProtocolError`` on a bad response."""
        if self._state != _HEAD and self._state != _BODY:
            raise RemoteProtocolError(
                f"the server sent {len(data)} bytes while no response was expected"
            )
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            if isinstance(exc.__context__, _HeadDone):
                return
            if isinstance(exc.__context__, _Unsolicited):
                # More bytes after the complete response, unasked (no pipelining here):
                # the response stands, the connection is not reused.
                self.keep_alive = False
                self._parser = httptools.HttpResponseParser(self)
                return
            # Our callbacks raise only RemoteProtocolError (or the two markers above).
            cause = exc.__context__
            assert isinstance(cause, RemoteProtocolError), cause
            raise cause from None
        except httptools.HttpParserError as exc:
            raise RemoteProtocolError(f"malformed response: {exc}") from exc
        if self._state == _HEAD:
            self._fed += len(data)
            if self._fed > self.max_header_size:
                raise RemoteProtocolError(
                    f"the response head is larger than {self.max_header_size} bytes"
                )

    def feed_eof(self) -> None:
        """The peer closed: complete a body that ends at EOF, otherwise raise."""
        if self._state == _BODY and self._eof_body:
            self._state = _DONE
            self.complete = True
            self.keep_alive = False
            return
        if self._state == _HEAD:
            raise RemoteProtocolError(
                "the server closed the connection before the response head (incomplete response)"
            )
        if self._state == _BODY:
            raise RemoteProtocolError(
                "the server closed the connection mid-body (incomplete response: "
                f"{self._missing()})"
            )

    def _missing(self) -> str:
        """What a truncated body lacks, for the error: the bytes received against the
        Content-Length, or those of a chunked body (its size is unknown)."""
        received = self._received
        for name, value in self.headers:
            if name == b"content-length":  # llhttp has checked it: digits, one value
                return f"{received} of {int(value)} bytes received"
        return f"{received} bytes of a chunked body received"

    # -- llhttp callbacks --------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self._state == _DONE:
            raise _Unsolicited()

    def on_header(self, name: bytes, value: bytes) -> None:
        self._size += len(name) + len(value) + 4
        if self._size > self.max_header_size:
            raise RemoteProtocolError(
                f"the response head is larger than {self.max_header_size} bytes"
            )
        # RFC 9112 section 5: trailing OWS is not part of the value (llhttp keeps it),
        # in the head and in chunked trailers alike.
        self.headers.append((name.lower(), value.rstrip(b" \t")))

    def on_headers_complete(self) -> None:
        parser = self._parser
        status = parser.get_status_code()
        if status < 100:  # llhttp reads any three digits; RFC 9110 section 15: 100-599
            raise RemoteProtocolError(f"invalid status code {status:03d}")
        if status < 200:
            if status == 101:
                raise RemoteProtocolError("the server switched protocols unasked")
            # An interim response: forget it, the final one follows (RFC 9110 15.2).
            self.headers = []
            self._size = 0
            return
        self.status = status
        version = parser.get_http_version()
        self.http_version = "HTTP/1.1" if version == "1.1" else f"HTTP/{version}"
        self.head_complete = True
        self._state = _BODY
        if self._head_request:
            # RFC 9110 section 9.3.2: no body after a HEAD response, whatever its headers.
            self.keep_alive = parser.should_keep_alive()
            self._finish()
            self._parser = httptools.HttpResponseParser(self)
            raise _HeadDone()
        if status != 204 and status != 304:
            framed = False
            for name, _ in self.headers:
                if name == b"content-length" or name == b"transfer-encoding":
                    framed = True
                    break
            self._eof_body = not framed

    def on_body(self, body: bytes) -> None:
        self._received += len(body)
        self.chunks.append(body)

    def on_message_complete(self) -> None:
        if self._state != _BODY:
            return  # the end of an interim 1xx response
        self.keep_alive = self._parser.should_keep_alive()
        self._finish()

    def _finish(self) -> None:
        self._state = _DONE
        self.complete = True


class _HeadDone(Exception):
    """Stops the parser right after a HEAD response's head."""


class _Unsolicited(Exception):
    """Stops the parser at the start of a response nobody asked for."""
