"""``WebSocketRoute``: a WebSocket handler at a path.

A ``WebSocketRoute`` is a ``Route`` whose only "method" is ``WEBSOCKET_METHOD``, the
method the router uses for websocket scopes. That string cannot be an HTTP method (``<``
is not a token character, RFC 9110 section 5.6.2), so HTTP requests never match a
WebSocket route and WebSocket handshakes never match an HTTP route, while both kinds
share the router's compiled index (static paths, parameters, precedence).

The handler is an async function taking the ``WebSocket``, a ``WebSocketEndpoint``
(``_endpoints``) or any ASGI app; what it raises is answered by
``answer_websocket_error`` (``_websockets``), where the ``WebSocket`` knows how far the
handshake went.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from vivace.types import ASGIApp, Receive, Scope, Send
from vivace.web._dependencies import unwind
from vivace.web._endpoints import WebSocketEndpoint, _unwrap, handler_takes_argument
from vivace.web._params import is_typed, typed_handler
from vivace.web._paths import PathTemplate
from vivace.web._routes import Route, _name_of, is_handler
from vivace.web._websockets import WebSocket, answer_websocket_error

__all__ = ["WEBSOCKET_METHOD", "WebSocketRoute"]

#: The router's method for websocket scopes (never a valid HTTP method).
WEBSOCKET_METHOD = "<websocket>"
_METHODS = frozenset((WEBSOCKET_METHOD,))


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
    url_protocol = "websocket"

    def __init__(
        self,
        path: str,
        endpoint: Callable[..., Any],
        *,
        name: str | None = None,
        middleware: Sequence[Any] | None = None,
        dependencies: Sequence[Any] | None = None,
    ) -> None:
        self._options = {"name": name, "middleware": middleware, "dependencies": dependencies}
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
        if dependencies and not is_handler(target):
            raise TypeError(
                f"WebSocket route {path!r}: dependencies= applies to a handler function, "
                f"not to {self.name!r}"
            )
        if inspect.isclass(target) and issubclass(target, WebSocketEndpoint):
            app = self._handle_class
        elif is_handler(target):
            if not inspect.iscoroutinefunction(target):
                raise TypeError(f"a WebSocket handler must be async: {self.name!r} is not")
            if dependencies or is_typed(endpoint, passed=WebSocket):
                self.typed = typed_handler(
                    endpoint,
                    path_names=self.template.converters,
                    connection=WebSocket,
                    dependencies=dependencies or (),
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
        exits: list[Any] = []  # generator dependencies entered (as for HTTP handlers)
        try:
            if typed is None:
                await self.endpoint(websocket)
            else:
                # Typed: inputs validated (a 422 refuses the handshake), dependencies run,
                # their clean-ups once the handler is over; a failure of the handler (or a
                # later dependency) is raised at their ``yield`` first.
                await self.endpoint(**await typed.solve(websocket, cleanups.append, exits))
        except Exception as exc:
            error = await unwind(exits, exc) if exits else exc
            if not await answer_websocket_error(websocket, error):
                if error is exc:
                    raise
                raise error from None
        finally:
            while cleanups:
                await cleanups.pop()()

    async def _handle_class(self, scope: Scope, receive: Receive, send: Send) -> None:
        await _unwrap(self.endpoint)(scope, receive, send).dispatch()

    def __repr__(self) -> str:
        return f"WebSocketRoute(path={self.path!r}, name={self.name!r})"
