"""The private parts of libraries that vivace.http relies on, in one place.

vivace.http's WebSocket core (``_websocket.WebSocketCore``) runs on the ``websockets``
library's sans-IO ``Protocol``. Its public API covers sending, receiving, events and the
close frames (``close_rcvd``, ``close_sent``); four things the core needs are not public:

- ``Protocol.recv_frame`` is overridden so that a close frame in the middle of a
  fragmented message is answered normally (RFC 6455 sections 5.4 and 5.5.1; Autobahn
  case 7.1.5), where the library would fail the connection. Nothing public lets a caller
  change that rule.
- ``reader.buffer`` and ``current_size`` tell whether the library's parser sits at a frame
  boundary with no message in progress: only then may the core parse the common frames
  itself (``_fast_frames``, 3-4x faster than the library's generator-based parser; see
  docs/websockets.md). No public method answers that.
- ``parser_exc`` is why the library failed the connection (its close frame may not have
  been sent: the stream ended first).
- ``eof_sent`` says the library has finished writing (it then wants the TCP connection
  closed); the public ``close_expected()`` answers a different question (whether the peer
  should close soon).
- ``websockets.speedups.apply_mask`` is the C masking function (the public
  ``websockets.utils.apply_mask`` is the pure-Python fallback, used when it is missing).

tests/http/test_compat.py checks each of these against the installed ``websockets`` and
fails, naming the attribute, when a release changes one. Imports are deferred: importing
vivace.http must not import websockets.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = [
    "apply_mask",
    "at_frame_boundary",
    "failure",
    "finished_writing",
    "protocol_class",
]

_PROTOCOL: Any = None


def protocol_class() -> Any:
    """websockets' ``Protocol``, with a close frame allowed between two fragments.

    RFC 6455 section 5.4 lets control frames come in the middle of a fragmented message,
    and section 5.5.1 says a close frame is answered with a close frame: the message in
    progress is abandoned and the closing handshake completes normally (1000, not 1002).
    """
    global _PROTOCOL
    if _PROTOCOL is None:
        from websockets.frames import Opcode
        from websockets.protocol import Protocol

        class _Protocol(Protocol):
            def recv_frame(self, frame: Any) -> None:
                if frame.opcode is Opcode.CLOSE:
                    self.current_size = None  # the unfinished message is dropped
                super().recv_frame(frame)

        _PROTOCOL = _Protocol
    return _PROTOCOL


def at_frame_boundary(proto: Any) -> bool:
    """No partial frame is buffered and no fragmented message is in progress."""
    return not proto.reader.buffer and proto.current_size is None


def failure(proto: Any) -> BaseException | None:
    """The error that made the library fail the connection, if it did."""
    error: BaseException | None = proto.parser_exc
    return error


def finished_writing(proto: Any) -> bool:
    """The library has written its last bytes and wants the TCP connection closed."""
    return bool(proto.eof_sent)


def apply_mask() -> Callable[[bytes, bytes], bytes]:
    """websockets' masking function: the C one when its speedups are built."""
    try:
        from websockets.speedups import apply_mask as masking
    except ImportError:  # pragma: no cover - the wheels ship the speedups
        from websockets.utils import apply_mask as masking
    return masking
