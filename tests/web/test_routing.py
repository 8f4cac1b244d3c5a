"""Routing: matching, precedence, converters, 405/OPTIONS, slashes, mounts, hosts, url_for."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

import pytest

from vivace.testing import TestClient
from vivace.types import Receive, Scope, Send
from vivace.web import (
    App,
    BaseRoute,
    Converter,
    Host,
    HTTPEndpoint,
    Mount,
    NoMatchFound,
    PlainTextResponse,
    Request,
    Route,
    Router,
    register_converter,
)
from vivace.web._converters import CONVERTERS
from vivace.web._paths import PathTemplate


async def echo_params(request: Request) -> dict[str, Any]:
    return {k: str(v) for k, v in request.path_params.items()} | {
        "route": request.scope["route"].name
    }


def client_for(*routes: BaseRoute, **kwargs: Any) -> TestClient:
    return TestClient(App(routes=list(routes), **kwargs), follow_redirects=False)


def test_static_and_parameter_routes() -> None:
    c = client_for(
        Route("/", echo_params, name="home"),
        Route("/users/me", echo_params, name="me"),
        Route("/users/{id:int}", echo_params, name="user"),
        Route("/users/{name}", echo_params, name="by_name"),
    )
    assert c.get("/").json() == {"route": "home"}
    assert c.get("/users/me").json() == {"route": "me"}
    assert c.get("/users/42").json() == {"id": "42", "route": "user"}
    assert c.get("/users/ada").json() == {"name": "ada", "route": "by_name"}
    assert c.get("/users").status_code == 404
    assert c.get("/users/").status_code == 404


def test_static_route_wins_over_earlier_parameter_route() -> None:
    # The FastAPI gotcha: "/users/me" declared after "/users/{name}" still wins.
    c = client_for(Route("/users/{name}", echo_params, name="p"), Route("/users/me", echo_params))
    assert c.get("/users/me").json()["route"] == "echo_params"
    assert c.get("/users/x").json()["route"] == "p"


def test_parameter_routes_match_in_declaration_order() -> None:
    c = client_for(
        Route("/a/{x}", echo_params, name="first"),
        Route("/a/{y:int}", echo_params, name="second"),
    )
    assert c.get("/a/1").json() == {"x": "1", "route": "first"}


@pytest.mark.parametrize(
    ("path", "url", "expected"),
    [
        ("/i/{v:int}", "/i/007", 7),
        ("/f/{v:float}", "/f/3.25", 3.25),
        ("/f/{v:float}", "/f/3", 3.0),
        (
            "/u/{v:uuid}",
            "/u/12345678-1234-5678-1234-567812345678",
            uuid.UUID(int=0x12345678123456781234567812345678),
        ),
        ("/d/{v:date}", "/d/2024-02-29", datetime.date(2024, 2, 29)),
        ("/p/{v:path}", "/p/a/b/c.txt", "a/b/c.txt"),
        ("/p/{v:path}", "/p/", ""),
        ("/s/{v}", "/s/caf%C3%A9", "café"),
    ],
)
def test_converters(path: str, url: str, expected: object) -> None:
    seen: list[object] = []

    async def handler(request: Request) -> str:
        seen.append(request.path_params["v"])
        return "ok"

    assert client_for(Route(path, handler)).get(url).status_code == 200
    assert seen == [expected]


@pytest.mark.parametrize(
    ("path", "url"),
    [
        ("/i/{v:int}", "/i/-1"),
        ("/i/{v:int}", "/i/1.5"),
        ("/i/{v:int}", "/i/%C2%B2"),  # a unicode digit is not an ASCII digit
        ("/f/{v:float}", "/f/nan"),
        ("/u/{v:uuid}", "/u/not-a-uuid"),
        ("/d/{v:date}", "/d/2023-02-29"),  # the regex matches, the date does not exist
        ("/d/{v:date}", "/d/2023-13-01"),
        ("/s/{v}", "/s/"),
        ("/i/{v:int}", "/i/12%0A"),  # a trailing newline is not a digit
        ("/i/{v:int}", "/i/" + "1" * 5000),  # past int()'s digit limit: no match, no 500
        ("/i/{v:int}", "/i/1/x"),
    ],
)
def test_converters_refuse(path: str, url: str) -> None:
    assert client_for(Route(path, echo_params), redirect_slashes=False).get(url).status_code == 404


def test_whole_segment_templates_matched_without_regex() -> None:
    # Literal and whole-segment parameter templates get a generated matcher; literals
    # with quotes and backslashes must stay literals in the generated source.
    from vivace.web._compiled_matcher import whole_segments as _whole_segments

    paths = ["/it's/{v:int}", '/q"\\/{a}/{b:int}/x', "/{a}/{b:float}"]
    app = App(routes=[Route(p, echo_params, name=str(i)) for i, p in enumerate(paths)])
    c = TestClient(app)
    assert c.get("/it's/7").json() == {"v": "7", "route": "0"}
    assert c.get('/q"\\/z/8/x').json() == {"a": "z", "b": "8", "route": "1"}
    assert c.get('/q"\\/z/8/y').status_code == 404
    assert c.get("/k/2.5").json() == {"a": "k", "b": "2.5", "route": "2"}
    assert c.get("/k/x").status_code == 404
    assert _whole_segments(PathTemplate("/a/{v:int}").segments)
    assert not _whole_segments(PathTemplate("/a/v{v:int}").segments)  # mixed
    assert not _whole_segments(PathTemplate("/a/{v:path}").segments)  # rest
    assert _whole_segments(PathTemplate("/").segments)


class Hex(Converter[int]):
    """Lower-case hexadecimal numbers, a custom converter for the tests below."""

    regex = "[0-9a-f]+"

    def convert(self, value: str) -> int:
        return int(value, 16)

    def to_string(self, value: int) -> str:
        return f"{value:x}"


def test_routes_sharing_an_index_key_tried_in_order_by_one_function() -> None:
    # Routes whose paths have the same segment count and first segment are matched by one
    # generated function: methods first, then segments, in declaration order, a failing
    # converter falling through to the next route, as the general loop does.
    register_converter("hexa", Hex())
    try:
        app = App(
            routes=[
                Route("/items/{a:int}", echo_params, name="int-get"),
                Route("/items/{a:int}", echo_params, methods=["POST"], name="int-post"),
                Route("/items/{h:hexa}", echo_params, methods=["PUT"], name="hex-put"),
                Route("/items/{s}", echo_params, methods=["GET", "PUT", "POST"], name="str"),
                Route("/{x:hexa}/check1_0(", echo_params, name="lit-1"),
                Route("/{x:hexa}/{y:hexa}", echo_params, name="hex-2"),
            ]
        )
        c = TestClient(app)
        assert c.get("/items/7").json() == {"a": "7", "route": "int-get"}
        assert c.post("/items/7").json() == {"a": "7", "route": "int-post"}
        assert c.put("/items/ff").json() == {"h": "255", "route": "hex-put"}
        assert c.put("/items/zz").json() == {"s": "zz", "route": "str"}
        assert c.get("/items/abc").json() == {"s": "abc", "route": "str"}
        huge = "9" * 5000  # int() refuses it (sys.get_int_max_str_digits): the next route
        assert c.get(f"/items/{huge}").json() == {"s": huge, "route": "str"}
        r = c.delete("/items/7")
        assert r.status_code == 405 and r.headers["allow"] == "GET, HEAD, POST, PUT"
        assert c.get("/ab/check1_0(").json() == {"x": "171", "route": "lit-1"}
        assert c.get("/ab/cd").json() == {"x": "171", "y": "205", "route": "hex-2"}
        assert c.get("/ab/zz").status_code == 404
        matcher = app.router._matcher
        assert matcher is not None and (2, "items") in matcher.compiled
    finally:
        del CONVERTERS["hexa"]


def test_custom_converter_and_mixed_segments() -> None:
    register_converter("hex", Hex())
    try:
        app = App(
            routes=[
                Route("/color/{c:hex}", echo_params, name="color"),
                Route("/v{major:int}.{minor:int}/info", echo_params, name="version"),
                Route("/files/{name}.{ext}", echo_params, name="file"),
            ]
        )
        c = TestClient(app)
        assert c.get("/color/ff").json() == {"c": "255", "route": "color"}
        assert c.get("/color/zz").status_code == 404
        assert c.get("/v2.10/info").json() == {"major": "2", "minor": "10", "route": "version"}
        assert c.get("/files/report.pdf").json() == {
            "name": "report",
            "ext": "pdf",
            "route": "file",
        }
        assert app.url_path_for("color", c=255) == "/color/ff"
        assert app.url_path_for("version", major=1, minor=0) == "/v1.0/info"
    finally:
        del CONVERTERS["hex"]


def test_register_converter_validates() -> None:
    with pytest.raises(ValueError, match="invalid converter name"):
        register_converter("bad name", CONVERTERS["int"])


def test_path_parameter_in_the_middle_uses_regex() -> None:
    c = client_for(Route("/repo/{path:path}/edit", echo_params, name="edit"))
    assert c.get("/repo/a/b/edit").json() == {"path": "a/b", "route": "edit"}
    assert c.get("/repo/a/b/view").status_code == 404


def test_bad_templates() -> None:
    with pytest.raises(ValueError, match="start with"):
        Route("users", echo_params)
    with pytest.raises(ValueError, match="unknown path converter"):
        Route("/x/{a:nope}", echo_params)
    with pytest.raises(ValueError, match="duplicate"):
        Route("/x/{a}/{a}", echo_params)
    with pytest.raises(ValueError, match="malformed"):
        Route("/x/{a", echo_params)
    with pytest.raises(ValueError, match="malformed"):
        Route("/x/{1a}", echo_params)


def test_405_with_allow_from_every_matching_route() -> None:
    c = client_for(
        Route("/items", echo_params, methods=["GET"]),
        Route("/items", echo_params, methods=["POST"], name="create"),
        Route("/things/{id}", echo_params, methods=["PUT"]),
        Route("/things/{id:int}", echo_params, methods=["DELETE"]),
    )
    assert c.post("/items").json()["route"] == "create"
    r = c.patch("/items")
    assert r.status_code == 405 and r.headers["allow"] == "GET, HEAD, POST"
    r = c.get("/things/3")
    assert r.status_code == 405 and r.headers["allow"] == "DELETE, PUT"
    assert c.delete("/things/3").status_code == 200


def test_options_answered_with_allow() -> None:
    c = client_for(Route("/items", echo_params, methods=["GET", "POST"]))
    r = c.options("/items")
    assert r.status_code == 204 and r.headers["allow"] == "GET, HEAD, POST"
    assert c.options("/missing").status_code == 404


def test_head_is_allowed_with_get_and_has_no_body() -> None:
    c = client_for(Route("/x", echo_params))
    r = c.head("/x")
    assert r.status_code == 200 and r.content == b""


def test_static_route_partial_then_dynamic_full_match() -> None:
    c = client_for(
        Route("/a/b", echo_params, methods=["GET"], name="static"),
        Route("/a/{x}", echo_params, methods=["POST"], name="dynamic"),
    )
    assert c.post("/a/b").json() == {"x": "b", "route": "dynamic"}
    assert c.put("/a/b").headers["allow"] == "GET, HEAD, POST"


def test_redirect_slashes() -> None:
    c = client_for(Route("/dir/", echo_params), Route("/file", echo_params))
    r = c.get("/dir?q=1")
    assert r.status_code == 307 and r.headers["location"] == "/dir/?q=1"
    r = c.get("/file/")
    assert r.status_code == 307 and r.headers["location"] == "/file"
    assert (
        client_for(Route("/file", echo_params), redirect_slashes=False).get("/file/").status_code
        == 404
    )


def test_redirect_never_leaves_the_host() -> None:
    # "//evil.example" as a Location would send the browser to another host.
    c = client_for(Route("/evil.example/", echo_params))
    r = c.get("//evil.example")
    assert r.status_code in (307, 404)
    if r.status_code == 307:
        assert not r.headers["location"].startswith("//")


class Items(HTTPEndpoint):
    async def get(self, request: Request) -> dict[str, str]:
        return {"method": "get", "id": request.path_params.get("id", "")}

    def post(self, request: Request) -> dict[str, str]:
        return {"method": "post"}

    async def delete(self) -> str:
        return "deleted"


def test_class_endpoint() -> None:
    c = client_for(Route("/items/{id}", Items))
    assert c.get("/items/1").json() == {"method": "get", "id": "1"}
    assert c.post("/items/1").json() == {"method": "post"}
    assert c.delete("/items/1").text == "deleted"
    assert c.head("/items/1").status_code == 200
    r = c.put("/items/1")
    assert r.status_code == 405 and r.headers["allow"] == "DELETE, GET, HEAD, POST"


def test_class_endpoint_with_explicit_methods_answers_405_itself() -> None:
    c = client_for(Route("/items", Items, methods=["GET", "PUT"]))
    r = c.put("/items")
    assert r.status_code == 405 and "GET" in r.headers["allow"]


def test_asgi_app_as_route_endpoint_takes_every_method() -> None:
    async def raw(scope: Scope, receive: Receive, send: Send) -> None:
        await PlainTextResponse(scope["method"])(scope, receive, send)

    route = Route("/raw", raw)
    assert route.methods is None
    c = client_for(route)
    assert c.request("PURGE", "/raw").text == "PURGE"


def test_handler_without_request_argument_and_partial() -> None:
    import functools

    async def no_args() -> str:
        return "none"

    async def with_extra(prefix: str, request: Request) -> str:
        return prefix + request.url.path

    c = client_for(Route("/a", no_args), Route("/b", functools.partial(with_extra, "p:")))
    assert c.get("/a").text == "none"
    assert c.get("/b").text == "p:/b"


def test_many_routes() -> None:
    routes = [Route(f"/r{i}/{{id:int}}", echo_params, name=f"r{i}") for i in range(300)]
    routes += [Route(f"/s{i}", echo_params, name=f"s{i}") for i in range(300)]
    c = client_for(*routes)
    assert c.get("/r299/5").json() == {"id": "5", "route": "r299"}
    assert c.get("/s299").json() == {"route": "s299"}
    assert c.get("/r300/5").status_code == 404


# -- mounts and hosts -----------------------------------------------------------------------


def test_mount_sub_routes_and_paths() -> None:
    seen: dict[str, Any] = {}

    async def inner(request: Request) -> str:
        seen.update(
            root_path=request.scope["root_path"],
            path=request.scope["path"],
            params=dict(request.path_params),
            url=str(request.url),
            base=str(request.base_url),
        )
        return "inner"

    app = App(
        routes=[
            Mount(
                "/api/{version}", routes=[Route("/items/{id:int}", inner, name="item")], name="api"
            ),
            Mount("/root", routes=[Route("/", inner, name="index")], name="root"),
        ]
    )
    c = TestClient(app, follow_redirects=False)
    assert c.get("/api/v2/items/3").text == "inner"
    assert seen == {
        "root_path": "/api/v2",
        "path": "/api/v2/items/3",
        "params": {"version": "v2", "id": 3},
        "url": "http://testserver/api/v2/items/3",
        "base": "http://testserver/",
    }
    assert c.get("/root/").text == "inner"
    r = c.get("/root")
    assert r.status_code == 307 and r.headers["location"] == "/root/"
    assert app.url_path_for("api:item", version="v1", id=2) == "/api/v1/items/2"
    assert app.url_path_for("root:index") == "/root/"
    with pytest.raises(NoMatchFound):
        app.url_path_for("api:item", id=2)


def test_mount_any_asgi_app_and_its_errors() -> None:
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse as StarlettePlain
    from starlette.routing import Route as StarletteRoute

    async def hello(request: Any) -> StarlettePlain:
        return StarlettePlain(f"starlette {request.url.path} {request.scope['root_path']}")

    starlette = Starlette(routes=[StarletteRoute("/hello", hello)])

    async def raising(scope: Scope, receive: Receive, send: Send) -> None:
        from vivace.web import HTTPException

        raise HTTPException(418, "teapot")

    async def not_found(request: Request, exc: Exception) -> PlainTextResponse:
        return PlainTextResponse("custom", 418)

    app = App(
        routes=[Mount("/s", starlette), Mount("/raise", raising)],
        exception_handlers={418: not_found},
    )
    c = TestClient(app)
    assert c.get("/s/hello").text == "starlette /s/hello /s"
    r = c.get("/raise/x")
    assert r.status_code == 418 and r.text == "custom"


def test_mount_validation() -> None:
    with pytest.raises(ValueError, match="either an app or routes"):
        Mount("/x")
    with pytest.raises(ValueError, match="must not end"):
        Mount("/x/", routes=[])
    root = Mount("/", routes=[Route("/a", echo_params, name="a")])
    assert root.path == ""
    assert TestClient(App(routes=[root])).get("/a").json() == {"route": "a"}


def test_mount_with_path_parameter_in_prefix_uses_regex() -> None:
    m = Mount("/files/{rest:path}/x", routes=[Route("/y", echo_params, name="y")])
    c = client_for(m)
    assert c.get("/files/a/b/x/y").json() == {"rest": "a/b", "route": "y"}
    assert c.get("/files/a/b/z/y").status_code == 404


def test_mount_middleware() -> None:
    from vivace.web import Middleware

    class Tag:
        def __init__(self, app: Any, tag: str) -> None:
            self.app, self.tag = app, tag

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            async def tagged(message: Any) -> None:
                if message["type"] == "http.response.start":
                    message["headers"] = [*message["headers"], (b"x-tag", self.tag.encode())]
                await send(message)

            await self.app(scope, receive, tagged)

    c = client_for(
        Mount("/m", routes=[Route("/x", echo_params)], middleware=[Middleware(Tag, "mount")]),
        Route("/r", echo_params, middleware=[Middleware(Tag, "route")]),
    )
    assert c.get("/m/x").headers["x-tag"] == "mount"
    assert c.get("/r").headers["x-tag"] == "route"


def test_host_routing() -> None:
    tenant = Router([Route("/", echo_params, name="home")])
    app = App(
        routes=[
            Host("{tenant}.example.com", tenant, name="tenant"),
            Host("api.example.org", Router([Route("/", echo_params, name="api")])),
            Route("/", echo_params, name="fallback"),
        ]
    )
    c = TestClient(app)
    assert c.get("/", headers={"host": "acme.example.com:8000"}).json() == {
        "tenant": "acme",
        "route": "home",
    }
    assert c.get("/", headers={"host": "API.example.org"}).json() == {"route": "api"}
    assert c.get("/", headers={"host": "other.test"}).json() == {"route": "fallback"}
    url = app.url_path_for("tenant:home", tenant="zed")
    assert url == "/" and url.host == "zed.example.com"
    with pytest.raises(NoMatchFound):
        app.url_path_for("tenant:home")


def test_url_for_absolute_and_errors() -> None:
    async def link(request: Request) -> str:
        return str(request.url_for("user", id=5))

    app = App(routes=[Route("/u/{id:int}", link, name="user")])
    c = TestClient(app, base_url="https://example.com:8443")
    assert c.get("/u/1").text == "https://example.com:8443/u/5"
    with pytest.raises(NoMatchFound, match="no route named 'user'"):
        app.url_path_for("user", id=-1)
    with pytest.raises(NoMatchFound):
        app.url_path_for("user")
    with pytest.raises(NoMatchFound):
        app.url_path_for("nobody")


def test_url_path_for_quotes_values() -> None:
    t = PathTemplate("/a/{name}/{rest:path}")
    assert t.build({"name": "x y?#", "rest": "b/c d"}) == "/a/x%20y%3F%23/b/c%20d"
    with pytest.raises(ValueError, match="without '/'"):
        t.build({"name": "a/b", "rest": ""})
    app = App(routes=[Route("/d/{d:date}/{f:float}/{u:uuid}", echo_params, name="x")])
    u = uuid.UUID(int=1)
    assert (
        app.url_path_for("x", d=datetime.date(2020, 1, 2), f=1.5, u=u) == f"/d/2020-01-02/1.5/{u}"
    )
    for bad in (
        {"d": "2020-01-02", "f": 1.0, "u": u},
        {"d": datetime.date.today(), "f": -1, "u": u},
    ):
        with pytest.raises(NoMatchFound):
            app.url_path_for("x", **bad)


def test_router_as_standalone_app_and_lifespan() -> None:
    router = Router([Route("/", echo_params, name="home")])
    with TestClient(router) as c:
        assert c.get("/").json() == {"route": "home"}
        assert c.get("/missing").status_code == 404


def test_router_default_app() -> None:
    async def fallback(scope: Scope, receive: Receive, send: Send) -> None:
        await PlainTextResponse("fallback", 200)(scope, receive, send)

    c = TestClient(Router([], default=fallback))
    assert c.get("/anything").text == "fallback"


def test_router_building_api() -> None:
    router = Router()

    @router.route("/deco", methods=["POST"])
    async def deco(request: Request) -> str:
        return "deco"

    router.add_route("/added", echo_params, name="added")
    router.mount("/m", Router([Route("/x", echo_params, name="x")]), name="m")
    router.host("h.test", Router([Route("/", echo_params, name="h")]), name="h")
    c = TestClient(router)
    assert c.post("/deco").text == "deco"
    assert c.get("/added").json() == {"route": "added"}
    assert c.get("/m/x").json() == {"route": "x"}
    assert c.get("/", headers={"host": "h.test"}).json() == {"route": "h"}
    assert "Router(routes=" in repr(router)
    assert "Route(path='/deco'" in repr(router.routes[0])
    assert "Mount(path='/m'" in repr(router.routes[2]) and "Host(host=" in repr(router.routes[3])


def test_custom_base_route() -> None:
    class Always(BaseRoute):
        name = "always"

        def matches(self, path: str, scope: Scope) -> Any:
            return (self, {"p": path}, None) if path.startswith("/any") else None

        async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
            await PlainTextResponse("custom " + scope["path_params"]["p"])(scope, receive, send)

    class Plain(BaseRoute):
        name = None

        async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
            raise AssertionError("never matched")

    c = client_for(Always(), Plain())
    assert c.get("/anything").text == "custom /anything"
    assert c.get("/else").status_code == 404
    with pytest.raises(AttributeError):
        _ = Plain().missing


async def test_websocket_scope_without_route_is_closed() -> None:
    app = App(routes=[Route("/", echo_params)])
    sent: list[Any] = []

    async def receive() -> Any:
        return {"type": "websocket.connect"}

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {"type": "websocket", "path": "/", "headers": [], "query_string": b"", "root_path": ""}
    await app(scope, receive, send)
    # Without the denial-response extension an unrouted handshake is refused (403).
    assert sent == [{"type": "websocket.close", "code": 1008, "reason": ""}]
    sent.clear()
    scope["extensions"] = {"websocket.http.response": {}}
    await app(scope, receive, send)
    assert [m["type"] for m in sent] == [
        "websocket.http.response.start",
        "websocket.http.response.body",
    ]
    assert sent[0]["status"] == 404


def test_duck_typed_route_still_routes() -> None:
    # Not a BaseRoute: what the router and App use of a route, and nothing more.
    class Duck:
        name = "duck"
        methods = None
        runner = None

        def matches(self, path: str, scope: Scope) -> Any:
            return (self, {}, None) if path == "/quack" else None

        async def dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
            await PlainTextResponse("quack")(scope, receive, send)

        def url_path_for(self, name: str, /, **params: Any) -> Any:
            raise NoMatchFound(name, params)

    c = TestClient(App(routes=[Duck(), Route("/", echo_params)]))  # type: ignore[list-item]
    assert c.get("/quack").text == "quack"
    assert c.get("/").json() == {"route": "echo_params"}
    assert c.get("/nothing").status_code == 404
