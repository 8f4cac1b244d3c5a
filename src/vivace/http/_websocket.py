"""WebSocket vocabulary shared by the server, the client and the framework (RFC 6455).

- ``CloseCode``: the close codes of RFC 6455 section 7.4.1 (and the IANA registry).
- ``WebSocketDisconnect``: the peer closed the connection; raised by ``receive`` calls on
  both sides (``vivace.web``'s ``WebSocket`` and ``vivace.client``'s sessions raise this
  same class, so one ``except`` works in handlers and in tests).
- ``accept_key``: the ``Sec-WebSocket-Accept`` value for a ``Sec-WebSocket-Key``.
- ``WebSocketCore``: the sans-IO connection (bytes in, messages out, bytes to send) that
  the server's and the client's asyncio shells drive.

Framing is done by the ``websockets`` library's sans-IO ``Protocol`` (chosen over
``wsproto`` by measurement: 3-4x faster to parse and serialize, see docs/websockets.md);
``WebSocketCore`` adds what the ASGI and client layers need on top: whole messages (text
decoded and validated, fragments joined), close codes for bad input, and a flat event list.

Theory of operation
-------------------
The core is OPEN after a successful handshake (the handshake itself belongs to the
server and the client). ``receive_data`` feeds bytes and returns events in order:

- ``str``: a complete text message (UTF-8 validated; fragments validated as they come,
  so an invalid byte fails the connection at once: RFC 6455 section 8.1);
- ``bytes``: a complete binary message;
- ``WebSocketPing`` / ``WebSocketPong``: control frames (the pong answering a ping is
  queued automatically);
- ``WebSocketClosed``: the last event. The peer sent a close frame (its code, or 1005 when it
  sent none), or the connection failed: 1002 for a protocol error (including an unmasked
  client frame, section 5.1), 1007 for invalid UTF-8 (section 8.1), 1009 for a message
  over ``max_message_size``, 1006 for an end of stream without a close frame.

Whatever must go out (pongs, the echo of a close frame, our own close frame when failing)
is collected by ``data_to_send()``; ``should_close`` then tells the shell to close the
TCP connection once that data is written (a server closes right after the closing
handshake, section 7.1.1). ``send_*`` methods return the bytes of one frame to write.

States: OPEN -> CLOSING (a close frame sent, waiting for the peer's) -> CLOSED (close
frames exchanged, or the connection failed or ended). Sending data after OPEN is an
error (``RuntimeError``): the caller's state tracking is wrong.
"""

from __future__ import annotations

import base64
import codecs
import enum
import hashlib
import logging
import os
import struct
from collections.abc import Callable, Sequence
from typing import Any

from vivace.http import _compat

__all__ = [
    "CloseCode",
    "WebSocketClosed",
    "WebSocketCore",
    "WebSocketDisconnect",
    "WebSocketPing",
    "WebSocketPong",
    "accept_key",
]

# RFC 6455 section 1.3: the GUID appended to the key before hashing.
_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

logger = logging.getLogger("vivace.websocket")


class CloseCode(enum.IntEnum):
    """WebSocket close codes (RFC 6455 section 7.4.1).

    >>> CloseCode.MESSAGE_TOO_BIG == 1009
    True
    """

    NORMAL_CLOSURE = 1000
    GOING_AWAY = 1001
    PROTOCOL_ERROR = 1002
    UNSUPPORTED_DATA = 1003
    NO_STATUS_RCVD = 1005  # never sent: "the close frame had no code"
    ABNORMAL_CLOSURE = 1006  # never sent: "the connection ended without a close frame"
    INVALID_DATA = 1007
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009
    MANDATORY_EXTENSION = 1010
    INTERNAL_ERROR = 1011
    SERVICE_RESTART = 1012
    TRY_AGAIN_LATER = 1013


class WebSocketDisconnect(Exception):
    """The WebSocket connection is closed: ``code`` and ``reason`` say how.

    >>> exc = WebSocketDisconnect(1001, "server shutting down")
    >>> exc.code, exc.reason
    (1001, 'server shutting down')
    >>> str(WebSocketDisconnect())
    'WebSocket closed: 1000'
    """

    def __init__(self, code: int = 1000, reason: str = "") -> None:
        super().__init__(f"WebSocket closed: {code}" + (f" {reason}" if reason else ""))
        self.code = code
        self.reason = reason

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, reason={self.reason!r})"


def accept_key(key: str | bytes) -> str:
    """The ``Sec-WebSocket-Accept`` value for a ``Sec-WebSocket-Key`` (RFC 6455 4.2.2).

    >>> accept_key("dGhlIHNhbXBsZSBub25jZQ==")  # the example of RFC 6455 section 1.3
    's3pPLMBiTxaQ9kYGzzhZRbK+xOo='
    """
    raw = key.encode("ascii") if isinstance(key, str) else key
    return base64.b64encode(hashlib.sha1(raw + _GUID).digest()).decode("ascii")


class WebSocketPing:
    """A ping frame received (the pong reply is already queued)."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __repr__(self) -> str:
        return f"WebSocketPing({self.data!r})"


class WebSocketPong:
    """A pong frame received."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __repr__(self) -> str:
        return f"WebSocketPong({self.data!r})"


class WebSocketClosed:
    """The connection is closed (or closing): the code and reason the application sees."""

    __slots__ = ("code", "reason")

    def __init__(self, code: int, reason: str) -> None:
        self.code = code
        self.reason = reason

    def __repr__(self) -> str:
        return f"WebSocketClosed({self.code!r}, {self.reason!r})"


Event = str | bytes | WebSocketPing | WebSocketPong | WebSocketClosed

_OPEN, _CLOSING, _CLOSED = 0, 1, 2
_HEAD16 = struct.Struct("!BBH")

# websockets' masking function (C when its speedups are built), bound on first use so
# that importing vivace.http does not import websockets.
_apply_mask: Callable[[bytes, bytes], bytes]


def _load_mask() -> None:
    global _apply_mask
    _apply_mask = _compat.apply_mask()


# RFC 6455 section 7.4.1 and the IANA registry: the codes an endpoint may put in a frame
# (1004-1006 and 1015 are reserved; 3000-4999 are for libraries and applications).
_SENDABLE = frozenset((1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014))


class WebSocketCore:
    """A sans-IO WebSocket connection after its handshake (see the module docstring).

    >>> server = WebSocketCore(client=False)
    >>> client = WebSocketCore(client=True)
    >>> server.receive_data(client.send_text("hello"))
    ['hello']
    >>> client.receive_data(server.send_bytes(b"\\x00\\x01"))
    [b'\\x00\\x01']
    >>> server.receive_data(client.send_close(1000, "bye"))
    [WebSocketClosed(1000, 'bye')]
    >>> client.receive_data(b"".join(server.data_to_send()))  # the echoed close frame
    [WebSocketClosed(1000, 'bye')]

    ``extensions`` are negotiated ``websockets`` extension objects (permessage-deflate);
    ``max_message_size`` bounds a whole message after decompression (``None``: no bound).
    """

    __slots__ = (
        "_decoder",
        "_fast",
        "_fragments",
        "_limit",
        "_proto",
        "_state",
        "_text",
        "client",
        "close_code",
        "close_reason",
    )

    def __init__(
        self,
        *,
        client: bool,
        max_message_size: int | None = 1024 * 1024,
        extensions: Sequence[Any] = (),
    ) -> None:
        from websockets.protocol import Side

        if "_apply_mask" not in globals():
            _load_mask()
        Protocol = _compat.protocol_class()

        proto = Protocol(
            Side.CLIENT if client else Side.SERVER, max_size=max_message_size, logger=logger
        )
        proto.extensions = list(extensions)
        self._proto = proto
        # Without extensions, the common frames are parsed and built here (_fast_frames).
        self._fast = not extensions
        self._limit = max_message_size
        self.client = client
        self._state = _OPEN
        self._fragments: list[Any] = []
        self._text = False
        self._decoder: Any = None
        #: Set once the connection is closed: the code the application is told.
        self.close_code: int | None = None
        self.close_reason = ""

    # -- state ---------------------------------------------------------------------------

    @property
    def open(self) -> bool:
        """Messages may still be sent (no close frame sent or received yet)."""
        return self._state == _OPEN

    @property
    def closed(self) -> bool:
        """Close frames were exchanged, or the connection failed or ended."""
        return self._state == _CLOSED

    @property
    def should_close(self) -> bool:
        """The shell should close the TCP connection once ``data_to_send()`` is written."""
        return _compat.finished_writing(self._proto)

    @property
    def extensions(self) -> list[Any]:
        return list(self._proto.extensions)

    # -- receiving -----------------------------------------------------------------------

    def receive_data(self, data: bytes) -> list[Event]:
        """Parse bytes from the peer into events (see the module docstring)."""
        if self._state == _CLOSED:
            return []
        proto = self._proto
        if self._fast and _compat.at_frame_boundary(proto):
            out, used = self._fast_frames(data)
            if used == len(data):
                return out
            proto.receive_data(data[used:] if used else data)
            if out:
                out.extend(self._events())
                return out
            return self._events()
        proto.receive_data(data)
        return self._events()

    def _fast_frames(self, data: bytes) -> tuple[list[Event], int]:
        # The common case parsed here, not by the library's generator-based parser:
        # whole, unfragmented text or binary frames without extensions (RSV bits clear),
        # of at most 65535 bytes, masked as the side requires (RFC 6455 5.2). The first
        # frame that is anything else (a control frame, a fragment, a bad mask, a partial
        # frame, invalid UTF-8, too big) and everything after it go to the library, which
        # holds all the rules; it is at a frame boundary whenever this runs.
        out: list[Event] = []
        i = 0
        end = len(data)
        masked = not self.client
        limit = self._limit
        while end - i >= 2:
            first = data[i]
            if first != 0x81 and first != 0x82:
                break
            second = data[i + 1]
            if bool(second & 0x80) is not masked:
                break
            length = second & 0x7F
            start = i + 2
            if length == 126:
                if end - i < 4:
                    break
                length = (data[i + 2] << 8) | data[i + 3]
                start = i + 4
            elif length == 127:
                break
            if limit is not None and length > limit:
                break
            if masked:
                stop = start + 4 + length
                if stop > end:
                    break
                payload = _apply_mask(data[start + 4 : stop], data[start : start + 4])
            else:
                stop = start + length
                if stop > end:
                    break
                payload = data[start:stop]
            if first == 0x81:
                try:
                    out.append(payload.decode("utf-8"))
                except UnicodeDecodeError:
                    break
            else:
                out.append(payload)
            i = stop
        return out, i

    def receive_eof(self) -> list[Event]:
        """The peer closed the TCP connection (possibly without a close frame: 1006)."""
        if self._state == _CLOSED:
            return []
        self._proto.receive_eof()
        events = self._events()
        if self._state != _CLOSED:
            events.append(self._closed(1006, "the connection ended without a close frame"))
        return events

    def _events(self) -> list[Event]:
        proto = self._proto
        # Frames only: the handshake events (Request, Response) belong to its subclasses.
        frames: list[Any] = proto.events_received()
        out: list[Event] = []
        for frame in frames:
            opcode = frame.opcode
            if opcode == 1:  # text
                if frame.fin:
                    try:
                        out.append(frame.data.decode("utf-8"))
                    except UnicodeDecodeError as exc:
                        return self._fail(out, 1007, _utf8_reason(exc))
                else:
                    self._start_fragments(frame.data, text=True)
                    if self._decoder is None:
                        return self._fail(out, 1007, "invalid UTF-8 in a text fragment")
            elif opcode == 2:  # binary
                if frame.fin:
                    out.append(bytes(frame.data))
                else:
                    self._start_fragments(frame.data, text=False)
            elif opcode == 0:  # continuation (the library checked that one was expected)
                message = self._continue(frame.data, frame.fin)
                if message is not None:
                    out.append(message)
                elif self._text and self._decoder is None:
                    return self._fail(out, 1007, "invalid UTF-8 in a text fragment")
            elif opcode == 9:
                out.append(WebSocketPing(bytes(frame.data)))
            elif opcode == 10:
                out.append(WebSocketPong(bytes(frame.data)))
            else:  # close: the library echoed it (or it answers ours)
                received = proto.close_rcvd
                assert received is not None
                out.append(self._closed(int(received.code), received.reason))
                return out
        failure = _compat.failure(proto)
        if failure is not None and self._state != _CLOSED:
            # The library failed the connection (protocol error, 1009, bad close frame).
            sent = proto.close_sent
            if sent is not None:
                out.append(self._closed(int(sent.code), sent.reason))
            else:  # end of stream without a close frame
                out.append(self._closed(1006, str(failure)))
        return out

    def _start_fragments(self, data: bytes, *, text: bool) -> None:
        self._text = text
        if text:
            decoder = codecs.getincrementaldecoder("utf-8")()
            try:
                self._fragments = [decoder.decode(data, False)]
            except UnicodeDecodeError:
                self._decoder = None
                return
            self._decoder = decoder
        else:
            self._fragments = [bytes(data)]

    def _continue(self, data: bytes, fin: bool) -> str | bytes | None:
        fragments = self._fragments
        if self._text:
            decoder = self._decoder
            try:
                fragments.append(decoder.decode(data, fin))
            except UnicodeDecodeError:
                self._decoder = None
                return None
            if not fin:
                return None
            self._fragments = []
            self._decoder = None
            return "".join(fragments)
        fragments.append(bytes(data))
        if not fin:
            return None
        self._fragments = []
        return b"".join(fragments)

    def _fail(self, out: list[Event], code: int, reason: str) -> list[Event]:
        # RFC 6455 section 7.1.7: send a close frame (if none was sent), then stop reading.
        self._proto.fail(code, reason)
        out.append(self._closed(code, reason))
        return out

    def _closed(self, code: int, reason: str) -> WebSocketClosed:
        self._state = _CLOSED
        self._fragments = []
        self._decoder = None
        self.close_code = code
        self.close_reason = reason
        return WebSocketClosed(code, reason)

    # -- sending -------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._state != _OPEN:
            raise RuntimeError("cannot send a message on a closing or closed WebSocket")

    def send_text(self, text: str) -> bytes:
        """The frame for a text message."""
        if self._state != _OPEN:
            self._check_open()
        payload = text.encode("utf-8")
        if self._fast and len(payload) < 65536:
            return self._frame(0x81, payload)
        proto = self._proto
        proto.send_text(payload)
        writes = proto.data_to_send()
        return writes[0] if len(writes) == 1 else b"".join(writes)

    def send_bytes(self, data: bytes) -> bytes:
        """The frame for a binary message."""
        if self._state != _OPEN:
            self._check_open()
        if self._fast and len(data) < 65536:
            return self._frame(0x82, bytes(data))
        proto = self._proto
        proto.send_binary(data)
        writes = proto.data_to_send()
        return writes[0] if len(writes) == 1 else b"".join(writes)

    def _frame(self, first: int, payload: bytes) -> bytes:
        # One whole frame without extensions (RFC 6455 5.2); clients mask (5.3).
        length = len(payload)
        if self.client:
            mask = os.urandom(4)
            payload = mask + _apply_mask(payload, mask)
            if length < 126:
                return bytes((first, 0x80 | length)) + payload
            return _HEAD16.pack(first, 0xFE, length) + payload
        if length < 126:
            return bytes((first, length)) + payload
        return _HEAD16.pack(first, 126, length) + payload

    def send_ping(self, data: bytes = b"") -> bytes:
        """A ping frame (allowed while the closing handshake runs, RFC 6455 5.5)."""
        if self._state == _CLOSED:
            raise RuntimeError("cannot ping a closed WebSocket")
        proto = self._proto
        proto.send_ping(data)
        return b"".join(proto.data_to_send())

    def send_close(self, code: int = 1000, reason: str = "") -> bytes:
        """Start the closing handshake (a no-op once it has started).

        ``code`` must be one RFC 6455 lets an endpoint send (section 7.4), or 1005 for a
        close frame without a code; ``ValueError`` otherwise.
        """
        if not (code in _SENDABLE or 3000 <= code < 5000 or code == 1005):
            raise ValueError(f"{code} is not a close code a WebSocket endpoint may send")
        if self._state != _OPEN:
            return b""
        encoded = reason.encode("utf-8")
        if len(encoded) > 123:  # a control frame holds 125 bytes: the code and the reason
            reason = encoded[:123].decode("utf-8", "ignore")
        proto = self._proto
        if code == 1005:  # "no status": a close frame without a code
            proto.send_close()
        else:
            proto.send_close(code, reason)
        self._state = _CLOSING
        if self.close_code is None:
            self.close_code = code
            self.close_reason = reason
        return b"".join(w for w in proto.data_to_send() if w)

    def data_to_send(self) -> list[bytes]:
        """Bytes queued by receiving (pongs, the close echo, a failure's close frame)."""
        return [w for w in self._proto.data_to_send() if w]


def _utf8_reason(exc: UnicodeDecodeError) -> str:
    return f"invalid UTF-8 at byte {exc.start}"
