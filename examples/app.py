"""A small raw ASGI app: ``vivace run examples.app:app``.

GET /      -> "Hello, World!" (text/plain)
GET /json  -> {"message": "Hello, World!"}
anything else -> 404
"""

from __future__ import annotations

from typing import Any

import orjson

from vivace.types import Receive, Scope, Send

HELLO = b"Hello, World!"
TEXT = [(b"content-type", b"text/plain; charset=utf-8")]
JSON = [(b"content-type", b"application/json")]


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    path = scope["path"]
    status = 200
    headers: Any = TEXT
    if path == "/":
        body = HELLO
    elif path == "/json":
        body = orjson.dumps({"message": "Hello, World!"})
        headers = JSON
    else:
        status, body = 404, b"Not Found"
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
