"""The vivace.web app the interop tests serve through each ASGI server."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from vivace.web import (
    App,
    EventSourceResponse,
    FileResponse,
    Middleware,
    Mount,
    Request,
    Route,
    StaticFiles,
    UploadFile,
)
from vivace.web.middleware import GZipMiddleware, SessionMiddleware

STATIC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "interop_static")


@asynccontextmanager
async def lifespan(app: App) -> AsyncIterator[dict[str, Any]]:
    yield {"started": "yes"}


async def plaintext(request: Request) -> str:
    return "Hello, World!"


async def item(request: Request) -> dict[str, Any]:
    return {"id": request.path_params["id"], "q": request.query_params.get("q")}


async def echo(request: Request) -> Any:
    return await request.json()


async def form(request: Request) -> dict[str, Any]:
    data = await request.form()
    upload = data["file"]
    assert isinstance(upload, UploadFile)
    return {"name": data["name"], "file": (await upload.read()).decode(), "size": upload.size}


async def events(request: Request) -> EventSourceResponse:
    async def gen() -> AsyncIterator[str]:
        for i in range(3):
            yield f"event {i}"

    return EventSourceResponse(gen())


async def state(request: Request) -> dict[str, Any]:
    return {"started": getattr(request.state, "started", None)}


async def counter(request: Request) -> dict[str, Any]:
    request.session["n"] = request.session.get("n", 0) + 1
    return {"n": request.session["n"]}


async def big(request: Request) -> str:
    return "compress me " * 1000


async def file(request: Request) -> FileResponse:
    return FileResponse(os.path.join(STATIC, "hello.txt"))


app = App(
    routes=[
        Route("/", plaintext),
        Route("/items/{id:int}", item),
        Route("/echo", echo, methods=["POST"]),
        Route("/form", form, methods=["POST"]),
        Route("/events", events),
        Route("/state", state),
        Route("/counter", counter),
        Route("/big", big),
        Route("/file", file),
        Mount("/static", StaticFiles(directory=STATIC)),
    ],
    middleware=[
        Middleware(SessionMiddleware, secret_key="interop"),
        Middleware(GZipMiddleware, minimum_size=100),
    ],
    lifespan=lifespan,
)
