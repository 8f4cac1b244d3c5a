"""App without middleware runs handlers through an inlined copy of ``Runner.__call__``
(one coroutine less per request, see vivace/web/_app.py); with a middleware the route's
``Runner`` runs them. Both must answer every kind of handler outcome the same way."""

from __future__ import annotations

from typing import Any

import pytest

from vivace.testing import TestClient
from vivace.types import Receive, Scope, Send
from vivace.web import (
    App,
    HTTPException,
    JSONResponse,
    Middleware,
    PlainTextResponse,
    Request,
    Route,
    StreamingResponse,
)

CLEANED: list[str] = []


async def data(request: Request) -> Any:
    return {"a": 1}


async def response(request: Request) -> Any:
    return PlainTextResponse("plain", headers={"x-a": "1"})


async def refused(request: Request) -> Any:
    raise HTTPException(418, {"why": "teapot"})


async def broken(request: Request) -> Any:
    raise ValueError("boom")


async def stream(request: Request) -> Any:
    async def chunks() -> Any:
        yield b"a"
        yield b"b"

    return StreamingResponse(chunks())


async def form(request: Request) -> Any:
    async def cleanup() -> None:
        CLEANED.append(request.url.path)

    request.add_cleanup(cleanup)
    fields = await request.form()
    return JSONResponse(dict(fields))


async def form_fails(request: Request) -> Any:
    async def cleanup() -> None:
        CLEANED.append(request.url.path)

    request.add_cleanup(cleanup)
    raise HTTPException(409)


ROUTES = [
    Route("/data", data),
    Route("/response", response),
    Route("/refused", refused),
    Route("/broken", broken),
    Route("/stream", stream),
    Route("/form", form, methods=["POST"]),
    Route("/form-fails", form_fails, methods=["POST"]),
]


class Passing:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


def answers(app: App) -> list[tuple[int, bytes, str | None]]:
    CLEANED.clear()
    out = []
    with TestClient(app, raise_server_exceptions=False) as client:
        for method, path in (
            ("GET", "/data"),
            ("GET", "/response"),
            ("GET", "/refused"),
            ("GET", "/broken"),
            ("GET", "/stream"),
            ("POST", "/form"),
            ("POST", "/form-fails"),
        ):
            r = client.request(method, path, data={"f": "v"} if method == "POST" else None)
            out.append((r.status_code, r.content, r.headers.get("content-type")))
    out.append((len(CLEANED), b",".join(p.encode() for p in CLEANED), None))
    return out


@pytest.mark.parametrize("json_errors", [False, True])
def test_inlined_and_runner_paths_answer_alike(json_errors: bool) -> None:
    inlined = App(routes=ROUTES, json_errors=json_errors)
    assert inlined.build_middleware_stack() is inlined.router  # the inlined path
    through_runner = App(routes=ROUTES, json_errors=json_errors, middleware=[Middleware(Passing)])
    got = answers(inlined)
    assert got == answers(through_runner)
    assert [status for status, _, _ in got[:7]] == [200, 200, 418, 500, 200, 200, 409]
    assert got[7][0] == 2  # both clean-ups ran, after a response and after an error
