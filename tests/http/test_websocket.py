"""The sans-IO WebSocket core, with byte strings only (RFC 6455 rules, hostile input)."""

from __future__ import annotations

import os
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.extensions.permessage_deflate import PerMessageDeflate

from vivace.http import (
    CloseCode,
    WebSocketClosed,
    WebSocketCore,
    WebSocketDisconnect,
    WebSocketPing,
    WebSocketPong,
    accept_key,
)


def frame(
    opcode: int,
    payload: bytes = b"",
    *,
    fin: bool = True,
    mask: bool = True,
    rsv: int = 0,
    length: int | None = None,
) -> bytes:
    """One frame as a client (masked) or a server (unmasked) would write it."""
    first = (0x80 if fin else 0) | (rsv << 4) | opcode
    size = len(payload) if length is None else length
    mask_bit = 0x80 if mask else 0
    if size < 126:
        head = bytes([first, mask_bit | size])
    elif size < 65536:
        head = bytes([first, mask_bit | 126]) + struct.pack("!H", size)
    else:
        head = bytes([first, mask_bit | 127]) + struct.pack("!Q", size)
    if not mask:
        return head + payload
    key = os.urandom(4)
    masked = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return head + key + masked


def close_payload(code: int, reason: bytes = b"") -> bytes:
    return struct.pack("!H", code) + reason


def server(**kwargs: object) -> WebSocketCore:
    return WebSocketCore(client=False, **kwargs)  # type: ignore[arg-type]


def sent_close(core: WebSocketCore) -> tuple[int, bytes]:
    """The close frame the core queued (unmasked, as a server sends it)."""
    data = b"".join(core.data_to_send())
    assert data[0] == 0x88, data
    length = data[1] & 0x7F
    body = data[2 : 2 + length]
    return struct.unpack("!H", body[:2])[0], body[2:]


def test_accept_key_rfc_example() -> None:
    assert accept_key(b"dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_close_codes_and_disconnect() -> None:
    assert CloseCode.INVALID_DATA == 1007
    exc = WebSocketDisconnect(1009, "too big")
    assert "1009 too big" in str(exc)
    assert repr(exc) == "WebSocketDisconnect(code=1009, reason='too big')"


def test_messages_in_one_read() -> None:
    core = server()
    data = frame(1, b"hello") + frame(2, b"\x00\xff") + frame(1, "h\u00e9".encode())
    assert core.receive_data(data) == ["hello", b"\x00\xff", "h\u00e9"]
    assert core.open and not core.closed


def test_messages_split_across_reads() -> None:
    core = server()
    data = frame(1, b"x" * 300)
    events = []
    for i in range(len(data)):
        events += core.receive_data(data[i : i + 1])
    assert events == ["x" * 300]


def test_fragmented_messages_and_interleaved_control_frames() -> None:
    core = server()
    data = (
        frame(1, b"caf", fin=False)
        + frame(9, b"ping!")  # RFC 6455 5.4: control frames may come between fragments
        + frame(0, "\u00e9".encode()[:1], fin=False)  # a character split between frames
        + frame(0, "\u00e9".encode()[1:] + b"!", fin=True)
        + frame(2, b"ab", fin=False)
        + frame(0, b"cd", fin=True)
    )
    events = core.receive_data(data)
    assert events[1:] == ["caf\u00e9!", b"abcd"]
    assert isinstance(events[0], WebSocketPing) and events[0].data == b"ping!"
    pong = b"".join(core.data_to_send())
    assert pong == frame(10, b"ping!", mask=False)
    assert repr(events[0]) == "WebSocketPing(b'ping!')"


def test_pong_event() -> None:
    core = server()
    (event,) = core.receive_data(frame(10, b"p"))
    assert isinstance(event, WebSocketPong) and event.data == b"p"
    assert repr(event) == "WebSocketPong(b'p')"


def test_close_handshake_from_client() -> None:
    core = server()
    (event,) = core.receive_data(frame(8, close_payload(1001, b"bye")))
    assert isinstance(event, WebSocketClosed)
    assert (event.code, event.reason) == (1001, "bye")
    assert repr(event) == "WebSocketClosed(1001, 'bye')"
    assert core.closed and not core.open
    assert sent_close(core) == (1001, b"bye")  # echoed (RFC 6455 5.5.1)
    assert core.should_close  # a server closes the TCP connection first (7.1.1)
    assert core.receive_data(frame(1, b"late")) == []  # nothing after a close


def test_empty_close_frame_is_1005() -> None:
    core = server()
    (event,) = core.receive_data(frame(8))
    assert isinstance(event, WebSocketClosed) and event.code == 1005


def test_close_handshake_from_server() -> None:
    core = server()
    data = core.send_close(1000, "done")
    assert data[:2] == b"\x88\x06"
    assert not core.open and not core.closed  # CLOSING
    assert core.close_code == 1000
    assert core.send_close(1000) == b""  # once
    with pytest.raises(RuntimeError):
        core.send_text("too late")
    # The peer may still send data before its close frame; then it answers.
    assert core.receive_data(frame(1, b"in flight")) == ["in flight"]
    (event,) = core.receive_data(frame(8, close_payload(1000)))
    assert isinstance(event, WebSocketClosed) and core.closed
    with pytest.raises(RuntimeError):
        core.send_ping()


def test_send_close_checks_codes_and_truncates_reason() -> None:
    core = server()
    with pytest.raises(ValueError, match="1006"):
        core.send_close(1006)
    with pytest.raises(ValueError, match="999"):
        core.send_close(999)
    data = core.send_close(4000, "\u00e9" * 100)  # 200 bytes of UTF-8: cut to fit 125
    length = data[1]
    assert length <= 125
    data[4 : 2 + length].decode("utf-8")  # still valid UTF-8 after the cut


def test_close_without_code() -> None:
    core = server()
    assert core.send_close(1005) == b"\x88\x00"


def test_invalid_utf8_text_is_1007() -> None:
    core = server()
    events = core.receive_data(frame(1, b"ok") + frame(1, b"\xff\xfe") + frame(1, b"never"))
    assert events[0] == "ok"
    assert isinstance(events[1], WebSocketClosed) and events[1].code == 1007
    assert len(events) == 2
    assert sent_close(core)[0] == 1007
    assert core.should_close


def test_invalid_utf8_fails_fast_in_fragments() -> None:
    # RFC 6455 8.1: fail as soon as the bytes cannot be UTF-8, not at the last fragment.
    core = server()
    events = core.receive_data(frame(1, b"abc", fin=False) + frame(0, b"\xc3\x28", fin=False))
    assert isinstance(events[-1], WebSocketClosed) and events[-1].code == 1007
    core = server()
    (event,) = core.receive_data(frame(1, b"\xed\xa0\x80", fin=False))  # a surrogate
    assert isinstance(event, WebSocketClosed) and event.code == 1007


def test_truncated_utf8_at_the_end_is_1007() -> None:
    core = server()
    events = core.receive_data(frame(1, b"ab", fin=False) + frame(0, b"\xe2\x82", fin=True))
    assert isinstance(events[-1], WebSocketClosed) and events[-1].code == 1007


def test_invalid_utf8_in_close_reason_is_1007() -> None:
    core = server()
    (event,) = core.receive_data(frame(8, close_payload(1000, b"\xff")))
    assert isinstance(event, WebSocketClosed) and event.code == 1007


def test_oversized_message_is_1009() -> None:
    core = server(max_message_size=1000)
    events = core.receive_data(frame(2, b"x" * 1001))
    assert isinstance(events[-1], WebSocketClosed) and events[-1].code == 1009
    assert sent_close(core)[0] == 1009


def test_oversized_is_detected_from_the_header() -> None:
    # A frame announcing 2**62 bytes fails at once: nothing is buffered waiting for it.
    core = server(max_message_size=1 << 20)
    (event,) = core.receive_data(frame(2, length=1 << 62))
    assert isinstance(event, WebSocketClosed) and event.code == 1009


def test_oversized_fragmented_message_is_1009() -> None:
    core = server(max_message_size=1000)
    data = b"".join(frame(0 if i else 2, b"x" * 300, fin=False) for i in range(4))
    events = core.receive_data(data)
    assert isinstance(events[-1], WebSocketClosed) and events[-1].code == 1009


def test_unlimited_message_size() -> None:
    core = server(max_message_size=None)
    assert core.receive_data(frame(2, b"x" * 2_000_000)) == [b"x" * 2_000_000]


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (frame(1, b"unmasked", mask=False), "client frames must be masked (5.1)"),
        (frame(3, b""), "reserved opcode (5.2)"),
        (frame(11, b""), "reserved control opcode"),
        (frame(1, b"x", rsv=4), "RSV1 without an extension (5.2)"),
        (frame(1, b"x", rsv=2), "RSV2"),
        (frame(0, b"x"), "continuation without a message"),
        (frame(1, b"a", fin=False) + frame(1, b"b"), "new message inside a fragmented one"),
        (frame(9, b"x", fin=False), "fragmented control frame (5.5)"),
        (frame(9, b"x" * 126), "control frame over 125 bytes (5.5)"),
        (frame(8, b"\x03"), "close frame of one byte"),
        (frame(8, close_payload(1005)), "close code 1005 is never sent (7.4.1)"),
        (frame(8, close_payload(999)), "close code out of range"),
    ],
)
def test_protocol_errors_are_1002(data: bytes, why: str) -> None:
    core = server()
    events = core.receive_data(data)
    assert events, why
    last = events[-1]
    assert isinstance(last, WebSocketClosed) and last.code == 1002, (why, events)
    assert core.closed
    assert sent_close(core)[0] == 1002
    assert core.receive_data(frame(1, b"more")) == []


def test_close_in_the_middle_of_a_fragmented_message_is_clean() -> None:
    # RFC 6455 5.4 / 5.5.1: the close is answered; the unfinished message is dropped.
    core = server()
    wire = frame(1, b"frag", fin=False) + frame(8, close_payload(1000)) + frame(0, b"more")
    (event,) = core.receive_data(wire)
    assert isinstance(event, WebSocketClosed) and event.code == 1000
    assert sent_close(core) == (1000, b"")


def test_server_frames_must_not_be_masked() -> None:
    client = WebSocketCore(client=True)
    events = client.receive_data(frame(1, b"masked", mask=True))
    assert isinstance(events[-1], WebSocketClosed) and events[-1].code == 1002


def test_eof_without_close_is_1006() -> None:
    core = server()
    core.receive_data(frame(1, b"partial", fin=False))
    (event,) = core.receive_eof()
    assert isinstance(event, WebSocketClosed) and event.code == 1006
    assert core.receive_eof() == []


def test_eof_mid_frame_is_1006() -> None:
    core = server()
    assert core.receive_data(frame(1, b"hello")[:4]) == []
    events = core.receive_eof()
    assert isinstance(events[-1], WebSocketClosed) and events[-1].code == 1006


def test_eof_after_close_handshake() -> None:
    client = WebSocketCore(client=True)
    client.receive_data(frame(8, close_payload(1000), mask=False))
    assert client.closed
    assert client.receive_eof() == []


def test_client_masks_and_server_reads() -> None:
    client = WebSocketCore(client=True)
    data = client.send_text("hi")
    assert data[1] & 0x80  # masked
    assert server().receive_data(data) == ["hi"]
    ping = client.send_ping(b"1234")
    assert server().receive_data(ping)[0].data == b"1234"  # type: ignore[union-attr]


def test_permessage_deflate_round_trip() -> None:
    server_ext = PerMessageDeflate(False, False, 12, 12)
    client_ext = PerMessageDeflate(False, False, 12, 12)
    srv = WebSocketCore(client=False, extensions=[server_ext])
    cli = WebSocketCore(client=True, extensions=[client_ext])
    assert srv.extensions == [server_ext]
    text = "compress me " * 1000
    wire = cli.send_text(text)
    assert len(wire) < len(text) // 10
    assert srv.receive_data(wire) == [text]
    assert cli.receive_data(srv.send_bytes(b"\x00" * 10_000)) == [b"\x00" * 10_000]


def test_deflate_bomb_is_1009() -> None:
    srv = WebSocketCore(
        client=False, max_message_size=10_000, extensions=[PerMessageDeflate(False, False, 15, 15)]
    )
    cli = WebSocketCore(client=True, extensions=[PerMessageDeflate(False, False, 15, 15)])
    wire = cli.send_bytes(b"\x00" * 1_000_000)  # about 1 KB on the wire
    assert len(wire) < 5_000
    events = srv.receive_data(wire)
    assert isinstance(events[-1], WebSocketClosed) and events[-1].code == 1009


def test_garbage_deflate_data_is_1002() -> None:
    srv = WebSocketCore(client=False, extensions=[PerMessageDeflate(False, False, 15, 15)])
    events = srv.receive_data(frame(2, b"\xff\xff\xff\xff not deflate", rsv=4))
    assert isinstance(events[-1], WebSocketClosed) and events[-1].code == 1002


# -- the fast path (whole small frames parsed and built without the library) -------------


@pytest.mark.parametrize("size", [0, 1, 125, 126, 1000, 65535, 65536, 70_000])
@pytest.mark.parametrize("client_sends", [True, False])
def test_round_trip_sizes(size: int, client_sends: bool) -> None:
    sender = WebSocketCore(client=client_sends, max_message_size=None)
    receiver = WebSocketCore(client=not client_sends, max_message_size=None)
    text = "\u00e9" * (size // 2) + "x" * (size % 2)
    data = bytes(range(256)) * (size // 256) + bytes(size % 256)
    wire = sender.send_text(text) + sender.send_bytes(data)
    assert bool(wire[1] & 0x80) is client_sends  # clients mask, servers do not
    assert receiver.receive_data(wire) == [text, data]


def test_fast_frames_then_control_frame_then_fast_frames() -> None:
    core = server()
    wire = frame(1, b"a") + frame(9, b"p") + frame(2, b"b") + frame(1, b"c")
    events = core.receive_data(wire)
    assert events[0] == "a" and isinstance(events[1], WebSocketPing)
    assert events[2:] == [b"b", "c"]
    # Back on the fast path once the library has no partial frame.
    assert core.receive_data(frame(1, b"d")) == ["d"]


def test_partial_frames_go_through_the_library_and_back() -> None:
    core = server()
    whole = frame(1, b"x" * 300)
    assert core.receive_data(frame(1, b"first") + whole[:5]) == ["first"]
    assert core.receive_data(whole[5:] + frame(1, b"next")) == ["x" * 300, "next"]
    assert core.receive_data(frame(2, b"z")) == [b"z"]


def test_oversized_on_the_fast_path_is_1009() -> None:
    core = server(max_message_size=10)
    events = core.receive_data(frame(1, b"ok") + frame(2, b"x" * 11))
    assert events[0] == "ok"
    assert isinstance(events[1], WebSocketClosed) and events[1].code == 1009


@settings(max_examples=60, deadline=None)
@given(
    messages=st.lists(
        st.one_of(
            st.text(max_size=300),
            st.binary(max_size=300),
            st.builds(WebSocketPing, st.binary(max_size=125)),
        ),
        max_size=12,
    ),
    cuts=st.lists(st.integers(min_value=0, max_value=5000), max_size=8),
    big=st.booleans(),
)
def test_any_messages_split_anywhere(messages: list, cuts: list[int], big: bool) -> None:
    client = WebSocketCore(client=True)
    core = server()
    if big:
        messages = [*messages, "y" * 70_000]
    wire = b"".join(
        client.send_ping(m.data)
        if isinstance(m, WebSocketPing)
        else client.send_text(m)
        if isinstance(m, str)
        else client.send_bytes(m)
        for m in messages
    )
    points = sorted({min(c, len(wire)) for c in cuts})
    pieces = [wire[a:b] for a, b in zip([0, *points], [*points, len(wire)], strict=True)]
    events = []
    for piece in pieces:
        events += core.receive_data(piece)
    expected = [m.data if isinstance(m, WebSocketPing) else m for m in messages]
    got = [e.data if isinstance(e, WebSocketPing) else e for e in events]
    assert got == expected
