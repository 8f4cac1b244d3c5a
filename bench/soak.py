"""Soak: mixed traffic against one server for half an hour; its memory and fds stay flat.

    flock /tmp/vivace-bench.lock .venv/bin/python bench/soak.py [MINUTES] [INTERVAL] [WARMUP]

Defaults: 30 minutes, a sample every 60 s, the first 5 minutes are warm-up. One server
process (``vivace run bench.soak_app:app``) gets, all the time:

* keep-alive GETs (vivace.client, pooled) and GETs on a new connection each
  (``Connection: close``, raw sockets);
* multipart uploads (a 64 KiB file and a field);
* SSE streams that the client leaves after a few events, without a goodbye;
* WebSockets: a few echoed messages, then a close (a third of the time the client
  leaves mid-conversation: an exception inside its session block);
* database requests (an UPDATE and a SELECT in a transaction on PostgreSQL).

Each sample is the server's RSS (VmRSS) and open file descriptors, the median of five
readings 0.2 s apart (connections come and go). PASS: after warm-up, the last sample is
within 5% of the first (RSS and fds), and no request failed.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench._process import AppProcess  # noqa: E402
from vivace.client import Client  # noqa: E402

__all__ = ["main", "sample"]

GROWTH_LIMIT = 0.05


def sample(pid: int) -> tuple[int, int]:
    """(RSS in KiB, open fds) of a process, the median of five readings."""
    rss: list[int] = []
    fds: list[int] = []
    for _ in range(5):
        status = Path(f"/proc/{pid}/status").read_text()
        match = re.search(r"VmRSS:\s+(\d+) kB", status)
        rss.append(int(match.group(1)) if match else 0)
        fds.append(len(os.listdir(f"/proc/{pid}/fd")))
        time.sleep(0.2)
    return int(statistics.median(rss)), int(statistics.median(fds))


class Traffic:
    def __init__(self, port: int) -> None:
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.counts: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.stop = False

    async def _loop(self, kind: str, step: object, pause: float) -> None:
        while not self.stop:
            try:
                await step()  # type: ignore[operator]
                self.counts[kind] += 1
            except Exception as exc:
                self.errors[f"{kind}: {type(exc).__name__}: {str(exc)[:80]}"] += 1
            await asyncio.sleep(pause * random.uniform(0.5, 1.5))

    async def _raw(self, request: bytes, read_events: int = 0) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            writer.write(request)
            if read_events:  # an SSE client that leaves after a few events
                seen = b""
                while seen.count(b"\n\n") < read_events:
                    chunk = await asyncio.wait_for(reader.read(4096), 10)
                    if not chunk:
                        raise ConnectionError("the stream ended early")
                    seen += chunk
                writer.transport.abort()
                return seen
            data = await asyncio.wait_for(reader.read(-1), 10)
            if not data.startswith(b"HTTP/1.1 200 "):
                raise ConnectionError(f"unexpected answer {data[:40]!r}")
            return data
        finally:
            writer.close()

    async def run(self) -> None:
        payload = os.urandom(64 * 1024)
        async with Client(base_url=self.base, timeout=10) as client:

            async def keepalive() -> None:
                response = await client.get("/")
                assert response.status_code == 200 and response.text == "ok"

            async def close() -> None:
                await self._raw(b"GET / HTTP/1.1\r\nHost: soak\r\nConnection: close\r\n\r\n")

            async def upload() -> None:
                response = await client.post(
                    "/upload", data={"x": "1"}, files={"f": ("a.bin", payload)}
                )
                assert response.status_code == 200, response.status_code
                assert response.json() == {"size": len(payload) + 1}

            async def sse() -> None:
                await self._raw(
                    b"GET /sse HTTP/1.1\r\nHost: soak\r\n\r\n", read_events=random.randint(1, 20)
                )

            async def websocket() -> None:
                async with (
                    Client(base_url=self.base, timeout=10) as own,
                    own.websocket_connect("/ws") as ws,
                ):
                    for number in range(random.randint(1, 20)):
                        await ws.send_text(f"m{number}")
                        assert await ws.receive_text(timeout=10) == f"m{number}"
                    if random.random() < 0.3:  # leave without a close frame
                        raise _Drop()

            async def websocket_step() -> None:
                try:
                    await websocket()
                except _Drop:
                    pass

            async def database() -> None:
                response = await client.get("/db")
                assert response.status_code == 200, response.status_code

            tasks = [
                *(self._loop("keep-alive", keepalive, 0.01) for _ in range(4)),
                *(self._loop("close", close, 0.02) for _ in range(2)),
                *(self._loop("upload", upload, 0.05) for _ in range(2)),
                *(self._loop("sse", sse, 0.05) for _ in range(3)),
                *(self._loop("websocket", websocket_step, 0.05) for _ in range(2)),
                *(self._loop("db", database, 0.02) for _ in range(2)),
            ]
            await asyncio.gather(*tasks)


class _Drop(Exception):
    """Leave a WebSocket by dropping the TCP connection (the session is not closed)."""


async def soak(minutes: float, interval: float, warmup: float) -> int:
    server = AppProcess("bench.soak_app:app")
    port = await asyncio.to_thread(server.serving)
    traffic = Traffic(port)
    runner = asyncio.create_task(traffic.run())
    samples: list[tuple[float, int, int]] = []
    started = time.monotonic()
    try:
        while True:
            elapsed = time.monotonic() - started
            rss, fds = await asyncio.to_thread(sample, server.proc.pid)
            samples.append((elapsed, rss, fds))
            total = sum(traffic.counts.values())
            print(
                f"{elapsed / 60:6.1f} min  RSS {rss / 1024:7.1f} MiB  fds {fds:4d}  "
                f"requests {total}  errors {sum(traffic.errors.values())}",
                flush=True,
            )
            if elapsed >= minutes * 60:
                break
            await asyncio.sleep(max(0.0, interval - (time.monotonic() - started - elapsed)))
    finally:
        traffic.stop = True
        try:
            await asyncio.wait_for(runner, 30)
        except (TimeoutError, Exception):
            runner.cancel()
        await asyncio.to_thread(server.stop)
    after = [s for s in samples if s[0] >= warmup * 60]
    first, last = after[0], after[-1]
    rss_growth = (last[1] - first[1]) / first[1]
    fd_growth = (last[2] - first[2]) / first[2]
    print(f"traffic: {dict(traffic.counts)}")
    for error, count in traffic.errors.most_common(10):
        print(f"error x{count}: {error}")
    print(
        f"after warm-up ({first[0] / 60:.1f} -> {last[0] / 60:.1f} min): RSS "
        f"{first[1] / 1024:.1f} -> {last[1] / 1024:.1f} MiB ({rss_growth:+.1%}), fds "
        f"{first[2]} -> {last[2]} ({fd_growth:+.1%}); peak RSS after warm-up "
        f"{max(s[1] for s in after) / 1024:.1f} MiB"
    )
    passed = rss_growth < GROWTH_LIMIT and fd_growth < GROWTH_LIMIT and not traffic.errors
    print("PASS" if passed else "FAIL")
    return 0 if passed else 1


def main(argv: list[str]) -> int:
    minutes = float(argv[0]) if argv else 30.0
    interval = float(argv[1]) if len(argv) > 1 else 60.0
    warmup = float(argv[2]) if len(argv) > 2 else 5.0
    return asyncio.run(soak(minutes, interval, warmup))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
