"""Background tasks: work that runs after the response has been sent.

A response's ``background`` runs once the last body message went out (the client has its
answer), in the same request coroutine; sync functions run in the handler thread pool. It
runs also when the client went away mid-response, because background work is most often
clean-up (deleting a temporary file that was being served). Errors propagate to the
server like any error after the response started: they are logged, not shown.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, ParamSpec

from vivace.web._concurrency import run_in_threadpool

__all__ = ["BackgroundTask", "BackgroundTasks"]

P = ParamSpec("P")


class BackgroundTask:
    """One function call to run after the response.

    >>> import asyncio
    >>> done = []
    >>> task = BackgroundTask(done.append, "sent")
    >>> asyncio.run(task())
    >>> done
    ['sent']
    """

    __slots__ = ("args", "func", "is_async", "kwargs")

    def __init__(self, func: Callable[P, Any], *args: P.args, **kwargs: P.kwargs) -> None:
        self.func = func
        self.args = args
        self.kwargs = kwargs
        self.is_async = inspect.iscoroutinefunction(func) or inspect.iscoroutinefunction(
            getattr(func, "__call__", None)  # noqa: B004 - an async callable object
        )

    async def __call__(self) -> None:
        if self.is_async:
            await self.func(*self.args, **self.kwargs)
        else:
            await run_in_threadpool(self.func, *self.args, **self.kwargs)


class BackgroundTasks(BackgroundTask):
    """Several background tasks, run one after the other in the order added.

    >>> import asyncio
    >>> done = []
    >>> tasks = BackgroundTasks()
    >>> tasks.add_task(done.append, 1)
    >>> tasks.add_task(done.append, 2)
    >>> asyncio.run(tasks())
    >>> done
    [1, 2]
    """

    __slots__ = ("tasks",)

    def __init__(self, tasks: list[BackgroundTask] | None = None) -> None:
        self.tasks = list(tasks) if tasks else []

    def add_task(self, func: Callable[P, Any], *args: P.args, **kwargs: P.kwargs) -> None:
        """Queue ``func(*args, **kwargs)``."""
        self.tasks.append(BackgroundTask(func, *args, **kwargs))

    async def __call__(self) -> None:
        for task in self.tasks:
            await task()
