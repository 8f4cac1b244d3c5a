"""Responses: bodies, headers, cookies, redirects, streaming, disconnects, background tasks."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from vivace.http import InvalidCookie, InvalidHeader
from vivace.testing import AsyncTestClient, TestClient
from vivace.types import Message
from vivace.web import (
    App,
    BackgroundTask,
    BackgroundTasks,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Request,
    Response,
    Route,
    StreamingResponse,
)


def serve(response: Any) -> TestClient:
    async def handler(request: Request) -> Any:
        return response() if callable(response) and not isinstance(response, Response) else response

    return TestClient(App(routes=[Route("/", handler, methods=["GET", "HEAD", "POST"])]))


def test_plain_html_json() -> None:
    r = serve(PlainTextResponse("héllo")).get("/")
    assert (
        r.content == "héllo".encode() and r.headers["content-type"] == "text/plain; charset=utf-8"
    )
    assert r.headers["content-length"] == str(len("héllo".encode()))
    r = serve(HTMLResponse("<p>x</p>", status_code=201)).get("/")
    assert r.status_code == 201 and r.headers["content-type"] == "text/html; charset=utf-8"

    @dataclasses.dataclass
    class Point:
        x: int

    value = {"u": uuid.UUID(int=1), "d": datetime.date(2020, 1, 2), "p": Point(3)}
    r = serve(JSONResponse(value)).get("/")
    assert r.json() == {"u": str(uuid.UUID(int=1)), "d": "2020-01-02", "p": {"x": 3}}
    assert r.headers["content-type"] == "application/json"


def test_json_default_hook_and_unencodable() -> None:
    class Money:
        def __init__(self, cents: int) -> None:
            self.cents = cents

    response = JSONResponse({"m": Money(150)}, default=lambda o: o.cents / 100)
    assert response.body == b'{"m":1.5}'
    with pytest.raises(TypeError):
        JSONResponse({"m": Money(1)})


def test_json_response_fast_and_generic_paths_agree() -> None:
    class Pretty(JSONResponse):
        media_type = "application/vnd.x+json"

        def render(self, content: object) -> bytes:
            return b"<" + super().render(content) + b">"

    plain = JSONResponse({"a": 1})
    assert (plain.status_code, plain.body, plain.background) == (200, b'{"a":1}', None)
    assert plain.raw_headers == [(b"content-type", b"application/json"), (b"content-length", b"7")]
    created = JSONResponse({"a": 1}, status_code=201)
    assert (created.body, created.raw_headers) == (plain.body, plain.raw_headers)
    # A subclass keeps its own render() and media type.
    pretty = Pretty([1])
    assert pretty.body == b"<[1]>"
    assert pretty.raw_headers == [
        (b"content-type", b"application/vnd.x+json"),
        (b"content-length", b"5"),
    ]
    assert (
        JSONResponse(None, media_type="application/x-json").headers["content-type"]
        == "application/x-json"
    )


def test_response_construction_rules() -> None:
    r = Response(b"x", headers={"Content-Type": "image/png", "X-A": "1"}, media_type="text/plain")
    assert r.headers["content-type"] == "image/png"
    assert Response(status_code=204).headers.get("content-length") is None
    assert Response(status_code=304).headers.get("content-length") is None
    assert Response(status_code=101).headers.get("content-length") is None
    assert Response(bytearray(b"ab")).body == b"ab"
    assert Response(memoryview(b"ab")).body == b"ab"
    with pytest.raises(TypeError, match="bytes or str"):
        Response(123)
    with pytest.raises(InvalidHeader):
        Response(b"", headers={"x-evil": "a\r\nset-cookie: admin=1"})
    r = Response(b"", media_type="text/csv; charset=latin-1")
    assert r.headers["content-type"] == "text/csv; charset=latin-1"
    assert repr(r) == "Response(status_code=200)"
    assert Response(media_type="application/pdf").media_type_header == "application/pdf"


def test_cookies() -> None:
    def build() -> Response:
        r = PlainTextResponse("ok")
        r.set_cookie("theme", "dark mode", max_age=60, httponly=True, secure=True)
        r.set_cookie("plain", "1", samesite=None, path=None)
        r.delete_cookie("old")
        return r

    r = serve(build).get("/")
    cookies = r.headers.getlist("set-cookie")
    assert cookies[0] == 'theme="dark\\040mode"; HttpOnly; Max-Age=60; Path=/; SameSite=lax; Secure'
    assert cookies[1] == "plain=1"
    assert cookies[2].startswith("old=; Expires=") and "Max-Age=0" in cookies[2]
    with pytest.raises(InvalidCookie):
        PlainTextResponse().set_cookie("a;b", "x")
    with pytest.raises(InvalidCookie):
        PlainTextResponse().set_cookie("a", "x", path="/;evil")


def test_redirect() -> None:
    c = serve(RedirectResponse("/target path?x=1"))
    c.follow_redirects = False
    r = c.get("/")
    assert r.status_code == 307 and r.headers["location"] == "/target%20path?x=1"
    injected = RedirectResponse("/a\r\nSet-Cookie: x=1")
    assert injected.headers["location"] == "/a%0D%0ASet-Cookie:%20x=1"
    assert RedirectResponse("https://ex.test/", 301).status_code == 301


def test_returned_values_become_responses() -> None:
    @dataclasses.dataclass
    class Item:
        id: int

    cases: list[tuple[Any, str, bytes]] = [
        ({"a": 1}, "application/json", b'{"a":1}'),
        ([1, 2], "application/json", b"[1,2]"),
        ("text", "text/plain; charset=utf-8", b"text"),
        (b"\x00\x01", "application/octet-stream", b"\x00\x01"),
        (Item(4), "application/json", b'{"id":4}'),
    ]
    for value, content_type, body in cases:
        r = serve(lambda v=value: v).get("/")
        assert (r.headers["content-type"], r.content) == (content_type, body)
    with pytest.raises(TypeError, match="returned NoneType"):
        serve(lambda: None).get("/")


def test_head_sends_headers_only() -> None:
    r = serve(PlainTextResponse("body")).head("/")
    assert r.content == b"" and r.headers["content-length"] == "4"


def test_streaming_async_and_sync() -> None:
    async def agen() -> AsyncIterator[str | bytes]:
        yield "a"
        yield b"b"

    r = serve(lambda: StreamingResponse(agen(), media_type="text/plain")).get("/")
    assert r.content == b"ab" and "content-length" not in r.headers
    assert r.headers["content-type"] == "text/plain; charset=utf-8"

    thread_names: list[str] = []

    def sync_gen() -> Iterator[bytes]:
        thread_names.append(threading.current_thread().name)
        yield b"x"
        yield b"y"

    r = serve(lambda: StreamingResponse(sync_gen(), headers={"x-a": "1"})).get("/")
    assert r.content == b"xy" and r.headers["x-a"] == "1"
    assert thread_names[0].startswith("vivace-web")


def test_streaming_head_does_not_iterate() -> None:
    started: list[bool] = []

    async def agen() -> AsyncIterator[bytes]:
        started.append(True)
        yield b"x"

    r = serve(lambda: StreamingResponse(agen())).head("/")
    assert r.content == b"" and started == []


async def test_streaming_stops_when_client_disconnects() -> None:
    closed = asyncio.Event()
    produced = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal produced
        try:
            while True:
                produced += 1
                yield b"tick\n"
                await asyncio.sleep(0.001)
        finally:
            closed.set()

    background_ran = asyncio.Event()

    async def handler(request: Request) -> StreamingResponse:
        return StreamingResponse(endless(), background=BackgroundTask(background_ran.set))

    app = App(routes=[Route("/", handler)])
    async with AsyncTestClient(app) as client:
        async with client.stream("GET", "/") as r:
            lines = 0
            async for _ in r.aiter_lines():
                lines += 1
                if lines == 3:
                    break
        await asyncio.wait_for(closed.wait(), 5)
        await asyncio.wait_for(background_ran.wait(), 5)
    count = produced
    await asyncio.sleep(0.05)
    assert produced == count  # nothing more is produced


async def test_streaming_blocked_generator_is_cancelled_on_disconnect() -> None:
    cancelled = asyncio.Event()
    never = asyncio.Event()

    async def waits_forever() -> AsyncIterator[bytes]:
        yield b"first\n"
        try:
            await never.wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise
        yield b"never"

    response = StreamingResponse(waits_forever())
    messages: list[Message] = []
    disconnect = asyncio.Event()

    async def receive() -> Message:
        await disconnect.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        messages.append(message)
        if message.get("body") == b"first\n":
            disconnect.set()

    await asyncio.wait_for(response({"type": "http", "method": "GET"}, receive, send), 5)
    assert cancelled.is_set()
    assert messages[-1]["body"] == b"first\n"


async def test_streaming_send_oserror_stops() -> None:
    closed = asyncio.Event()

    async def endless() -> AsyncIterator[bytes]:
        try:
            while True:
                yield b"x"
        finally:
            closed.set()

    async def receive() -> Message:
        await asyncio.Event().wait()
        raise AssertionError

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body":
            raise ConnectionResetError("gone")

    await asyncio.wait_for(StreamingResponse(endless())({"type": "http"}, receive, send), 5)
    assert closed.is_set()


async def test_streaming_error_runs_background_then_raises() -> None:
    ran = []

    async def broken() -> AsyncIterator[bytes]:
        yield b"x"
        raise ValueError("broken generator")

    async def receive() -> Message:
        await asyncio.Event().wait()
        raise AssertionError

    async def send(message: Message) -> None:
        pass

    response = StreamingResponse(broken(), background=BackgroundTask(ran.append, 1))
    with pytest.raises(ValueError, match="broken generator"):
        await response({"type": "http"}, receive, send)
    assert ran == [1]


async def test_streaming_external_cancellation_propagates() -> None:
    async def slow() -> AsyncIterator[bytes]:
        await asyncio.Event().wait()
        yield b""

    async def receive() -> Message:
        await asyncio.Event().wait()
        raise AssertionError

    async def send(message: Message) -> None:
        pass

    task = asyncio.ensure_future(StreamingResponse(slow())({"type": "http"}, receive, send))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def test_background_tasks_run_after_response() -> None:
    order: list[str] = []

    async def async_task(name: str) -> None:
        order.append(name)

    def sync_task(name: str) -> None:
        order.append(name)

    class CallableTask:
        async def __call__(self, name: str) -> None:
            order.append(name)

    async def handler(request: Request) -> Response:
        tasks = BackgroundTasks()
        tasks.add_task(async_task, "a")
        tasks.add_task(sync_task, "b")
        tasks.add_task(CallableTask(), "c")
        order.append("handler")
        return PlainTextResponse("ok", background=tasks)

    async def single(request: Request) -> Response:
        return PlainTextResponse("ok", background=BackgroundTask(sync_task, "single"))

    c = TestClient(App(routes=[Route("/", handler), Route("/one", single)]))
    assert c.get("/").text == "ok"
    assert c.get("/one").text == "ok"
    assert order == ["handler", "a", "b", "c", "single"]
    assert BackgroundTasks([BackgroundTask(sync_task, "x")]).tasks[0].args == ("x",)


def test_custom_response_class_through_route() -> None:
    class Custom(Response):
        media_type = "text/x-custom"

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            self.headers["x-custom"] = "1"
            await super().__call__(scope, receive, send)

    r = serve(lambda: Custom("body")).get("/")
    assert r.headers["x-custom"] == "1"
    assert r.headers["content-type"] == "text/x-custom; charset=utf-8"


def test_content_length_pairs_are_remembered_within_a_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from vivace.web import _responses

    assert _responses.length_header(13) is _responses.length_header(13)
    full = {n: (b"content-length", b"%d" % n) for n in range(4096)}
    monkeypatch.setattr(_responses, "_LENGTHS", full)
    assert _responses.length_header(5000) == (b"content-length", b"5000")
    assert 5000 not in full and len(full) == 4096
    assert PlainTextResponse("x" * 5000).raw_headers[1] == (b"content-length", b"5000")


def test_bytes_content_goes_through_an_overridden_render() -> None:
    class Upper(Response):
        def render(self, content: Any) -> bytes:
            return (content.encode() if isinstance(content, str) else bytes(content)).upper()

    class Latin(PlainTextResponse):
        charset = "latin-1"

    # The subclass's render, for bytes and str content alike.
    assert Upper(b"abc").body == b"ABC" and Upper("abc").body == b"ABC"
    assert Response(b"abc").body == b"abc" and PlainTextResponse(b"abc").body == b"abc"
    assert PlainTextResponse("\xe9").body == b"\xc3\xa9" and Latin("\xe9").body == b"\xe9"
    assert Latin("x").raw_headers[0] == (b"content-type", b"text/plain; charset=latin-1")
    assert Response(bytearray(b"ab")).body == b"ab" and Response(None).body == b""
