"""``App``: routes, middleware, exception handlers and lifespan, as one ASGI app.

The middleware stack (``ServerErrorMiddleware``, the user's middleware, the router) is
built once, on the first ASGI call (the lifespan start-up, with servers that run it), and
the router compiles its routes at the same time; a request then costs one dict store to
tell the layers below which app serves it, and a walk through prebuilt layers.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any

from vivace.types import ASGIApp, Message, Receive, Scope, Send
from vivace.web._concurrency import DEFAULT_THREAD_POOL_SIZE, ThreadPool
from vivace.web._config import CONFIG_KEY, ExceptionHandler, Limits, WebConfig
from vivace.web._datastructures import State, URLPath
from vivace.web._handlers import answer_handler_error, serve_guarded, to_response
from vivace.web._request import Request
from vivace.web._responses import Response, send_response
from vivace.web._router import Router
from vivace.web._routes import BaseRoute
from vivace.web._websockets import WebSocket, WebSocketState, answer_websocket_error
from vivace.web.middleware._base import Middleware

if TYPE_CHECKING:
    from vivace.web.openapi import OpenAPI

__all__ = ["App"]

_RESPONSE_CALL = Response.__call__

LifespanFactory = Callable[[Any], AbstractAsyncContextManager[Any] | AsyncIterator[Any]]


def _as_context_manager(
    lifespan: LifespanFactory,
) -> Callable[[Any], AbstractAsyncContextManager[Any]]:
    if inspect.isasyncgenfunction(lifespan):
        return contextlib.asynccontextmanager(lifespan)
    return lifespan  # type: ignore[return-value]


class App:
    """A vivace.web application.

    >>> from vivace.web import App, Route
    >>> async def hello(request):
    ...     return {"hello": request.path_params["name"]}
    >>> app = App(routes=[Route("/hello/{name}", hello)])
    >>> app.url_path_for("hello", name="ada")
    '/hello/ada'

    Routes can also be added with decorators before the app starts::

        @app.get("/items/{id:int}")
        async def item(request): ...

    ``lifespan`` is an async context manager factory (or an async generator function)
    taking the app; what it yields (a dict) is copied into every request's
    ``request.state``. ``debug`` shows tracebacks on 500 pages. Sync handlers run in a
    pool of ``thread_pool_size`` threads. ``limits`` bounds request bodies and forms.
    ``json_errors`` answers errors (``HTTPException``, 404, 405, 413, a 500 outside debug
    mode) with RFC 9457 ``application/problem+json`` for every client, not only for
    clients that ask for JSON.
    ``openapi`` (a ``vivace.web.openapi.OpenAPI``) serves the app's OpenAPI document and
    the docs UIs.
    ``dependencies`` (``[Depends(check)]``) run before every route's own, in the app's
    routes and the groups mounted in it (``Router.add_dependencies``).
    """

    def __init__(
        self,
        routes: Sequence[BaseRoute] | None = None,
        *,
        middleware: Sequence[Middleware] | None = None,
        exception_handlers: Mapping[Any, ExceptionHandler] | None = None,
        lifespan: LifespanFactory | None = None,
        debug: bool = False,
        redirect_slashes: bool = True,
        thread_pool_size: int = DEFAULT_THREAD_POOL_SIZE,
        limits: Limits | None = None,
        json_errors: bool = False,
        openapi: OpenAPI | None = None,
        dependencies: Sequence[Any] | None = None,
    ) -> None:
        self.thread_pool = ThreadPool(thread_pool_size, name="vivace-web")
        self._config = WebConfig(
            limits=limits,
            thread_pool=self.thread_pool,
            exception_handlers=exception_handlers,
            debug=debug,
            json_errors=json_errors,
        )
        self.state = State()
        self.user_middleware: list[Middleware] = list(middleware or [])
        user_lifespan = _as_context_manager(lifespan) if lifespan is not None else None
        self._user_lifespan = user_lifespan
        self.router = Router(
            routes,
            redirect_slashes=redirect_slashes,
            lifespan=self._lifespan_context,
            dependencies=dependencies,
        )
        #: The OpenAPI generator (``App(openapi=OpenAPI(...))``): its document and docs
        #: UIs are served by routes added here; ``app.openapi.document(app)`` builds it.
        self.openapi = openapi
        if openapi is not None:
            self.router.routes.extend(openapi.routes(self))
        self._stack: ASGIApp | None = None

    # -- settings ------------------------------------------------------------------------

    @property
    def debug(self) -> bool:
        return self._config.debug

    @debug.setter
    def debug(self, value: bool) -> None:
        self._config.debug = value

    @property
    def json_errors(self) -> bool:
        return self._config.json_errors

    @json_errors.setter
    def json_errors(self, value: bool) -> None:
        self._config.json_errors = value

    @property
    def dependency_overrides(self) -> dict[Any, Any]:
        """Typed handlers' dependencies replaced by other callables (for tests):
        ``app.dependency_overrides[get_db] = fake_db``; ``.clear()`` undoes it."""
        return self._config.dependency_overrides

    @property
    def limits(self) -> Limits:
        return self._config.limits

    @property
    def routes(self) -> list[BaseRoute]:
        return self.router.routes

    # -- building (before the app starts) ------------------------------------------------

    def _check_not_started(self, what: str) -> None:
        if self._stack is not None:
            raise RuntimeError(f"cannot {what} after the app has started")

    def add_middleware(self, cls: Any, /, *args: Any, **kwargs: Any) -> None:
        """Add a middleware, outermost so far (before the app starts)."""
        self._check_not_started("add middleware")
        self.user_middleware.insert(0, Middleware(cls, *args, **kwargs))

    def add_exception_handler(self, key: int | type[BaseException], handler: Any) -> None:
        """Handle an exception class or status code with ``handler(request, exc)``."""
        self._config.add_handler(key, handler)

    def exception_handler(self, key: int | type[BaseException]) -> Callable[[Any], Any]:
        """Decorator form of ``add_exception_handler``."""

        def decorator(func: Any) -> Any:
            self.add_exception_handler(key, func)
            return func

        return decorator

    def add_route(
        self,
        path: str,
        endpoint: Callable[..., Any],
        methods: Sequence[str] | None = None,
        name: str | None = None,
        include_in_schema: bool = True,
        **options: Any,
    ) -> None:
        """Add a route (``options``: see ``Route``)."""
        self.router.add_route(path, endpoint, methods, name, include_in_schema, **options)

    def add_websocket_route(
        self, path: str, endpoint: Callable[..., Any], name: str | None = None
    ) -> None:
        """Add a WebSocket route (``endpoint`` takes the ``WebSocket``)."""
        self.router.add_websocket_route(path, endpoint, name)

    def websocket(self, path: str, name: str | None = None) -> Callable[[Any], Any]:
        """Decorator for a WebSocket route: ``@app.websocket("/ws")``."""
        return self.router.websocket_route(path, name)

    def mount(self, path: str, app: ASGIApp, name: str | None = None) -> None:
        """Mount an ASGI app under ``path``."""
        self.router.mount(path, app, name)

    def host(self, host: str, app: ASGIApp, name: str | None = None) -> None:
        """Route requests for ``host`` to ``app``."""
        self.router.host(host, app, name)

    def route(
        self,
        path: str,
        methods: Sequence[str] | None = None,
        name: str | None = None,
        **options: Any,
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator: ``@app.route("/x", methods=["GET", "POST"])``; ``options`` as
        ``Route`` takes them (``status_code``, ``response_model``, ``tags``...)."""
        return self.router.route(path, methods, name, **options)

    def get(self, path: str, name: str | None = None, **options: Any) -> Callable[[Any], Any]:
        """Decorator for a GET (and HEAD) route."""
        return self.route(path, ["GET"], name, **options)

    def post(self, path: str, name: str | None = None, **options: Any) -> Callable[[Any], Any]:
        """Decorator for a POST route."""
        return self.route(path, ["POST"], name, **options)

    def put(self, path: str, name: str | None = None, **options: Any) -> Callable[[Any], Any]:
        """Decorator for a PUT route."""
        return self.route(path, ["PUT"], name, **options)

    def patch(self, path: str, name: str | None = None, **options: Any) -> Callable[[Any], Any]:
        """Decorator for a PATCH route."""
        return self.route(path, ["PATCH"], name, **options)

    def delete(self, path: str, name: str | None = None, **options: Any) -> Callable[[Any], Any]:
        """Decorator for a DELETE route."""
        return self.route(path, ["DELETE"], name, **options)

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        """The path of the route called ``name`` (see ``Router.url_path_for``)."""
        return self.router.url_path_for(name, **path_params)

    # -- serving -------------------------------------------------------------------------

    def build_middleware_stack(self) -> ASGIApp:
        """Build the user middleware around the router; compile the routes.

        The app itself is the outermost layer, ``ServerErrorMiddleware``'s job done in
        ``__call__`` (one coroutine less per request).
        """
        app: ASGIApp = self.router
        for cls, args, kwargs in reversed(self.user_middleware):
            app = cls(app, *args, **kwargs)
        self.router.compile()
        return app

    @contextlib.asynccontextmanager
    async def _lifespan_context(self, app: Any) -> AsyncIterator[Any]:
        try:
            if self._user_lifespan is None:
                yield None
            else:
                async with self._user_lifespan(self) as state:
                    yield state
        finally:
            self.thread_pool.shutdown()

    async def _websocket(self, stack: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        # Routes answer what handlers raise; this answers what middleware raise (an
        # HTTPException from an auth middleware: a denial response or a refusal).
        websocket = WebSocket(scope, receive, send)

        def tracked(message: Message) -> Awaitable[None]:
            kind = message["type"]
            if kind == "websocket.accept":
                websocket.application_state = WebSocketState.CONNECTED
            elif kind == "websocket.close":
                websocket.application_state = WebSocketState.DISCONNECTED
            elif kind == "websocket.http.response.start":
                websocket.application_state = WebSocketState.RESPONSE
            return send(message)

        try:
            await stack(scope, receive, tracked)
        except Exception as exc:
            if not await answer_websocket_error(websocket, exc):
                raise

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["app"] = self
        scope[CONFIG_KEY] = self._config
        stack = self._stack
        if stack is None:
            stack = self._stack = self.build_middleware_stack()
        kind = scope["type"]
        if kind != "http":
            if kind == "websocket":
                await self._websocket(stack, scope, receive, send)
            else:
                await stack(scope, receive, send)
            return
        router = self.router
        if stack is router:
            # No middleware: resolve the route here (no Router coroutine).
            route, child = router.resolve(scope)
            if route is None:
                await serve_guarded(router.unmatched, scope, receive, send)
                return
            runner = route.runner
            if runner is None:
                await serve_guarded(route.dispatch, child, receive, send)
                return
            # Speed: Runner.__call__(child, receive, send, outermost=True) inlined, kept
            # line for line the same (tests/web/test_runner_inlined.py checks it): one
            # coroutine less per request, on the path most requests take (bench/
            # web_inproc.py CPU time, docs/benchmarks.md: see the issue 16 A/B there).
            request = Request(child, receive, send)
            try:
                try:
                    result = await runner.call(request)
                    response = result if isinstance(result, Response) else to_response(result)
                except Exception as exc:
                    handled = await answer_handler_error(request, exc, receive, send)
                    if handled is None:
                        return
                    response = handled
                if type(response).__call__ is _RESPONSE_CALL:
                    await send_response(response, child, receive, send)
                else:
                    await serve_guarded(response, child, receive, send)
            finally:
                if request.holds_resources:
                    await request.close()
            return
        # As ServerErrorMiddleware: answer if nothing was sent, re-raise server errors.
        await serve_guarded(stack, scope, receive, send)
