"""``BackgroundTasks`` as a typed handler's (or a dependency's) parameter, as in FastAPI:
one object per request, run after the response, not when the handler failed."""

from typing import Annotated, Any

import pytest

from vivace.testing import TestClient
from vivace.web import (
    App,
    BackgroundTask,
    BackgroundTasks,
    Depends,
    HTTPEndpoint,
    HTTPException,
    JSONResponse,
    Route,
    WebSocket,
    WebSocketRoute,
)
from vivace.web.openapi import OpenAPI

log: list[str] = []


def audit(tasks: BackgroundTasks, who: str = "anon") -> str:
    tasks.add_task(log.append, f"audit {who}")
    return who


async def session() -> Any:
    log.append("open")
    yield "db"
    log.append("close")


async def signup(
    email: str,
    background_tasks: BackgroundTasks,
    who: Annotated[str, Depends(audit)],
    db: Annotated[str, Depends(session)],
) -> dict[str, str]:
    async def mail(to: str) -> None:
        log.append(f"mail {to} with {db}")

    background_tasks.add_task(mail, email)
    if email == "taken":
        raise HTTPException(409, "taken")
    if email == "crash":
        raise ValueError("crash")
    return {"email": email, "who": who}


def ping(tasks: BackgroundTasks) -> str:  # sync, nothing else to read
    tasks.add_task(log.append, "pong")
    return "ping"


async def own(tasks: BackgroundTasks) -> JSONResponse:
    tasks.add_task(log.append, "injected")
    return JSONResponse({}, background=BackgroundTask(log.append, "own"))


async def idle(tasks: BackgroundTasks) -> dict[str, int]:
    return {"tasks": len(tasks.tasks)}


class Things(HTTPEndpoint):
    async def post(self, name: str, tasks: BackgroundTasks) -> dict[str, str]:
        tasks.add_task(log.append, f"made {name}")
        return {"name": name}


app = App(
    routes=[
        Route("/signup", signup, methods=["POST"]),
        Route("/ping", ping),
        Route("/own", own),
        Route("/idle", idle),
        Route("/things", Things),
    ],
    openapi=OpenAPI(),
)


@pytest.fixture
def client() -> TestClient:
    log.clear()
    return TestClient(app, raise_server_exceptions=False)


def test_tasks_of_the_handler_and_its_dependencies_run_after_the_response(
    client: TestClient,
) -> None:
    r = client.post("/signup?email=ada&who=bob")
    assert r.json() == {"email": "ada", "who": "bob"}
    # One BackgroundTasks for the request, in the order added; a generator dependency
    # closes after them (they may still use what it yielded).
    assert log == ["open", "audit bob", "mail ada with db", "close"]


def test_no_task_runs_when_the_handler_fails(client: TestClient) -> None:
    assert client.post("/signup?email=taken").status_code == 409
    assert client.post("/signup?email=crash").status_code == 500
    assert log == ["open", "open"]  # (code after a bare yield does not run then either)


def test_a_sync_handler_an_endpoint_method_and_a_response_with_its_own_task(
    client: TestClient,
) -> None:
    assert client.get("/ping").text == "ping"
    assert client.post("/things?name=lamp").json() == {"name": "lamp"}
    assert client.get("/own").status_code == 200
    assert log == ["pong", "made lamp", "own", "injected"]
    assert client.get("/idle").json() == {"tasks": 0}  # a new one for each request


def test_with_a_dependency_override(client: TestClient) -> None:
    def fake_audit(tasks: BackgroundTasks) -> str:
        tasks.add_task(log.append, "fake audit")
        return "fake"

    app.dependency_overrides[audit] = fake_audit
    try:
        assert client.post("/signup?email=ada").json() == {"email": "ada", "who": "fake"}
    finally:
        app.dependency_overrides.clear()
    assert log == ["open", "fake audit", "mail ada with db", "close"]


def test_not_a_parameter_in_the_openapi_document(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    names = [p["name"] for p in doc["paths"]["/signup"]["post"]["parameters"]]
    assert names == ["email", "who"]
    assert "parameters" not in doc["paths"]["/ping"]["get"]


def test_refused_by_a_websocket_route() -> None:
    async def chat(websocket: WebSocket, tasks: BackgroundTasks) -> None: ...

    with pytest.raises(TypeError, match=r"'tasks'.*no response to run them after"):
        WebSocketRoute("/ws", chat)
