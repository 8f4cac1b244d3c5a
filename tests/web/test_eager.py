"""A request that needs no waiting completes in one coroutine step.

vivace.server runs an app's first step synchronously and creates a Task only if the app
suspends; the framework must not suspend on its own (no tasks, events or thread hops in
the request path) when ``receive`` and ``send`` answer at once.
"""

from __future__ import annotations

from typing import Any

import pytest

from vivace.types import Message
from vivace.web import App, JSONResponse, Middleware, PlainTextResponse, Request, Route
from vivace.web.middleware import CORSMiddleware, GZipMiddleware, SessionMiddleware


async def plaintext(request: Request) -> PlainTextResponse:
    return PlainTextResponse("Hello, World!")


async def echo(request: Request) -> JSONResponse:
    return JSONResponse(await request.json())


async def item(request: Request) -> dict[str, Any]:
    return {"id": request.path_params["id"]}


async def form(request: Request) -> dict[str, Any]:
    return dict((await request.form()).items())


ROUTES = [
    Route("/plaintext", plaintext),
    Route("/echo", echo, methods=["POST"]),
    Route("/items/{id:int}", item),
    Route("/form", form, methods=["POST"]),
]


@pytest.mark.parametrize("with_middleware", [False, True])
@pytest.mark.parametrize(
    ("method", "path", "content_type", "body"),
    [
        ("GET", "/plaintext", None, b""),
        ("POST", "/echo", b"application/json", b'{"a": 1}'),
        ("GET", "/items/7", None, b""),
        ("POST", "/form", b"application/x-www-form-urlencoded", b"a=1&b=2"),
        ("GET", "/missing", None, b""),
        ("DELETE", "/plaintext", None, b""),
    ],
)
def test_completes_in_one_step(
    with_middleware: bool, method: str, path: str, content_type: bytes | None, body: bytes
) -> None:
    middleware = []
    if with_middleware:
        middleware = [
            Middleware(CORSMiddleware, allow_origins=["https://a.test"]),
            Middleware(SessionMiddleware, secret_key="k"),
            Middleware(GZipMiddleware),
        ]
    app = App(routes=ROUTES, middleware=middleware)
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    headers = [(b"host", b"example.com"), (b"origin", b"https://a.test")]
    if content_type:
        headers.append((b"content-type", content_type))
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "headers": headers,
        "query_string": b"",
        "root_path": "",
        "scheme": "http",
    }
    coro = app(scope, receive, send)
    with pytest.raises(StopIteration):
        coro.send(None)
    assert sent[0]["type"] == "http.response.start"
