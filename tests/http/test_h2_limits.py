"""Denial-of-service limits of the sans-IO connection: each advertised, enforced, bounded.

The end-to-end versions (a real server, attack clients, a well-behaved neighbour) are in
tests/server/test_h2_attacks.py.
"""

from __future__ import annotations

import struct

import pytest

from tests.http.h2peer import (
    CONTINUATION,
    DATA,
    GET,
    HEADERS,
    PING,
    PRIORITY,
    RST_STREAM,
    WINDOW_UPDATE,
    Peer,
    frame,
    rst_codes,
    settings,
)
from vivace.http._h2_events import ConnectionTerminated, RequestReceived, StreamReset
from vivace.http._h2_frames import ErrorCode, H2Limits

CALM = ErrorCode.ENHANCE_YOUR_CALM


def started(**limits: object) -> Peer:
    peer = Peer(**limits)
    peer.start()
    return peer


def test_rapid_reset_cve_2023_44487() -> None:
    peer = started(reset_burst=50, reset_rate=10.0)
    for i in range(50):
        sid = 1 + 2 * i
        peer.send(peer.headers(sid, end_stream=False), frame(RST_STREAM, 0, sid, b"\0\0\0\x08"))
    assert not peer.conn.closed
    peer.send(peer.headers(101, end_stream=False), frame(RST_STREAM, 0, 101, b"\0\0\0\x08"))
    assert peer.goaway() == CALM and peer.conn.closed


def test_reset_budget_refills_with_time() -> None:
    peer = started(reset_burst=5, reset_rate=10.0)
    sid = 1
    for _ in range(3):
        for _ in range(5):
            peer.send(peer.headers(sid, end_stream=False), frame(RST_STREAM, 0, sid, b"\0\0\0\x08"))
            sid += 2
        peer.now += 1.0  # ten tokens back, capped at the burst of five
    assert not peer.conn.closed


def test_made_you_reset_cve_2025_8671() -> None:
    """Frames that make the server reset streams draw on the same budget."""
    peer = started(reset_burst=20)
    sid = 1
    while not peer.conn.closed and sid < 200:
        # A zero WINDOW_UPDATE on an open stream: a stream error the server must send.
        peer.send(peer.headers(sid, end_stream=False), frame(WINDOW_UPDATE, 0, sid, b"\0\0\0\0"))
        sid += 2
    assert peer.conn.closed and sid <= 45
    assert peer.goaway() == CALM


def test_concurrent_stream_limit_advertised_and_enforced() -> None:
    peer = Peer(max_concurrent_streams=3)
    assert dict(struct.iter_unpack(">HI", peer.sent[0].payload))[3] == 3
    peer.start()
    peer.send(*(peer.headers(1 + 2 * i, end_stream=False) for i in range(4)))
    assert rst_codes(peer.read()) == {7: ErrorCode.REFUSED_STREAM}


def test_ping_flood_cve_2019_9512() -> None:
    peer = started(ping_burst=10, ping_rate=1.0)
    peer.send(*(frame(PING, 0, 0, b"12345678") for _ in range(10)))
    assert not peer.conn.closed
    peer.send(frame(PING, 0, 0, b"12345678"))
    assert peer.goaway() == CALM


def test_settings_flood_cve_2019_9515() -> None:
    peer = started(settings_burst=10, settings_rate=1.0)
    peer.send(*(settings() for _ in range(11)))
    assert peer.goaway() == CALM


def test_priority_flood_cve_2019_9513() -> None:
    peer = started(priority_burst=20, priority_rate=1.0)
    peer.send(*(frame(PRIORITY, 0, 1 + 2 * i, b"\0\0\0\0\x10") for i in range(21)))
    assert peer.goaway() == CALM


@pytest.mark.parametrize("kind", ["DATA", "CONTINUATION", "unknown"])
def test_empty_frame_flood_cve_2019_9518(kind: str) -> None:
    peer = started(empty_burst=10, empty_rate=1.0, max_continuations=100)
    if kind == "DATA":
        peer.send(peer.headers(1, end_stream=False))
        frames = [frame(DATA, 0, 1, b"") for _ in range(11)]
    elif kind == "CONTINUATION":
        frames = [frame(HEADERS, 0, 1, peer.block(GET)[:1])]
        frames += [frame(CONTINUATION, 0, 1, b"") for _ in range(11)]
    else:
        frames = [frame(0x42, 0, 0, b"") for _ in range(11)]
    peer.send(*frames)
    assert peer.goaway() == CALM


def test_zero_length_header_names_cve_2019_9516() -> None:
    peer = started()
    block = peer.block(GET) + b"\x00\x00\x00" * 1000  # a thousand empty literal fields
    peer.send(frame(HEADERS, 0x5, 1, block))
    assert rst_codes(peer.read()) == {1: ErrorCode.PROTOCOL_ERROR}


def test_continuation_count_cve_2024_27316() -> None:
    peer = started(max_continuations=8)
    frames = [frame(HEADERS, 0, 1, peer.block(GET)[:1])]
    frames += [frame(CONTINUATION, 0, 1, b"\x82") for _ in range(9)]
    peer.send(*frames)
    assert peer.goaway() == CALM


def test_continuation_size_cve_2024_27316() -> None:
    peer = started(max_block_size=20_000)
    big = b"\x00\x01a\x7f" + bytes([0x81, 0x7F]) + b"v" * 16000  # a 16 KiB literal
    peer.send(frame(HEADERS, 0, 1, peer.block(GET)), frame(CONTINUATION, 0, 1, big[:16000]))
    assert not peer.conn.closed
    peer.send(frame(CONTINUATION, 0, 1, big[:16000]))
    assert peer.goaway() == CALM
    # Nothing past the limit was kept.
    assert peer.conn._continuing is None or peer.conn._continuing[3] <= 20_000


def test_header_list_too_large_gets_431_and_the_connection_lives() -> None:
    peer = started(max_header_list_size=4096)
    events = peer.send(peer.headers(1, [*GET, ("x-big", "v" * 5000)]))
    assert events == []
    frames = peer.read()
    assert peer.decode(frames[0].payload)[0] == (b":status", b"431")
    # HPACK stayed in step: the next request (which may index earlier entries) works.
    events = peer.send(peer.headers(3))
    assert isinstance(events[0], RequestReceived)


def test_hpack_bomb_cve_2016_6581() -> None:
    peer = started(max_header_list_size=16384)
    entry = b"\x40\x01x\x7f" + bytes([0xB9, 0x16]) + b"v" * 3000  # a 3000-byte entry, indexed
    block = peer.block(GET) + entry + b"\xbe" * 2000
    events = peer.send(frame(HEADERS, 0x5, 1, block))
    assert events == []
    assert peer.decode(peer.read()[0].payload)[0] == (b":status", b"431")


def test_streams_per_connection_then_graceful_goaway() -> None:
    peer = started(max_streams_per_connection=3)
    for sid in (1, 3, 5):
        peer.send(peer.headers(sid))
    assert peer.goaway() == ErrorCode.NO_ERROR
    assert peer.conn.local_goaway == 5 and not peer.conn.closed
    assert peer.send(peer.headers(7)) == []  # above last_stream_id: ignored


def test_stalled_stream_reset_cve_2019_9511() -> None:
    peer = started(send_stall_timeout=10.0)
    peer.send(settings(initial_window_size=0), peer.headers(1), peer.headers(3))
    peer.read()
    peer.conn.send_headers(1, [(b":status", b"200")])
    peer.conn.send_data(1, b"x" * 1000, end_stream=True)
    assert peer.conn.pending_size(1) == 1000
    peer.now += 5
    peer.conn.check_stalls(10.0)
    assert peer.conn.take_events() == []
    peer.now += 6
    peer.conn.check_stalls(10.0)
    events = peer.conn.take_events()
    assert [type(e) for e in events] == [StreamReset]
    assert rst_codes(peer.read()) == {1: ErrorCode.CANCEL}
    assert peer.conn.pending_size(1) == 0  # the buffer is freed


def test_connection_window_stall_cve_2019_9517() -> None:
    peer = started(send_stall_timeout=10.0)
    peer.send(peer.headers(1))
    peer.read()
    peer.conn.send_headers(1, [(b":status", b"200")])
    peer.conn.send_data(1, b"x" * 100_000, end_stream=True)  # the default 65535 window
    peer.now += 11
    peer.conn.check_stalls(10.0)
    events = peer.conn.take_events()
    assert isinstance(events[0], ConnectionTerminated)
    assert peer.goaway() == ErrorCode.FLOW_CONTROL_ERROR


def test_unread_body_bounded_by_the_connection_window() -> None:
    peer = started(initial_window_size=65535, connection_window_size=65535 * 2)
    for sid in (1, 3, 5):
        peer.send(peer.headers(sid, end_stream=False))
    for sid in (1, 3):
        peer.send(*(frame(DATA, 0, sid, b"x" * 16383) for _ in range(4)))
    peer.send(frame(DATA, 0, 5, b"x" * 10))
    assert peer.goaway() == ErrorCode.FLOW_CONTROL_ERROR


def test_limits_are_validated() -> None:
    with pytest.raises(ValueError, match="max_concurrent_streams"):
        H2Limits(max_concurrent_streams=0)
    with pytest.raises(ValueError, match="initial_window_size"):
        H2Limits(initial_window_size=10)
    with pytest.raises(ValueError, match="connection_window_size"):
        H2Limits(connection_window_size=2**31)
    with pytest.raises(ValueError, match="max_frame_size"):
        H2Limits(max_frame_size=100)
    with pytest.raises(ValueError, match="max_header_list_size"):
        H2Limits(max_header_list_size=10)
