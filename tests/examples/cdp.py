"""Headless Chromium driven over the DevTools protocol, with vivace's own WebSocket client.

No npm, no driver: Chromium is started with ``--remote-debugging-port=0``, prints the
browser's DevTools WebSocket URL on stderr, and every command is a JSON message on that
one socket (flattened sessions: ``sessionId`` picks the page).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import orjson

from vivace.client import Client, WebSocketDisconnect, WebSocketSession

# The network is closed on the test machines: without these Chromium waits on
# connections to its services.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--remote-debugging-port=0",
]


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


class DevTools:
    """One browser-level DevTools connection."""

    def __init__(self, socket: WebSocketSession) -> None:
        self.socket = socket
        self.ids = itertools.count(1)
        self.pending: dict[int, asyncio.Future[Any]] = {}
        #: Event name -> callbacks taking the event's params and its session id (None for
        #: the browser's own events). Called from the reader: a callback that needs to
        #: answer the browser schedules a task (``call`` waits on the reader).
        self.listeners: dict[str, list[Callable[[dict[str, Any], str | None], None]]] = {}
        self.reader = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        try:
            async for message in self.socket:
                data = orjson.loads(message)
                if "id" not in data:
                    for listener in self.listeners.get(data.get("method", ""), ()):
                        listener(data.get("params", {}), data.get("sessionId"))
                    continue
                future = self.pending.pop(data["id"], None)
                if future is None or future.done():
                    continue
                if "error" in data:
                    future.set_exception(RuntimeError(f"DevTools error: {data['error']}"))
                else:
                    future.set_result(data.get("result", {}))
        except WebSocketDisconnect:
            pass
        for future in self.pending.values():
            if not future.done():
                future.set_exception(RuntimeError("the browser went away"))

    async def call(self, method: str, session: str | None = None, **params: Any) -> Any:
        ident = next(self.ids)
        future = asyncio.get_running_loop().create_future()
        self.pending[ident] = future
        message: dict[str, Any] = {"id": ident, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        await self.socket.send_text(orjson.dumps(message).decode())
        return await asyncio.wait_for(future, 20)

    def on(self, event: str, listener: Callable[[dict[str, Any], str | None], None]) -> None:
        """Call ``listener(params, session_id)`` for each ``event`` from now on."""
        self.listeners.setdefault(event, []).append(listener)

    async def open(self, url: str = "about:blank") -> Page:
        target = await self.call("Target.createTarget", url=url)
        attached = await self.call(
            "Target.attachToTarget", targetId=target["targetId"], flatten=True
        )
        return Page(self, attached["sessionId"])


class Page:
    def __init__(self, devtools: DevTools, session: str) -> None:
        self.devtools = devtools
        self.session = session

    async def navigate(self, url: str) -> None:
        await self.devtools.call("Page.navigate", self.session, url=url)

    async def evaluate(self, expression: str) -> Any:
        result = await self.devtools.call(
            "Runtime.evaluate",
            self.session,
            expression=expression,
            returnByValue=True,
            awaitPromise=True,
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"page script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def wait_for(self, expression: str, timeout: float = 15.0) -> None:
        """Poll ``expression`` until it is true (every wait has a deadline)."""
        deadline = asyncio.get_running_loop().time() + timeout
        # (The page may still be loading: an error counts as "not yet".)
        guarded = (
            f"(() => {{ try {{ return !!({expression}); }} catch (e) {{ return false; }} }})()"
        )
        while not await self.evaluate(guarded):
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"still false after {timeout} s: {expression}")
            await asyncio.sleep(0.05)

    async def screenshot(self, path: Path) -> None:
        import base64

        shot = await self.devtools.call("Page.captureScreenshot", self.session, format="png")
        path.write_bytes(base64.b64decode(shot["data"]))


@contextlib.asynccontextmanager
async def browser(profile: Path, flags: list[str] | None = None) -> AsyncIterator[DevTools]:
    """Start headless Chromium with a fresh profile (and extra ``flags``); yield its
    DevTools connection."""
    executable = chromium_path()
    assert executable is not None
    proc = await asyncio.create_subprocess_exec(
        executable,
        *FLAGS,
        *(flags or []),
        f"--user-data-dir={profile}",
        "about:blank",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stderr is not None
        url = None
        async with asyncio.timeout(30):
            while url is None:
                line = (await proc.stderr.readline()).decode(errors="replace")
                if not line:
                    raise RuntimeError("chromium exited before printing its DevTools URL")
                if "DevTools listening on " in line:
                    url = line.split("DevTools listening on ", 1)[1].strip()
        drain = asyncio.get_running_loop().create_task(_drain(proc.stderr))
        async with (
            Client(timeout=20) as client,
            client.websocket_connect(url, max_message_size=None, ping_interval=None) as socket,
        ):
            devtools = DevTools(socket)
            try:
                yield devtools
            finally:
                devtools.reader.cancel()
        drain.cancel()
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except TimeoutError:
                proc.kill()
                await proc.wait()


async def _drain(stream: asyncio.StreamReader) -> None:
    # Chromium logs to stderr; read it so the pipe never fills and blocks the browser.
    while await stream.read(65536):
        pass
