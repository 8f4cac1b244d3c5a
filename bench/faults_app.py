"""The app bench/faults.py serves while it breaks what the app depends on.

``FAULT_DB_URL``: ``GET /tx?k=N`` inserts ``k`` into two tables in one transaction
(``fault_a`` then, after a pause, ``fault_b``): a transaction cut in the middle must
leave neither row. ``FAULT_REDIS_URL``: ``POST /publish?n=N`` publishes on a Redis
broadcast (503 while Redis is down), ``GET /events`` streams that channel as SSE, and
``GET /session`` counts visits in a Redis-backed session.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from vivace.web import (
    App,
    Broadcast,
    BroadcastError,
    EventSourceResponse,
    Middleware,
    PlainTextResponse,
    Request,
    Route,
)

DB_URL = os.environ.get("FAULT_DB_URL")
REDIS_URL = os.environ.get("FAULT_REDIS_URL")
TABLES = ("fault_a", "fault_b")
state: dict[str, Any] = {}


@asynccontextmanager
async def lifespan(app: App) -> AsyncIterator[None]:
    async with AsyncExitStack() as stack:
        if DB_URL:
            from vivace.db import Database

            db = Database(DB_URL, min_size=1, max_size=4, acquire_timeout=2)
            await stack.enter_async_context(db)
            state["db"] = db
        if REDIS_URL:
            broadcast = Broadcast(REDIS_URL, prefix="vivace-fault:")
            await stack.enter_async_context(broadcast)
            state["broadcast"] = broadcast
        yield


async def tx(request: Request) -> Any:
    db = state["db"]
    k = int(request.query_params["k"])
    async with db.transaction():
        await db.execute("INSERT INTO fault_a (k) VALUES (:k)", {"k": k})
        await asyncio.sleep(0.002)  # a window for the fault to cut the transaction
        await db.execute("INSERT INTO fault_b (k) VALUES (:k)", {"k": k})
    return PlainTextResponse("ok")


async def publish(request: Request) -> Any:
    try:
        await state["broadcast"].publish("news", request.query_params["n"])
    except BroadcastError as exc:
        # The publisher is told, clearly, and may retry: the backend reconnects alone.
        return PlainTextResponse(f"broadcast unavailable: {exc}", 503, {"retry-after": "1"})
    return PlainTextResponse("ok")


async def events(request: Request) -> Any:
    async def stream() -> AsyncIterator[dict[str, str]]:
        async with state["broadcast"].subscribe("news") as subscriber:
            yield {"data": "subscribed"}
            async for event in subscriber:
                yield {"data": event.message}

    return EventSourceResponse(stream())


async def session(request: Request) -> Any:
    visits = request.session.get("visits", 0) + 1
    request.session["visits"] = visits
    return PlainTextResponse(str(visits))


def _middleware() -> list[Middleware]:
    if not REDIS_URL:
        return []
    from vivace.sessions import StoreSessionMiddleware
    from vivace.stores import RedisStore

    store = RedisStore(REDIS_URL, prefix="vivace-fault:")
    return [Middleware(StoreSessionMiddleware, store=store, secret_key="fault-secret")]


app = App(
    routes=[
        Route("/tx", tx),
        Route("/publish", publish, methods=["POST"]),
        Route("/events", events),
        Route("/session", session),
    ],
    middleware=_middleware(),
    lifespan=lifespan,
)
