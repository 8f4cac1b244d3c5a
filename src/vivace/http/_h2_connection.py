"""A sans-IO HTTP/2 connection (RFC 9113), client or server side: bytes in, events out.

Theory of operation. ``receive(data)`` parses whole frames out of the bytes given (a
partial frame waits for more), applies each to the connection and its streams, and
returns the resulting events (``_h2_events``). Replies the protocol owes (SETTINGS ACK,
PING ACK, WINDOW_UPDATE, RST_STREAM, GOAWAY) and everything the caller sends
(``send_headers``, ``send_data``, ...) accumulate in one outgoing buffer that
``data_to_send()`` empties: the caller writes it once per batch, so a read that carried
ten requests is answered with one write.

Errors follow section 5.4: a stream error resets that stream (RST_STREAM) and parsing goes
on; a connection error queues GOAWAY, reports ``ConnectionTerminated`` and ignores all
further input. A header block is always decoded before any stream error is raised for it,
so the HPACK state (RFC 7541) stays in step with the peer's.

Streams. A stream lives in ``streams`` from its first HEADERS until both sides have ended
it (END_STREAM or RST_STREAM); section 5.1's idle / open / half-closed / closed states
are the flags ``recv_closed`` and ``send_closed`` and its absence. Streams we reset are
remembered (a bounded set) so frames the peer sent before seeing our RST_STREAM are
dropped quietly, as section 5.4.2 asks.

Flow control (section 5.2). Outgoing DATA is sent while both the connection's and the
stream's send windows allow; the rest waits on the stream (``pending``, a list of
memoryviews: nothing is copied or re-joined while it waits) and goes out as
WINDOW_UPDATE frames arrive (``SendReady`` tells the caller). Incoming DATA is charged
to the receive windows; the caller's ``acknowledge(stream, n)`` once the app has taken
the bytes reopens them (in steps of half a window, to send few WINDOW_UPDATE frames).
Memory held for unread bodies is thus bounded by the connection window.

Limits against denial of service, all on by default (``H2Limits``), each advertised in
SETTINGS where there is one:

* concurrent streams (SETTINGS_MAX_CONCURRENT_STREAMS): beyond it, REFUSED_STREAM;
* header list size (SETTINGS_MAX_HEADER_LIST_SIZE), counted while decoding (HPACK
  bombs); over it, a server answers 431 itself and a client resets the stream;
* a header block's compressed size and CONTINUATION count (CVE-2024-27316): over either,
  GOAWAY ENHANCE_YOUR_CALM before the block is buffered further;
* budgets (token buckets) for resets the peer causes - RST_STREAM it sends (rapid reset,
  CVE-2023-44487) and stream errors it provokes (MadeYouReset, CVE-2025-8671) - and for
  PING (CVE-2019-9512), SETTINGS (CVE-2019-9515), PRIORITY (CVE-2019-9513) and empty or
  unknown frames (CVE-2019-9518): when one runs out, GOAWAY ENHANCE_YOUR_CALM;
* streams per connection: past the limit, a graceful GOAWAY (the client reconnects);
* data dribble and zero-window stalls (CVE-2019-9511, -9517): ``check_stalls`` resets a
  stream whose data could not be sent for ``send_stall_timeout`` seconds, and ends the
  connection when the connection window is the one that stayed shut.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable

from vivace.http._h2_events import (
    ConnectionTerminated,
    DataReceived,
    Event,
    InformationalReceived,
    PingAcked,
    RequestReceived,
    ResponseReceived,
    SendReady,
    SettingsChanged,
    StreamReset,
    TrailersReceived,
)
from vivace.http._h2_fields import RequestHead, check_request, check_response, check_trailers
from vivace.http._h2_frames import (
    ACK,
    CONNECTION_PREFACE,
    DEFAULT_WINDOW,
    END_HEADERS,
    END_STREAM,
    MAX_FRAME_SIZE,
    MAX_WINDOW,
    MIN_FRAME_SIZE,
    PADDED,
    PRIORITY_FLAG,
    ErrorCode,
    FrameType,
    H2ConnectionError,
    H2Limits,
    H2StreamError,
    Setting,
    frame_header,
    settings_payload,
)
from vivace.http._hpack import HeaderListTooLarge, HPACKDecoder, HPACKEncoder, HPACKError

__all__ = ["H2Connection", "H2Stream"]

_HEADER = struct.Struct(">IBI")
_unpack_header = _HEADER.unpack_from
_pack_header = _HEADER.pack
_U32 = struct.Struct(">I")
_GOAWAY = struct.Struct(">II")
_SETTING = struct.Struct(">HI")
_RESET_MEMORY = 1024  # how many streams we reset are remembered (frames still in flight)
_CACHE_MAX = 256
_431 = [(b":status", b"431"), (b"content-length", b"0")]

_DATA = FrameType.DATA
_HEADERS = FrameType.HEADERS
_CONTINUATION = FrameType.CONTINUATION


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


class H2Connection:
    """One HTTP/2 connection's protocol state. ``client`` picks the side.

    >>> server = H2Connection(client=False)
    >>> server.initiate()
    >>> server.data_to_send()[:9].hex()  # our SETTINGS frame comes first
    '000024040000000000'
    """

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
        self.recv_window = limits.connection_window_size
        self.conn_unacked = 0
        self._budget_reset = _Budget(limits.reset_burst, limits.reset_rate, clock)
        self._budget_ping = _Budget(limits.ping_burst, limits.ping_rate, clock)
        self._budget_settings = _Budget(limits.settings_burst, limits.settings_rate, clock)
        self._budget_priority = _Budget(limits.priority_burst, limits.priority_rate, clock)
        self._budget_empty = _Budget(limits.empty_burst, limits.empty_rate, clock)

    # -- starting --------------------------------------------------------------------------

    def local_settings(self) -> dict[int, int]:
        """What our SETTINGS frame advertises."""
        limits = self.limits
        settings = {
            Setting.HEADER_TABLE_SIZE: limits.header_table_size,
            Setting.MAX_CONCURRENT_STREAMS: limits.max_concurrent_streams,
            Setting.INITIAL_WINDOW_SIZE: limits.initial_window_size,
            Setting.MAX_FRAME_SIZE: limits.max_frame_size,
            Setting.MAX_HEADER_LIST_SIZE: limits.max_header_list_size,
        }
        if self.client:
            settings[Setting.ENABLE_PUSH] = 0  # we never accept server push
        elif limits.enable_connect_protocol:
            settings[Setting.ENABLE_CONNECT_PROTOCOL] = 1  # RFC 8441 WebSockets
        return settings

    def initiate(self, upgrade_settings: bytes | None = None) -> None:
        """Queue the connection preface: (client) the magic, then our SETTINGS, and the
        connection window's enlargement. ``upgrade_settings``: a server upgraded from
        HTTP/1.1 applies the client's HTTP2-Settings payload as if it were a SETTINGS frame.
        """
        out = self._out
        if self.client:
            out.append(CONNECTION_PREFACE)
        payload = settings_payload(self.local_settings())
        out.append(frame_header(len(payload), FrameType.SETTINGS, 0, 0) + payload)
        extra = self.limits.connection_window_size - DEFAULT_WINDOW
        if extra > 0:
            self._window_update(0, extra)
        if upgrade_settings is not None:
            self._apply_settings(upgrade_settings, ack=False)

    @property
    def settings_received(self) -> bool:
        """Whether the peer's first SETTINGS frame came (its preface is complete)."""
        return self._settings_seen

    def open_remote(self, stream_id: int) -> H2Stream:
        """A stream the peer opened outside HEADERS: stream 1 of an h2c upgrade, whose
        request came over HTTP/1.1 (RFC 7540 section 3.2)."""
        stream = H2Stream(stream_id, self.peer_initial_window, self.limits.initial_window_size)
        stream.head_done = True
        self.highest_remote = self.last_processed = stream_id
        self.stream_count += 1
        self.streams[stream_id] = stream
        return stream

    def data_to_send(self) -> bytes:
        """Everything queued for the peer, once."""
        out = self._out
        if not out:
            return b""
        data = out[0] if len(out) == 1 else b"".join(out)
        out.clear()
        return data

    # -- receiving -------------------------------------------------------------------------

    def receive(self, data: bytes) -> list[Event]:
        """Parse ``data`` (any amount) and return what happened."""
        try:
            self._receive(data)
        finally:
            events = self._events
            self._events = []
        return events

    def _receive(self, data: bytes) -> None:
        if self.closed:
            return
        if self._buffer:
            data = self._buffer + data
            self._buffer = b""
        if self._preface:
            size = len(CONNECTION_PREFACE)
            if len(data) < size and CONNECTION_PREFACE.startswith(data):
                self._buffer = data
                return
            if data[:size] != CONNECTION_PREFACE:
                self._fail(H2ConnectionError(ErrorCode.PROTOCOL_ERROR, "invalid preface"))
                return
            self._preface = False
            data = data[size:]
        pos = 0
        end = len(data)
        max_frame = self.limits.max_frame_size
        while end - pos >= 9:
            length_type, flags, stream_id = _unpack_header(data, pos)
            length = length_type >> 8
            if length > max_frame:
                self._fail(H2ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "frame too large"))
                return
            start = pos + 9
            if end - start < length:
                break
            pos = start + length
            ftype = length_type & 0xFF
            stream_id &= 0x7FFFFFFF
            payload = data[start:pos]
            try:
                if not self._settings_seen and ftype != FrameType.SETTINGS:
                    raise H2ConnectionError(
                        ErrorCode.PROTOCOL_ERROR, "the first frame must be SETTINGS (3.4)"
                    )
                if self._continuing is not None and ftype != _CONTINUATION:
                    raise H2ConnectionError(
                        ErrorCode.PROTOCOL_ERROR, "a header block was interrupted (6.10)"
                    )
                if ftype == _DATA:
                    self._on_data(stream_id, flags, payload)
                elif ftype == _HEADERS:
                    self._on_headers(stream_id, flags, payload)
                else:
                    self._on_control(ftype, stream_id, flags, payload)
            except H2StreamError as exc:
                if not self._stream_error(exc):
                    return
            except H2ConnectionError as exc:
                self._fail(exc)
                return
        if pos < end:
            self._buffer = data[pos:]
        return

    def _on_control(self, ftype: int, stream_id: int, flags: int, payload: bytes) -> None:
        if ftype == FrameType.WINDOW_UPDATE:
            self._on_window_update(stream_id, payload)
        elif ftype == FrameType.RST_STREAM:
            self._on_rst_stream(stream_id, payload)
        elif ftype == FrameType.SETTINGS:
            self._on_settings(stream_id, flags, payload)
        elif ftype == FrameType.PING:
            self._on_ping(stream_id, flags, payload)
        elif ftype == _CONTINUATION:
            self._on_continuation(stream_id, flags, payload)
        elif ftype == FrameType.PRIORITY:
            self._on_priority(stream_id, payload)
        elif ftype == FrameType.GOAWAY:
            self._on_goaway(stream_id, payload)
        elif ftype == FrameType.PUSH_PROMISE:
            # A server never receives it (8.4); we tell servers we refuse push (6.5.2).
            raise H2ConnectionError(ErrorCode.PROTOCOL_ERROR, "PUSH_PROMISE is not accepted")
        elif ftype == FrameType.PRIORITY_UPDATE:
            if stream_id != 0:
                raise H2ConnectionError(ErrorCode.PROTOCOL_ERROR, "PRIORITY_UPDATE on a stream")
            if not self._budget_priority.take():
                raise H2ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, "priority flood")
        elif not self._budget_empty.take():  # an unknown frame type: ignored (4.1, 5.5)
            raise H2ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, "flood of unknown frames")

    @staticmethod
    def _unpad(stream_id: int, flags: int, payload: bytes) -> bytes:
        if not flags & PADDED:
            return payload
        if not payload:
            raise H2ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "padded frame without length")
        pad = payload[0]
        if pad >= len(payload):
            raise H2ConnectionError(ErrorCode.PROTOCOL_ERROR, "padding longer than the frame")
        return payload[1 : len(payload) - pad]

    def _on_data(self, stream_id: int, flags: int, payload: bytes) -> None:
        if stream_id == 0:
            raise H2ConnectionError(ErrorCode.PROTOCOL_ERROR, "DATA on stream 0 (6.1)")
        size = len(payload)
        data = self._unpad(stream_id, flags, payload) if flags & PADDED else payload
        self.recv_window -= size
        if self.recv_window < 0:
            raise H2ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, "connection window exceeded")
        end_stream = bool(flags & END_STREAM)
        if not data and not end_stream and not self._budget_empty.take():
            raise H2ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, "flood of empty DATA frames")
        stream = self.streams.get(stream_id)
        if stream is None or stream.recv_closed:
            self._release(None, size)  # the peer may not know yet; the connection window
            if stream_id in self._reset_ids:
                return
            self._check_not_idle(stream_id)
            raise H2StreamError(stream_id, ErrorCode.STREAM_CLOSED, "DATA on a closed stream")
        stream.recv_window -= size
        if stream.recv_window < 0:
            self._release(None, size)
            raise H2StreamError(stream_id, ErrorCode.FLOW_CONTROL_ERROR, "stream window exceeded")
        if size != len(data):
            self._release(stream, size - len(data))  # padding is never consumed by anyone
        stream.received += len(data)
        expected = stream.content_length
        if expected is not None and (
            stream.received > expected or (end_stream and stream.received != expected)
        ):
            raise H2StreamError(
                stream_id, ErrorCode.PROTOCOL_ERROR, "body length differs from content-length"
            )
        if end_stream:
            stream.recv_closed = True
            if stream.send_closed:
                self._forget(stream)
        self._events.append(DataReceived(stream_id, data, end_stream))

    def _check_not_idle(self, stream_id: int) -> None:
        """Section 5.1: most frames on an idle stream are a connection error."""
        ours = (stream_id & 1) == (1 if self.client else 0)
        highest = self.highest_local if ours else self.highest_remote
        if stream_id > highest:
            raise H2ConnectionError(ErrorCode.PROTOCOL_ERROR, f"frame on idle stream {stream_id}")

    def _on_headers(self, stream_id: int, flags: int, payload: bytes) -> None:
        if stream_id == 0:
            raise H2ConnectionError(ErrorCode.PROTOCOL_ERROR, "HEADERS on stream 0 (6.2)")
        block = self._unpad(stream_id, flags, payload) if flags & PADDED else payload
        if flags & PRIORITY_FLAG:
            if len(block) < 5:
                raise H2ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "HEADERS priority truncated")
            if _U32.unpack_from(block)[0] & 0x7FFFFFFF == stream_id:
                self._skip_block(stream_id, flags, block[5:])
                raise H2StreamError(stream_id, ErrorCode.PROTOCOL_ERROR, "stream depends on itself")
            block = block[5:]
        if flags & END_HEADERS:
            self._on_block(stream_id, flags, block)
        else:
            if len(block) > self.limits.max_block_size:
                raise H2ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, "header block too large")
            self._continuing = (stream_id, flags, [block], len(block), 0)

    def _skip_block(self, stream_id: int, flags: int, block: bytes) -> None:
        """Decode a block only to keep HPACK in step (its stream is being refused)."""
        if flags & END_HEADERS:
            self._decode(block)
        else:
            self._continuing = (stream_id, flags | 0x100, [block], len(block), 0)

    def _on_continuation(self, stream_id: int, flags: int, payload: bytes) -> None:
        continuing = self._continuing
        if continuing is None or continuing[0] != stream_id:
            raise H2ConnectionError(ErrorCode.PROTOCOL_ERROR, "unexpected CONTINUATION (6.10)")
        first_id, first_flags, parts, size, count = continuing
        size += len(payload)
        count += 1
        limits = self.limits
        if size > limits.max_block_size or count > limits.max_continuations:
            raise H2ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, "header block too large")
        if not payload and not flags & END_HEADERS and not self._budget_empty.take():
            raise H2ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, "flood of empty CONTINUATION")
        parts.append(payload)
        if not flags & END_HEADERS:
            self._continuing = (first_id, first_flags, parts, size, count)
            return
        self._continuing = None
        block = b"".join(parts)
        if first_flags & 0x100:  # the stream was refused when its HEADERS arrived
            self._decode(block)
            return
        self._on_block(stream_id, first_flags, block)

    def _decode(self, block: bytes) -> list[tuple[bytes, bytes]] | None:
        """The block's fields; ``None`` if the list is over the size limit."""
        try:
            return self._decoder.decode(block, self.limits.max_header_list_size)
        except HeaderListTooLarge:
            return None
        except HPACKError as exc:
            raise H2ConnectionError(ErrorCode.COMPRESSION_ERROR, str(exc)) from None

    def _on_block(self, stream_id: int, flags: int, block: bytes) -> None:
        end_stream = bool(flags & END_STREAM)
        stream = self.streams.get(stream_id)
        if stream is None and not self.client:
            self._on_request(stream_id, block, end_stream)
            return
        if stream is None:
            self._decode(block)
            if stream_id in self._reset_ids:
                return
            raise H2ConnectionError(ErrorCode.PROTOCOL_ERROR, f"HEADERS on stream {stream_id}")
        if stream.recv_closed:
            self._decode(block)
            raise H2StreamError(stream_id, ErrorCode.STREAM_CLOSED, "HEADERS after END_STREAM")
        if not stream.head_done:
            self._on_response(stream, block, end_stream)
            return
        fields = self._decode(block)  # trailers (8.1)
        if not end_stream:
            raise H2StreamError(stream_id, ErrorCode.PROTOCOL_ERROR, "trailers without END_STREAM")
        if fields is None:
            raise H2StreamError(stream_id, ErrorCode.PROTOCOL_ERROR, "trailers too large")
        trailers = check_trailers(stream_id, fields)
        expected = stream.content_length
        if expected is not None and stream.received != expected:
            raise H2StreamError(
                stream_id, ErrorCode.PROTOCOL_ERROR, "body length differs from content-length"
            )
        stream.recv_closed = True
        if stream.send_closed:
            self._forget(stream)
        self._events.append(TrailersReceived(stream_id, trailers))

    def _on_request(self, stream_id: int, block: bytes, end_stream: bool) -> None:
        """A HEADERS frame that opens a stream (server side)."""
        decoder = self._decoder
        cache = self._blocks
        if self._blocks_generation != decoder.generation:
            cache.clear()
            self._blocks_generation = decoder.generation
        head = cache.get(block)
        fields = None
        if head is None:
            fields = self._decode(block)
        if stream_id & 1 == 0:
            raise H2ConnectionError(ErrorCode.PROTOCOL_ERROR, "client stream ids are odd (5.1.1)")
        if stream_id <= self.highest_remote:
            if stream_id in self._reset_ids:
                return
            raise H2ConnectionError(
                ErrorCode.STREAM_CLOSED, f"HEADERS on closed stream {stream_id}"
            )
        self.highest_remote = stream_id
        if self.local_goaway is not None and stream_id > self.local_goaway:
            return  # after our GOAWAY: ignored, the client may retry it elsewhere (6.8)
        if head is None:
            if fields is None:  # over the header list limit: 431 (section 10.5.1)
                self._refuse(stream_id, None)
                return
            head = check_request(stream_id, fields)
            if decoder.generation == self._blocks_generation and len(cache) < _CACHE_MAX:
                cache[block] = head
        limits = self.limits
        if len(self.streams) >= limits.max_concurrent_streams:
            raise H2StreamError(stream_id, ErrorCode.REFUSED_STREAM, "too many concurrent streams")
        self.stream_count += 1
        if self.stream_count >= limits.max_streams_per_connection and self.local_goaway is None:
            self.goaway(ErrorCode.NO_ERROR, stream_id)
        pseudo, headers, content_length = head
        stream = H2Stream(stream_id, self.peer_initial_window, limits.initial_window_size)
        stream.head_done = True
        stream.content_length = content_length
        self.last_processed = stream_id
        if end_stream:
            stream.recv_closed = True
            if content_length:
                raise H2StreamError(
                    stream_id, ErrorCode.PROTOCOL_ERROR, "body length differs from content-length"
                )
        self.streams[stream_id] = stream
        self._events.append(RequestReceived(stream_id, pseudo, list(headers), end_stream))

    def _refuse(self, stream_id: int, stream: H2Stream | None) -> None:
        """A head over the size limit: 431 from a server, a reset from a client."""
        if self.client:
            raise H2StreamError(stream_id, ErrorCode.PROTOCOL_ERROR, "response head too large")
        stream = H2Stream(stream_id, self.peer_initial_window, 0)
        stream.recv_closed = True
        self.streams[stream_id] = stream
        self.send_headers(stream_id, _431, end_stream=True)

    def _on_response(self, stream: H2Stream, block: bytes, end_stream: bool) -> None:
        stream_id = stream.id
        fields = self._decode(block)
        if fields is None:
            self._refuse(stream_id, stream)
            return
        status, headers, content_length = check_response(stream_id, fields)
        if status < 200:
            if end_stream or status == 101:
                raise H2StreamError(stream_id, ErrorCode.PROTOCOL_ERROR, "invalid 1xx response")
            self._events.append(InformationalReceived(stream_id, status, headers))
            return
        stream.head_done = True
        stream.content_length = content_length
        if end_stream:
            stream.recv_closed = True
            if stream.send_closed:
                self._forget(stream)
        self._events.append(ResponseReceived(stream_id, status, headers, end_stream))

    def _on_rst_stream(self, stream_id: int, payload: bytes) -> None:
        if len(payload) != 4:
            raise H2ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "RST_STREAM length (6.4)")
        if stream_id == 0:
            raise H2ConnectionError(ErrorCode.PROTOCOL_ERROR, "RST_STREAM on stream 0")
        stream = self.streams.get(stream_id)
        if stream is None:
            self._check_not_idle(stream_id)
            return
        if not self._budget_reset.take():
            raise H2ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, "too many stream resets")
        code = _U32.unpack(payload)[0]
        self._forget(stream)  # later frames on it are errors (5.1, "closed")
        self._events.append(StreamReset(stream_id, code, True))

    def _on_settings(self, stream_id: int, flags: int, payload: bytes) -> None:
        if stream_id != 0:
            raise H2ConnectionError(ErrorCode.PROTOCOL_ERROR, "SETTINGS on a stream (6.5)")
        if flags & ACK:
            if payload:
                raise H2ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "SETTINGS ACK with payload")
            return
        if len(payload) % 6:
            raise H2ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "SETTINGS length (6.5)")
        if self._settings_seen and not self._budget_settings.take():
            raise H2ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, "SETTINGS flood")
        self._settings_seen = True
        self._apply_settings(payload, ack=True)

    def _apply_settings(self, payload: bytes, ack: bool) -> None:
        changed: dict[int, int] = {}
        for offset in range(0, len(payload) - len(payload) % 6, 6):
            key, value = _SETTING.unpack_from(payload, offset)
            if key == Setting.ENABLE_PUSH:
                if value > 1 or (self.client and value):
                    raise H2ConnectionError(ErrorCode.PROTOCOL_ERROR, "invalid ENABLE_PUSH")
            elif key == Setting.INITIAL_WINDOW_SIZE:
                if value > MAX_WINDOW:
                    raise H2ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, "window too large")
            elif key == Setting.MAX_FRAME_SIZE:
                if not MIN_FRAME_SIZE <= value <= MAX_FRAME_SIZE:
                    raise H2ConnectionError(ErrorCode.PROTOCOL_ERROR, "invalid MAX_FRAME_SIZE")
            elif key == Setting.ENABLE_CONNECT_PROTOCOL and value > 1:
                raise H2ConnectionError(ErrorCode.PROTOCOL_ERROR, "invalid CONNECT_PROTOCOL")
            changed[key] = value
        for key, value in changed.items():
            if key == Setting.INITIAL_WINDOW_SIZE:
                delta = value - self.peer_initial_window
                self.peer_initial_window = value
                for stream in self.streams.values():
                    stream.send_window += delta
                    if stream.send_window > MAX_WINDOW:
                        raise H2ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, "window too large")
            elif key == Setting.MAX_FRAME_SIZE:
                self.peer_max_frame_size = value
            elif key == Setting.MAX_CONCURRENT_STREAMS:
                self.peer_max_concurrent = value
            elif key == Setting.MAX_HEADER_LIST_SIZE:
                self.peer_max_header_list = value
            elif key == Setting.HEADER_TABLE_SIZE:
                self._encoder.table_size_changed()
            elif key == Setting.ENABLE_CONNECT_PROTOCOL:
                self.peer_connect_protocol = bool(value)
        if ack:
            self._out.append(frame_header(0, FrameType.SETTINGS, ACK, 0))
        if Setting.INITIAL_WINDOW_SIZE in changed:
            self._flush_all()
        if changed:
            self._events.append(SettingsChanged(changed))

    def _on_ping(self, stream_id: int, flags: int, payload: bytes) -> None:
        if len(payload) != 8:
            raise H2ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "PING length (6.7)")
        if stream_id != 0:
            raise H2ConnectionError(ErrorCode.PROTOCOL_ERROR, "PING on a stream (6.7)")
        if flags & ACK:
            self._events.append(PingAcked(payload))
            return
        if not self._budget_ping.take():
            raise H2ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, "PING flood")
        self._out.append(frame_header(8, FrameType.PING, ACK, 0) + payload)

    def _on_priority(self, stream_id: int, payload: bytes) -> None:
        # RFC 9218 deprecates these signals; we check their form and otherwise ignore them.
        if stream_id == 0:
            raise H2ConnectionError(ErrorCode.PROTOCOL_ERROR, "PRIORITY on stream 0 (6.3)")
        if len(payload) != 5:
            raise H2StreamError(stream_id, ErrorCode.FRAME_SIZE_ERROR, "PRIORITY length (6.3)")
        if not self._budget_priority.take():
            raise H2ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, "PRIORITY flood")
        if _U32.unpack_from(payload)[0] & 0x7FFFFFFF == stream_id:
            raise H2StreamError(stream_id, ErrorCode.PROTOCOL_ERROR, "stream depends on itself")

    def _on_goaway(self, stream_id: int, payload: bytes) -> None:
        if stream_id != 0:
            raise H2ConnectionError(ErrorCode.PROTOCOL_ERROR, "GOAWAY on a stream (6.8)")
        if len(payload) < 8:
            raise H2ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "GOAWAY length (6.8)")
        last, code = _GOAWAY.unpack_from(payload)
        last &= 0x7FFFFFFF
        self.remote_goaway = last
        self._events.append(ConnectionTerminated(code, last, payload[8:], True))

    def _on_window_update(self, stream_id: int, payload: bytes) -> None:
        if len(payload) != 4:
            raise H2ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "WINDOW_UPDATE length (6.9)")
        increment = _U32.unpack(payload)[0] & 0x7FFFFFFF
        if stream_id == 0:
            if increment == 0:
                raise H2ConnectionError(ErrorCode.PROTOCOL_ERROR, "window increment of 0")
            self.send_window += increment
            if self.send_window > MAX_WINDOW:
                raise H2ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, "window above 2**31-1")
            self._flush_all()
            return
        stream = self.streams.get(stream_id)
        if stream is None:
            self._check_not_idle(stream_id)
            return
        if increment == 0:
            raise H2StreamError(stream_id, ErrorCode.PROTOCOL_ERROR, "window increment of 0")
        stream.send_window += increment
        if stream.send_window > MAX_WINDOW:
            raise H2StreamError(stream_id, ErrorCode.FLOW_CONTROL_ERROR, "window above 2**31-1")
        if stream.pending and self._flush(stream):
            self._events.append(SendReady(stream_id))

    # -- errors ----------------------------------------------------------------------------

    def _stream_error(self, exc: H2StreamError) -> bool:
        """Reset the stream; a peer that keeps provoking resets runs out of budget (then
        the connection fails, and this returns False)."""
        if not self._budget_reset.take():
            self._fail(H2ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, "too many stream errors"))
            return False
        stream_id = exc.stream_id
        had_stream = stream_id in self.streams
        self.reset_stream(stream_id, exc.code)
        if had_stream:
            self._events.append(StreamReset(stream_id, exc.code, False))
        return True

    def _fail(self, exc: H2ConnectionError) -> None:
        last = self.highest_remote
        self._send_goaway(exc.code, last, exc.message.encode("utf-8", "replace"))
        self.closed = True
        self._events.append(
            ConnectionTerminated(exc.code, last, exc.message.encode("utf-8", "replace"), False)
        )

    def _send_goaway(self, code: int, last: int, debug: bytes) -> None:
        self._out.append(
            frame_header(8 + len(debug), FrameType.GOAWAY, 0, 0) + _GOAWAY.pack(last, code) + debug
        )
        self.local_goaway = last if self.local_goaway is None else min(last, self.local_goaway)

    def _remember_reset(self, stream_id: int) -> None:
        ids = self._reset_ids
        ids[stream_id] = None
        if len(ids) > _RESET_MEMORY:
            del ids[next(iter(ids))]

    def _forget(self, stream: H2Stream) -> None:
        self.streams.pop(stream.id, None)
        if stream.recv_unacked:
            stream.recv_unacked = 0

    # -- flow control, receiving -----------------------------------------------------------

    def _release(self, stream: H2Stream | None, size: int) -> None:
        """Return ``size`` consumed bytes to the windows (WINDOW_UPDATE past half)."""
        self.conn_unacked += size
        if self.conn_unacked >= self.limits.connection_window_size // 2:
            self._window_update(0, self.conn_unacked)
            self.recv_window += self.conn_unacked
            self.conn_unacked = 0
        if stream is not None and not stream.recv_closed:
            stream.recv_unacked += size
            if stream.recv_unacked >= self.limits.initial_window_size // 2:
                self._window_update(stream.id, stream.recv_unacked)
                stream.recv_window += stream.recv_unacked
                stream.recv_unacked = 0

    def acknowledge(self, stream_id: int, size: int) -> None:
        """The app took ``size`` bytes of the stream's body: reopen the windows."""
        if size:
            self._release(self.streams.get(stream_id), size)

    def _window_update(self, stream_id: int, increment: int) -> None:
        self._out.append(frame_header(4, FrameType.WINDOW_UPDATE, 0, stream_id))
        self._out.append(_U32.pack(increment))

    # -- sending ---------------------------------------------------------------------------

    def open_stream(self) -> int:
        """A new stream id for a request (client side); ``send_headers`` opens it."""
        stream_id = self.next_stream_id
        self.next_stream_id += 2
        self.highest_local = stream_id
        self.streams[stream_id] = H2Stream(
            stream_id, self.peer_initial_window, self.limits.initial_window_size
        )
        return stream_id

    def send_headers(
        self, stream_id: int, headers: list[tuple[bytes, bytes]], end_stream: bool = False
    ) -> None:
        """HEADERS (+ CONTINUATION) for ``headers``: a head, an interim head or trailers."""
        stream = self.streams[stream_id]
        encoder = self._encoder
        field = encoder.field
        block = encoder.prefix() + b"".join([field(n, v) for n, v in headers])
        flags = END_STREAM if end_stream else 0
        size = len(block)
        out = self._out
        max_frame = self.peer_max_frame_size
        if size <= max_frame:
            out.append(_pack_header(size << 8 | _HEADERS, flags | END_HEADERS, stream_id))
            out.append(block)
        else:
            view = memoryview(block)
            out.append(_pack_header(max_frame << 8 | _HEADERS, flags, stream_id))
            out.append(bytes(view[:max_frame]))
            for offset in range(max_frame, size, max_frame):
                part = view[offset : offset + max_frame]
                last = END_HEADERS if offset + max_frame >= size else 0
                out.append(_pack_header(len(part) << 8 | _CONTINUATION, last, stream_id))
                out.append(bytes(part))
        if end_stream:
            self._end_sending(stream)

    def _end_sending(self, stream: H2Stream) -> None:
        stream.send_closed = True
        if stream.recv_closed:
            self._forget(stream)

    def send_data(self, stream_id: int, data: bytes, end_stream: bool = False) -> None:
        """DATA as the windows allow; the rest waits for WINDOW_UPDATE (``pending_size``)."""
        stream = self.streams[stream_id]
        size = len(data)
        if (
            not stream.pending
            and size <= self.send_window
            and size <= stream.send_window
            and size <= self.peer_max_frame_size
        ):
            self._out.append(
                _pack_header(size << 8 | _DATA, END_STREAM if end_stream else 0, stream_id)
            )
            if size:
                self._out.append(data)
            self.send_window -= size
            stream.send_window -= size
            if end_stream:
                self._end_sending(stream)
            return
        if size:
            stream.pending.append(memoryview(data))
            stream.pending_size += size
        stream.pending_end = end_stream
        self._flush(stream)

    def _flush(self, stream: H2Stream) -> bool:
        """Send what the windows allow of the stream's pending data; True if any went."""
        out = self._out
        max_frame = self.peer_max_frame_size
        pending = stream.pending
        stream_id = stream.id
        sent = False
        while pending:
            allowed = min(self.send_window, stream.send_window, max_frame)
            if allowed <= 0:
                if stream.stalled_at is None:
                    stream.stalled_at = self._clock()
                return sent
            view = pending[0]
            if len(view) <= allowed:
                del pending[0]
                chunk = view
            else:
                chunk = view[:allowed]
                pending[0] = view[allowed:]
            size = len(chunk)
            stream.pending_size -= size
            self.send_window -= size
            stream.send_window -= size
            last = not pending and stream.pending_end
            out.append(_pack_header(size << 8 | _DATA, END_STREAM if last else 0, stream_id))
            out.append(bytes(chunk))
            sent = True
            if last:
                stream.pending_end = False
                self._end_sending(stream)
        stream.stalled_at = None
        if stream.pending_end:  # an empty final DATA frame (no body was left to carry it)
            out.append(_pack_header(_DATA, END_STREAM, stream_id))
            stream.pending_end = False
            self._end_sending(stream)
            sent = True
        return sent

    def _flush_all(self) -> None:
        for stream in list(self.streams.values()):
            if stream.pending and self._flush(stream):
                self._events.append(SendReady(stream.id))

    def pending_size(self, stream_id: int) -> int:
        """Bytes of the stream's DATA waiting for a window (0 for an unknown stream)."""
        stream = self.streams.get(stream_id)
        return stream.pending_size if stream is not None else 0

    def reset_stream(self, stream_id: int, code: int = ErrorCode.CANCEL) -> None:
        """RST_STREAM: end the stream in both directions."""
        stream = self.streams.get(stream_id)
        if stream is not None:
            self._forget(stream)
        self._remember_reset(stream_id)
        self._out.append(frame_header(4, FrameType.RST_STREAM, 0, stream_id) + _U32.pack(code))

    def ping(self, data: bytes = b"\0" * 8) -> None:
        """PING (8 octets); the answer comes as ``PingAcked``."""
        self._out.append(frame_header(8, FrameType.PING, 0, 0) + data[:8].ljust(8, b"\0"))

    def goaway(self, code: int = ErrorCode.NO_ERROR, last_stream_id: int | None = None) -> None:
        """GOAWAY: no new streams; those up to ``last_stream_id`` (default: all the peer
        opened so far) are still processed."""
        last = self.highest_remote if last_stream_id is None else last_stream_id
        self._send_goaway(code, last, b"")
        if code != ErrorCode.NO_ERROR:
            self.closed = True

    def check_stalls(self, timeout: float) -> None:
        """Reset streams whose data waited ``timeout`` seconds for a window; if the
        connection window is the one that stayed shut, end the connection."""
        now = self._clock()
        for stream in list(self.streams.values()):
            if stream.stalled_at is not None and now - stream.stalled_at >= timeout:
                if self.send_window <= 0:
                    self._fail(
                        H2ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, "connection window stalled")
                    )
                    return
                self.reset_stream(stream.id, ErrorCode.CANCEL)
                self._events.append(StreamReset(stream.id, ErrorCode.CANCEL, False))

    def take_events(self) -> list[Event]:
        """Events produced outside ``receive`` (by ``check_stalls``)."""
        events = self._events
        self._events = []
        return events
