"""Response compression: ``CompressionMiddleware`` (zstd, Brotli, gzip) and
``GZipMiddleware`` (gzip only).

The encoding is negotiated from ``Accept-Encoding`` (RFC 9110 section 12.5.3: q-values,
``*``, ``identity``): the client's preference first, the server's order (zstd, br, gzip)
to break ties. Brotli needs the ``brotli`` (or ``brotlicffi``) package and zstd the
``zstandard`` package (``pip install 'vivace[compression]'``); without them only gzip is
offered.

A response is left alone when: the client accepts no offered encoding; it already has a
``Content-Encoding``; its status is 1xx, 204, 206 or 304; its type is excluded (event
streams, which must not be buffered, and formats that are already compressed); it is a
HEAD response; its whole body is smaller than ``minimum_size``; or it is sent with
``http.response.pathsend`` (zero-copy file sending wins over compression there).

A compressed response gets ``Content-Encoding``, ``Vary: Accept-Encoding``, a weak ETag
(RFC 9110 section 8.8.3: the bytes differ from the identity representation) and a new
``Content-Length``; a streamed one is flushed after each chunk so streaming still streams.
"""

from __future__ import annotations

import gzip
import importlib
import io
import zlib
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from vivace.http import MutableHeaders
from vivace.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CompressionMiddleware", "GZipMiddleware", "available_encodings", "negotiate"]

DEFAULT_EXCLUDED = (
    "text/event-stream",
    "image/",  # image/svg+xml is text and is allowed back below
    "video/",
    "audio/",
    "font/woff",
    "application/zip",
    "application/gzip",
    "application/x-gzip",
    "application/zstd",
    "application/x-brotli",
    "application/octet-stream",
)
_ALWAYS_COMPRESSIBLE = ("image/svg+xml",)


class _Compressor(Protocol):
    def compress(self, data: bytes) -> bytes: ...
    def flush(self) -> bytes: ...
    def finish(self) -> bytes: ...


class _Gzip:
    __slots__ = ("_buffer", "_file")

    def __init__(self, level: int) -> None:
        self._buffer = io.BytesIO()
        self._file = gzip.GzipFile(mode="wb", fileobj=self._buffer, compresslevel=level, mtime=0)

    def _take(self) -> bytes:
        data = self._buffer.getvalue()
        self._buffer.seek(0)
        self._buffer.truncate()
        return data

    def compress(self, data: bytes) -> bytes:
        self._file.write(data)
        return self._take()

    def flush(self) -> bytes:
        self._file.flush(zlib.Z_SYNC_FLUSH)
        return self._take()

    def finish(self) -> bytes:
        self._file.close()
        return self._take()


class _Brotli:
    __slots__ = ("_compressor",)

    def __init__(self, module: Any, quality: int) -> None:
        self._compressor = module.Compressor(quality=quality)

    def compress(self, data: bytes) -> bytes:
        return bytes(self._compressor.process(data))

    def flush(self) -> bytes:
        return bytes(self._compressor.flush())

    def finish(self) -> bytes:
        return bytes(self._compressor.finish())


class _Zstd:
    __slots__ = ("_module", "_object")

    def __init__(self, module: Any, level: int) -> None:
        self._module = module
        self._object = module.ZstdCompressor(level=level).compressobj()

    def compress(self, data: bytes) -> bytes:
        return bytes(self._object.compress(data))

    def flush(self) -> bytes:
        return bytes(self._object.flush(self._module.COMPRESSOBJ_FLUSH_BLOCK))

    def finish(self) -> bytes:
        return bytes(self._object.flush(self._module.COMPRESSOBJ_FLUSH_FINISH))


def _optional(*names: str) -> Any:
    for name in names:
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    return None


def _brotli_module() -> Any:
    return _optional("brotli", "brotlicffi")


def _zstd_module() -> Any:
    return _optional("zstandard")


def available_encodings() -> list[str]:
    """The encodings this process can produce, best first.

    >>> "gzip" in available_encodings()
    True
    """
    found = []
    if _zstd_module() is not None:
        found.append("zstd")
    if _brotli_module() is not None:
        found.append("br")
    found.append("gzip")
    return found


def negotiate(accept_encoding: str, offered: Sequence[str]) -> str | None:
    """Pick the encoding for an ``Accept-Encoding`` value, or ``None`` for identity.

    >>> negotiate("gzip, br;q=0.9", ["zstd", "br", "gzip"])
    'gzip'
    >>> negotiate("gzip, br", ["zstd", "br", "gzip"])
    'br'
    >>> negotiate("*;q=0.5, gzip;q=0", ["br", "gzip"])
    'br'
    >>> negotiate("identity", ["gzip"]) is None
    True
    """
    weights: dict[str, float] = {}
    for item in accept_encoding.split(","):
        coding, _, params = item.partition(";")
        coding = coding.strip().lower()
        if not coding:
            continue
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = 0.0
                if not 0.0 <= q <= 1.0:  # NaN and out-of-range values are refusals
                    q = 0.0
        weights[coding] = q
    star = weights.get("*")
    best: tuple[float, int, str] | None = None
    for rank, coding in enumerate(offered):
        q = weights.get(coding, star if star is not None else 0.0)
        if q <= 0.0:
            continue
        key = (q, -rank, coding)
        if best is None or key > best:
            best = key
    return None if best is None else best[2]


class CompressionMiddleware:
    """Compress responses with the best encoding both sides support.

    >>> from vivace.web import App, Middleware
    >>> app = App(middleware=[Middleware(CompressionMiddleware, minimum_size=500)])

    ``encodings`` restricts and orders the encodings offered (default: every available
    one: zstd, br, gzip). ``excluded_media_types`` are prefixes of content types left
    uncompressed.
    """

    def __init__(
        self,
        app: ASGIApp,
        minimum_size: int = 500,
        *,
        encodings: Sequence[str] | None = None,
        gzip_level: int = 6,
        brotli_quality: int = 4,
        zstd_level: int = 3,
        excluded_media_types: Sequence[str] = DEFAULT_EXCLUDED,
    ) -> None:
        self.app = app
        self.minimum_size = minimum_size
        available = available_encodings()
        if encodings is None:
            offered = available
        else:
            missing = [e for e in encodings if e not in available]
            if missing:
                raise ValueError(
                    f"encodings {missing} are not available: pip install 'vivace[compression]'"
                )
            offered = list(encodings)
        self.offered = offered
        self.excluded = tuple(excluded_media_types)
        brotli, zstd = _brotli_module(), _zstd_module()
        self.factories: dict[str, Callable[[], _Compressor]] = {
            "gzip": lambda: _Gzip(gzip_level),
            "br": lambda: _Brotli(brotli, brotli_quality),
            "zstd": lambda: _Zstd(zstd, zstd_level),
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] == "HEAD":
            await self.app(scope, receive, send)
            return
        accept: bytes | None = None
        for name, value in scope["headers"]:
            if name == b"accept-encoding":
                accept = value if accept is None else accept + b"," + value
        encoding = negotiate(accept.decode("latin-1"), self.offered) if accept else None
        if encoding is None:
            await self.app(scope, receive, send)
            return
        responder = _Responder(self, encoding, send)
        await self.app(scope, receive, responder.send)

    def compressible(self, headers: MutableHeaders, status: int) -> bool:
        if status < 200 or status in (204, 206, 304):
            return False
        if "content-encoding" in headers or "content-range" in headers:
            return False
        content_type = headers.get("content-type", "").lower()
        if content_type.startswith(_ALWAYS_COMPRESSIBLE):
            return True
        return not content_type.startswith(self.excluded)


class _Responder:
    __slots__ = ("compressor", "encoding", "headers", "middleware", "mode", "next_send", "start")

    def __init__(self, middleware: CompressionMiddleware, encoding: str, send: Send) -> None:
        self.middleware = middleware
        self.encoding = encoding
        self.next_send = send
        self.start: Message | None = None
        self.headers: MutableHeaders | None = None
        self.mode = "start"  # start -> (passthrough | compress)
        self.compressor: _Compressor | None = None

    def _begin(self) -> MutableHeaders:
        assert self.start is not None and self.headers is not None
        headers = self.headers
        headers["content-encoding"] = self.encoding
        headers.add_vary_header("Accept-Encoding")
        etag = headers.get("etag")
        if etag is not None and not etag.startswith("W/"):
            headers["etag"] = "W/" + etag
        self.compressor = self.middleware.factories[self.encoding]()
        self.mode = "compress"
        return headers

    async def send(self, message: Message) -> None:
        kind = message["type"]
        mode = self.mode
        if kind == "http.response.start":
            headers = MutableHeaders(raw=list(message.get("headers", [])))
            if self.middleware.compressible(headers, message["status"]):
                self.start = message
                self.headers = headers
                return  # held until the first body message tells the size
            self.mode = "passthrough"
            await self.next_send(message)
            return
        if mode == "passthrough" or kind != "http.response.body":
            if mode == "start" and self.start is not None:
                # pathsend or another extension: send the response as it is.
                self.mode = "passthrough"
                await self.next_send(self.start)
            await self.next_send(message)
            return
        body: bytes = message.get("body", b"")
        more = message.get("more_body", False)
        if mode == "start":
            assert self.start is not None and self.headers is not None
            if not more and len(body) < self.middleware.minimum_size:
                self.mode = "passthrough"
                await self.next_send(self.start)
                await self.next_send(message)
                return
            headers = self._begin()
            if not more:
                assert self.compressor is not None
                data = self.compressor.compress(body) + self.compressor.finish()
                headers["content-length"] = str(len(data))
                self.start["headers"] = headers.raw
                await self.next_send(self.start)
                await self.next_send({"type": "http.response.body", "body": data})
                return
            del headers["content-length"]
            self.start["headers"] = headers.raw
            await self.next_send(self.start)
        compressor = self.compressor
        assert compressor is not None
        if more:
            data = compressor.compress(body) + compressor.flush()
            if data:
                await self.next_send(
                    {"type": "http.response.body", "body": data, "more_body": True}
                )
        else:
            data = compressor.compress(body) + compressor.finish()
            await self.next_send({"type": "http.response.body", "body": data})


class GZipMiddleware(CompressionMiddleware):
    """Compress responses with gzip only (Starlette's ``GZipMiddleware``).

    >>> from vivace.web import App, Middleware
    >>> app = App(middleware=[Middleware(GZipMiddleware, minimum_size=1000, compresslevel=9)])
    """

    def __init__(
        self,
        app: ASGIApp,
        minimum_size: int = 500,
        compresslevel: int = 6,
        *,
        excluded_media_types: Sequence[str] = DEFAULT_EXCLUDED,
    ) -> None:
        super().__init__(
            app,
            minimum_size,
            encodings=["gzip"],
            gzip_level=compresslevel,
            excluded_media_types=excluded_media_types,
        )
