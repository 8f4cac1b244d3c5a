"""The test clients drive a Starlette app: routing, forms, files, cookies, lifespan
state, streaming with disconnect, background tasks, errors."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, StreamingResponse
from starlette.routing import Route

from vivace.testing import AsyncTestClient, TestClient

events: list[str] = []


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
    events.append("startup")
    yield {"greeting": "hello from lifespan"}
    events.append("shutdown")


async def items(request: Request) -> JSONResponse:
    if request.method == "POST":
        return JSONResponse({"created": await request.json()}, status_code=201)
    return JSONResponse({"q": request.query_params.get("q"), "x-a": request.headers.get("x-a")})


async def form(request: Request) -> JSONResponse:
    async with request.form() as data:
        upload = data["upload"]
        return JSONResponse(
            {
                "field": data["field"],
                "filename": upload.filename,  # type: ignore[union-attr]
                "content": (await upload.read()).decode(),  # type: ignore[union-attr]
                "content_type": upload.content_type,  # type: ignore[union-attr]
            }
        )


async def greeting(request: Request) -> PlainTextResponse:
    return PlainTextResponse(request.state.greeting)


async def login(request: Request) -> PlainTextResponse:
    response = PlainTextResponse("welcome")
    response.set_cookie("session", "s3cret", httponly=True)
    return response


async def whoami(request: Request) -> PlainTextResponse:
    return PlainTextResponse(request.cookies.get("session", "anonymous"))


async def moved(request: Request) -> RedirectResponse:
    return RedirectResponse("/whoami")


async def boom(request: Request) -> PlainTextResponse:
    raise ValueError("view failed")


produced: list[int] = []


async def events_stream(request: Request) -> StreamingResponse:
    async def generate() -> AsyncIterator[str]:
        for i in range(1_000_000):
            produced.append(i)
            yield f"data: {i}\n\n"
            await asyncio.sleep(0)

    return StreamingResponse(generate(), media_type="text/event-stream")


background_done: list[str] = []


async def with_background(request: Request) -> PlainTextResponse:
    return PlainTextResponse(
        "sent", background=BackgroundTask(lambda: background_done.append("done"))
    )


app = Starlette(
    routes=[
        Route("/items", items, methods=["GET", "POST"]),
        Route("/form", form, methods=["POST"]),
        Route("/greeting", greeting),
        Route("/login", login),
        Route("/whoami", whoami),
        Route("/moved", moved),
        Route("/boom", boom),
        Route("/events", events_stream),
        Route("/background", with_background),
    ],
    lifespan=lifespan,
)


def test_starlette_with_sync_client() -> None:
    events.clear()
    with TestClient(app) as client:
        assert events == ["startup"]
        r = client.get("/items", params={"q": "x"}, headers={"x-a": "1"})
        assert r.json() == {"q": "x", "x-a": "1"}
        r = client.post("/items", json={"a": 1})
        assert r.status_code == 201 and r.json() == {"created": {"a": 1}}
        r = client.post(
            "/form", data={"field": "v"}, files={"upload": ("a.txt", b"...", "text/plain")}
        )
        assert r.json() == {
            "field": "v",
            "filename": "a.txt",
            "content": "...",
            "content_type": "text/plain",
        }
        assert client.get("/greeting").text == "hello from lifespan"
        assert client.get("/whoami").text == "anonymous"
        client.get("/login")
        assert client.get("/whoami").text == "s3cret"
        r = client.get("/moved")
        assert r.text == "s3cret" and r.history[0].status_code == 307
        assert client.get("/nope").status_code == 404
        with pytest.raises(ValueError, match="view failed"):
            client.get("/boom")
        background_done.clear()
        assert client.get("/background").text == "sent"
        assert background_done == ["done"]
    assert events == ["startup", "shutdown"]


def test_starlette_errors_as_500() -> None:
    client = TestClient(app, raise_server_exceptions=False)
    r = client.get("/boom")
    assert r.status_code == 500
    client.close()


def test_starlette_streaming_disconnect_sync() -> None:
    produced.clear()
    with TestClient(app) as client, client.stream("GET", "/events") as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        first = []
        for line in r.iter_lines():
            if line:
                first.append(line)
            if len(first) == 3:
                break
        assert first == ["data: 0", "data: 1", "data: 2"]
    # The app stopped soon after the client closed the stream (ahead by one buffer).
    assert len(produced) < 100_000


async def test_starlette_with_async_client() -> None:
    produced.clear()
    events.clear()
    async with AsyncTestClient(app) as client:
        assert events == ["startup"]
        r = await client.get("/greeting")
        assert r.text == "hello from lifespan"
        await client.get("/login")
        assert (await client.get("/whoami")).text == "s3cret"
        async with client.stream("GET", "/events") as r:
            lines = []
            async for line in r.aiter_lines():
                if line:
                    lines.append(line)
                if len(lines) == 2:
                    break
        assert lines == ["data: 0", "data: 1"]
        assert len(produced) < 100_000
    assert events == ["startup", "shutdown"]
