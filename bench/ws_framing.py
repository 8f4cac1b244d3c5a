"""Sans-IO WebSocket libraries compared: ``websockets`` protocol objects vs ``wsproto``.

What a server does per message, measured on protocol objects alone (no sockets):

- parse: feed masked client frames (as a browser sends them), collect the messages;
- serialize: turn a message into an unmasked server frame;

for text messages of 32 B, 1 KiB and 64 KiB, without and with permessage-deflate
(both sides' defaults: context takeover, 15-bit window). Rounds are interleaved
(websockets, wsproto, vivace, websockets, ...); medians of microseconds per message are
printed with the ratio wsproto / websockets, and ``vivace.http.WebSocketCore`` (the
chosen library under vivace's own fast path for whole small frames) beside them.

    flock /tmp/vivace-bench.lock .venv/bin/python bench/ws_framing.py [--rounds 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

from websockets.extensions.permessage_deflate import PerMessageDeflate as WsDeflate
from websockets.protocol import Protocol, Side
from wsproto.connection import Connection, ConnectionType
from wsproto.events import TextMessage
from wsproto.extensions import PerMessageDeflate as WpDeflate

from vivace.http import WebSocketCore

SIZES = (32, 1024, 64 * 1024)
BATCH = 64  # messages fed per receive_data call: a busy socket's read holds many


def _text(size: int) -> str:
    # Compressible but not trivial: JSON-ish chat traffic.
    base = '{"user":"ada","text":"hello there, how are you today?","n":%d}'
    out = []
    i = 0
    while sum(map(len, out)) < size:
        out.append(base % i)
        i += 1
    return "".join(out)[:size]


# -- websockets ----------------------------------------------------------------------------


def _ws_pair(deflate: bool) -> tuple[Protocol, Protocol]:
    server = Protocol(Side.SERVER, max_size=None)
    client = Protocol(Side.CLIENT, max_size=None)
    if deflate:
        server.extensions = [WsDeflate(False, False, 15, 15)]
        client.extensions = [WsDeflate(False, False, 15, 15)]
    return server, client


def ws_parse(size: int, deflate: bool, n: int) -> float:
    server, client = _ws_pair(deflate)
    text = _text(size)
    for _ in range(BATCH):
        client.send_text(text.encode())
    wire = b"".join(client.data_to_send())
    rounds = n // BATCH
    start = time.perf_counter()
    for _ in range(rounds):
        server.receive_data(wire)
        events = server.events_received()
        assert len(events) == BATCH
    return (time.perf_counter() - start) / (rounds * BATCH) * 1e6


def ws_serialize(size: int, deflate: bool, n: int) -> float:
    server, _ = _ws_pair(deflate)
    payload = _text(size).encode()
    start = time.perf_counter()
    for _ in range(n):
        server.send_text(payload)
        server.data_to_send()
    return (time.perf_counter() - start) / n * 1e6


# -- vivace.http.WebSocketCore (websockets underneath, whole small frames on a fast path) --


def _core_pair(deflate: bool) -> tuple[WebSocketCore, WebSocketCore]:
    ext_s = [WsDeflate(False, False, 15, 15)] if deflate else []
    ext_c = [WsDeflate(False, False, 15, 15)] if deflate else []
    return (
        WebSocketCore(client=False, max_message_size=None, extensions=ext_s),
        WebSocketCore(client=True, max_message_size=None, extensions=ext_c),
    )


def core_parse(size: int, deflate: bool, n: int) -> float:
    server, client = _core_pair(deflate)
    text = _text(size)
    wire = b"".join(client.send_text(text) for _ in range(BATCH))
    rounds = n // BATCH
    start = time.perf_counter()
    for _ in range(rounds):
        events = server.receive_data(wire)
        assert len(events) == BATCH
    return (time.perf_counter() - start) / (rounds * BATCH) * 1e6


def core_serialize(size: int, deflate: bool, n: int) -> float:
    server, _ = _core_pair(deflate)
    text = _text(size)
    start = time.perf_counter()
    for _ in range(n):
        server.send_text(text)
    return (time.perf_counter() - start) / n * 1e6


# -- wsproto ---------------------------------------------------------------------------------


def _wp_pair(deflate: bool) -> tuple[Connection, Connection]:
    if not deflate:
        return Connection(ConnectionType.SERVER), Connection(ConnectionType.CLIENT)
    s_ext, c_ext = WpDeflate(), WpDeflate()
    # As after a handshake that agreed on the defaults.
    s_ext.accept("permessage-deflate")
    c_ext.finalize("permessage-deflate")
    return (
        Connection(ConnectionType.SERVER, extensions=[s_ext]),
        Connection(ConnectionType.CLIENT, extensions=[c_ext]),
    )


def wp_parse(size: int, deflate: bool, n: int) -> float:
    server, client = _wp_pair(deflate)
    text = _text(size)
    wire = b"".join(client.send(TextMessage(data=text)) for _ in range(BATCH))
    rounds = n // BATCH
    start = time.perf_counter()
    for _ in range(rounds):
        server.receive_data(wire)
        count = 0
        for event in server.events():
            if event.message_finished:  # type: ignore[attr-defined]
                count += 1
        assert count == BATCH, count
    return (time.perf_counter() - start) / (rounds * BATCH) * 1e6


def wp_serialize(size: int, deflate: bool, n: int) -> float:
    server, _ = _wp_pair(deflate)
    text = _text(size)
    start = time.perf_counter()
    for _ in range(n):
        server.send(TextMessage(data=text))
    return (time.perf_counter() - start) / n * 1e6


def _count(size: int) -> int:
    return max(BATCH * 4, (2_000_000 // max(size, 256)) // BATCH * BATCH)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    Case = tuple[str, int, bool, Callable[..., float], Callable[..., float], Callable[..., float]]
    cases: list[Case] = []
    for deflate in (False, True):
        for size in SIZES:
            cases.append(("parse", size, deflate, ws_parse, wp_parse, core_parse))
            cases.append(("serialize", size, deflate, ws_serialize, wp_serialize, core_serialize))
    print(f"pid {os.getpid()}; {args.rounds} interleaved rounds; us per message, median")
    print(
        f"{'op':10} {'size':>6} {'deflate':>7} {'websockets':>11} {'wsproto':>9} "
        f"{'wsproto/ws':>10} {'vivace core':>11}"
    )
    for op, size, deflate, ws, wp, core in cases:
        n = _count(size)
        for bench in (ws, wp, core):
            bench(size, deflate, BATCH * 2)  # warm up
        a, b, c = [], [], []
        for _ in range(args.rounds):
            a.append(ws(size, deflate, n))
            b.append(wp(size, deflate, n))
            c.append(core(size, deflate, n))
        ma, mb, mc = statistics.median(a), statistics.median(b), statistics.median(c)
        print(
            f"{op:10} {size:>6} {deflate!s:>7} {ma:>11.2f} {mb:>9.2f} {mb / ma:>9.1f}x {mc:>11.2f}"
        )


if __name__ == "__main__":
    main()
