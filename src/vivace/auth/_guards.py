"""Guards for handlers and WebSocket routes, and dependencies typed handlers can use.

``login_required``, ``permission_required(...)`` and ``requires(...)`` wrap an async
handler whose arguments include the request or the WebSocket (``AuthMiddleware``
installed). Refused, an HTTP handler answers 401 (not logged in; or a 303 to the
``redirect`` route, with ``?next=``) or 403 (logged in, not allowed); a WebSocket handler
refuses the handshake (close code 1008, policy violation, RFC 6455 section 7.4.1).

``Authenticated(*backends, scopes=...)`` is a dependency: called with the request it
returns the user or raises 401/403, and its ``__openapi_security__`` lists its
backends' security schemes (``(name, Security Scheme Object, scopes)``, OpenAPI 3.1
section 4.8.27), which the OpenAPI generator puts in the document.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from urllib.parse import urlencode

from vivace.auth._backends import AUTHENTICATED, Backend, LazyUser, authenticate_with
from vivace.auth._core import Auth
from vivace.web import HTTPConnection, HTTPException, RedirectResponse, WebSocketException

__all__ = ["Authenticated", "login_required", "permission_required", "requires"]

Handler = Callable[..., Awaitable[Any]]


def _connection(args: tuple[Any, ...], kwargs: dict[str, Any]) -> HTTPConnection:
    for value in (*args, *kwargs.values()):
        if isinstance(value, HTTPConnection):
            return value
    raise TypeError("a guarded handler must take the request or the WebSocket")


def _loader(conn: HTTPConnection) -> LazyUser:
    loader = conn.scope.get("user")
    if not isinstance(loader, LazyUser):
        raise RuntimeError("this guard needs vivace.auth.AuthMiddleware installed")
    return loader


def _refuse(conn: HTTPConnection, status: int, redirect: str | None) -> Any:
    if conn.scope["type"] == "websocket":
        raise WebSocketException(1008, "not allowed")
    if status == 401 and redirect is not None:
        target = str(conn.url_for(redirect))
        path = conn.scope.get("path", "/")
        query = conn.scope.get("query_string", b"")
        here = path + ("?" + query.decode("latin-1") if query else "")
        return RedirectResponse(f"{target}?{urlencode({'next': here})}", 303)
    raise HTTPException(status)


def _guard(
    check: Callable[[HTTPConnection, LazyUser, Any], Awaitable[int]], redirect: str | None
) -> Callable[[Handler], Handler]:
    """A decorator running ``check`` (0: allowed, else the status to refuse with)."""

    def decorator(func: Handler) -> Handler:
        if not inspect.iscoroutinefunction(func):
            raise TypeError("auth guards wrap async handlers")

        @functools.wraps(func)
        async def guarded(*args: Any, **kwargs: Any) -> Any:
            conn = _connection(args, kwargs)
            loader = _loader(conn)
            user = await loader()
            status = await check(conn, loader, user)
            if status:
                return _refuse(conn, status, redirect)
            return await func(*args, **kwargs)

        return guarded

    return decorator


def login_required(func: Handler | None = None, *, redirect: str | None = None) -> Any:
    """Only logged-in users (401, or a redirect to the route named ``redirect``).

    >>> @login_required
    ... async def profile(request):
    ...     user = await request.user()
    """

    async def check(conn: HTTPConnection, loader: LazyUser, user: Any) -> int:
        return 0 if user.is_authenticated else 401

    decorator = _guard(check, redirect)
    return decorator(func) if func is not None else decorator


def permission_required(
    *permissions: str,
    get_object: Callable[[HTTPConnection], Awaitable[Any]] | None = None,
    redirect: str | None = None,
) -> Callable[[Handler], Handler]:
    """Only users holding every permission (401 anonymous, 403 logged in).

    >>> @permission_required("change_article")
    ... async def edit(request): ...

    ``get_object(conn)`` (async) loads the object the check is about; ``Auth``'s
    ``object_permission`` hook then decides.
    """
    if not permissions:
        raise ValueError("permission_required needs at least one permission")

    async def check(conn: HTTPConnection, loader: LazyUser, user: Any) -> int:
        if not user.is_authenticated:
            return 401
        obj = await get_object(conn) if get_object is not None else None
        return 0 if await loader.auth.has_perms(user, permissions, obj) else 403

    return _guard(check, redirect)


def requires(*scopes: str, redirect: str | None = None) -> Callable[[Handler], Handler]:
    """Only requests whose credentials carry every scope (a token's ``scope`` claim;
    every logged-in user has ``"authenticated"``).

    >>> @requires("articles:write")
    ... async def publish(request): ...
    """

    async def check(conn: HTTPConnection, loader: LazyUser, user: Any) -> int:
        if not user.is_authenticated:
            return 401
        granted = loader.scopes
        return 0 if all(scope in granted for scope in scopes) else 403

    return _guard(check, redirect)


class Authenticated:
    """A dependency: ``await Authenticated(backend)(request)`` is the user, else 401/403.

    >>> from vivace.auth import Auth, SessionBackend
    >>> current_user = Authenticated(SessionBackend(Auth()), scopes=["profile"])
    >>> current_user.__openapi_security__
    [('session', {'type': 'apiKey', 'in': 'cookie', 'name': 'sessionid'}, ['profile'])]

    It reuses the user ``AuthMiddleware`` already loaded for the request, and asks its
    own ``backends`` otherwise. ``permissions`` are checked with the first backend's
    ``Auth``.
    """

    def __init__(
        self, *backends: Backend, scopes: Sequence[str] = (), permissions: Sequence[str] = ()
    ) -> None:
        if not backends:
            raise ValueError("Authenticated needs at least one backend")
        self.backends = list(backends)
        self.scopes = list(scopes)
        self.permissions = list(permissions)
        self.__openapi_security__ = [
            (name, dict(scheme), list(scopes))
            for name, scheme in (b.security_scheme for b in self.backends)
        ]
        bearer = any(s.get("scheme") == "bearer" for _, s, _ in self.__openapi_security__)
        # RFC 9110 section 11.6.1: a 401 names the scheme to authenticate with.
        self._challenge = {"www-authenticate": "Bearer"} if bearer else None
        self.__name__ = "authenticated"

    def _auth(self) -> Auth:
        auth = getattr(self.backends[0], "auth", None)
        if not isinstance(auth, Auth):  # pragma: no cover - every backend here has one
            raise RuntimeError("permissions need a backend built on an Auth")
        return auth

    async def __call__(self, request: HTTPConnection) -> Any:
        loader = request.scope.get("user")
        if isinstance(loader, LazyUser):
            user, granted = await loader(), loader.scopes
        else:
            credentials, user = await authenticate_with(self.backends, request)
            granted = credentials.scopes
        if not user.is_authenticated or AUTHENTICATED not in granted:
            raise HTTPException(401, headers=self._challenge)
        if not all(scope in granted for scope in self.scopes):
            raise HTTPException(403)
        if self.permissions and not await self._auth().has_perms(user, self.permissions):
            raise HTTPException(403)
        return user
