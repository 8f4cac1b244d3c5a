"""The sans-IO multipart parser: byte strings in, events out, hostile input refused."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vivace.http import (
    FormLimitExceeded,
    MalformedForm,
    MultipartParser,
    PartData,
    PartEnd,
    PartStart,
    boundary_from_content_type,
)

B = b"----vivaceBoundary7MA4YWxkTrZu0gW"


def part(name: str, body: bytes, filename: str | None = None, extra: bytes = b"") -> bytes:
    disposition = f'Content-Disposition: form-data; name="{name}"'
    if filename is not None:
        disposition += f'; filename="{filename}"'
    head = disposition.encode() + b"\r\n" + extra
    return b"--" + B + b"\r\n" + head + b"\r\n" + body + b"\r\n"


def body(*parts: bytes, epilogue: bytes = b"\r\n") -> bytes:
    return b"".join(parts) + b"--" + B + b"--" + epilogue


def collect(parser: MultipartParser, chunks: list[bytes]) -> list[tuple[str, object]]:
    """Events folded into (name, content) pairs: data slices joined per part."""
    out: list[tuple[str, object]] = []
    current: PartStart | None = None
    data = b""
    for chunk in chunks:
        for event in parser.feed(chunk):
            if isinstance(event, PartStart):
                assert current is None
                current, data = event, b""
            elif isinstance(event, PartData):
                assert current is not None and event.data
                data += event.data
            else:
                assert isinstance(event, PartEnd) and current is not None
                out.append((current.name, (current.filename, current.content_type, data)))
                current = None
    parser.close()
    assert current is None
    return out


SAMPLE = body(
    part("title", b"hello world"),
    part("doc", b"line1\r\nline2\r\n--not-a-boundary\r\n", "a.txt", b"Content-Type: text/x\r\n"),
    part("empty", b""),
    part("bin", bytes(range(256)) * 4, "b.bin"),
)
EXPECTED = [
    ("title", (None, "text/plain", b"hello world")),
    ("doc", ("a.txt", "text/x", b"line1\r\nline2\r\n--not-a-boundary\r\n")),
    ("empty", (None, "text/plain", b"")),
    ("bin", ("b.bin", "text/plain", bytes(range(256)) * 4)),
]


def test_whole_body() -> None:
    assert collect(MultipartParser(B), [SAMPLE]) == EXPECTED


def test_byte_at_a_time() -> None:
    chunks = [SAMPLE[i : i + 1] for i in range(len(SAMPLE))]
    assert collect(MultipartParser(B), chunks) == EXPECTED


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(SAMPLE)), max_size=12))
def test_any_split_gives_same_events(cuts: list[int]) -> None:
    points = [0, *sorted(cuts), len(SAMPLE)]
    chunks = [SAMPLE[a:b] for a, b in itertools.pairwise(points)]
    assert collect(MultipartParser(B), chunks) == EXPECTED


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=300))
def test_content_round_trips(content: bytes) -> None:
    # Any content that does not hold the delimiter comes back exactly.
    if b"\r\n--" + B in content + b"\r\n--" + B[:1] or (b"--" + B) in content:
        return
    raw = body(part("f", content, "x"))
    assert collect(MultipartParser(B), [raw]) == [("f", ("x", "text/plain", content))]


def test_preamble_and_epilogue_ignored() -> None:
    raw = b"this is a preamble\r\n" + body(part("a", b"1"), epilogue=b"\r\nepilogue junk")
    assert collect(MultipartParser(B), [raw]) == [("a", (None, "text/plain", b"1"))]


def test_feed_after_done_is_ignored() -> None:
    parser = MultipartParser(B)
    parser.feed(body(part("a", b"1")))
    assert parser.done
    assert parser.feed(b"more epilogue") == []


def test_transport_padding_after_boundary() -> None:
    raw = b"--" + B + b"  \t\r\n" + b'Content-Disposition: form-data; name="a"\r\n\r\nv\r\n'
    raw += b"--" + B + b"--"
    assert collect(MultipartParser(B), [raw]) == [("a", (None, "text/plain", b"v"))]


def test_no_parts() -> None:
    assert collect(MultipartParser(B), [b"--" + B + b"--\r\n"]) == []


def test_utf8_filename_and_extended_filename() -> None:
    raw = b"--" + B + b"\r\n"
    raw += 'Content-Disposition: form-data; name="f"; filename="café.txt"\r\n\r\n'.encode()
    raw += b"x\r\n--" + B + b"\r\n"
    raw += b"Content-Disposition: form-data; name=\"g\"; filename*=UTF-8''%E2%82%AC.txt\r\n\r\n"
    raw += b"y\r\n--" + B + b"--"
    events = MultipartParser(B).feed(raw)
    starts = [e for e in events if isinstance(e, PartStart)]
    assert [s.filename for s in starts] == ["café.txt", "€.txt"]
    assert starts[0].headers == [
        ("content-disposition", 'form-data; name="f"; filename="café.txt"')
    ]


def test_latin1_header_fallback() -> None:
    raw = b"--" + B + b'\r\nContent-Disposition: form-data; name="f"; filename="\xe9"\r\n\r\n'
    raw += b"x\r\n--" + B + b"--"
    start = MultipartParser(B).feed(raw)[0]
    assert isinstance(start, PartStart) and start.filename == "é"


def test_windows_path_filename_keeps_backslashes() -> None:
    raw = body(part("f", b"x", "C:\\temp\\a.txt"))
    start = MultipartParser(B).feed(raw)[0]
    assert isinstance(start, PartStart) and start.filename == "C:\\temp\\a.txt"


def test_repr() -> None:
    assert repr(PartStart("a", None, "text/plain", [])) == "PartStart(name='a', filename=None)"
    assert repr(PartData(b"x")) == "PartData(b'x')"
    assert repr(PartEnd()) == "PartEnd()"


# -- hostile input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"--" + B + b"\r\n", id="truncated-after-boundary"),
        pytest.param(part("a", b"unterminated"), id="no-closing-boundary"),
        pytest.param(part("a", b"x")[:-10], id="truncated-body"),
        pytest.param(b"--" + B + b'\r\nContent-Disposition: form-data; name="a"', id="trunc-head"),
    ],
)
def test_truncated_bodies_are_malformed(raw: bytes) -> None:
    parser = MultipartParser(B)
    parser.feed(raw)
    with pytest.raises(MalformedForm, match="closing boundary"):
        parser.close()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"--" + B + b"\r\n\r\nbody\r\n--" + B + b"--", "without headers"),
        (b"--" + B + b"\r\nX-Foo: bar\r\n\r\nbody\r\n--" + B + b"--", "Content-Disposition"),
        (
            b"--" + B + b"\r\nContent-Disposition: attachment; name=a\r\n\r\nx\r\n--" + B + b"--",
            "Content-Disposition",
        ),
        (
            b"--" + B + b"\r\nContent-Disposition: form-data\r\n\r\nx\r\n--" + B + b"--",
            "Content-Disposition",
        ),
        (b"--" + B + b"\r\nno colon here\r\n\r\nx\r\n--" + B + b"--", "malformed"),
        (b"--" + B + b"\r\nName : v\r\n\r\nx\r\n--" + B + b"--", "malformed"),
        (
            b"--" + B + b'\r\nContent-Disposition: form-data; name="a"\r\n folded\r\n\r\nx',
            "malformed",
        ),
        (b"--" + B + b"junk\r\n", "unexpected bytes"),
        (b"--" + B + b"x" * 2000, "not terminated"),
        (b"x" * 70_000 + b"--" + B, "no multipart boundary"),
        (b"--" + B + b"\r\nA:\x00b\r\n\r\n", "CR, LF or NUL"),
    ],
)
def test_malformed(raw: bytes, message: str) -> None:
    with pytest.raises(MalformedForm, match=message):
        MultipartParser(B).feed(raw)


def test_boundary_must_follow_crlf_in_preamble() -> None:
    # "x--B" is not a delimiter: the boundary must start the body or follow CRLF.
    raw = b"x--" + B + b"\r\n"
    parser = MultipartParser(B)
    assert parser.feed(raw) == []
    with pytest.raises(MalformedForm):
        parser.close()


def test_many_headers_refused() -> None:
    head = b"".join(b"X-%d: v\r\n" % i for i in range(40))
    raw = b"--" + B + b"\r\n" + head + b'Content-Disposition: form-data; name="a"\r\n\r\n'
    with pytest.raises(MalformedForm, match="more than 32 headers"):
        MultipartParser(B).feed(raw)


def test_part_count_limit() -> None:
    raw = body(*(part(f"f{i}", b"v") for i in range(6)))
    with pytest.raises(FormLimitExceeded, match="more than 5 parts") as info:
        MultipartParser(B, max_parts=5).feed(raw)
    assert info.value.limit == "max_parts" and info.value.value == 5
    assert len(collect(MultipartParser(B, max_parts=6), [raw])) == 6


def test_field_size_limit_while_streaming() -> None:
    parser = MultipartParser(B, max_field_size=100)
    parser.feed(b"--" + B + b'\r\nContent-Disposition: form-data; name="a"\r\n\r\n')
    parser.feed(b"x" * 90)
    with pytest.raises(FormLimitExceeded, match="field larger than 100") as info:
        parser.feed(b"x" * 100)  # refused before the part ends
    assert info.value.limit == "max_field_size"


def test_field_exactly_at_limit() -> None:
    raw = body(part("a", b"x" * 100))
    assert collect(MultipartParser(B, max_field_size=100), [raw])[0][1] == (
        None,
        "text/plain",
        b"x" * 100,
    )


def test_file_size_limit_and_unlimited() -> None:
    raw = body(part("f", b"y" * 5000, "big.bin"), part("small", b"z" * 10))
    with pytest.raises(FormLimitExceeded, match="file larger than 4096") as info:
        MultipartParser(B, max_file_size=4096, max_field_size=10).feed(raw)
    assert info.value.limit == "max_file_size"
    # Files are not bound by the field limit, and None lifts the file limit.
    events = collect(MultipartParser(B, max_file_size=None, max_field_size=10), [raw])
    assert len(events) == 2


def test_header_block_limit() -> None:
    raw = b"--" + B + b"\r\nX-Big: " + b"a" * 300 + b"\r\n"
    with pytest.raises(FormLimitExceeded) as info:
        MultipartParser(B, max_part_header_size=200).feed(raw)
    assert info.value.limit == "max_part_header_size"
    complete = raw + b'Content-Disposition: form-data; name="a"\r\n\r\n'
    with pytest.raises(FormLimitExceeded):
        MultipartParser(B, max_part_header_size=200).feed(complete)


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        ("multipart/form-data; boundary=abc", b"abc"),
        ('multipart/form-data; boundary="with space"', b"with space"),
        (b"multipart/form-data; BOUNDARY=xyz", b"xyz"),
    ],
)
def test_boundary_from_content_type(content_type: str | bytes, expected: bytes) -> None:
    assert boundary_from_content_type(content_type) == expected


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "multipart/form-data",
        "multipart/form-data; boundary=",
        "multipart/form-data; boundary=" + "a" * 71,
        'multipart/form-data; boundary="ends with space "',
        "multipart/form-data; boundary=bad\x00char",
    ],
)
def test_bad_boundaries(content_type: str | None) -> None:
    with pytest.raises(MalformedForm):
        boundary_from_content_type(content_type)


def test_parser_rejects_bad_boundary() -> None:
    with pytest.raises(MalformedForm):
        MultipartParser(b"")


def test_empty_header_block_split_across_chunks() -> None:
    parser = MultipartParser(B)
    parser.feed(b"--" + B + b"\r\n")
    with pytest.raises(MalformedForm, match="without headers"):
        parser.feed(b"\r\nbody")


def test_padding_split_across_chunks() -> None:
    parser = MultipartParser(B)
    assert parser.feed(b"--" + B + b" \t") == []
    events = parser.feed(
        b' \r\nContent-Disposition: form-data; name="a"\r\n\r\nv\r\n--' + B + b"--"
    )
    assert [type(e) for e in events] == [PartStart, PartData, PartEnd]
