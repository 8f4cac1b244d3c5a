"""Servers the network tests talk to: a raw socket server that misbehaves on request,
uvicorn running an ASGI app, and Python's http.server. All listen on 127.0.0.1:0."""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import socket
import ssl
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import uvicorn

from vivace.types import ASGIApp

from ..waiting import until

RawHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def read_head(reader: asyncio.StreamReader) -> bytes:
    """The request head (up to the blank line), or b"" at EOF."""
    try:
        return await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    except asyncio.IncompleteReadError:
        return b""


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """A whole request: head and body (Content-Length or chunked)."""
    head = await read_head(reader)
    if not head:
        return b"", b""
    lower = head.lower()
    body = b""
    if b"content-length:" in lower:
        length = int(lower.split(b"content-length:")[1].split(b"\r\n")[0])
        body = await asyncio.wait_for(reader.readexactly(length), 10)
    elif b"transfer-encoding: chunked" in lower:
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            data = await reader.readexactly(size + 2)
            if size == 0:
                break
            body += data[:-2]
    return head, body


@contextlib.asynccontextmanager
async def raw_server(
    handler: RawHandler, ssl_context: ssl.SSLContext | None = None
) -> AsyncIterator[str]:
    """A server whose every connection runs ``handler``; yields its base URL."""
    tasks: set[asyncio.Task[None]] = set()

    async def run(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        try:
            await handler(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            writer.close()
            tasks.discard(task)

    server = await asyncio.start_server(run, "127.0.0.1", 0, ssl=ssl_context)
    port = server.sockets[0].getsockname()[1]
    scheme = "https" if ssl_context else "http"
    try:
        yield f"{scheme}://127.0.0.1:{port}"
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5)
        await asyncio.wait_for(server.wait_closed(), 5)


@contextlib.asynccontextmanager
async def uvicorn_server(app: ASGIApp, **options: Any) -> AsyncIterator[str]:
    """uvicorn serving ``app`` on this loop; yields its base URL."""
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        log_level="error",
        lifespan="off",
        loop="none",
        http="httptools",
        timeout_graceful_shutdown=1,
        **options,
    )
    server = uvicorn.Server(config)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    task = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]))
    try:
        await until(lambda: server.started or task.done(), what="uvicorn started")
        if task.done():
            task.result()
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
        sock.close()


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        if self.path == "/close":
            # An HTTP/1.0-style body delimited by closing the connection.
            self.protocol_version = "HTTP/1.0"
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"until close")
            self.close_connection = True
            return
        body = f"{self.command} {self.path}".encode()
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.send_header("x-peer-port", str(self.client_address[1]))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", "0"))
        body = self.rfile.read(length)
        self.send_response(201)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@contextlib.contextmanager
def stdlib_server() -> Iterator[str]:
    """Python's ThreadingHTTPServer (HTTP/1.1 keep-alive) in a thread; yields its URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@contextlib.asynccontextmanager
async def vivace_server(app: ASGIApp, **options: Any) -> AsyncIterator[str]:
    """vivace.server serving ``app`` on this loop; yields its base URL."""
    from vivace.server import Config, Server

    options.setdefault("timeout_graceful_shutdown", 1.0)
    config = Config(
        app, host="127.0.0.1", port=0, access_log=False, lifespan="off", log_level="warning",
        **options,
    )  # fmt: skip
    server = Server(config)
    task = asyncio.get_running_loop().create_task(server.serve())
    try:
        await until(lambda: server.started.is_set() or task.done(), what="the server started")
        if task.done():
            task.result()
        yield f"http://127.0.0.1:{server.bound[0][1]}"
    finally:
        server.exit()
        await asyncio.wait_for(task, 10)


@contextlib.asynccontextmanager
async def websocket_server(kind: str, app: ASGIApp, **options: Any) -> AsyncIterator[str]:
    """``vivace`` or ``uvicorn`` (websockets-sansio) serving ``app``."""
    if kind == "vivace":
        async with vivace_server(app, **options) as base:
            yield base
    else:
        async with uvicorn_server(app, ws="websockets-sansio", **options) as base:
            yield base
