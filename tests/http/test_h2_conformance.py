"""RFC 9113 conformance of the sans-IO connection (server side), by section.

h2spec's case list (summerwind/h2spec, http2/) is the checklist: each of its cases has a
test here under the same section, marked ``h2spec`` in its docstring. Frames are built by
hand (tests/http/h2peer.py) and header blocks by the independent ``hpack`` library.
"""

from __future__ import annotations

import struct

import pytest

from tests.http.h2peer import (
    CONTINUATION,
    DATA,
    END_HEADERS,
    END_STREAM,
    GET,
    GOAWAY,
    HEADERS,
    PADDED,
    PING,
    PRIORITY,
    PRIORITY_FLAG,
    PUSH_PROMISE,
    RST_STREAM,
    SETTINGS,
    WINDOW_UPDATE,
    Peer,
    frame,
    rst_codes,
    settings,
)
from vivace.http._h2_events import (
    ConnectionTerminated,
    DataReceived,
    RequestReceived,
    StreamReset,
    TrailersReceived,
)
from vivace.http._h2_frames import CONNECTION_PREFACE, ErrorCode

PROTOCOL = ErrorCode.PROTOCOL_ERROR
FRAME_SIZE = ErrorCode.FRAME_SIZE_ERROR
STREAM_CLOSED = ErrorCode.STREAM_CLOSED
FLOW = ErrorCode.FLOW_CONTROL_ERROR


@pytest.fixture
def peer() -> Peer:
    p = Peer()
    p.start()
    return p


def respond(peer: Peer, stream_id: int, body: bytes = b"ok") -> None:
    peer.conn.send_headers(stream_id, [(b":status", b"200")])
    peer.conn.send_data(stream_id, body, end_stream=True)


# -- 3.4 connection preface --------------------------------------------------------------------


def test_3_4_preface_and_settings() -> None:
    """h2spec 3.5/1: the server sends SETTINGS first and acknowledges ours."""
    peer = Peer()
    assert peer.sent[0].type == SETTINGS and peer.sent[0].stream_id == 0
    advertised = dict(struct.iter_unpack(">HI", peer.sent[0].payload))
    assert advertised == {1: 4096, 3: 128, 4: 256 * 1024, 5: 16384, 6: 65536, 8: 1}
    peer.conn.receive(CONNECTION_PREFACE + settings())
    assert [(f.type, f.flags) for f in peer.read()] == [(SETTINGS, 1)]


def test_3_4_invalid_preface() -> None:
    """h2spec 3.5/2."""
    peer = Peer()
    events = peer.conn.receive(b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n" + settings())
    assert isinstance(events[0], ConnectionTerminated) and peer.conn.closed
    assert peer.goaway() == PROTOCOL


def test_3_4_preface_in_pieces() -> None:
    peer = Peer()
    data = CONNECTION_PREFACE + settings()
    for i in range(len(data)):
        assert peer.conn.receive(data[i : i + 1]) == []
    assert [f.type for f in peer.read()] == [SETTINGS]


def test_3_4_first_frame_must_be_settings() -> None:
    peer = Peer()
    peer.conn.receive(CONNECTION_PREFACE + frame(PING, 0, 0, b"12345678"))
    assert peer.goaway() == PROTOCOL


# -- 4.1 frame format, 4.2 frame size, 4.3 header compression -----------------------------------


def test_4_1_unknown_frame_type_ignored(peer: Peer) -> None:
    """h2spec 4.1/1 and 5.5/1."""
    assert peer.send(frame(0x77, 0, 0, b"whatever"), frame(PING, 0, 0, b"12345678")) == []
    assert [f.type for f in peer.read()] == [PING]


def test_4_1_undefined_flags_and_reserved_bit_ignored(peer: Peer) -> None:
    """h2spec 4.1/2, 4.1/3."""
    events = peer.send(frame(PING, 0x16, 0, b"12345678"))
    assert events == []
    events = peer.send(frame(HEADERS, END_STREAM | END_HEADERS, 1 | 0x80000000, peer.block(GET)))
    assert isinstance(events[0], RequestReceived) and events[0].stream_id == 1


def test_4_2_data_of_max_frame_size(peer: Peer) -> None:
    """h2spec 4.2/1."""
    peer.send(peer.headers(1, GET, end_stream=False))
    events = peer.send(frame(DATA, END_STREAM, 1, b"x" * 16384))
    assert isinstance(events[0], DataReceived) and len(events[0].data) == 16384


@pytest.mark.parametrize("ftype", [DATA, HEADERS])
def test_4_2_frame_over_max_frame_size(peer: Peer, ftype: int) -> None:
    """h2spec 4.2/2, 4.2/3."""
    peer.send(peer.headers(1, GET, end_stream=False))
    peer.send(frame(ftype, 0, 1, b"x" * 16385))
    assert peer.goaway() == FRAME_SIZE


def test_4_3_invalid_header_block(peer: Peer) -> None:
    """h2spec 4.3/1: a literal with indexing whose name index is past the table."""
    peer.send(frame(HEADERS, END_STREAM | END_HEADERS, 1, b"\x7f\x7f\x00"))
    assert peer.goaway() == ErrorCode.COMPRESSION_ERROR


@pytest.mark.parametrize(
    "interloper",
    [frame(PRIORITY, 0, 1, b"\x00\x00\x00\x00\x10"), frame(HEADERS, END_HEADERS, 3, b"\x82")],
)
def test_4_3_frame_inside_header_block(peer: Peer, interloper: bytes) -> None:
    """h2spec 4.3/2, 4.3/3, 6.2/1, 6.2/2 and 5.5/2 (an unknown frame inside the block)."""
    block = peer.block(GET)
    peer.send(frame(HEADERS, END_STREAM, 1, block[:2]), interloper)
    assert peer.goaway() == PROTOCOL


def test_5_5_unknown_frame_inside_header_block(peer: Peer) -> None:
    block = peer.block(GET)
    peer.send(frame(HEADERS, END_STREAM, 1, block[:2]), frame(0x77, 0, 1, b""))
    assert peer.goaway() == PROTOCOL


# -- 5.1 stream states ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        frame(DATA, 0, 1, b"x"),
        frame(RST_STREAM, 0, 1, b"\x00\x00\x00\x08"),
        frame(WINDOW_UPDATE, 0, 1, b"\x00\x00\x00\x01"),
        frame(CONTINUATION, END_HEADERS, 1, b"\x82"),
    ],
    ids=["DATA", "RST_STREAM", "WINDOW_UPDATE", "CONTINUATION"],
)
def test_5_1_idle_stream(peer: Peer, bad: bytes) -> None:
    """h2spec 5.1/1-4."""
    peer.send(bad)
    assert peer.goaway() == PROTOCOL


def test_5_1_half_closed_remote_data(peer: Peer) -> None:
    """h2spec 5.1/5: the stream ended (END_STREAM); more DATA is STREAM_CLOSED."""
    peer.send(peer.headers(1))
    peer.send(frame(DATA, 0, 1, b"x"))
    assert rst_codes(peer.read()) == {1: STREAM_CLOSED}


def test_5_1_half_closed_remote_headers(peer: Peer) -> None:
    """h2spec 5.1/6."""
    peer.send(peer.headers(1))
    events = peer.send(peer.headers(1))
    assert isinstance(events[0], StreamReset)
    assert rst_codes(peer.read()) == {1: STREAM_CLOSED}


def test_5_1_half_closed_remote_continuation(peer: Peer) -> None:
    """h2spec 5.1/7."""
    peer.send(peer.headers(1))
    peer.send(frame(CONTINUATION, END_HEADERS, 1, b"\x82"))
    assert peer.goaway() == PROTOCOL


@pytest.mark.parametrize("after", ["DATA", "HEADERS", "CONTINUATION"])
def test_5_1_closed_after_client_reset(peer: Peer, after: str) -> None:
    """h2spec 5.1/8-10: the client reset the stream, then keeps sending on it."""
    peer.send(peer.headers(1, end_stream=False))
    peer.send(frame(RST_STREAM, 0, 1, b"\x00\x00\x00\x08"))
    bad = {
        "DATA": frame(DATA, 0, 1, b"x"),
        "HEADERS": peer.headers(1),
        "CONTINUATION": frame(CONTINUATION, END_HEADERS, 1, b"\x82"),
    }[after]
    peer.send(bad)
    frames = peer.read()
    codes = [f.error_code for f in frames if f.type in (GOAWAY, RST_STREAM)]
    assert codes and codes[-1] in (STREAM_CLOSED, PROTOCOL)


@pytest.mark.parametrize("after", ["DATA", "HEADERS", "CONTINUATION"])
def test_5_1_closed(peer: Peer, after: str) -> None:
    """h2spec 5.1/11-13: both sides ended the stream."""
    peer.send(peer.headers(1))
    respond(peer, 1)
    peer.read()
    bad = {
        "DATA": frame(DATA, 0, 1, b"x"),
        "HEADERS": peer.headers(1),
        "CONTINUATION": frame(CONTINUATION, END_HEADERS, 1, b"\x82"),
    }[after]
    peer.send(bad)
    frames = peer.read()
    codes = [f.error_code for f in frames if f.type in (GOAWAY, RST_STREAM)]
    assert codes and codes[-1] in (STREAM_CLOSED, PROTOCOL)


def test_5_1_frames_in_flight_after_our_reset_are_dropped(peer: Peer) -> None:
    peer.send(peer.headers(1, end_stream=False))
    peer.conn.reset_stream(1)
    peer.read()
    assert peer.send(frame(DATA, 0, 1, b"x"), frame(WINDOW_UPDATE, 0, 1, b"\0\0\0\1")) == []
    assert peer.read() == []


def test_5_1_1_even_stream_id(peer: Peer) -> None:
    """h2spec 5.1.1/1."""
    peer.send(peer.headers(2))
    assert peer.goaway() == PROTOCOL


def test_5_1_1_smaller_stream_id(peer: Peer) -> None:
    """h2spec 5.1.1/2."""
    peer.send(peer.headers(5), peer.headers(3))
    assert peer.goaway() in (PROTOCOL, STREAM_CLOSED)


def test_5_1_2_concurrency_limit() -> None:
    """h2spec 5.1.2/1: beyond SETTINGS_MAX_CONCURRENT_STREAMS, REFUSED_STREAM."""
    peer = Peer(max_concurrent_streams=2)
    peer.start()
    events = peer.send(*(peer.headers(i, end_stream=False) for i in (1, 3, 5)))
    assert [type(e) for e in events] == [RequestReceived, RequestReceived]
    assert rst_codes(peer.read()) == {5: ErrorCode.REFUSED_STREAM}


# -- 5.3 priority, 5.4 error handling ---------------------------------------------------------


def test_5_3_1_headers_depending_on_itself(peer: Peer) -> None:
    """h2spec 5.3.1/1."""
    payload = struct.pack(">IB", 1, 16) + peer.block(GET)
    peer.send(frame(HEADERS, END_STREAM | END_HEADERS | PRIORITY_FLAG, 1, payload))
    assert rst_codes(peer.read()) == {1: PROTOCOL}
    # The block was still decoded: the next request, which may index it, works.
    events = peer.send(peer.headers(3))
    assert isinstance(events[0], RequestReceived)


def test_5_3_1_priority_depending_on_itself(peer: Peer) -> None:
    """h2spec 5.3.1/2."""
    peer.send(frame(PRIORITY, 0, 1, struct.pack(">IB", 1, 16)))
    assert rst_codes(peer.read()) == {1: PROTOCOL}


@pytest.mark.parametrize(
    "bad", [frame(PING, 0, 0, b"1234567"), frame(PING, 0, 0, b"123456789")], ids=["7", "9"]
)
def test_5_4_1_connection_error_sends_goaway_and_stops(peer: Peer, bad: bytes) -> None:
    """h2spec 5.4.1/1, 5.4.1/2."""
    peer.send(bad)
    assert peer.goaway() == FRAME_SIZE
    assert peer.conn.closed
    assert peer.send(peer.headers(1)) == []


# -- 6.1 DATA ----------------------------------------------------------------------------------


def test_6_1_data_on_stream_0(peer: Peer) -> None:
    """h2spec 6.1/1."""
    peer.send(frame(DATA, 0, 0, b"x"))
    assert peer.goaway() == PROTOCOL


def test_6_1_data_on_half_closed_stream(peer: Peer) -> None:
    """h2spec 6.1/2."""
    peer.send(peer.headers(1), frame(DATA, END_STREAM, 1, b"x"))
    assert rst_codes(peer.read()) == {1: STREAM_CLOSED}


def test_6_1_invalid_pad_length(peer: Peer) -> None:
    """h2spec 6.1/3."""
    peer.send(peer.headers(1, end_stream=False), frame(DATA, PADDED, 1, b"\x06abcde"))
    assert peer.goaway() == PROTOCOL


def test_6_1_padding_removed_and_credited(peer: Peer) -> None:
    peer.send(peer.headers(1, end_stream=False))
    events = peer.send(frame(DATA, PADDED | END_STREAM, 1, b"\x03abc\0\0\0"))
    assert isinstance(events[0], DataReceived) and events[0].data == b"abc"


# -- 6.2 HEADERS -----------------------------------------------------------------------------------


def test_6_2_headers_on_stream_0(peer: Peer) -> None:
    """h2spec 6.2/3."""
    peer.send(frame(HEADERS, END_STREAM | END_HEADERS, 0, peer.block(GET)))
    assert peer.goaway() == PROTOCOL


def test_6_2_invalid_pad_length(peer: Peer) -> None:
    """h2spec 6.2/4."""
    peer.send(frame(HEADERS, END_STREAM | END_HEADERS | PADDED, 1, b"\xff" + peer.block(GET)))
    assert peer.goaway() == PROTOCOL


def test_6_2_padded_with_priority(peer: Peer) -> None:
    block = peer.block(GET)
    payload = b"\x02" + struct.pack(">IB", 0, 16) + block + b"\0\0"
    flags = END_STREAM | END_HEADERS | PADDED | PRIORITY_FLAG
    events = peer.send(frame(HEADERS, flags, 1, payload))
    assert isinstance(events[0], RequestReceived)


# -- 6.3 PRIORITY, 6.4 RST_STREAM ------------------------------------------------------------------


def test_6_3_priority_on_stream_0(peer: Peer) -> None:
    """h2spec 6.3/1."""
    peer.send(frame(PRIORITY, 0, 0, struct.pack(">IB", 1, 16)))
    assert peer.goaway() == PROTOCOL


def test_6_3_priority_wrong_length(peer: Peer) -> None:
    """h2spec 6.3/2: a stream error."""
    peer.send(frame(PRIORITY, 0, 1, b"\0\0\0\0"))
    assert rst_codes(peer.read()) == {1: FRAME_SIZE}


def test_6_3_priority_accepted_and_ignored(peer: Peer) -> None:
    assert peer.send(frame(PRIORITY, 0, 9, struct.pack(">IB", 3, 16))) == []
    assert peer.send(frame(0x10, 0, 0, b"\0\0\0\1u=1")) == []  # RFC 9218 PRIORITY_UPDATE


def test_6_4_rst_stream_on_stream_0(peer: Peer) -> None:
    """h2spec 6.4/1."""
    peer.send(frame(RST_STREAM, 0, 0, b"\0\0\0\x08"))
    assert peer.goaway() == PROTOCOL


def test_6_4_rst_stream_wrong_length(peer: Peer) -> None:
    """h2spec 6.4/3."""
    peer.send(peer.headers(1, end_stream=False), frame(RST_STREAM, 0, 1, b"\0\0\0\0\0"))
    assert peer.goaway() == FRAME_SIZE


def test_6_4_rst_stream_reports_reset(peer: Peer) -> None:
    """h2spec 7/2: an unknown error code is no error of ours."""
    peer.send(peer.headers(1, end_stream=False))
    events = peer.send(frame(RST_STREAM, 0, 1, b"\0\0\0\xff"))
    assert isinstance(events[0], StreamReset)
    assert (events[0].error_code, events[0].remote) == (0xFF, True)
    assert 1 not in peer.conn.streams


# -- 6.5 SETTINGS ----------------------------------------------------------------------------------


def test_6_5_ack_with_payload(peer: Peer) -> None:
    """h2spec 6.5/1."""
    peer.send(frame(SETTINGS, 1, 0, b"\0\x01\0\0\0\0"))
    assert peer.goaway() == FRAME_SIZE


def test_6_5_on_a_stream(peer: Peer) -> None:
    """h2spec 6.5/2."""
    peer.send(frame(SETTINGS, 0, 1, b""))
    assert peer.goaway() == PROTOCOL


def test_6_5_bad_length(peer: Peer) -> None:
    """h2spec 6.5/3."""
    peer.send(frame(SETTINGS, 0, 0, b"\0\x01\0\0"))
    assert peer.goaway() == FRAME_SIZE


@pytest.mark.parametrize(
    ("values", "code"),
    [
        ({"enable_push": 2}, PROTOCOL),
        ({"initial_window_size": 2**31}, FLOW),
        ({"max_frame_size": 16383}, PROTOCOL),
        ({"max_frame_size": 2**24}, PROTOCOL),
        ({"enable_connect_protocol": 2}, PROTOCOL),
    ],
)
def test_6_5_2_invalid_values(peer: Peer, values: dict[str, int], code: int) -> None:
    """h2spec 6.5.2/1-4, 6.9.2/3."""
    peer.send(settings(**values))
    assert peer.goaway() == code


def test_6_5_2_unknown_setting_ignored(peer: Peer) -> None:
    """h2spec 6.5.2/5."""
    peer.send(settings(unknown=7))
    assert [(f.type, f.flags) for f in peer.read()] == [(SETTINGS, 1)]


def test_6_5_3_last_value_wins(peer: Peer) -> None:
    """h2spec 6.5.3/1."""
    payload = struct.pack(">HIHI", 4, 100, 4, 1)
    peer.send(frame(SETTINGS, 0, 0, payload))
    assert peer.conn.peer_initial_window == 1


def test_6_5_3_settings_acknowledged(peer: Peer) -> None:
    """h2spec 6.5.3/2."""
    peer.send(settings(max_concurrent_streams=10))
    assert [(f.type, f.flags) for f in peer.read()] == [(SETTINGS, 1)]


# -- 6.7 PING, 6.8 GOAWAY --------------------------------------------------------------------------


def test_6_7_ping_answered(peer: Peer) -> None:
    """h2spec 6.7/1."""
    peer.send(frame(PING, 0, 0, b"abcdefgh"))
    assert [(f.type, f.flags, f.payload) for f in peer.read()] == [(PING, 1, b"abcdefgh")]


def test_6_7_ping_ack_not_answered(peer: Peer) -> None:
    """h2spec 6.7/2."""
    peer.send(frame(PING, 1, 0, b"abcdefgh"))
    assert peer.read() == []


def test_6_7_ping_on_a_stream(peer: Peer) -> None:
    """h2spec 6.7/3."""
    peer.send(frame(PING, 0, 1, b"abcdefgh"))
    assert peer.goaway() == PROTOCOL


def test_6_8_goaway_on_a_stream(peer: Peer) -> None:
    """h2spec 6.8/1."""
    peer.send(frame(GOAWAY, 0, 1, b"\0\0\0\0\0\0\0\0"))
    assert peer.goaway() == PROTOCOL


def test_6_8_goaway_reported(peer: Peer) -> None:
    """h2spec 7/1: an unknown error code."""
    events = peer.send(frame(GOAWAY, 0, 0, b"\0\0\0\x03\0\0\0\xffbye"))
    assert isinstance(events[0], ConnectionTerminated)
    assert (events[0].last_stream_id, events[0].error_code, events[0].debug) == (3, 0xFF, b"bye")


# -- 6.9 WINDOW_UPDATE, flow control ---------------------------------------------------------------


def test_6_9_zero_increment_connection(peer: Peer) -> None:
    """h2spec 6.9/1."""
    peer.send(frame(WINDOW_UPDATE, 0, 0, b"\0\0\0\0"))
    assert peer.goaway() == PROTOCOL


def test_6_9_zero_increment_stream(peer: Peer) -> None:
    """h2spec 6.9/2."""
    peer.send(peer.headers(1, end_stream=False), frame(WINDOW_UPDATE, 0, 1, b"\0\0\0\0"))
    assert rst_codes(peer.read()) == {1: PROTOCOL}


def test_6_9_wrong_length(peer: Peer) -> None:
    """h2spec 6.9/3."""
    peer.send(frame(WINDOW_UPDATE, 0, 0, b"\0\0\0\1\0"))
    assert peer.goaway() == FRAME_SIZE


def test_6_9_1_window_of_one_sends_one_byte(peer: Peer) -> None:
    """h2spec 6.9.1/1."""
    peer.send(settings(initial_window_size=1), peer.headers(1))
    peer.read()
    respond(peer, 1, b"hello")
    data = [f for f in peer.read() if f.type == DATA]
    assert [f.payload for f in data] == [b"h"]
    events = peer.send(frame(WINDOW_UPDATE, 0, 1, b"\0\0\0\x10"))
    assert [type(e).__name__ for e in events] == ["SendReady"]
    data = [f for f in peer.read() if f.type == DATA]
    assert [(f.payload, f.flags) for f in data] == [(b"ello", END_STREAM)]


def test_data_waits_for_the_callers_allowance_not_only_the_windows(peer: Peer) -> None:
    """``allow_data``: a caller writing to a socket bounds the DATA framed before its
    next write; what the windows allow beyond it waits (no stall counted) and goes, with
    SendReady, when the caller makes room. Another stream's DATA waits the same way."""
    peer.send(peer.headers(1), peer.headers(3))
    peer.read()
    peer.conn.data_allowance = 3
    respond(peer, 1, b"hello")
    assert [f.payload for f in peer.read() if f.type == DATA] == [b"hel"]
    assert peer.conn.data_held and peer.conn.streams[1].stalled_at is None
    respond(peer, 3, b"abc")
    assert [f.payload for f in peer.read() if f.type == DATA] == []
    peer.conn.allow_data(4)
    events = peer.conn.take_events()
    assert sorted(e.stream_id for e in events if type(e).__name__ == "SendReady") == [1, 3]
    data = [(f.stream_id, f.payload, f.flags) for f in peer.read() if f.type == DATA]
    assert data == [(1, b"lo", END_STREAM), (3, b"ab", 0)]
    assert peer.conn.data_held
    peer.conn.allow_data(2**20)
    data = [(f.stream_id, f.payload, f.flags) for f in peer.read() if f.type == DATA]
    assert data == [(3, b"c", END_STREAM)] and not peer.conn.data_held
    assert [e.stream_id for e in peer.conn.take_events()] == [3]  # type: ignore[attr-defined]
    peer.conn.allow_data(10)  # nothing held: only the allowance changes
    assert peer.conn.data_allowance == 10 and peer.conn.take_events() == []


def test_6_9_1_connection_window_overflow(peer: Peer) -> None:
    """h2spec 6.9.1/2."""
    peer.send(frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 2**31 - 1)))
    assert peer.goaway() == FLOW


def test_6_9_1_stream_window_overflow(peer: Peer) -> None:
    """h2spec 6.9.1/3."""
    peer.send(peer.headers(1, end_stream=False))
    peer.send(frame(WINDOW_UPDATE, 0, 1, struct.pack(">I", 2**31 - 1)))
    assert rst_codes(peer.read()) == {1: FLOW}


def test_6_9_2_initial_window_change_applies_to_open_streams(peer: Peer) -> None:
    """h2spec 6.9.2/1, 6.9.2/2: the change applies to open streams, even below zero."""
    peer.send(settings(initial_window_size=1), peer.headers(1))
    peer.read()
    respond(peer, 1, b"hello")
    peer.read()
    peer.send(settings(initial_window_size=0))
    assert peer.conn.streams[1].send_window == -1
    peer.send(settings(initial_window_size=3))
    data = [f for f in peer.read() if f.type == DATA]
    assert [f.payload for f in data] == [b"el"]


def test_6_9_receive_window_enforced() -> None:
    peer = Peer(initial_window_size=65535)
    peer.start()
    peer.send(peer.headers(1, end_stream=False))
    for _ in range(3):
        peer.send(frame(DATA, 0, 1, b"x" * 16384))
    peer.send(frame(DATA, 0, 1, b"x" * 16384))
    assert rst_codes(peer.read()) == {1: FLOW}


def test_6_9_window_reopens_as_the_app_consumes() -> None:
    peer = Peer(initial_window_size=65535)
    peer.start()
    peer.send(peer.headers(1, end_stream=False))
    peer.send(frame(DATA, 0, 1, b"x" * 16384), frame(DATA, 0, 1, b"x" * 16384))
    assert peer.read() == []
    peer.conn.acknowledge(1, 32768)
    updates = [(f.stream_id, f.error_code) for f in peer.read() if f.type == WINDOW_UPDATE]
    assert updates == [(1, 32768)]


# -- 6.10 CONTINUATION -----------------------------------------------------------------------------


def test_6_10_continuations_assemble(peer: Peer) -> None:
    """h2spec 6.10/1."""
    block = peer.block([*GET, ("x-a", "1" * 100)])
    parts = [block[:5], block[5:20], block[20:]]
    events = peer.send(
        frame(HEADERS, END_STREAM, 1, parts[0]),
        frame(CONTINUATION, 0, 1, parts[1]),
        frame(CONTINUATION, END_HEADERS, 1, parts[2]),
    )
    assert isinstance(events[0], RequestReceived)
    assert (b"x-a", b"1" * 100) in events[0].headers


@pytest.mark.parametrize(
    "frames",
    [
        "interrupted",
        "stream0",
        "after END_HEADERS",
        "after CONTINUATION END_HEADERS",
        "after DATA",
    ],
)
def test_6_10_misplaced_continuation(peer: Peer, frames: str) -> None:
    """h2spec 6.10/2-6."""
    block = peer.block(GET)
    sequences = {
        "interrupted": [frame(HEADERS, END_STREAM, 1, block[:2]), frame(DATA, 0, 1, b"x")],
        "stream0": [frame(HEADERS, END_STREAM, 1, block[:2]), frame(CONTINUATION, 4, 0, block[2:])],
        "after END_HEADERS": [
            frame(HEADERS, END_HEADERS, 1, block),
            frame(CONTINUATION, END_HEADERS, 1, b"\x82"),
        ],
        "after CONTINUATION END_HEADERS": [
            frame(HEADERS, 0, 1, block[:2]),
            frame(CONTINUATION, END_HEADERS, 1, block[2:]),
            frame(CONTINUATION, END_HEADERS, 1, b"\x82"),
        ],
        "after DATA": [
            frame(HEADERS, END_HEADERS, 1, block),
            frame(DATA, 0, 1, b"x"),
            frame(CONTINUATION, END_HEADERS, 1, b"\x82"),
        ],
    }
    peer.send(*sequences[frames])
    assert peer.goaway() == PROTOCOL


# -- 8.1 messages, 8.2 fields, 8.3 pseudo-header fields -------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        [*GET, (":foo", "bar")],
        [*GET, (":status", "200")],
        [(":method", "GET"), ("x-a", "1"), (":scheme", "http"), (":path", "/")],
        [*GET, ("connection", "keep-alive")],
        [*GET, ("te", "gzip")],
        [(":method", "GET"), (":scheme", "http"), (":path", "")],
        [(":scheme", "http"), (":path", "/")],
        [(":method", "GET"), (":path", "/")],
        [(":method", "GET"), (":scheme", "http")],
        [*GET, (":method", "GET")],
        [*GET, (":scheme", "http")],
        [*GET, (":path", "/")],
        [*GET, ("X-Upper", "1")],
        [*GET, ("", "empty name")],
        [*GET, ("x-a", "line\nbreak")],
        [*GET, ("x-a", " leading space")],
        [(":method", "CONNECT"), (":authority", "a:443"), (":path", "/")],
        [(":method", "GET"), (":protocol", "websocket"), (":scheme", "http"), (":path", "/")],
        [*GET, ("content-length", "x")],
    ],
    ids=[
        "unknown pseudo",
        "response pseudo",
        "pseudo after regular",
        "connection-specific",
        "te not trailers",
        "empty path",
        "no method",
        "no scheme",
        "no path",
        "duplicate method",
        "duplicate scheme",
        "duplicate path",
        "uppercase name",
        "empty name",
        "newline in value",
        "leading space",
        "connect with path",
        "protocol without connect",
        "bad content-length",
    ],
)
def test_8_malformed_requests(peer: Peer, fields: list[tuple[str, str]]) -> None:
    """h2spec 8.1.2.1/1-4, 8.1.2.2/1-2, 8.1.2.3/1-7, 8.1.2/1: stream error PROTOCOL_ERROR."""
    events = peer.send(peer.headers(1, fields))
    assert not any(isinstance(e, RequestReceived) for e in events)
    assert rst_codes(peer.read()) == {1: PROTOCOL}
    assert not peer.conn.closed


def test_8_1_pseudo_header_in_trailers(peer: Peer) -> None:
    """h2spec 8.1.2.1/3."""
    peer.send(peer.headers(1, end_stream=False), peer.headers(1, [(":method", "GET")]))
    assert rst_codes(peer.read()) == {1: PROTOCOL}


def test_8_1_trailers_received(peer: Peer) -> None:
    peer.send(peer.headers(1, end_stream=False), frame(DATA, 0, 1, b"abc"))
    events = peer.send(peer.headers(1, [("x-checksum", "1")]))
    assert isinstance(events[0], TrailersReceived)
    assert events[0].headers == [(b"x-checksum", b"1")]


def test_8_1_second_headers_without_end_stream(peer: Peer) -> None:
    """h2spec 8.1/1."""
    peer.send(peer.headers(1, end_stream=False))
    peer.send(peer.headers(1, [("x-a", "1")], end_stream=False))
    assert rst_codes(peer.read()) == {1: PROTOCOL}


@pytest.mark.parametrize("bodies", [[b"abc"], [b"ab", b"cd"]], ids=["one", "several"])
def test_8_1_content_length_mismatch(peer: Peer, bodies: list[bytes]) -> None:
    """h2spec 8.1.2.6/1, 8.1.2.6/2."""
    peer.send(peer.headers(1, [*GET, ("content-length", "1")], end_stream=False))
    peer.send(*(frame(DATA, 0, 1, body) for body in bodies[:-1]))
    peer.send(frame(DATA, END_STREAM, 1, bodies[-1]))
    assert rst_codes(peer.read()) == {1: PROTOCOL}


def test_8_1_content_length_with_end_stream_on_headers(peer: Peer) -> None:
    peer.send(peer.headers(1, [*GET, ("content-length", "5")]))
    assert rst_codes(peer.read()) == {1: PROTOCOL}


def test_8_4_push_promise_from_client(peer: Peer) -> None:
    """h2spec 8.2/1."""
    peer.send(frame(PUSH_PROMISE, END_HEADERS, 1, b"\0\0\0\2\x82"))
    assert peer.goaway() == PROTOCOL


def test_8_5_connect_and_extended_connect_accepted(peer: Peer) -> None:
    events = peer.send(
        peer.headers(1, [(":method", "CONNECT"), (":authority", "a:443")], end_stream=False),
        peer.headers(
            3,
            [
                (":method", "CONNECT"),
                (":protocol", "websocket"),
                (":scheme", "https"),
                (":path", "/chat"),
                (":authority", "a"),
            ],
            end_stream=False,
        ),
    )
    assert [e.pseudo[b":method"] for e in events if isinstance(e, RequestReceived)] == [
        b"CONNECT",
        b"CONNECT",
    ]
