"""ASGI response headers as HTTP/2 fields: checked once per distinct pair, then looked up.

HTTP/1.1 writes an app's header as a line (``_response_heads``); HTTP/2 sends it as a pair with
a lowercase name (RFC 9113 section 8.2.1) and without the connection-specific fields
(section 8.2.2: ``connection``, ``keep-alive``, ``proxy-connection``,
``transfer-encoding`` and ``upgrade`` are dropped, their job is the framing layer's). The
same checks as HTTP/1.1 otherwise: a name that is not a token, or a value with CR, LF or
NUL, is a ``ProtocolViolation`` (the app gets a 500, nothing reaches the wire).
"""

from __future__ import annotations

from typing import Any

from vivace.server._errors import ProtocolViolation
from vivace.server._response_heads import check_app_header

__all__ = ["STATUS", "default_fields", "response_fields"]

_DROPPED = frozenset(
    (b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade")
)
# What a checked pair becomes: the pair to send (lowercase name), or None (dropped).
_PAIRS: dict[tuple[bytes, bytes], tuple[bytes, bytes] | None] = {}
_PAIRS_MAX = 4096
#: ``:status`` pseudo-header fields, made once.
STATUS = {code: (b":status", b"%d" % code) for code in range(100, 1000)}

FieldList = list[tuple[bytes, bytes]]


def _check(pair: Any) -> tuple[bytes, bytes] | None:
    name, value = check_app_header(pair)
    name = name.lower()
    checked = (
        None if name in _DROPPED or (name == b"te" and value != b"trailers") else (name, value)
    )
    if type(pair) is tuple and len(_PAIRS) < _PAIRS_MAX:
        _PAIRS[pair] = checked
    return checked


def response_fields(headers: Any, fields: FieldList) -> tuple[int | None, int]:
    """Append the app's ``headers`` to ``fields``, checked.

    Returns the content-length the app declared (or None) and which of ``server`` (1) and
    ``date`` (2) it set itself, as bits: the defaults are then left out.
    """
    length: int | None = None
    own = 0
    append = fields.append
    get = _PAIRS.get
    try:
        for pair in headers:
            checked = get(pair, False) if type(pair) is tuple else False
            if checked is False:
                checked = _check(pair)
            if checked is None:
                continue
            append(checked)  # type: ignore[arg-type]
            name = checked[0]  # type: ignore[index]
            if name == b"content-length":
                value = checked[1]  # type: ignore[index]
                if not value.isdigit() or (length is not None and int(value) != length):
                    raise ProtocolViolation(f"invalid content-length {value!r}")
                length = int(value)
            elif name == b"server":
                own |= 1
            elif name == b"date":
                own |= 2
    except TypeError:
        raise ProtocolViolation(
            f"response headers must be pairs of bytes, got {headers!r}"
        ) from None
    return length, own


_DEFAULTS: dict[bytes, FieldList] = {}


def default_fields(lines: bytes, own: int) -> FieldList:
    """The server's own fields (``ServerState.default_lines``, as pairs) less those the
    app set itself (``own``, from ``response_fields``)."""
    fields = _DEFAULTS.get(lines)
    if fields is None:
        if len(_DEFAULTS) > 4:  # a new Date each second: keep only the current ones
            _DEFAULTS.clear()
        fields = []
        for line in lines.split(b"\r\n"):
            name, sep, value = line.partition(b": ")
            if sep:
                fields.append((name, value))
        _DEFAULTS[lines] = fields
    if own:
        return [
            pair
            for pair in fields
            if not ((pair[0] == b"server" and own & 1) or (pair[0] == b"date" and own & 2))
        ]
    return fields
