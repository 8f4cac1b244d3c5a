"""The ceiling for bench/server_asgi.py: a bare uvloop + httptools loop without ASGI.

The issue that set the server's targets quotes such a loop as the reference for what this
machine can do. It answers ``/json`` with {"message": "Hello, World!"} serialized per
request (as bench/apps/techempower.py does) and anything else with the 13-byte
"Hello, World!", keep-alive, and nothing more: no scope, no messages, no Date or Server
field, no limits, no error handling. It is not a server anyone should run; it measures
what the kernel, the loop and the parser cost before any server work is done::

    python bench/apps/bare_loop.py PORT
"""

from __future__ import annotations

import asyncio
import sys

import httptools
import orjson
import uvloop

PLAIN = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 13\r\n\r\nHello, World!"
JSON_HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n"


class BareProtocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.url = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            assert self.transport is not None
            self.transport.close()

    def on_url(self, url: bytes) -> None:
        self.url = url

    def on_message_complete(self) -> None:
        assert self.transport is not None
        if self.url == b"/json":
            body = orjson.dumps({"message": "Hello, World!"})
            self.transport.write(JSON_HEAD % len(body) + body)
        else:
            self.transport.write(PLAIN)


async def main(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(BareProtocol, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    uvloop.run(main(int(sys.argv[1])))
