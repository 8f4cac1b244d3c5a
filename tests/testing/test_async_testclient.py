"""AsyncTestClient: the same contract, awaited, on the test's own loop."""

from __future__ import annotations

import asyncio

import pytest

from vivace.client import Client, ReadTimeout
from vivace.testing import AsyncTestClient, LifespanFailed
from vivace.types import Receive, Scope, Send

from .apps import Recorder, echo_app


async def test_async_client_contract() -> None:
    async with AsyncTestClient(echo_app) as client:
        assert isinstance(client, Client)
        r = await client.get("/x", params={"q": "1"})
        scope = r.json()["scope"]
        assert scope["path"] == "/x" and scope["query_string"] == "q=1"
        assert scope["state"] == {"started": True}
        assert dict(scope["headers"])["user-agent"] == "testclient"
        r = await client.post("/items", json={"a": 1})
        assert r.json()["body"] == '{"a":1}'


async def test_async_stream_and_disconnect() -> None:
    app = Recorder(lines=100_000)
    async with AsyncTestClient(app) as client, client.stream("GET", "/events") as r:
        seen = []
        async for line in r.aiter_lines():
            seen.append(line)
            if len(seen) == 3:
                break
    await asyncio.wait_for(app.finished.wait(), 5)
    assert seen == ["data: 0", "", "data: 1"]
    assert app.received == [{"type": "http.disconnect"}]


async def test_async_lifespan_failure() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "nope"})

    with pytest.raises(LifespanFailed, match="nope"):
        async with AsyncTestClient(app):
            pass  # pragma: no cover


async def test_lifespan_timeout_and_bad_message() -> None:
    async def slow(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await asyncio.sleep(10)

    with pytest.raises(TimeoutError, match="startup"):
        async with AsyncTestClient(slow, timeout=0.1):
            pass  # pragma: no cover

    async def confused(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "http.response.start", "status": 200})

    with pytest.raises(RuntimeError, match="unexpected ASGI message"):
        async with AsyncTestClient(confused):
            pass  # pragma: no cover


async def test_shutdown_errors_and_timeouts() -> None:
    async def raises_on_shutdown(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "lifespan.startup.complete"})
        await receive()
        raise OSError("could not flush")

    with pytest.raises(OSError, match="could not flush"):
        async with AsyncTestClient(raises_on_shutdown):
            pass

    async def hangs_on_shutdown(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "lifespan.startup.complete"})
        await receive()
        await asyncio.sleep(10)

    with pytest.raises(TimeoutError, match="shutdown"):
        async with AsyncTestClient(hangs_on_shutdown, timeout=0.1):
            pass

    async def lingers(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "lifespan.startup.complete"})
        await receive()
        await send({"type": "lifespan.shutdown.complete"})
        await asyncio.sleep(10)

    async with AsyncTestClient(lingers, timeout=0.1):
        pass  # shutdown completed; the lingering task is cancelled after the timeout


async def test_background_task_slower_than_timeout() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200})
        await send({"type": "http.response.body", "body": b"ok"})
        await asyncio.sleep(10)

    async with AsyncTestClient(app, timeout=0.1) as client:
        with pytest.raises(ReadTimeout):
            await client.get("/")


async def test_slow_reader_applies_backpressure() -> None:
    produced: list[int] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200})
        for i in range(100):
            produced.append(i)
            await send({"type": "http.response.body", "body": b"x" * 65536, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    async with AsyncTestClient(app) as client, client.stream("GET", "/") as r:
        iterator = r.aiter_raw()
        await iterator.__anext__()
        for _ in range(10):
            await asyncio.sleep(0)
        assert len(produced) < 10  # the app waits for the reader
        total = 65536 + sum([len(c) async for c in iterator])
    assert total == 100 * 65536
