"""Sending and flow control of the sans-IO HTTP/2 connection (a mixin of ``H2Connection``).

Outgoing frames accumulate in ``_out``; DATA goes out while both the connection's and the
stream's windows allow and the rest waits on the stream as memoryviews (RFC 9113 section
5.2), flushed as WINDOW_UPDATE frames arrive. Incoming data is acknowledged by the caller
(``acknowledge``) once consumed, in steps of half a window. See ``_h2_connection``.
"""

from __future__ import annotations

import struct

from vivace.http._h2_events import (
    ConnectionTerminated,
    SendReady,
    StreamReset,
)
from vivace.http._h2_frames import (
    END_HEADERS,
    END_STREAM,
    ErrorCode,
    FrameType,
    H2ConnectionError,
    frame_header,
)
from vivace.http._h2_state import H2State, H2Stream

__all__ = ["Sending"]

_HEADER = struct.Struct(">IBI")
_pack_header = _HEADER.pack
_U32 = struct.Struct(">I")
_GOAWAY = struct.Struct(">II")
_RESET_MEMORY = 1024  # how many streams we reset are remembered (frames still in flight)
_DATA = FrameType.DATA
_HEADERS = FrameType.HEADERS
_CONTINUATION = FrameType.CONTINUATION


class Sending(H2State):
    """Sending, resets, GOAWAY and flow control."""

    __slots__ = ()

    def _forget(self, stream: H2Stream) -> None:
        self.streams.pop(stream.id, None)
        if stream.recv_unacked:
            stream.recv_unacked = 0

    def _remember_reset(self, stream_id: int) -> None:
        ids = self._reset_ids
        ids[stream_id] = None
        if len(ids) > _RESET_MEMORY:
            del ids[next(iter(ids))]

    def _send_goaway(self, code: int, last: int, debug: bytes) -> None:
        self._out.append(
            frame_header(8 + len(debug), FrameType.GOAWAY, 0, 0) + _GOAWAY.pack(last, code) + debug
        )
        self.local_goaway = last if self.local_goaway is None else min(last, self.local_goaway)

    def _fail(self, exc: H2ConnectionError) -> None:
        last = self.highest_remote
        self._send_goaway(exc.code, last, exc.message.encode("utf-8", "replace"))
        self.closed = True
        self._events.append(
            ConnectionTerminated(exc.code, last, exc.message.encode("utf-8", "replace"), False)
        )

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
            and size <= self.data_allowance
        ):
            self._out.append(
                _pack_header(size << 8 | _DATA, END_STREAM if end_stream else 0, stream_id)
            )
            if size:
                self._out.append(data)
            self.send_window -= size
            stream.send_window -= size
            self.data_allowance -= size
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
            window = min(self.send_window, stream.send_window)
            if window <= 0:
                if stream.stalled_at is None:
                    stream.stalled_at = self._clock()
                return sent
            allowed = min(window, max_frame, self.data_allowance)
            if allowed <= 0:
                # The windows are open but the caller's transport is full: the data waits
                # for ``allow_data``, not for the peer (no stall is counted against it).
                stream.stalled_at = None
                self.data_held = True
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
            self.data_allowance -= size
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

    def allow_data(self, allowance: int) -> None:
        """Let ``allowance`` bytes of DATA be framed until the next call (the room left in
        the caller's send buffer), and frame the DATA that waited for it: each stream that
        sent some reports ``SendReady``. Without a call the allowance is unbounded; a
        caller that writes to a socket bounds it, so a peer with large windows does not
        have its whole response queued in memory at once."""
        self.data_allowance = allowance
        if self.data_held:
            self.data_held = False
            self._flush_all()

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
