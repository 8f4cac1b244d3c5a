"""An event loop in a background thread, so synchronous tests can drive async code.

``LoopThread.call(coro)`` runs ``coro`` on the loop and returns its result (or raises its
exception) in the calling thread. If the caller is interrupted (a pytest timeout, Ctrl-C)
the coroutine is cancelled. The thread is a daemon and is stopped by ``close()``, which
cancels what is left, shuts down async generators and closes the loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["LoopThread"]

T = TypeVar("T")


class LoopThread:
    """One event loop running in one daemon thread."""

    def __init__(self, name: str = "vivace-testclient") -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        loop = self.loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
        finally:
            tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in tasks:
                task.cancel()
            if tasks:
                loop.run_until_complete(asyncio.wait(tasks, timeout=5.0))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the loop and wait for its result here."""
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("a sync TestClient cannot be used from its own app's loop")
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result()
        except BaseException:
            future.cancel()
            raise

    def close(self, timeout: float = 10.0) -> None:
        """Stop the loop and join the thread (cancelling what still runs)."""
        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            if threading.current_thread() is not self._thread:
                # (Collected on its own loop thread: the loop stops after this callback.)
                self._thread.join(timeout)
