"""Routes: ``Route`` (an endpoint at a path), ``Mount`` (an app under a prefix) and
``Host`` (an app for a host name). Each is an ASGI app once matched, and each matches
itself: ``BaseRoute.matches`` is the one method the ``Router`` (``_router``) asks, through
its index of routes (``_matcher``), which route a request goes to.

A ``Route``'s endpoint may be a function (async, or sync: run in the app's bounded thread
pool) taking the request (or nothing), an ``HTTPEndpoint`` subclass, or any ASGI app. What
the endpoint is, whether it is async and whether it takes the request is worked out once,
here, not per request.
"""

from __future__ import annotations

import inspect
import re
import types
import typing
from collections.abc import Callable, Collection, Mapping, MutableMapping, Sequence
from typing import Any
from urllib.parse import quote

from vivace.http import encoded_path
from vivace.types import ASGIApp, Receive, Scope, Send
from vivace.web._datastructures import URLPath
from vivace.web._endpoints import (
    HTTPEndpoint,
    _Handler,
    _unwrap,
    endpoint_handlers,
    serve_endpoint,
)
from vivace.web._exceptions import HTTPException, NoMatchFound
from vivace.web._handlers import answer_handled, serve_guarded
from vivace.web._params import is_typed, output_type, typed_handler
from vivace.web._paths import PATH_SAFE, PathTemplate
from vivace.web._responses import JSONResponse, RedirectResponse, Response
from vivace.web._runner import Runner, plain_call

__all__ = [
    "BaseRoute",
    "Host",
    "Match",
    "Mount",
    "Route",
    "is_handler",
    "route_path",
    "send_error",
    "slash_redirect",
]

#: What a route that matches a request answers: itself, its converted path parameters,
#: and for a mount the rest of the path its app serves (``None`` for other routes).
Match = tuple["BaseRoute", dict[str, Any], str | None]


def is_handler(target: Any) -> bool:
    """Whether an (unwrapped) endpoint is a handler function, not a class or an ASGI app."""
    return (inspect.isfunction(target) or inspect.ismethod(target)) and not _is_asgi(target)


def _is_asgi(func: Any) -> bool:
    # An ASGI app is called (scope, receive, send); a handler takes the request or nothing,
    # or typed parameters. Three required parameters are an ASGI app's only when each is
    # unannotated or annotated as an ASGI type: ``def item(item_id: int, q: str, ws:
    # WebSocket)`` is a typed handler (taken for an ASGI app, it was called with the scope
    # and failed on every request).
    try:
        params = list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError):  # pragma: no cover - functions always have one
        return False
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(positional) != 3 or any(p.default is not p.empty for p in positional):
        return False
    return all(_is_asgi_annotation(p.annotation) for p in positional)


# What an ASGI app's parameters are annotated as: vivace.types' and Starlette's aliases
# (mappings and callables), asgiref.typing's (TypedDict unions and Protocols), by name
# when the annotation is a string.
_ASGI_ANNOTATIONS = (dict, Mapping, MutableMapping, Callable)
_ASGI_NAMES = frozenset(
    {"Scope", "Receive", "Send", "Message", "Any", "dict", "Dict", "Mapping", "MutableMapping"}
    | {"Callable", "ASGIReceiveCallable", "ASGISendCallable", "WWWScope"}
)


def _is_asgi_annotation(annotation: Any) -> bool:
    if annotation is inspect.Parameter.empty or annotation is Any:
        return True
    if isinstance(annotation, str):
        return annotation.strip("'\" ").split("[", 1)[0].rsplit(".", 1)[-1] in _ASGI_NAMES
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return all(_is_asgi_annotation(arg) for arg in typing.get_args(annotation))
    if origin is not None:
        return origin in _ASGI_ANNOTATIONS
    if not isinstance(annotation, type):
        return False
    return (
        annotation in _ASGI_ANNOTATIONS
        or typing.is_typeddict(annotation)
        or bool(getattr(annotation, "_is_protocol", False))
    )


_OPERATION_OPTIONS = frozenset(
    (
        "tags",
        "summary",
        "description",
        "deprecated",
        "responses",
        "operation_id",
        "callbacks",
        "openapi_extra",
        "security",
    )
)


def check_operation_options(options: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI options of a route; a ``TypeError`` naming an unknown one."""
    unknown = sorted(set(options) - _OPERATION_OPTIONS)
    if unknown:
        raise TypeError(
            f"unknown route option(s) {', '.join(unknown)}; OpenAPI options are "
            + ", ".join(sorted(_OPERATION_OPTIONS))
        )
    return options


def _name_of(endpoint: Any) -> str:
    return str(getattr(_unwrap(endpoint), "__name__", type(endpoint).__name__))


async def send_error(scope: Scope, receive: Receive, send: Send, exc: HTTPException) -> None:
    """Answer with ``exc`` through the app's handlers (or the default rendering)."""
    if scope["type"] == "websocket":
        # A denial response when the server supports them, else a refused handshake.
        from vivace.web._websockets import send_websocket_error

        await send_websocket_error(scope, receive, send, exc)
        return
    await answer_handled(scope, receive, send, exc)


class BaseRoute:
    """What the router needs from a route. Subclass it for custom matching:

    >>> class Anything(BaseRoute):
    ...     name = None
    ...     def matches(self, path, scope):
    ...         return (self, {"rest": path}, None) if path.startswith("/any") else None
    ...     async def handle(self, scope, receive, send):
    ...         await Response(scope["path_params"]["rest"])(scope, receive, send)
    >>> Anything().matches("/anything", {})[1]
    {'rest': '/anything'}

    ``methods`` (``None``: every method) is checked by the router after ``matches``; a
    route matching the path but not the method makes the router's 405.
    """

    __slots__ = ()

    name: str | None
    methods: frozenset[str] | None = None
    #: The handler runner, when that is all the route does (no route middleware): an
    #: ``App`` with no middleware calls it itself as the outermost layer, with one
    #: coroutine less per request than through its own middleware and ``dispatch``.
    runner: Runner | None = None

    def matches(self, path: str, scope: Scope) -> Match | None:
        """``(self, path parameters, rest)`` if this route takes ``path`` (the path
        below the app's mount point) of the HTTP or WebSocket ``scope``, whatever its
        method; ``None`` otherwise. The base route matches nothing."""
        return None

    @property
    def dispatch(self) -> ASGIApp:
        """The ASGI callable the router calls once the route matched: ``handle``, unless
        a route kind sets something faster (the app itself, one coroutine less)."""
        return self.handle

    def compile(self) -> None:
        """Prepare for serving (the router calls it on start-up): a ``Mount`` or
        ``Host`` compiles the ``Router`` it holds. Nothing to do by default."""

    def child_scope(self, scope: Scope, params: dict[str, Any], rest: str) -> Scope:
        """The scope the route's app sees when ``matches`` left a ``rest`` of the path (a
        mount): ``root_path`` extended by the matched prefix, ``path_params`` joined."""
        path = scope["path"]
        root_path = scope.get("root_path", "")
        current = route_path(scope)
        matched = current[: len(current) - len(rest)] if rest else current
        parent_params = scope.get("path_params")
        child: Scope = dict(scope)
        child["path_params"] = {**parent_params, **params} if parent_params else params
        child["app_root_path"] = scope.get("app_root_path", root_path)
        child["root_path"] = root_path + matched
        child["path"] = path
        return child

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        raise NotImplementedError

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.handle(scope, receive, send)


class Route(BaseRoute):
    """An endpoint at a path.

    >>> async def user(request):
    ...     return {"id": request.path_params["id"]}
    >>> route = Route("/users/{id:int}", user, methods=["GET", "PUT"])
    >>> sorted(route.methods), route.name
    (['GET', 'HEAD', 'PUT'], 'user')
    >>> route.url_path_for("user", id=7)
    '/users/7'

    ``methods`` defaults to GET (and HEAD) for a function, to the defined methods for an
    ``HTTPEndpoint``, and to every method for a plain ASGI app.
    """

    __slots__ = (
        "_class_handlers",
        "_handler",
        "_options",
        "app",
        "dispatch",
        "endpoint",
        "include_in_schema",
        "methods",
        "name",
        "openapi",
        "path",
        "runner",
        "template",
        "typed",
    )
    # The scheme of the URLs url_path_for builds (WebSocketRoute: "websocket").
    url_protocol = "http"

    dispatch: ASGIApp  # set in __init__: the fastest callable serving the route

    def __init__(
        self,
        path: str,
        endpoint: Callable[..., Any],
        *,
        methods: Collection[str] | None = None,
        name: str | None = None,
        include_in_schema: bool = True,
        middleware: Sequence[Any] | None = None,
        status_code: int | None = None,
        response_model: Any = None,
        response_class: type[Response] | None = None,
        dependencies: Sequence[Any] | None = None,
        response_model_include: Any = None,
        response_model_exclude: Any = None,
        response_model_exclude_unset: bool = False,
        response_model_exclude_defaults: bool = False,
        response_model_exclude_none: bool = False,
        **openapi: Any,
    ) -> None:
        # What ``add_dependencies`` builds the route again with.
        self._options: dict[str, Any] = {
            "methods": methods,
            "name": name,
            "include_in_schema": include_in_schema,
            "middleware": middleware,
            "status_code": status_code,
            "response_model": response_model,
            "response_class": response_class,
            "dependencies": dependencies,
            "response_model_include": response_model_include,
            "response_model_exclude": response_model_exclude,
            "response_model_exclude_unset": response_model_exclude_unset,
            "response_model_exclude_defaults": response_model_exclude_defaults,
            "response_model_exclude_none": response_model_exclude_none,
            **openapi,
        }
        # FastAPI's response_model_* options: how the declared output is written.
        shaping = {
            key: value
            for key, value in (
                ("include", response_model_include),
                ("exclude", response_model_exclude),
                ("exclude_unset", response_model_exclude_unset),
                ("exclude_defaults", response_model_exclude_defaults),
                ("exclude_none", response_model_exclude_none),
            )
            if value is not None and value is not False
        }
        self.path = path
        self.template = PathTemplate(path)
        self.endpoint = endpoint
        self.name = _name_of(endpoint) if name is None else name
        self.include_in_schema = include_in_schema
        #: What the OpenAPI generator reads besides the handler: ``tags``, ``summary``,
        #: ``description``, ``deprecated``, ``responses``, ``operation_id``,
        #: ``callbacks``, ``openapi_extra`` (see docs/openapi.md).
        self.openapi = check_operation_options(openapi)
        self.typed: Any = None  # a _typed.TypedHandler
        self._handler: _Handler | None = None
        self._class_handlers: dict[str, _Handler] | None = None
        target = _unwrap(endpoint)
        app: ASGIApp
        runner: Runner | None = None
        if dependencies and not is_handler(target):
            raise TypeError(
                f"route {path!r}: dependencies= applies to a handler function, not to "
                f"{_name_of(endpoint)!r}"
            )
        if inspect.isclass(target) and issubclass(target, HTTPEndpoint):
            handlers = self._class_handlers = endpoint_handlers(target, self.template.param_names)
            if methods is None:
                methods = handlers.keys()
            app = self._handle_class
        elif is_handler(target):
            if methods is None:
                methods = ("GET",)
            typed = (
                is_typed(endpoint)
                or bool(dependencies)
                or status_code is not None
                or response_class is not None
                or bool(shaping)
                or output_type(endpoint, response_model) is not None
            )
            if typed:
                self.typed = typed_handler(
                    endpoint,
                    path_names=self.template.converters,
                    status_code=200 if status_code is None else status_code,
                    response_model=response_model,
                    response_class=JSONResponse if response_class is None else response_class,
                    dependencies=dependencies or (),
                    shaping=shaping or None,
                )
                app = runner = Runner(self.typed)
            else:
                handler = self._handler = _Handler(endpoint)
                call = plain_call(
                    handler.func, is_async=handler.is_async, takes_request=handler.takes_request
                )
                app = runner = Runner(call)
        else:
            app = endpoint  # any ASGI app
        if methods is None:
            self.methods: frozenset[str] | None = None
        else:
            upper = {m.upper() for m in methods}
            if "GET" in upper:
                upper.add("HEAD")
            self.methods = frozenset(upper)
        self.runner = runner if runner is not None and not middleware else None
        for spec in reversed(middleware or ()):
            cls, args, kwargs = spec
            app = cls(app, *args, **kwargs)
        self.app = app
        self.dispatch = app

    def add_dependencies(self, dependencies: Sequence[Any]) -> None:
        """Run ``dependencies`` before the route's own (a group's: ``Router``, ``Mount``
        or ``App`` ``dependencies=``): the handler is analysed again with them, now,
        so a request pays nothing to look them up. Only a handler function takes them:
        an ``HTTPEndpoint`` or ASGI app endpoint is a ``TypeError`` (a group guarded by
        an auth dependency must not leave one of its routes open without saying so)."""
        if not dependencies:
            return
        target = _unwrap(self.endpoint)
        if not is_handler(target):
            raise TypeError(
                f"route {self.path!r}: its group's dependencies= apply to handler functions, "
                f"and {_name_of(self.endpoint)!r} is not one (an endpoint class or an ASGI "
                "app): move it out of the group, or Mount it (a mounted app is not entered)"
            )
        own = self._options["dependencies"] or ()
        options = {**self._options, "dependencies": [*dependencies, *own]}
        type(self).__init__(self, self.path, self.endpoint, **options)

    def matches(self, path: str, scope: Scope) -> Match | None:
        # The regex and the converters inline (no call to template.match): this is the
        # router's path for templates its generated code does not take.
        template = self.template
        m = template.regex.match(path)
        if m is None:
            return None
        params: dict[str, Any] = {}
        try:
            for name, convert in template.conversions:
                params[name] = convert(m[name])
        except ValueError:  # a converter may refuse what its regex let through
            return None
        return self, params, None

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)

    async def _handle_class(self, scope: Scope, receive: Receive, send: Send) -> None:
        handlers = self._class_handlers
        assert handlers is not None
        await serve_endpoint(handlers, _unwrap(self.endpoint), None, scope, receive, send)

    def handler_for(self, method: str) -> tuple[Any, Any]:
        """The typed handler (``None`` if untyped) and the function serving ``method``
        (an ``HTTPEndpoint``'s method, or the endpoint): what the OpenAPI generator
        describes."""
        handlers = self._class_handlers
        if handlers is not None:
            handler = handlers.get(method)
            if handler is not None:
                return handler.typed, handler.func
        return self.typed, self.endpoint

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        if name != self.name or set(path_params) != set(self.template.param_names):
            raise NoMatchFound(name, path_params)
        try:
            path = self.template.build(path_params)
        except ValueError as exc:
            raise NoMatchFound(name, path_params) from exc
        return URLPath(path, protocol=self.url_protocol)

    def __repr__(self) -> str:
        methods = sorted(self.methods) if self.methods is not None else "*"
        return f"Route(path={self.path!r}, name={self.name!r}, methods={methods})"


def _sub_routes(app: Any) -> Sequence[BaseRoute]:
    routes = getattr(app, "routes", None)
    return list(routes) if routes is not None else []


class _AppRoute(BaseRoute):
    """A route that hands its requests to an ASGI app it holds: ``Mount`` and ``Host``.
    ``_handled``: the app is a ``Router`` with no middleware around it, which answers
    unmatched requests itself."""

    __slots__ = ("_handled", "app")

    app: ASGIApp
    _handled: bool

    @property
    def routes(self) -> Sequence[BaseRoute]:
        """The routes of the app (empty for an app without routes)."""
        return _sub_routes(self.app)

    def compile(self) -> None:
        from vivace.web._router import Router

        if isinstance(self.app, Router):
            self.app.compile()

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._handled:
            await self.app(scope, receive, send)
        else:
            await _call_handled(self.app, scope, receive, send)


class Mount(_AppRoute):
    """An ASGI app (a sub-``Router``, an ``App``, ``StaticFiles``, any third-party app)
    under a path prefix.

    The app sees ``root_path`` extended by the prefix and ``path`` unchanged (ASGI), and
    the mount's own path parameters in ``path_params``:

    >>> from vivace.web import Router
    >>> api = Mount("/api/{version}", routes=[Route("/items", lambda: [])], name="api")
    >>> api.url_path_for("api:<lambda>", version="v1")
    '/api/v1/items'

    ``dependencies`` (``[Depends(check)]``, with ``routes=`` or a ``Router``) run before
    the group's routes' own (``Router.add_dependencies``).
    """

    __slots__ = ("dispatch", "name", "path", "prefix_regex", "template")

    dispatch: ASGIApp  # set in __init__: the fastest callable serving the route

    def __init__(
        self,
        path: str,
        app: ASGIApp | None = None,
        routes: Sequence[BaseRoute] | None = None,
        name: str | None = None,
        *,
        middleware: Sequence[Any] | None = None,
        dependencies: Sequence[Any] | None = None,
    ) -> None:
        if path == "/":
            path = ""
        if path.endswith("/"):
            raise ValueError(f"a mount path must not end with '/': {path!r}")
        if (app is None) == (routes is None):
            raise ValueError("Mount takes either an app or routes")
        self.path = path
        self.template = PathTemplate(path, allow_empty=True)
        # The prefix, then "/" and anything up to the very end (\Z and DOTALL: an
        # encoded newline, %0A, is part of the rest, not the end of the match).
        self.prefix_regex = re.compile(
            self.template.regex.pattern.removesuffix(r"\Z") + r"(?P<_vivace_rest>/(?s:.*))\Z"
        )
        self.name = name
        from vivace.web._router import Router

        if dependencies:
            # A group of routes: ``routes=``, or a ``Router`` of them (not another app).
            if routes is None and not isinstance(app, Router):
                raise TypeError(
                    f"mount {path!r}: dependencies= applies to a group of routes (routes= "
                    f"or a Router), not to the app {app!r}: give that app its own"
                )
            if routes is None:
                assert isinstance(app, Router)
                app.add_dependencies(dependencies)
        group = Router(routes, dependencies=dependencies) if routes is not None else None
        inner: ASGIApp = group if group is not None else app  # type: ignore[assignment]
        self._handled = isinstance(inner, Router) and not middleware
        for spec in reversed(middleware or ()):
            cls, args, kwargs = spec
            inner = cls(inner, *args, **kwargs)
        self.app = inner
        self.dispatch = inner if self._handled else self.handle

    def matches(self, path: str, scope: Scope) -> Match | None:
        m = self.prefix_regex.match(path)
        if m is None:
            return None
        params: dict[str, Any] = {}
        try:
            for name, convert in self.template.conversions:
                params[name] = convert(m[name])
        except ValueError:
            return None
        return self, params, m["_vivace_rest"]

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        own = self.template.param_names
        if self.name is not None and name == self.name and "path" in path_params:
            rest = str(path_params.pop("path"))
            if set(path_params) != set(own):
                raise NoMatchFound(name, {**path_params, "path": rest})
            prefix = self._prefix(name, path_params)
            # Quoted as a route's path parameter is: "a b?c#d" -> "a%20b%3Fc%23d", "/" kept.
            rest = quote(rest.lstrip("/"), safe=PATH_SAFE)
            return URLPath(prefix + "/" + rest, protocol="http")
        remaining, mine, rest_params = _split_for_child(self.name, own, name, path_params)
        prefix = self._prefix(name, mine)
        for route in self.routes:
            try:
                url = route.url_path_for(remaining, **rest_params)
            except NoMatchFound:
                continue
            return URLPath(prefix + url, protocol=url.protocol, host=url.host)
        raise NoMatchFound(name, path_params)

    def _prefix(self, name: str, params: dict[str, Any]) -> str:
        try:
            return self.template.build(params)
        except ValueError as exc:
            raise NoMatchFound(name, params) from exc

    def __repr__(self) -> str:
        return f"Mount(path={self.path!r}, name={self.name!r}, app={self.app!r})"


class Host(_AppRoute):
    """An ASGI app for requests to a host name pattern (``{tenant}.example.com``).

    The ``Host`` header's port is ignored; host parameters join ``path_params``.
    """

    __slots__ = ("dispatch", "host", "name", "template")

    dispatch: ASGIApp  # set in __init__: the fastest callable serving the route

    def __init__(self, host: str, app: ASGIApp, name: str | None = None) -> None:
        self.host = host
        # Compiled like a path whose one "segment" is the host name.
        self.template = PathTemplate("/" + host.lower())
        self.app = app
        self.name = name
        from vivace.web._router import Router

        self._handled = isinstance(app, Router)
        self.dispatch = app if self._handled else self.handle

    def matches(self, path: str, scope: Scope) -> Match | None:
        from vivace.web.middleware._hosts import host_from_scope

        params = self.template.match("/" + (host_from_scope(scope) or ""))
        return None if params is None else (self, params, None)

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        own = self.template.param_names
        remaining, mine, rest = _split_for_child(self.name, own, name, path_params)
        host = self.template.build(mine)[1:]
        for route in self.routes:
            try:
                url = route.url_path_for(remaining, **rest)
            except NoMatchFound:
                continue
            return URLPath(str(url), protocol=url.protocol, host=host)
        raise NoMatchFound(name, path_params)

    def __repr__(self) -> str:
        return f"Host(host={self.host!r}, name={self.name!r}, app={self.app!r})"


def _split_for_child(
    own_name: str | None, own: tuple[str, ...], name: str, path_params: dict[str, Any]
) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """For a ``Mount``/``Host`` named ``own_name`` whose template takes the parameters
    ``own``: the route name left for its children, its own parameters and the rest.
    ``NoMatchFound`` if the name is not under it or one of its parameters is missing.
    """
    if own_name is None:
        remaining = name
    elif name.startswith(own_name + ":"):
        remaining = name[len(own_name) + 1 :]
    else:
        raise NoMatchFound(name, path_params)
    mine = {k: v for k, v in path_params.items() if k in own}
    if set(mine) != set(own):
        raise NoMatchFound(name, path_params)
    rest = {k: v for k, v in path_params.items() if k not in own}
    return remaining, mine, rest


def route_path(scope: Scope) -> str:
    """The path to route on: ``path`` without the ``root_path`` prefix (ASGI puts the
    mount prefix in both)."""
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    if not root_path or not path.startswith(root_path):
        return path
    if len(path) == len(root_path):
        return ""
    if path[len(root_path)] == "/":
        return path[len(root_path) :]
    return path


def slash_redirect(scope: Scope) -> RedirectResponse:
    """A 307 to the request's own URL with its trailing slash removed, or added.

    Built from the path as the client encoded it (``encoded_path``): ``/docs/a%3Fb`` goes
    to ``/docs/a%3Fb/``, not to ``/docs/a?b/`` (another resource, with a query), and
    ``/docs/100%25`` to ``/docs/100%25/``. The query string is kept. The target is
    relative to the host (an absolute URL would trust the Host header), and never starts
    with ``//``, which a browser would read as another host.
    """
    path = encoded_path(scope)
    if path.endswith("/"):
        target = path[:-1]
    elif scope["path"].endswith("/") and path[-3:].upper() == "%2F":
        target = path[:-3]  # the slash the router saw was sent encoded
    else:
        target = path + "/"
    if target.startswith("//"):
        target = "/" + target.lstrip("/")
    query: bytes = scope.get("query_string", b"")
    if query:
        target += "?" + query.decode("latin-1")
    return RedirectResponse(target, 307)


async def _call_handled(app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    """Call a mounted app; what it raises before responding goes to the app's handlers,
    so an ``HTTPException`` from a third-party app or ``StaticFiles`` gets the app's 404
    page and passes back through the app's middleware."""
    if scope["type"] != "http":
        await app(scope, receive, send)
        return
    await serve_guarded(app, scope, receive, send, server_errors=False)
