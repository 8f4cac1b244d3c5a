"""Handlers whose parameters vivace cannot supply are refused when the route is built."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import pytest

from vivace.testing import TestClient
from vivace.web import (
    App,
    HTTPConnection,
    HTTPEndpoint,
    Request,
    Route,
    Router,
    WebSocket,
    WebSocketRoute,
)
from vivace.web._endpoints import handler_takes_argument

if TYPE_CHECKING:
    from vivace import web  # a name only type checkers see: a string annotation at runtime


async def get_todo(todo_id: int) -> dict[str, int]:
    return {"id": todo_id}


def test_fastapi_style_handler_is_a_typed_handler() -> None:
    client = TestClient(App(routes=[Route("/todos/{todo_id:int}", get_todo)]))
    assert client.get("/todos/7").json() == {"id": 7}


async def get_thing(request: Request, thing) -> None:  # type: ignore[no-untyped-def]
    return None


def test_a_parameter_that_cannot_be_supplied_is_refused_with_a_clear_message() -> None:
    with pytest.raises(TypeError) as info:
        Route("/things", get_thing)
    message = str(info.value)
    assert "get_thing" in message
    assert "test_handler_signatures.py" in message  # where it is
    assert "'thing'" in message
    assert "has no annotation" in message


def test_refused_by_the_decorators_and_add_route_too() -> None:
    app = App()
    with pytest.raises(TypeError, match="'thing'"):
        app.get("/things")(get_thing)
    with pytest.raises(TypeError, match="'thing'"):
        app.add_route("/things", get_thing)
    router = Router()
    with pytest.raises(TypeError, match="'thing'"):
        router.route("/x")(get_thing)


def test_a_second_parameter_without_default_or_annotation_is_refused() -> None:
    def sync_two(request, db):  # type: ignore[no-untyped-def]
        ...

    with pytest.raises(TypeError, match=r"parameter 'db'.*no annotation"):
        Route("/", sync_two)


def test_http_endpoint_methods_are_checked() -> None:
    class Todos(HTTPEndpoint):
        async def get(self, request: Request) -> dict[str, Any]:
            return {}

        async def post(self, request: Request, todo) -> dict[str, Any]:  # type: ignore[no-untyped-def]
            return todo  # type: ignore[no-any-return]

    with pytest.raises(TypeError, match=r"Todos\.post.*'todo'.*no annotation"):
        Route("/todos", Todos)


def test_websocket_handlers_are_checked() -> None:
    async def chat(room: str) -> None: ...

    async def nothing() -> None: ...

    async def extra(websocket: WebSocket, room) -> None: ...  # type: ignore[no-untyped-def]

    with pytest.raises(TypeError, match="takes no WebSocket parameter"):
        WebSocketRoute("/ws", chat)
    with pytest.raises(TypeError, match="takes no parameter; a handler takes one parameter"):
        WebSocketRoute("/ws", nothing)
    with pytest.raises(TypeError, match=r"'room'.*no annotation"):
        WebSocketRoute("/ws", extra)

    async def wrong(websocket: Request) -> None: ...

    with pytest.raises(TypeError, match="asks for Request"):
        WebSocketRoute("/ws", wrong)


def test_allowed_signatures_still_work() -> None:
    async def annotated(request: Request) -> str:
        return "annotated"

    async def base_class(request: HTTPConnection) -> str:
        return "base"

    async def bare(request):  # type: ignore[no-untyped-def]
        return "bare"

    async def anything(request: Any) -> str:
        return "any"

    async def late(request: web.Request) -> str:  # unresolvable at runtime: judged by name
        return "late"

    async def positional_only(request: Request, /) -> str:
        return "positional-only"

    async def with_default(request: Request, page: int = 1) -> str:
        return f"page {page}"

    async def star(*args: Any) -> str:
        return f"{len(args)} args"

    async def kwargs(request: Request, **extra: Any) -> str:
        return "kwargs"

    def none() -> str:
        return "none"

    async def partial_target(prefix: str, request: Request) -> str:
        return prefix

    class Page(HTTPEndpoint):
        async def get(self, request: Request) -> str:
            return "endpoint"

        def post(self) -> str:
            return "no request"

    handlers: dict[str, Any] = {
        "/annotated": annotated,
        "/base": base_class,
        "/bare": bare,
        "/any": anything,
        "/late": late,
        "/posonly": positional_only,
        "/default": with_default,
        "/star": star,
        "/kwargs": kwargs,
        "/none": none,
        "/partial": functools.partial(partial_target, "partial"),
    }
    app = App(routes=[*(Route(p, h) for p, h in handlers.items()), Route("/page", Page)])
    client = TestClient(app)
    expected = {
        "/annotated": "annotated",
        "/base": "base",
        "/bare": "bare",
        "/any": "any",
        "/late": "late",
        "/posonly": "positional-only",
        "/default": "page 1",
        "/star": "1 args",
        "/kwargs": "kwargs",
        "/none": "none",
        "/partial": "partial",
    }
    for path, text in expected.items():
        assert client.get(path).text == text, path
    assert client.get("/page").text == "endpoint"
    assert client.post("/page").text == "no request"

    async def socket(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("hi")
        await websocket.close()

    async def socket_base(websocket: HTTPConnection) -> None:
        assert isinstance(websocket, WebSocket)
        await websocket.accept()
        await websocket.close()

    ws_app = App(routes=[WebSocketRoute("/ws", socket), WebSocketRoute("/base", socket_base)])
    with TestClient(ws_app).websocket_connect("/ws") as session:
        assert session.receive_text() == "hi"
    with TestClient(ws_app).websocket_connect("/base"):
        pass


def test_unresolvable_string_annotations_are_judged_by_name() -> None:
    async def named(request: "missing.Request") -> None: ...  # type: ignore[name-defined]  # noqa: F821, UP037

    async def other(request: "NoSuchThing") -> None: ...  # type: ignore[name-defined]  # noqa: F821, UP037

    async def broken(request: "len(1)") -> None: ...  # type: ignore[valid-type]  # noqa: UP037

    assert handler_takes_argument(named, Request) is True
    with pytest.raises(TypeError, match="annotated NoSuchThing"):
        handler_takes_argument(other, Request)
    # An annotation whose evaluation raises something else is judged by its text too.
    with pytest.raises(TypeError, match=r"annotated len\(1\)"):
        handler_takes_argument(broken, Request)


def test_subclass_annotation_is_refused() -> None:
    class MyRequest(Request):
        pass

    async def custom(request: MyRequest) -> None: ...

    # vivace passes a plain Request: a subclass annotation would lie about the type.
    with pytest.raises(TypeError, match="MyRequest"):
        Route("/", custom)


def test_builtins_without_signature_are_passed_the_argument() -> None:
    assert handler_takes_argument(print, Request) is True
