"""The apps of bench/batteries.py: one view cached or not, one view reading a session,
in vivace, FastAPI + fastapi-cache2, Starlette + starsessions, and Litestar (its stores,
response cache and server-side sessions).

Each app is built when its name is first looked up (``bench.batteries_apps:NAME``), with
the store ``BENCH_STORE`` names (``memory`` or ``redis``; Redis at ``BENCH_REDIS_URL``,
keys under ``BENCH_PREFIX``).

Endpoints: ``GET /`` (ready), ``GET /work`` (200 items built and sent as JSON),
``GET /cached`` (the same, cached 60 s), ``GET /login`` (puts a user in the session),
``GET /session`` (reads it; in the ``*_plain`` apps, which have no session middleware,
the same answer without a session).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

STORE = os.environ.get("BENCH_STORE", "memory")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
PREFIX = os.environ.get("BENCH_PREFIX", "vivace-bench:")
SECRET = "bench-secret-key-bench-secret-key"


def items() -> list[dict[str, Any]]:
    """The work a cached view saves: 200 records built (and then encoded as JSON)."""
    return [
        {"id": i, "name": f"item {i}", "price": i * 1.5, "tags": ["a", "b"]} for i in range(200)
    ]


# -- vivace -----------------------------------------------------------------------------


def _vivace_store() -> Any:
    from vivace.stores import MemoryStore, RedisStore

    if STORE == "redis-near":  # Redis with a near cache in the process (32 MiB)
        return RedisStore(REDIS_URL, prefix=PREFIX, near_cache=32 << 20)
    return RedisStore(REDIS_URL, prefix=PREFIX) if STORE == "redis" else MemoryStore()


def _vivace_cache() -> Any:
    from vivace.cache import Cache, cache_page
    from vivace.web import App, PlainTextResponse, Request, Route

    cache = Cache(_vivace_store(), default_ttl=60)

    async def ready(request: Request) -> Any:
        return PlainTextResponse("ok")

    async def work(request: Request) -> Any:
        return items()

    @cache_page(cache)
    async def cached(request: Request) -> Any:
        return items()

    return App(routes=[Route("/", ready), Route("/work", work), Route("/cached", cached)])


def _vivace_sessions(sessions: bool) -> Any:
    from vivace.sessions import StoreSessionMiddleware
    from vivace.web import App, Middleware, PlainTextResponse, Request, Route

    async def ready(request: Request) -> Any:
        return PlainTextResponse("ok")

    async def login(request: Request) -> Any:
        request.session["user"] = "ada"
        return {"ok": True}

    async def read(request: Request) -> Any:
        return {"user": request.session.get("user") if sessions else "ada"}

    middleware = []
    if sessions:
        middleware.append(
            Middleware(StoreSessionMiddleware, store=_vivace_store(), secret_key=SECRET)
        )
    routes = [Route("/", ready), Route("/login", login), Route("/session", read)]
    return App(routes=routes if sessions else [routes[0], routes[2]], middleware=middleware)


# -- FastAPI + fastapi-cache2 -----------------------------------------------------------


def _fastapi_cache() -> Any:
    from fastapi import FastAPI
    from fastapi.responses import PlainTextResponse
    from fastapi_cache import FastAPICache
    from fastapi_cache.decorator import cache

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        if STORE == "redis":
            import redis.asyncio
            from fastapi_cache.backends.redis import RedisBackend

            backend: Any = RedisBackend(redis.asyncio.from_url(REDIS_URL))
        else:
            from fastapi_cache.backends.inmemory import InMemoryBackend

            backend = InMemoryBackend()
        FastAPICache.init(backend, prefix=PREFIX + "fastapi-cache")
        yield

    app = FastAPI(lifespan=lifespan)

    @app.get("/", response_class=PlainTextResponse)
    async def ready() -> str:
        return "ok"

    @app.get("/work")
    async def work() -> Any:
        return items()

    @app.get("/cached")
    @cache(expire=60)
    async def cached() -> Any:
        return items()

    return app


# -- Starlette + starsessions -----------------------------------------------------------


def _starlette_sessions(sessions: bool) -> Any:
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.requests import Request
    from starlette.responses import JSONResponse, PlainTextResponse
    from starlette.routing import Route
    from starsessions import SessionMiddleware, load_session

    async def ready(request: Request) -> Any:
        return PlainTextResponse("ok")

    async def login(request: Request) -> Any:
        await load_session(request)
        request.session["user"] = "ada"
        return JSONResponse({"ok": True})

    async def read(request: Request) -> Any:
        if not sessions:
            return JSONResponse({"user": "ada"})
        await load_session(request)
        return JSONResponse({"user": request.session.get("user")})

    middleware = []
    if sessions:
        if STORE == "redis":
            from starsessions.stores.redis import RedisStore

            store: Any = RedisStore(REDIS_URL, prefix=PREFIX + "starsessions:")
        else:
            from starsessions import InMemoryStore

            store = InMemoryStore()
        middleware.append(
            Middleware(
                SessionMiddleware,
                store=store,
                lifetime=14 * 24 * 3600,
                cookie_https_only=False,
            )
        )
    routes = [Route("/", ready), Route("/login", login), Route("/session", read)]
    return Starlette(routes=routes, middleware=middleware)


# -- Litestar ---------------------------------------------------------------------------


def _litestar_store() -> Any:
    if STORE == "redis":
        from litestar.stores.redis import RedisStore

        return RedisStore.with_client(url=REDIS_URL, namespace=PREFIX.rstrip(":") + "-litestar")
    from litestar.stores.memory import MemoryStore

    return MemoryStore()


def _litestar_cache() -> Any:
    from litestar import Litestar, MediaType, get

    @get("/", media_type=MediaType.TEXT)
    async def ready() -> str:
        return "ok"

    @get("/work")
    async def work() -> list[dict[str, Any]]:
        return items()

    @get("/cached", cache=60)
    async def cached() -> list[dict[str, Any]]:
        return items()

    return Litestar(
        route_handlers=[ready, work, cached], stores={"response_cache": _litestar_store()}
    )


def _litestar_sessions(sessions: bool) -> Any:
    from litestar import Litestar, MediaType, Request, get
    from litestar.middleware.session.server_side import ServerSideSessionConfig

    @get("/", media_type=MediaType.TEXT)
    async def ready() -> str:
        return "ok"

    @get("/login")
    async def login(request: Request[Any, Any, Any]) -> dict[str, bool]:
        request.set_session({"user": "ada"})
        return {"ok": True}

    @get("/session")
    async def read(request: Request[Any, Any, Any]) -> dict[str, Any]:
        return {"user": request.session.get("user") if sessions else "ada"}

    if not sessions:
        return Litestar(route_handlers=[ready, read])
    config = ServerSideSessionConfig(max_age=14 * 24 * 3600)
    return Litestar(
        route_handlers=[ready, login, read],
        middleware=[config.middleware],
        stores={"sessions": _litestar_store()},
    )


APPS: dict[str, Callable[[], Any]] = {
    "vivace_cache": _vivace_cache,
    "vivace_sessions": lambda: _vivace_sessions(True),
    "vivace_plain": lambda: _vivace_sessions(False),
    "fastapi_cache": _fastapi_cache,
    "starlette_sessions": lambda: _starlette_sessions(True),
    "starlette_plain": lambda: _starlette_sessions(False),
    "litestar_cache": _litestar_cache,
    "litestar_sessions": lambda: _litestar_sessions(True),
    "litestar_plain": lambda: _litestar_sessions(False),
}


def __getattr__(name: str) -> Any:
    factory = APPS.get(name)
    if factory is None:
        raise AttributeError(name)
    app = globals()[name] = factory()
    return app
