"""Bounded thread pools for blocking work, and helpers to use them from async code.

Two kinds of blocking work run off the event loop: synchronous handlers (and sync
exception handlers and background tasks) and file I/O (static files, uploads spooled to
disk). Each has its own bounded pool, so a flood of slow sync handlers queues behind its
own threads and can never take the threads file serving needs, nor block the loop. The
handler pool's size is set per app (``App(thread_pool_size=...)``); threads are started
lazily, on first use.

Context variables are copied into the worker thread, as ``asyncio.to_thread`` does.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

__all__ = [
    "DEFAULT_THREAD_POOL_SIZE",
    "ThreadPool",
    "io_pool",
    "iterate_in_threadpool",
    "run_in_threadpool",
]

P = ParamSpec("P")
T = TypeVar("T")

#: Default number of threads for synchronous handlers (the size anyio and Starlette use).
DEFAULT_THREAD_POOL_SIZE = 40


class ThreadPool:
    """A bounded pool of worker threads.

    >>> import asyncio
    >>> pool = ThreadPool(2, name="example")
    >>> asyncio.run(pool.run(sum, [1, 2, 3]))
    6
    >>> pool.shutdown()
    """

    __slots__ = ("_executor", "max_workers", "name")

    def __init__(
        self, max_workers: int = DEFAULT_THREAD_POOL_SIZE, *, name: str = "vivace"
    ) -> None:
        if max_workers < 1:
            raise ValueError(f"a thread pool needs at least one thread, not {max_workers}")
        self.max_workers = max_workers
        self.name = name
        self._executor: ThreadPoolExecutor | None = None

    def _get_executor(self) -> ThreadPoolExecutor:
        executor = self._executor
        if executor is None:
            executor = self._executor = ThreadPoolExecutor(
                self.max_workers, thread_name_prefix=self.name
            )
        return executor

    async def run(self, func: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``func(*args, **kwargs)`` in a worker thread and return its result."""
        loop = asyncio.get_running_loop()
        context = contextvars.copy_context()
        call = functools.partial(context.run, func, *args, **kwargs)
        return await loop.run_in_executor(self._get_executor(), call)

    def shutdown(self) -> None:
        """Stop the threads once their current work is done (new work restarts them)."""
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)


#: The pool for synchronous handlers when no ``App`` configured one.
default_pool = ThreadPool(DEFAULT_THREAD_POOL_SIZE, name="vivace-web")
#: The pool for file I/O (static files, spooled uploads).
io_pool = ThreadPool(8, name="vivace-io")


async def run_in_threadpool(func: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a blocking function in the default handler pool.

    >>> import asyncio, time
    >>> asyncio.run(run_in_threadpool(time.sleep, 0))
    """
    return await default_pool.run(func, *args, **kwargs)


_STOP = object()


def _next(iterator: Iterator[T]) -> T | object:
    return next(iterator, _STOP)


async def iterate_in_threadpool(
    iterable: Iterable[T], pool: ThreadPool | None = None
) -> AsyncIterator[T]:
    """Iterate a blocking iterator, each step in a worker thread.

    >>> import asyncio
    >>> async def main():
    ...     return [x async for x in iterate_in_threadpool(iter([1, 2]))]
    >>> asyncio.run(main())
    [1, 2]
    """
    run = (pool or default_pool).run
    iterator = iter(iterable)
    while True:
        item = await run(_next, iterator)
        if item is _STOP:
            return
        yield item  # type: ignore[misc]
