"""HTTP/2 field rules (RFC 9113 section 8): checking decoded heads and trailers.

A message that breaks one of these rules is *malformed* (section 8.1.1): a stream error
PROTOCOL_ERROR, never passed on. ``check_request`` and ``check_response`` split a head
into its pseudo-header fields and its regular fields; ``check_trailers`` accepts regular
fields only. The rules:

* names are lowercase tokens (section 8.2.1); an empty name is malformed (that also stops
  the zero-length header flood of CVE-2019-9516 at the first field);
* values hold no NUL, CR or LF and do not start or end with a space or tab (8.2.1);
* connection-specific fields (``connection``, ``keep-alive``, ``proxy-connection``,
  ``transfer-encoding``, ``upgrade``) are malformed, and ``te`` may only be ``trailers``
  (8.2.2);
* pseudo-header fields come first, once each, and only the defined ones (8.3);
* a request has ``:method``, ``:scheme`` and a non-empty ``:path``, except CONNECT
  (8.5: ``:method`` and ``:authority`` only) and extended CONNECT (RFC 8441 section 4:
  ``:protocol`` with ``:scheme`` and ``:path``); a response has a 3-digit ``:status``;
* ``content-length``, when present, is one decimal number (8.1.1 then checks the body).
"""

from __future__ import annotations

import re

from vivace.http._h2_frames import ErrorCode, H2StreamError

__all__ = ["RequestHead", "check_request", "check_response", "check_trailers", "is_valid_field"]

_NAME = re.compile(rb"[!#$%&'*+\-.^_`|~0-9a-z]+")
_BAD_VALUE = re.compile(rb"[\x00\r\n]|^[ \t]|[ \t]\Z")
_CONNECTION_SPECIFIC = frozenset(
    (b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade")
)
_REQUEST_PSEUDO = frozenset((b":method", b":scheme", b":authority", b":path", b":protocol"))
_DIGITS = re.compile(rb"[0-9]{1,18}")

RequestHead = tuple[dict[bytes, bytes], list[tuple[bytes, bytes]], int | None]


def is_valid_field(name: bytes, value: bytes) -> bool:
    """Whether a regular field may be sent or accepted over HTTP/2."""
    return (
        _NAME.fullmatch(name) is not None
        and _BAD_VALUE.search(value) is None
        and name not in _CONNECTION_SPECIFIC
        and (name != b"te" or value == b"trailers")
    )


def _malformed(stream_id: int, why: str) -> H2StreamError:
    return H2StreamError(stream_id, ErrorCode.PROTOCOL_ERROR, f"malformed message: {why}")


def _regular(stream_id: int, name: bytes, value: bytes, regular: list[tuple[bytes, bytes]]) -> None:
    if not is_valid_field(name, value):
        raise _malformed(stream_id, f"field {name!r} is not allowed in HTTP/2")
    regular.append((name, value))


def _content_length(stream_id: int, regular: list[tuple[bytes, bytes]]) -> int | None:
    length: int | None = None
    for name, value in regular:
        if name == b"content-length":
            if _DIGITS.fullmatch(value) is None or (length is not None and int(value) != length):
                raise _malformed(stream_id, "invalid content-length")
            length = int(value)
    return length


def check_request(stream_id: int, fields: list[tuple[bytes, bytes]]) -> RequestHead:
    """``(pseudo, regular, content_length)`` of a request head, or ``H2StreamError``."""
    pseudo: dict[bytes, bytes] = {}
    regular: list[tuple[bytes, bytes]] = []
    for name, value in fields:
        if name[:1] == b":":
            if regular:
                raise _malformed(stream_id, "pseudo-header field after a regular field")
            if name not in _REQUEST_PSEUDO or name in pseudo:
                raise _malformed(stream_id, f"unexpected pseudo-header field {name!r}")
            if _BAD_VALUE.search(value) is not None:
                raise _malformed(stream_id, f"invalid value of {name!r}")
            pseudo[name] = value
        else:
            _regular(stream_id, name, value, regular)
    method = pseudo.get(b":method")
    if not method:
        raise _malformed(stream_id, "no :method")
    if method == b"CONNECT" and b":protocol" not in pseudo:
        if b":scheme" in pseudo or b":path" in pseudo or not pseudo.get(b":authority"):
            raise _malformed(stream_id, "CONNECT takes :authority only")
    else:
        if b":protocol" in pseudo and method != b"CONNECT":
            raise _malformed(stream_id, ":protocol without CONNECT")
        if not pseudo.get(b":scheme") or not pseudo.get(b":path"):
            raise _malformed(stream_id, "no :scheme or :path")
    return pseudo, regular, _content_length(stream_id, regular)


def check_response(
    stream_id: int, fields: list[tuple[bytes, bytes]]
) -> tuple[int, list[tuple[bytes, bytes]], int | None]:
    """``(status, regular, content_length)`` of a response head, or ``H2StreamError``."""
    status: bytes | None = None
    regular: list[tuple[bytes, bytes]] = []
    for name, value in fields:
        if name[:1] == b":":
            if regular or name != b":status" or status is not None:
                raise _malformed(stream_id, f"unexpected pseudo-header field {name!r}")
            status = value
        else:
            _regular(stream_id, name, value, regular)
    if status is None or len(status) != 3 or not status.isdigit():
        raise _malformed(stream_id, "no valid :status")
    return int(status), regular, _content_length(stream_id, regular)


def check_trailers(stream_id: int, fields: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The trailer fields, or ``H2StreamError`` (no pseudo-header fields, section 8.1)."""
    regular: list[tuple[bytes, bytes]] = []
    for name, value in fields:
        _regular(stream_id, name, value, regular)
    return regular
