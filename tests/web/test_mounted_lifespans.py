"""The lifespans of mounted vivace apps and routers run inside the parent's: started
after it in route order, stopped in reverse, their states merged into every request's."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from starlette.applications import Starlette

from vivace.testing import TestClient
from vivace.web import App, Host, Middleware, Mount, Request, Route, Router
from vivace.web.middleware import GZipMiddleware, TrustedHostMiddleware


def recording(events: list[str], name: str, state: dict[str, Any] | None = None) -> Any:
    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[dict[str, Any] | None]:
        events.append(f"start {name}")
        try:
            yield state
        finally:
            events.append(f"stop {name}")

    return lifespan


async def show_state(request: Request) -> dict[str, Any]:
    return {key: getattr(request.state, key, None) for key in ("db", "cache", "deep", "host")}


def test_mounted_app_lifespan_runs_inside_the_parents() -> None:
    events: list[str] = []
    child = App(
        routes=[Route("/state", show_state)], lifespan=recording(events, "child", {"cache": "c"})
    )
    parent = App(
        routes=[Route("/state", show_state), Mount("/child", app=child)],
        lifespan=recording(events, "parent", {"db": "d"}),
    )
    with TestClient(parent) as client:
        assert events == ["start parent", "start child"]
        expected = {"db": "d", "cache": "c", "deep": None, "host": None}
        assert client.get("/state").json() == expected
        assert client.get("/child/state").json() == expected
    assert events == ["start parent", "start child", "stop child", "stop parent"]


def test_nested_hosts_routers_and_middleware_in_route_order() -> None:
    events: list[str] = []
    deep = App(
        routes=[Route("/state", show_state)], lifespan=recording(events, "deep", {"deep": 1})
    )
    by_host = App(lifespan=recording(events, "host", {"host": 2}))
    wrapped = App(lifespan=recording(events, "wrapped"))
    parent = App(
        routes=[
            Mount("/a", routes=[Mount("/deep", app=deep)]),  # a Router in between
            Mount("/gz", app=GZipMiddleware(TrustedHostMiddleware(wrapped))),
            Mount("/mw", app=deep, middleware=[Middleware(GZipMiddleware)]),  # again: once
            Host("api.example.com", app=by_host),
        ]
    )
    with TestClient(parent) as client:
        assert events == ["start deep", "start wrapped", "start host"]
        assert client.get("/a/deep/state").json() == {
            "db": None,
            "cache": None,
            "deep": 1,
            "host": 2,
        }
    assert events[3:] == ["stop host", "stop wrapped", "stop deep"]


def test_a_router_with_its_own_lifespan() -> None:
    events: list[str] = []
    router = Router([Route("/state", show_state)], lifespan=recording(events, "router", {"db": 0}))
    with TestClient(App(routes=[Mount("/r", app=router)])) as client:
        assert client.get("/r/state").json()["db"] == 0
    assert events == ["start router", "stop router"]


def test_an_app_mounted_inside_itself_starts_once() -> None:
    events: list[str] = []
    app = App(lifespan=recording(events, "self"))
    app.router.routes.append(Mount("/again", app=app))
    with TestClient(app):
        pass
    assert events == ["start self", "stop self"]


def test_child_startup_failure_stops_what_started_and_fails_the_test() -> None:
    events: list[str] = []

    @contextlib.asynccontextmanager
    async def broken(app: Any) -> AsyncIterator[None]:
        events.append("start broken")
        raise ConnectionError("cache unreachable")
        yield  # pragma: no cover

    later = App(lifespan=recording(events, "later"))
    parent = App(
        routes=[Mount("/broken", app=App(lifespan=broken)), Mount("/later", app=later)],
        lifespan=recording(events, "parent"),
    )
    with pytest.raises(ConnectionError, match="cache unreachable"), TestClient(parent):
        pass  # pragma: no cover
    assert events == ["start parent", "start broken", "stop parent"]


def test_child_shutdown_failure_still_stops_the_others() -> None:
    events: list[str] = []

    @contextlib.asynccontextmanager
    async def fails_on_exit(app: Any) -> AsyncIterator[None]:
        yield
        raise OSError("flush failed")

    parent = App(
        routes=[
            Mount("/first", app=App(lifespan=recording(events, "first"))),
            Mount("/bad", app=App(lifespan=fails_on_exit)),
            Mount("/last", app=App(lifespan=recording(events, "last"))),
        ],
        lifespan=recording(events, "parent"),
    )
    with pytest.raises(OSError, match="flush failed"), TestClient(parent):
        pass
    started = ["start parent", "start first", "start last"]
    assert events == [*started, "stop last", "stop first", "stop parent"]


def test_two_lifespans_setting_the_same_key_is_an_error() -> None:
    events: list[str] = []
    parent = App(
        routes=[Mount("/child", app=App(lifespan=recording(events, "child", {"db": "mine"})))],
        lifespan=recording(events, "parent", {"db": "parent's"}),
    )
    with (
        pytest.raises(
            RuntimeError, match="'db' is set by both the app and the app mounted at '/child'"
        ),
        TestClient(parent),
    ):
        pass  # pragma: no cover
    assert events == ["start parent", "start child", "stop child", "stop parent"]


def test_state_only_from_a_child() -> None:
    parent = App(
        routes=[
            Route("/state", show_state),
            Mount("/c", app=App(lifespan=recording([], "c", {"cache": "only"}))),
        ]
    )
    with TestClient(parent) as client:
        assert client.get("/state").json()["cache"] == "only"


def test_mounted_third_party_app_lifespan_is_not_entered() -> None:
    events: list[str] = []
    starlette = Starlette(lifespan=recording(events, "starlette"))
    with TestClient(App(routes=[Mount("/s", app=starlette)])):
        pass
    assert events == []


def test_mounted_app_thread_pool_is_shut_down_with_the_parent() -> None:
    def sync_handler() -> str:
        return "from a thread"

    child = App(routes=[Route("/sync", sync_handler)])
    with TestClient(App(routes=[Mount("/child", app=child)])) as client:
        assert client.get("/child/sync").text == "from a thread"
        assert child.thread_pool._executor is not None
    assert child.thread_pool._executor is None
