"""``app.dependency_overrides`` as FastAPI has them: the override is analysed in the
original's place, so its own parameters are read from the request and the inputs only the
original (and its dependencies) read are no longer required."""

from typing import Annotated

from vivace.testing import TestClient
from vivace.web import (
    App,
    Depends,
    Header,
    HTTPBearer,
    Route,
    WebSocket,
    WebSocketRoute,
)
from vivace.web.openapi import OpenAPI

bearer = HTTPBearer()


async def database(dsn: Annotated[str, Header()]) -> str:
    return f"db {dsn}"


async def current_user(
    token: Annotated[str, Depends(bearer)],
    db: Annotated[str, Depends(database)],
    tenant: Annotated[str, Header()],
) -> str:
    return f"{token}@{tenant} on {db}"


async def me(user: Annotated[str, Depends(current_user)], verbose: bool = False) -> dict:
    return {"user": user, "verbose": verbose}


async def feed(websocket: WebSocket, db: Annotated[str, Depends(database)]) -> None:
    await websocket.accept()
    await websocket.send_json({"db": db})
    await websocket.close()


def make() -> tuple[App, TestClient]:
    app = App(routes=[Route("/me", me), WebSocketRoute("/feed", feed)], openapi=OpenAPI())
    return app, TestClient(app)


def test_an_override_drops_the_original_inputs() -> None:
    # FastAPI's canonical test: current_user needs an Authorization, a tenant and a dsn
    # header; overridden, none is needed (they were all still required: a 422/401).
    app, client = make()
    assert client.get("/me").status_code == 422  # dsn and tenant
    assert client.get("/me", headers={"dsn": "d", "tenant": "t"}).status_code == 401
    app.dependency_overrides[current_user] = lambda: "test-user"
    assert client.get("/me?verbose=1").json() == {"user": "test-user", "verbose": True}
    assert client.get("/me?verbose=x").json()["errors"][0]["loc"] == ["query", "verbose"]
    app.dependency_overrides[database] = lambda: "fake db"  # a WebSocket route too
    with client.websocket_connect("/feed") as ws:
        assert ws.receive_json() == {"db": "fake db"}
    # The document describes the app, not the test's overrides.
    operation = client.get("/openapi.json").json()["paths"]["/me"]["get"]
    assert [p["name"] for p in operation["parameters"]] == ["dsn", "tenant", "verbose"]
    assert operation["security"] == [{"HTTPBearer": []}]


def test_an_override_reads_its_own_inputs_and_a_nested_one_keeps_the_rest() -> None:
    app, client = make()

    async def fake_db(name: str = "memory") -> str:
        return f"fake {name}"

    app.dependency_overrides[database] = fake_db  # current_user still runs
    headers = {"authorization": "Bearer t", "tenant": "acme"}
    r = client.get("/me?name=mem", headers=headers)
    assert r.json()["user"] == "t@acme on fake mem"
    r = client.get("/me")
    assert [e["loc"] for e in r.json()["errors"]] == [["header", "tenant"]]

    def no_auth() -> str:
        return "anon"

    app.dependency_overrides[bearer] = no_auth  # a security dependency: no header needed
    assert client.get("/me", headers={"tenant": "t"}).json()["user"] == "anon@t on fake memory"
    app.dependency_overrides.pop(database)  # changed overrides: analysed again
    r = client.get("/me", headers={"tenant": "t"})
    assert [e["loc"] for e in r.json()["errors"]] == [["header", "dsn"]]
    app.dependency_overrides.clear()
    assert client.get("/me", headers={"tenant": "t", "dsn": "d"}).status_code == 401
