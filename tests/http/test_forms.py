"""Header parameters and the incremental urlencoded parser."""

from __future__ import annotations

import itertools
from urllib.parse import parse_qsl

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vivace.http import FormLimitExceeded, UrlencodedParser, parse_options_header


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("text/html", ("text/html", {})),
        ("Text/HTML; Charset=UTF-8", ("text/html", {"charset": "UTF-8"})),
        (
            'form-data; name="a;b"; filename="x\\"y"',
            ("form-data", {"name": "a;b", "filename": 'x"y'}),
        ),
        ('form-data; name="back\\\\slash"', ("form-data", {"name": "back\\slash"})),
        ("a; junk; =x; b=1", ("a", {"b": "1"})),
        ("a; b=1; b=2", ("a", {"b": "1"})),
        ("a; f*=iso-8859-1'en'%E9", ("a", {"f": "é"})),
        ("a; f*=koi8-r''x; f=plain", ("a", {"f": "plain"})),
        ("a; f*=no-quotes", ("a", {})),
        (b"a; n=\xc3\xa9", ("a", {"n": "é"})),
        (b"a; n=\xe9", ("a", {"n": "é"})),
        (None, ("", {})),
        ("", ("", {})),
        ('a; q="unterminated; b=2', ("a", {"q": '"unterminated; b=2'})),
    ],
)
def test_parse_options_header(value: str | bytes | None, expected: object) -> None:
    assert parse_options_header(value) == expected


def feed_all(parser: UrlencodedParser, chunks: list[bytes]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for chunk in chunks:
        out += parser.feed(chunk)
    return out + parser.close()


def test_urlencoded_basic() -> None:
    parser = UrlencodedParser()
    assert feed_all(parser, [b"a=1&b=&c&d=x+y%20z&&e=%E2%82%AC"]) == [
        ("a", "1"),
        ("b", ""),
        ("c", ""),
        ("d", "x y z"),
        ("e", "€"),
    ]


def test_urlencoded_invalid_utf8_replaced() -> None:
    assert feed_all(UrlencodedParser(), [b"a=%FF&b=%zz"]) == [("a", "\ufffd"), ("b", "%zz")]


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.tuples(st.text(max_size=8), st.text(max_size=8)), max_size=8),
    st.lists(st.integers(min_value=0, max_value=200), max_size=6),
)
def test_urlencoded_matches_parse_qsl_for_any_split(
    pairs: list[tuple[str, str]], cuts: list[int]
) -> None:
    from urllib.parse import urlencode

    raw = urlencode(pairs).encode()
    points = [0, *sorted(c for c in cuts if c <= len(raw)), len(raw)]
    chunks = [raw[a:b] for a, b in itertools.pairwise(points)]
    got = feed_all(UrlencodedParser(), chunks)
    assert got == parse_qsl(raw.decode(), keep_blank_values=True)


def test_urlencoded_field_count_limit() -> None:
    parser = UrlencodedParser(max_fields=3)
    assert len(parser.feed(b"a=1&b=2&c=3&")) == 3
    with pytest.raises(FormLimitExceeded) as info:
        parser.feed(b"d=4&")
    assert info.value.limit == "max_fields"


def test_urlencoded_field_size_limit_streaming() -> None:
    parser = UrlencodedParser(max_field_size=10)
    parser.feed(b"a=12345")
    with pytest.raises(FormLimitExceeded, match="larger than 10") as info:
        parser.feed(b"67890")  # refused before the field ends
    assert info.value.limit == "max_field_size"
    with pytest.raises(FormLimitExceeded):
        UrlencodedParser(max_field_size=3).feed(b"abcdef&")
    short = UrlencodedParser(max_field_size=3)
    assert short.feed(b"abc") == []
    assert short.close() == [("abc", "")]
