"""The app bench/soak.py runs for half an hour: every kind of traffic one server sees.

``GET /`` text; ``POST /upload`` a multipart form (files read and counted); ``GET /sse``
an event every 50 ms until the client leaves; ``/ws`` WebSocket echo; ``GET /db`` a query
and a write in a transaction on PostgreSQL (``SOAK_DATABASE_URL``, default the test
database), through a pool opened by the lifespan.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from vivace.db import Database
from vivace.web import (
    App,
    EventSourceResponse,
    PlainTextResponse,
    Request,
    Route,
    WebSocket,
    WebSocketRoute,
)

DATABASE_URL = os.environ.get("SOAK_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
TABLE = "vivace_soak"
db = Database(DATABASE_URL, min_size=1, max_size=4)


@asynccontextmanager
async def lifespan(app: App) -> AsyncIterator[None]:
    async with db:
        await db.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (id INTEGER PRIMARY KEY, n INTEGER)")
        await db.execute(f"DELETE FROM {TABLE}")
        await db.execute(f"INSERT INTO {TABLE} (id, n) VALUES (1, 0)")
        yield


async def index(request: Request) -> Any:
    return PlainTextResponse("ok")


async def upload(request: Request) -> Any:
    form = await request.form()
    size = 0
    for _, value in form.multi_items():
        if hasattr(value, "read"):
            size += len(await value.read())
        else:
            size += len(value)
    return {"size": size}


async def sse(request: Request) -> Any:
    async def events() -> AsyncIterator[dict[str, Any]]:
        number = 0
        while True:
            number += 1
            yield {"data": f"tick {number}", "id": str(number)}
            await asyncio.sleep(0.05)

    return EventSourceResponse(events())


async def query(request: Request) -> Any:
    async with db.transaction():
        await db.execute(f"UPDATE {TABLE} SET n = n + 1 WHERE id = 1")
        n = await db.fetch_val(f"SELECT n FROM {TABLE} WHERE id = 1")
    return {"n": n}


async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    async for message in websocket.iter_text():
        await websocket.send_text(message)


app = App(
    routes=[
        Route("/", index),
        Route("/upload", upload, methods=["POST"]),
        Route("/sse", sse),
        Route("/db", query),
        WebSocketRoute("/ws", echo),
    ],
    lifespan=lifespan,
)
