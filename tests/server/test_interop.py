"""Third-party ASGI apps on the real server: Starlette, FastAPI and Django."""

from __future__ import annotations

import asyncio
import http.client
import json
import threading
from typing import Any

from tests.server.conftest import DEADLINE, serve


def get(
    port: int, path: str, method: str = "GET", body: bytes | None = None
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=DEADLINE)
    try:
        conn.request(
            method, path, body=body, headers={"content-type": "application/json"} if body else {}
        )
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def starlette_app(events: list[str]) -> Any:
    import anyio
    from starlette.applications import Starlette
    from starlette.background import BackgroundTask
    from starlette.middleware import Middleware
    from starlette.middleware.base import BaseHTTPMiddleware
    from starlette.requests import Request
    from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse
    from starlette.routing import Route

    async def home(request: Request) -> PlainTextResponse:
        return PlainTextResponse(f"hello {request.query_params.get('name', 'world')}")

    async def stream(request: Request) -> StreamingResponse:
        async def numbers() -> Any:
            for i in range(5):
                await asyncio.sleep(0)
                yield f"{i}\n"

        return StreamingResponse(numbers(), media_type="text/plain")

    async def timeout(request: Request) -> PlainTextResponse:
        try:
            async with asyncio.timeout(0.01):
                await asyncio.sleep(1)
        except TimeoutError:
            return PlainTextResponse("timed out", status_code=504)
        return PlainTextResponse("no")  # pragma: no cover - the timeout fires

    async def group(request: Request) -> JSONResponse:
        results: list[int] = []

        async def work(n: int) -> None:
            await anyio.sleep(0.001 * n)
            results.append(n)

        async with anyio.create_task_group() as tg:
            for n in (3, 1, 2):
                tg.start_soon(work, n)
        with anyio.move_on_after(0.01):
            await anyio.sleep(1)
        return JSONResponse({"results": sorted(results)})

    async def background(request: Request) -> PlainTextResponse:
        async def later() -> None:
            await asyncio.sleep(0.01)
            events.append("background ran")

        return PlainTextResponse("queued", background=BackgroundTask(later))

    async def echo(request: Request) -> JSONResponse:
        return JSONResponse({"got": await request.json(), "state": request.state.value})

    async def io(request: Request) -> PlainTextResponse:
        await asyncio.get_running_loop().run_in_executor(None, lambda: None)
        reader, writer = await asyncio.open_connection("127.0.0.1", request.url.port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = await reader.read()
        writer.close()
        return PlainTextResponse(data.split(b"\r\n\r\n", 1)[1].decode())

    class Tag(BaseHTTPMiddleware):
        async def dispatch(self, request: Request, call_next: Any) -> Any:
            request.state.value = 7
            response = await call_next(request)
            response.headers["x-middleware"] = "yes"
            return response

    return Starlette(
        routes=[
            Route("/", home),
            Route("/stream", stream),
            Route("/timeout", timeout),
            Route("/group", group),
            Route("/background", background),
            Route("/echo", echo, methods=["POST"]),
            Route("/io", io),
        ],
        middleware=[Middleware(Tag)],
    )


def test_starlette() -> None:
    events: list[str] = []
    with serve(starlette_app(events)) as server:
        port = server.port
        status, headers, body = get(port, "/?name=vivace")
        assert (status, body, headers["x-middleware"]) == (200, b"hello vivace", "yes")
        status, headers, body = get(port, "/stream")
        assert body == b"0\n1\n2\n3\n4\n" and headers["transfer-encoding"] == "chunked"
        assert get(port, "/timeout")[0] == 504
        assert json.loads(get(port, "/group")[2]) == {"results": [1, 2, 3]}
        assert get(port, "/background")[2] == b"queued"
        assert json.loads(get(port, "/echo", "POST", b'{"a": 1}')[2]) == {
            "got": {"a": 1},
            "state": 7,
        }
        assert get(port, "/io")[2] == b"hello world"
        assert get(port, "/missing")[0] == 404
        for _ in range(100):
            if events:
                break
            threading.Event().wait(0.01)
    assert events == ["background ran"]


def test_starlette_stream_stops_when_its_client_leaves() -> None:
    # Starlette listens for http.disconnect only when the scope's spec_version is below
    # 2.4 (above, it waits for a send() to fail); the server declares 2.3 for HTTP, so an
    # event stream whose client closed stops at once, as on uvicorn, not after its next
    # writes (here the next event is 30 s away).
    import socket
    import time

    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import StreamingResponse
    from starlette.routing import Route

    stopped = threading.Event()

    async def events(request: Request) -> StreamingResponse:
        async def ticks() -> Any:
            try:
                yield "data: 1\n\n"
                await asyncio.sleep(30)
                yield "data: 2\n\n"  # pragma: no cover - the client has left
            finally:
                stopped.set()

        return StreamingResponse(ticks(), media_type="text/event-stream")

    with serve(Starlette(routes=[Route("/events", events)])) as server:
        client = socket.create_connection(("127.0.0.1", server.port), timeout=DEADLINE)
        client.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
        received = b""
        while b"data: 1" not in received:
            received += client.recv(4096)
        client.close()
        left = time.monotonic()
        assert stopped.wait(5)
        assert time.monotonic() - left < 2


def test_fastapi() -> None:
    from fastapi import Depends, FastAPI

    app = FastAPI()
    done: list[str] = []

    def token() -> str:
        return "secret"

    @app.get("/items/{item_id}")
    async def read(item_id: int, q: str | None = None, t: str = Depends(token)) -> dict[str, Any]:
        return {"item_id": item_id, "q": q, "t": t}

    @app.post("/items")
    async def create(item: Item, tasks: BackgroundTasks) -> Item:
        tasks.add_task(done.append, item.name)
        return item

    @app.get("/sync")
    def sync() -> dict[str, str]:
        return {"thread": "pool"}

    with serve(app, lifespan="on") as server:
        port = server.port
        status, _, body = get(port, "/items/5?q=x")
        assert status == 200, body
        assert json.loads(body) == {"item_id": 5, "q": "x", "t": "secret"}
        status, _, body = get(port, "/items", "POST", b'{"name": "pen", "price": 1.5}')
        assert status == 200, body
        assert json.loads(body) == {"name": "pen", "price": 1.5}
        assert get(port, "/items", "POST", b'{"name": 1}')[0] == 422
        assert get(port, "/items/notanint")[0] == 422
        assert json.loads(get(port, "/sync")[2]) == {"thread": "pool"}
        status, _, body = get(port, "/openapi.json")
        assert status == 200 and b'"/items/{item_id}"' in body
    assert done == ["pen"]


def test_django() -> None:
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(
            DEBUG=False,
            SECRET_KEY="test-only-not-secret",
            ROOT_URLCONF=__name__,
            ALLOWED_HOSTS=["127.0.0.1", "localhost"],
            MIDDLEWARE=["django.middleware.common.CommonMiddleware"],
            INSTALLED_APPS=[],
            DATABASES={},
        )
        django.setup()
    from django.core.asgi import get_asgi_application
    from django.test.utils import override_settings

    # Another test may have configured Django first: this test's URLs and hosts win here.
    overrides = override_settings(
        ROOT_URLCONF=__name__,
        ALLOWED_HOSTS=["127.0.0.1", "localhost"],
        MIDDLEWARE=["django.middleware.common.CommonMiddleware"],
    )
    with overrides, serve(get_asgi_application(), lifespan="off") as server:
        port = server.port
        status, _, body = get(port, "/hello/?name=dj")
        assert (status, body) == (200, b"hello dj")
        status, _, body = get(port, "/async/")
        assert (status, body) == (200, b"async view")
        status, _, body = get(port, "/post/", "POST", b"payload")
        assert (status, body) == (200, b"7")
        assert get(port, "/nope/")[0] == 404


try:  # names in the FastAPI test's annotations: module level so that they resolve
    from fastapi import BackgroundTasks
    from pydantic import BaseModel

    class Item(BaseModel):
        name: str
        price: float

except ImportError:  # pragma: no cover - pydantic comes with fastapi (dev extra)
    pass


def _django_urls() -> list[Any]:
    try:
        from django.http import HttpRequest, HttpResponse
        from django.urls import path
        from django.views.decorators.csrf import csrf_exempt
    except ImportError:  # pragma: no cover - django is a dev dependency
        return []

    def hello(request: HttpRequest) -> HttpResponse:
        return HttpResponse(f"hello {request.GET.get('name', '')}")

    async def async_view(request: HttpRequest) -> HttpResponse:
        await asyncio.sleep(0)
        return HttpResponse("async view")

    @csrf_exempt
    def post(request: HttpRequest) -> HttpResponse:
        return HttpResponse(str(len(request.body)))

    return [path("hello/", hello), path("async/", async_view), path("post/", post)]


urlpatterns = _django_urls()
