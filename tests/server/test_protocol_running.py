"""How the protocol runs apps: eager first step, host Task, contexts (no sockets)."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from typing import Any

import pytest

from tests.server.conftest import Harness, parse_statuses, text_app
from vivace.types import Receive, Scope, Send

Make = Callable[..., Harness]
GET = b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"
START = {"type": "http.response.start", "status": 200}


# -- running the app: eager step, tasks, context ---------------------------------------------


async def test_current_task_is_a_real_task_in_first_step(make: Make) -> None:
    tasks: list[asyncio.Task[Any] | None] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        tasks.append(asyncio.current_task())
        await text_app(scope, receive, send)

    h = make(app)
    await h.send(GET)
    await h.response()
    assert tasks == [h.proto.host]
    assert asyncio.current_task() is not h.proto.host


async def test_asyncio_timeout_in_app(make: Make) -> None:
    outcomes: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            async with asyncio.timeout(0.01):
                await asyncio.sleep(5)
        except TimeoutError:
            outcomes.append("timeout")
        async with asyncio.timeout(5):  # does not fire
            await asyncio.sleep(0)
        await text_app(scope, receive, send)

    h = make(app)
    for _ in range(2):
        await h.send(GET)
    await h.responses(2)
    assert outcomes == ["timeout", "timeout"]
    assert h.proto.host.cancelling() == 0


async def test_timeout_firing_before_host_takes_over(make: Make) -> None:
    outcomes: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            async with asyncio.timeout(0):
                await asyncio.sleep(5)
        except TimeoutError:
            outcomes.append("timeout")
        await text_app(scope, receive, send)

    h = make(app)
    await h.send(GET)
    await h.response()
    assert outcomes == ["timeout"]


async def test_app_awaiting_real_io(make: Make) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"ping")
        data = await reader.read(4)
        writer.close()
        await writer.wait_closed()
        await send(START)
        await send({"type": "http.response.body", "body": data})

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(await reader.read(4))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        h = make(app)
        await h.send(GET)
        assert (await h.response()).body == b"ping"


async def test_cancellation_delivered_into_suspended_app(make: Make) -> None:
    events: list[str] = []
    started = asyncio.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            started.set()
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            events.append("cancelled")
            raise

    h = make(app)
    await h.send(GET)
    await asyncio.wait_for(started.wait(), 5)
    await asyncio.sleep(0)
    h.proto.host.cancel()
    await h.closed()
    assert events == ["cancelled"]
    assert parse_statuses(h.transport.data) == [500]


async def test_exception_thrown_into_app_from_future(make: Make) -> None:
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    caught: list[BaseException] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await future
        except KeyError as exc:
            caught.append(exc)
        await text_app(scope, receive, send)

    h = make(app)
    await h.send(GET)
    await asyncio.sleep(0.01)
    future.set_exception(KeyError("x"))
    await h.response()
    assert len(caught) == 1


async def test_context_is_fresh_per_request(make: Make) -> None:
    var: contextvars.ContextVar[int] = contextvars.ContextVar("var", default=0)
    seen: list[int] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(var.get())
        var.set(var.get() + 1)
        if scope["path"] == "/sleep":
            await asyncio.sleep(0)
            seen.append(var.get())
        await text_app(scope, receive, send)

    h = make(app)
    await h.send(GET)
    await h.send(b"GET /sleep HTTP/1.1\r\nHost: x\r\n\r\n")
    await h.send(GET)
    await h.responses(3)
    assert seen == [0, 0, 1, 0]


async def test_next_request_while_app_still_runs_after_response(make: Make) -> None:
    background_done = asyncio.Event()
    release = asyncio.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await text_app(scope, receive, send)
        if scope["path"] == "/bg":
            await release.wait()  # "background task" after the response
            background_done.set()

    h = make(app)
    await h.send(b"GET /bg HTTP/1.1\r\nHost: x\r\n\r\n")
    await h.response()
    await h.send(GET)  # the host is busy: this one runs in its own Task
    await h.responses(2)
    assert h.proto.host_busy
    release.set()
    await asyncio.wait_for(background_done.wait(), 5)
    await h.wait_for(lambda: not h.proto.host_busy)
    await h.send(GET)
    await h.responses(3)


async def test_data_received_inside_a_task_uses_a_task(make: Make) -> None:
    # data_received called from this test's Task (not from an event-loop callback): the
    # app's first step cannot run inside the host Task, so the app gets a Task of its own.
    tasks: list[asyncio.Task[Any] | None] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        tasks.append(asyncio.current_task())
        await text_app(scope, receive, send)

    h = make(app)
    h.proto.data_received(GET)
    assert (await h.response()).body == b"hello"
    [task] = tasks
    assert task is not None
    assert task is not asyncio.current_task() and task is not h.proto.host


async def test_app_returning_non_coroutine_awaitable(make: Make) -> None:
    class App:
        def __call__(self, scope: Scope, receive: Receive, send: Send) -> Any:
            return asyncio.ensure_future(text_app(scope, receive, send))

    h = make(App())
    await h.send(GET)
    assert (await h.response()).body == b"hello"


async def test_app_not_callable_properly(make: Make) -> None:
    def app(scope: Scope, receive: Receive, send: Send) -> Any:
        raise TypeError("not an app")

    h = make(app)
    await h.send(GET)
    await h.closed()
    assert parse_statuses(h.transport.data) == [500]


# -- proxy headers ---------------------------------------------------------------------------


async def test_proxy_headers_from_trusted_peer(make: Make) -> None:
    seen: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope)
        await text_app(scope, receive, send)

    request = (
        b"GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 203.0.113.7, 10.0.0.1\r\n"
        b"X-Forwarded-Proto: https\r\n\r\n"
    )
    trusted = make(app, forwarded_allow_ips=["127.0.0.1", "10.0.0.0/8"])
    await trusted.send(request)
    await trusted.response()
    assert seen[-1]["client"] == ("203.0.113.7", 0)
    assert seen[-1]["scheme"] == "https"

    untrusted = make(app, peer=("192.0.2.1", 4000))
    await untrusted.send(request)
    await untrusted.response()
    assert seen[-1]["client"] == ("192.0.2.1", 4000)
    assert seen[-1]["scheme"] == "http"

    disabled = make(app, proxy_headers=False)
    await disabled.send(request)
    await disabled.response()
    assert seen[-1]["client"] == ("127.0.0.1", 50000)


async def test_access_log_escapes_control_characters(
    make: Make, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="vivace.access")
    h = make(access_log=True, access_log_format="%(request_line)s %(status)s %(user_agent)s")
    await h.send(b"GET /a%0d%0aFAKE HTTP/1.1\r\nHost: x\r\nUser-Agent: ua\x85x\r\n\r\n")
    await h.response()
    records = [r.getMessage() for r in caplog.records if r.name == "vivace.access"]
    assert records == ["GET /a%0d%0aFAKE HTTP/1.1 200 ua\\x85x"]
