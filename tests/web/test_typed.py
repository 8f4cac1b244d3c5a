"""Typed handlers: parameters, bodies, forms, dependencies, outputs and the 422."""

import dataclasses
from collections.abc import AsyncIterator
from typing import Annotated, Any, TypedDict

import pytest

from vivace.schema import Field, Schema
from vivace.testing import TestClient
from vivace.web import (
    App,
    Body,
    Cookie,
    Depends,
    Form,
    Header,
    HTTPEndpoint,
    PlainTextResponse,
    Query,
    Request,
    RequestValidationError,
    Route,
    UploadFile,
    WebSocket,
    WebSocketRoute,
)


class Item(Schema):
    name: Annotated[str, Field(min_length=1)]
    price: Annotated[float, Field(gt=0)]
    internal: str = "hidden"


class ItemOut(Schema):
    name: str
    price: float


class Filters(Schema):
    q: str | None = None
    tags: list[str] = Field(default_factory=list)
    page: Annotated[int, Field(ge=1)] = 1


@dataclasses.dataclass
class Point:
    x: int
    y: int = 0


class Movie(TypedDict):
    title: str
    year: int


def app_with(*routes: Route) -> TestClient:
    return TestClient(App(routes=list(routes)))


def locs(response: Any) -> list[list[Any]]:
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 422 and body["title"] == "Unprocessable Content"
    return [e["loc"] for e in body["errors"]]


# -- parameters -----------------------------------------------------------------------


async def scalars(
    item_id: int,
    q: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    flags: Annotated[list[int], Query(alias="flag")] = [],  # noqa: B006 - copied by validation
    user_agent: Annotated[str | None, Header()] = None,
    x_token: Annotated[str, Header()] = "none",
    session: Annotated[str | None, Cookie()] = None,
) -> dict[str, Any]:
    return {
        "id": item_id,
        "q": q,
        "limit": limit,
        "flags": flags,
        "ua": user_agent,
        "token": x_token,
        "session": session,
    }


def test_path_query_header_cookie_parameters() -> None:
    c = app_with(Route("/items/{item_id}", scalars))
    r = c.get(
        "/items/7?q=a&limit=5&flag=1&flag=2",
        headers={"X-Token": "t", "cookie": "session=s1"},
    )
    assert r.json() == {
        "id": 7,
        "q": "a",
        "limit": 5,
        "flags": [1, 2],
        "ua": "testclient",
        "token": "t",
        "session": "s1",
    }
    assert c.get("/items/7").json()["limit"] == 10


def test_every_input_error_in_one_422() -> None:
    c = app_with(Route("/items/{item_id}", scalars))
    r = c.get("/items/abc?limit=500&flag=x")
    assert locs(r) == [["path", "item_id"], ["query", "limit"], ["query", "flag", 0]]


@pytest.mark.parametrize(
    "query",
    ["limit=" + "9" * 5000, "limit=1e3", "limit=0x10", "limit=nan", "limit=%00", "limit=1_0"],
)
def test_hostile_query_values_are_422(query: str) -> None:
    c = app_with(Route("/items/{item_id}", scalars))
    assert locs(c.get("/items/1?" + query)) == [["query", "limit"]]


def test_query_group_schema() -> None:
    async def search(filters: Annotated[Filters, Query()]) -> dict[str, Any]:
        return filters.dump()

    c = app_with(Route("/search", search))
    assert c.get("/search?q=x&tags=a&tags=b").json() == {"q": "x", "tags": ["a", "b"], "page": 1}
    assert locs(c.get("/search?page=0")) == [["query", "page"]]


def test_path_converter_value_is_validated_again() -> None:
    async def item(item_id: Annotated[int, Field(ge=10)]) -> dict[str, int]:
        return {"id": item_id}

    c = app_with(Route("/items/{item_id:int}", item))
    assert c.get("/items/12").json() == {"id": 12}
    assert locs(c.get("/items/3")) == [["path", "item_id"]]


# -- bodies -----------------------------------------------------------------------------


async def create(item: Item) -> ItemOut:
    return item  # an Item: the output type writes only ItemOut's fields


def test_json_body_and_filtered_output() -> None:
    c = app_with(Route("/items", create, methods=["POST"], status_code=201))
    r = c.post("/items", json={"name": "pen", "price": 1.5, "internal": "secret"})
    assert r.status_code == 201
    assert r.json() == {"name": "pen", "price": 1.5}
    assert "secret" not in r.text


def test_json_body_is_strict_and_collects_errors() -> None:
    c = app_with(Route("/items", create, methods=["POST"]))
    assert locs(c.post("/items", json={"name": "", "price": "1"})) == [
        ["body", "name"],
        ["body", "price"],
    ]


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        (b'{"name": "a", "name": "b", "price": 1}', ["body"]),  # duplicate key
        (b"{not json", ["body"]),
        (b"[" * 100000 + b"]" * 100000, ["body"]),  # deep
        (b"", ["body"]),  # missing
        (b'"just a string"', ["body"]),
    ],
)
def test_hostile_json_bodies_are_422(body: bytes, loc: list[Any]) -> None:
    c = app_with(Route("/items", create, methods=["POST"]))
    r = c.post("/items", content=body, headers={"content-type": "application/json"})
    assert locs(r)[0] == loc


def test_non_json_body_is_415() -> None:
    c = app_with(Route("/items", create, methods=["POST"]))
    r = c.post("/items", content=b"name=a", headers={"content-type": "text/plain"})
    assert r.status_code == 415
    assert r.text == "the body must be JSON (application/json), not 'text/plain'"
    # No Content-Type is refused too (a cross-site fetch can send one without it), and
    # said so: the message read "not ''".
    r = c.post("/items", content=b'{"name": "a"}')
    assert r.status_code == 415
    assert r.text.endswith("not a body without Content-Type")


@pytest.mark.parametrize(
    ("value", "status"),
    [
        (bytearray(b"application/json"), 200),
        (bytearray(b"Application/JSON; charset=utf-8"), 200),
        (memoryview(b"application/problem+json"), 200),
        (memoryview(b"text/plain"), 415),
    ],
)
def test_a_content_type_given_as_another_bytes_type_is_read(value: Any, status: int) -> None:
    # ASGI says bytes; a server that passes a bytearray or memoryview gets the same answer
    # (the value is compared as given, and made bytes only to be parsed).
    import asyncio

    app = App(routes=[Route("/items", create, methods=["POST"])])
    body = b'{"name": "a", "price": 1}'
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/items",
        "raw_path": b"/items",
        "query_string": b"",
        "headers": [(b"content-type", value), (b"content-length", b"%d" % len(body))],
    }
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == status


def test_dataclass_typeddict_and_embedded_bodies() -> None:
    async def point(p: Point) -> Point:
        return p

    async def movie(m: Movie) -> dict[str, Any]:
        return dict(m)

    async def both(p: Point, m: Annotated[Movie, Body()], note: Annotated[str, Body()] = "") -> Any:
        return {"x": p.x, "title": m["title"], "note": note}

    c = app_with(
        Route("/p", point, methods=["POST"]),
        Route("/m", movie, methods=["POST"]),
        Route("/b", both, methods=["POST"]),
    )
    assert c.post("/p", json={"x": 1}).json() == {"x": 1, "y": 0}
    assert c.post("/m", json={"title": "Alien", "year": 1979}).json()["year"] == 1979
    assert locs(c.post("/m", json={"title": "Alien"})) == [["body", "year"]]
    r = c.post("/b", json={"p": {"x": 2}, "m": {"title": "T", "year": 1}})
    assert r.json() == {"x": 2, "title": "T", "note": ""}
    assert locs(c.post("/b", json={"p": {}})) == [["body", "p", "x"], ["body", "m"]]


def test_optional_body() -> None:
    async def maybe(item: Annotated[Item | None, Body()] = None) -> dict[str, bool]:
        return {"given": item is not None}

    c = app_with(Route("/m", maybe, methods=["POST"]))
    assert c.post("/m").json() == {"given": False}
    assert c.post("/m", json={"name": "a", "price": 1}).json() == {"given": True}


def test_form_fields_and_uploads() -> None:
    async def upload(
        title: Annotated[str, Form()], file: UploadFile, count: Annotated[int, Form()] = 1
    ) -> dict[str, Any]:
        return {
            "title": title,
            "count": count,
            "name": file.filename,
            "data": (await file.read()).decode(),
        }

    c = app_with(Route("/u", upload, methods=["POST"]))
    r = c.post("/u", data={"title": "t", "count": "3"}, files={"file": ("a.txt", b"hello")})
    assert r.json() == {"title": "t", "count": 3, "name": "a.txt", "data": "hello"}
    assert locs(c.post("/u", data={"count": "x"})) == [
        ["form", "title"],
        ["form", "file"],
        ["form", "count"],
    ]


# -- dependencies ------------------------------------------------------------------------


def test_dependencies_chain_cache_cleanup_and_overrides() -> None:
    events: list[str] = []

    async def database() -> Any:
        events.append("open")
        yield "db"
        events.append("close")

    def settings() -> dict[str, str]:  # sync: runs in the thread pool
        events.append("settings")
        return {"env": "test"}

    async def current_user(
        db: Annotated[str, Depends(database)],
        token: Annotated[str, Header(alias="authorization")] = "",
    ) -> str:
        return f"{db}:{token or 'anon'}"

    async def handler(
        user: Annotated[str, Depends(current_user)],
        db: Annotated[str, Depends(database)],
        conf: Annotated[dict[str, str], Depends(settings)],
        request: Request,
    ) -> dict[str, Any]:
        events.append("handler")
        return {"user": user, "db": db, "env": conf["env"], "path": request.url.path}

    app = App(routes=[Route("/h", handler)])
    c = TestClient(app)
    r = c.get("/h", headers={"authorization": "tok"})
    assert r.json() == {"user": "db:tok", "db": "db", "env": "test", "path": "/h"}
    assert events == ["open", "settings", "handler", "close"]  # database ran once

    events.clear()
    app.dependency_overrides[database] = lambda: "fake"
    assert c.get("/h").json()["user"] == "fake:anon"
    assert events == ["settings", "handler"]
    app.dependency_overrides.clear()
    assert c.get("/h").json()["db"] == "db"


def test_dependency_errors_join_the_422_and_dependency_exceptions_answer() -> None:
    async def paging(limit: Annotated[int, Query(le=50)] = 10) -> int:
        return limit

    async def guard(x_key: Annotated[str, Header()]) -> None:
        if x_key != "ok":
            from vivace.web import HTTPException

            raise HTTPException(403, "no")

    async def handler(
        limit: Annotated[int, Depends(paging)], _: Annotated[None, Depends(guard)], q: int = 0
    ) -> dict[str, int]:
        return {"limit": limit}

    c = app_with(Route("/h", handler))
    assert locs(c.get("/h?limit=99&q=x")) == [
        ["query", "limit"],
        ["query", "q"],
        ["header", "x-key"],
    ]
    assert c.get("/h", headers={"x-key": "bad"}).status_code == 403
    assert c.get("/h", headers={"x-key": "ok"}).json() == {"limit": 10}


def test_generator_dependency_cleans_up_after_an_error_response() -> None:
    done: list[str] = []

    def resource() -> Any:
        # The handler's exception is raised at the yield (FastAPI >= 0.106): a clean-up
        # that must run then is in a finally.
        try:
            yield 1
        finally:
            done.append("closed")

    async def handler(r: Annotated[int, Depends(resource)]) -> None:
        from vivace.web import HTTPException

        raise HTTPException(409, "busy")

    c = app_with(Route("/h", handler))
    assert c.get("/h").status_code == 409
    assert done == ["closed"]


# -- outputs, errors, analysis --------------------------------------------------------------


def test_output_from_objects_lists_and_response_model() -> None:
    class Row:  # an ORM model or any object with attributes
        def __init__(self, name: str) -> None:
            self.name = name
            self.price = 2.0
            self.password = "never shown"

    async def rows() -> list[ItemOut]:
        return [Row("a"), {"name": "b", "price": 1, "extra": 1}]  # type: ignore[list-item]

    async def model(request: Request) -> Any:
        return Row("c")

    async def text() -> PlainTextResponse:
        return PlainTextResponse("plain")

    c = app_with(
        Route("/rows", rows),
        Route("/model", model, response_model=ItemOut),
        Route("/text", text),
    )
    assert c.get("/rows").json() == [{"name": "a", "price": 2.0}, {"name": "b", "price": 1}]
    assert c.get("/model").json() == {"name": "c", "price": 2.0}
    assert c.get("/text").text == "plain"


def test_422_replaceable_by_the_app() -> None:
    async def on_invalid(request: Request, exc: RequestValidationError) -> PlainTextResponse:
        return PlainTextResponse(f"bad: {exc.errors()[0]['loc']}", 400)

    app = App(
        routes=[Route("/items/{item_id}", scalars)],
        exception_handlers={RequestValidationError: on_invalid},
    )
    r = TestClient(app).get("/items/x")
    assert (r.status_code, r.text) == (400, "bad: ['path', 'item_id']")


def test_http_endpoint_methods_plain_and_typed() -> None:
    class Items(HTTPEndpoint):
        async def get(self, request: Request) -> str:
            return "plain"

        async def put(self, item_id: int, item: Item) -> ItemOut:
            return ItemOut(name=f"{item.name}#{item_id}", price=item.price)

        def delete(self, item_id: int, force: bool = False) -> dict[str, Any]:
            return {"deleted": item_id, "force": force}

    c = app_with(Route("/items/{item_id}", Items))
    assert c.get("/items/1").text == "plain"
    assert c.put("/items/3", json={"name": "a", "price": 1}).json() == {"name": "a#3", "price": 1}
    assert c.delete("/items/4?force=yes").json() == {"deleted": 4, "force": True}
    assert locs(c.put("/items/x", json={})) == [
        ["path", "item_id"],
        ["body", "name"],
        ["body", "price"],
    ]


def test_analysis_errors_name_the_handler_and_parameter() -> None:
    async def untyped(request: Request, thing) -> None:  # type: ignore[no-untyped-def]
        return None

    async def wrong_path(
        item_id: Annotated[int, Field(ge=1)], other: Annotated[int, Query()]
    ) -> None:
        return None

    from vivace.web import Path

    async def missing_path(slug: Annotated[str, Path()]) -> None:
        return None

    with pytest.raises(TypeError, match=r"parameter 'thing'.*no annotation"):
        Route("/x", untyped)
    with pytest.raises(TypeError, match=r"parameter 'slug'.*path has no"):
        Route("/x", missing_path)
    Route("/x/{item_id}", wrong_path)  # fine


def test_websocket_typed_parameters_and_dependencies() -> None:
    async def room_name(room: str) -> str:
        return room.upper()

    async def chat(
        websocket: WebSocket,
        room: str,
        name: Annotated[str, Depends(room_name)],
        limit: Annotated[int, Query(le=10)] = 5,
    ) -> None:
        await websocket.accept()
        await websocket.send_json({"room": room, "name": name, "limit": limit})
        await websocket.close()

    c = app_with(WebSocketRoute("/ws/{room}", chat))  # type: ignore[arg-type]
    with c.websocket_connect("/ws/lobby?limit=3") as ws:
        assert ws.receive_json() == {"room": "lobby", "name": "LOBBY", "limit": 3}
    # Invalid input refuses the handshake with the 422 (a denial response).
    from vivace.client import WebSocketRejected

    with pytest.raises(WebSocketRejected) as info, c.websocket_connect("/ws/l?limit=99"):
        pass
    assert info.value.response.status_code == 422


def test_websocket_generator_dependency_sees_the_handler_exception() -> None:
    log: list[str] = []

    async def session() -> AsyncIterator[str]:
        log.append("open")
        try:
            yield "s"
        except LookupError as exc:
            log.append(f"rollback {exc}")
            raise KeyError("replaced") from exc
        else:
            log.append("commit")

    async def handler(websocket: WebSocket, s: Annotated[str, Depends(session)]) -> None:
        await websocket.accept()
        if websocket.query_params.get("fail"):
            raise LookupError("boom")
        await websocket.send_text(s)
        await websocket.close()

    c = app_with(WebSocketRoute("/ws", handler))  # type: ignore[arg-type]
    with c.websocket_connect("/ws") as ws:
        assert ws.receive_text() == "s"
    assert log == ["open", "commit"]
    log.clear()
    # The dependency's own exception goes on (the server closes the socket with 1011).
    with pytest.raises(KeyError, match="replaced"), c.websocket_connect("/ws?fail=1") as ws:
        ws.receive_text()
    assert log == ["open", "rollback boom"]
