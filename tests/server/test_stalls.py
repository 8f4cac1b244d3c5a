"""A stalled event loop does not cost a keep-alive connection the request it sent meanwhile.

When the loop is held up (a long callback, an app that blocks, a starved process), the
server's sweep can run before the loop has read what arrived during the stall: an idle
connection whose keep-alive deadline passed during the stall looked idle although its next
request was waiting in the socket, and was closed under it (HTTP/2: GOAWAY, the request
never answered). The sweep now postpones every deadline by the time the loop was stalled.
"""

from __future__ import annotations

import socket
import struct
import time
from types import SimpleNamespace

import hpack

from tests.http.h2peer import END_HEADERS, END_STREAM, HEADERS, frame, settings
from tests.server.conftest import serve
from vivace.http._h2_frames import CONNECTION_PREFACE
from vivace.server._h2_protocol import H2Protocol
from vivace.server._server import sweep
from vivace.types import Receive, Scope, Send

STALL = 1.0  # seconds the /block request holds the server's loop
KEEP_ALIVE = 0.2


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    if scope["path"] == "/block":
        time.sleep(STALL)  # holds the loop, as a starved or overloaded process would
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def read_http11(sock: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"ok"):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def block_the_loop(port: int) -> socket.socket:
    """Start a request that holds the server's loop for STALL seconds; return its socket."""
    blocker = socket.create_connection(("127.0.0.1", port), timeout=10)
    blocker.sendall(b"GET /block HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(0.2)  # the server has read it and sits in time.sleep (this test's own stall)
    return blocker


def test_http11_request_sent_during_a_stall_is_answered() -> None:
    with (
        serve(app, timeout_keep_alive=KEEP_ALIVE) as server,
        socket.create_connection(("127.0.0.1", server.port), timeout=10) as idle,
    ):
        idle.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_http11(idle).startswith(b"HTTP/1.1 200")
        with block_the_loop(server.port) as blocker:
            idle.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert read_http11(blocker).startswith(b"HTTP/1.1 200")
        assert read_http11(idle).startswith(b"HTTP/1.1 200")


def h2_frames(sock: socket.socket, until_stream: int) -> list[tuple[int, int, int]]:
    """(type, flags, stream) of the frames read until ``until_stream`` ends or EOF."""
    data = b""
    seen: list[tuple[int, int, int]] = []
    while True:
        while len(data) >= 9:
            length_type, flags, stream = struct.unpack_from(">IBI", data)
            if len(data) < 9 + (length_type >> 8):
                break
            data = data[9 + (length_type >> 8) :]
            seen.append((length_type & 0xFF, flags, stream))
            if stream == until_stream and flags & END_STREAM:
                return seen
        chunk = sock.recv(65536)
        if not chunk:
            return seen
        data += chunk


def test_http2_request_sent_during_a_stall_is_answered() -> None:
    encoder = hpack.Encoder()

    def request(stream: int) -> bytes:
        fields = [(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "x")]
        return frame(HEADERS, END_STREAM | END_HEADERS, stream, encoder.encode(fields))

    with (
        serve(app, timeout_keep_alive=KEEP_ALIVE) as server,
        socket.create_connection(("127.0.0.1", server.port), timeout=10) as idle,
    ):
        idle.sendall(CONNECTION_PREFACE + settings() + request(1))
        assert (0, END_STREAM, 1) in h2_frames(idle, until_stream=1)
        with block_the_loop(server.port) as blocker:
            idle.sendall(request(3))
            assert read_http11(blocker).startswith(b"HTTP/1.1 200")
        frames = h2_frames(idle, until_stream=3)
        assert (0, END_STREAM, 3) in frames, frames  # answered, no GOAWAY instead


class Connection:
    """What the sweep sees of a connection."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.checked: list[float] = []

    def postpone(self, seconds: float) -> None:
        self.deadline += seconds

    def check_deadline(self, now: float) -> None:
        self.checked.append(now)


def test_a_late_sweep_postpones_every_deadline_and_expires_nothing() -> None:
    state = SimpleNamespace(now=100.0, connections={(conn := Connection(95.0))})
    sweep(state, late=6.0, interval=1.0)  # type: ignore[arg-type]
    assert conn.deadline == 101.0 and conn.checked == []
    sweep(state, late=0.01, interval=1.0)  # type: ignore[arg-type]
    assert conn.checked == [100.0]


def test_the_sweep_postpones_the_h2_write_stall_clock_too() -> None:
    proto = H2Protocol.__new__(H2Protocol)
    proto.deadline = 10.0
    proto.write_paused = True
    proto.write_paused_at = 5.0
    proto.postpone(3.0)
    assert (proto.deadline, proto.write_paused_at) == (13.0, 8.0)
    proto.write_paused = False
    proto.postpone(1.0)
    assert (proto.deadline, proto.write_paused_at) == (14.0, 8.0)
