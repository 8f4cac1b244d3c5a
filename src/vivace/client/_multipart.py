"""Multipart/form-data request bodies (RFC 7578), streamed: files are read chunk by chunk.

Each part is a head (``Content-Disposition`` naming the field and, for files, the file
name; a ``Content-Type`` for files) and its bytes, separated by a random boundary. File
contents are never loaded whole: a file object is read ``CHUNK_SIZE`` bytes at a time while
the body is being sent. When every size is known (bytes, or seekable files) the body has a
``Content-Length``; otherwise it is sent with chunked transfer coding.

Names and file names are escaped as the HTML standard's form submission does: ``"`` as
``%22``, CR as ``%0D`` and LF as ``%0A``, so a name can never end the header early.
"""

from __future__ import annotations

import io
import mimetypes
import os
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import IO, Any, cast

from vivace.client._streams import AsyncByteStream, SyncByteStream
from vivace.http import check_header_name, check_header_value

__all__ = ["CHUNK_SIZE", "FileContent", "FileTypes", "MultipartStream", "RequestFiles"]

CHUNK_SIZE = 64 * 1024

FileContent = IO[bytes] | bytes | str
FileTypes = (
    FileContent
    | tuple[str | None, FileContent]
    | tuple[str | None, FileContent, str | None]
    | tuple[str | None, FileContent, str | None, Mapping[str, str]]
)
RequestFiles = Mapping[str, FileTypes] | Sequence[tuple[str, FileTypes]]

_ESCAPES = str.maketrans({'"': "%22", "\r": "%0D", "\n": "%0A"})


def _quoted(text: str) -> bytes:
    return ('"' + text.translate(_ESCAPES) + '"').encode("utf-8")


class _DataField:
    __slots__ = ("_data",)

    def __init__(self, name: str, value: str | bytes | int | float) -> None:
        if isinstance(value, bool):
            value = "true" if value else "false"
        if not isinstance(value, bytes):
            value = str(value).encode("utf-8")
        head = b"Content-Disposition: form-data; name=" + _quoted(name) + b"\r\n\r\n"
        self._data = head + value

    def size(self) -> int:
        return len(self._data)

    def chunks(self) -> Iterator[bytes]:
        yield self._data


class _FileField:
    __slots__ = ("_file", "_head", "_size", "_start")

    def __init__(self, name: str, value: FileTypes) -> None:
        filename: str | None
        content_type: str | None = None
        extra: Mapping[str, str] = {}
        if isinstance(value, tuple):
            if len(value) == 2:
                filename, content = value
            elif len(value) == 3:
                filename, content, content_type = value
            else:
                filename, content, content_type, extra = value
        else:
            content = value
            filename = os.path.basename(str(getattr(value, "name", None) or "upload"))
        if isinstance(content, str):
            content = content.encode("utf-8")
        if isinstance(cast(object, content), io.TextIOBase):
            raise TypeError(f"file {name!r} is open in text mode; open it in binary mode ('rb')")
        if content_type is None and filename:
            content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        head = b"Content-Disposition: form-data; name=" + _quoted(name)
        if filename is not None:
            head += b"; filename=" + _quoted(filename)
        head += b"\r\n"
        for key, val in extra.items():
            bkey = check_header_name(key.lower().encode("latin-1"))
            head += bkey + b": " + check_header_value(val.encode("latin-1"), bkey) + b"\r\n"
        if content_type is not None and "content-type" not in {k.lower() for k in extra}:
            head += b"Content-Type: " + check_header_value(content_type.encode("latin-1")) + b"\r\n"
        self._head = head + b"\r\n"
        self._file: bytes | IO[bytes] = content
        self._start = 0
        self._size: int | None = None
        if isinstance(content, bytes):
            self._size = len(content)
        else:
            try:
                self._start = content.tell()
                self._size = os.fstat(content.fileno()).st_size - self._start
            except (AttributeError, OSError, io.UnsupportedOperation):
                try:
                    end = content.seek(0, os.SEEK_END)
                    content.seek(self._start)
                    self._size = end - self._start
                except (AttributeError, OSError, io.UnsupportedOperation):
                    self._size = None

    def size(self) -> int | None:
        return None if self._size is None else len(self._head) + self._size

    def chunks(self) -> Iterator[bytes]:
        yield self._head
        file = self._file
        if isinstance(file, bytes):
            yield file
            return
        try:
            file.seek(self._start)
        except (AttributeError, OSError, io.UnsupportedOperation):
            pass
        while True:
            chunk = file.read(CHUNK_SIZE)
            if not chunk:
                break
            if not isinstance(chunk, bytes):
                raise TypeError("a file in files= must be opened in binary mode")
            yield chunk


class MultipartStream(AsyncByteStream, SyncByteStream):
    """A ``multipart/form-data`` body from form fields and files, streamed part by part.

    >>> stream = MultipartStream({"a": "1"}, {"f": ("x.txt", b"hi", "text/plain")}, "B")
    >>> stream.content_type, stream.content_length
    ('multipart/form-data; boundary=B', 156)
    >>> print(stream.read().decode())  # doctest: +NORMALIZE_WHITESPACE
    --B
    Content-Disposition: form-data; name="a"
    <BLANKLINE>
    1
    --B
    Content-Disposition: form-data; name="f"; filename="x.txt"
    Content-Type: text/plain
    <BLANKLINE>
    hi
    --B--
    """

    __slots__ = ("_boundary", "_fields")

    def __init__(
        self,
        data: Mapping[str, Any] | None,
        files: RequestFiles,
        boundary: str | None = None,
    ) -> None:
        self._boundary = (boundary or os.urandom(16).hex()).encode("ascii")
        fields: list[_DataField | _FileField] = []
        for name, value in (data or {}).items():
            values = value if isinstance(value, list | tuple) else [value]
            fields.extend(_DataField(name, v) for v in values)
        items = files.items() if isinstance(files, Mapping) else files
        fields.extend(_FileField(name, value) for name, value in items)
        self._fields = fields

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self._boundary.decode('ascii')}"

    @property
    def content_length(self) -> int | None:
        """The body size, or ``None`` when a file's size is unknown (sent chunked)."""
        total = 0
        for field in self._fields:
            size = field.size()
            if size is None:
                return None
            total += 2 + len(self._boundary) + 2 + size + 2
        return total + 2 + len(self._boundary) + 4

    def __iter__(self) -> Iterator[bytes]:
        separator = b"--" + self._boundary + b"\r\n"
        for field in self._fields:
            yield separator
            yield from field.chunks()
            yield b"\r\n"
        yield b"--" + self._boundary + b"--\r\n"

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self:
            yield chunk
