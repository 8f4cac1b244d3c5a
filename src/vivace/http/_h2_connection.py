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

from vivace.http._h2_blocks import HeaderBlocks
from vivace.http._h2_events import (
    ConnectionTerminated,
    DataReceived,
    Event,
    PingAcked,
    SendReady,
    SettingsChanged,
    StreamReset,
)
from vivace.http._h2_frames import (
    ACK,
    CONNECTION_PREFACE,
    DEFAULT_WINDOW,
    END_STREAM,
    MAX_FRAME_SIZE,
    MAX_WINDOW,
    MIN_FRAME_SIZE,
    PADDED,
    ErrorCode,
    FrameType,
    H2ConnectionError,
    H2StreamError,
    Setting,
    frame_header,
    settings_payload,
)
from vivace.http._h2_state import H2Stream, unpad

__all__ = ["H2Connection", "H2Stream"]

_HEADER = struct.Struct(">IBI")
_unpack_header = _HEADER.unpack_from
_U32 = struct.Struct(">I")
_GOAWAY = struct.Struct(">II")
_SETTING = struct.Struct(">HI")
_DATA = FrameType.DATA
_HEADERS = FrameType.HEADERS
_CONTINUATION = FrameType.CONTINUATION


class H2Connection(HeaderBlocks):
    """One HTTP/2 connection's protocol state. ``client`` picks the side.

    >>> server = H2Connection(client=False)
    >>> server.initiate()
    >>> server.data_to_send()[:9].hex()  # our SETTINGS frame comes first
    '000024040000000000'
    """

    __slots__ = ()

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

    def _on_data(self, stream_id: int, flags: int, payload: bytes) -> None:
        if stream_id == 0:
            raise H2ConnectionError(ErrorCode.PROTOCOL_ERROR, "DATA on stream 0 (6.1)")
        size = len(payload)
        data = unpad(payload) if flags & PADDED else payload
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

    def take_events(self) -> list[Event]:
        """Events produced outside ``receive`` (by ``check_stalls``)."""
        events = self._events
        self._events = []
        return events
