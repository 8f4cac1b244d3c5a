"""The app bench/ws.py serves on each server: vivace.web WebSocket endpoints.

/echo       sends back every message (text or binary)
/broadcast  subscribes to one in-memory Broadcast channel and forwards it; a message
            the client sends is published to the channel (so one publisher reaches
            every subscriber in the process)
/           a plain page (the readiness probe)
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from vivace.web import App, Broadcast, Route, WebSocket, WebSocketRoute

broadcast = Broadcast("memory://", max_queue=100_000)


@asynccontextmanager
async def lifespan(app: App) -> AsyncIterator[None]:
    async with broadcast:
        yield


async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    receive = websocket.receive
    send = websocket.send
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        text = message.get("text")
        if text is not None:
            await send({"type": "websocket.send", "text": text})
        else:
            await send({"type": "websocket.send", "bytes": message.get("bytes")})


async def fan_out(websocket: WebSocket) -> None:
    await websocket.accept()
    async with broadcast.subscribe("bench") as subscriber:

        async def forward() -> None:
            async for event in subscriber:
                await websocket.send_text(event.message)

        task = asyncio.get_running_loop().create_task(forward())
        try:
            async for text in websocket.iter_text():
                await broadcast.publish("bench", text)
        finally:
            task.cancel()


async def home(request: Any) -> str:
    return "ready"


app = App(
    routes=[
        Route("/", home),
        WebSocketRoute("/echo", echo),
        WebSocketRoute("/broadcast", fan_out),
    ],
    lifespan=lifespan,
)
