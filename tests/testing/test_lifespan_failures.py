"""Lifespan failures under the test clients: the app's error is raised in the test, at
startup and at shutdown, with nothing left for asyncio to log ("Task exception was never
retrieved") or to warn about after the test (warnings are errors)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from starlette.applications import Starlette

from vivace.testing import AsyncTestClient, LifespanFailed, TestClient
from vivace.types import Receive, Scope, Send
from vivace.web import App


@pytest.fixture
def asyncio_errors(caplog: pytest.LogCaptureFixture) -> Callable[[], list[str]]:
    """What asyncio logged at ERROR, after a collection has finalised dead tasks."""
    caplog.set_level(logging.ERROR, logger="asyncio")

    def collect() -> list[str]:
        gc.collect()
        return [r.getMessage() for r in caplog.records if r.name == "asyncio"]

    return collect


@contextlib.asynccontextmanager
async def fails_on_startup(app: Any) -> AsyncIterator[None]:
    raise ValueError("database down")
    yield  # pragma: no cover


@contextlib.asynccontextmanager
async def fails_on_shutdown(app: Any) -> AsyncIterator[None]:
    yield
    raise ValueError("could not flush")


def vivace_app(lifespan: Any) -> Any:
    return App(lifespan=lifespan)


def starlette_app(lifespan: Any) -> Any:
    return Starlette(lifespan=lifespan)


FRAMEWORKS = [vivace_app, starlette_app]


@pytest.mark.parametrize("make", FRAMEWORKS)
def test_sync_startup_failure_raises_the_apps_error(
    make: Callable[[Any], Any], asyncio_errors: Callable[[], list[str]]
) -> None:
    client = TestClient(make(fails_on_startup))
    with pytest.raises(ValueError, match="database down") as info, client:
        pass  # pragma: no cover
    # The traceback reaches into the app's lifespan.
    assert any(entry.name == "fails_on_startup" for entry in info.traceback)
    del info
    assert client._portal is None  # the loop thread is stopped
    assert asyncio_errors() == []


@pytest.mark.parametrize("make", FRAMEWORKS)
async def test_async_startup_failure_raises_the_apps_error(
    make: Callable[[Any], Any], asyncio_errors: Callable[[], list[str]]
) -> None:
    with pytest.raises(ValueError, match="database down"):
        async with AsyncTestClient(make(fails_on_startup)):
            pass  # pragma: no cover
    assert asyncio_errors() == []
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []


@pytest.mark.parametrize("make", FRAMEWORKS)
def test_sync_shutdown_failure_raises_the_apps_error(
    make: Callable[[Any], Any], asyncio_errors: Callable[[], list[str]]
) -> None:
    client = TestClient(make(fails_on_shutdown))
    with pytest.raises(ValueError, match="could not flush"), client:
        assert client.get("/nowhere").status_code == 404
    assert client._portal is None
    assert asyncio_errors() == []


@pytest.mark.parametrize("make", FRAMEWORKS)
async def test_async_shutdown_failure_raises_the_apps_error(
    make: Callable[[Any], Any], asyncio_errors: Callable[[], list[str]]
) -> None:
    with pytest.raises(ValueError, match="could not flush"):
        async with AsyncTestClient(make(fails_on_shutdown)) as client:
            assert (await client.get("/nowhere")).status_code == 404
    assert asyncio_errors() == []


async def test_reported_failures_without_an_exception(
    asyncio_errors: Callable[[], list[str]],
) -> None:
    async def refuses(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "no config"})

    with pytest.raises(LifespanFailed, match="lifespan startup failed: no config"):
        async with AsyncTestClient(refuses):
            pass  # pragma: no cover

    async def shutdown_refused(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "lifespan.startup.complete"})
        await receive()
        await send({"type": "lifespan.shutdown.failed", "message": "busy"})

    with pytest.raises(LifespanFailed, match="lifespan shutdown failed: busy"):
        async with AsyncTestClient(shutdown_refused):
            pass
    assert asyncio_errors() == []


def test_reported_failure_then_a_cancelled_app(asyncio_errors: Callable[[], list[str]]) -> None:
    # The app reports the failure and then hangs: it is cancelled after the timeout, and
    # the failure is still the one raised.
    async def reports_then_hangs(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "stuck"})
        await asyncio.sleep(30)

    with pytest.raises(LifespanFailed, match="stuck"), TestClient(reports_then_hangs, timeout=0.2):
        pass  # pragma: no cover
    assert asyncio_errors() == []


async def test_lifespan_task_dies_while_the_test_runs(
    asyncio_errors: Callable[[], list[str]],
) -> None:
    # The app's lifespan crashes after a successful startup: leaving the block raises its
    # error at once, not after the shutdown timeout.
    crash = asyncio.Event()

    async def dies(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await receive()
            await send({"type": "lifespan.startup.complete"})
            await crash.wait()
            raise ConnectionError("broker went away")
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def run() -> None:
        async with AsyncTestClient(dies, timeout=20) as client:
            crash.set()
            await asyncio.sleep(0.01)
            assert (await client.get("/")).status_code == 204

    started = time.monotonic()
    with pytest.raises(ConnectionError, match="broker went away"):
        await run()
    assert time.monotonic() - started < 5
    assert asyncio_errors() == []


async def test_lifespan_that_returns_after_startup() -> None:
    async def returns(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "lifespan.startup.complete"})

    async with AsyncTestClient(returns, timeout=20):
        await asyncio.sleep(0.01)  # the app has ended before shutdown: nothing to do


async def test_startup_timeout_leaves_no_pending_task(
    asyncio_errors: Callable[[], list[str]],
) -> None:
    async def hangs(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await asyncio.sleep(30)

    with pytest.raises(TimeoutError, match="startup"):
        async with AsyncTestClient(hangs, timeout=0.1):
            pass  # pragma: no cover
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []

    async def fails_when_cancelled(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            raise OSError("cleanup on cancel failed") from None

    with pytest.raises(TimeoutError, match="startup"):
        async with AsyncTestClient(fails_when_cancelled, timeout=0.1):
            pass  # pragma: no cover
    assert asyncio_errors() == []


def test_test_failure_and_shutdown_failure_both_visible(
    asyncio_errors: Callable[[], list[str]],
) -> None:
    client = TestClient(App(lifespan=fails_on_shutdown))
    with pytest.raises(ValueError, match="could not flush") as info, client:
        raise AssertionError("the test's own failure")
    assert isinstance(info.value.__context__, AssertionError)
    del info
    assert asyncio_errors() == []
