"""Request body encoding: bytes, text, forms, JSON, multipart with streamed files."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from vivace.client._content import encode_request, encode_urlencoded
from vivace.client._multipart import CHUNK_SIZE, MultipartStream
from vivace.client._streams import ByteStream, IteratorByteStream
from vivace.http import InvalidHeader


def test_content_forms() -> None:
    headers, stream = encode_request(content="é")
    assert headers == [(b"content-length", b"2")] and isinstance(stream, ByteStream)
    headers, stream = encode_request(content=memoryview(b"abc"))
    assert headers == [(b"content-length", b"3")]
    headers, stream = encode_request(content=[b"a"])
    assert headers == [(b"transfer-encoding", b"chunked")]
    assert isinstance(stream, IteratorByteStream)
    assert encode_request() == ([], None)
    headers, stream = encode_request(json=[1, "a"])
    assert (b"content-type", b"application/json") in headers
    assert stream is not None and stream.content == b'[1,"a"]'  # type: ignore[attr-defined]


def test_urlencoded() -> None:
    assert encode_urlencoded({"a": None, "b": False, "c": 1.5}) == b"a=&b=false&c=1.5"


def test_multipart_fields_and_files(tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    path.write_bytes(b"z" * (CHUNK_SIZE * 2 + 5))
    with path.open("rb") as big:
        stream = MultipartStream(
            {'quo"te\r\n': "v", "flag": True, "off": False, "n": [1, 2], "raw": b"\x00"},
            [
                ("big", big),
                ("text", ("t.txt", "text content")),
                ("typed", ("photo.png", b"PNG", None)),
                ("custom", ("c.bin", b"C", "application/x-c", {"X-Extra": "1"})),
                ("ctype", ("d.bin", b"D", None, {"Content-Type": "a/b"})),
                ("noname", (None, b"N")),
            ],
            boundary="BOUNDARY",
        )
        first = stream.read()
        second = stream.read()  # seekable files are replayable
        assert first == second
        assert len(first) == stream.content_length
        chunks = list(stream)
        assert max(len(c) for c in chunks) == CHUNK_SIZE
    text = first.decode("latin-1")
    assert 'quo"te' not in text  # not the raw name...
    assert 'name="quo%22te%0D%0A"' in text  # ...the escaped one
    assert 'name="flag"\r\n\r\ntrue\r\n' in text and 'name="off"\r\n\r\nfalse' in text
    assert text.count('name="n"') == 2
    assert 'name="big"; filename="big.bin"\r\nContent-Type: application/octet-stream' in text
    assert 'filename="t.txt"\r\nContent-Type: text/plain\r\n\r\ntext content' in text
    assert "Content-Type: image/png" in text
    assert "x-extra: 1\r\nContent-Type: application/x-c" in text
    assert "content-type: a/b\r\n\r\nD" in text and "Content-Type: a/b" not in text
    assert 'name="noname"\r\n\r\nN' in text
    assert text.endswith("--BOUNDARY--\r\n")


async def test_multipart_unknown_size_is_chunked() -> None:
    class Pipe(io.RawIOBase):
        def __init__(self) -> None:
            self.parts = [b"ab", b"cd"]

        def readable(self) -> bool:
            return True

        def read(self, size: int = -1) -> bytes:
            return self.parts.pop(0) if self.parts else b""

    headers, stream = encode_request(files={"f": ("p.bin", Pipe())})  # type: ignore[dict-item]
    assert (b"transfer-encoding", b"chunked") in headers
    assert stream is not None
    body = b"".join([c async for c in stream])
    assert b"abcd" in body
    headers, stream = encode_request(data={"a": "1"}, files={"f": b"x"})
    assert headers[1][0] == b"content-length"


def test_multipart_rejects_text_files_and_bad_headers(tmp_path: Path) -> None:
    path = tmp_path / "t.txt"
    path.write_text("x")
    with path.open() as text_file, pytest.raises(TypeError, match="binary"):
        MultipartStream(None, {"f": text_file})  # type: ignore[dict-item]

    class Texty(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def read(self, size: int = -1) -> str:  # type: ignore[override]
            return "text"

    with pytest.raises(TypeError, match="binary"):
        MultipartStream(None, {"f": ("a", Texty())}).read()  # type: ignore[dict-item]
    with pytest.raises(InvalidHeader):
        MultipartStream(None, {"f": ("a", b"x", "text/plain\r\nX-Injected: 1")})
