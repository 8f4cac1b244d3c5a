"""The state every part of the sans-IO HTTP/2 connection shares (``_h2_connection``).

``H2State`` holds it (the connection's settings, windows, budgets, streams and buffers),
``H2Stream`` one stream's, ``_Budget`` one token bucket. The behaviour is split by concern:
``_h2_send`` (sending and flow control) and ``_h2_blocks`` (header blocks) are mixins over
``H2State``; ``_h2_connection.H2Connection`` combines them with frame parsing.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from vivace.http._h2_events import (
    Event,
)
from vivace.http._h2_fields import RequestHead
from vivace.http._h2_frames import (
    DEFAULT_WINDOW,
    MAX_WINDOW,
    MIN_FRAME_SIZE,
    ErrorCode,
    H2ConnectionError,
    H2Limits,
)
from vivace.http._hpack import HPACKDecoder, HPACKEncoder

__all__ = ["MAX_ALLOWANCE", "H2State", "H2Stream", "unpad"]

#: ``H2State.data_allowance`` when the caller sets none: no bound.
MAX_ALLOWANCE = 2**62


def unpad(payload: bytes) -> bytes:
    """A PADDED frame's content (RFC 9113 sections 6.1, 6.2): the pad length octet and the
    padding removed."""
    if not payload:
        raise H2ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "padded frame without length")
    pad = payload[0]
    if pad >= len(payload):
        raise H2ConnectionError(ErrorCode.PROTOCOL_ERROR, "padding longer than the frame")
    return payload[1 : len(payload) - pad]


class _Budget:
    """A token bucket: ``burst`` tokens, refilled at ``rate`` per second (lazily)."""

    __slots__ = ("_clock", "_rate", "_stamp", "_tokens", "burst")

    def __init__(self, burst: int, rate: float, clock: Callable[[], float]) -> None:
        self.burst = burst
        self._rate = rate
        self._clock = clock
        self._tokens = float(burst)
        self._stamp = clock()

    def take(self) -> bool:
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        now = self._clock()
        self._tokens = min(float(self.burst), self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


class H2Stream:
    """One stream's protocol state (see the module docstring)."""

    __slots__ = (
        "content_length",
        "head_done",
        "id",
        "pending",
        "pending_end",
        "pending_size",
        "received",
        "recv_closed",
        "recv_unacked",
        "recv_window",
        "send_closed",
        "send_window",
        "stalled_at",
    )

    def __init__(self, stream_id: int, send_window: int, recv_window: int) -> None:
        self.id = stream_id
        self.send_window = send_window
        self.recv_window = recv_window
        self.recv_unacked = 0
        self.recv_closed = False
        self.send_closed = False
        self.head_done = False
        self.pending: list[memoryview] = []
        self.pending_size = 0
        self.pending_end = False
        self.content_length: int | None = None
        self.received = 0
        self.stalled_at: float | None = None


class H2State:
    """The fields of one connection (see the module docstring)."""

    __slots__ = (
        "_blocks",
        "_blocks_generation",
        "_budget_empty",
        "_budget_ping",
        "_budget_priority",
        "_budget_reset",
        "_budget_settings",
        "_buffer",
        "_clock",
        "_continuing",
        "_decoder",
        "_encoder",
        "_events",
        "_out",
        "_preface",
        "_reset_ids",
        "_settings_seen",
        "client",
        "closed",
        "conn_unacked",
        "data_allowance",
        "data_held",
        "highest_local",
        "highest_remote",
        "last_processed",
        "limits",
        "local_goaway",
        "next_stream_id",
        "peer_connect_protocol",
        "peer_initial_window",
        "peer_max_concurrent",
        "peer_max_frame_size",
        "peer_max_header_list",
        "recv_window",
        "remote_goaway",
        "send_window",
        "stream_count",
        "streams",
    )

    def __init__(
        self,
        *,
        client: bool,
        limits: H2Limits | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.limits = limits = limits or H2Limits()
        self._clock = clock
        self.streams: dict[int, H2Stream] = {}
        self._decoder = HPACKDecoder(limits.header_table_size)
        self._encoder = HPACKEncoder()
        self._out: list[bytes] = []
        self._buffer = b""
        self._events: list[Event] = []
        self._preface = not client  # a server expects the client's preface first
        self._settings_seen = False
        self._continuing: tuple[int, int, list[bytes], int, int] | None = None
        self._reset_ids: dict[int, None] = {}
        self._blocks: dict[bytes, RequestHead] = {}
        self._blocks_generation = 0
        self.closed = False
        self.local_goaway: int | None = None  # last_stream_id we announced in GOAWAY
        self.remote_goaway: int | None = None
        self.highest_remote = 0
        self.highest_local = 0
        self.last_processed = 0
        self.stream_count = 0
        self.next_stream_id = 1 if client else 2
        # The peer's settings, at their RFC 9113 defaults until its SETTINGS frame.
        self.peer_initial_window = DEFAULT_WINDOW
        self.peer_max_frame_size = MIN_FRAME_SIZE
        self.peer_max_concurrent = MAX_WINDOW
        self.peer_max_header_list = MAX_WINDOW
        self.peer_connect_protocol = False
        self.send_window = DEFAULT_WINDOW
        # DATA bytes the caller lets us frame before it writes again (``allow_data``):
        # unbounded unless the caller sets it; ``data_held`` is true while DATA the
        # windows allow waits for it.
        self.data_allowance = MAX_ALLOWANCE
        self.data_held = False
        self.recv_window = limits.connection_window_size
        self.conn_unacked = 0
        self._budget_reset = _Budget(limits.reset_burst, limits.reset_rate, clock)
        self._budget_ping = _Budget(limits.ping_burst, limits.ping_rate, clock)
        self._budget_settings = _Budget(limits.settings_burst, limits.settings_rate, clock)
        self._budget_priority = _Budget(limits.priority_burst, limits.priority_rate, clock)
        self._budget_empty = _Budget(limits.empty_burst, limits.empty_rate, clock)
