"""The same app in vivace.web, Starlette and FastAPI, for bench/web.py.

Endpoints: GET /plaintext, GET /json, GET /users/{id:int}, POST /echo (JSON body echoed),
and 50 more routes /r0/{item_id:int} ... /r49/{item_id:int}; the benchmark hits the last.
"""

from __future__ import annotations

from typing import Any

ROUTE_COUNT = 50
MESSAGE = {"message": "Hello, World!"}


def _vivace() -> Any:
    from vivace.web import App, JSONResponse, PlainTextResponse, Request, Route

    async def plaintext(request: Request) -> PlainTextResponse:
        return PlainTextResponse(b"Hello, World!")

    async def json(request: Request) -> JSONResponse:
        return JSONResponse(MESSAGE)

    async def user(request: Request) -> JSONResponse:
        return JSONResponse({"id": request.path_params["id"]})

    async def echo(request: Request) -> JSONResponse:
        return JSONResponse(await request.json())

    async def item(request: Request) -> JSONResponse:
        return JSONResponse({"item": request.path_params["item_id"]})

    routes = [
        Route("/plaintext", plaintext),
        Route("/json", json),
        Route("/users/{id:int}", user),
        Route("/echo", echo, methods=["POST"]),
    ]
    routes += [Route(f"/r{i}/{{item_id:int}}", item, name=f"r{i}") for i in range(ROUTE_COUNT)]
    return App(routes=routes)


def _starlette() -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, PlainTextResponse
    from starlette.routing import Route

    async def plaintext(request: Request) -> PlainTextResponse:
        return PlainTextResponse(b"Hello, World!")

    async def json(request: Request) -> JSONResponse:
        return JSONResponse(MESSAGE)

    async def user(request: Request) -> JSONResponse:
        return JSONResponse({"id": request.path_params["id"]})

    async def echo(request: Request) -> JSONResponse:
        return JSONResponse(await request.json())

    async def item(request: Request) -> JSONResponse:
        return JSONResponse({"item": request.path_params["item_id"]})

    routes = [
        Route("/plaintext", plaintext),
        Route("/json", json),
        Route("/users/{id:int}", user),
        Route("/echo", echo, methods=["POST"]),
    ]
    routes += [Route(f"/r{i}/{{item_id:int}}", item, name=f"r{i}") for i in range(ROUTE_COUNT)]
    return Starlette(routes=routes)


def _fastapi() -> Any:
    from fastapi import Body, FastAPI
    from fastapi.responses import PlainTextResponse

    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/plaintext", response_class=PlainTextResponse)
    async def plaintext() -> str:
        return "Hello, World!"

    @app.get("/json")
    async def json() -> dict[str, str]:
        return MESSAGE

    @app.get("/users/{id}")
    async def user(id: int) -> dict[str, int]:
        return {"id": id}

    @app.post("/echo")
    async def echo(body: Any = Body(...)) -> Any:  # noqa: B008 - FastAPI's idiom
        return body

    def make(i: int) -> None:
        @app.get(f"/r{i}/{{item_id}}", name=f"r{i}")
        async def item(item_id: int) -> dict[str, int]:
            return {"item": item_id}

    for i in range(ROUTE_COUNT):
        make(i)
    return app


def __getattr__(name: str) -> Any:
    # Build only the app asked for: each server process imports one framework.
    factories = {"vivace_app": _vivace, "starlette_app": _starlette, "fastapi_app": _fastapi}
    if name in factories:
        app = factories[name]()
        globals()[name] = app
        return app
    raise AttributeError(name)
