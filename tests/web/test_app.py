"""App: lifespan, exception handlers, debug page, middleware, decorators, thread pool."""

from __future__ import annotations

import asyncio
import threading
import time
from contextlib import asynccontextmanager
from typing import Any

import pytest

from vivace.testing import LifespanFailed, TestClient
from vivace.types import Message, Receive, Scope, Send
from vivace.web import (
    App,
    HTTPException,
    JSONResponse,
    Middleware,
    PlainTextResponse,
    Request,
    Response,
    Route,
    ThreadPool,
    run_in_threadpool,
)
from vivace.web.middleware import ServerErrorMiddleware


async def boom(request: Request) -> Any:
    raise ValueError("boom <script>")


async def teapot(request: Request) -> Any:
    raise HTTPException(418, "short and stout", headers={"x-tea": "earl grey"})


def test_http_exception_default_rendering() -> None:
    c = TestClient(App(routes=[Route("/", teapot)]))
    r = c.get("/")
    assert (
        r.status_code == 418 and r.text == "short and stout" and r.headers["x-tea"] == "earl grey"
    )
    r = c.get("/", headers={"accept": "application/json"})
    assert r.json() == {"detail": "short and stout"}

    async def no_content(request: Request) -> Any:
        raise HTTPException(304)

    r = TestClient(App(routes=[Route("/", no_content)])).get("/")
    assert r.status_code == 304 and r.content == b""
    assert repr(HTTPException(404)) == "HTTPException(status_code=404, detail='Not Found')"
    assert str(HTTPException(400, "bad")) == "400: bad"


def test_exception_handlers_by_status_and_class() -> None:
    class Conflict(Exception):
        pass

    class SubConflict(Conflict):
        pass

    async def raise_conflict(request: Request) -> Any:
        raise SubConflict("taken")

    def on_conflict(request: Request, exc: Exception) -> Any:  # sync handlers work too
        return JSONResponse({"error": str(exc), "thread": threading.current_thread().name}, 409)

    app = App(routes=[Route("/teapot", teapot), Route("/conflict", raise_conflict)])

    @app.exception_handler(418)
    async def on_teapot(request: Request, exc: HTTPException) -> Any:
        return PlainTextResponse(f"handled {exc.detail}", exc.status_code)

    app.add_exception_handler(Conflict, on_conflict)
    c = TestClient(app)
    assert c.get("/teapot").text == "handled short and stout"
    r = c.get("/conflict")
    assert r.status_code == 409 and r.json()["error"] == "taken"
    assert r.json()["thread"].startswith("vivace-web")
    r = c.get("/missing")
    assert r.status_code == 404 and r.text == "Not Found"
    with pytest.raises(TypeError, match="keyed by status code or class"):
        app.add_exception_handler("nope", on_conflict)  # type: ignore[arg-type]


def test_handler_may_return_awaitable_from_sync_function() -> None:
    async def render(exc: Exception) -> Any:
        return PlainTextResponse("async from sync", 400)

    def handler(request: Request, exc: Exception) -> Any:
        return render(exc)

    async def raises(request: Request) -> Any:
        raise KeyError("x")

    c = TestClient(App(routes=[Route("/", raises)], exception_handlers={KeyError: handler}))
    assert c.get("/").text == "async from sync"


def test_unhandled_error_is_500_and_reraised() -> None:
    app = App(routes=[Route("/", boom)])
    with pytest.raises(ValueError, match="boom"):
        TestClient(app).get("/")
    r = TestClient(app, raise_server_exceptions=False).get("/")
    assert r.status_code == 500 and r.text == "Internal Server Error"


class PassThrough:
    """A middleware that changes nothing: the App then takes its general path."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


class FailsBeforeStart(Response):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise ValueError("before start")


class FailsAfterStart(Response):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise ValueError("after start")


@pytest.mark.parametrize("middleware", [[], [Middleware(PassThrough)]], ids=["bare", "wrapped"])
def test_server_errors_answered_alike_with_and_without_middleware(middleware: Any) -> None:
    # Without middleware a function route answers its own server errors (no send
    # wrapper); with middleware the App does. The client cannot tell which.
    async def conflict(request: Request, exc: Exception) -> Any:
        raise HTTPException(409, "handler refused")

    async def broken_handler(request: Request, exc: Exception) -> Any:
        raise RuntimeError("handler broke")

    async def key_error(request: Request) -> Any:
        raise KeyError("k")

    async def lookup_error(request: Request) -> Any:
        raise LookupError("l")

    async def before(request: Request) -> Any:
        return FailsBeforeStart()

    async def after(request: Request) -> Any:
        return FailsAfterStart()

    async def on_500(request: Request, exc: Exception) -> Any:
        return PlainTextResponse(f"500: {exc}", 500)

    app = App(
        routes=[
            Route("/boom", boom),
            Route("/conflict", key_error),
            Route("/broken-handler", lookup_error),
            Route("/before", before),
            Route("/after", after),
        ],
        middleware=middleware,
        exception_handlers={KeyError: conflict, LookupError: broken_handler, 500: on_500},
    )
    c = TestClient(app, raise_server_exceptions=False)
    r = c.get("/conflict")  # an exception handler raising HTTPException: its response
    assert (r.status_code, r.text) == (409, "handler refused")
    r = c.get("/broken-handler")  # an exception handler failing: the 500 handler
    assert (r.status_code, r.text) == (500, "500: handler broke")
    r = c.get("/boom")
    assert (r.status_code, r.text) == (500, "500: boom <script>")
    r = c.get("/before")  # a response failing before it starts: still a 500
    assert (r.status_code, r.text) == (500, "500: before start")
    raising = TestClient(app)
    for path, message in [("/boom", "boom"), ("/before", "before start")]:
        with pytest.raises(ValueError, match=message):
            raising.get(path)  # answered, then re-raised for the server to log
    with pytest.raises(ValueError, match="after start"):
        raising.get("/after")  # started: no 500 can follow, the error goes to the server


def test_server_error_handler() -> None:
    async def on_500(request: Request, exc: Exception) -> Any:
        return PlainTextResponse(f"sorry: {type(exc).__name__}", 500)

    for key in (500, Exception):
        app = App(routes=[Route("/", boom)], exception_handlers={key: on_500})
        r = TestClient(app, raise_server_exceptions=False).get("/")
        assert r.status_code == 500 and r.text == "sorry: ValueError"


def test_debug_page() -> None:
    app = App(routes=[Route("/", boom)], debug=True)
    c = TestClient(app, raise_server_exceptions=False)
    r = c.get("/", headers={"accept": "text/html"})
    assert r.status_code == 500 and r.headers["content-type"].startswith("text/html")
    assert "ValueError: boom &lt;script&gt;" in r.text and "<script>" not in r.text
    assert "test_app.py" in r.text
    r = c.get("/", headers={"accept": "*/*"})
    assert r.headers["content-type"].startswith("text/plain") and "Traceback" in r.text
    app.debug = False
    assert app.debug is False
    assert c.get("/").text == "Internal Server Error"


def test_error_after_response_started_is_reraised() -> None:
    async def half(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise RuntimeError("half way")

    from vivace.web import Mount

    app = App(routes=[Mount("/half", half)])
    with pytest.raises(RuntimeError, match="half way"):
        TestClient(app).get("/half/x")


class Recorder:
    """A middleware that records the order in which layers see the request."""

    def __init__(self, app: Any, name: str, log: list[str]) -> None:
        self.app, self.name, self.log = app, name, log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.log.append(f"{self.name} in")

            async def tagged(message: Message) -> None:
                if message["type"] == "http.response.start":
                    self.log.append(f"{self.name} out")
                await send(message)

            await self.app(scope, receive, tagged)
            return
        await self.app(scope, receive, send)


def test_middleware_order_and_add_middleware() -> None:
    log: list[str] = []

    async def handler(request: Request) -> str:
        log.append("handler")
        return "ok"

    app = App(
        routes=[Route("/", handler)],
        middleware=[
            Middleware(Recorder, "outer", log),
            Middleware(Recorder, name="inner", log=log),
        ],
    )
    app.add_middleware(Recorder, "added", log)
    c = TestClient(app)
    assert c.get("/").text == "ok"
    assert log == [
        "added in",
        "outer in",
        "inner in",
        "handler",
        "inner out",
        "outer out",
        "added out",
    ]
    with pytest.raises(RuntimeError, match="after the app has started"):
        app.add_middleware(Recorder, "late", log)
    assert repr(Middleware(Recorder, "x", log=[])) == "Middleware(Recorder, 'x', log=[])"


def test_http_exception_raised_in_middleware_is_answered() -> None:
    class Auth:
        def __init__(self, app: Any) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http" and scope["path"] == "/private":
                raise HTTPException(401, "login first", headers={"www-authenticate": "Bearer"})
            await self.app(scope, receive, send)

    app = App(routes=[Route("/private", teapot)], middleware=[Middleware(Auth)])
    r = TestClient(app).get("/private")
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"


def test_server_error_middleware_standalone() -> None:
    async def raw(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] == "/http":
            raise HTTPException(403)
        raise LookupError("raw failure")

    c = TestClient(ServerErrorMiddleware(raw, debug=True), raise_server_exceptions=False)
    assert c.get("/http").status_code == 403
    r = c.get("/other")
    assert r.status_code == 500 and "LookupError: raw failure" in r.text

    async def handler(request: Request, exc: Exception) -> Any:
        return PlainTextResponse("handled by the middleware's handler", 500)

    c = TestClient(ServerErrorMiddleware(raw, handler=handler), raise_server_exceptions=False)
    assert c.get("/other").text == "handled by the middleware's handler"


def test_lifespan_context_manager_and_generator() -> None:
    events: list[str] = []

    @asynccontextmanager
    async def cm(app: App) -> Any:
        events.append("cm start")
        yield {"from": "cm"}
        events.append("cm stop")

    async def gen(app: App) -> Any:
        events.append("gen start")
        yield None
        events.append("gen stop")

    async def state(request: Request) -> Any:
        return dict(request.scope.get("state", {}))

    for lifespan in (cm, gen):
        with TestClient(App(routes=[Route("/", state)], lifespan=lifespan)) as c:
            c.get("/")
    assert events == ["cm start", "cm stop", "gen start", "gen stop"]
    with TestClient(App(routes=[Route("/", state)])) as c:
        assert c.get("/").json() == {}


def test_lifespan_startup_failure() -> None:
    @asynccontextmanager
    async def failing(app: App) -> Any:
        raise RuntimeError("no database")
        yield

    # The lifespan's own error reaches the test (the App reports startup.failed, then
    # re-raises; the test client raises what the app raised).
    with (
        pytest.raises(RuntimeError, match="no database") as info,
        TestClient(App(lifespan=failing)),
    ):
        pass
    assert not isinstance(info.value, LifespanFailed)


async def test_lifespan_shutdown_failure_and_missing_state_support() -> None:
    @asynccontextmanager
    async def fails_on_exit(app: App) -> Any:
        yield {"x": 1}
        raise RuntimeError("cleanup failed")

    app = App(lifespan=fails_on_exit)
    sent: list[Message] = []
    inbox = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]

    async def receive() -> Message:
        return inbox.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    with pytest.raises(RuntimeError, match="cleanup failed"):
        await app({"type": "lifespan", "state": {}}, receive, send)
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.failed"]

    sent.clear()
    inbox[:] = [{"type": "lifespan.startup"}]
    with pytest.raises(RuntimeError, match="does not support lifespan state"):
        await App(lifespan=fails_on_exit)({"type": "lifespan"}, receive, send)
    assert sent[0]["type"] == "lifespan.startup.failed"


def test_decorators_and_building_api() -> None:
    app = App()

    @app.get("/items/{id:int}")
    async def get_item(request: Request) -> Any:
        return {"id": request.path_params["id"]}

    @app.post("/items")
    async def create(request: Request) -> Any:
        return JSONResponse(await request.json(), 201)

    @app.put("/items/{id:int}")
    async def put(request: Request) -> str:
        return "put"

    @app.patch("/items/{id:int}")
    async def patch(request: Request) -> str:
        return "patch"

    @app.delete("/items/{id:int}")
    async def delete(request: Request) -> str:
        return "delete"

    @app.route("/multi", methods=["GET", "POST"], name="multi")
    async def multi(request: Request) -> str:
        return request.method

    async def added(request: Request) -> str:
        return "added"

    app.add_route("/added", added)
    from vivace.web import Router

    app.mount("/sub", Router([Route("/x", added)]))
    app.host("h.test", Router([Route("/", added)]))
    c = TestClient(app)
    assert c.get("/items/2").json() == {"id": 2}
    assert c.post("/items", json={"a": 1}).status_code == 201
    assert [c.put("/items/1").text, c.patch("/items/1").text, c.delete("/items/1").text] == [
        "put",
        "patch",
        "delete",
    ]
    assert c.post("/multi").text == "POST"
    assert c.get("/added").text == "added" and c.get("/sub/x").text == "added"
    assert c.get("/", headers={"host": "h.test"}).text == "added"
    assert app.url_path_for("get_item", id=3) == "/items/3"
    assert len(app.routes) == 9
    assert app.limits.max_body_size == 16 * 1024 * 1024


def test_sync_handlers_run_in_a_bounded_pool_without_blocking_the_loop() -> None:
    release = threading.Event()
    running = 0
    peak = 0
    lock = threading.Lock()

    def blocking(request: Request) -> str:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        release.wait(10)
        with lock:
            running -= 1
        return "done"

    async def fast(request: Request) -> str:
        return "fast"

    app = App(routes=[Route("/block", blocking), Route("/fast", fast)], thread_pool_size=2)

    async def scenario() -> None:
        from vivace.testing import AsyncTestClient

        async with AsyncTestClient(app) as client:
            slow = [asyncio.ensure_future(client.get("/block")) for _ in range(5)]
            deadline = time.monotonic() + 10
            while peak < 2 and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            # The pool is full: async handlers are still answered at once.
            r = await asyncio.wait_for(client.get("/fast"), 5)
            assert r.text == "fast"
            assert peak == 2
            release.set()
            results = await asyncio.wait_for(asyncio.gather(*slow), 10)
            assert [r.text for r in results] == ["done"] * 5
            assert peak == 2

    asyncio.run(scenario())


def test_thread_pool_api() -> None:
    with pytest.raises(ValueError, match="at least one thread"):
        ThreadPool(0)
    pool = ThreadPool(1, name="t")
    assert asyncio.run(pool.run(lambda: threading.current_thread().name)).startswith("t")
    pool.shutdown()
    assert asyncio.run(pool.run(lambda: 5)) == 5  # restarts lazily
    pool.shutdown()
    assert asyncio.run(run_in_threadpool(sum, [1, 2])) == 3


async def test_server_error_middleware_passes_other_scopes_and_started_responses() -> None:
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["type"])
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            raise RuntimeError("after start")

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    middleware = ServerErrorMiddleware(app)
    await middleware({"type": "lifespan"}, None, send)  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="after start"):
        await middleware({"type": "http", "headers": []}, None, send)  # type: ignore[arg-type]
    assert seen == ["lifespan", "http"] and len(sent) == 1
