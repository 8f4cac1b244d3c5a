"""The server's WebSockets over real sockets: bad input answered with the right close code,
clients that vanish, graceful shutdown with 1001, and nothing left behind."""

from __future__ import annotations

import asyncio
import base64
import gc
import os
import socket
import struct
import threading
import time
from typing import Any

import pytest

from vivace.client import Client, WebSocketDisconnect
from vivace.server._websocket import WebSocketProtocol
from vivace.types import Receive, Scope, Send

from .conftest import DEADLINE, raw_request, serve


class EchoApp:
    """Echoes messages; records every disconnect code."""

    def __init__(self) -> None:
        self.codes: list[int] = []
        self.lock = threading.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            if scope["type"] == "http":
                await send({"type": "http.response.start", "status": 200, "headers": []})
                await send({"type": "http.response.body", "body": b"ok"})
            return
        await receive()
        await send({"type": "websocket.accept"})
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                with self.lock:
                    self.codes.append(message["code"])
                return
            reply = {k: v for k, v in message.items() if k != "type"}
            await send({"type": "websocket.send", **reply})


def handshake(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE)
    key = base64.b64encode(os.urandom(16))
    sock.sendall(
        b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
        b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + key + b"\r\n\r\n"
    )
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        assert chunk, head
        head += chunk
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def client_frame(opcode: int, payload: bytes, *, mask: bool = True, fin: bool = True) -> bytes:
    first = (0x80 if fin else 0) | opcode
    size = len(payload)
    if size < 126:
        head = bytes([first, (0x80 if mask else 0) | size])
    else:
        head = bytes([first, (0x80 if mask else 0) | 126]) + struct.pack("!H", size)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def read_until_close(sock: socket.socket) -> bytes:
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except (TimeoutError, ConnectionResetError):
            break
        if not chunk:
            break
        data += chunk
    return data


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (client_frame(1, b"plain", mask=False), 1002),
        (client_frame(1, b"\xc3\x28"), 1007),
        (client_frame(2, b"x" * 2000), 1009),
        (client_frame(1, b"a", fin=False) + client_frame(1, b"b"), 1002),
    ],
)
def test_bad_input_gets_the_close_code(data: bytes, code: int) -> None:
    app = EchoApp()
    with serve(app, ws_max_size=1000) as server:
        with handshake(server.port) as sock:
            sock.sendall(data)
            reply = read_until_close(sock)  # a close frame, then the server hangs up
        assert reply[0] == 0x88
        assert struct.unpack("!H", reply[2:4])[0] == code
        deadline = time.monotonic() + DEADLINE
        while not app.codes and time.monotonic() < deadline:
            time.sleep(0.01)
        assert app.codes == [code]


def test_vanishing_clients_leave_nothing_behind() -> None:
    app = EchoApp()
    with serve(app) as server:
        state = server.server.state
        assert state is not None
        for i in range(40):
            sock = handshake(server.port)
            if i % 2:
                sock.sendall(client_frame(1, b"half a message", fin=False))
            else:
                sock.sendall(client_frame(1, b"a whole one")[:5])  # cut mid-frame
            sock.close()  # no close frame: the client just goes
        deadline = time.monotonic() + DEADLINE
        while (len(app.codes) < 40 or state.websockets) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert app.codes == [1006] * 40
        assert not state.websockets
        loop = state.loop

        async def pending() -> int:
            current = asyncio.current_task()
            return len([t for t in asyncio.all_tasks() if t is not current and not t.done()])

        running = asyncio.run_coroutine_threadsafe(pending(), loop).result(DEADLINE)
        gc.collect()
        # (type(), not isinstance(): lazy objects of other tests would set themselves up)
        alive = [o for o in gc.get_objects() if type(o) is WebSocketProtocol]
        assert alive == []
        # Only the server's own tasks remain (the main loop, nothing per connection).
        assert running <= 2


async def test_graceful_shutdown_sends_1001() -> None:
    app = EchoApp()
    server = None
    with serve(app, timeout_graceful_shutdown=5) as running:
        server = running
        url = f"ws://127.0.0.1:{running.port}/ws"
        async with Client() as client, client.websocket_connect(url) as ws:
            await ws.send_text("still here")
            assert await ws.receive_text() == "still here"
            stopping = asyncio.get_running_loop().run_in_executor(None, running.server.exit)
            with pytest.raises(WebSocketDisconnect) as info:
                await ws.receive(timeout=DEADLINE)
            await stopping
            assert (info.value.code, info.value.reason) == (1001, "server shutting down")
    assert server is not None
    assert app.codes == [1001]


async def test_shutdown_gives_up_on_apps_that_never_leave() -> None:
    async def stubborn(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            return
        await receive()
        await send({"type": "websocket.accept"})
        await asyncio.sleep(3600)  # ignores the disconnect

    with serve(stubborn, timeout_graceful_shutdown=0.3) as running:
        url = f"ws://127.0.0.1:{running.port}/ws"
        async with Client() as client, client.websocket_connect(url, close_timeout=1) as ws:
            started = time.monotonic()
            await asyncio.get_running_loop().run_in_executor(None, running.stop)
            assert time.monotonic() - started < DEADLINE
            with pytest.raises(WebSocketDisconnect):
                await ws.receive(timeout=DEADLINE)


def test_many_messages_both_ways() -> None:
    app = EchoApp()

    async def run(port: int) -> list[Any]:
        async with Client() as client:
            url = f"ws://127.0.0.1:{port}/ws"
            async with client.websocket_connect(url) as ws:
                for i in range(500):
                    await ws.send_text(str(i))
                return [await ws.receive_text() for _ in range(500)]

    with serve(app) as server:
        assert asyncio.run(run(server.port)) == [str(i) for i in range(500)]


async def test_wss(tmp_path: Any) -> None:
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert_file, key_file, ca_file = (tmp_path / n for n in ("cert.pem", "key.pem", "ca.pem"))
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    ca.cert_pem.write_to_path(str(ca_file))
    app = EchoApp()
    with serve(app, ssl_certfile=str(cert_file), ssl_keyfile=str(key_file)) as server:
        url = f"wss://127.0.0.1:{server.port}/ws"
        async with Client(verify=str(ca_file)) as client, client.websocket_connect(url) as ws:
            await ws.send_text("over TLS")
            assert await ws.receive_text() == "over TLS"


def test_an_app_sending_in_a_loop_meets_backpressure() -> None:
    """An app that sends without waiting for anything else (a file sent in chunks, a
    backlog replayed) to a client that does not read: its sends must start waiting once
    the socket is full, as they do when the app waits between them. Before, every send
    returned at once and the frames queued until the event loop's next iteration, which
    never came while the app looped: memory grew with everything the app sent and every
    other connection of the server stalled until the app was done."""
    total = 1500  # 64 KiB each, ~94 MiB: far beyond the socket's buffers
    sent: list[int] = [0]
    outcome: list[BaseException | None] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"still serving"})
            return
        if scope["type"] != "websocket":
            return
        await receive()
        await send({"type": "websocket.accept"})
        chunk = os.urandom(65536)
        try:
            for _ in range(total):
                await send({"type": "websocket.send", "bytes": chunk})
                sent[0] += 1
        except OSError as exc:  # ClientDisconnected once the client is gone
            outcome.append(exc)
        else:
            outcome.append(None)

    with serve(app, lifespan="off") as server:
        sock = handshake(server.port)  # never reads
        deadline = time.monotonic() + DEADLINE
        while sent[0] == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        # Another request is answered while the WebSocket app is blocked on its client.
        request = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        assert raw_request(server.port, request).endswith(b"still serving")
        stalled_at = sent[0]
        time.sleep(0.2)
        assert sent[0] == stalled_at < total, "the app's sends never waited"
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()  # RST: the waiting send raises ClientDisconnected
        while not outcome and time.monotonic() < deadline:
            time.sleep(0.01)
        assert outcome and isinstance(outcome[0], OSError)


def test_a_send_after_the_client_hung_up_raises_client_disconnected() -> None:
    """The client ends the TCP connection without a close frame (1006) and the app still
    sends: ``ClientDisconnected`` (an OSError, ASGI 2.4), whether or not the connection is
    fully gone yet. Before, between the end of the stream and connection_lost, a send
    raised the WebSocket core's RuntimeError and a keep-alive ping raised it in a loop
    callback."""
    errors: list[BaseException] = []
    done = threading.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            return
        await receive()
        await send({"type": "websocket.accept"})
        try:
            message = await receive()
            assert (message["type"], message["code"]) == ("websocket.disconnect", 1006)
            await send({"type": "websocket.send", "text": "too late"})
        except BaseException as exc:
            errors.append(exc)
            raise
        finally:
            done.set()

    with serve(app, lifespan="off") as server:
        sock = handshake(server.port)
        sock.shutdown(socket.SHUT_WR)  # EOF, no close frame
        assert done.wait(DEADLINE)
        sock.close()
    assert len(errors) == 1 and isinstance(errors[0], OSError), errors


def test_a_client_that_half_closes_and_stops_reading_is_dropped() -> None:
    """The client ends its stream (FIN, no close frame) and never reads again while the
    server has frames buffered for it: the connection is dropped after
    ``ws_close_timeout`` and the app's waiting send raises ClientDisconnected. Before,
    closing the transport waited for its buffer to drain, that is for ever: the
    connection, the app and its task stayed."""
    outcome: list[BaseException | None] = []
    sending = threading.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            return
        await receive()
        await send({"type": "websocket.accept"})
        chunk = os.urandom(1 << 18)
        try:
            for _ in range(1000):  # 256 MiB: the sockets fill long before
                await send({"type": "websocket.send", "bytes": chunk})
                sending.set()
        except OSError as exc:
            outcome.append(exc)
        else:
            outcome.append(None)

    with serve(app, lifespan="off", ws_close_timeout=0.2) as server:
        state = server.server.state
        assert state is not None
        sock = handshake(server.port)
        assert sending.wait(DEADLINE)
        time.sleep(0.2)  # the app is now waiting for the socket to drain
        sock.shutdown(socket.SHUT_WR)
        deadline = time.monotonic() + DEADLINE
        while (not outcome or state.websockets) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert outcome and isinstance(outcome[0], OSError), outcome
        assert not state.websockets
        sock.close()
