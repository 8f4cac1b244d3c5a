"""``AuthenticationMiddleware``: who is making the request, for HTTP and WebSocket alike.

A backend looks at the connection (headers, cookies, the session, the query string of a
WebSocket handshake) and returns ``(AuthCredentials, user)`` or ``None`` for an anonymous
client; the middleware stores them in ``scope["auth"]`` and ``scope["user"]``
(``request.auth`` / ``request.user``, ``websocket.auth`` / ``websocket.user``). A backend
that raises ``AuthenticationError`` refuses the request: 401 for HTTP, and for a
WebSocket a 401 denial response when the server supports them, else a refused handshake
(403). ``requires("scope")`` guards a handler: 403 (or a redirect) for HTTP, a refused
handshake for WebSockets.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from vivace.types import ASGIApp, Receive, Scope, Send
from vivace.web._exceptions import HTTPException
from vivace.web._request import HTTPConnection

__all__ = [
    "AuthCredentials",
    "AuthenticationBackend",
    "AuthenticationError",
    "AuthenticationMiddleware",
    "SimpleUser",
    "UnauthenticatedUser",
    "requires",
]


class AuthenticationError(HTTPException):
    """Raised by a backend: the credentials were presented but are not valid (401)."""

    def __init__(self, detail: str = "Unauthorized") -> None:
        super().__init__(401, detail)


class AuthCredentials:
    """The scopes (permissions) the client was granted."""

    __slots__ = ("scopes",)

    def __init__(self, scopes: Sequence[str] = ()) -> None:
        self.scopes = list(scopes)


class SimpleUser:
    """An authenticated user known by name."""

    __slots__ = ("username",)

    def __init__(self, username: str) -> None:
        self.username = username

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.username


class UnauthenticatedUser:
    """The anonymous user."""

    __slots__ = ()

    @property
    def is_authenticated(self) -> bool:
        return False

    @property
    def display_name(self) -> str:
        return ""


class AuthenticationBackend(Protocol):
    """``async authenticate(conn) -> (AuthCredentials, user) | None``."""

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, Any] | None: ...


class AuthenticationMiddleware:
    """Authenticate every HTTP request and WebSocket handshake with ``backend``.

    >>> from vivace.web import App, Middleware
    >>> class TokenBackend:
    ...     async def authenticate(self, conn):
    ...         if conn.headers.get("authorization") == "Bearer secret":
    ...             return AuthCredentials(["chat"]), SimpleUser("ada")
    ...         return None
    >>> app = App(middleware=[Middleware(AuthenticationMiddleware, backend=TokenBackend())])
    """

    def __init__(self, app: ASGIApp, backend: AuthenticationBackend) -> None:
        self.app = app
        self.backend = backend

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        # Raised errors (AuthenticationError is an HTTPException) are answered by the
        # app's outer layer: a 401 for HTTP, a denial response or refusal for WebSocket.
        result = await self.backend.authenticate(HTTPConnection(scope))
        if result is None:
            scope["auth"], scope["user"] = AuthCredentials(), UnauthenticatedUser()
        else:
            scope["auth"], scope["user"] = result
        await self.app(scope, receive, send)


def requires(
    scopes: str | Sequence[str], status_code: int = 403, redirect: str | None = None
) -> Callable[[Callable[..., Awaitable[Any]]], Callable[..., Awaitable[Any]]]:
    """Guard an async handler (HTTP or WebSocket): every scope in ``scopes`` is needed.

    >>> @requires("chat")
    ... async def room(websocket): ...

    Without them an HTTP handler answers ``status_code`` (or redirects to the route
    named ``redirect``) and a WebSocket handler refuses the handshake.
    """
    needed = [scopes] if isinstance(scopes, str) else list(scopes)

    def decorator(func: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        if not inspect.iscoroutinefunction(func):
            raise TypeError("requires() guards async handlers")

        @functools.wraps(func)
        async def guarded(conn: HTTPConnection, *args: Any, **kwargs: Any) -> Any:
            auth = conn.scope.get("auth")
            granted = auth.scopes if auth is not None else ()
            if not all(scope in granted for scope in needed):
                if conn.scope["type"] == "websocket":
                    from vivace.web._websockets import WebSocketException

                    raise WebSocketException(1008, "not allowed")
                if redirect is not None:
                    from vivace.web._responses import RedirectResponse

                    return RedirectResponse(str(conn.url_for(redirect)), 303)
                raise HTTPException(status_code)
            return await func(conn, *args, **kwargs)

        return guarded

    return decorator
