"""No task or memory is left behind by WebSocket sessions, however they end."""

from __future__ import annotations

import asyncio
import gc
import weakref

import pytest

from vivace.client import Client, WebSocketDisconnect
from vivace.testing import AsyncTestClient
from vivace.web import App, WebSocket, WebSocketRoute

from .servers import websocket_server


async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    async for message in websocket.iter_text():
        if message == "bye":
            await websocket.close(1000)
            return
        await websocket.send_text(message)


APP = App(routes=[WebSocketRoute("/", echo)])


def _settled_tasks() -> set[asyncio.Task[object]]:
    current = asyncio.current_task()
    return {t for t in asyncio.all_tasks() if t is not current and not t.done()}


async def _wait_for_tasks(baseline: set[asyncio.Task[object]]) -> set[asyncio.Task[object]]:
    for _ in range(200):
        extra = _settled_tasks() - baseline
        if not extra:
            # Done-callbacks and async generator finalizers run on the next iterations.
            for _ in range(5):
                await asyncio.sleep(0)
            return extra
        await asyncio.sleep(0.01)
    return _settled_tasks() - baseline


@pytest.mark.parametrize("server", ["vivace", "uvicorn"])
async def test_network_sessions_leave_nothing_behind(server: str) -> None:
    async with websocket_server(server, APP) as base, Client() as client:
        url = base.replace("http", "ws") + "/"
        baseline = _settled_tasks()
        refs = []
        for i in range(30):
            async with client.websocket_connect(url) as ws:
                refs.append(weakref.ref(ws))
                await ws.send_text("x" * 100)
                assert await ws.receive_text() == "x" * 100
                if i % 3 == 1:  # the server closes first
                    await ws.send_text("bye")
                    with pytest.raises(WebSocketDisconnect):
                        await ws.receive()
                elif i % 3 == 2:  # the client vanishes without a close frame
                    assert ws.transport is not None  # type: ignore[attr-defined]
                    ws.transport.abort()  # type: ignore[attr-defined]
            del ws
        assert not await _wait_for_tasks(baseline)
        gc.collect()
        alive = [i for i, r in enumerate(refs) if r() is not None]
        assert alive == []


async def test_in_process_sessions_leave_nothing_behind() -> None:
    async with AsyncTestClient(APP) as client:
        baseline = _settled_tasks()
        refs = []
        for i in range(50):
            async with client.websocket_connect("/") as ws:
                refs.append(weakref.ref(ws))
                await ws.send_text("hi")
                assert await ws.receive_text() == "hi"
                if i % 2:
                    await ws.send_text("bye")
                    with pytest.raises(WebSocketDisconnect):
                        await ws.receive()
            del ws
        assert not await _wait_for_tasks(baseline)
        gc.collect()
        alive = [i for i, r in enumerate(refs) if r() is not None]
        if alive:
            obj = refs[alive[0]]()
            for ref in gc.get_referrers(obj):
                print(type(ref), str(ref)[:200])
                for ref2 in gc.get_referrers(ref):
                    print("   ", type(ref2), str(ref2)[:300])
                    for ref3 in gc.get_referrers(ref2):
                        print("       ", type(ref3), str(ref3)[:300])
        assert alive == []
