"""The transport seam: what turns a ``Request`` into a ``Response``.

``Client`` does everything HTTP-level that is the same whatever carries the bytes (URL
merging, headers, cookies, auth, redirects, hooks); a transport only carries one request
and returns the response with its body as a stream. Three ship with vivace:

- ``HTTPTransport``: HTTP/1.1 over TCP (and TLS) with a connection pool;
- ``ASGITransport``: calls an ASGI app in-process, no sockets;
- ``MockTransport``: calls your function, for tests.

The client passes the request's ``Timeout`` in ``request.extensions["timeout"]``; a
transport must honour the phases it has (the network transport has all four).
"""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Self

if TYPE_CHECKING:
    from vivace.client._models import Request, Response
    from vivace.client._websocket import WebSocketOptions, WebSocketSession

__all__ = ["AsyncBaseTransport"]


class AsyncBaseTransport:
    """Base class of transports: implement ``handle_async_request`` (and ``aclose``)."""

    async def handle_async_request(self, request: Request) -> Response:
        """Send ``request``; return the response once its head arrived (body streamed)."""
        raise NotImplementedError

    async def connect_websocket(
        self, request: Request, options: WebSocketOptions
    ) -> WebSocketSession:
        """Open a WebSocket session for the handshake ``request`` (a GET to an http or
        https URL). Transports that cannot carry WebSockets raise ``UnsupportedProtocol``."""
        from vivace.client._exceptions import UnsupportedProtocol

        raise UnsupportedProtocol(
            f"{type(self).__name__} does not support WebSockets", request=request
        )

    async def aclose(self) -> None:
        """Release what the transport holds (connections, app tasks)."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
