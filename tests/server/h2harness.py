"""An HTTP/2 client for protocol-level server tests: vivace's own sans-IO client side
(``H2Connection(client=True)``) wired to a server connection on a fake transport."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from tests.server.conftest import DEADLINE, Harness
from vivace.http._h2_connection import H2Connection
from vivace.http._h2_events import (
    ConnectionTerminated,
    DataReceived,
    Event,
    InformationalReceived,
    ResponseReceived,
    StreamReset,
    TrailersReceived,
)
from vivace.http._h2_frames import H2Limits


@dataclass
class Result:
    status: int = 0
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""
    trailers: list[tuple[bytes, bytes]] = field(default_factory=list)
    informational: list[tuple[int, list[tuple[bytes, bytes]]]] = field(default_factory=list)
    reset: int | None = None
    ended: bool = False

    def header(self, name: bytes) -> bytes | None:
        return next((v for n, v in self.headers if n == name), None)


class H2Client:
    """Speaks HTTP/2 (prior knowledge) to ``harness``'s server connection."""

    def __init__(self, harness: Harness, limits: H2Limits | None = None, ack: bool = True) -> None:
        self.h = harness
        self.conn = H2Connection(client=True, limits=limits)
        self.offset = 0
        self.results: dict[int, Result] = {}
        self.events: list[Event] = []
        self.goaway: ConnectionTerminated | None = None
        self.ack = ack  # whether received body bytes are acknowledged (window updates)

    async def start(self) -> None:
        self.conn.initiate()
        await self.flush()
        await self.pump()

    async def flush(self) -> None:
        data = self.conn.data_to_send()
        if data and not self.h.transport.closed:
            proto = self.h.transport.protocol
            done = self.h.loop.create_future()

            def deliver() -> None:
                try:
                    proto.data_received(data)  # type: ignore[union-attr]
                finally:
                    done.set_result(None)

            self.h.loop.call_soon(deliver)
            await done

    async def pump(self) -> list[Event]:
        """Read what the server wrote since last time; answer what the protocol owes."""
        await asyncio.sleep(0)
        data = bytes(self.h.transport.data[self.offset :])
        self.offset += len(data)
        events = self.conn.receive(data) if data else []
        for event in events:
            self._apply(event)
        self.events += events
        await self.flush()
        return events

    def _apply(self, event: Event) -> None:
        sid = getattr(event, "stream_id", None)
        result = self.results.setdefault(sid, Result()) if sid is not None else None
        if isinstance(event, ResponseReceived):
            assert result is not None
            result.status, result.headers, result.ended = (
                event.status,
                event.headers,
                event.end_stream,
            )
        elif isinstance(event, InformationalReceived):
            assert result is not None
            result.informational.append((event.status, event.headers))
        elif isinstance(event, DataReceived):
            assert result is not None
            result.body += event.data
            result.ended = event.end_stream
            if self.ack:
                self.conn.acknowledge(event.stream_id, len(event.data))
        elif isinstance(event, TrailersReceived):
            assert result is not None
            result.trailers, result.ended = event.headers, True
        elif isinstance(event, StreamReset):
            assert result is not None
            result.reset = event.error_code
        elif isinstance(event, ConnectionTerminated):
            self.goaway = event

    async def request(
        self,
        method: str = "GET",
        path: str = "/",
        headers: list[tuple[bytes, bytes]] | None = None,
        body: bytes | None = None,
        end: bool = True,
        authority: bytes = b"example.com",
    ) -> int:
        sid = self.conn.open_stream()
        fields = [
            (b":method", method.encode()),
            (b":scheme", b"http"),
            (b":path", path.encode()),
            (b":authority", authority),
            *(headers or []),
        ]
        self.conn.send_headers(sid, fields, end_stream=end and body is None)
        if body is not None:
            self.conn.send_data(sid, body, end_stream=end)
        self.results[sid] = Result()
        await self.flush()
        return sid

    async def wait(self, predicate: Any, timeout: float = DEADLINE) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; results: {self.results}")
            await self.pump()
            await asyncio.sleep(0.001)

    async def response(self, sid: int) -> Result:
        result = self.results[sid]
        await self.wait(lambda: result.ended or result.reset is not None or self.h.transport.closed)
        return result


async def h2_connect(make: Any, app: Any, **options: Any) -> tuple[Harness, H2Client]:
    """A server harness switched to HTTP/2 by the client preface, and its client."""
    h = make(app, **options)
    client = H2Client(h)
    await client.start()
    return h, client


__all__ = ["H2Client", "Result", "h2_connect"]
