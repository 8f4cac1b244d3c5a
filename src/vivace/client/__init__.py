"""vivace.client: a fast async HTTP client, with in-process (ASGI) and mock transports.

::

    >>> import asyncio
    >>> from vivace.client import Client, MockTransport, Response
    >>> async def main():
    ...     transport = MockTransport(lambda request: Response(200, json={"ok": True}))
    ...     async with Client(transport=transport) as client:
    ...         response = await client.get("https://example.test/")
    ...         return response.json()
    >>> asyncio.run(main())
    {'ok': True}

See docs/client.md for the whole API and the exception tree (``_exceptions``).
"""

from vivace.client._asgi import ASGITransport, ClientDisconnected
from vivace.client._auth import Auth, BasicAuth, DigestAuth, FunctionAuth
from vivace.client._client import USE_CLIENT_DEFAULT, Client
from vivace.client._config import DEFAULT_LIMITS, DEFAULT_TIMEOUT, Limits, Timeout
from vivace.client._cookies import Cookies
from vivace.client._exceptions import (
    ConnectError,
    ConnectTimeout,
    DecodingError,
    HTTPError,
    HTTPStatusError,
    LocalProtocolError,
    NetworkError,
    PoolTimeout,
    ProtocolError,
    ReadError,
    ReadTimeout,
    RemoteProtocolError,
    RequestError,
    ResponseNotRead,
    StreamClosed,
    StreamConsumed,
    StreamError,
    StreamReset,
    TimeoutException,
    TooManyRedirects,
    TransportError,
    UnsupportedProtocol,
    WriteError,
    WriteTimeout,
)
from vivace.client._mock import MockTransport
from vivace.client._models import Request, Response
from vivace.client._network import HTTPTransport
from vivace.client._streams import AsyncByteStream, ByteStream, SyncByteStream
from vivace.client._transport import AsyncBaseTransport
from vivace.client._websocket import WebSocketRejected, WebSocketSession
from vivace.http import WebSocketDisconnect

__all__ = [
    "DEFAULT_LIMITS",
    "DEFAULT_TIMEOUT",
    "USE_CLIENT_DEFAULT",
    "ASGITransport",
    "AsyncBaseTransport",
    "AsyncByteStream",
    "Auth",
    "BasicAuth",
    "ByteStream",
    "Client",
    "ClientDisconnected",
    "ConnectError",
    "ConnectTimeout",
    "Cookies",
    "DecodingError",
    "DigestAuth",
    "FunctionAuth",
    "HTTPError",
    "HTTPStatusError",
    "HTTPTransport",
    "Limits",
    "LocalProtocolError",
    "MockTransport",
    "NetworkError",
    "PoolTimeout",
    "ProtocolError",
    "ReadError",
    "ReadTimeout",
    "RemoteProtocolError",
    "Request",
    "RequestError",
    "Response",
    "ResponseNotRead",
    "StreamClosed",
    "StreamConsumed",
    "StreamError",
    "StreamReset",
    "SyncByteStream",
    "Timeout",
    "TimeoutException",
    "TooManyRedirects",
    "TransportError",
    "UnsupportedProtocol",
    "WebSocketDisconnect",
    "WebSocketRejected",
    "WebSocketSession",
    "WriteError",
    "WriteTimeout",
]
