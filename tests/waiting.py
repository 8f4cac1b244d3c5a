"""Waiting in tests: for a condition to hold, always with a deadline.

A test that needs something to have happened (a request reached the server, a waiter is
queued, a process is listening) waits for that observable fact, never for a fixed time:
a sleep that is long enough on an idle machine is too short on a loaded CI host, and too
long everywhere else. A condition not reached in time fails the test with what it waited
for.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

POLL = 0.005


async def until(predicate: Callable[[], object], timeout: float = 10.0, what: str = "") -> None:
    """Poll ``predicate`` on the running loop until it is true; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"{what or 'condition'} not reached within {timeout} s")
        await asyncio.sleep(POLL)


def wait_until(predicate: Callable[[], object], timeout: float = 10.0, what: str = "") -> None:
    """The same for synchronous tests (threads, processes)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"{what or 'condition'} not reached within {timeout} s")
        time.sleep(POLL)
