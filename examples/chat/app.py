"""A chat over WebSockets, with a broadcast behind it so it scales past one process.

    vivace run examples.chat.app:app                      # one process, memory broadcast
    CHAT_BROADCAST_URL=redis://127.0.0.1:6379 vivace run examples.chat.app:app --workers 4

Open http://127.0.0.1:8000/?room=lobby in two browsers. Each WebSocket subscribes to its
room's channel; what a client sends is checked (JSON ``{"user", "text"}``, bounded sizes)
and published to the channel, so every subscriber of the room gets it, whichever worker
process (or host, with Redis) holds its connection.

Settings (environment): ``CHAT_BROADCAST_URL`` (``memory://`` by default, or
``redis://...``) and ``CHAT_BROADCAST_PREFIX`` (the Redis channel prefix).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson

from vivace.web import (
    App,
    Broadcast,
    BroadcastError,
    HTMLResponse,
    Route,
    WebSocket,
    WebSocketDisconnect,
    WebSocketException,
    WebSocketRoute,
)

PAGE = (Path(__file__).parent / "index.html").read_text(encoding="utf-8")
MAX_NAME = 32
MAX_TEXT = 1000
MAX_ROOM = 64

broadcast = Broadcast(
    os.environ.get("CHAT_BROADCAST_URL", "memory://"),
    prefix=os.environ.get("CHAT_BROADCAST_PREFIX", "vivace-chat:"),
)


@asynccontextmanager
async def lifespan(app: App) -> AsyncIterator[None]:
    async with broadcast:
        yield


async def page(request: Any) -> HTMLResponse:
    return HTMLResponse(PAGE)


def checked(data: Any) -> dict[str, str]:
    """A client's message, or WebSocketException (1008) if it is not one we accept."""
    if not isinstance(data, dict):
        raise WebSocketException(1008, 'send {"user": ..., "text": ...}')
    user, text = data.get("user"), data.get("text")
    if not isinstance(user, str) or not isinstance(text, str):
        raise WebSocketException(1008, "user and text must be strings")
    user, text = user.strip(), text.strip()
    if not user or not text or len(user) > MAX_NAME or len(text) > MAX_TEXT:
        raise WebSocketException(1008, "empty or too long")
    return {"type": "message", "user": user, "text": text}


async def forward(websocket: WebSocket, subscriber: Any) -> None:
    """Room messages to this client, until the subscription or the socket ends."""
    try:
        async for event in subscriber:
            await websocket.send_text(event.message)
    except BroadcastError:
        # This client fell too far behind (or the broadcast was shut down): let it
        # reconnect. A lost Redis connection is not an error here: the broadcast
        # reconnects and the messages resume.
        await websocket.close(1013, "try again later")


async def chat(websocket: WebSocket) -> None:
    room = websocket.path_params["room"]
    if len(room) > MAX_ROOM:
        raise WebSocketException(1008, "room name too long")
    channel = f"room:{room}"
    # Subscribe first: once the page shows "connected", what anyone publishes to the room
    # reaches it (accepting first left a window, while the subscription was still being
    # set up, in which another worker's messages were lost).
    async with broadcast.subscribe(channel) as subscriber:
        await websocket.accept()
        sender = asyncio.get_running_loop().create_task(forward(websocket, subscriber))
        try:
            await websocket.send_json({"type": "system", "text": f"welcome to {room}"})
            while True:
                message = checked(await websocket.receive_json())
                try:
                    await broadcast.publish(channel, orjson.dumps(message).decode())
                except BroadcastError:
                    # Redis is unreachable for now (the broadcast is reconnecting): say so
                    # rather than drop the message silently or the connection.
                    await websocket.send_json(
                        {"type": "system", "text": "not sent: the chat is reconnecting"}
                    )
        except WebSocketDisconnect:
            pass
        finally:
            sender.cancel()
            await asyncio.wait({sender})


app = App(
    routes=[Route("/", page), WebSocketRoute("/ws/{room}", chat)],
    lifespan=lifespan,
)
