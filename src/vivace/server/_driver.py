"""Running app coroutines: an eager first step, then a real Task only if needed.

Theory of operation. Each connection owns one long-lived *host* Task that normally sits
suspended on its ``handoff`` future. When a request is ready, the protocol callback runs
the app coroutine's first step synchronously (``coro.send(None)``) while pretending to be
inside the host Task (``asyncio.tasks._enter_task``, fenced in ``_compat.py``), so
``asyncio.current_task()`` is a real Task for code that needs one (``asyncio.timeout``,
anyio task groups, asgiref).

* If the coroutine finishes in that step (the common case for a small response), no Task
  was scheduled and no event-loop iteration was spent on it.
* If it suspends on a future, the protocol hands ``(coroutine, yielded future)`` to the
  host through ``handoff``; the host then awaits ``Resume(...)``, whose ``__await__``
  re-yields that same future to the host Task. From then on the host Task drives the
  coroutine exactly as if it had started it: it waits on the same future, sends results
  in, and delivers exceptions and cancellation (``host.cancel()``) into the coroutine.
  The Task that ``current_task()`` returned in the first step is the one that continues
  the coroutine, so a timeout or cancel scope captured there cancels the right code.

Every step runs inside the request's own ``contextvars.Context`` (a copy taken when the
request starts), as it would in a Task created per request.
"""

from __future__ import annotations

import contextvars
from collections.abc import Coroutine, Generator
from types import CoroutineType
from typing import Any

from vivace.server._compat import enter_task, leave_task

__all__ = ["Resume", "as_coroutine", "enter_task", "leave_task"]


async def _await(awaitable: Any) -> Any:
    return await awaitable


def as_coroutine(awaitable: Any) -> Coroutine[Any, Any, Any]:
    """The app's return value as a coroutine we can step (most apps return one already)."""
    if type(awaitable) is CoroutineType:
        return awaitable
    return _await(awaitable)


class Resume:
    """Continue a coroutine that already yielded ``yielded`` in a synchronous first step.

    Awaited by the host Task; ``throw`` (if given) is raised into the coroutine first,
    for a cancellation that arrived before the host took over.
    """

    __slots__ = ("_context", "_coro", "_throw", "_yielded")

    def __init__(
        self,
        coro: Coroutine[Any, Any, Any],
        context: contextvars.Context,
        yielded: Any,
        throw: BaseException | None = None,
    ) -> None:
        self._coro = coro
        self._context = context
        self._yielded = yielded
        self._throw = throw

    def __await__(self) -> Generator[Any, Any, Any]:
        coro = self._coro
        run = self._context.run
        yielded = self._yielded
        if self._throw is not None:
            try:
                yielded = run(coro.throw, self._throw)
            except StopIteration as stop:
                return stop.value
        while True:
            try:
                value = yield yielded
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # delivered by the Task, e.g. CancelledError
                try:
                    yielded = run(coro.throw, exc)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    yielded = run(coro.send, value)
                except StopIteration as stop:
                    return stop.value
