"""An app using every battery, for the tests that run it in several server processes.

Configured by the environment (each test run gets names of its own):
  BATTERIES_STORE        redis or postgresql
  BATTERIES_NAME         the Redis key prefix, or the table of the database store
  BATTERIES_BROADCAST    the broadcast URL (redis+streams://... or postgresql://...)
  BATTERIES_CHANNELS     the broadcast prefix (and, for PostgreSQL, the history table)
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from vivace.cache import Cache, cache_page
from vivace.csrf import CSRFMiddleware, csrf_token
from vivace.db import Database
from vivace.ratelimit import RateLimiter, RateLimitMiddleware, by_header
from vivace.sessions import StoreSessionMiddleware
from vivace.stores import DatabaseStore, RedisStore, Store
from vivace.web import (
    App,
    Broadcast,
    EventSourceResponse,
    Middleware,
    PlainTextResponse,
    Request,
    Route,
    ServerSentEvent,
)
from vivace.web._broadcast_postgres import PostgresBackend

REDIS_URL = os.environ.get("VIVACE_REDIS_URL", "redis://127.0.0.1:6379/0")
PG_URL = os.environ.get("VIVACE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
NAME = os.environ.get("BATTERIES_NAME", "vivace_batteries")
CHANNELS = os.environ.get("BATTERIES_CHANNELS", "vivace_batteries_channels")

store: Store
if os.environ.get("BATTERIES_STORE", "redis") == "redis":
    store = RedisStore(REDIS_URL, prefix=NAME)
else:
    store = DatabaseStore(Database(PG_URL, max_size=5), table=NAME)
broadcast_url = os.environ.get("BATTERIES_BROADCAST", "redis+streams://127.0.0.1:6379/0")
if broadcast_url.startswith("postgresql"):
    broadcast = Broadcast(backend=PostgresBackend(broadcast_url, prefix=CHANNELS, table=CHANNELS))
else:
    broadcast = Broadcast(broadcast_url, prefix=CHANNELS)
cache = Cache(store, default_ttl=60)
# A day-long window: no window ends in the middle of a test.
limiter = RateLimiter(store, "10/day", name="api")


@asynccontextmanager
async def lifespan(app: App) -> AsyncIterator[None]:
    async with store, broadcast:
        yield


async def ready(request: Request) -> Any:
    return PlainTextResponse("ok")


async def token(request: Request) -> Any:
    return {"token": csrf_token(request), "pid": os.getpid()}


async def login(request: Request) -> Any:
    request.session["user"] = (await request.json())["user"]
    request.session.rotate()  # type: ignore[attr-defined]
    return {"pid": os.getpid()}


async def me(request: Request) -> Any:
    return {"user": request.session.get("user"), "pid": os.getpid()}


async def logout(request: Request) -> Any:
    request.session.flush()  # type: ignore[attr-defined]
    return {}


@cache_page(cache)
async def expensive(request: Request) -> Any:
    runs = await store.incr("expensive-runs")
    await asyncio.sleep(0.3)  # long enough for concurrent requests to all miss
    return {"runs": runs, "pid": os.getpid()}


async def limited(request: Request) -> Any:
    return {"pid": os.getpid()}


async def publish(request: Request) -> Any:
    body = await request.json()
    return {"id": await broadcast.publish(body["channel"], body["message"])}


async def events(request: Request) -> Any:
    channel = request.query_params["channel"]
    last = request.headers.get("last-event-id")
    subscription = broadcast.subscribe(channel, last_event_id=last)
    subscriber = await subscription.__aenter__()

    async def stream() -> AsyncIterator[ServerSentEvent]:
        try:
            yield ServerSentEvent(comment="subscribed")
            async for event in subscriber:
                yield ServerSentEvent(event.message, id=event.id)
        finally:
            await subscription.__aexit__(None, None, None)

    # Pings every half second: a client that left is noticed quickly.
    return EventSourceResponse(stream(), ping_interval=0.5)


app = App(
    routes=[
        Route("/", ready),
        Route("/token", token),
        Route("/login", login, methods=["POST"]),
        Route("/me", me),
        Route("/logout", logout, methods=["POST"]),
        Route("/expensive", expensive),
        Route(
            "/limited",
            limited,
            middleware=[
                Middleware(RateLimitMiddleware, limiter=limiter, key=by_header("x-client"))
            ],
        ),
        Route("/publish", publish, methods=["POST"]),
        Route("/events", events),
    ],
    middleware=[
        Middleware(StoreSessionMiddleware, store=store, secret_key="shared-secret"),
        Middleware(CSRFMiddleware, exempt=["/publish"]),
    ],
    lifespan=lifespan,
)
