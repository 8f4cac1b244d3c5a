"""``Router``: dispatch a request to the first route that matches, compiled at start-up.

Theory of operation
-------------------
The routes are indexed once (on lifespan start-up, or the first request) into a
``Matcher`` (``_matcher``): a dict of the paths without parameters, and for the rest an
index by segment count and first segment whose keys get generated code
(``_compiled_matcher``); hosts and custom routes are asked through their own
``matches``. ``resolve`` finds the route and the scope to call it with; ``__call__``
calls the route's ``dispatch``.

Precedence: a route whose path has no parameter and equals the request path wins (unless
a ``Host`` or custom route was declared before it: those keep declaration order); then the
first route, in declaration order, among routes with parameters, mounts, hosts and custom
routes that match. A route that matches the path but not the method is remembered:
if no route matches both, the answer is 405 with an ``Allow`` header listing every method
that would have matched. With ``redirect_slashes``, a path that matches nothing but would
match with a trailing slash added or removed is redirected there (307).
"""

from __future__ import annotations

import contextlib
import traceback
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from vivace.types import ASGIApp, Receive, Scope, Send
from vivace.web._datastructures import URLPath
from vivace.web._exceptions import HTTPException, NoMatchFound
from vivace.web._matcher import Matcher
from vivace.web._responses import Response
from vivace.web._routes import (
    BaseRoute,
    Host,
    Mount,
    Route,
    route_path,
    send_error,
    slash_redirect,
)
from vivace.web._websocket_routes import WEBSOCKET_METHOD, WebSocketRoute

__all__ = ["Router"]

Lifespan = Callable[[Any], AbstractAsyncContextManager[Any]]


class Router:
    """Routes requests to routes; an ASGI app on its own.

    >>> async def home(request):
    ...     return "home"
    >>> router = Router([Route("/", home), Route("/items/{id:int}", home, name="item")])
    >>> router.url_path_for("item", id=3)
    '/items/3'

    ``default`` is the ASGI app for requests nothing matches (a 404 by default).
    ``lifespan`` (set by ``App``) runs on the ASGI lifespan protocol.
    """

    __slots__ = ("_matcher", "default", "dependencies", "lifespan", "redirect_slashes", "routes")

    def __init__(
        self,
        routes: Sequence[BaseRoute] | None = None,
        *,
        redirect_slashes: bool = True,
        default: ASGIApp | None = None,
        lifespan: Lifespan | None = None,
        dependencies: Sequence[Any] | None = None,
    ) -> None:
        self.routes: list[BaseRoute] = list(routes or [])
        self.redirect_slashes = redirect_slashes
        self.default = default
        self.lifespan = lifespan
        self._matcher: Matcher | None = None
        #: The group's dependencies (its own, after those of the groups it is in): run
        #: before each route's own ``dependencies=``; see ``add_dependencies``.
        self.dependencies: list[Any] = []
        if dependencies:
            self.add_dependencies(dependencies)

    def add_dependencies(self, dependencies: Sequence[Any]) -> None:
        """Run ``dependencies`` before those of every route in this group (FastAPI's
        ``APIRouter(dependencies=...)``), in routes given so far and added later with
        ``add_route``, ``route``, ``mount``... (not appended to ``routes`` directly), and
        in the ``Router``s mounted in it (``Mount(routes=...)``). Each route is analysed
        again now: a request pays nothing to find them. A mounted app (an ``App``,
        ``StaticFiles``) is not entered: it has its own rules, as in FastAPI."""
        dependencies = list(dependencies)
        if not dependencies:
            return
        for route in self.routes:
            _add_dependencies(route, dependencies)
        self.dependencies[:0] = dependencies
        self._matcher = None

    def compile(self) -> None:
        """Compile the routes (done on start-up; call again after changing ``routes``)."""
        self._matcher = Matcher(self.routes)
        for route in self.routes:
            if isinstance(route, BaseRoute):  # a duck-typed route has nothing to compile
                route.compile()

    # -- building ------------------------------------------------------------------------

    def add_route(
        self,
        path: str,
        endpoint: Callable[..., Any],
        methods: Sequence[str] | None = None,
        name: str | None = None,
        include_in_schema: bool = True,
        **options: Any,
    ) -> None:
        """Add a ``Route`` (``options``: a typed handler's ``status_code``,
        ``response_model``, ``response_class``, ``dependencies`` and the OpenAPI options)."""
        self._add(
            Route(
                path,
                endpoint,
                methods=methods,
                name=name,
                include_in_schema=include_in_schema,
                **options,
            )
        )

    def _add(self, route: BaseRoute) -> None:
        if self.dependencies:
            _add_dependencies(route, self.dependencies)
        self.routes.append(route)
        self._matcher = None

    def add_websocket_route(
        self, path: str, endpoint: Callable[..., Any], name: str | None = None
    ) -> None:
        """Add a ``WebSocketRoute``."""
        self._add(WebSocketRoute(path, endpoint, name=name))

    def websocket_route(
        self, path: str, name: str | None = None
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator form of ``add_websocket_route``."""

        def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
            self.add_websocket_route(path, func, name=name)
            return func

        return decorator

    def mount(self, path: str, app: ASGIApp, name: str | None = None) -> None:
        """Add a ``Mount``."""
        self._add(Mount(path, app=app, name=name))

    def host(self, host: str, app: ASGIApp, name: str | None = None) -> None:
        """Add a ``Host``."""
        self._add(Host(host, app=app, name=name))

    def route(
        self,
        path: str,
        methods: Sequence[str] | None = None,
        name: str | None = None,
        **options: Any,
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator form of ``add_route``."""

        def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
            self.add_route(path, func, methods=methods, name=name, **options)
            return func

        return decorator

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        """The path of the route called ``name`` with these parameters.

        Names of routes inside a named mount are ``"mount:route"``. Raises
        ``NoMatchFound`` when no route has the name and exactly these parameters.
        """
        for route in self.routes:
            try:
                return route.url_path_for(name, **path_params)
            except NoMatchFound:
                continue
        raise NoMatchFound(name, path_params)

    # -- serving -------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(scope, receive, send)
            return
        route, child = self.resolve(scope)
        if route is None:
            await self.unmatched(scope, receive, send)
        else:
            await route.dispatch(child, receive, send)

    def resolve(self, scope: Scope) -> tuple[BaseRoute | None, Scope]:
        """The route for an HTTP or WebSocket ``scope`` and the scope to dispatch it with
        (a mount's child scope, or ``scope`` with ``route`` and ``path_params`` set);
        ``(None, scope)`` when no route matches path and method (see ``unmatched``)."""
        matcher = self._matcher
        if matcher is None:
            self.compile()
            matcher = self._matcher
            assert matcher is not None
        if "router" not in scope:
            scope["router"] = self
        path = route_path(scope) if scope.get("root_path") else scope["path"]
        # A websocket scope has no method: it gets one no HTTP request can have, which
        # only WebSocket routes and routes open to every method (mounts, hosts, ASGI
        # apps) accept.
        method = scope["method"] if scope["type"] == "http" else WEBSOCKET_METHOD
        # The common case, inline: a path without parameters, one dict lookup.
        static = matcher.static.get(path)
        if static is not None:
            for route in static:
                methods = route.methods
                if methods is None or method in methods:
                    scope["route"] = route
                    return route, scope
        match = matcher.match_dynamic(path, method, scope) if matcher.has_dynamic else None
        if match is None:
            return None, scope
        route, params, rest = match
        if rest is not None:
            return route, route.child_scope(scope, params, rest)
        parent = scope.get("path_params")
        scope["path_params"] = {**parent, **params} if parent else params
        scope["route"] = route
        return route, scope

    async def unmatched(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer a request no route matched (after ``resolve``): 405, a slash redirect,
        the ``default`` app or 404."""
        matcher = self._matcher
        assert matcher is not None  # resolve() compiled the routes
        path = route_path(scope) if scope.get("root_path") else scope["path"]
        await self._no_match(matcher, path, scope, receive, send)

    async def _no_match(
        self, matcher: Matcher, path: str, scope: Scope, receive: Receive, send: Send
    ) -> None:
        if scope["type"] == "http":
            allowed = matcher.allowed(path, scope)
            if allowed:
                method = scope.get("method", "GET")
                allow = ", ".join(sorted(allowed))
                if method == "OPTIONS":
                    # RFC 9110 section 9.3.7: OPTIONS describes what the target allows.
                    response = Response(None, 204, {"allow": allow})
                    await response(scope, receive, send)
                    return
                await send_error(scope, receive, send, HTTPException(405, headers={"allow": allow}))
                return
            if self.redirect_slashes and path not in ("", "/"):
                other = path[:-1] if path.endswith("/") else path + "/"
                if matcher.any_match(other, scope):
                    await slash_redirect(scope)(scope, receive, send)
                    return
        if self.default is not None:
            await self.default(scope, receive, send)
            return
        await send_error(scope, receive, send, HTTPException(404))

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False
        app = scope.get("app")
        await receive()  # lifespan.startup
        try:
            self.compile()
            async with self.lifespan_context(app) as state:
                if state is not None:
                    if "state" not in scope:
                        raise RuntimeError(
                            "the lifespan yielded state, but the server does not "
                            "support lifespan state (no 'state' in the lifespan scope)"
                        )
                    scope["state"].update(state)
                await send({"type": "lifespan.startup.complete"})
                started = True
                await receive()  # lifespan.shutdown
        except BaseException:
            message = traceback.format_exc()
            if started:
                await send({"type": "lifespan.shutdown.failed", "message": message})
            else:
                await send({"type": "lifespan.startup.failed", "message": message})
            raise
        await send({"type": "lifespan.shutdown.complete"})

    @contextlib.asynccontextmanager
    async def lifespan_context(
        self, app: Any, _seen: set[int] | None = None
    ) -> AsyncIterator[dict[str, Any] | None]:
        """This router's lifespan, then those of the vivace ``App``s and ``Router``s mounted
        in it (``Mount``, ``Host``, nested), depth first in route order; shut down in
        reverse order. Their states are merged (a key set by two lifespans is an error).

        A server runs only the outermost app's lifespan; this is how a mounted vivace app
        still gets its start-up and shut-down. Other mounted ASGI apps are not entered.
        """
        seen = _seen if _seen is not None else {id(self)}
        merged: dict[str, Any] = {}
        owners: dict[str, str] = {}
        any_state = False

        def merge(state: Any, owner: str) -> None:
            nonlocal any_state
            if state is None:
                return
            any_state = True
            for key, value in dict(state).items():
                if key in owners:
                    raise RuntimeError(
                        f"lifespan state {key!r} is set by both {owners[key]} and {owner}"
                    )
                owners[key] = owner
                merged[key] = value

        async with contextlib.AsyncExitStack() as stack:
            if self.lifespan is not None:
                merge(await stack.enter_async_context(self.lifespan(app)), "the app")
            for path, router, sub_app in _mounted(self.routes, app):
                if id(router) in seen:
                    continue  # mounted twice (or inside itself): started once
                seen.add(id(router))
                router.compile()
                state = await stack.enter_async_context(router.lifespan_context(sub_app, seen))
                merge(state, f"the app mounted at {path!r}")
            yield merged if any_state else None

    def __repr__(self) -> str:
        return f"Router(routes={self.routes!r})"


def _add_dependencies(route: BaseRoute, dependencies: list[Any]) -> None:
    """Give a group's ``dependencies`` to one of its routes: a route (``Route``,
    ``WebSocketRoute``) is analysed again with them first, a ``Router`` mounted or under a
    ``Host`` passes them on; another mounted app and a custom route are not entered."""
    from vivace.web._app import App

    if isinstance(route, Route):
        route.add_dependencies(dependencies)
    elif isinstance(route, (Mount, Host)):
        inner: Any = route.app
        for _ in range(32):  # through the mount's middleware (each keeps ``.app``)
            if isinstance(inner, Router):
                inner.add_dependencies(dependencies)
                return
            if inner is None or isinstance(inner, App):
                return
            inner = getattr(inner, "app", None)


def _mounted(routes: Sequence[BaseRoute], app: Any) -> list[tuple[str, Router, Any]]:
    """(mount path, router, app for its lifespan) of the vivace apps mounted in ``routes``.

    Seen through middleware that keep the app they wrap as ``.app`` (all of vivace's and
    Starlette's do), and through ``Mount(routes=...)``.
    """
    from vivace.web._app import App

    found: list[tuple[str, Router, Any]] = []
    for route in routes:
        if isinstance(route, Mount):
            where = route.path or "/"
        elif isinstance(route, Host):
            where = f"host {route.host}"
        else:
            continue
        inner: Any = route.app
        for _ in range(32):  # a middleware chain, not a cycle
            if isinstance(inner, App):
                found.append((where, inner.router, inner))
                break
            if isinstance(inner, Router):
                found.append((where, inner, app))
                break
            inner = getattr(inner, "app", None)
            if inner is None:
                break
    return found
