"""vivace.web over HTTP/2, unchanged: JSON, streaming, server-sent events, files (pathsend,
ranges, conditional requests) and lifespan state, fetched with curl over h2c."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from tests.server.conftest import serve
from vivace.web import (
    App,
    EventSourceResponse,
    FileResponse,
    JSONResponse,
    Request,
    Route,
    ServerSentEvent,
    StreamingResponse,
)

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")


def make_app(folder: Path) -> App:
    @asynccontextmanager
    async def lifespan(app: App) -> AsyncIterator[dict[str, str]]:
        yield {"name": "vivace"}

    async def hello(request: Request) -> JSONResponse:
        return JSONResponse({"hello": request.state.name, "version": request.scope["http_version"]})

    async def stream(request: Request) -> StreamingResponse:
        async def parts() -> AsyncIterator[bytes]:
            for i in range(5):
                yield b"part%d;" % i
                await asyncio.sleep(0)

        return StreamingResponse(parts(), media_type="text/plain")

    async def events(request: Request) -> EventSourceResponse:
        async def source() -> AsyncIterator[ServerSentEvent]:
            for n in range(3):
                yield ServerSentEvent({"n": n}, event="tick", id=n)
                await asyncio.sleep(0)

        return EventSourceResponse(source())

    async def download(request: Request) -> FileResponse:
        return FileResponse(folder / "data.txt")

    routes = [
        Route("/hello", hello),
        Route("/stream", stream),
        Route("/events", events),
        Route("/file", download),
    ]
    return App(routes=routes, lifespan=lifespan)


def curl(*args: str) -> str:
    out = subprocess.run(
        ["curl", "-sS", "--http2-prior-knowledge", *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_web_features_over_h2(tmp_path: Path) -> None:
    (tmp_path / "data.txt").write_text("0123456789" * 1000)
    with serve(make_app(tmp_path)) as server:
        assert curl(server.url + "/hello") == '{"hello":"vivace","version":"2"}'
        assert curl(server.url + "/stream") == "part0;part1;part2;part3;part4;"
        events = curl("-N", server.url + "/events")
        assert events.count("event: tick") == 3 and 'data: {"n":2}' in events
        assert curl(server.url + "/file") == "0123456789" * 1000
        assert curl("-H", "range: bytes=5-9", server.url + "/file") == "56789"
        head = curl("-D", "-", "-o", "/dev/null", server.url + "/file")
        etag = next(
            line.split(":", 1)[1].strip()
            for line in head.splitlines()
            if line.lower().startswith("etag")
        )
        status = curl(
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-H",
            f"if-none-match: {etag}",
            server.url + "/file",
        )
        assert status == "304"
