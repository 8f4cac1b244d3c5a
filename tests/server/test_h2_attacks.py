"""HTTP/2 denial-of-service classes against a real server, each beside a well-behaved client.

Every attack gets the answer RFC 9113 and the CVE's fix call for (GOAWAY with
ENHANCE_YOUR_CALM, a stream reset, a 431, or a dropped connection), the attacker's
connection ends, so what it made the server hold is freed, and an h2load client that
shares the server meanwhile is answered in full within its normal latency. The attack
clients are Node's http2 module (rapid reset, PING and SETTINGS floods, a reader that opens
no window) and raw frames from Python (what Node cannot be made to send).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import hpack
import pytest

from tests.http.h2peer import (
    CONTINUATION,
    DATA,
    END_HEADERS,
    END_STREAM,
    GET,
    GOAWAY,
    HEADERS,
    PING,
    PRIORITY,
    RST_STREAM,
    WINDOW_UPDATE,
    frame,
    settings,
)
from tests.server.conftest import serve
from vivace.http._h2_frames import CONNECTION_PREFACE, ErrorCode
from vivace.types import Receive, Scope, Send

pytestmark = pytest.mark.skipif(
    shutil.which("h2load") is None or shutil.which("node") is None,
    reason="h2load and node are needed (scripts/test installs nghttp2-client)",
)
CALM = ErrorCode.ENHANCE_YOUR_CALM
BIG = b"x" * 2_000_000
LAST_REPORT: list[str] = [""]


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    body = BIG if scope["path"] == "/big" else b"ok"
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


def neighbour(url: str, requests: int = 300) -> tuple[int, float]:
    """A well-behaved client: requests answered and the mean latency in ms (h2load's
    report is kept in ``LAST_REPORT`` for the assertion messages)."""
    out = subprocess.run(
        ["h2load", "-n", str(requests), "-c", "1", "-m", "1", url + "/ok"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    ).stdout
    LAST_REPORT[:] = [out]
    done = re.search(r"(\d+) succeeded", out)
    mean = re.search(r"time for request:\s+\S+\s+\S+\s+(\S+)", out)
    assert done is not None and mean is not None, out
    value = mean.group(1)
    ms = float(value[:-2]) if value.endswith("ms") else float(value[:-2]) / 1000
    return int(done.group(1)), ms


# How much the process's resident memory may grow at the peak of any attack: each limit
# the server enforces keeps its buffers far below this (64 KiB header blocks, 128 streams,
# bounded send buffers), while an unbounded buffer would grow by the attack's size (up to
# 50 MB offered). Resident memory sampled every 2 ms rather than tracemalloc, which slows
# the server's HPACK decoding some 30-fold and so would starve the neighbour by itself.
MEMORY_LIMIT = 16 * 1024 * 1024
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE


class PeakMemory:
    """The peak resident memory of this process (the server's thread and a raw
    attacker's) while the block runs, above what it was when the block began."""

    def __enter__(self) -> PeakMemory:
        self.before = self.peak = rss()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._sample)
        self.thread.start()
        return self

    def _sample(self) -> None:
        while not self.done.wait(0.002):
            self.peak = max(self.peak, rss())

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.thread.join()
        self.peak = max(self.peak, rss())

    @property
    def growth(self) -> int:
        return self.peak - self.before


def beside(url: str, attack: Callable[[], Any], memory_limit: int = MEMORY_LIMIT) -> Any:
    """Run ``attack`` while the neighbour makes its requests; check the neighbour, and
    the growth of this process's memory meanwhile against ``memory_limit``."""
    _, baseline = neighbour(url, 100)
    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(attack()))
    with PeakMemory() as memory:
        thread.start()
        answered, during = neighbour(url)
        thread.join(60)
    assert memory.growth < memory_limit, f"memory grew by {memory.growth} bytes"
    assert not thread.is_alive(), "the attack did not end"
    assert answered == 300, LAST_REPORT[0]
    # Normal latency: a loopback request takes about a millisecond here; the attacker
    # may cost the neighbour some CPU time while it lasts, never a stall.
    assert during < baseline * 10 + 50, (baseline, during)
    return result[0]


class RawAttacker:
    """Raw frames over a socket; reads until the server's GOAWAY or close."""

    def __init__(self, port: int, **values: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=20)
        self.sock.sendall(CONNECTION_PREFACE + settings(**values))
        self.encoder = hpack.Encoder()
        self.buffer = b""
        self.frames: list[tuple[int, int, int, bytes]] = []

    def block(self, fields: list[tuple[str, str]] | None = None) -> bytes:
        return bytes(self.encoder.encode(GET if fields is None else fields))

    def send(self, data: bytes) -> bool:
        try:
            self.sock.sendall(data)
        except OSError:
            return False
        return True

    def read_until_end(self) -> list[tuple[int, int, int, bytes]]:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                chunk = self.sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not chunk:
                break
            self.buffer += chunk
            self._parse()
            if any(f[0] == GOAWAY for f in self.frames):
                break
        self.sock.close()
        return self.frames

    def _parse(self) -> None:
        while len(self.buffer) >= 9:
            length_type, flags, sid = struct.unpack_from(">IBI", self.buffer)
            length = length_type >> 8
            if len(self.buffer) < 9 + length:
                return
            self.frames.append((length_type & 0xFF, flags, sid, self.buffer[9 : 9 + length]))
            self.buffer = self.buffer[9 + length :]

    def goaway(self) -> int | None:
        frames = self.read_until_end()
        codes = [struct.unpack(">I", f[3][4:8])[0] for f in frames if f[0] == GOAWAY]
        return codes[-1] if codes else None


@pytest.fixture(scope="module")
def server() -> Iterator[Any]:
    with serve(app, h2_send_timeout=1.0) as running:
        yield running


def node(tmp_path: Path, script: str, url: str) -> str:
    path = tmp_path / "attack.js"
    path.write_text(script)
    out = subprocess.run(
        ["node", str(path), url], capture_output=True, text=True, timeout=60, check=False
    )
    return out.stdout + out.stderr


NODE_PRELUDE = r"""
const http2 = require('http2');
const session = http2.connect(process.argv[2], {
  maxOutstandingPings: 1e6, maxOutstandingSettings: 1e6, settings: SETTINGS});
session.on('error', (e) => {});
session.on('goaway', (code) => { console.log('goaway ' + code); process.exit(0); });
session.on('close', () => { console.log('closed'); process.exit(0); });
setTimeout(() => { console.log('survived'); process.exit(0); }, 20000);
"""


def node_attack(body: str, settings: str = "{}") -> str:
    return NODE_PRELUDE.replace("SETTINGS", settings) + body


def test_rapid_reset_cve_2023_44487(server: Any, tmp_path: Path) -> None:
    script = node_attack(
        """
session.on('connect', () => {
  for (let i = 0; i < 2000; i++) {
    const req = session.request({':path': '/ok'});
    req.on('error', () => {});
    req.close(http2.constants.NGHTTP2_CANCEL);
  }
});"""
    )
    out = beside(server.url, lambda: node(tmp_path, script, server.url))
    assert f"goaway {CALM}" in out, out


def test_ping_flood_cve_2019_9512(server: Any, tmp_path: Path) -> None:
    script = node_attack(
        """
session.on('connect', () => {
  for (let i = 0; i < 2000; i++) session.ping(() => {});
});"""
    )
    out = beside(server.url, lambda: node(tmp_path, script, server.url))
    assert f"goaway {CALM}" in out, out


def test_settings_flood_cve_2019_9515(server: Any, tmp_path: Path) -> None:
    script = node_attack(
        """
session.on('connect', () => {
  for (let i = 0; i < 2000; i++) session.settings({enablePush: false});
});"""
    )
    out = beside(server.url, lambda: node(tmp_path, script, server.url))
    assert f"goaway {CALM}" in out, out


def test_zero_window_reader_is_reset_cve_2019_9517(server: Any, tmp_path: Path) -> None:
    # The client opens no window and never reads: after h2_send_timeout (1 s here) the
    # stream is reset and its buffered response freed.
    script = node_attack(
        """
session.on('connect', () => {
  const req = session.request({':path': '/big'});
  req.pause();
  req.on('error', (e) => { console.log('stream ' + e.code); process.exit(0); });
  req.on('close', () => { console.log('stream closed ' + req.rstCode); process.exit(0); });
});""",
        "{initialWindowSize: 0}",
    )
    out = beside(server.url, lambda: node(tmp_path, script, server.url))
    assert "stream closed 8" in out or "NGHTTP2_CANCEL" in out, out


def raw(
    server: Any,
    build: Callable[[RawAttacker], Iterator[bytes]],
    memory_limit: int = MEMORY_LIMIT,
    **values: int,
) -> Any:
    def attack() -> int | None:
        attacker = RawAttacker(server.port, **values)
        for data in build(attacker):
            if not attacker.send(data):
                break
        return attacker.goaway()

    return beside(server.url, attack, memory_limit)


def test_continuation_flood_cve_2024_27316(server: Any) -> None:
    def build(a: RawAttacker) -> Iterator[bytes]:
        yield frame(HEADERS, END_STREAM, 1, a.block())
        for _ in range(100_000):
            yield frame(CONTINUATION, 0, 1, b"\x40\x01a\x01b" * 100)

    # 50 MB offered; what the server keeps of a header block is bounded by 64 KiB.
    assert raw(server, build) == CALM


def test_empty_frame_flood_cve_2019_9518(server: Any) -> None:
    def build(a: RawAttacker) -> Iterator[bytes]:
        yield frame(HEADERS, END_HEADERS, 1, a.block([(":method", "POST"), *GET[1:]]))
        for _ in range(1000):
            yield frame(DATA, 0, 1, b"") * 100

    assert raw(server, build) == CALM


def test_priority_flood_cve_2019_9513(server: Any) -> None:
    def build(a: RawAttacker) -> Iterator[bytes]:
        for i in range(1000):
            yield b"".join(
                frame(PRIORITY, 0, 1 + 2 * (i * 100 + j), b"\0\0\0\0\x10") for j in range(100)
            )

    assert raw(server, build) == CALM


def test_made_you_reset_cve_2025_8671(server: Any) -> None:
    def build(a: RawAttacker) -> Iterator[bytes]:
        block = a.block([(":method", "POST"), *GET[1:]])
        for i in range(5000):
            sid = 1 + 2 * i
            yield frame(HEADERS, END_HEADERS, sid, block) + frame(
                WINDOW_UPDATE, 0, sid, b"\0\0\0\0"
            )

    assert raw(server, build) == CALM


def test_zero_length_headers_cve_2019_9516(server: Any) -> None:
    def build(a: RawAttacker) -> Iterator[bytes]:
        for i in range(2000):
            block = a.block() + b"\x00\x00\x00" * 500  # empty names and values
            yield frame(HEADERS, END_STREAM | END_HEADERS, 1 + 2 * i, block)

    # Each such request is malformed (a stream error); the reset budget then ends it.
    assert raw(server, build) == CALM


def test_hpack_bomb_answered_431(server: Any) -> None:
    # 4,000 references to one 3 KB dynamic-table entry: 12 MB once decoded, refused while
    # decoding at the 64 KiB header-list limit, so the server never holds it.
    attacker = RawAttacker(server.port)
    entry = b"\x40\x01x\x7f" + bytes([0xB9, 0x16]) + b"v" * 3000
    block = attacker.block() + entry + b"\xbe" * 4000
    with PeakMemory() as memory:
        attacker.send(frame(HEADERS, END_STREAM | END_HEADERS, 1, block))
        attacker.send(frame(GOAWAY, 0, 0, b"\0\0\0\0\0\0\0\0"))
        frames = attacker.read_until_end()
    assert memory.growth < 4 * 1024 * 1024, f"memory grew by {memory.growth} bytes"
    heads = [hpack.Decoder().decode(f[3], raw=True) for f in frames if f[0] == HEADERS]
    assert heads and heads[0][0] == (b":status", b"431")


def test_rapid_reset_raw_with_ping_keeps_answering_neighbour(server: Any) -> None:
    def build(a: RawAttacker) -> Iterator[bytes]:
        block = a.block()
        for i in range(20000):
            sid = 1 + 2 * i
            yield frame(HEADERS, END_HEADERS, sid, block) + frame(RST_STREAM, 0, sid, b"\0\0\0\x08")
        yield frame(PING, 0, 0, b"12345678")

    assert raw(server, build) == CALM
