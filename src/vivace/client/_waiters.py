"""Waiting with a deadline, without a task per wait.

``asyncio.wait_for`` and ``asyncio.timeout`` are correct but cost a task or a context
manager per call; the client waits several times per request, so it uses one future and
one timer handle instead: ``wait(future, timeout, make_error)`` arms ``call_later``, which
fails the future with ``make_error()`` if it is still pending, and disarms it otherwise.
The future is the caller's own (one per wait), so failing it touches nothing else.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

__all__ = ["expire", "wait"]

T = TypeVar("T")


def expire(future: asyncio.Future[T], make_error: Callable[[], BaseException]) -> None:
    """Fail ``future`` with ``make_error()`` unless it is already done (a timer callback)."""
    if not future.done():
        future.set_exception(make_error())


async def wait(
    future: asyncio.Future[T],
    timeout: float | None,
    make_error: Callable[[], BaseException],
) -> T:
    """Await ``future``; after ``timeout`` seconds fail it with ``make_error()``.

    ``timeout=None`` waits without a deadline: only the user can ask for that.
    """
    if future.done() or timeout is None:
        return await future
    handle = future.get_loop().call_later(timeout, expire, future, make_error)
    try:
        return await future
    finally:
        handle.cancel()
