"""Response body decoders for ``Content-Encoding`` (RFC 9110 section 8.4): gzip and
deflate, chained in reverse order when several codings were applied.

Each decoder is fed the raw chunks and returns decoded bytes; ``flush`` returns whatever
the coding still holds at the end. A corrupt stream raises ``DecodingError``.
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING

from vivace.client._exceptions import DecodingError

if TYPE_CHECKING:
    from vivace.client._models import Request

__all__ = ["IDENTITY", "SUPPORTED_ENCODINGS", "Decoder", "make_decoder"]

#: The value the client sends in ``Accept-Encoding``.
SUPPORTED_ENCODINGS = b"gzip, deflate"


class Decoder:
    """Decodes one content coding."""

    __slots__ = ()

    def decode(self, data: bytes) -> bytes:
        return data

    def flush(self) -> bytes:
        return b""


class _ZlibDecoder(Decoder):
    __slots__ = ("_first", "_gzip", "_obj", "_request")

    def __init__(self, gzip: bool, request: Request | None) -> None:
        self._gzip = gzip
        self._request = request
        self._first = True
        # 16 + MAX_WBITS: a gzip header and trailer; MAX_WBITS: a zlib-wrapped deflate.
        self._obj = zlib.decompressobj(16 + zlib.MAX_WBITS if gzip else zlib.MAX_WBITS)

    def decode(self, data: bytes) -> bytes:
        try:
            if self._first and not self._gzip and data:
                self._first = False
                try:
                    return self._obj.decompress(data)
                except zlib.error:
                    # Some servers send raw deflate (no zlib wrapper) despite RFC 9110
                    # section 8.4.1.2; browsers accept it, so do we.
                    self._obj = zlib.decompressobj(-zlib.MAX_WBITS)
                    return self._obj.decompress(data)
            self._first = False
            return self._obj.decompress(data)
        except zlib.error as exc:
            raise DecodingError(
                f"cannot decode the response body: {exc}", request=self._request
            ) from exc

    def flush(self) -> bytes:
        try:
            return self._obj.flush()
        except zlib.error as exc:  # pragma: no cover - zlib's flush does not raise in practice
            raise DecodingError(
                f"cannot decode the response body: {exc}", request=self._request
            ) from exc


class _MultiDecoder(Decoder):
    __slots__ = ("_children",)

    def __init__(self, children: list[Decoder]) -> None:
        # Codings are listed in the order applied, so they are undone in reverse.
        self._children = children[::-1]

    def decode(self, data: bytes) -> bytes:
        for child in self._children:
            data = child.decode(data)
        return data

    def flush(self) -> bytes:
        data = b""
        for child in self._children:
            data = child.decode(data) + child.flush()
        return data


IDENTITY = Decoder()


def make_decoder(content_encoding: str | None, request: Request | None = None) -> Decoder:
    """The decoder for a ``Content-Encoding`` value; unknown codings pass through as is.

    >>> import gzip
    >>> make_decoder("gzip").decode(gzip.compress(b"hello"))
    b'hello'
    >>> make_decoder(None).decode(b"plain")
    b'plain'
    """
    if not content_encoding:
        return IDENTITY
    decoders: list[Decoder] = []
    for coding in content_encoding.lower().split(","):
        coding = coding.strip()
        if coding in ("gzip", "x-gzip"):
            decoders.append(_ZlibDecoder(gzip=True, request=request))
        elif coding == "deflate":
            decoders.append(_ZlibDecoder(gzip=False, request=request))
    if not decoders:
        return IDENTITY
    return decoders[0] if len(decoders) == 1 else _MultiDecoder(decoders)
