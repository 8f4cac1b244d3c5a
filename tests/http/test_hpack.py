"""HPACK (RFC 7541): RFC 7541 Appendix C, the hpack-test-case vectors, limits, hostile input."""

from __future__ import annotations

import json
from pathlib import Path

import hpack
import pytest

from vivace.http._hpack import (
    STATIC_TABLE,
    HeaderListTooLarge,
    HPACKDecoder,
    HPACKEncoder,
    HPACKError,
    encode_integer,
)

VECTORS = Path(__file__).resolve().parents[3] / "shared" / "data" / "hpack-test-case"


def h(*pairs: tuple[str, str]) -> list[tuple[bytes, bytes]]:
    return [(n.encode(), v.encode()) for n, v in pairs]


def test_static_table_is_rfc7541_appendix_a() -> None:
    # The hpack library's copy is an independent transcription of the same table.
    assert list(STATIC_TABLE) == list(hpack.table.HeaderTable.STATIC_TABLE)
    assert len(STATIC_TABLE) == 61


# -- Appendix C.1: integers ------------------------------------------------------------------


def test_c1_integers() -> None:
    assert encode_integer(10, 5) == bytes([0b01010])
    assert encode_integer(1337, 5) == bytes([0b11111, 0b10011010, 0b00001010])
    assert encode_integer(42, 8) == bytes([42])


# -- Appendix C.2: one field of each representation ------------------------------------------


def test_c2_1_literal_with_indexing() -> None:
    decoder = HPACKDecoder()
    block = bytes.fromhex("400a637573746f6d2d6b65790d637573746f6d2d686561646572")
    assert decoder.decode(block) == h(("custom-key", "custom-header"))
    assert decoder.table_size == 55


def test_c2_2_literal_without_indexing() -> None:
    decoder = HPACKDecoder()
    assert decoder.decode(bytes.fromhex("040c2f73616d706c652f70617468")) == h(
        (":path", "/sample/path")
    )
    assert decoder.table_size == 0


def test_c2_3_never_indexed() -> None:
    decoder = HPACKDecoder()
    block = bytes.fromhex("100870617373776f726406736563726574")
    assert decoder.decode(block) == h(("password", "secret"))
    assert decoder.table_size == 0


def test_c2_4_indexed() -> None:
    assert HPACKDecoder().decode(b"\x82") == h((":method", "GET"))


# -- Appendix C.3-C.6: sequences on one decoder ----------------------------------------------

C3 = [
    ("828684410f7777772e6578616d706c652e636f6d", 57),
    ("828684be58086e6f2d6361636865", 110),
    ("828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565", 164),
]
C4 = [
    ("828684418cf1e3c2e5f23a6ba0ab90f4ff", 57),
    ("828684be5886a8eb10649cbf", 110),
    ("828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf", 164),
]
REQUESTS = [
    h((":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "www.example.com")),
    h(
        (":method", "GET"),
        (":scheme", "http"),
        (":path", "/"),
        (":authority", "www.example.com"),
        ("cache-control", "no-cache"),
    ),
    h(
        (":method", "GET"),
        (":scheme", "https"),
        (":path", "/index.html"),
        (":authority", "www.example.com"),
        ("custom-key", "custom-value"),
    ),
]


@pytest.mark.parametrize("blocks", [C3, C4], ids=["C.3 plain", "C.4 huffman"])
def test_c3_c4_requests(blocks: list[tuple[str, int]]) -> None:
    decoder = HPACKDecoder()
    for (block, size), expected in zip(blocks, REQUESTS, strict=True):
        assert decoder.decode(bytes.fromhex(block)) == expected
        assert decoder.table_size == size


C5 = [
    "4803333032580770726976617465611d4d6f6e2c203231204f637420323031332032303a31333a323120474d54"
    "6e1768747470733a2f2f7777772e6578616d706c652e636f6d",
    "4803333037c1c0bf",
    "88c1611d4d6f6e2c203231204f637420323031332032303a31333a323220474d54c05a04677a69707738666f6f"
    "3d4153444a4b48514b425a584f5157454f50495541585157454f49553b206d61782d6167653d333630303b2076"
    "657273696f6e3d31",
]
C6 = [
    "488264025885aec3771a4b6196d07abe941054d444a8200595040b8166e082a62d1bff6e919d29ad171863c78f"
    "0b97c8e9ae82ae43d3",
    "4883640effc1c0bf",
    "88c16196d07abe941054d444a8200595040b8166e084a62d1bffc05a839bd9ab77ad94e7821dd7f2e6c7b335df"
    "dfcd5b3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007",
]
DATE1, DATE2 = "Mon, 21 Oct 2013 20:13:21 GMT", "Mon, 21 Oct 2013 20:13:22 GMT"
COOKIE = "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"
LOCATION = ("location", "https://www.example.com")
RESPONSES = [
    h((":status", "302"), ("cache-control", "private"), ("date", DATE1), LOCATION),
    h((":status", "307"), ("cache-control", "private"), ("date", DATE1), LOCATION),
    h(
        (":status", "200"),
        ("cache-control", "private"),
        ("date", DATE2),
        LOCATION,
        ("content-encoding", "gzip"),
        ("set-cookie", COOKIE),
    ),
]


@pytest.mark.parametrize("blocks", [C5, C6], ids=["C.5 plain", "C.6 huffman"])
def test_c5_c6_responses_with_eviction(blocks: list[str]) -> None:
    decoder = HPACKDecoder(max_table_size=256)
    sizes = []
    for block, expected in zip(blocks, RESPONSES, strict=True):
        assert decoder.decode(bytes.fromhex(block)) == expected
        sizes.append(decoder.table_size)
    assert sizes == [222, 222, 215]


# -- hpack-test-case (http2jp) -----------------------------------------------------------------


def _stories() -> list[Path]:
    folders = ("nghttp2", "nghttp2-change-table-size", "go-hpack")
    return sorted(p for d in folders for p in (VECTORS / d).glob("story_*.json"))


@pytest.mark.skipif(not VECTORS.is_dir(), reason="../shared/data/hpack-test-case is not present")
def test_hpack_test_case_vectors() -> None:
    stories = _stories()
    assert len(stories) >= 90
    cases = 0
    for story in stories:
        decoder = HPACKDecoder()
        for case in json.loads(story.read_text())["cases"]:
            expected = [
                (name.encode(), value.encode())
                for field in case["headers"]
                for name, value in field.items()
            ]
            assert decoder.decode(bytes.fromhex(case["wire"])) == expected, (story, case["seqno"])
            cases += 1
    assert cases > 10_000


# -- hostile input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "block",
    [
        b"\x80",  # index 0
        b"\xbe",  # dynamic index 62 in an empty table
        b"\xff\xff\xff\xff\xff\xff\x7f",  # an integer far past 2**32
        b"\x40\x85ab",  # a literal name longer than the block
        b"\x41",  # a field cut short
        b"\x40\x81\xff\x00",  # invalid Huffman (EOS)
        b"\x82\x20",  # a table size update after a field
        b"\x3f\xe2\x1f",  # a table size update to 4097, above the advertised 4096
    ],
)
def test_malformed_blocks(block: bytes) -> None:
    with pytest.raises(HPACKError):
        HPACKDecoder().decode(block)


def test_hpack_bomb_stopped_while_decoding() -> None:
    # One 4000-byte entry, then thousands of one-byte references to it: 4 KiB of input
    # that would expand to megabytes. The limit stops it at the first field past 64 KiB.
    decoder = HPACKDecoder()
    block = b"\x40\x01x" + encode_integer(4000, 7) + b"v" * 4000
    bomb = block + b"\xbe" * 5000
    with pytest.raises(HeaderListTooLarge):
        decoder.decode(bomb, max_list_size=65536)


def test_huffman_bomb_bounded_before_decoding() -> None:
    # 700 Huffman octets could decode to 1120: over a 1000-octet limit before decoding.
    block = b"\x00\x01a" + encode_integer(700, 7, 0x80) + b"\xff" * 700
    with pytest.raises(HeaderListTooLarge):
        HPACKDecoder().decode(block, max_list_size=1000)


def test_generation_changes_only_with_the_table() -> None:
    decoder = HPACKDecoder()
    decoder.decode(b"\x82\x86\x84")
    assert decoder.generation == 0
    decoder.decode(bytes.fromhex("400a637573746f6d2d6b65790d637573746f6d2d686561646572"))
    assert decoder.generation == 1
    decoder.decode(b"\x20")  # size update
    assert decoder.generation == 2 and decoder.table_size == 0


def test_entry_larger_than_table_empties_it() -> None:
    decoder = HPACKDecoder(max_table_size=64)
    decoder.decode(b"\x40\x01a\x01b")
    assert decoder.table_size == 34
    big = b"\x40\x01c" + encode_integer(100, 7) + b"d" * 100
    decoder.decode(big)
    assert decoder.table_size == 0


# -- the encoder, checked by an independent decoder ------------------------------------------


def test_encoder_roundtrip_through_hpack_library() -> None:
    encoder = HPACKEncoder()
    fields = h(
        (":status", "200"),
        (":status", "418"),
        ("content-type", "text/plain"),
        ("set-cookie", "a=b"),
        ("x-custom", "v" * 300),
        ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
    )
    other = hpack.Decoder()
    first = encoder.encode(fields)
    assert first[0] == 0x20  # the table size update to 0 comes once, first
    assert other.decode(first, raw=True) == fields
    second = encoder.encode(fields)
    assert second[0] != 0x20
    assert other.decode(second, raw=True) == fields
    encoder.table_size_changed()
    assert encoder.encode([(b":status", b"200")]) == b"\x20\x88"


def test_encoder_marks_credentials_never_indexed() -> None:
    data = HPACKEncoder().field(b"authorization", b"secret")
    assert data[0] & 0xF0 == 0x10
    data = HPACKEncoder().field(b"x-token-name-not-static", b"v")
    assert data[0] == 0x00
