"""Error responses: structured ``HTTPException`` detail for every client, and
``App(json_errors=True)`` (RFC 9457 problem documents)."""

from __future__ import annotations

import datetime
from typing import Any

import orjson
import pytest

from vivace.client import WebSocketRejected
from vivace.testing import TestClient
from vivace.web import (
    App,
    HTTPEndpoint,
    HTTPException,
    Limits,
    Mount,
    Request,
    Route,
    Router,
    WebSocket,
    WebSocketRoute,
)
from vivace.web._handlers import detail_text, problem_response

PROBLEM = "application/problem+json"


def _raiser(status: int, detail: Any = None, headers: dict[str, str] | None = None) -> Any:
    async def handler(request: Request) -> None:
        raise HTTPException(status, detail, headers)

    return handler


DETAILS: list[Any] = [
    {"title": "required"},
    ["too short", {"loc": ["body", "name"], "msg": "required"}],
    {"nested": {"deep": [1, 2, {"x": None}]}, "n": 1.5, "ok": True},
    42,
    [],
    {},
    "plain text",
]


@pytest.mark.parametrize("detail", DETAILS)
@pytest.mark.parametrize("accept", [None, "*/*", "text/plain", "text/html", "application/json"])
def test_structured_detail_never_gives_a_500(detail: Any, accept: str | None) -> None:
    app = App(routes=[Route("/", _raiser(422, detail))])
    headers = {"accept": accept} if accept is not None else {}
    response = TestClient(app).get("/", headers=headers)
    assert response.status_code == 422
    if accept == "application/json":
        assert response.headers["content-type"] == "application/json"
        assert response.json() == {"detail": detail}
    else:
        assert response.headers["content-type"].startswith("text/plain")
        assert response.text == detail_text(detail)


def test_detail_text_renders_readably() -> None:
    assert detail_text({"title": "required"}) == "title: required"
    assert detail_text({"a": 1, "b": [1, "x"]}) == 'a: 1\nb: [1,"x"]'
    assert detail_text(["first", "second"]) == "first\nsecond"
    assert detail_text(("t", 2)) == "t\n2"
    assert detail_text(None) == "null"
    assert detail_text(3.5) == "3.5"
    assert detail_text({}) == ""


class _Opaque:
    pass


@pytest.mark.parametrize(
    "detail",
    [
        _Opaque(),
        {"when": _Opaque()},
        [1, {2, 3}],
        {1: "int keys"},
        b"bytes",
    ],
)
def test_detail_json_cannot_carry_is_refused_when_raised(detail: Any) -> None:
    with pytest.raises(TypeError, match="HTTPException detail must be a str or JSON-serialisable"):
        HTTPException(422, detail)


def test_circular_and_too_deep_detail_are_refused() -> None:
    looped: dict[str, Any] = {}
    looped["self"] = looped
    with pytest.raises(TypeError, match="JSON-serialisable"):
        HTTPException(400, looped)
    deep: list[Any] = []
    node = deep
    for _ in range(1000):
        child: list[Any] = []
        node.append(child)
        node = child
    with pytest.raises(TypeError, match="JSON-serialisable"):
        HTTPException(400, deep)


def test_detail_types_orjson_encodes_are_accepted() -> None:
    day = datetime.date(2026, 12, 7)
    exc = HTTPException(409, {"since": day})
    assert exc.detail == {"since": day}
    app = App(routes=[Route("/", _raiser(409, {"since": day}))])
    client = TestClient(app)
    assert client.get("/").text == 'since: "2026-12-07"'
    assert client.get("/", headers={"accept": "application/json"}).json() == {
        "detail": {"since": "2026-12-07"}
    }


def test_default_detail_is_the_reason_phrase() -> None:
    assert HTTPException(404).detail == "Not Found"
    assert HTTPException(599).detail == ""  # no reason phrase known: empty, not None


# -- json_errors ------------------------------------------------------------------------


def _problem(response: Any, status: int, detail: Any) -> None:
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM
    body = orjson.loads(response.content)
    assert body["type"] == "about:blank"
    assert body["status"] == status
    assert body["detail"] == detail
    assert set(body) == {"type", "title", "status", "detail"}


@pytest.mark.parametrize("accept", [None, "*/*", "text/plain", "text/html", "application/json"])
def test_json_errors_for_every_client(accept: str | None) -> None:
    async def boom(request: Request) -> None:
        raise RuntimeError("secret internals")

    async def body(request: Request) -> Any:
        return await request.json()

    app = App(
        routes=[
            Route("/422", _raiser(422, {"title": "required"})),
            Route("/teapot", _raiser(418, "short and stout", {"x-kind": "pot"})),
            Route("/boom", boom),
            Route("/body", body, methods=["POST"]),
        ],
        json_errors=True,
    )
    headers = {"accept": accept} if accept is not None else {}
    client = TestClient(app, raise_server_exceptions=False)
    _problem(client.get("/422", headers=headers), 422, {"title": "required"})
    teapot = client.get("/teapot", headers=headers)
    _problem(teapot, 418, "short and stout")
    assert teapot.headers["x-kind"] == "pot"
    assert teapot.json()["title"] == "I'm a Teapot"
    _problem(client.get("/missing", headers=headers), 404, "Not Found")
    refused = client.delete("/422", headers=headers)
    _problem(refused, 405, "Method Not Allowed")
    assert refused.headers["allow"] == "GET, HEAD"
    crashed = client.get("/boom", headers=headers)
    _problem(crashed, 500, "Internal Server Error")
    assert b"secret" not in crashed.content
    malformed = client.post(
        "/body", content=b"{not json", headers={**headers, "content-type": "application/json"}
    )
    _problem(malformed, 400, malformed.json()["detail"])
    assert "malformed JSON" in malformed.json()["detail"]


def test_json_errors_reaches_mounts_endpoints_and_413() -> None:
    class Items(HTTPEndpoint):
        async def get(self, request: Request) -> dict[str, Any]:
            return {}

    async def read(request: Request) -> bytes:
        return await request.body()

    inner = Router([Route("/items", Items)])
    app = App(
        routes=[Mount("/api", routes=[Route("/items", Items)]), Mount("/r", app=inner)],
        json_errors=True,
        limits=Limits(max_body_size=10),
    )
    app.add_route("/read", read, methods=["POST"])
    client = TestClient(app)
    _problem(client.post("/api/items"), 405, "Method Not Allowed")
    _problem(client.get("/api/nothing"), 404, "Not Found")
    _problem(client.put("/r/items"), 405, "Method Not Allowed")
    _problem(client.post("/read", content=b"x" * 11), 413, "request body larger than 10 bytes")


def test_json_errors_keeps_no_body_statuses_empty_and_is_switchable() -> None:
    app = App(routes=[Route("/304", _raiser(304)), Route("/x", _raiser(400, "bad"))])
    assert app.json_errors is False
    app.json_errors = True
    assert app.json_errors is True
    client = TestClient(app)
    not_modified = client.get("/304")
    assert not_modified.status_code == 304
    assert not_modified.content == b""
    _problem(client.get("/x"), 400, "bad")
    app.json_errors = False
    assert client.get("/x").text == "bad"


def test_json_errors_does_not_override_handlers_or_the_debug_page() -> None:
    async def boom(request: Request) -> None:
        raise RuntimeError("kaboom")

    async def custom(request: Request, exc: HTTPException) -> dict[str, str]:
        return {"mine": str(exc.detail)}

    app = App(
        routes=[Route("/boom", boom), Route("/x", _raiser(409, "clash"))],
        json_errors=True,
        exception_handlers={409: custom},
        debug=True,
    )
    client = TestClient(app, raise_server_exceptions=False)
    assert client.get("/x").json() == {"mine": "clash"}
    page = client.get("/boom")
    assert page.status_code == 500
    assert "RuntimeError: kaboom" in page.text


def test_json_errors_for_a_websocket_denial() -> None:
    async def ws(websocket: WebSocket) -> None:
        raise HTTPException(403, {"reason": "no"})

    app = App(routes=[WebSocketRoute("/ws", ws)], json_errors=True)
    client = TestClient(app)
    with pytest.raises(WebSocketRejected) as info, client.websocket_connect("/ws"):
        pass
    response = info.value.response
    response.read()
    _problem(response, 403, {"reason": "no"})


def test_problem_response_shape() -> None:
    response = problem_response(429, {"retry": 5}, {"retry-after": "5"})
    assert response.status_code == 429
    assert orjson.loads(response.body) == {
        "type": "about:blank",
        "title": "Too Many Requests",
        "status": 429,
        "detail": {"retry": 5},
    }
    assert response.headers["retry-after"] == "5"
