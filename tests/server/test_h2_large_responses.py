"""HTTP/2 responses larger than the send buffer, to clients that open large windows.

Browsers and curl grant megabytes of window (Chrome 6 MiB a stream and 15 MiB for the
connection, curl more): a response that fits those windows was framed whole into the
transport, whose buffer then passed the 4 MiB cap meant for a peer that does not read
its control-frame answers, and the connection was aborted mid-body (curl: "stream 1 was
not closed cleanly"). DATA now goes to the transport as it drains.
"""

from __future__ import annotations

import socket
import time

import pytest

from tests.server.conftest import DEADLINE, serve
from vivace.http._h2_connection import H2Connection
from vivace.http._h2_events import ConnectionTerminated, DataReceived, StreamReset
from vivace.http._h2_frames import H2Limits
from vivace.server._h2_protocol import SEND_BUFFER_CAP
from vivace.types import Receive, Scope, Send

SIZE = 4 * SEND_BUFFER_CAP  # 16 MiB
PIECE = 256 * 1024


async def big_app(scope: Scope, receive: Receive, send: Send) -> None:
    """The body in one message (/one) or in pieces of 256 KiB (/pieces)."""
    await send({"type": "http.response.start", "status": 200, "headers": []})
    if scope["path"] == "/one":
        await send({"type": "http.response.body", "body": b"x" * SIZE})
        return
    for _ in range(SIZE // PIECE - 1):
        await send({"type": "http.response.body", "body": b"x" * PIECE, "more_body": True})
    await send({"type": "http.response.body", "body": b"x" * PIECE})


def download(port: int, paths: list[str], pause: float) -> list[int]:
    """GET ``paths`` on one h2c connection with windows of 1 GiB, reading nothing for
    ``pause`` seconds first (the server's writes outrun the socket): the bytes of each
    body, in order, or -1 for a stream reset."""
    limits = H2Limits(initial_window_size=2**30, connection_window_size=2**30)
    conn = H2Connection(client=True, limits=limits)
    conn.initiate()
    received: dict[int, int] = {}
    for path in paths:
        sid = conn.open_stream()
        fields = [(b":method", b"GET"), (b":scheme", b"http"), (b":path", path.encode())]
        conn.send_headers(sid, [*fields, (b":authority", b"x")], end_stream=True)
        received[sid] = 0
    ended: set[int] = set()
    with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        sock.sendall(conn.data_to_send())
        time.sleep(pause)
        while len(ended) < len(paths):
            data = sock.recv(1 << 20)
            assert data, f"the server closed the connection after {received}"
            for event in conn.receive(data):
                if isinstance(event, DataReceived):
                    received[event.stream_id] += len(event.data)
                    conn.acknowledge(event.stream_id, len(event.data))
                    if event.end_stream:
                        ended.add(event.stream_id)
                elif isinstance(event, StreamReset):
                    received[event.stream_id] = -1
                    ended.add(event.stream_id)
                elif isinstance(event, ConnectionTerminated):  # pragma: no cover - a failure
                    raise AssertionError(f"GOAWAY {event.error_code} after {received}")
            sock.sendall(conn.data_to_send())
    return list(received.values())


@pytest.mark.parametrize("paths", [["/one"], ["/pieces"], ["/one", "/pieces", "/one"]])
def test_a_large_response_arrives_whole_to_a_slow_reader_with_large_windows(
    paths: list[str],
) -> None:
    with serve(big_app, lifespan="off") as server:
        assert download(server.port, paths, pause=0.3) == [SIZE] * len(paths)
