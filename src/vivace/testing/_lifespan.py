"""Running an ASGI app's lifespan (startup and shutdown) for the test clients.

Theory of operation: the app is called once with a ``lifespan`` scope as a task. Its
``receive`` hands it ``lifespan.startup``, later ``lifespan.shutdown``; its ``send``
reports ``...complete`` or ``...failed``. An app that raises *before it ever called
``receive``* does not support lifespan (Django's ASGI handler raises on any scope but
``http``): like uvicorn's default, the test client then goes on without one. An app that
fails after receiving the startup event, or reports ``lifespan.startup.failed``, fails
the test: the error is raised from ``with TestClient(app)`` / ``async with``.

Which error: the app's own exception when it raised one (a framework usually reports
``...failed`` and then re-raises), so ``pytest.raises(TheAppsError)`` works and the
traceback points into the app; ``LifespanFailed`` with the reported message when it only
reported the failure. Shutdown (``lifespan.shutdown.failed``, an exception, an app that
died while the test ran) follows the same rule on leaving the block. Either way the
task's exception is consumed here, so asyncio never logs "Task exception was never
retrieved" and no stray warning outlives the test.
"""

from __future__ import annotations

import asyncio
from typing import Any

from vivace.client._asgi import app_coroutine
from vivace.client._waiters import wait
from vivace.types import ASGIApp, Message

__all__ = ["LifespanFailed", "LifespanManager"]


class LifespanFailed(RuntimeError):
    """The app reported ``lifespan.startup.failed`` or ``lifespan.shutdown.failed``."""


class LifespanManager:
    """Drives one app's lifespan; ``state`` is the scope's state dict (ASGI lifespan state)."""

    def __init__(self, app: ASGIApp, timeout: float | None) -> None:
        self.app = app
        self.timeout = timeout
        self.state: dict[str, Any] = {}
        self.supported = True
        self._events: asyncio.Queue[Message] = asyncio.Queue()
        self._reply: asyncio.Future[Message] | None = None
        self._received = False
        self._task: asyncio.Task[None] | None = None

    async def _receive(self) -> Message:
        self._received = True
        return await self._events.get()

    async def _send(self, message: Message) -> None:
        if not str(message.get("type", "")).startswith("lifespan."):
            raise RuntimeError(f"unexpected ASGI message {message.get('type')!r} in lifespan")
        if self._reply is not None and not self._reply.done():
            self._reply.set_result(message)

    def _app_done(self, task: asyncio.Task[None]) -> None:
        if self._reply is not None and not self._reply.done():
            error = None if task.cancelled() else task.exception()
            self._reply.set_result({"type": "app.ended", "error": error})

    def _timeout(self, phase: str) -> TimeoutError:
        return TimeoutError(f"lifespan {phase} did not finish within {self.timeout} s")

    async def _exchange(self, event: str) -> Message:
        self._reply = asyncio.get_running_loop().create_future()
        task = self._task
        if task is not None and task.done():
            # The app already ended (it died while the test ran, or returned early).
            self._app_done(task)
        else:
            self._events.put_nowait({"type": event})
        return await wait(self._reply, self.timeout, lambda: self._timeout(event))

    async def startup(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}}
        scope["state"] = self.state
        self._reply = asyncio.get_running_loop().create_future()
        self._task = asyncio.get_running_loop().create_task(
            app_coroutine(self.app(scope, self._receive, self._send))
        )
        self._task.add_done_callback(self._app_done)
        self._events.put_nowait({"type": "lifespan.startup"})
        try:
            reply = await wait(self._reply, self.timeout, lambda: self._timeout("startup"))
        except BaseException:
            await self._cancel_task()
            raise
        kind = reply["type"]
        if kind == "lifespan.startup.complete":
            return
        if kind == "lifespan.startup.failed":
            await self._raise_failure("startup", reply)
        # The app returned or raised.
        self.supported = False
        error = reply.get("error")
        if error is not None and self._received:
            raise error
        # Raised before receive() (or returned at once): no lifespan support, go on.

    async def shutdown(self) -> None:
        if not self.supported or self._task is None:
            return
        try:
            reply = await self._exchange("lifespan.shutdown")
        except BaseException:
            await self._cancel_task()
            raise
        kind = reply["type"]
        if kind == "lifespan.shutdown.failed":
            await self._raise_failure("shutdown", reply)
        if kind == "app.ended" and reply.get("error") is not None:
            raise reply["error"]
        await self._wait_task()

    async def _raise_failure(self, phase: str, reply: Message) -> None:
        """Raise for a reported ``lifespan.<phase>.failed``: the app's own exception if it
        raised one (read here, so the task's exception is retrieved), else ``LifespanFailed``."""
        await self._wait_task()
        task = self._task
        assert task is not None
        error = None if task.cancelled() else task.exception()
        if error is not None:
            raise error
        raise LifespanFailed(f"lifespan {phase} failed: {reply.get('message', '')}")

    async def _wait_task(self) -> None:
        task = self._task
        if task is not None and not task.done():
            done, _ = await asyncio.wait({task}, timeout=self.timeout)
            if not done:
                await self._cancel_task()

    async def _cancel_task(self) -> None:
        # The app hung or the test was interrupted: cancel its lifespan task and wait a
        # moment for it, so it is not destroyed pending when the loop closes; its outcome
        # is read so that asyncio has nothing to log.
        task = self._task
        assert task is not None  # created before anything can be cancelled
        task.cancel()
        await asyncio.wait({task}, timeout=1.0)
        if task.done() and not task.cancelled():
            task.exception()
