"""The raw ASGI app every server in bench/server.py serves (TechEmpower plaintext and JSON).

No framework: the benchmark measures the server. ``/plaintext`` answers the 13-byte
"Hello, World!" as text/plain; ``/json`` serializes {"message": "Hello, World!"} per
request with orjson. Lifespan is accepted and ignored, identically for every server.
"""

from __future__ import annotations

from typing import Any

import orjson

PLAIN_START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [(b"content-type", b"text/plain")],
}
PLAIN_BODY = {"type": "http.response.body", "body": b"Hello, World!"}
JSON_HEADERS = [(b"content-type", b"application/json")]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        return
    if scope["path"] == "/json":
        body = orjson.dumps({"message": "Hello, World!"})
        await send({"type": "http.response.start", "status": 200, "headers": JSON_HEADERS})
        await send({"type": "http.response.body", "body": body})
    else:
        await send(PLAIN_START)
        await send(PLAIN_BODY)
