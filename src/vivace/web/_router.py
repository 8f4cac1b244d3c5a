"""``Router``: dispatch a request to the first route that matches, compiled at start-up.

Theory of operation
-------------------
Routes are compiled once (on lifespan start-up, or the first request) into a
``_Matcher``:

- ``static``: a dict from path to the routes without parameters at that path. Most
  requests are answered by one dict lookup and a method check.
- a segment trie for routes with parameters and for mounts: each node has a dict of
  literal children, a short list of parameter children (a converter check per segment),
  the routes that end there and the ``path``-parameter routes and mounts that take the
  rest of the path from there. A lookup walks only the branches that the request's
  segments can follow, so 50 or 5,000 routes cost about the same.
- ``others``: routes matched by a whole-path regex, in order (a ``path`` parameter in the
  middle of a template, ``Host`` routes, custom ``BaseRoute`` subclasses).

Precedence: a route whose path has no parameter and equals the request path wins (unless
a ``Host`` or custom route was declared before it: those keep declaration order); then the
first route, in declaration order, among routes with parameters, mounts, hosts and custom
routes that match. A route that matches the path but not the method is remembered:
if no route matches both, the answer is 405 with an ``Allow`` header listing every method
that would have matched. With ``redirect_slashes``, a path that matches nothing but would
match with a trailing slash added or removed is redirected there (307).
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from vivace.types import ASGIApp, Receive, Scope, Send
from vivace.web._datastructures import URLPath
from vivace.web._exceptions import HTTPException, NoMatchFound
from vivace.web._paths import Mixed, Param, Rest
from vivace.web._responses import RedirectResponse, Response
from vivace.web._routing import BaseRoute, Host, Mount, Route, route_path, send_error

__all__ = ["Router"]

Lifespan = Callable[[Any], AbstractAsyncContextManager[Any]]


class _Node:
    __slots__ = ("leaves", "params", "rest", "static")

    def __init__(self) -> None:
        self.static: dict[str, _Node] = {}
        self.params: list[tuple[Any, Param | Mixed, _Node]] = []
        self.leaves: list[_Entry] = []
        self.rest: list[_Entry] = []


class _Entry:
    """A route at a trie node: ``slots`` names the captured values in order (``None`` for
    a mixed segment, whose capture is a dict)."""

    __slots__ = ("index", "rest", "route", "slots")

    def __init__(
        self, index: int, route: BaseRoute, slots: tuple[str | None, ...], rest: Rest | None
    ) -> None:
        self.index = index
        self.route = route
        self.slots = slots
        self.rest = rest


# A match: the route, its converted parameters, and for a mount the rest of the path.
Match = tuple[BaseRoute, dict[str, Any], str | None]


class _Matcher:
    __slots__ = ("has_dynamic", "has_trie", "others", "root", "static")

    def __init__(self, routes: Sequence[BaseRoute]) -> None:
        self.static: dict[str, list[BaseRoute]] = {}
        self.root = _Node()
        self.others: list[tuple[int, BaseRoute]] = []
        for index, route in enumerate(routes):
            self._add(index, route)
        root = self.root
        self.has_trie = bool(root.static or root.params or root.leaves or root.rest)
        self.has_dynamic = self.has_trie or bool(self.others)

    def _add(self, index: int, route: BaseRoute) -> None:
        if isinstance(route, Route):
            template = route.template
            if not template.param_names and not self.others:
                self.static.setdefault(route.path, []).append(route)
                return
            if template.segments is not None:
                self._insert(index, route, template.segments, mount=False)
                return
        elif isinstance(route, Mount) and route.template.segments is not None:
            self._insert(index, route, route.template.segments, mount=True)
            return
        self.others.append((index, route))

    def _insert(self, index: int, route: BaseRoute, segments: list[Any], *, mount: bool) -> None:
        node = self.root
        slots: list[str | None] = []
        for segment in segments:
            if type(segment) is str:
                child = node.static.get(segment)
                if child is None:
                    child = node.static[segment] = _Node()
                node = child
            elif type(segment) is Rest:
                node.rest.append(_Entry(index, route, tuple(slots), segment))
                return
            else:
                key = segment.key()
                for existing_key, _, existing in node.params:
                    if existing_key == key:
                        node = existing
                        break
                else:
                    child = _Node()
                    node.params.append((key, segment, child))
                    node = child
                slots.append(segment.name if type(segment) is Param else None)
        if mount:
            node.rest.append(_Entry(index, route, tuple(slots), None))
        else:
            node.leaves.append(_Entry(index, route, tuple(slots), None))

    def candidates(self, path: str, scope: Scope) -> list[tuple[int, Match]]:
        """Every dynamic route matching ``path`` (whatever the method), in order."""
        found: list[tuple[int, Match]] = []
        if self.has_trie and path.startswith("/"):
            segments = path[1:].split("/")
            _walk(self.root, segments, 0, len(segments), (), found)
        for index, route in self.others:
            match = _match_other(route, path, scope)
            if match is not None:
                found.append((index, match))
        if len(found) > 1:
            found.sort(key=_first)
        return found

    def match_dynamic(self, path: str, method: str, scope: Scope) -> Match | None:
        for _, match in self.candidates(path, scope):
            methods = match[0].methods
            if methods is None or method in methods:
                return match
        return None

    def allowed(self, path: str, scope: Scope) -> set[str]:
        """The methods of every route matching ``path`` (for 405 and its Allow header)."""
        allowed: set[str] = set()
        for route in self.static.get(path, ()):
            allowed |= route.methods or set()
        if self.has_dynamic:
            for _, (route, _params, _rest) in self.candidates(path, scope):
                allowed |= route.methods or set()
        return allowed

    def any_match(self, path: str, scope: Scope) -> bool:
        return path in self.static or (self.has_dynamic and bool(self.candidates(path, scope)))


def _first(item: tuple[int, Match]) -> int:
    return item[0]


def _params(entry: _Entry, captured: tuple[Any, ...]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for slot, value in zip(entry.slots, captured, strict=True):
        if slot is None:
            params.update(value)
        else:
            params[slot] = value
    return params


def _walk(
    node: _Node,
    segments: list[str],
    i: int,
    n: int,
    captured: tuple[Any, ...],
    found: list[tuple[int, Match]],
) -> None:
    if node.rest and i < len(segments):
        rest = "/".join(segments[i:])
        for entry in node.rest:
            params = _params(entry, captured)
            if entry.rest is None:  # a mount: the mounted app gets "/" + the rest
                found.append((entry.index, (entry.route, params, "/" + rest)))
            else:
                try:
                    params[entry.rest.name] = entry.rest.converter.convert(rest)
                except ValueError:
                    continue
                found.append((entry.index, (entry.route, params, None)))
    if i == n:
        found.extend(
            (entry.index, (entry.route, _params(entry, captured), None)) for entry in node.leaves
        )
        return
    segment = segments[i]
    child = node.static.get(segment)
    if child is not None:
        _walk(child, segments, i + 1, n, captured, found)
    for _, matcher, child in node.params:
        if type(matcher) is Param:
            if not matcher.check(segment):
                continue
            try:
                value: Any = matcher.converter.convert(segment)
            except ValueError:
                continue
        else:
            m = matcher.pattern.fullmatch(segment)  # type: ignore[union-attr]
            if m is None:
                continue
            value = {}
            try:
                for name, text in m.groupdict().items():
                    value[name] = matcher.converters[name].convert(text)  # type: ignore[union-attr]
            except ValueError:
                continue
        _walk(child, segments, i + 1, n, (*captured, value), found)


def _match_other(route: BaseRoute, path: str, scope: Scope) -> Match | None:
    if isinstance(route, Host):
        params = route.match_host(scope)
        return None if params is None else (route, params, None)
    if isinstance(route, Mount):
        found = route.prefix_regex.match(path)
        if found is None:
            return None
        groups = found.groupdict()
        rest = groups.pop("_vivace_rest")
        mount_params = route.template.convert(groups)
        return None if mount_params is None else (route, mount_params, rest)
    if isinstance(route, Route):
        route_params = route.template.match(path)
        return None if route_params is None else (route, route_params, None)
    matcher = getattr(route, "matches", None)
    if matcher is None:
        return None
    result: Match | None = matcher(path, scope)
    return result


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

    __slots__ = ("_matcher", "default", "lifespan", "redirect_slashes", "routes")

    def __init__(
        self,
        routes: Sequence[BaseRoute] | None = None,
        *,
        redirect_slashes: bool = True,
        default: ASGIApp | None = None,
        lifespan: Lifespan | None = None,
    ) -> None:
        self.routes: list[BaseRoute] = list(routes or [])
        self.redirect_slashes = redirect_slashes
        self.default = default
        self.lifespan = lifespan
        self._matcher: _Matcher | None = None

    def compile(self) -> None:
        """Compile the routes (done on start-up; call again after changing ``routes``)."""
        self._matcher = _Matcher(self.routes)
        for route in self.routes:
            inner = getattr(route, "app", None)
            if isinstance(inner, Router):
                inner.compile()

    # -- building ------------------------------------------------------------------------

    def add_route(
        self,
        path: str,
        endpoint: Callable[..., Any],
        methods: Sequence[str] | None = None,
        name: str | None = None,
        include_in_schema: bool = True,
    ) -> None:
        """Add a ``Route``."""
        self.routes.append(
            Route(path, endpoint, methods=methods, name=name, include_in_schema=include_in_schema)
        )
        self._matcher = None

    def mount(self, path: str, app: ASGIApp, name: str | None = None) -> None:
        """Add a ``Mount``."""
        self.routes.append(Mount(path, app=app, name=name))
        self._matcher = None

    def host(self, host: str, app: ASGIApp, name: str | None = None) -> None:
        """Add a ``Host``."""
        self.routes.append(Host(host, app=app, name=name))
        self._matcher = None

    def route(
        self, path: str, methods: Sequence[str] | None = None, name: str | None = None
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator form of ``add_route``."""

        def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
            self.add_route(path, func, methods=methods, name=name)
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
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(scope, receive, send)
            return
        matcher = self._matcher
        if matcher is None:
            self.compile()
            matcher = self._matcher
            assert matcher is not None
        if "router" not in scope:
            scope["router"] = self
        path = route_path(scope) if scope.get("root_path") else scope["path"]
        # A websocket scope has no method: only routes open to every method (mounts,
        # hosts, ASGI apps) can take it until WebSocket routes exist.
        method = scope["method"] if kind == "http" else ""
        # The common case, inline: a path without parameters, one dict lookup.
        static = matcher.static.get(path)
        if static is not None:
            for route in static:
                methods = route.methods
                if methods is None or method in methods:
                    scope["route"] = route
                    await route.dispatch(scope, receive, send)
                    return
        match = matcher.match_dynamic(path, method, scope) if matcher.has_dynamic else None
        if match is None:
            await self._no_match(matcher, path, scope, receive, send)
            return
        route, params, rest = match
        if rest is not None:
            child = route.child_scope(scope, params, rest)
            await route.dispatch(child, receive, send)
            return
        parent = scope.get("path_params")
        scope["path_params"] = {**parent, **params} if parent else params
        scope["route"] = route
        await route.dispatch(scope, receive, send)

    async def _no_match(
        self, matcher: _Matcher, path: str, scope: Scope, receive: Receive, send: Send
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
                    full = scope["path"]
                    target = full[:-1] if full.endswith("/") else full + "/"
                    query = scope.get("query_string", b"")
                    if query:
                        target += "?" + query.decode("latin-1")
                    # Redirect relative to the host: an absolute URL would trust Host.
                    await RedirectResponse(_safe_redirect(target))(scope, receive, send)
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
            if self.lifespan is None:
                await send({"type": "lifespan.startup.complete"})
                started = True
                await receive()  # lifespan.shutdown
            else:
                async with self.lifespan(app) as state:
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

    def __repr__(self) -> str:
        return f"Router(routes={self.routes!r})"


def _safe_redirect(target: str) -> str:
    # "//evil.example/" would be read by browsers as another host: keep one slash.
    if target.startswith("//"):
        return "/" + target.lstrip("/")
    return target
