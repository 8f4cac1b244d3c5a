"""``db.lifespan`` with vivace.web and Starlette apps, driven by the async test client."""

from __future__ import annotations

import asyncio
from pathlib import Path

from vivace.db import Database
from vivace.testing import AsyncTestClient
from vivace.web import App, JSONResponse, Request, Route


async def test_lifespan_with_vivace_web(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'web.sqlite3'}")

    async def create(request: Request) -> JSONResponse:
        body = await request.json()
        async with db.transaction():
            await db.execute("INSERT INTO notes (title) VALUES (:t)", {"t": body["title"]})
            counts = await asyncio.gather(
                *(db.fetch_val("SELECT count(*) FROM notes") for _ in range(3))
            )
        return JSONResponse({"counts": counts}, status_code=201)

    app = App(routes=[Route("/notes", create, methods=["POST"])], lifespan=db.lifespan)
    async with AsyncTestClient(app) as client:
        assert db.is_connected
        await db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT)")
        responses = await asyncio.gather(
            *(client.post("/notes", json={"title": f"n{i}"}) for i in range(5))
        )
        assert all(r.status_code == 201 for r in responses)
        assert await db.fetch_val("SELECT count(*) FROM notes") == 5
    assert not db.is_connected


async def test_lifespan_with_starlette(tmp_path: Path) -> None:
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route as StarletteRoute

    db = Database(f"sqlite:///{tmp_path / 'st.sqlite3'}")

    async def home(request: object) -> PlainTextResponse:
        return PlainTextResponse(str(await db.fetch_val("SELECT 40 + 2")))

    app = Starlette(routes=[StarletteRoute("/", home)], lifespan=db.lifespan)
    async with AsyncTestClient(app) as client:
        assert (await client.get("/")).text == "42"
    assert not db.is_connected
