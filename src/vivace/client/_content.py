"""Request body encoding: ``content=``, ``data=``, ``files=`` and ``json=`` become a body
stream and the headers that describe it.

- ``content``: bytes or text (``Content-Length``), or an iterator / async iterator of
  bytes (``Transfer-Encoding: chunked``, RFC 9112 section 7.1);
- ``data``: a form, urlencoded (``application/x-www-form-urlencoded``); with ``files`` a
  streamed ``multipart/form-data`` body (see ``_multipart``);
- ``json``: encoded with orjson as ``application/json`` (``encode_json``: as httpx, non-string
  keys become strings, NaN and infinities raise).
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterable, Iterable, Mapping
from typing import Any
from urllib.parse import urlencode

import orjson

from vivace.client._multipart import MultipartStream, RequestFiles
from vivace.client._streams import AsyncByteStream, ByteStream, IteratorByteStream

__all__ = ["RequestContent", "RequestData", "encode_json", "encode_request", "encode_urlencoded"]

RequestContent = str | bytes | Iterable[bytes] | AsyncIterable[bytes]
RequestData = Mapping[str, Any]

_CHUNKED = [(b"transfer-encoding", b"chunked")]


def _primitive(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return ""
    return str(value)


def encode_urlencoded(data: RequestData) -> bytes:
    """Encode a form as ``application/x-www-form-urlencoded``; list values repeat the key.

    >>> encode_urlencoded({"a": "x y", "b": [1, 2], "c": True})
    b'a=x+y&b=1&b=2&c=true'
    """
    pairs: list[tuple[str, str]] = []
    for key, value in data.items():
        if isinstance(value, list | tuple):
            pairs.extend((key, _primitive(v)) for v in value)
        else:
            pairs.append((key, _primitive(value)))
    return urlencode(pairs).encode("ascii")


def _non_finite(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(_non_finite(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_non_finite(v) for v in value)
    return False


def encode_json(value: Any) -> bytes:
    """``value`` as JSON, as httpx's ``json=`` encodes it, with orjson.

    >>> encode_json({1: [1.5, None], "a": "é"})
    b'{"1":[1.5,null],"a":"\xc3\xa9"}'

    Keys that are not strings (ints, floats, bools, None) are written as strings, as
    ``json.dumps`` does: orjson refuses them unless asked, so it is asked only after a
    refusal, and the common case pays nothing. NaN and infinities raise ``ValueError``,
    as in httpx: JSON cannot carry them and orjson would send ``null``, a silent change
    of the value (the walk runs only when the body holds a ``null``).
    """
    try:
        body = orjson.dumps(value)
    except TypeError:
        body = orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
    if b"null" in body and _non_finite(value):
        raise ValueError(
            "json= holds NaN or Infinity, which JSON cannot represent "
            "(send them as strings, or as null yourself)"
        )
    return body


def encode_request(
    content: RequestContent | None = None,
    data: RequestData | None = None,
    files: RequestFiles | None = None,
    json: Any = None,
) -> tuple[list[tuple[bytes, bytes]], AsyncByteStream | None]:
    """The headers and the body stream for the given body arguments (``None``: no body)."""
    if content is not None:
        if isinstance(content, str | bytes | bytearray | memoryview):
            body = content.encode("utf-8") if isinstance(content, str) else bytes(content)
            return [(b"content-length", str(len(body)).encode("ascii"))], ByteStream(body)
        if isinstance(content, AsyncIterable | Iterable):
            return list(_CHUNKED), IteratorByteStream(content)  # type: ignore[arg-type]
        raise TypeError(f"content= must be bytes, str or an iterator, not {type(content).__name__}")
    if files:
        stream = MultipartStream(data, files)
        length = stream.content_length
        headers = [(b"content-type", stream.content_type.encode("ascii"))]
        if length is None:
            headers.extend(_CHUNKED)
        else:
            headers.append((b"content-length", str(length).encode("ascii")))
        return headers, stream
    if data is not None:
        if not isinstance(data, Mapping):
            raise TypeError("data= must be a mapping; use content= for raw bytes or iterators")
        body = encode_urlencoded(data)
        return [
            (b"content-length", str(len(body)).encode("ascii")),
            (b"content-type", b"application/x-www-form-urlencoded"),
        ], ByteStream(body)
    if json is not None:
        body = encode_json(json)
        return [
            (b"content-length", str(len(body)).encode("ascii")),
            (b"content-type", b"application/json"),
        ], ByteStream(body)
    return [], None
