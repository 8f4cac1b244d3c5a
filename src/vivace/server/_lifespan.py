"""The ASGI lifespan protocol: startup and shutdown events, failures, shared state.

With ``lifespan="auto"`` an app that raises before it receives ``lifespan.startup`` is
taken not to support lifespan (many plain ASGI apps only handle ``http``), and the server
runs without it. An app that reports ``lifespan.startup.failed``, or raises once it has
the event, stops the server: ``startup()`` raises ``LifespanFailure`` with a one-line
message, from the app's exception when it raised one (vivace.web and Starlette report the
failure with the traceback as its message, then raise). Nothing is logged for a startup
failure here: whoever started the server tells the user once (``vivace run`` prints the
traceback and one line; issue 19 found it printed twice). The ``state`` dict the app
fills at startup is shallow-copied into each request scope (ASGI lifespan spec,
"Lifespan State").
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from vivace.server._errors import LifespanFailure
from vivace.types import ASGIApp, Message

__all__ = ["Lifespan"]

logger = logging.getLogger("vivace.server")


class Lifespan:
    """Runs one app's lifespan: ``await startup()`` ... ``await shutdown()``."""

    def __init__(self, app: ASGIApp, mode: str = "auto") -> None:
        self.app = app
        self.mode = mode
        self.state: dict[str, Any] = {}
        self.supported = mode != "off"
        self._queue: asyncio.Queue[Message] = asyncio.Queue()
        self._startup_done = asyncio.Event()
        self._shutdown_done = asyncio.Event()
        self._received_startup = False
        self._error: str | None = None
        self._exception: BaseException | None = None
        self._phase = "startup"
        self._task: asyncio.Task[None] | None = None

    async def startup(self) -> None:
        """Send ``lifespan.startup`` and wait for the answer; raise ``LifespanFailure``."""
        if not self.supported:
            return
        await self._queue.put({"type": "lifespan.startup"})
        self._task = asyncio.get_running_loop().create_task(self._main())
        await self._startup_done.wait()
        if self._error is not None:
            raise LifespanFailure(self._error, phase="startup") from self._exception

    async def shutdown(self) -> None:
        """Send ``lifespan.shutdown`` and wait for the answer; raise ``LifespanFailure``."""
        if not self.supported or self._task is None:
            return
        self._phase = "shutdown"
        await self._queue.put({"type": "lifespan.shutdown"})
        await self._shutdown_done.wait()
        if self._error is not None:
            raise LifespanFailure(self._error, phase="shutdown")

    async def _main(self) -> None:
        scope = {
            "type": "lifespan",
            "asgi": {"version": "3.0", "spec_version": "2.0"},
            "state": self.state,
        }
        try:
            await self.app(scope, self._receive, self._send)
        except BaseException as exc:
            if self.mode == "auto" and not self._received_startup:
                logger.info("ASGI lifespan is not supported by the app; running without it")
                self.supported = False
            elif self._phase == "startup" and (
                not self._startup_done.is_set() or self._error is not None
            ):
                # Raised during startup, or after reporting startup.failed: the failure
                # is this exception (its one line here, its traceback as the cause).
                self._error = f"{type(exc).__name__}: {exc}"
                self._exception = exc
            elif self._phase == "shutdown":
                self._error = f"{type(exc).__name__}: {exc}"
                logger.error("Exception in ASGI lifespan shutdown", exc_info=exc)
            else:
                logger.error("Exception in ASGI lifespan", exc_info=exc)
            if not isinstance(exc, Exception) and not isinstance(exc, asyncio.CancelledError):
                raise
        else:
            if not self._startup_done.is_set() and self.mode == "on" and self._error is None:
                self._error = "the app returned before completing lifespan startup"
            elif self._phase == "shutdown" and not self._shutdown_done.is_set():
                self._error = "the app returned before completing lifespan shutdown"
        finally:
            self._startup_done.set()
            self._shutdown_done.set()

    async def _receive(self) -> Message:
        message = await self._queue.get()
        if message["type"] == "lifespan.startup":
            self._received_startup = True
        return message

    async def _send(self, message: Message) -> None:
        mtype = message["type"]
        if mtype == "lifespan.startup.complete" and self._phase == "startup":
            self._startup_done.set()
        elif mtype == "lifespan.startup.failed" and self._phase == "startup":
            self._error = str(message.get("message", "")) or "lifespan startup failed"
            self._startup_done.set()
        elif mtype == "lifespan.shutdown.complete" and self._phase == "shutdown":
            self._shutdown_done.set()
        elif mtype == "lifespan.shutdown.failed" and self._phase == "shutdown":
            self._error = str(message.get("message", "")) or "lifespan shutdown failed"
            self._shutdown_done.set()
        else:
            raise RuntimeError(f"unexpected ASGI lifespan message {mtype!r} during {self._phase}")
