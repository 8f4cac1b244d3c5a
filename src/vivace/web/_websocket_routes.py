"""``WebSocketRoute`` and ``WebSocketEndpoint``: WebSocket handlers at a path.

A ``WebSocketRoute`` is a ``Route`` whose only "method" is ``WEBSOCKET_METHOD``, the
method the router uses for websocket scopes. That string cannot be an HTTP method (``<``
is not a token character, RFC 9110 section 5.6.2), so HTTP requests never match a
WebSocket route and WebSocket handshakes never match an HTTP route, while both kinds
share the router's compiled index (static paths, parameters, precedence).

Errors in a handler are answered here, where the ``WebSocket`` knows how far the
handshake went (``answer_websocket_error``):

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

import inspect
from collections.abc import Awaitable, Callable, Generator, Sequence
from typing import Any, Literal

from vivace.http import WebSocketDisconnect
from vivace.types import ASGIApp, Message, Receive, Scope, Send
from vivace.web._config import CONFIG_KEY, DEFAULT_CONFIG, WebConfig
from vivace.web._datastructures import URLPath
from vivace.web._endpoints import _unwrap, handler_takes_argument, serve_lifespan
from vivace.web._exceptions import HTTPException, NoMatchFound
from vivace.web._handlers import http_exception_response, to_response
from vivace.web._params import is_typed, typed_handler
from vivace.web._paths import PathTemplate
from vivace.web._request import Request
from vivace.web._routes import Route, _is_asgi, _name_of
from vivace.web._websockets import (
    WebSocket,
    WebSocketException,
    WebSocketState,
)

__all__ = [
    "WEBSOCKET_METHOD",
    "WebSocketEndpoint",
    "WebSocketRoute",
    "answer_websocket_error",
]

#: The router's method for websocket scopes (never a valid HTTP method).
WEBSOCKET_METHOD = "<websocket>"
_METHODS = frozenset((WEBSOCKET_METHOD,))


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


class WebSocketEndpoint:
    """A class-based WebSocket handler: override ``on_connect``, ``on_receive`` and
    ``on_disconnect``.

    >>> from vivace.web import App, WebSocketRoute
    >>> class Echo(WebSocketEndpoint):
    ...     encoding = "text"
    ...     async def on_receive(self, websocket, data):
    ...         await websocket.send_text(f"echo: {data}")
    >>> app = App(routes=[WebSocketRoute("/echo", Echo)])

    ``encoding`` decodes each message before ``on_receive``: ``"text"``, ``"bytes"``,
    ``"json"`` (a message of the wrong kind closes the connection with 1003, bad JSON
    with 1007), or ``None`` for the raw ASGI message. ``on_connect`` accepts by default.
    ``on_disconnect`` always runs, with the close code (1011 if a handler failed).
    A new instance serves each connection.

    The class is an ASGI app too (``Mount("/echo", app=Echo)``, or given to a server):
    awaiting an instance serves its scope, a plain HTTP request getting 404.
    """

    encoding: Literal["text", "bytes", "json"] | None = None

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.scope = scope
        self.receive = receive
        self.send = send

    def __await__(self) -> Generator[Any, None, None]:
        return self._serve().__await__()

    async def _serve(self) -> None:
        kind = self.scope["type"]
        if kind == "websocket":
            await self.dispatch()
        elif kind == "lifespan":
            await serve_lifespan(self.receive, self.send)
        elif kind == "http":
            # Not a WebSocket handshake: nothing here (as the router answers it).
            request = Request(self.scope, self.receive, self.send)
            response = http_exception_response(request, HTTPException(404))
            await response(self.scope, self.receive, self.send)
        else:
            raise RuntimeError(f"{type(self).__name__} cannot serve a {kind!r} scope")

    async def dispatch(self) -> None:
        websocket = WebSocket(self.scope, self.receive, self.send)
        close_code = 1000
        try:
            await self.on_connect(websocket)
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    close_code = int(message.get("code") or 1000)
                    break
                if message["type"] == "websocket.connect":
                    continue  # on_connect did not accept: wait for the client to go
                await self.on_receive(websocket, self._decode(message))
        except WebSocketDisconnect as exc:
            close_code = exc.code
        except Exception as exc:
            close_code = exc.code if isinstance(exc, WebSocketException) else 1011
            if not await answer_websocket_error(websocket, exc):
                raise
            if isinstance(exc, HTTPException):
                close_code = 1008
        finally:
            await self.on_disconnect(websocket, close_code)

    def _decode(self, message: Message) -> Any:
        encoding = self.encoding
        if encoding is None:
            return message
        text = message.get("text")
        if encoding == "text":
            if text is None:
                raise WebSocketException(1003, "expected a text message")
            return text
        if encoding == "bytes":
            data = message.get("bytes")
            if data is None:
                raise WebSocketException(1003, "expected a binary message")
            return data
        import orjson

        try:
            return orjson.loads(text if text is not None else message.get("bytes") or b"")
        except orjson.JSONDecodeError as exc:
            raise WebSocketException(1007, "the message is not valid JSON") from exc

    async def on_connect(self, websocket: WebSocket) -> None:
        """Called first; accepts the connection unless overridden."""
        await websocket.accept()

    async def on_receive(self, websocket: WebSocket, data: Any) -> None:
        """Called with each message, decoded as ``encoding`` says."""

    async def on_disconnect(self, websocket: WebSocket, close_code: int) -> None:
        """Called once the connection is over."""


class WebSocketRoute(Route):
    """A WebSocket handler at a path.

    >>> async def chat(websocket):
    ...     await websocket.accept()
    >>> route = WebSocketRoute("/rooms/{room}", chat)
    >>> route.url_path_for("chat", room="lobby")
    '/rooms/lobby'

    The endpoint is an async function taking the ``WebSocket``, a ``WebSocketEndpoint``
    subclass, or any ASGI app (which gets the websocket scope as it is).
    """

    __slots__ = ()

    def __init__(
        self,
        path: str,
        endpoint: Callable[..., Any],
        *,
        name: str | None = None,
        middleware: Sequence[Any] | None = None,
    ) -> None:
        self.path = path
        self.template = PathTemplate(path)
        self.endpoint = endpoint
        self.name = _name_of(endpoint) if name is None else name
        self.include_in_schema = False
        self._handler = None
        self._class_handlers = None
        self.openapi = {}
        self.typed = None
        self.runner = None
        self.methods = _METHODS
        target = _unwrap(endpoint)
        app: ASGIApp
        if inspect.isclass(target) and issubclass(target, WebSocketEndpoint):
            app = self._handle_class
        elif (inspect.isfunction(target) or inspect.ismethod(target)) and not _is_asgi(target):
            if not inspect.iscoroutinefunction(target):
                raise TypeError(f"a WebSocket handler must be async: {self.name!r} is not")
            if is_typed(endpoint, passed=WebSocket):
                self.typed = typed_handler(
                    endpoint, path_names=self.template.param_names, connection=WebSocket
                )
            else:
                handler_takes_argument(endpoint, WebSocket)
            app = self._handle_function
        else:
            app = endpoint  # any ASGI app
        for spec in reversed(middleware or ()):
            cls, args, kwargs = spec
            app = cls(app, *args, **kwargs)
        self.app = app
        self.dispatch = app

    async def _handle_function(self, scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive, send)
        typed = self.typed
        cleanups: list[Callable[[], Awaitable[None]]] = []
        try:
            if typed is None:
                await self.endpoint(websocket)
            else:
                # Typed: inputs validated (a 422 refuses the handshake), dependencies run,
                # their clean-ups once the handler is over.
                await self.endpoint(**await typed.solve(websocket, cleanups.append))
        except Exception as exc:
            if not await answer_websocket_error(websocket, exc):
                raise
        finally:
            while cleanups:
                await cleanups.pop()()

    async def _handle_class(self, scope: Scope, receive: Receive, send: Send) -> None:
        await _unwrap(self.endpoint)(scope, receive, send).dispatch()

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        if name != self.name or set(path_params) != set(self.template.param_names):
            raise NoMatchFound(name, path_params)
        try:
            path = self.template.build(path_params)
        except ValueError as exc:
            raise NoMatchFound(name, path_params) from exc
        return URLPath(path, protocol="websocket")

    def __repr__(self) -> str:
        return f"WebSocketRoute(path={self.path!r}, name={self.name!r})"
