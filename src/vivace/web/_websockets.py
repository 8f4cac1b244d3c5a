"""``WebSocket``: one WebSocket connection, as a handler sees it (ASGI websocket scope).

Theory of operation
-------------------
Two state machines, one per direction, as the ASGI messages move them:

===========  ============================  ====================================
side         message                       move
===========  ============================  ====================================
client       websocket.connect             CONNECTING -> CONNECTED
client       websocket.receive             CONNECTED (stays)
client       websocket.disconnect          any -> DISCONNECTED
application  websocket.accept              CONNECTING -> CONNECTED
application  websocket.send                CONNECTED (stays)
application  websocket.close               CONNECTING or CONNECTED -> DISCONNECTED
application  websocket.http.response.*     CONNECTING -> RESPONSE -> DISCONNECTED
===========  ============================  ====================================

Any other move is a ``RuntimeError`` naming the state: a handler that sends before
accepting, or receives after the disconnect, has a bug that should show at once rather
than as a hang. ``accept()`` reads the ``websocket.connect`` message itself if the
handler has not.

What a handler does wrong on the wire is answered with a close code: a text message where
``receive_bytes`` expected binary (1003), JSON that does not parse (1007). Those come as
``WebSocketException``, which the route turns into a close frame.

Errors in a handler are answered by ``answer_websocket_error``, which looks at how far
the handshake went:

- ``WebSocketException``: a close frame with its code (before accepting: a refused
  handshake, HTTP 403);
- ``HTTPException`` (or any exception with a registered handler) before accepting: the
  error response as a denial response when the server supports them
  (``websocket.http.response``), else a close (403); after accepting, a close frame with
  1008 for a 4xx and 1011 otherwise;
- ``WebSocketDisconnect`` escaping the handler: the client left, nothing to do;
- anything else propagates to the server: a 500 before accepting, 1011 after.
"""

from __future__ import annotations

import enum
import inspect
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any, Literal

import orjson

from vivace.http import WebSocketDisconnect
from vivace.types import Message, Receive, Scope, Send
from vivace.web._config import CONFIG_KEY, DEFAULT_CONFIG, WebConfig
from vivace.web._exceptions import HTTPException, WebError
from vivace.web._handlers import http_exception_response, to_response
from vivace.web._request import HTTPConnection, Request

__all__ = [
    "WebSocket",
    "WebSocketDisconnect",
    "WebSocketException",
    "WebSocketState",
    "answer_websocket_error",
    "send_websocket_error",
]


class WebSocketState(enum.Enum):
    """Where one side of a WebSocket connection stands (see the module docstring)."""

    CONNECTING = 0
    CONNECTED = 1
    DISCONNECTED = 2
    RESPONSE = 3


class WebSocketException(WebError):
    """Raise in a WebSocket handler to close the connection with ``code``.

    >>> exc = WebSocketException(1008, "not allowed")
    >>> exc.code, exc.reason
    (1008, 'not allowed')

    Before the handshake is accepted the server refuses it (HTTP 403); after, the
    client gets a close frame with this code and reason.
    """

    def __init__(self, code: int = 1008, reason: str = "") -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.code}: {self.reason}" if self.reason else str(self.code)


_CONNECTING = WebSocketState.CONNECTING
_CONNECTED = WebSocketState.CONNECTED
_DISCONNECTED = WebSocketState.DISCONNECTED
_RESPONSE = WebSocketState.RESPONSE


class WebSocket(HTTPConnection):
    """A WebSocket connection: accept it, then send and receive messages.

    >>> from vivace.web import App, WebSocketRoute
    >>> async def echo(websocket: WebSocket) -> None:
    ...     await websocket.accept()
    ...     async for message in websocket.iter_text():
    ...         await websocket.send_text(message)
    >>> app = App(routes=[WebSocketRoute("/echo", echo)])

    Everything ``Request`` offers about the handshake request is here too: ``headers``,
    ``url`` (``ws://`` or ``wss://``), ``query_params``, ``cookies``, ``path_params``,
    ``session``, ``state``. Receiving after the client left raises
    ``WebSocketDisconnect`` (its ``code`` says why); the ``iter_*`` methods end instead.
    """

    __slots__ = ("_receive", "_send", "application_state", "client_state")

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            raise ValueError(f"a WebSocket needs a websocket scope, not {scope['type']!r}")
        self._scope = scope
        self._receive = receive
        self._send = send
        self._headers = None
        self._url = None
        self._query_params = None
        self._cookies = None
        self.client_state = _CONNECTING
        self.application_state = _CONNECTING

    @property
    def subprotocols(self) -> list[str]:
        """The subprotocols the client offered, in its order of preference."""
        return list(self._scope.get("subprotocols", ()))

    @property
    def receive_channel(self) -> Receive:
        """The raw ASGI ``receive`` (for code that speaks ASGI messages itself)."""
        return self._receive

    # -- raw ASGI messages -------------------------------------------------------------

    async def receive(self) -> Message:
        """The next ASGI message from the client (``websocket.connect`` first)."""
        state = self.client_state
        if state is _CONNECTED:
            message = await self._receive()
            kind = message["type"]
            if kind == "websocket.receive":
                return message
            if kind == "websocket.disconnect":
                self.client_state = _DISCONNECTED
                return message
            raise RuntimeError(f"unexpected ASGI message {kind!r} from a connected client")
        if state is _CONNECTING:
            message = await self._receive()
            kind = message["type"]
            if kind == "websocket.connect":
                self.client_state = _CONNECTED
                return message
            if kind == "websocket.disconnect":
                self.client_state = _DISCONNECTED
                return message
            raise RuntimeError(f"expected 'websocket.connect', the server sent {kind!r}")
        raise RuntimeError("the client has disconnected: nothing more to receive")

    async def send(self, message: Message) -> None:
        """Send one ASGI message (``websocket.accept``, ``.send``, ``.close``...)."""
        state = self.application_state
        kind = message["type"]
        if state is _CONNECTED:
            if kind == "websocket.send":
                await self._send(message)
                return
            if kind == "websocket.close":
                self.application_state = _DISCONNECTED
                await self._send(message)
                return
            raise RuntimeError(f"cannot send {kind!r} on an accepted WebSocket")
        if state is _CONNECTING:
            if kind == "websocket.accept":
                self.application_state = _CONNECTED
            elif kind == "websocket.close":
                self.application_state = _DISCONNECTED
            elif kind == "websocket.http.response.start":
                if "websocket.http.response" not in self._scope.get("extensions", {}):
                    raise RuntimeError(
                        "the server does not support denial responses "
                        "(no 'websocket.http.response' extension)"
                    )
                self.application_state = _RESPONSE
            else:
                raise RuntimeError(f"cannot send {kind!r} before accepting the WebSocket")
            await self._send(message)
            return
        if state is _RESPONSE:
            if kind != "websocket.http.response.body":
                raise RuntimeError(f"cannot send {kind!r} during a denial response")
            if not message.get("more_body", False):
                self.application_state = _DISCONNECTED
            await self._send(message)
            return
        raise RuntimeError(f"cannot send {kind!r}: the WebSocket is closed")

    # -- handshake -----------------------------------------------------------------------

    async def accept(
        self,
        subprotocol: str | None = None,
        headers: Mapping[str, str] | Iterable[tuple[bytes, bytes]] | None = None,
    ) -> None:
        """Accept the connection, with one of ``subprotocols`` and extra response headers.

        Reads the client's ``websocket.connect`` first if the handler has not.
        """
        if self.client_state is _CONNECTING:
            message = await self.receive()
            if message["type"] == "websocket.disconnect":
                raise WebSocketDisconnect(message.get("code", 1006), message.get("reason") or "")
        if subprotocol is not None and subprotocol not in self._scope.get("subprotocols", ()):
            raise ValueError(f"the client did not offer the subprotocol {subprotocol!r}")
        raw: list[tuple[bytes, bytes]] = []
        if headers is not None:
            items = headers.items() if isinstance(headers, Mapping) else headers
            for name, value in items:
                raw.append(
                    (
                        name.lower().encode("latin-1") if isinstance(name, str) else name,
                        value.encode("latin-1") if isinstance(value, str) else value,
                    )
                )
        await self.send({"type": "websocket.accept", "subprotocol": subprotocol, "headers": raw})

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        """Close the connection (before accepting: refuse the handshake, HTTP 403)."""
        await self.send({"type": "websocket.close", "code": code, "reason": reason or ""})

    async def send_denial_response(self, response: Any) -> None:
        """Refuse the handshake with an HTTP response (a ``vivace.web.Response``).

        Needs the server's ``websocket.http.response`` extension (vivace.server,
        uvicorn and the test clients have it); without it, this raises ``RuntimeError``.
        """
        if "websocket.http.response" not in self._scope.get("extensions", {}):
            raise RuntimeError(
                "the server does not support denial responses "
                "(no 'websocket.http.response' extension)"
            )
        if self.application_state is not _CONNECTING:
            raise RuntimeError("a denial response must come before accepting the WebSocket")
        send = self.send

        async def as_denial(message: Message) -> None:
            # Responses speak http.response.*; the extension's messages carry a prefix.
            kind = message["type"]
            if kind.startswith("http.response."):
                message = {**message, "type": "websocket." + kind}
            await send(message)

        await response(self._scope, self._receive, as_denial)

    # -- messages ------------------------------------------------------------------------

    def _disconnected(self, message: Message) -> WebSocketDisconnect:
        return WebSocketDisconnect(message.get("code", 1000), message.get("reason") or "")

    async def receive_text(self) -> str:
        """The next text message; a binary one closes the connection with 1003."""
        message = await self.receive()
        if message["type"] == "websocket.disconnect":
            raise self._disconnected(message)
        text = message.get("text")
        if text is None:
            raise WebSocketException(1003, "expected a text message")
        return str(text)

    async def receive_bytes(self) -> bytes:
        """The next binary message; a text one closes the connection with 1003."""
        message = await self.receive()
        if message["type"] == "websocket.disconnect":
            raise self._disconnected(message)
        data = message.get("bytes")
        if data is None:
            raise WebSocketException(1003, "expected a binary message")
        return bytes(data)

    async def receive_json(self, mode: Literal["text", "binary"] = "text") -> Any:
        """The next message parsed as JSON; malformed JSON closes the connection (1007)."""
        if mode == "binary":
            data: str | bytes = await self.receive_bytes()
        else:
            data = await self.receive_text()
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise WebSocketException(1007, "the message is not valid JSON") from exc

    async def receive_data(self) -> str | bytes:
        """The next message, text (``str``) or binary (``bytes``)."""
        message = await self.receive()
        if message["type"] == "websocket.disconnect":
            raise self._disconnected(message)
        text = message.get("text")
        if text is not None:
            return str(text)
        return bytes(message.get("bytes") or b"")

    async def iter_text(self) -> AsyncIterator[str]:
        """Text messages until the client disconnects."""
        try:
            while True:
                yield await self.receive_text()
        except WebSocketDisconnect:
            pass

    async def iter_bytes(self) -> AsyncIterator[bytes]:
        """Binary messages until the client disconnects."""
        try:
            while True:
                yield await self.receive_bytes()
        except WebSocketDisconnect:
            pass

    async def iter_json(self, mode: Literal["text", "binary"] = "text") -> AsyncIterator[Any]:
        """JSON messages until the client disconnects."""
        try:
            while True:
                yield await self.receive_json(mode)
        except WebSocketDisconnect:
            pass

    def __aiter__(self) -> AsyncIterator[str | bytes]:
        """``async for message in websocket``: text and binary messages until the end."""
        return self._iter_data()

    async def _iter_data(self) -> AsyncIterator[str | bytes]:
        try:
            while True:
                yield await self.receive_data()
        except WebSocketDisconnect:
            pass

    async def send_text(self, data: str) -> None:
        """Send a text message."""
        await self.send({"type": "websocket.send", "text": data})

    async def send_bytes(self, data: bytes) -> None:
        """Send a binary message."""
        await self.send({"type": "websocket.send", "bytes": data})

    async def send_json(self, data: Any, mode: Literal["text", "binary"] = "text") -> None:
        """Send ``data`` as JSON (orjson), in a text message or a binary one."""
        encoded = orjson.dumps(data)
        if mode == "binary":
            await self.send({"type": "websocket.send", "bytes": encoded})
        else:
            await self.send({"type": "websocket.send", "text": encoded.decode("utf-8")})


async def answer_websocket_error(websocket: WebSocket, exc: Exception) -> bool:
    """Answer ``exc`` raised while serving ``websocket``; False if it must propagate."""
    if isinstance(exc, WebSocketDisconnect):
        return True
    state = websocket.application_state
    if state is WebSocketState.DISCONNECTED or state is WebSocketState.RESPONSE:
        return isinstance(exc, WebSocketException)
    if isinstance(exc, WebSocketException):
        await websocket.close(exc.code, exc.reason)
        return True
    config: WebConfig = websocket.scope.get(CONFIG_KEY, DEFAULT_CONFIG)
    handler = config.handler_for(exc)
    if handler is None and not isinstance(exc, HTTPException):
        return False
    response: Any = None
    if handler is not None:
        result = handler(websocket, exc)
        if inspect.isawaitable(result):
            result = await result
        if result is None or websocket.application_state is not state:
            return True  # the handler answered (closed the socket) itself
        response = to_response(result)
    elif isinstance(exc, HTTPException):
        response = http_exception_response(Request(websocket.scope), exc)
    status = response.status_code
    if state is WebSocketState.CONNECTING:
        if "websocket.http.response" in websocket.scope.get("extensions", {}):
            await websocket.send_denial_response(response)
        else:
            await websocket.close(1008)
        return True
    detail = exc.detail if isinstance(exc, HTTPException) else ""
    await websocket.close(1008 if 400 <= status < 500 else 1011, detail)
    return True


async def send_websocket_error(
    scope: Scope, receive: Receive, send: Send, exc: HTTPException
) -> None:
    """Refuse a handshake nothing routed (the router's 404) or that middleware refused."""
    # A handshake nobody has answered yet: an HTTPException always gets an answer here
    # (a denial response or a close), so there is nothing left to propagate.
    await answer_websocket_error(WebSocket(scope, receive, send), exc)
