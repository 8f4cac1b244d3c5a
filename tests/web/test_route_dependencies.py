"""A route's ``dependencies=[Depends(...)]`` (FastAPI's path operation dependencies): run
before the handler's own, their inputs validated with the handler's, their values not
passed; the same calls whether the plan is generated or solved (overrides set)."""

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
    Request,
    Route,
)
from vivace.web.openapi import OpenAPI

events: list[str] = []


async def verify_token(x_token: Annotated[str, Header()]) -> None:
    events.append(f"token {x_token}")
    if x_token != "secret":
        raise HTTPException(400, "X-Token header invalid")


def verify_key(key: str = "") -> str:  # sync: in the thread pool; its value is dropped
    events.append(f"key {key}")
    return "dropped"


async def transaction() -> AsyncIterator[None]:
    events.append("begin")
    try:
        yield
    except HTTPException:
        events.append("rollback")
        raise
    events.append("commit")


async def current(x_token: Annotated[str, Header()]) -> str:
    events.append("current")
    return x_token


async def items(user: Annotated[str, Depends(current)], q: int = 0) -> dict[str, Any]:
    events.append("handler")
    if q < 0:
        raise HTTPException(409, "negative")
    return {"user": user, "q": q}


async def plain(request: Request) -> dict[str, str]:
    return {"path": request.url.path}


def unused() -> None:  # pragma: no cover - only its override matters
    """Overridden to make the app take the ``Solving`` path."""


ROUTE_DEPENDENCIES = [Depends(verify_token), Depends(verify_key), Depends(transaction)]


def run(target: str, token: str, *, overridden: bool) -> tuple[Any, ...]:
    events.clear()
    app = App(routes=[Route("/items", items, dependencies=ROUTE_DEPENDENCIES)])
    if overridden:
        app.dependency_overrides[unused] = lambda: None
    r = TestClient(app, raise_server_exceptions=False).get(target, headers={"x-token": token})
    return r.status_code, r.text, list(events)


@pytest.mark.parametrize(
    ("target", "token"),
    [("/items?q=1&key=k", "secret"), ("/items?q=-1", "secret"), ("/items", "wrong")],
)
def test_run_first_in_order_generated_or_solved(target: str, token: str) -> None:
    flat = run(target, token, overridden=False)
    assert flat == run(target, token, overridden=True)


def test_what_they_do() -> None:
    status, body, log = run("/items?q=1&key=k", "secret", overridden=False)
    assert status == 200
    assert log == ["token secret", "key k", "begin", "current", "handler", "commit"]
    assert body == '{"user":"secret","q":1}'  # the header is read once, shared
    status, _, log = run("/items?q=-1", "secret", overridden=False)
    assert (status, log[-2:]) == (409, ["handler", "rollback"])
    status, _, log = run("/items", "wrong", overridden=False)
    assert (status, log) == (400, ["token wrong"])
    events.clear()
    app = App(routes=[Route("/items", items, dependencies=ROUTE_DEPENDENCIES)])
    r = TestClient(app).get("/items?q=x")
    assert [e["loc"] for e in r.json()["errors"]] == [["query", "q"], ["header", "x-token"]]
    assert events == []


def test_with_decorators_an_untyped_handler_overrides_and_openapi() -> None:
    events.clear()
    bearer = HTTPBearer()
    app = App(openapi=OpenAPI())
    app.get("/plain", dependencies=[Depends(verify_token), Depends(bearer)])(plain)
    client = TestClient(app)
    headers = {"x-token": "secret", "authorization": "Bearer t"}
    assert client.get("/plain", headers=headers).json() == {"path": "/plain"}
    assert client.get("/plain", headers={"x-token": "secret"}).status_code == 401
    app.dependency_overrides[verify_token] = lambda: events.append("fake")
    headers["x-token"] = "wrong"  # not checked: overridden
    assert client.get("/plain", headers=headers).status_code == 200
    app.dependency_overrides.clear()
    assert events == ["token secret", "token secret", "fake"]
    operation = client.get("/openapi.json").json()["paths"]["/plain"]["get"]
    assert [p["name"] for p in operation["parameters"]] == ["x-token"]
    assert operation["security"] == [{"HTTPBearer": []}]


def test_refused_where_they_cannot_run() -> None:
    class Things(HTTPEndpoint):
        async def get(self, request: Request) -> str:  # pragma: no cover
            return "things"

    async def asgi(scope: Any, receive: Any, send: Any) -> None: ...  # pragma: no cover

    for endpoint in (Things, asgi):
        with pytest.raises(TypeError, match="dependencies= applies to a handler function"):
            Route("/x", endpoint, dependencies=[Depends(verify_key)])
    with pytest.raises(TypeError, match="dependencies= takes Depends"):
        Route("/x", plain, dependencies=[verify_key])
    with pytest.raises(TypeError, match="dependencies= takes Depends"):
        Route("/x", plain, dependencies=[Depends()])
