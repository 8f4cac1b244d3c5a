"""The router's generated matcher (``_compiled_matcher``) agrees with the plain regex
matcher: for generated route tables (converters, options, mixed segments, ``path``
parameters, mounts) and generated paths (filled templates, then trailing slashes, empty
segments, percent signs, unicode digits and letters, newlines), the router picks the same
route with the same parameters as a reference that tries each route's regex in order."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, MutableMapping
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vivace.web import Mount, Request, Route, Router
from vivace.web._compiled_matcher import compile_routes
from vivace.web._routes import BaseRoute

# Raise it locally (VIVACE_ROUTER_EXAMPLES=5000) for a deeper search.
EXAMPLES = int(os.environ.get("VIVACE_ROUTER_EXAMPLES", "150"))
METHODS = ("GET", "POST", "DELETE")


async def handler(request: Request) -> str:
    return "ok"


# Literal segments: ASCII, unicode, and characters a decoded path may hold.
LITERALS = st.sampled_from(
    ["users", "items", "a", "b", "é", "日本", "%", "%2F", "a b", "x.y", "v1", "+", "-", "ß"]
)
CONVERTERS = st.sampled_from(
    ["", ":str", ":int", ":int", ":int(min=1, max=1000)", ":int(max=9)", ":float", ":uuid", ":date"]
)


@st.composite
def segment(draw: Any, names: list[str]) -> str:
    kind = draw(st.sampled_from(["literal", "literal", "param", "param", "mixed"]))
    if kind == "literal":
        return str(draw(LITERALS))
    name = f"p{len(names)}"
    names.append(name)
    if kind == "param":
        return "{" + name + str(draw(CONVERTERS)) + "}"
    other = f"p{len(names)}"
    names.append(other)
    return "v{" + name + ":int}." + "{" + other + ":int}"  # mixed: compiled never


@st.composite
def template(draw: Any, *, allow_path: bool = True) -> str:
    names: list[str] = []
    segments = draw(st.lists(segment(names), min_size=0, max_size=4))
    path = "/" + "/".join(segments)
    if allow_path and draw(st.integers(0, 5)) == 0:
        path = path.rstrip("/") + "/{rest:path}"
    elif segments and draw(st.booleans()) and draw(st.booleans()):
        path += "/"  # a template with a trailing slash
    return path


@st.composite
def route(draw: Any) -> Route:
    methods = draw(st.lists(st.sampled_from(METHODS), min_size=1, max_size=3, unique=True))
    return Route(draw(template()), handler, methods=methods)


@st.composite
def routes(draw: Any) -> list[BaseRoute]:
    table: list[BaseRoute] = []
    for _ in range(draw(st.integers(1, 7))):
        if draw(st.integers(0, 4)) == 0:
            # The mount's parameters named apart from its routes' (m0 ... vs p0 ...).
            prefix = draw(template(allow_path=False)).rstrip("/").replace("{p", "{m")
            inner = draw(st.lists(route(), min_size=1, max_size=3))
            table.append(Mount(prefix, routes=inner))
        else:
            table.append(draw(route()))
    return table


VALUES = st.one_of(
    st.integers(0, 2**70).map(str),
    st.sampled_from(["0", "007", "-1", "1.5", "9223372036854775807", "9223372036854775808"]),
    st.sampled_from(["١٢", "²", "१२३", "1" * 5000, "0" * 30 + "1"]),  # not ASCII; past int()
    st.sampled_from(["2024-02-29", "2023-02-29", "12345678-1234-1234-1234-123456789abc"]),
    st.text(alphabet=st.characters(blacklist_characters="/"), max_size=6),
    st.sampled_from(["%", "%2F", "a b", "\n", "é", "ü\u0301"]),
)


def fill(path: str, draw: Any) -> str:
    """The template with every parameter replaced by a drawn value."""
    return re.sub(r"{[^{}]*}", lambda m: str(draw(VALUES)), path)


def templates_of(table: list[BaseRoute]) -> list[str]:
    found: list[str] = []
    for item in table:
        if isinstance(item, Mount):
            found += [item.path + inner.path for inner in item.routes if isinstance(inner, Route)]
        elif isinstance(item, Route):
            found.append(item.path)
    return found


@st.composite
def request_path(draw: Any, table: list[BaseRoute]) -> str:
    path = fill(draw(st.sampled_from(templates_of(table))), draw)
    change = draw(st.sampled_from(["none", "none", "slash", "unslash", "empty", "segment", "nl"]))
    if change == "slash":
        path += "/"
    elif change == "unslash":
        path = path.rstrip("/") or "/"
    elif change == "empty":
        path = path.replace("/", "//", 1)
    elif change == "segment":
        parts = path.split("/")
        parts[draw(st.integers(0, len(parts) - 1))] = draw(VALUES)
        path = "/".join(parts)
    elif change == "nl":
        path += "\n"
    return path


def reference(table: list[BaseRoute], path: str, method: str) -> tuple[Any, ...] | None:
    """The plain regex matcher: a static route equal to the path first, then each route's
    or mount's regex in declaration order; a mount goes on into its routes."""
    for item in table:
        if not isinstance(item, Route) or item.template.param_names or item.path != path:
            continue
        if item.methods is None or method in item.methods:
            return (item, {})
    for item in table:
        if isinstance(item, Route) and item.template.param_names:
            m = item.template.regex.match(path)
            params = None if m is None else item.template.convert(m.groupdict())
            if params is not None and (item.methods is None or method in item.methods):
                return (item, params)
        elif isinstance(item, Mount):
            prefix = item.template.regex.pattern.removesuffix(r"\Z")
            m = re.match(prefix + r"(?P<_rest>/.*)\Z", path, re.DOTALL)
            if m is None:
                continue
            groups = m.groupdict()
            rest = groups.pop("_rest")
            params = item.template.convert(groups)
            if params is None:
                continue
            inner = reference(list(item.routes), rest, method)
            return (item, params, inner)
    return None


def resolve(router: Router, path: str, method: str) -> tuple[Any, ...] | None:
    """What the router does, mounts followed into their routers."""
    scope: dict[str, Any] = {"type": "http", "method": method, "path": path, "root_path": ""}
    return _resolve(router, scope, {}, method)


def _resolve(
    router: Router, scope: MutableMapping[str, Any], outer: Mapping[str, Any], method: str
) -> tuple[Any, ...] | None:
    route, child = router.resolve(scope)
    if route is None:
        return None
    params = {k: v for k, v in child.get("path_params", {}).items() if k not in outer}
    if isinstance(route, Mount):
        assert isinstance(route.app, Router)
        return (route, params, _resolve(route.app, child, child["path_params"], method))
    return (route, params)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), table=routes(), method=st.sampled_from(METHODS))
def test_router_agrees_with_the_regex_matcher(
    data: Any, table: list[BaseRoute], method: str
) -> None:
    router = Router(table)
    router.compile()
    for _ in range(5):
        path = data.draw(request_path(table))
        assert resolve(router, path, method) == reference(table, path, method), path


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), table=st.lists(route(), min_size=1, max_size=6))
def test_generated_code_agrees_with_each_routes_matches(data: Any, table: list[Route]) -> None:
    """The function generated for the routes of one segment count answers what asking
    each route's ``matches`` (its regex), then its methods, in order answers."""
    whole = [r for r in table if compile_routes([r]) is not None]
    if not whole:
        return
    for _ in range(5):
        path = data.draw(request_path(list(whole)))
        method = data.draw(st.sampled_from(METHODS))
        segments = path.split("/")
        # The index hands a generated function only paths of its routes' segment count.
        same = [r for r in whole if r.path.count("/") == len(segments) - 1]
        generated = compile_routes(same)
        if generated is None or not path.startswith("/"):
            continue
        expected = None
        for candidate in same:
            found = candidate.matches(path, {})
            if found is not None and candidate.methods is not None and method in candidate.methods:
                expected = found
                break
        assert generated(segments, method) == expected, path


def test_a_mount_keeps_an_encoded_newline_in_the_rest() -> None:
    # "$" would stop before a final "\n" and hand the mounted app "/x" as the rest with
    # a root_path that has eaten a character of the prefix.
    inner = Router([Route("/{name}", handler)])
    router = Router([Mount("/static", app=inner)])
    scope: dict[str, Any] = {"type": "http", "method": "GET", "path": "/static/x\n"}
    route, child = router.resolve(scope)
    assert route is router.routes[0]
    assert child["root_path"] == "/static"
    _, grandchild = inner.resolve(child)
    assert grandchild["path_params"] == {"name": "x\n"}
