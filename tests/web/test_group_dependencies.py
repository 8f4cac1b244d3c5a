"""A group's dependencies (FastAPI's ``FastAPI(dependencies=...)`` and
``APIRouter(dependencies=...)``): ``App``, ``Router`` and ``Mount`` ``dependencies=`` run
before each route's own, outermost group first, their inputs validated in the route's
one 422, described in OpenAPI, overridable; compiled into each route when it joins."""

from collections.abc import AsyncIterator
from typing import Annotated, Any

import pytest

from vivace.testing import TestClient
from vivace.web import (
    App,
    Depends,
    Header,
    HTTPBearer,
    HTTPEndpoint,
    HTTPException,
    Middleware,
    Mount,
    Request,
    Route,
    Router,
    WebSocket,
    WebSocketRoute,
)
from vivace.web.middleware import GZipMiddleware
from vivace.web.openapi import OpenAPI

events: list[str] = []


async def app_level(x_app: Annotated[str, Header()]) -> None:
    events.append(f"app {x_app}")
    if x_app != "ok":
        raise HTTPException(403, "app says no")


def group_level(tenant: str) -> None:  # sync, a query parameter: in the thread pool
    events.append(f"group {tenant}")


async def session() -> AsyncIterator[str]:
    events.append("open")
    yield "s"
    events.append("close")


def route_level() -> None:
    events.append("route")


async def item(item_id: int) -> dict[str, int]:
    events.append("handler")
    return {"id": item_id}


async def untyped(request: Request) -> str:
    events.append("untyped")
    return request.url.path


bearer = HTTPBearer()


def build() -> App:
    api = Router(
        [Route("/items/{item_id:int}", item, dependencies=[Depends(route_level)])],
        dependencies=[Depends(group_level), Depends(session)],
    )
    app = App(
        routes=[
            Mount("/api", app=api),
            Mount("/v2", routes=[Route("/plain", untyped)], dependencies=[Depends(bearer)]),
        ],
        dependencies=[Depends(app_level)],
        openapi=OpenAPI(),
    )
    # Added after the app was built: still in the app's group.
    app.get("/late")(untyped)
    api.add_route("/later", untyped)
    return app


def test_they_run_outermost_first_before_the_routes_own() -> None:
    events.clear()
    with TestClient(build()) as client:
        r = client.get("/api/items/3?tenant=t", headers={"x-app": "ok"})
        assert r.json() == {"id": 3}
        assert events == ["app ok", "group t", "open", "route", "handler", "close"]
        events.clear()
        assert client.get("/late", headers={"x-app": "ok"}).text == "/late"
        assert client.get("/api/later?tenant=u", headers={"x-app": "ok"}).text == "/api/later"
        assert events == ["app ok", "untyped", "app ok", "group u", "open", "untyped", "close"]
        events.clear()
        # Every group's input in the one 422, before anything runs.
        r = client.get("/api/items/x3")
        assert r.status_code == 404  # the converter's business
        r = client.get("/api/items/3")
        assert r.status_code == 422
        assert [e["loc"] for e in r.json()["errors"]] == [["query", "tenant"], ["header", "x-app"]]
        assert events == []
        # A failing app-level dependency stops the request.
        r = client.get("/api/items/3?tenant=t", headers={"x-app": "no"})
        assert (r.status_code, events) == (403, ["app no"])
        events.clear()
        headers = {"x-app": "ok", "authorization": "Bearer t"}
        assert client.get("/v2/plain", headers={"x-app": "ok"}).status_code == 401
        assert client.get("/v2/plain", headers=headers).text == "/v2/plain"
        # The docs are the app's own routes, not in its group.
        assert client.get("/openapi.json").status_code == 200


def test_openapi_shows_their_inputs_and_security() -> None:
    with TestClient(build()) as client:
        paths = client.get("/openapi.json").json()["paths"]
    operation = paths["/api/items/{item_id}"]["get"]
    names = [p["name"] for p in operation["parameters"]]
    assert sorted(names) == ["item_id", "tenant", "x-app"]
    plain = paths["/v2/plain"]["get"]
    assert plain["security"] == [{"HTTPBearer": []}]
    assert [p["name"] for p in plain["parameters"]] == ["x-app"]


def test_overrides_apply_to_them() -> None:
    events.clear()
    app = build()
    app.dependency_overrides[app_level] = lambda: events.append("fake app")
    app.dependency_overrides[group_level] = lambda: events.append("fake group")
    with TestClient(app) as client:
        assert client.get("/api/items/5").json() == {"id": 5}  # no header, no tenant
    assert events == ["fake app", "fake group", "open", "route", "handler", "close"]


async def room(websocket: WebSocket, name: str) -> None:
    await websocket.accept()
    await websocket.send_text(f"{name} {events}")
    await websocket.close()


async def bare(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text("bare")
    await websocket.close()


def test_websocket_routes_in_a_group_run_them_too() -> None:
    events.clear()
    app = App(
        routes=[WebSocketRoute("/ws/{name}", room), WebSocketRoute("/bare", bare)],
        dependencies=[Depends(app_level)],
    )
    with TestClient(app) as client:
        with client.websocket_connect("/ws/r", headers={"x-app": "ok"}) as ws:
            assert ws.receive_text() == "r ['app ok']"
        with client.websocket_connect("/bare", headers={"x-app": "ok"}) as ws:
            assert ws.receive_text() == "bare"
        r = client.get("/bare")  # not a websocket: nothing to do with it
        assert r.status_code in (404, 405)


def test_through_mount_middleware_and_not_into_a_mounted_app() -> None:
    events.clear()
    sub = App(routes=[Route("/own", untyped)])
    app = App(
        routes=[
            Mount(
                "/z",
                routes=[Route("/in", untyped)],
                middleware=[Middleware(GZipMiddleware)],
            ),
            Mount("/sub", app=sub),
        ],
        dependencies=[Depends(app_level)],
    )
    with TestClient(app) as client:
        assert client.get("/z/in").status_code == 422  # the mount's router got them
        assert client.get("/z/in", headers={"x-app": "ok"}).text == "/z/in"
        assert client.get("/sub/own").text == "/sub/own"  # its own app, its own rules
    assert events == ["app ok", "untyped", "untyped"]


def test_what_cannot_take_them_is_refused_when_built() -> None:
    class Things(HTTPEndpoint):
        async def get(self, request: Request) -> str:  # pragma: no cover
            return "things"

    async def asgi(scope: Any, receive: Any, send: Any) -> None: ...  # pragma: no cover

    deps = [Depends(app_level)]
    for endpoint in (Things, asgi):
        with pytest.raises(TypeError, match="its group's dependencies= apply to handler"):
            App(routes=[Route("/x", endpoint)], dependencies=deps)
        router = Router(dependencies=deps)
        with pytest.raises(TypeError, match="its group's dependencies= apply to handler"):
            router.add_route("/x", endpoint)
        assert router.routes == []
    with pytest.raises(TypeError, match="dependencies= applies to a handler function"):
        WebSocketRoute("/ws", asgi, dependencies=deps)
    with pytest.raises(TypeError, match="dependencies= takes Depends"):
        Router([Route("/x", untyped)], dependencies=[app_level])
    with pytest.raises(TypeError, match="applies to a group of routes"):
        Mount("/x", app=asgi, dependencies=deps)


def test_a_route_without_them_is_built_as_before() -> None:
    route = Route("/x", untyped)
    assert route.typed is None  # untyped: the plain runner
    Router([route])
    Router([route], dependencies=[])
    assert route.typed is None
    App(routes=[route], dependencies=[Depends(route_level)])
    assert route.typed is not None
    assert [d.func for d in route.typed.plan.before] == [route_level]
