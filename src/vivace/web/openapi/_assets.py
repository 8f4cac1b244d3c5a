"""The docs UIs' files, served from inside the package.

The files are in ``assets/`` next to this module, written by ``scripts/docs-assets`` from
the pinned npm packages (``assets/LICENSES.md`` names them, their licences and sums).
``assets/manifest.json`` lists each one with the sha256 and size of the file as its package
ships it and whether it is stored gzip-compressed (``name.gz``).

Why gzip on disk (measured: bench/docs_assets.py, docs/benchmarks.md): the three UIs'
files are 9.3 MB as their packages ship them and 2.6 MB compressed (the wheel is 2.9 MB
either way, zip compresses too). Every browser accepts gzip, so a compressed file goes out
as it is, with ``Content-Encoding: gzip``: 0.01-0.02 ms of CPU a request, where
compressing per request (a compression middleware in front of the plain files) costs 69
ms for Swagger UI's bundle and 181 ms for Scalar's, on every page load. A client that does
not accept gzip (RFC 9110 section 12.5.3) gets the file decompressed, once per process.

An ``Asset`` answers GET and HEAD (its route allows nothing else) with:

- a strong ``ETag`` made from the sha256, the same in every process and on every machine
  (so a 304 holds behind a load balancer), suffixed ``-gzip`` for the compressed bytes:
  each representation has its own strong validator (RFC 9110 section 8.8.3);
- 304 when ``If-None-Match`` matches (weak comparison, section 13.1.2);
- ``Vary: Accept-Encoding`` on a file that has two representations;
- ``Cache-Control``: the pages link each file as ``name?v=<sha256 prefix>``; a request for
  the current version may be cached for a year (``immutable``), any other request must
  revalidate, so an old URL never pins old bytes in a cache;
- ``X-Content-Type-Options: nosniff``.

The bytes are read on first use, in the I/O thread pool, and kept.
"""

from __future__ import annotations

import functools
import gzip
import importlib.resources
from typing import Any

import orjson

from vivace.types import Receive, Scope, Send
from vivace.web._concurrency import io_pool
from vivace.web._fileresponse import weak_etag_match
from vivace.web._responses import length_header
from vivace.web.middleware._compression import negotiate

__all__ = ["Asset", "asset_manifest", "versioned_url"]

_CONTENT_TYPES = {
    ".js": b"text/javascript; charset=utf-8",
    ".css": b"text/css; charset=utf-8",
    ".html": b"text/html; charset=utf-8",
}
_IMMUTABLE = b"public, max-age=31536000, immutable"
_REVALIDATE = b"no-cache"
#: The length of the sha256 prefix that versions an asset URL (48 bits: a collision
#: between two releases of one file is not a concern).
VERSION_LENGTH = 12


def _folder() -> Any:
    return importlib.resources.files(__package__ or "vivace.web.openapi") / "assets"


@functools.cache
def asset_manifest() -> dict[str, Any]:
    """``assets/manifest.json``: the packages and, per ``ui/name``, sha256, size, gzip."""
    data: dict[str, Any] = orjson.loads(_folder().joinpath("manifest.json").read_bytes())
    return data


def versioned_url(key: str, base: str) -> str:
    """The URL of the file ``key`` (``"ui/name"``) under ``base``, with its version.

    >>> versioned_url("redoc/redoc.standalone.js", "/redoc")
    '/redoc/redoc.standalone.js?v=8c70c2de83d3'
    """
    version = asset_manifest()["files"][key]["sha256"][:VERSION_LENGTH]
    return f"{base.rstrip('/')}/{key.rpartition('/')[2]}?v={version}"


class Asset:
    """One packaged file (``"swagger-ui/swagger-ui.css"``) as an ASGI app.

    >>> asset = Asset("swagger-ui/swagger-ui.css")
    >>> asset.url("/docs")
    '/docs/swagger-ui.css?v=7eb9f5a125e4'
    """

    __slots__ = (
        "_gzip",
        "_identity",
        "_stored",
        "content_type",
        "etag",
        "gzip_etag",
        "key",
        "name",
        "stored_gzip",
        "version",
        "version_query",
    )

    def __init__(self, key: str) -> None:
        entry = asset_manifest()["files"].get(key)
        if entry is None:
            raise LookupError(f"no docs asset {key!r} in vivace's assets/manifest.json")
        self.key = key
        self.name = key.rpartition("/")[2]
        self.stored_gzip: bool = entry["gzip"]
        self._stored = _folder().joinpath(key + ".gz" if self.stored_gzip else key)
        if not self._stored.is_file():
            raise RuntimeError(
                f"vivace's docs asset {key!r} is missing from the installed package "
                "(reinstall vivace)"
            )
        suffix = "." + self.name.rpartition(".")[2]
        self.content_type = _CONTENT_TYPES[suffix]
        self.version: str = entry["sha256"][:VERSION_LENGTH]
        self.version_query = b"v=" + self.version.encode()
        self.etag = f'"{entry["sha256"][:32]}"'
        self.gzip_etag = f'"{entry["sha256"][:32]}-gzip"'
        self._gzip: bytes | None = None
        self._identity: bytes | None = None

    def url(self, base: str) -> str:
        """The URL of this file under ``base`` (the page's path), with its version."""
        return versioned_url(self.key, base)

    def _read(self) -> None:
        stored = self._stored.read_bytes()
        if self.stored_gzip:
            self._gzip = stored
        else:
            self._identity = stored

    async def _body(self, compressed: bool) -> bytes:
        if self._gzip is None and self._identity is None:
            await io_pool.run(self._read)
        if compressed:
            assert self._gzip is not None
            return self._gzip
        if self._identity is None:
            assert self._gzip is not None
            self._identity = await io_pool.run(gzip.decompress, self._gzip)
        return self._identity

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise RuntimeError("a docs asset only serves HTTP requests")
        accept_encoding = if_none_match = ""
        for name, value in scope["headers"]:
            if name == b"accept-encoding":
                accept_encoding += "," + value.decode("latin-1")
            elif name == b"if-none-match":
                if_none_match += "," + value.decode("latin-1")
        compressed = self.stored_gzip and negotiate(accept_encoding, ("gzip",)) == "gzip"
        etag = self.gzip_etag if compressed else self.etag
        current = scope.get("query_string", b"") == self.version_query
        headers = [
            (b"etag", etag.encode()),
            (b"cache-control", _IMMUTABLE if current else _REVALIDATE),
            (b"x-content-type-options", b"nosniff"),
        ]
        if self.stored_gzip:
            headers.append((b"vary", b"accept-encoding"))
        if if_none_match and weak_etag_match(etag, if_none_match):
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        body = await self._body(compressed)
        headers.append((b"content-type", self.content_type))
        if compressed:
            headers.append((b"content-encoding", b"gzip"))
        headers.append(length_header(len(body)))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send(
            {"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body}
        )
