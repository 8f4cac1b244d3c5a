"""The exceptions of ``vivace.client``: one tree, built for ``except`` clauses.

::

    Exception
     ├── HTTPError                   anything the client raises about an exchange
     │    ├── RequestError           the request could not be completed (has .request)
     │    │    ├── TransportError    the transport failed
     │    │    │    ├── TimeoutException         (also a builtin TimeoutError)
     │    │    │    │    ├── ConnectTimeout     no connection within timeout.connect
     │    │    │    │    ├── ReadTimeout        no response bytes within timeout.read
     │    │    │    │    ├── WriteTimeout       request bytes not accepted within .write
     │    │    │    │    └── PoolTimeout        no free connection within timeout.pool
     │    │    │    ├── NetworkError
     │    │    │    │    ├── ConnectError       refused, unreachable, DNS, TLS handshake
     │    │    │    │    ├── ReadError          the connection broke while reading
     │    │    │    │    └── WriteError         the connection broke while writing
     │    │    │    ├── ProtocolError
     │    │    │    │    ├── RemoteProtocolError  a malformed or truncated response
     │    │    │    │    │    └── StreamReset     the server reset the HTTP/2 stream
     │    │    │    │    │                        (RST_STREAM; ``.error_code``)
     │    │    │    │    └── LocalProtocolError   a request that cannot be sent
     │    │    │    └── UnsupportedProtocol  a URL scheme the transport cannot serve
     │    │    ├── DecodingError     a body whose Content-Encoding cannot be decoded
     │    │    └── TooManyRedirects  more than max_redirects hops
     │    └── HTTPStatusError        raise_for_status() on a non-2xx (has .response)
     └── StreamError (RuntimeError)  misuse of a response body stream
          ├── StreamConsumed         iterated twice
          ├── StreamClosed           read after close
          └── ResponseNotRead        .content before the body was read

Invalid URLs and headers raise ``vivace.http.InvalidURL`` / ``InvalidHeader`` (both
``ValueError``), the same errors the rest of the stack uses. Errors from lower libraries
(``OSError``, ``ssl.SSLError``, ``httptools.HttpParserError``) are translated at the
transport boundary and chained as ``__cause__``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vivace.client._models import Request, Response

__all__ = [
    "ConnectError",
    "ConnectTimeout",
    "DecodingError",
    "HTTPError",
    "HTTPStatusError",
    "LocalProtocolError",
    "NetworkError",
    "PoolTimeout",
    "ProtocolError",
    "ReadError",
    "ReadTimeout",
    "RemoteProtocolError",
    "RequestError",
    "ResponseNotRead",
    "StreamClosed",
    "StreamConsumed",
    "StreamError",
    "StreamReset",
    "TimeoutException",
    "TooManyRedirects",
    "TransportError",
    "UnsupportedProtocol",
    "WriteError",
    "WriteTimeout",
]


class HTTPError(Exception):
    """Base class of every error about an HTTP exchange."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self._request: Request | None = None

    @property
    def request(self) -> Request:
        """The request that failed (set by the client before the error reaches you)."""
        if self._request is None:
            raise RuntimeError("this error is not bound to a request")
        return self._request

    @request.setter
    def request(self, request: Request) -> None:
        self._request = request


class RequestError(HTTPError):
    """The request could not be completed: no (complete) response was received."""

    def __init__(self, message: str, *, request: Request | None = None) -> None:
        super().__init__(message)
        self._request = request


class TransportError(RequestError):
    """The transport (network, ASGI app, mock handler) failed."""


class TimeoutException(TransportError, TimeoutError):
    """A phase of the exchange took longer than its timeout."""


class ConnectTimeout(TimeoutException):
    """No connection could be made within ``timeout.connect``."""


class ReadTimeout(TimeoutException):
    """The server sent nothing for ``timeout.read`` seconds."""


class WriteTimeout(TimeoutException):
    """The request could not be written within ``timeout.write``."""


class PoolTimeout(TimeoutException):
    """No connection became free within ``timeout.pool``."""


class NetworkError(TransportError):
    """The network failed."""


class ConnectError(NetworkError):
    """The connection could not be made (refused, unreachable, DNS, TLS handshake)."""


class ReadError(NetworkError):
    """The connection failed while the response was being read."""


class WriteError(NetworkError):
    """The connection failed while the request was being written."""


class ProtocolError(TransportError):
    """The HTTP protocol was broken."""


class RemoteProtocolError(ProtocolError):
    """The server sent a malformed, oversized or truncated response."""


class StreamReset(RemoteProtocolError):
    """The server reset the request's HTTP/2 stream (RST_STREAM, RFC 9113 section 6.4).

    ``error_code`` is the RFC 9113 section 7 code (``0x8`` CANCEL, ``0x2`` INTERNAL_ERROR...).
    """

    def __init__(self, error_code: int, *, request: Request | None = None) -> None:
        from vivace.http._h2_frames import ErrorCode

        super().__init__(
            f"the server reset the stream: {ErrorCode.name(error_code)}", request=request
        )
        self.error_code = error_code


class LocalProtocolError(ProtocolError):
    """The request cannot be sent as it is (for example a body that cannot be replayed)."""


class UnsupportedProtocol(TransportError):
    """The URL's scheme is not one the transport serves (only http and https)."""


class DecodingError(RequestError):
    """The response body could not be decoded (a broken gzip stream, for example)."""


class TooManyRedirects(RequestError):
    """More redirects than ``max_redirects`` were followed."""


class HTTPStatusError(HTTPError):
    """``raise_for_status()`` on a response whose status is not 2xx."""

    def __init__(self, message: str, *, request: Request, response: Response) -> None:
        super().__init__(message)
        self._request = request
        self.response = response


class StreamError(RuntimeError):
    """A response body stream was used the wrong way."""


class StreamConsumed(StreamError):
    """The body stream was already read; it cannot be read twice."""

    def __init__(self) -> None:
        super().__init__(
            "the response body was already streamed; read it with .aread()/.read() first "
            "if you need it more than once"
        )


class StreamClosed(StreamError):
    """The body stream was read after the response was closed."""

    def __init__(self) -> None:
        super().__init__("the response was closed before its body was read")


class ResponseNotRead(StreamError):
    """``.content`` or ``.text`` on a streamed response before reading its body."""

    def __init__(self) -> None:
        super().__init__(
            "the body of a streamed response is not read yet: call .aread() (or .read()) first"
        )
