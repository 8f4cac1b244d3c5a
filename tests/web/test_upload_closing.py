"""A form's uploads are closed on every way out: a parse that fails, is cancelled, or
meets an error in ``receive``, and a handler that fails or is cancelled after reading the
form. An upload left open holds memory or a file descriptor until the garbage collector
finds it, and then warns (ResourceWarning) in whatever code runs at that moment."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.waiting import until
from tests.web.test_form_totals import CT, END, file_head, scope_for
from tests.web.test_runner_inlined import Passing
from vivace.testing import TestClient
from vivace.types import Message, Receive, Scope
from vivace.web import App, Limits, Middleware, Request, Route, UploadFile

# Two uploads: "a" over the spool size (on disk), "b" in memory, and the form unfinished.
UNFINISHED = [file_head("a", "a.bin") + b"x" * 100 + b"\r\n", file_head("b", "b.bin") + b"y"]
FILES = {"a": ("a.bin", b"x" * 100, "text/plain"), "b": ("b.bin", b"y", "text/plain")}


def stalling(chunks: list[bytes], stalled: asyncio.Event, error: Exception | None) -> Receive:
    """A ``receive`` giving ``chunks``, then raising ``error`` or waiting for ever."""
    pending = list(chunks)

    async def receive() -> Message:
        if pending:
            return {"type": "http.request", "body": pending.pop(0), "more_body": True}
        stalled.set()
        if error is not None:
            raise error
        await asyncio.Event().wait()  # the client stops sending
        raise AssertionError("unreachable")

    return receive


@pytest.mark.parametrize("way", ["cancelled", "receive fails"])
async def test_an_unfinished_form_parse_closes_its_uploads(
    opened_uploads: list[UploadFile], way: str
) -> None:
    stalled = asyncio.Event()
    error = RuntimeError("transport lost") if way == "receive fails" else None
    receive = stalling(UNFINISHED, stalled, error)
    request = Request(scope_for(Limits(form_spool_size=50)), receive)
    task = asyncio.create_task(request.form())
    await asyncio.wait_for(stalled.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError if error is None else RuntimeError):
        await asyncio.wait_for(task, 5)
    assert [u.filename for u in opened_uploads] == ["a.bin", "b.bin"]
    assert opened_uploads[0].file._rolled  # type: ignore[attr-defined]  # on disk
    assert all(u.file.closed for u in opened_uploads)


SEEN: list[UploadFile] = []
CLEANED: list[str] = []


async def form_then_fail(request: Request) -> Any:
    request.add_cleanup(cleanup)
    form = await request.form()
    SEEN.extend(v for _, v in form.multi_items() if isinstance(v, UploadFile))
    raise ValueError("the handler fails after reading the form")


async def form_then_wait(request: Request) -> Any:
    request.add_cleanup(cleanup)
    form = await request.form()
    SEEN.extend(v for _, v in form.multi_items() if isinstance(v, UploadFile))
    await asyncio.Event().wait()  # cancelled here


async def cleanup() -> None:
    CLEANED.append("cleaned")


def make_app(middleware: bool) -> App:
    routes = [
        Route("/fail", form_then_fail, methods=["POST"]),
        Route("/wait", form_then_wait, methods=["POST"]),
    ]
    app = App(routes=routes, middleware=[Middleware(Passing)] if middleware else [])
    # Without middleware the App runs the handler itself (its inlined Runner), with one
    # the route's Runner does: both paths are checked.
    assert (app.build_middleware_stack() is app.router) is not middleware
    return app


@pytest.fixture(autouse=True)
def _clear() -> None:
    SEEN.clear()
    CLEANED.clear()


@pytest.mark.parametrize("middleware", [False, True])
def test_a_handler_failing_after_the_form_closes_its_uploads(middleware: bool) -> None:
    with TestClient(make_app(middleware), raise_server_exceptions=False) as client:
        assert client.post("/fail", files=FILES).status_code == 500
    assert [u.filename for u in SEEN] == ["a.bin", "b.bin"]
    assert all(u.file.closed for u in SEEN)
    assert CLEANED == ["cleaned"]


@pytest.mark.parametrize("middleware", [False, True])
async def test_a_cancelled_handler_closes_its_uploads(middleware: bool) -> None:
    app = make_app(middleware)
    body = UNFINISHED[0] + file_head("b", "b.bin") + b"y\r\n" + END
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/wait",
        "raw_path": b"/wait",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"test"), (b"content-type", CT)],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> Message:
        if messages:
            return messages.pop()
        await asyncio.Event().wait()  # the client stays (until the cancel)
        raise AssertionError("unreachable")

    async def send(message: Message) -> None:
        raise AssertionError(f"nothing is sent before the cancel: {message}")

    task = asyncio.create_task(app(scope, receive, send))
    await until(lambda: SEEN, what="the handler read the form")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 5)
    assert [u.filename for u in SEEN] == ["a.bin", "b.bin"]
    assert all(u.file.closed for u in SEEN)
    assert CLEANED == ["cleaned"]
