"""The protocol core with byte strings only: request writing, response reading, and
malformed responses."""

from __future__ import annotations

import pytest

from vivace.client import LocalProtocolError, RemoteProtocolError
from vivace.client._http11 import ResponseReader, build_head, check_method, chunk, safe_target


def read(*pieces: bytes, head: bool = False, eof: bool = False) -> ResponseReader:
    reader = ResponseReader(max_header_size=1024)
    reader.start(head_request=head)
    for piece in pieces:
        reader.feed(piece)
    if eof:
        reader.feed_eof()
    return reader


def test_writing() -> None:
    assert build_head("POST", "/", []) == b"POST / HTTP/1.1\r\n\r\n"
    assert chunk(b"x" * 26) == b"1a\r\n" + b"x" * 26 + b"\r\n"
    assert safe_target("/ok?a=1&b=%20") == "/ok?a=1&b=%20"
    assert safe_target("/sp ace\x7f") == "/sp%20ace%7F"
    assert check_method("PROPFIND") == "PROPFIND"
    with pytest.raises(LocalProtocolError):
        check_method("GET /evil HTTP/1.1\r\n")


def test_content_length_byte_by_byte() -> None:
    data = b"HTTP/1.1 201 Created\r\nContent-Length: 3\r\nX-A: 1\r\n\r\nabc"
    reader = ResponseReader()
    reader.start()
    for i in range(len(data)):
        reader.feed(data[i : i + 1])
    assert reader.complete and reader.keep_alive and reader.status == 201
    assert b"".join(reader.chunks) == b"abc"
    assert reader.headers == [(b"content-length", b"3"), (b"x-a", b"1")]


def test_chunked_with_extensions_and_trailers() -> None:
    reader = read(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"3;ext=1\r\nabc\r\n",
        b"2\r\nde\r\n0\r\nX-Trailer: t\r\n\r\n",
    )
    assert reader.complete and b"".join(reader.chunks) == b"abcde"


def test_keep_alive_two_responses_and_connection_close() -> None:
    reader = read(b"HTTP/1.1 204 No Content\r\n\r\n")
    assert reader.complete and reader.keep_alive and reader.idle
    reader.start()
    reader.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close\r\n\r\nz")
    assert reader.complete and not reader.keep_alive
    assert read(b"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n").complete


def test_head_response_has_no_body() -> None:
    reader = read(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", head=True)
    assert reader.complete and reader.chunks == [] and reader.keep_alive
    reader.start()
    reader.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")  # a fresh parser
    assert reader.chunks == [b"ok"]


def test_interim_responses_are_skipped() -> None:
    reader = read(
        b"HTTP/1.1 100 Continue\r\n\r\n",
        b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    )
    assert reader.status == 200 and reader.headers == [(b"content-length", b"0")]
    with pytest.raises(RemoteProtocolError, match="switched protocols"):
        read(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\n")
    with pytest.raises(RemoteProtocolError, match="switched protocols"):
        read(b"HTTP/1.1 101 Switching Protocols\r\n\r\n")


def test_body_until_eof() -> None:
    reader = read(b"HTTP/1.0 200 OK\r\n\r\npart one ", b"part two", eof=True)
    assert reader.complete and not reader.keep_alive
    assert b"".join(reader.chunks) == b"part one part two"
    assert reader.http_version == "HTTP/1.0"


@pytest.mark.parametrize(
    ("pieces", "match"),
    [
        (
            (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nsh", b"ort"),
            r"mid-body \(incomplete response: 5 of 10 bytes received\)",
        ),
        ((b"HTTP/1.1 200 OK\r\nContent-Le",), "before the response head"),
        (
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n5\r\nab",),
            r"mid-body \(incomplete response: 5 bytes of a chunked body received\)",
        ),
    ],
)
def test_truncated_responses(pieces: tuple[bytes, ...], match: str) -> None:
    with pytest.raises(RemoteProtocolError, match=match):
        read(*pieces, eof=True)


def test_truncated_body_counts_only_its_own_response() -> None:
    reader = read(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nabcd")
    assert reader.complete and reader.keep_alive
    reader.start()
    reader.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nxy")
    with pytest.raises(RemoteProtocolError, match=r"2 of 9 bytes received"):
        reader.feed_eof()


@pytest.mark.parametrize(
    "data",
    [
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n",  # bad size
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n",  # too long
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n",
        b"HTTP/1.1 2000 OK\r\n\r\n",
        b"SMTP ready\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nBad Header Name: x\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
    ],
)
def test_malformed_responses(data: bytes) -> None:
    with pytest.raises(RemoteProtocolError, match="malformed"):
        read(data)


def test_oversized_heads() -> None:
    many = b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 50) for i in range(30))
    with pytest.raises(RemoteProtocolError, match="larger than 1024"):
        read(b"HTTP/1.1 200 OK\r\n" + many + b"\r\n")
    endless = b"HTTP/1.1 200 OK\r\nX-Long: " + b"v" * 600
    with pytest.raises(RemoteProtocolError, match="larger than 1024"):
        read(endless, b"v" * 600)


def test_bytes_when_no_response_is_expected() -> None:
    reader = ResponseReader()
    with pytest.raises(RemoteProtocolError, match="no response was expected"):
        reader.feed(b"HTTP/1.1 200 OK\r\n")
    reader.feed_eof()  # idle: an EOF is no error


def test_unsolicited_response_after_a_complete_one() -> None:
    reader = read(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n\r\nextra")
    assert reader.complete and reader.chunks == [b"ok"] and not reader.keep_alive


def test_illegal_move_is_refused() -> None:
    reader = read(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab")
    with pytest.raises(LocalProtocolError, match="BODY"):
        reader.start()


def test_client_parser_strips_trailing_whitespace_in_head_and_trailers() -> None:
    parser = ResponseReader()
    parser.start()
    parser.feed(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked \r\nX-Pad: v  \r\nX-Tab: t\t\r\n\r\n"
        b"3\r\nabc\r\n0\r\nX-Trailer: done \t\r\n\r\n"
    )
    assert parser.complete
    assert b"".join(parser.chunks) == b"abc"
    assert (b"x-pad", b"v") in parser.headers
    assert (b"x-tab", b"t") in parser.headers
    assert (b"x-trailer", b"done") in parser.headers
    assert (b"transfer-encoding", b"chunked") in parser.headers
