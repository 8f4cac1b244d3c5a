"""Handlers whose parameters vivace cannot supply are refused when the route is built."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, Protocol, TypedDict

import pytest

from vivace.testing import TestClient
from vivace.types import Receive, Scope, Send
from vivace.web import (
    App,
    Header,
    HTTPConnection,
    HTTPEndpoint,
    PlainTextResponse,
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


async def three(item_id: int, q: str, x_token: Annotated[str, Header()]) -> dict[str, Any]:
    return {"id": item_id, "q": q, "token": x_token}


def three_sync(item_id: int, q: str, flag: bool) -> dict[str, Any]:
    return {"id": item_id, "q": q, "flag": flag}


async def three_ws(websocket: WebSocket, room: str, limit: int) -> None:
    await websocket.accept()
    await websocket.send_json({"room": room, "limit": limit})
    await websocket.close()


def test_three_required_typed_parameters_are_not_an_asgi_app() -> None:
    # Three required parameters were taken for (scope, receive, send): the handler was
    # called as an ASGI app and every request was a 500.
    app = App(
        routes=[
            Route("/items/{item_id}", three),
            Route("/sync/{item_id}", three_sync),
            WebSocketRoute("/ws/{room}", three_ws),
        ]
    )
    client = TestClient(app)
    r = client.get("/items/3?q=a", headers={"x-token": "t"})
    assert r.json() == {"id": 3, "q": "a", "token": "t"}
    assert client.get("/sync/3?q=a&flag=on").json() == {"id": 3, "q": "a", "flag": True}
    r = client.get("/items/x")
    assert r.status_code == 422
    assert [e["loc"] for e in r.json()["errors"]] == [
        ["path", "item_id"],
        ["query", "q"],
        ["header", "x-token"],
    ]
    with client.websocket_connect("/ws/lobby?limit=3") as ws:
        assert ws.receive_json() == {"room": "lobby", "limit": 3}


async def asgi_typed(scope: Scope, receive: Receive, send: Send) -> None:
    await PlainTextResponse("typed")(scope, receive, send)


async def asgi_bare(scope, receive, send):  # type: ignore[no-untyped-def]
    await PlainTextResponse("bare")(scope, receive, send)


def test_asgi_functions_are_still_asgi_apps() -> None:
    async def resolved(scope: Any, receive: Any, send: Any) -> None:
        await PlainTextResponse("resolved")(scope, receive, send)

    # Annotations as objects (no __future__ import): vivace's, Starlette's (the same
    # aliases), plain dict and callables, asgiref-style TypedDict unions and Protocols.
    resolved.__annotations__ = {"scope": Scope, "receive": Receive, "send": Send}

    class HTTPScope(TypedDict):
        type: str

    class WebSocketScope(TypedDict):
        type: str

    class ReceiveCallable(Protocol):
        def __call__(self) -> Any: ...

    async def asgiref_style(scope: Any, receive: Any, send: Any) -> None:
        await PlainTextResponse("asgiref")(scope, receive, send)

    asgiref_style.__annotations__ = {
        "scope": HTTPScope | WebSocketScope,
        "receive": ReceiveCallable,
        "send": Callable,
    }

    async def dict_style(scope: Any, receive: Any, send: Any) -> None:
        await PlainTextResponse("dict")(scope, receive, send)

    dict_style.__annotations__ = {"scope": dict, "receive": Any, "send": "typing.Callable"}
    client = TestClient(
        App(
            routes=[
                Route("/typed", asgi_typed),
                Route("/bare", asgi_bare),
                Route("/resolved", resolved),
                Route("/asgiref", asgiref_style),
                Route("/dict", dict_style),
            ]
        )
    )
    for path in ("typed", "bare", "resolved", "asgiref", "dict"):
        assert client.get(f"/{path}").text == path
