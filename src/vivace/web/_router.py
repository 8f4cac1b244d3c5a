"""``Router``: dispatch a request to the first route that matches, compiled at start-up.

Theory of operation
-------------------
Routes are compiled once (on lifespan start-up, or the first request) into a
``_Matcher``:

- ``static``: a dict from path to the routes without parameters at that path. Most
  requests are answered by one dict lookup and a method check.
- ``fixed``: routes with parameters whose paths always have the same number of segments,
  indexed by (number of segments, first segment when it is literal). A lookup tries only
  the routes under the request's own key and under (count, parameter-first), each with
  its compiled regex, so 50 or 5,000 routes under different prefixes cost the same.
- ``variable``: routes with a ``path`` parameter and mounts (they take a variable number
  of segments), indexed by first literal segment.
- ``others``: ``Host`` routes and custom ``BaseRoute`` subclasses, in order.

(A segment trie walked in Python was measured first: about 1.5 us per lookup against
0.6 us for this index, where the work per candidate is one C-level regex match.)

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
from vivace.web._converters import INT64_MAX, IntegerConverter, StringConverter
from vivace.web._datastructures import URLPath
from vivace.web._exceptions import HTTPException, NoMatchFound
from vivace.web._paths import Param
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


class _Entry:
    """A route or mount with parameters, matched by its compiled regex, or for a template
    of whole segments (``segments``) by generated code (``fast``, ``_compile_entries``)."""

    __slots__ = ("converters", "fast", "index", "is_mount", "match", "route", "segments")

    def __init__(self, index: int, route: Route | Mount) -> None:
        self.index = index
        self.route = route
        self.is_mount = isinstance(route, Mount)
        template = route.template
        regex = route.prefix_regex if isinstance(route, Mount) else template.regex
        self.match = regex.match
        self.converters = tuple((name, c.convert) for name, c in template.converters.items())
        segments = None if self.is_mount else template.segments
        self.segments = segments if _whole_segments(segments) else None
        self.fast = _compile_entries([self])

    def try_match(self, path: str) -> Match | None:
        m = self.match(path)
        if m is None:
            return None
        groups = m.groupdict()
        params: dict[str, Any] = {}
        try:
            for name, convert in self.converters:
                params[name] = convert(groups[name])
        except ValueError:  # a converter may refuse what its regex let through
            return None
        if self.is_mount:
            return self.route, params, groups["_vivace_rest"]
        return self.route, params, None


def _whole_segments(segments: Sequence[object] | None) -> bool:
    """Whether a template is only literal segments and whole-segment parameters (else,
    with mixed segments or a ``path`` parameter, it keeps the regex)."""
    return segments is not None and all(type(seg) is str or type(seg) is Param for seg in segments)


def fits_int64(digits: str) -> bool:
    """Whether ASCII ``digits`` are at most 2**63 - 1, without ``int()`` (which refuses
    more than 4300 digits with a ValueError).

    >>> fits_int64("0009223372036854775807"), fits_int64("9223372036854775808")
    (True, False)
    """
    digits = digits.lstrip("0")
    # Strings of equal length compare as the numbers they spell.
    return len(digits) < 19 or (len(digits) == 19 and digits <= _INT64_DIGITS)


_INT64_DIGITS = str(INT64_MAX)


def convert_name(offset: int, tag: int) -> str:
    return f"convert{offset}_{tag}"


def _segment_code(
    segments: Sequence[object], tag: int, namespace: dict[str, Any]
) -> tuple[str, str]:
    """How to match a request's split path (``s``) against a template of whole segments,
    as Python source: the test, and the dict of converted parameters. Converters it
    calls are put in ``namespace`` under names ending in ``_{tag}``.

    A request then pays for one comparison per literal segment and one check per
    parameter: ``/users/{id:int}`` becomes ``s[2] == "users"``, an ASCII-digits test and
    ``int()``. The code reads ``path.split("/")`` of a path with as many segments as the
    template (the router's index guarantees that). Converters run in declaration order;
    a ``ValueError`` from one means no match, as with the regex.
    """
    tests: list[str] = []
    values: list[str] = []
    for offset, seg in enumerate(segments, start=1):  # s[0] is the "" before the first "/"
        if type(seg) is str:
            tests.append(f"s[{offset}] == {seg!r}")
            continue
        assert type(seg) is Param
        converter = seg.converter
        if type(converter) is IntegerConverter and converter.max == INT64_MAX:
            # [0-9]+ in full: isdigit() alone accepts other scripts' digits. Fewer than 19
            # digits always fit in 0..2**63-1, so the common case pays one len().
            segment = f"s[{offset}]"
            namespace["fits_int64"] = fits_int64
            tests.append(
                f"{segment}.isascii() and {segment}.isdigit() and "
                f"(len({segment}) < 19 or fits_int64({segment}))"
            )
            value = f"int({segment})"
            if converter.min:
                value = f"{convert_name(offset, tag)}({segment})"
                namespace[convert_name(offset, tag)] = converter.convert
            values.append(f"{seg.name!r}: {value}")
        elif type(converter) is StringConverter:
            tests.append(f"s[{offset}] != ''")
            values.append(f"{seg.name!r}: s[{offset}]")
        else:
            check, convert = f"check{offset}_{tag}", convert_name(offset, tag)
            namespace[check] = seg.check
            namespace[convert] = converter.convert
            tests.append(f"{check}(s[{offset}])")
            values.append(f"{seg.name!r}: {convert}(s[{offset}])")
    return " and ".join(tests) or "True", "{" + ", ".join(values) + "}"


def _compile_entries(entries: Sequence[_Entry]) -> Callable[[list[str], str], Match | None] | None:
    """One generated function that tries ``entries`` in order on a split path and a
    method, as the router's loop would (methods first, then the segments), returning the
    first match; ``None`` unless every entry has segment code. A list of entries costs a
    single call, not a call per entry."""
    if not entries or any(entry.segments is None for entry in entries):
        return None
    namespace: dict[str, Any] = {}
    lines = ["def match(s, method):"]
    for n, entry in enumerate(entries):
        test, values = _segment_code(entry.segments, n, namespace)  # type: ignore[arg-type]
        namespace[f"route_{n}"] = entry.route
        methods = entry.route.methods
        if methods is not None:
            namespace[f"methods_{n}"] = methods
            test = f"method in methods_{n} and {test}"
        lines += [
            f"    if {test}:",
            "        try:",
            f"            return route_{n}, {values}, None",
            "        except ValueError:",  # int() past sys.get_int_max_str_digits()
            "            pass",
        ]
    lines.append("    return None")
    exec("\n".join(lines), namespace)  # built above from repr()-escaped literals
    match: Callable[[list[str], str], Match | None] = namespace["match"]
    return match


# A match: the route, its converted parameters, and for a mount the rest of the path.
Match = tuple[BaseRoute, dict[str, Any], str | None]


def _first_segment(path: str) -> str | None:
    # The literal first segment of a template, or None when it holds a parameter.
    first = path[1:].split("/", 1)[0]
    return None if "{" in first or not path else first


class _Matcher:
    __slots__ = ("compiled", "fixed", "has_dynamic", "merged", "others", "static", "variable")

    def __init__(self, routes: Sequence[BaseRoute]) -> None:
        self.static: dict[str, list[BaseRoute]] = {}
        # Routes whose paths always have the same number of segments, by (count, first
        # literal segment or None); routes and mounts that take a variable number of
        # segments (a ``path`` parameter, a mount's rest), by first literal segment.
        self.fixed: dict[tuple[int, str | None], list[_Entry]] = {}
        self.variable: dict[str | None, list[_Entry]] = {}
        self.others: list[tuple[int, BaseRoute]] = []
        for index, route in enumerate(routes):
            self._add(index, route)
        self.has_dynamic = bool(self.fixed or self.variable or self.others)
        # For each key of ``fixed``, every entry a request with that key can match, in
        # declaration order: one dict lookup finds them all.
        self.merged = {key: self._entries(*key) for key in self.fixed}
        # The same, as one generated function per key, where every entry is a template
        # of whole segments (see _compile_entries).
        self.compiled = {
            key: match
            for key, entries in self.merged.items()
            if (match := _compile_entries(entries)) is not None
        }

    def _entries(self, count: int, first: str | None) -> list[_Entry]:
        entries = [
            *self.fixed.get((count, first), ()),
            *(self.fixed.get((count, None), ()) if first is not None else ()),
            *(self.variable.get(first, ()) if first is not None else ()),
            *self.variable.get(None, ()),
        ]
        entries.sort(key=_index)
        return entries

    def _lookup(self, path: str) -> list[_Entry]:
        segments = path.split("/")
        key = (len(segments) - 1, segments[1])
        entries = self.merged.get(key)
        return entries if entries is not None else self._entries(*key)

    def _add(self, index: int, route: BaseRoute) -> None:
        if isinstance(route, Route):
            template = route.template
            if not template.param_names and not self.others:
                self.static.setdefault(route.path, []).append(route)
                return
            entry = _Entry(index, route)
            first = _first_segment(route.path)
            if any(c.spans_segments for c in template.converters.values()):
                self.variable.setdefault(first, []).append(entry)
            else:
                key = (route.path.count("/"), first)
                self.fixed.setdefault(key, []).append(entry)
            return
        if isinstance(route, Mount):
            first = _first_segment(route.path) if route.path else None
            self.variable.setdefault(first, []).append(_Entry(index, route))
            return
        self.others.append((index, route))

    def candidates(self, path: str, scope: Scope) -> list[tuple[int, Match]]:
        """Every dynamic route matching ``path`` (whatever the method), in order."""
        found: list[tuple[int, Match]] = []
        if path[:1] == "/":
            for entry in self._lookup(path):
                match = entry.try_match(path)
                if match is not None:
                    found.append((entry.index, match))
        for index, route in self.others:
            other = _match_other(route, path, scope)
            if other is not None:
                found.append((index, other))
        if self.others and len(found) > 1:
            found.sort(key=_first)
        return found

    def match_dynamic(self, path: str, method: str, scope: Scope) -> Match | None:
        if self.others or path[:1] != "/":
            for _, match in self.candidates(path, scope):
                methods = match[0].methods
                if methods is None or method in methods:
                    return match
            return None
        # The common case: candidates come in declaration order; the first that matches
        # path and method wins.
        segments = path.split("/")
        key = (len(segments) - 1, segments[1])
        compiled = self.compiled.get(key)
        if compiled is not None:
            return compiled(segments, method)
        entries = self.merged.get(key)
        if entries is None:
            entries = self._entries(*key)
        for entry in entries:
            fast = entry.fast
            if fast is not None:
                found = fast(segments, method)
                if found is not None:
                    return found
                continue
            route = entry.route
            methods = route.methods
            if methods is not None and method not in methods:
                continue  # checked first: cheaper than the regex
            m = entry.match(path)
            if m is None:
                continue
            groups = m.groupdict()
            params: dict[str, Any] = {}
            try:
                for name, convert in entry.converters:
                    params[name] = convert(groups[name])
            except ValueError:
                continue
            return route, params, groups["_vivace_rest"] if entry.is_mount else None
        return None

    def allowed(self, path: str, scope: Scope) -> set[str]:
        """The methods of every route matching ``path`` (for 405 and its Allow header)."""
        allowed: set[str] = set()
        for route in self.static.get(path, ()):
            allowed |= route.methods or set()
        if self.has_dynamic:
            for _, (route, _params, _rest) in self.candidates(path, scope):
                allowed |= route.methods or set()
        allowed.discard(WEBSOCKET_METHOD)  # a WebSocket route does not make a 405
        return allowed

    def any_match(self, path: str, scope: Scope) -> bool:
        return path in self.static or (self.has_dynamic and bool(self.candidates(path, scope)))


def _first(item: tuple[int, Match]) -> int:
    return item[0]


def _index(entry: _Entry) -> int:
    return entry.index


def _match_other(route: BaseRoute, path: str, scope: Scope) -> Match | None:
    if isinstance(route, Host):
        params = route.match_host(scope)
        return None if params is None else (route, params, None)
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
        **options: Any,
    ) -> None:
        """Add a ``Route`` (``options``: a typed handler's ``status_code``,
        ``response_model``, ``response_class`` and the OpenAPI options)."""
        self.routes.append(
            Route(
                path,
                endpoint,
                methods=methods,
                name=name,
                include_in_schema=include_in_schema,
                **options,
            )
        )
        self._matcher = None

    def add_websocket_route(
        self, path: str, endpoint: Callable[..., Any], name: str | None = None
    ) -> None:
        """Add a ``WebSocketRoute``."""
        self.routes.append(WebSocketRoute(path, endpoint, name=name))
        self._matcher = None

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
        self.routes.append(Mount(path, app=app, name=name))
        self._matcher = None

    def host(self, host: str, app: ASGIApp, name: str | None = None) -> None:
        """Add a ``Host``."""
        self.routes.append(Host(host, app=app, name=name))
        self._matcher = None

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
