"""The router's index of its routes, built once at start-up (``Matcher``).

Theory of operation
-------------------
Every route kind matches itself (``BaseRoute.matches``: a ``Route`` by its template's
regex and converters, a ``Mount`` by its prefix, a ``Host`` by the ``Host`` header, a
custom route by its own code). The index only decides which routes a request has to ask:

- ``static``: a dict from path to the routes without parameters at that path. Most
  requests are answered by one dict lookup and a method check (in ``Router.resolve``).
- ``fixed``: routes with parameters whose paths always have the same number of segments,
  indexed by (number of segments, first segment when it is literal). A lookup tries only
  the routes under the request's own key and under (count, parameter-first), so 50 or
  5,000 routes under different prefixes cost the same.
- ``variable``: routes with a ``path`` parameter and mounts (they take a variable number
  of segments), indexed by first literal segment.
- ``others``: ``Host`` routes and custom routes, asked in order.

Where every route under a key is a template of whole segments, the key gets one generated
function (``_compiled_matcher``) that answers for all of them at once; it agrees with
the routes' own ``matches`` (tests/web/test_compiled_matcher.py).

Precedence: a route whose path has no parameter and equals the request path wins (unless
a ``Host`` or custom route was declared before it: those keep declaration order); then the
first route, in declaration order, among routes with parameters, mounts, hosts and custom
routes that matches path and method.
"""

from __future__ import annotations

from collections.abc import Sequence

from vivace.types import Scope
from vivace.web._compiled_matcher import CompiledMatch, compile_routes
from vivace.web._routes import BaseRoute, Match, Mount, Route
from vivace.web._websocket_routes import WEBSOCKET_METHOD

__all__ = ["Matcher"]


class _Entry:
    """A route or mount with parameters under an index key, with its declaration index
    and, for a template of whole segments, its own generated matcher (``fast``)."""

    __slots__ = ("fast", "index", "route")

    def __init__(self, index: int, route: Route | Mount) -> None:
        self.index = index
        self.route = route
        self.fast = compile_routes([route]) if isinstance(route, Route) else None


def _first_segment(path: str) -> str | None:
    # The literal first segment of a template, or None when it holds a parameter.
    first = path[1:].split("/", 1)[0]
    return None if "{" in first or not path else first


class Matcher:
    """The index of a router's routes (see the module docstring)."""

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
        # The same, as one generated function per key where every entry is a route
        # whose template is whole segments.
        self.compiled: dict[tuple[int, str | None], CompiledMatch] = {}
        for key, entries in self.merged.items():
            routes_of_key = [e.route for e in entries if isinstance(e.route, Route)]
            if len(routes_of_key) == len(entries):
                match = compile_routes(routes_of_key)
                if match is not None:
                    self.compiled[key] = match

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
        """Every dynamic route matching ``path`` (whatever the method), in order, each
        asked through its own ``matches``."""
        found: list[tuple[int, Match]] = []
        if path[:1] == "/":
            for entry in self._lookup(path):
                match = entry.route.matches(path, scope)
                if match is not None:
                    found.append((entry.index, match))
        for index, route in self.others:
            other = route.matches(path, scope)
            if other is not None:
                found.append((index, other))
        if self.others and len(found) > 1:
            found.sort(key=_first)
        return found

    def match_dynamic(self, path: str, method: str, scope: Scope) -> Match | None:
        """The first dynamic route matching ``path`` and ``method``, in declaration order."""
        if self.others or path[:1] != "/":
            for _, match in self.candidates(path, scope):
                methods = match[0].methods
                if methods is None or method in methods:
                    return match
            return None
        # The common case: a generated function for the request's key.
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
            found = route.matches(path, scope)
            if found is not None:
                return found
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
