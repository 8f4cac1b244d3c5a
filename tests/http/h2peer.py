"""A raw HTTP/2 peer for the conformance tests: builds frames by hand (header blocks with
the independent ``hpack`` library) and reads back what the connection under test sends."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

import hpack

from vivace.http._h2_connection import H2Connection
from vivace.http._h2_events import Event
from vivace.http._h2_frames import CONNECTION_PREFACE, FrameType, H2Limits

DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS = 0, 1, 2, 3, 4
PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = 5, 6, 7, 8, 9
END_STREAM, ACK, END_HEADERS, PADDED, PRIORITY_FLAG = 1, 1, 4, 8, 0x20

GET = [(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "example.com")]


def frame(ftype: int, flags: int, stream_id: int, payload: bytes = b"") -> bytes:
    return struct.pack(">IBI", len(payload) << 8 | ftype, flags, stream_id) + payload


def settings(**values: int) -> bytes:
    ids = {
        "header_table_size": 1,
        "enable_push": 2,
        "max_concurrent_streams": 3,
        "initial_window_size": 4,
        "max_frame_size": 5,
        "max_header_list_size": 6,
        "enable_connect_protocol": 8,
    }
    payload = b"".join(struct.pack(">HI", ids.get(k, 0x99), v) for k, v in values.items())
    return frame(SETTINGS, 0, 0, payload)


@dataclass
class Frame:
    type: int
    flags: int
    stream_id: int
    payload: bytes

    @property
    def error_code(self) -> int:
        if self.type == GOAWAY:
            return int(struct.unpack(">I", self.payload[4:8])[0])
        return int(struct.unpack(">I", self.payload[:4])[0])


def parse_frames(data: bytes) -> list[Frame]:
    frames = []
    pos = 0
    while pos + 9 <= len(data):
        length_type, flags, stream_id = struct.unpack_from(">IBI", data, pos)
        length = length_type >> 8
        frames.append(Frame(length_type & 0xFF, flags, stream_id, data[pos + 9 : pos + 9 + length]))
        pos += 9 + length
    assert pos == len(data), "trailing partial frame"
    return frames


class Peer:
    """A client speaking raw frames to a server-side ``H2Connection``."""

    def __init__(self, **limits: Any) -> None:
        self.now = 0.0
        self.conn = H2Connection(client=False, limits=H2Limits(**limits), clock=lambda: self.now)
        self.encoder = hpack.Encoder()
        self.decoder = hpack.Decoder()
        self.conn.initiate()
        self.sent = parse_frames(self.conn.data_to_send())

    def start(self, **values: int) -> list[Event]:
        events = self.conn.receive(CONNECTION_PREFACE + settings(**values))
        self.read()  # our SETTINGS ACK
        return events

    def send(self, *frames: bytes) -> list[Event]:
        return self.conn.receive(b"".join(frames))

    def read(self) -> list[Frame]:
        return parse_frames(self.conn.data_to_send())

    def block(self, fields: list[tuple[str, str]]) -> bytes:
        return bytes(self.encoder.encode(fields))

    def headers(
        self,
        stream_id: int,
        fields: list[tuple[str, str]] | None = None,
        end_stream: bool = True,
        end_headers: bool = True,
    ) -> bytes:
        flags = (END_STREAM if end_stream else 0) | (END_HEADERS if end_headers else 0)
        return frame(HEADERS, flags, stream_id, self.block(GET if fields is None else fields))

    def decode(self, payload: bytes) -> list[tuple[bytes, bytes]]:
        return list(self.decoder.decode(payload, raw=True))

    def goaway(self) -> int | None:
        """The error code of the GOAWAY the connection sent, if any (reads the output)."""
        codes = [f.error_code for f in self.read() if f.type == GOAWAY]
        return codes[-1] if codes else None


def rst_codes(frames: list[Frame]) -> dict[int, int]:
    return {f.stream_id: f.error_code for f in frames if f.type == RST_STREAM}


__all__ = ["GET", "Frame", "FrameType", "Peer", "frame", "parse_frames", "rst_codes", "settings"]
