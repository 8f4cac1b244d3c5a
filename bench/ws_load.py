"""The WebSocket load generator of bench/ws.py: many connections, one process, one loop.

Raw asyncio protocols over ``vivace.http.WebSocketCore`` (sans-IO), so the client costs
little per message and the server is what is measured. Prints one JSON line.

    python bench/ws_load.py echo HOST PORT CLIENTS SECONDS
    python bench/ws_load.py broadcast HOST PORT CLIENTS SECONDS

echo: every connection sends a 32-byte text message and waits for it to come back, in
a loop; the result is round trips per second, all connections together.
broadcast: CLIENTS connections subscribe; one more publishes 32-byte messages, keeping at
most WINDOW not yet received by every subscriber; the result is messages delivered per
second (one publish to 256 subscribers counts 256).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sys
import time
from typing import Any

from vivace.http import WebSocketCore

PAYLOAD = "x" * 32
WINDOW = 64


class Conn(asyncio.Protocol):
    def __init__(self, host: str, port: int, path: str) -> None:
        self.head = (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
            f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\n\r\n"
        ).encode()
        self.buffer = b""
        self.core: WebSocketCore | None = None
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.on_message: Any = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        transport.write(self.head)

    def data_received(self, data: bytes) -> None:
        core = self.core
        if core is None:
            self.buffer += data
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            if not self.buffer.startswith(b"HTTP/1.1 101"):
                self.ready.set_exception(RuntimeError(self.buffer[:200].decode()))
                return
            rest = self.buffer[end + 4 :]
            core = self.core = WebSocketCore(client=True, max_message_size=None)
            self.ready.set_result(None)
            if not rest:
                return
            data = rest
        on_message = self.on_message
        for event in core.receive_data(data):
            if type(event) is str:
                on_message(event)
        out = core.data_to_send()
        if out:
            self.transport.write(b"".join(out))  # type: ignore[union-attr]

    def send(self, text: str) -> None:
        self.transport.write(self.core.send_text(text))  # type: ignore[union-attr]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.ready.done():
            self.ready.set_exception(ConnectionError("lost"))


async def connect(host: str, port: int, path: str) -> Conn:
    loop = asyncio.get_running_loop()
    _, conn = await loop.create_connection(lambda: Conn(host, port, path), host, port)
    await asyncio.wait_for(conn.ready, 10)
    return conn


async def echo(host: str, port: int, clients: int, seconds: float) -> dict[str, Any]:
    conns = [await connect(host, port, "/echo") for _ in range(clients)]
    counts = [0] * clients
    running = True

    def make(i: int, conn: Conn) -> Any:
        def on_message(_: str) -> None:
            counts[i] += 1
            if running:
                conn.send(PAYLOAD)

        return on_message

    for i, conn in enumerate(conns):
        conn.on_message = make(i, conn)
    # Warm up, then count.
    for conn in conns:
        conn.send(PAYLOAD)
    await asyncio.sleep(min(1.0, seconds / 3))
    before = sum(counts)
    started = time.perf_counter()
    await asyncio.sleep(seconds)
    done = sum(counts) - before
    elapsed = time.perf_counter() - started
    running = False
    await asyncio.sleep(0.1)
    for conn in conns:
        conn.transport.close()  # type: ignore[union-attr]
    return {"rate": done / elapsed, "per_client_min": min(counts)}


async def fan_out(host: str, port: int, clients: int, seconds: float) -> dict[str, Any]:
    subs = [await connect(host, port, "/broadcast") for _ in range(clients)]
    publisher = await connect(host, port, "/broadcast")
    received = [0] * clients
    sent = 0
    wake = asyncio.Event()

    def make(i: int) -> Any:
        def on_message(_: str) -> None:
            received[i] += 1
            if sent - received[i] <= WINDOW // 2:
                wake.set()

        return on_message

    for i, conn in enumerate(subs):
        conn.on_message = make(i)
    publisher.on_message = lambda _: None
    await asyncio.sleep(0.2)  # every subscription registered

    async def publish_for(duration: float) -> int:
        nonlocal sent
        deadline = time.perf_counter() + duration
        start = sent
        while time.perf_counter() < deadline:
            while sent - min(received) < WINDOW:
                publisher.send(PAYLOAD)
                sent += 1
            wake.clear()
            try:
                await asyncio.wait_for(wake.wait(), 0.05)
            except TimeoutError:
                pass
        return sent - start

    await publish_for(min(1.0, seconds / 3))
    before = sum(received)
    started = time.perf_counter()
    await publish_for(seconds)
    delivered = sum(received) - before
    elapsed = time.perf_counter() - started
    for conn in [*subs, publisher]:
        conn.transport.close()  # type: ignore[union-attr]
    return {"rate": delivered / elapsed}


def main() -> None:
    kind, host, port, clients, seconds = sys.argv[1:6]
    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:  # pragma: no cover
        runner = asyncio.run
    work = echo if kind == "echo" else fan_out
    result = runner(work(host, int(port), int(clients), float(seconds)))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
