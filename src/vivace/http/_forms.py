"""Form bodies without I/O: header parameters and the ``application/x-www-form-urlencoded``
parser.

``parse_options_header`` splits a ``Content-Type`` or ``Content-Disposition`` value into its
main value and parameters (RFC 9110 section 5.6.6, with RFC 8187 ``name*=`` extended
values). ``UrlencodedParser`` reads an urlencoded body fed in chunks of any size, as the
request stream delivers them, and enforces the field count and field size limits while it
reads, so a hostile body is refused before it has been buffered whole. The multipart
parser lives in ``_multipart``; both raise the ``FormError`` tree of ``_errors``.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, unquote_plus

from vivace.http._errors import FormLimitExceeded

__all__ = [
    "DEFAULT_MAX_FIELD_SIZE",
    "DEFAULT_MAX_PARTS",
    "UrlencodedParser",
    "parse_options_header",
]

#: Default number of fields (urlencoded) or parts (multipart) a form may hold.
DEFAULT_MAX_PARTS = 1000
#: Default size of one non-file field, in bytes.
DEFAULT_MAX_FIELD_SIZE = 1024 * 1024

_QUOTED_PAIR = re.compile(r'\\([\\"])')


def _unquote_string(value: str) -> str:
    # A quoted-string (RFC 9110 section 5.6.4). Browsers do not backslash-escape in
    # multipart headers (they percent-encode '"' per the HTML standard), and old ones send
    # Windows paths with raw backslashes, so only '\\"' and '\\\\' are treated as escapes.
    inner = value[1:-1]
    if "\\" not in inner:
        return inner
    return _QUOTED_PAIR.sub(r"\1", inner)


def _split_params(value: str) -> list[str]:
    # Split on ';' outside quoted strings.
    parts: list[str] = []
    start = 0
    quoted = False
    i = 0
    n = len(value)
    while i < n:
        c = value[i]
        if quoted:
            if c == "\\" and i + 1 < n and value[i + 1] in '"\\':
                i += 1
            elif c == '"':
                quoted = False
        elif c == '"':
            quoted = True
        elif c == ";":
            parts.append(value[start:i])
            start = i + 1
        i += 1
    parts.append(value[start:])
    return parts


def _decode_extended(value: str) -> str | None:
    # RFC 8187 section 3.2: charset'language'percent-encoded, charset UTF-8 or ISO-8859-1.
    charset, sep1, rest = value.partition("'")
    _language, sep2, encoded = rest.partition("'")
    if not (sep1 and sep2):
        return None
    charset = charset.strip().lower()
    if charset not in ("utf-8", "iso-8859-1"):
        return None
    return unquote(encoded, encoding="latin-1" if charset == "iso-8859-1" else "utf-8")


def parse_options_header(value: str | bytes | None) -> tuple[str, dict[str, str]]:
    """Split a header value such as ``Content-Type`` into ``(value, parameters)``.

    The main value and parameter names are lower-cased; quoted values are unquoted; an
    RFC 8187 extended parameter (``filename*=UTF-8''...``) is decoded and wins over the
    plain one. Malformed parameters are skipped, never an error::

        >>> parse_options_header('multipart/form-data; boundary="a;b"; charset=UTF-8')
        ('multipart/form-data', {'boundary': 'a;b', 'charset': 'UTF-8'})
        >>> parse_options_header("attachment; filename*=UTF-8''caf%C3%A9.txt; filename=x")
        ('attachment', {'filename': 'café.txt'})
    """
    if value is None:
        return "", {}
    if isinstance(value, bytes):
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError:
            text = value.decode("latin-1")
    else:
        text = value
    pieces = _split_params(text)
    main = pieces[0].strip().lower()
    params: dict[str, str] = {}
    extended: dict[str, str] = {}
    for piece in pieces[1:]:
        name, sep, raw = piece.partition("=")
        name = name.strip().lower()
        if not sep or not name:
            continue
        raw = raw.strip()
        if name.endswith("*"):
            decoded = _decode_extended(raw)
            if decoded is not None:
                extended[name[:-1]] = decoded
            continue
        if len(raw) >= 2 and raw[0] == '"' and raw[-1] == '"':
            raw = _unquote_string(raw)
        params.setdefault(name, raw)
    params.update(extended)
    return main, params


def _decode(data: bytes) -> str:
    # Percent-escapes and '+' decode as UTF-8; invalid sequences become U+FFFD, as for
    # query strings, so a stray byte never turns a form into an error.
    return unquote_plus(data.decode("latin-1"), encoding="utf-8", errors="replace")


class UrlencodedParser:
    """An incremental ``application/x-www-form-urlencoded`` parser (no I/O).

    Feed it the body in chunks; each call returns the ``(name, value)`` pairs completed so
    far, ``close()`` returns the last one. Blank values are kept; a field without ``=`` is a
    name with an empty value, as browsers and ``parse_qsl(keep_blank_values=True)`` read it.

        >>> parser = UrlencodedParser()
        >>> parser.feed(b"name=caf%C3%A9&tag=a&ta")
        [('name', 'café'), ('tag', 'a')]
        >>> parser.feed(b"g=b+c")
        []
        >>> parser.close()
        [('tag', 'b c')]
        >>> UrlencodedParser(max_fields=1).feed(b"a=1&b=2&")
        Traceback (most recent call last):
            ...
        vivace.http._errors.FormLimitExceeded: form has more than 1 fields

    A field longer than ``max_field_size`` bytes (name and value, encoded) raises
    ``FormLimitExceeded`` as soon as the parser has seen that many bytes of it.
    """

    __slots__ = ("_buffer", "_count", "max_field_size", "max_fields")

    def __init__(
        self, *, max_fields: int = DEFAULT_MAX_PARTS, max_field_size: int = DEFAULT_MAX_FIELD_SIZE
    ) -> None:
        self.max_fields = max_fields
        self.max_field_size = max_field_size
        self._buffer = b""
        self._count = 0

    def _field(self, chunk: bytes, out: list[tuple[str, str]]) -> None:
        if not chunk:  # "a=1&&b=2": empty pieces are not fields
            return
        if len(chunk) > self.max_field_size:
            self._too_big()
        self._count += 1
        if self._count > self.max_fields:
            raise FormLimitExceeded(
                f"form has more than {self.max_fields} fields",
                limit="max_fields",
                value=self.max_fields,
            )
        name, _, value = chunk.partition(b"=")
        out.append((_decode(name), _decode(value)))

    def _too_big(self) -> None:
        raise FormLimitExceeded(
            f"form field larger than {self.max_field_size} bytes",
            limit="max_field_size",
            value=self.max_field_size,
        )

    def feed(self, data: bytes) -> list[tuple[str, str]]:
        """Parse ``data``; return the fields it completed."""
        out: list[tuple[str, str]] = []
        buffer = self._buffer + data if self._buffer else data
        pieces = buffer.split(b"&")
        self._buffer = pieces.pop()
        for piece in pieces:
            self._field(piece, out)
        if len(self._buffer) > self.max_field_size:
            self._too_big()
        return out

    def close(self) -> list[tuple[str, str]]:
        """End of body: return the last field, if any."""
        out: list[tuple[str, str]] = []
        buffer, self._buffer = self._buffer, b""
        self._field(buffer, out)
        return out
