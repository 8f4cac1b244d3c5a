"""``WebSocketSession``: the client side of one WebSocket connection.

``client.websocket_connect(url)`` builds the handshake request like any other request
(base URL, default headers, cookies, params) and asks the client's transport for a
session: ``HTTPTransport`` opens a connection of its own over the network (``ws://`` and
``wss://``, or ``http``/``https`` URLs), ``ASGITransport`` runs the app's websocket
scope in-process (what ``AsyncTestClient`` and ``TestClient`` use). Both give this API::

    async with client.websocket_connect("ws://127.0.0.1:8000/ws") as ws:
        await ws.send_text("hello")
        reply = await ws.receive_text()

A refused handshake raises ``WebSocketRejected`` (an ``HTTPStatusError`` whose
``response`` is the server's answer); a closed connection makes ``receive_*`` raise
``WebSocketDisconnect`` (from ``vivace.http``, the class ``vivace.web`` raises too) with
the close code and reason.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Self

import orjson

from vivace.client._exceptions import HTTPStatusError
from vivace.http import Headers, WebSocketDisconnect

if TYPE_CHECKING:
    from vivace.client._models import Request, Response

__all__ = ["WebSocketOptions", "WebSocketRejected", "WebSocketSession"]


class WebSocketRejected(HTTPStatusError):
    """The server answered the handshake with an HTTP response instead of switching to
    WebSocket (a 403 from a refused handshake, a 404, a 401 from an auth layer...).

    ``response`` is that answer, with its body read.
    """

    def __init__(self, message: str, *, request: Request, response: Response) -> None:
        super().__init__(message, request=request, response=response)


class WebSocketOptions:
    """What ``websocket_connect`` passes to the transport (one object, built once)."""

    __slots__ = (
        "close_timeout",
        "compression",
        "max_message_size",
        "ping_interval",
        "ping_timeout",
        "subprotocols",
    )

    def __init__(
        self,
        *,
        subprotocols: list[str] | None = None,
        max_message_size: int | None = 1024 * 1024,
        compression: bool = True,
        ping_interval: float | None = 20.0,
        ping_timeout: float | None = 20.0,
        close_timeout: float = 10.0,
    ) -> None:
        self.subprotocols = list(subprotocols or ())
        self.max_message_size = max_message_size
        self.compression = compression
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.close_timeout = close_timeout


class WebSocketSession:
    """A WebSocket connection opened by ``Client.websocket_connect`` (see the module
    docstring). Subclasses implement ``send``, ``receive``, ``close`` and ``ping``."""

    #: The subprotocol the server chose (``None`` if none).
    subprotocol: str | None = None
    #: The handshake response's headers.
    headers: Headers
    #: Once closed: the close code and reason.
    close_code: int | None = None
    close_reason: str = ""

    # -- primitives (per transport) --------------------------------------------------

    async def send(self, data: str | bytes) -> None:
        """Send a text (``str``) or binary (``bytes``) message."""
        raise NotImplementedError

    async def receive(self, timeout: float | None = None) -> str | bytes:
        """The next message: ``str`` for text, ``bytes`` for binary.

        Raises ``WebSocketDisconnect`` once the connection is closed, and
        ``ReadTimeout`` if nothing came within ``timeout`` seconds (``None``: wait).
        """
        raise NotImplementedError

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection (the closing handshake, bounded by ``close_timeout``)."""
        raise NotImplementedError

    async def ping(self, data: bytes = b"") -> float:
        """Send a ping and wait for its pong; returns the round trip in seconds."""
        raise NotImplementedError

    # -- conveniences ------------------------------------------------------------------

    async def send_text(self, data: str) -> None:
        """Send a text message."""
        if not isinstance(data, str):
            raise TypeError(f"send_text takes str, not {type(data).__name__}")
        await self.send(data)

    async def send_bytes(self, data: bytes) -> None:
        """Send a binary message."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError(f"send_bytes takes bytes, not {type(data).__name__}")
        await self.send(bytes(data))

    async def send_json(self, data: Any, mode: Literal["text", "binary"] = "text") -> None:
        """Send ``data`` as JSON in a text (or binary) message."""
        encoded = orjson.dumps(data)
        await self.send(encoded if mode == "binary" else encoded.decode("utf-8"))

    async def receive_text(self, timeout: float | None = None) -> str:
        """The next message, which must be text (``TypeError`` otherwise)."""
        message = await self.receive(timeout)
        if not isinstance(message, str):
            raise TypeError("expected a text message, received a binary one")
        return message

    async def receive_bytes(self, timeout: float | None = None) -> bytes:
        """The next message, which must be binary (``TypeError`` otherwise)."""
        message = await self.receive(timeout)
        if not isinstance(message, bytes):
            raise TypeError("expected a binary message, received a text one")
        return message

    async def receive_json(self, timeout: float | None = None) -> Any:
        """The next message (text or binary) parsed as JSON."""
        return orjson.loads(await self.receive(timeout))

    def __aiter__(self) -> AsyncIterator[str | bytes]:
        """``async for message in ws``: messages until the connection closes."""
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[str | bytes]:
        try:
            while True:
                yield await self.receive()
        except WebSocketDisconnect:
            return

    async def aclose(self) -> None:
        """Close with 1000 if still open (the ``async with`` exit)."""
        await self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
