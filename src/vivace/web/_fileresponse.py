"""``FileResponse``: a file with validators, conditional requests and byte ranges.

What the response does, in the order RFC 9110 section 13.2.2 evaluates preconditions:

1. ``If-Match`` (strong comparison) else ``If-Unmodified-Since``: on failure, 412.
2. ``If-None-Match`` (weak comparison) else ``If-Modified-Since`` (GET/HEAD only): on a
   match, 304 for GET and HEAD, 412 for other methods.
3. ``Range`` (GET only, section 14.2), unless ``If-Range`` names another version:
   one range gives 206 with ``Content-Range``; several give 206 ``multipart/byteranges``
   (overlapping and adjacent ranges are merged first, and more than ``MAX_RANGES`` after
   merging are ignored: the whole file is sent, as section 14.2 allows, so a request for
   thousands of tiny ranges cannot amplify work); none satisfiable gives 416 with
   ``Content-Range: bytes */size``. A malformed ``Range`` is ignored.

Only a response whose status is 200 takes part: a ``FileResponse(path, status_code=404)``
serving an error page always sends the page. The validators are ``Last-Modified`` and an
``ETag`` made of the modification time in nanoseconds and the size.

A full 200 body goes out as ``http.response.pathsend`` when the server offers that
extension (it can then use ``sendfile``); otherwise the file is read in chunks in the I/O
thread pool. ``stat`` and ``open`` happen in that pool too: a slow disk never blocks the
event loop.
"""

from __future__ import annotations

import os
import secrets
import stat as stat_module
from collections.abc import Mapping
from mimetypes import guess_type
from typing import IO
from urllib.parse import quote

from vivace.http import Headers, format_http_date, parse_http_date
from vivace.types import Receive, Scope, Send
from vivace.web._background import BackgroundTask
from vivace.web._concurrency import io_pool
from vivace.web._exceptions import HTTPException
from vivace.web._responses import Response, content_type_header

__all__ = ["MAX_RANGES", "FileResponse", "parse_range_header", "weak_etag_match"]

#: Ranges served in one multipart/byteranges response, after merging.
MAX_RANGES = 16
CHUNK_SIZE = 64 * 1024


def _etag(st: os.stat_result) -> str:
    return f'"{st.st_mtime_ns:x}-{st.st_size:x}"'


def _parse_etags(value: str) -> list[str]:
    # RFC 9110 section 8.8.3: entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE, comma separated.
    return [part.strip() for part in value.split(",") if part.strip()]


def weak_etag_match(etag: str, header: str) -> bool:
    """Whether ``etag`` is in an ``If-None-Match`` value (RFC 9110 section 8.8.3.2: weak
    comparison, ``*`` matches any)."""
    opaque = etag.removeprefix("W/")
    for candidate in _parse_etags(header):
        if candidate == "*" or candidate.removeprefix("W/") == opaque:
            return True
    return False


def _strong_match(etag: str, header: str) -> bool:
    if etag.startswith("W/"):
        return any(c == "*" for c in _parse_etags(header))
    return any(c == "*" or c == etag for c in _parse_etags(header))


def parse_range_header(value: str, size: int) -> list[tuple[int, int]] | None:
    """Parse a ``Range`` header against a representation of ``size`` bytes.

    Returns the satisfiable ranges as ``(start, end)`` with ``end`` exclusive, sorted and
    merged; ``[]`` when none is satisfiable (416); ``None`` when the header is malformed or
    not in bytes (the header is then ignored, RFC 9110 section 14.2)::

        >>> parse_range_header("bytes=0-99", 1000)
        [(0, 100)]
        >>> parse_range_header("bytes=-100, 0-9, 5-19", 1000)
        [(0, 20), (900, 1000)]
        >>> parse_range_header("bytes=2000-", 1000)
        []
        >>> parse_range_header("items=1-2", 1000) is None
        True
    """
    unit, sep, spec = value.partition("=")
    if not sep or unit.strip().lower() != "bytes":
        return None
    if size == 0:
        # RFC 9110 section 14.1.1: on an empty representation only a suffix range is
        # satisfiable, and it selects no byte (no Content-Range can name it): the Range
        # is ignored and the empty representation served whole (section 14.2 allows it).
        return None
    ranges: list[tuple[int, int]] = []
    parts = spec.split(",")
    if len(parts) > 100:  # far beyond any real client: treat as malformed
        return None
    for raw in parts:
        part = raw.strip()
        if not part:
            continue
        first, dash, last = part.partition("-")
        first, last = first.strip(), last.strip()
        if not dash or (first and not first.isdigit()) or (last and not last.isdigit()):
            return None
        if not first.isascii() or not last.isascii():
            return None
        if not first:
            if not last:
                return None
            suffix = int(last)  # the last N bytes (section 14.1.2)
            if suffix == 0:
                continue
            ranges.append((max(size - suffix, 0), size))
        else:
            start = int(first)
            end = int(last) + 1 if last else size
            if last and end <= start:
                return None  # last-pos < first-pos: invalid (section 14.1.1)
            if start >= size:
                continue  # unsatisfiable on its own
            ranges.append((start, min(end, size)))
    if not ranges:
        return []
    ranges.sort()
    merged = [ranges[0]]
    for start, end in ranges[1:]:
        last_start, last_end = merged[-1]
        if start <= last_end:
            merged[-1] = (last_start, max(last_end, end))
        else:
            merged.append((start, end))
    return merged


def _content_disposition(kind: str, filename: str) -> str:
    # RFC 6266: an ASCII fallback and, for other names, RFC 8187 filename*.
    clean = filename.replace("\r", "").replace("\n", "").replace("\x00", "")
    ascii_name = clean.encode("ascii", "replace").decode("ascii").replace("\\", "\\\\")
    ascii_name = ascii_name.replace('"', '\\"')
    if clean.isascii():
        return f'{kind}; filename="{ascii_name}"'
    return f"{kind}; filename=\"{ascii_name}\"; filename*=utf-8''{quote(clean, safe='')}"


def _stat(path: str) -> os.stat_result:
    return os.stat(path)


def _read_range(path: str, start: int, length: int) -> bytes:
    with open(path, "rb") as f:
        f.seek(start)
        return f.read(length)


class FileResponse(Response):
    """A file, with ETag, Last-Modified, 304/412, ranges (206/416) and ``pathsend``.

    ``filename`` adds a ``Content-Disposition`` (``attachment`` unless
    ``content_disposition_type`` says ``inline``). ``stat_result`` skips the ``stat`` when
    the caller already has it.
    """

    __slots__ = ("chunk_size", "path", "stat_result")

    def __init__(
        self,
        path: str | os.PathLike[str],
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: BackgroundTask | None = None,
        filename: str | None = None,
        stat_result: os.stat_result | None = None,
        content_disposition_type: str = "attachment",
        chunk_size: int = CHUNK_SIZE,
    ) -> None:
        self.path = os.fspath(path)
        self.status_code = status_code
        self.background = background
        self.body = b""
        self.stat_result = stat_result
        self.chunk_size = chunk_size
        if media_type is None:
            media_type = guess_type(filename or self.path)[0] or "application/octet-stream"
        raw = Headers(headers).raw if headers is not None else []
        if not any(n == b"content-type" for n, _ in raw):
            raw.append(content_type_header(media_type, self.charset))
        if filename is not None:
            disposition = _content_disposition(content_disposition_type, filename)
            raw.append((b"content-disposition", disposition.encode("latin-1")))
        self.raw_headers = raw

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        st = self.stat_result
        if st is None:
            try:
                st = await io_pool.run(_stat, self.path)
            except FileNotFoundError:
                raise HTTPException(404) from None
            except OSError as exc:
                raise RuntimeError(f"cannot serve file {self.path!r}: {exc}") from exc
        if not stat_module.S_ISREG(st.st_mode):
            raise RuntimeError(f"cannot serve {self.path!r}: not a regular file")
        size = st.st_size
        etag = _etag(st)
        last_modified = format_http_date(st.st_mtime)
        headers = self.raw_headers
        names = {name for name, _ in headers}
        if b"etag" not in names:
            headers.append((b"etag", etag.encode("latin-1")))
        else:
            etag = next(v.decode("latin-1") for n, v in headers if n == b"etag")
        if b"last-modified" not in names:
            headers.append((b"last-modified", last_modified.encode("latin-1")))
        method = scope.get("method", "GET")
        status_code = self.status_code
        ranges: list[tuple[int, int]] | None = None
        if status_code == 200:
            request_headers = Headers(scope=scope)
            outcome = self._preconditions(request_headers, method, etag, st.st_mtime)
            if outcome == 304:
                await self._send_not_modified(send)
                return
            if outcome == 412:
                await self._send_status(send, 412, [])
                return
            headers.append((b"accept-ranges", b"bytes"))
            range_header = request_headers.get("range")
            if range_header is not None and method == "GET":
                if_range = request_headers.get("if-range")
                if if_range is None or self._if_range_matches(if_range, etag, st.st_mtime):
                    ranges = parse_range_header(range_header, size)
                    if ranges == []:
                        await self._send_status(
                            send, 416, [(b"content-range", f"bytes */{size}".encode())]
                        )
                        return
                    if ranges is not None and len(ranges) > MAX_RANGES:
                        ranges = None
        if ranges is None:
            await self._send_full(scope, send, size, method)
        elif len(ranges) == 1:
            await self._send_single_range(send, size, ranges[0])
        else:
            await self._send_multi_range(send, size, ranges)
        if self.background is not None:
            await self.background()

    @staticmethod
    def _preconditions(headers: Headers, method: str, etag: str, mtime: float) -> int:
        if_match = headers.get("if-match")
        if if_match is not None:
            if not _strong_match(etag, if_match):
                return 412
        else:
            if_unmodified = headers.get("if-unmodified-since")
            if if_unmodified is not None:
                date = parse_http_date(if_unmodified)
                if date is not None and int(mtime) > date:
                    return 412
        if_none_match = headers.get("if-none-match")
        if if_none_match is not None:
            if weak_etag_match(etag, if_none_match):
                return 304 if method in ("GET", "HEAD") else 412
        elif method in ("GET", "HEAD"):
            if_modified = headers.get("if-modified-since")
            if if_modified is not None:
                date = parse_http_date(if_modified)
                if date is not None and int(mtime) <= date:
                    return 304
        return 200

    @staticmethod
    def _if_range_matches(value: str, etag: str, mtime: float) -> bool:
        # RFC 9110 section 13.1.5: an entity-tag compared strongly, or an exact date.
        value = value.strip()
        if value.startswith(('"', "W/")):
            return not value.startswith("W/") and value == etag
        date = parse_http_date(value)
        return date is not None and date == int(mtime)

    async def _send_not_modified(self, send: Send) -> None:
        # RFC 9110 section 15.4.5: keep the validators and caching headers, drop the
        # headers that describe content.
        dropped = {b"content-length", b"content-type", b"content-disposition"}
        headers = [(n, v) for n, v in self.raw_headers if n not in dropped]
        await send({"type": "http.response.start", "status": 304, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    async def _send_status(
        self, send: Send, status_code: int, extra: list[tuple[bytes, bytes]]
    ) -> None:
        keep = {b"etag", b"last-modified", b"cache-control"}
        headers = [(n, v) for n, v in self.raw_headers if n in keep]
        headers += extra
        headers.append((b"content-length", b"0"))
        await send({"type": "http.response.start", "status": status_code, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    async def _send_full(self, scope: Scope, send: Send, size: int, method: str) -> None:
        headers = self.raw_headers
        if not any(n == b"content-length" for n, _ in headers):
            headers.append((b"content-length", b"%d" % size))
        await send({"type": "http.response.start", "status": self.status_code, "headers": headers})
        if method == "HEAD":
            await send({"type": "http.response.body", "body": b""})
            return
        extensions = scope.get("extensions") or {}
        if "http.response.pathsend" in extensions:
            await send({"type": "http.response.pathsend", "path": os.path.abspath(self.path)})
            return
        await self._send_file_range(send, 0, size, last=True)

    async def _send_file_range(self, send: Send, start: int, end: int, *, last: bool) -> None:
        length = end - start
        if length <= self.chunk_size:
            data = await io_pool.run(_read_range, self.path, start, length)
            await send({"type": "http.response.body", "body": data, "more_body": not last})
            return
        f: IO[bytes] = await io_pool.run(open, self.path, "rb")
        try:
            await io_pool.run(f.seek, start)
            remaining = length
            while remaining > 0:
                data = await io_pool.run(f.read, min(self.chunk_size, remaining))
                if not data:
                    break  # the file shrank while being sent: stop, the server closes
                remaining -= len(data)
                more = remaining > 0 or not last
                await send({"type": "http.response.body", "body": data, "more_body": more})
        finally:
            await io_pool.run(f.close)

    async def _send_single_range(self, send: Send, size: int, byte_range: tuple[int, int]) -> None:
        start, end = byte_range
        headers = [(n, v) for n, v in self.raw_headers if n != b"content-length"]
        headers.append((b"content-range", f"bytes {start}-{end - 1}/{size}".encode()))
        headers.append((b"content-length", b"%d" % (end - start)))
        await send({"type": "http.response.start", "status": 206, "headers": headers})
        await self._send_file_range(send, start, end, last=True)

    async def _send_multi_range(self, send: Send, size: int, ranges: list[tuple[int, int]]) -> None:
        # RFC 9110 section 14.6: multipart/byteranges.
        boundary = secrets.token_hex(16)
        content_type = next(
            (v.decode("latin-1") for n, v in self.raw_headers if n == b"content-type"),
            "application/octet-stream",
        )
        heads = [
            (
                f"--{boundary}\r\nContent-Type: {content_type}\r\n"
                f"Content-Range: bytes {start}-{end - 1}/{size}\r\n\r\n"
            ).encode("latin-1")
            for start, end in ranges
        ]
        tail = f"\r\n--{boundary}--\r\n".encode("latin-1")
        length = sum(len(h) for h in heads) + sum(e - s for s, e in ranges)
        length += 2 * (len(ranges) - 1) + len(tail)
        dropped = {b"content-length", b"content-type"}
        headers = [(n, v) for n, v in self.raw_headers if n not in dropped]
        headers.append(
            (b"content-type", f"multipart/byteranges; boundary={boundary}".encode("latin-1"))
        )
        headers.append((b"content-length", b"%d" % length))
        await send({"type": "http.response.start", "status": 206, "headers": headers})
        for i, ((start, end), head) in enumerate(zip(ranges, heads, strict=True)):
            prefix = head if i == 0 else b"\r\n" + head
            await send({"type": "http.response.body", "body": prefix, "more_body": True})
            await self._send_file_range(send, start, end, last=False)
        await send({"type": "http.response.body", "body": tail, "more_body": False})
