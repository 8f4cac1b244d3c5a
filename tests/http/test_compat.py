"""The private parts of ``websockets`` that vivace.http relies on (vivace/http/_compat.py).

Each test names the attribute it checks, so a websockets release that changes one fails
here, with the name, rather than somewhere inside the WebSocket tests.
"""

from __future__ import annotations

import os
import struct

from websockets.frames import Opcode
from websockets.protocol import Protocol, Side

from vivace.http import _compat


def masked(opcode: int, payload: bytes, fin: bool = True) -> bytes:
    """A client frame (masked, as RFC 6455 section 5.3 requires)."""
    mask = os.urandom(4)
    head = struct.pack("!BB", (0x80 if fin else 0) | opcode, 0x80 | len(payload))
    return head + mask + _compat.apply_mask()(payload, mask)


def server() -> Protocol:
    proto: Protocol = _compat.protocol_class()(Side.SERVER)
    return proto


def test_protocol_subclass_overrides_recv_frame() -> None:
    # Protocol.recv_frame(frame) is called for every parsed frame.
    assert callable(getattr(Protocol, "recv_frame", None)), "Protocol.recv_frame is gone"
    cls = _compat.protocol_class()
    assert issubclass(cls, Protocol) and cls.recv_frame is not Protocol.recv_frame
    assert _compat.protocol_class() is cls  # built once


def test_close_frame_inside_a_fragmented_message_is_answered_normally() -> None:
    proto = server()
    proto.receive_data(masked(0x1, b"hel", fin=False))
    proto.receive_data(masked(0x8, struct.pack("!H", 1000) + b"bye"))
    frames = proto.events_received()
    assert [frame.opcode for frame in frames] == [Opcode.TEXT, Opcode.CLOSE]
    sent = proto.close_sent
    assert sent is not None and sent.code == 1000  # not 1002 (a protocol error)
    assert _compat.failure(proto) is None


def test_at_frame_boundary_reads_the_reader_buffer_and_current_size() -> None:
    proto = server()
    assert hasattr(proto, "reader") and hasattr(proto.reader, "buffer"), "reader.buffer"
    assert hasattr(proto, "current_size"), "Protocol.current_size"
    assert _compat.at_frame_boundary(proto)
    whole = masked(0x1, b"hello")
    proto.receive_data(whole[:3])  # a partial frame stays in reader.buffer
    assert not _compat.at_frame_boundary(proto)
    proto.receive_data(whole[3:])
    assert _compat.at_frame_boundary(proto)
    proto.receive_data(masked(0x1, b"hel", fin=False))  # a message in progress
    assert not _compat.at_frame_boundary(proto)
    proto.receive_data(masked(0x0, b"lo"))
    assert _compat.at_frame_boundary(proto)


def test_failure_is_the_parser_exception() -> None:
    proto = server()
    assert hasattr(proto, "parser_exc"), "Protocol.parser_exc"
    assert _compat.failure(proto) is None
    proto.receive_data(b"\x81\x05hello")  # unmasked from a client: a protocol error
    error = _compat.failure(proto)
    assert error is not None and "mask" in str(error).lower()


def test_finished_writing_is_eof_sent() -> None:
    proto = server()
    assert hasattr(proto, "eof_sent"), "Protocol.eof_sent"
    assert not _compat.finished_writing(proto)
    proto.receive_data(masked(0x8, struct.pack("!H", 1000)))
    proto.data_to_send()
    assert _compat.finished_writing(proto)  # the server closes TCP after its close frame


def test_apply_mask_is_the_c_function() -> None:
    import websockets.speedups

    masking = _compat.apply_mask()
    assert masking is websockets.speedups.apply_mask, "websockets.speedups.apply_mask"
    assert masking(b"abcd", b"\x00\x00\x00\x00") == b"abcd"
    assert masking(b"\x01\x02", b"\x01\x02\x00\x00") == b"\x00\x00"
