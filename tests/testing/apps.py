"""Small raw ASGI apps the test-client tests drive."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from vivace.types import Message, Receive, Scope, Send


async def read_body(receive: Receive) -> bytes:
    body = b""
    while True:
        message = await receive()
        assert message["type"] == "http.request"
        body += message.get("body", b"")
        if not message.get("more_body", False):
            return body


async def send_response(
    send: Send,
    status: int,
    body: bytes,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers or []})
    await send({"type": "http.response.body", "body": body})


def scope_json(scope: Scope) -> dict[str, Any]:
    return {
        "type": scope["type"],
        "http_version": scope["http_version"],
        "method": scope["method"],
        "scheme": scope["scheme"],
        "path": scope["path"],
        "raw_path": scope["raw_path"].decode(),
        "query_string": scope["query_string"].decode(),
        "root_path": scope["root_path"],
        "headers": [[n.decode(), v.decode()] for n, v in scope["headers"]],
        "client": list(scope["client"]) if scope["client"] else None,
        "server": list(scope["server"]),
        "extensions": sorted(scope.get("extensions", {})),
        "state": scope.get("state"),
    }


async def echo_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Answers with the scope and the body it received, as JSON."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                scope["state"]["started"] = True
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = await read_body(receive)
    payload = {"scope": scope_json(scope), "body": body.decode("latin-1")}
    await send_response(
        send,
        200,
        json.dumps(payload).encode(),
        [(b"content-type", b"application/json")],
    )


class Recorder:
    """An app that streams numbered lines and records the messages it received."""

    def __init__(self, lines: int = 1000, delay: float = 0.0) -> None:
        self.lines = lines
        self.delay = delay
        self.received: list[Message] = []
        self.finished = asyncio.Event()
        self.send_error: BaseException | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            return
        await read_body(receive)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream")],
            }
        )
        disconnected = asyncio.get_running_loop().create_task(receive())
        try:
            for i in range(self.lines):
                await send(
                    {
                        "type": "http.response.body",
                        "body": f"data: {i}\n\n".encode(),
                        "more_body": True,
                    }
                )
                if self.delay:
                    await asyncio.sleep(self.delay)
            await send({"type": "http.response.body", "body": b""})
        except OSError as exc:
            self.send_error = exc
        finally:
            self.received.append(await disconnected)
            self.finished.set()
