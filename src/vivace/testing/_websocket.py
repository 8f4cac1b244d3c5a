"""``WebSocketTestSession``: a WebSocket session with the app, for synchronous tests.

``TestClient.websocket_connect`` opens an in-process session on the client's loop thread
(``vivace.client``'s ``ASGITransport``) and wraps it here: each call runs the matching
coroutine on that loop and waits for it, bounded by the client's read timeout.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import TracebackType
from typing import Any, Literal, Self

from vivace.client import WebSocketDisconnect, WebSocketSession
from vivace.http import Headers
from vivace.testing._portal import LoopThread

__all__ = ["WebSocketTestSession"]


class WebSocketTestSession:
    """The synchronous face of a ``vivace.client.WebSocketSession``.

    >>> from vivace.testing import TestClient
    >>> async def app(scope, receive, send):
    ...     await receive()                      # websocket.connect
    ...     await send({"type": "websocket.accept"})
    ...     message = await receive()
    ...     await send({"type": "websocket.send", "text": message["text"].upper()})
    ...     await send({"type": "websocket.close", "code": 1000})
    >>> with TestClient(app).websocket_connect("/ws") as ws:
    ...     ws.send_text("hello")
    ...     ws.receive_text()
    'HELLO'
    """

    __test__ = False

    def __init__(self, session: WebSocketSession, portal: LoopThread) -> None:
        self._session = session
        self._portal = portal

    @property
    def subprotocol(self) -> str | None:
        """The subprotocol the app accepted."""
        return self._session.subprotocol

    @property
    def headers(self) -> Headers:
        """The headers the app sent with ``websocket.accept``."""
        return self._session.headers

    @property
    def close_code(self) -> int | None:
        return self._session.close_code

    @property
    def close_reason(self) -> str:
        return self._session.close_reason

    def send(self, data: str | bytes) -> None:
        self._portal.call(self._session.send(data))

    def send_text(self, data: str) -> None:
        self._portal.call(self._session.send_text(data))

    def send_bytes(self, data: bytes) -> None:
        self._portal.call(self._session.send_bytes(data))

    def send_json(self, data: Any, mode: Literal["text", "binary"] = "text") -> None:
        self._portal.call(self._session.send_json(data, mode))

    def receive(self, timeout: float | None = None) -> str | bytes:
        """The next message; ``WebSocketDisconnect`` once the app closed."""
        return self._portal.call(self._session.receive(timeout))

    def receive_text(self, timeout: float | None = None) -> str:
        return self._portal.call(self._session.receive_text(timeout))

    def receive_bytes(self, timeout: float | None = None) -> bytes:
        return self._portal.call(self._session.receive_bytes(timeout))

    def receive_json(self, timeout: float | None = None) -> Any:
        return self._portal.call(self._session.receive_json(timeout))

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the session; the app's ``receive`` gets ``websocket.disconnect``."""
        self._portal.call(self._session.close(code, reason))

    def __iter__(self) -> Iterator[str | bytes]:
        """Messages until the app closes."""
        while True:
            try:
                yield self.receive()
            except WebSocketDisconnect:
                return

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
