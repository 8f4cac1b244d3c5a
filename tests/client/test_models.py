"""Request and Response objects: construction, body reading, text decoding, lines."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import AsyncIterator, Iterator

import pytest

from vivace.client import (
    ByteStream,
    DecodingError,
    Request,
    Response,
    ResponseNotRead,
    StreamClosed,
    StreamConsumed,
)
from vivace.client._models import host_header
from vivace.client._pieces import LineSplitter
from vivace.client._streams import AsyncByteStream, IteratorByteStream, SyncByteStream
from vivace.http import URL, Headers


class Chunks(AsyncByteStream):
    def __init__(self, *chunks: bytes) -> None:
        self.chunks = chunks
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:  # type: ignore[override]
        for chunk in self.chunks:
            yield chunk

    async def aclose(self) -> None:
        self.closed = True


class SyncChunks(SyncByteStream):
    def __init__(self, *chunks: bytes) -> None:
        self.chunks = chunks
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        yield from self.chunks

    def close(self) -> None:
        self.closed = True


def streamed(*chunks: bytes, headers: list[tuple[bytes, bytes]] | None = None) -> Response:
    request = Request("GET", "http://h.test/")
    return Response._from_transport(200, headers or [], Chunks(*chunks), request)


def test_request_construction() -> None:
    r = Request("get", URL("http://h.test/a"), headers=Headers({"x": "1"}), cookies={"c": "v"})
    assert r.method == "GET" and r.headers["cookie"] == "c=v" and r.headers["x"] == "1"
    assert r.content == b"" and repr(r) == "<Request GET URL('http://h.test/a')>"
    post = Request("POST", "http://h.test/")
    assert post.headers["content-length"] == "0"
    form = Request("POST", "http://h.test/", data={"a": "b"}, headers={"content-type": "x/y"})
    assert form.headers["content-type"] == "x/y" and form.content == b"a=b"


async def test_request_aread_streams() -> None:
    async def gen() -> AsyncIterator[bytes]:
        yield b"a"
        yield "é"  # type: ignore[misc]

    r = Request("POST", "http://h.test/", content=gen())
    assert r.headers["transfer-encoding"] == "chunked"
    with pytest.raises(RuntimeError, match="stream"):
        r.content  # noqa: B018
    assert await r.aread() == "aé".encode()
    assert r.content == "aé".encode()
    sync = Request("POST", "http://h.test/", content=iter([b"x", bytearray(b"y")]))
    assert await sync.aread() == b"xy"
    other = Request("POST", "http://h.test/", stream=SyncChunks(b"s"))
    assert await other.aread() == b"s"
    none = Request("GET", "http://h.test/")
    assert await none.aread() == b""


def test_iterator_stream_rules() -> None:
    stream = IteratorByteStream([b"a", "b"])  # type: ignore[list-item]
    assert list(stream) == [b"a", b"b"]
    with pytest.raises(StreamConsumed):
        list(stream)
    with pytest.raises(TypeError, match="must yield bytes"):
        list(IteratorByteStream([1]))  # type: ignore[list-item]

    async def agen() -> AsyncIterator[bytes]:
        yield b"x"  # pragma: no cover

    with pytest.raises(TypeError, match="async client"):
        list(IteratorByteStream(agen()))
    with pytest.raises(TypeError, match="content="):
        Request("POST", "http://h.test/", content=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="mapping"):
        Request("POST", "http://h.test/", data=b"raw")  # type: ignore[arg-type]
    assert SyncByteStream.read(ByteStream(b"q")) == b"q"
    with pytest.raises(NotImplementedError):
        iter(SyncByteStream())
    with pytest.raises(NotImplementedError):
        AsyncByteStream().__aiter__()


def test_host_header_forms() -> None:
    assert host_header(URL("https://h.test:443/")) == b"h.test"
    assert host_header(URL("https://h.test:444/")) == b"h.test:444"
    assert host_header(URL("http://user:pw@[::1]/")) == b"[::1]"
    assert host_header(URL("http://bücher.example:8080/")) == b"xn--bcher-kva.example:8080"
    assert host_header(URL("http://bücher.example/")) == b"xn--bcher-kva.example"


def test_response_construction() -> None:
    assert Response(200, text="hé").headers["content-type"] == "text/plain; charset=utf-8"
    r = Response(200, html="<p>")
    assert r.headers["content-type"] == "text/html; charset=utf-8" and r.text == "<p>"
    assert Response(204).content == b""
    assert Response(299).reason_phrase == ""
    r = Response(201, headers=Headers({"a": "b"}), content=b"x")
    assert r.headers["content-length"] == "1" and r.headers["a"] == "b"
    assert repr(r) == "<Response [201 Created]>"
    with pytest.raises(RuntimeError, match="no request"):
        r.request  # noqa: B018
    assert dict(r.cookies) == {}
    for code, flags in (
        (101, (True, False, False, False, False)),
        (204, (False, True, False, False, False)),
        (404, (False, False, True, False, True)),
        (500, (False, False, False, True, True)),
    ):
        resp = Response(code)
        assert (
            resp.is_informational,
            resp.is_success,
            resp.is_client_error,
            resp.is_server_error,
            resp.is_error,
        ) == flags
    assert not Response(302).is_redirect
    assert Response(302, headers={"location": "/"}).is_redirect


async def test_encoding_detection() -> None:
    latin = Response(
        200,
        content="café".encode("latin-1"),
        headers={"content-type": "text/plain; charset=ISO-8859-1"},
    )
    assert latin.charset_encoding == "iso8859-1" and latin.text == "café"
    unknown = Response(200, content=b"x", headers={"content-type": "text/plain; charset=bogus"})
    assert unknown.charset_encoding is None and unknown.encoding == "utf-8"
    quoted = Response(
        200, content=b"x", headers={"content-type": 'text/plain; q=1; charset="utf-8"'}
    )
    assert quoted.charset_encoding == "utf-8"
    plain = Response(200, content=b"x", headers={"content-type": "text/plain"})
    assert plain.charset_encoding is None
    r = Response(200, content="ü".encode("cp1252"), default_encoding="cp1252")
    assert r.text == "ü"
    r2 = Response(200, content=b"\xff")
    assert r2.text == "\ufffd"
    with pytest.raises(ValueError, match="before reading"):
        r2.encoding = "latin-1"
    r3 = Response(200, content=b"\xe9")
    r3.encoding = "latin-1"
    assert r3.text == "é"
    assert Response(200, content=b'{"a": [1]}').json() == {"a": [1]}
    assert Response(200, content=b'{"a": 1.5}').json(parse_float=str) == {"a": "1.5"}


async def test_streamed_body_reading_rules() -> None:
    r = streamed(b"ab", b"cd")
    with pytest.raises(ResponseNotRead):
        r.content  # noqa: B018
    assert await r.aread() == b"abcd"
    assert await r.aread() == b"abcd"
    assert [c async for c in r.aiter_bytes()] == [b"abcd"]
    assert [c async for c in r.aiter_raw()] == [b"abcd"]
    assert r.closed and r.stream.closed  # type: ignore[union-attr]

    r = streamed(b"ab")
    assert [c async for c in r.aiter_raw()] == [b"ab"]
    with pytest.raises(StreamConsumed):
        await r.aread()
    r = streamed(b"ab")
    await r.aclose()
    with pytest.raises(StreamClosed):
        await r.aread()
    r = streamed(b"")
    assert [c async for c in r.aiter_bytes()] == []
    empty = Response(204)
    assert [c async for c in empty.aiter_raw()] == []
    assert [c async for c in empty.aiter_bytes()] == []


async def test_sync_misuse_of_async_body() -> None:
    r = streamed(b"x")
    with pytest.raises(RuntimeError, match="asynchronous"):
        list(r.iter_bytes())
    r = streamed(b"x")
    with pytest.raises(RuntimeError, match="asynchronous"):
        r.close()
    s = Response._from_transport(200, [], SyncChunks(b"a"), Request("GET", "http://h.test/"))
    with pytest.raises(RuntimeError, match="synchronous"):
        [c async for c in s.aiter_raw()]
    s = Response._from_transport(200, [], SyncChunks(b"a", b"b"), Request("GET", "http://h.test/"))
    assert await s.aread() == b"ab" and s.stream.closed  # type: ignore[union-attr]
    s = Response._from_transport(200, [], SyncChunks(b"a"), Request("GET", "http://h.test/"))
    s._started = 1.0
    assert s.read() == b"a" and s.closed and s.elapsed is not None
    assert s.read() == b"a"
    assert list(s.iter_bytes()) == [b"a"] and list(s.iter_raw()) == [b"a"]
    s.close()
    e = Response._from_transport(200, [], SyncChunks(), Request("GET", "http://h.test/"))
    assert list(e.iter_bytes()) == []


async def test_gzip_deflate_decoding() -> None:
    data = b"hello " * 1000
    gz = gzip.compress(data)
    r = streamed(gz[:10], gz[10:], headers=[(b"content-encoding", b"gzip")])
    assert await r.aread() == data
    r = streamed(gz[:10], gz[10:], headers=[(b"content-encoding", b"gzip")])
    assert b"".join([c async for c in r.aiter_bytes()]) == data
    raw_deflate = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    body = raw_deflate.compress(data) + raw_deflate.flush()
    r = streamed(body, headers=[(b"content-encoding", b"deflate")])
    assert await r.aread() == data
    r = streamed(zlib.compress(data), headers=[(b"content-encoding", b"deflate")])
    assert await r.aread() == data
    both = zlib.compress(gzip.compress(data))
    r = streamed(both, headers=[(b"content-encoding", b"gzip, deflate")])
    assert await r.aread() == data
    r = streamed(b"plain", headers=[(b"content-encoding", b"br")])
    assert await r.aread() == b"plain"
    r = streamed(b"not gzip", headers=[(b"content-encoding", b"gzip")])
    with pytest.raises(DecodingError) as info:
        await r.aread()
    assert info.value.request is r.request
    s = Response._from_transport(
        200, [(b"content-encoding", b"gzip")], SyncChunks(gz), Request("GET", "http://h.test/")
    )
    assert b"".join(s.iter_bytes()) == data


async def test_text_and_lines() -> None:
    r = streamed("é".encode()[:1], "é".encode()[1:] + b"\r", b"\nb\rc\n\nd")
    assert [line async for line in r.aiter_lines()] == ["é", "b", "c", "", "d"]
    r = streamed(b"a\r")
    assert [t async for t in r.aiter_text()] == ["a\r"]
    r = streamed(b"\xe9", headers=[(b"content-type", b"text/plain; charset=utf-8")])
    assert [t async for t in r.aiter_text()] == ["\ufffd"]
    s = Response._from_transport(
        200, [], SyncChunks(b"x\ny", b"\xc3"), Request("GET", "http://h.test/")
    )
    assert list(s.iter_lines()) == ["x", "y\ufffd"]
    splitter = LineSplitter()
    assert splitter.feed("a\r") == [] and splitter.feed("") == []
    assert splitter.feed("\n") == ["a"] and splitter.flush() == []
    assert splitter.feed("\r") == [] and splitter.flush() == [""]
