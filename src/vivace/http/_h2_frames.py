"""HTTP/2 vocabulary (RFC 9113): frame types, flags, error codes, settings, limits, errors.

No I/O and no state: the numbers the sans-IO connection (``_h2_connection``) speaks, the
two limit objects both ends configure, and the error tree::

    Exception
     └── H2Error                   an HTTP/2 protocol error; ``code`` is its RFC 9113
          │                        section 7 error code
          ├── H2ConnectionError    the whole connection fails (GOAWAY with ``code``)
          └── H2StreamError        one stream fails (RST_STREAM with ``code``)
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import ClassVar

__all__ = [
    "CONNECTION_PREFACE",
    "ErrorCode",
    "FrameType",
    "H2ConnectionError",
    "H2Error",
    "H2Limits",
    "H2StreamError",
    "Setting",
    "frame_header",
    "settings_payload",
]

#: RFC 9113 section 3.4: what a client sends first, before its SETTINGS frame.
CONNECTION_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


class FrameType:
    """Frame type codes (section 6)."""

    DATA = 0x0
    HEADERS = 0x1
    PRIORITY = 0x2
    RST_STREAM = 0x3
    SETTINGS = 0x4
    PUSH_PROMISE = 0x5
    PING = 0x6
    GOAWAY = 0x7
    WINDOW_UPDATE = 0x8
    CONTINUATION = 0x9
    PRIORITY_UPDATE = 0x10  # RFC 9218 section 7.1


# Frame flags (section 6).
END_STREAM = 0x1
ACK = 0x1
END_HEADERS = 0x4
PADDED = 0x8
PRIORITY_FLAG = 0x20


class ErrorCode:
    """Error codes (section 7)."""

    NO_ERROR = 0x0
    PROTOCOL_ERROR = 0x1
    INTERNAL_ERROR = 0x2
    FLOW_CONTROL_ERROR = 0x3
    SETTINGS_TIMEOUT = 0x4
    STREAM_CLOSED = 0x5
    FRAME_SIZE_ERROR = 0x6
    REFUSED_STREAM = 0x7
    CANCEL = 0x8
    COMPRESSION_ERROR = 0x9
    CONNECT_ERROR = 0xA
    ENHANCE_YOUR_CALM = 0xB
    INADEQUATE_SECURITY = 0xC
    HTTP_1_1_REQUIRED = 0xD

    NAMES: ClassVar[dict[int, str]] = {
        0x0: "NO_ERROR",
        0x1: "PROTOCOL_ERROR",
        0x2: "INTERNAL_ERROR",
        0x3: "FLOW_CONTROL_ERROR",
        0x4: "SETTINGS_TIMEOUT",
        0x5: "STREAM_CLOSED",
        0x6: "FRAME_SIZE_ERROR",
        0x7: "REFUSED_STREAM",
        0x8: "CANCEL",
        0x9: "COMPRESSION_ERROR",
        0xA: "CONNECT_ERROR",
        0xB: "ENHANCE_YOUR_CALM",
        0xC: "INADEQUATE_SECURITY",
        0xD: "HTTP_1_1_REQUIRED",
    }

    @classmethod
    def name(cls, code: int) -> str:
        """The code's name, or its number for an unknown code (section 7: not an error)."""
        return cls.NAMES.get(code, f"0x{code:x}")


class Setting:
    """SETTINGS parameters (section 6.5.2, RFC 8441 section 3)."""

    HEADER_TABLE_SIZE = 0x1
    ENABLE_PUSH = 0x2
    MAX_CONCURRENT_STREAMS = 0x3
    INITIAL_WINDOW_SIZE = 0x4
    MAX_FRAME_SIZE = 0x5
    MAX_HEADER_LIST_SIZE = 0x6
    ENABLE_CONNECT_PROTOCOL = 0x8
    NO_RFC7540_PRIORITIES = 0x9  # RFC 9218 section 2.1


MAX_WINDOW = (1 << 31) - 1  # section 6.9.1
MIN_FRAME_SIZE = 1 << 14  # section 4.2: every endpoint accepts frames this large
MAX_FRAME_SIZE = (1 << 24) - 1
DEFAULT_WINDOW = 65535

_HEADER = struct.Struct(">IBI")  # (length << 8 | type), flags, stream id
_SETTING = struct.Struct(">HI")


def frame_header(length: int, ftype: int, flags: int, stream_id: int) -> bytes:
    """The 9-octet frame header (section 4.1)."""
    return _HEADER.pack(length << 8 | ftype, flags, stream_id)


def settings_payload(settings: dict[int, int]) -> bytes:
    """A SETTINGS frame's payload: 6 octets per parameter (section 6.5.1)."""
    return b"".join(_SETTING.pack(key, value) for key, value in settings.items())


class H2Error(Exception):
    """An HTTP/2 protocol error carrying its RFC 9113 error ``code``."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{message} ({ErrorCode.name(code)})")
        self.code = code
        self.message = message


class H2ConnectionError(H2Error):
    """A connection error (section 5.4.1): GOAWAY, then close."""


class H2StreamError(H2Error):
    """A stream error (section 5.4.2): RST_STREAM on ``stream_id``; the connection lives."""

    def __init__(self, stream_id: int, code: int, message: str) -> None:
        super().__init__(code, message)
        self.stream_id = stream_id


@dataclass(frozen=True, slots=True)
class H2Limits:
    """What one end of a connection accepts; every limit is on by default.

    The first group is advertised in SETTINGS and enforced; the budgets are token
    buckets (``burst`` at once, refilled at ``rate`` per second) for frames that cost the
    receiver work but give the sender nothing (the DoS classes in the module docstring of
    ``_h2_connection``). ``max_block_size`` bounds a header block's compressed size over
    HEADERS and its CONTINUATION frames; ``max_continuations`` their number.
    ``enable_connect_protocol``: a server offers extended CONNECT (RFC 8441 WebSockets).
    """

    max_concurrent_streams: int = 128
    initial_window_size: int = 256 * 1024
    connection_window_size: int = 16 * 1024 * 1024
    max_frame_size: int = MIN_FRAME_SIZE
    max_header_list_size: int = 64 * 1024
    header_table_size: int = 4096
    max_block_size: int = 64 * 1024
    max_continuations: int = 32
    max_streams_per_connection: int = 10_000
    reset_burst: int = 200
    reset_rate: float = 100.0
    ping_burst: int = 50
    ping_rate: float = 10.0
    settings_burst: int = 50
    settings_rate: float = 10.0
    priority_burst: int = 500
    priority_rate: float = 200.0
    empty_burst: int = 100
    empty_rate: float = 50.0
    send_stall_timeout: float = 30.0
    enable_connect_protocol: bool = True

    def __post_init__(self) -> None:
        if not 1 <= self.max_concurrent_streams <= MAX_WINDOW:
            raise ValueError("max_concurrent_streams must be between 1 and 2**31-1")
        if not DEFAULT_WINDOW <= self.initial_window_size <= MAX_WINDOW:
            raise ValueError("initial_window_size must be between 65535 and 2**31-1")
        if not DEFAULT_WINDOW <= self.connection_window_size <= MAX_WINDOW:
            raise ValueError("connection_window_size must be between 65535 and 2**31-1")
        if not MIN_FRAME_SIZE <= self.max_frame_size <= MAX_FRAME_SIZE:
            raise ValueError("max_frame_size must be between 16384 and 2**24-1")
        if self.max_header_list_size < 1024:
            raise ValueError("max_header_list_size must be at least 1024")
