"""A tiny, fast HTTP/1.1 server for the client benchmarks: uvloop + httptools, one fixed
response (a 1 KiB body) to every request, keep-alive. It exists so that the clients, not
the server, are the bottleneck; it does no routing and no per-request allocation beyond
parsing.

    python bench/server.py PORT_FILE        # listens on 127.0.0.1:0, writes the port
"""

from __future__ import annotations

import asyncio
import sys

import uvloop
from apps.bare_loop import BareProtocol

BODY = b"x" * 1024
RESPONSE = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\n"
    b"content-length: %d\r\n\r\n" % len(BODY)
) + BODY


class FixedResponse(BareProtocol):
    """The bare loop of bench/apps/bare_loop.py, answering every request with RESPONSE."""

    def on_message_complete(self) -> None:
        assert self.transport is not None
        self.transport.write(RESPONSE)


async def main(port_file: str) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(FixedResponse, "127.0.0.1", 0, backlog=1024)
    port = server.sockets[0].getsockname()[1]
    with open(port_file, "w") as f:
        f.write(str(port))
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    uvloop.run(main(sys.argv[1]))
