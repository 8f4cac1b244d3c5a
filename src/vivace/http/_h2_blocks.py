"""Header blocks of the sans-IO HTTP/2 connection (a mixin of ``H2Connection``).

HEADERS and CONTINUATION frames are assembled into one block (bounded in size and frame
count), which is always decoded (HPACK state stays in step with the peer, RFC 9113 section
4.3) before it is judged: a request head (server), a response or 1xx head (client), or
trailers. A server caches validated request heads per block bytes while the HPACK dynamic
table is unchanged. See ``_h2_connection``.
"""

from __future__ import annotations

import struct

from vivace.http._h2_events import (
    InformationalReceived,
    RequestReceived,
    ResponseReceived,
    TrailersReceived,
)
from vivace.http._h2_fields import check_request, check_response, check_trailers
from vivace.http._h2_frames import (
    END_HEADERS,
    END_STREAM,
    PADDED,
    PRIORITY_FLAG,
    ErrorCode,
    H2ConnectionError,
    H2StreamError,
)
from vivace.http._h2_send import Sending
from vivace.http._h2_state import H2Stream, unpad
from vivace.http._hpack import HeaderListTooLarge, HPACKError

__all__ = ["HeaderBlocks"]

_U32 = struct.Struct(">I")
_CACHE_MAX = 256  # validated request heads kept per connection
_431 = [(b":status", b"431"), (b"content-length", b"0")]


class HeaderBlocks(Sending):
    """HEADERS and CONTINUATION frames, heads and trailers."""

    __slots__ = ()

    def _on_headers(self, stream_id: int, flags: int, payload: bytes) -> None:
        if stream_id == 0:
            raise H2ConnectionError(ErrorCode.PROTOCOL_ERROR, "HEADERS on stream 0 (6.2)")
        block = unpad(payload) if flags & PADDED else payload
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
