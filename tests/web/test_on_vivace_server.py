"""vivace.web on vivace.server's protocol: complete responses go out in one server call
(``whole_responder``) only when nothing wraps ``send``, with the same bytes either way."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, ClassVar

import pytest

from tests.server.conftest import Harness, parse_responses
from vivace.types import Message, Receive, Scope, Send
from vivace.web import (
    App,
    BackgroundTask,
    HTTPException,
    JSONResponse,
    Middleware,
    PlainTextResponse,
    RedirectResponse,
    Request,
    Response,
    Route,
    StreamingResponse,
)
from vivace.web._responses import send_response, whole_responder


class WrapsSend:
    """A middleware that passes every message on through a send of its own."""

    seen: ClassVar[list[str]] = []

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def wrapped(message: Message) -> None:
            WrapsSend.seen.append(message["type"])
            await send(message)

        await self.app(scope, receive, wrapped)


class KeepsSend:
    """A middleware that changes only the scope."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["kept"] = True
        await self.app(scope, receive, send)


ran: list[str] = []


async def text(request: Request) -> Any:
    return PlainTextResponse("hello")


async def data(request: Request) -> Any:
    return {"id": 7, "path": request.url.path}


async def cookie(request: Request) -> Any:
    response = JSONResponse([1, 2], status_code=201, headers={"cache-control": "no-store"})
    response.set_cookie("k", "v", httponly=True)
    return response


async def not_modified(request: Request) -> Any:
    return Response(None, 304, {"etag": '"x"'})


async def later(request: Request) -> Any:
    return PlainTextResponse("queued", background=BackgroundTask(ran.append, "later"))


async def stream(request: Request) -> Any:
    async def chunks() -> Any:
        yield b"a"
        yield b"b"

    return StreamingResponse(chunks(), media_type="text/plain")


async def moved(request: Request) -> Any:
    return RedirectResponse("/text")


async def missing(request: Request) -> Any:
    raise HTTPException(404, "no such thing")


async def broken(request: Request) -> Any:
    raise ValueError("broken")


async def bad_header(request: Request) -> Any:
    response = PlainTextResponse("x")
    response.raw_headers.append((b"x-bad", b"a\r\nx-injected: 1"))
    return response


ROUTES = [
    Route("/text", text),
    Route("/data", data),
    Route("/cookie", cookie),
    Route("/304", not_modified),
    Route("/later", later),
    Route("/stream", stream),
    Route("/moved", moved),
    Route("/missing", missing),
    Route("/broken", broken),
    Route("/bad-header", bad_header),
]
PATHS = [route.path for route in ROUTES] + ["/nowhere"]


def background_ran(path: str) -> Callable[[], bool]:
    """Whether the background task of the request about to be made has run (/later's
    runs in a worker thread, after the response: it may take a while on a busy machine)."""
    if path != "/later":
        return lambda: True
    before = len(ran)
    return lambda: len(ran) > before


async def wire(
    app: Any, request: bytes, settled: Callable[[], bool] = lambda: True
) -> tuple[bytes, bool]:
    h = Harness(app, date_header=False)
    try:
        await h.send(request)
        await h.wait_for(lambda: h.proto.cycle is None and bool(h.transport.data))
        await h.wait_for(settled)
        for _ in range(5):
            await asyncio.sleep(0)
        return bytes(h.transport.data), h.transport.closed
    finally:
        await h.close()


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("path", PATHS)
async def test_same_bytes_with_and_without_middleware(method: str, path: str) -> None:
    request = f"{method} {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    bare = await wire(App(routes=ROUTES), request, background_ran(path))
    WrapsSend.seen = []
    wrapped = await wire(
        App(routes=ROUTES, middleware=[Middleware(WrapsSend)]), request, background_ran(path)
    )
    kept = await wire(
        App(routes=ROUTES, middleware=[Middleware(KeepsSend)]), request, background_ran(path)
    )
    assert bare == wrapped == kept
    # The wrapping middleware saw every message: nothing went around it (a server error
    # escapes it, and is answered outside it).
    if path != "/broken":
        assert WrapsSend.seen[0] == "http.response.start"
        assert WrapsSend.seen[-1] == "http.response.body"
    [response] = parse_responses(bare[0])
    assert b"injected" not in bare[0]
    if path == "/broken" or path == "/bad-header":
        assert response.status == 500
    elif path == "/later":
        assert ran[-3:] == ["later"] * 3


def test_whole_responder_needs_the_server_cycle() -> None:
    async def plain(message: Message) -> None:
        pass

    class Other:
        async def send(self, message: Message) -> None:
            pass

    assert whole_responder(plain) is None
    assert whole_responder(Other().send) is None


async def test_send_response_falls_back_to_messages() -> None:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET"}
    await send_response(PlainTextResponse("hi"), scope, None, send)  # type: ignore[arg-type]
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert sent[1]["body"] == b"hi"


class OneCallServer:
    """A server ``send`` offering vivace.types.WholeResponseSender (the one-call
    capability); it records how each response arrived. vivace.server's own offer is
    checked against the protocol in tests/test_seams.py."""

    def __init__(self) -> None:
        self.calls: list[int] = []
        self.messages: list[str] = []

    async def send(self, message: Message) -> None:
        self.messages.append(message["type"])

    async def send_whole_response(self, status: int, headers: Any, body: bytes) -> None:
        self.calls.append(status)


async def served_by(app: App, method: str, path: str) -> OneCallServer:
    server = OneCallServer()

    requests = [{"type": "http.request", "body": b"", "more_body": False}]
    never = asyncio.Event()

    async def receive() -> Any:
        if requests:
            return requests.pop()
        await never.wait()  # the client stays: no http.disconnect
        raise AssertionError("unreachable")

    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"x")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    await app(scope, receive, server.send)
    return server


async def test_one_call_only_when_nothing_wraps_send() -> None:
    for method, path in (("GET", "/data"), ("HEAD", "/text")):
        server = await served_by(App(routes=ROUTES), method, path)
        assert (server.calls, server.messages) == ([200], [])
    # Any middleware: App watches what is sent through a send of its own. A streaming
    # response is not a whole one.
    for app, path in (
        (App(routes=ROUTES, middleware=[Middleware(KeepsSend)]), "/data"),
        (App(routes=ROUTES, middleware=[Middleware(WrapsSend)]), "/data"),
        (App(routes=ROUTES), "/stream"),
    ):
        server = await served_by(app, "GET", path)
        assert server.calls == [] and server.messages[0] == "http.response.start"
