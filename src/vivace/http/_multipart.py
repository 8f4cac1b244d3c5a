"""A streaming ``multipart/form-data`` parser without I/O (RFC 7578, RFC 2046 section 5.1).

Theory of operation
-------------------
The parser is fed the body in chunks of any size and returns events: ``PartStart`` (the
part's headers, parsed), ``PartData`` (a slice of its content) and ``PartEnd``. Its states:

    PREAMBLE ──dash-boundary──▶ BOUNDARY ──CRLF──▶ HEADERS ──CRLF CRLF──▶ BODY
                                   │  ▲                                      │
                                   │  └────────────── CRLF dash-boundary ────┘
                                   └── "--" ──▶ DONE (epilogue ignored)

``_buffer`` holds bytes not yet consumed. In BODY the parser searches for the delimiter
``CRLF "--" boundary`` with ``bytes.find`` and emits everything before it; when it is not
found, all but the last ``len(delimiter) - 1`` bytes are emitted at once (they cannot be
the start of a delimiter), so content is streamed, never buffered whole, and each byte is
scanned about once.

Limits are checked as bytes arrive: the number of parts, the size of one part's header
block, the size of a field (a part without ``filename``) and of a file (a part with one),
and the amount of preamble and transport padding. Breaking one raises
``FormLimitExceeded`` (a framework answers 413); broken syntax raises ``MalformedForm``
(400). ``close()`` at the end of the body raises ``MalformedForm`` if the closing boundary
was never seen, so a truncated upload is never mistaken for a complete one.
"""

from __future__ import annotations

import re

from vivace.http._errors import FormLimitExceeded, MalformedForm
from vivace.http._forms import DEFAULT_MAX_FIELD_SIZE, DEFAULT_MAX_PARTS, parse_options_header

__all__ = [
    "DEFAULT_MAX_FILE_SIZE",
    "DEFAULT_MAX_PART_HEADER_SIZE",
    "MultipartParser",
    "PartData",
    "PartEnd",
    "PartStart",
    "boundary_from_content_type",
]

#: Default size of one uploaded file, in bytes (100 MiB).
DEFAULT_MAX_FILE_SIZE = 100 * 1024 * 1024
#: Default size of one part's header block, in bytes.
DEFAULT_MAX_PART_HEADER_SIZE = 16 * 1024
# Headers in one part: browsers send two or three.
_MAX_PART_HEADERS = 32
# Preamble (before the first boundary) and transport padding after a boundary are legal
# (RFC 2046 section 5.1.1) but browsers send none; a little is tolerated, not megabytes.
_MAX_PREAMBLE = 64 * 1024
_MAX_PADDING = 1024
# RFC 2046 section 5.1.1: bchars, 1 to 70 of them, not ending with a space.
_BOUNDARY = re.compile(rb"[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]")

_PREAMBLE, _BOUNDARY_LINE, _HEADERS, _BODY, _DONE = range(5)


class PartStart:
    """A part begins: its name, filename (``None`` for a plain field) and headers."""

    __slots__ = ("content_type", "filename", "headers", "name")

    def __init__(
        self, name: str, filename: str | None, content_type: str, headers: list[tuple[str, str]]
    ) -> None:
        self.name = name
        self.filename = filename
        self.content_type = content_type
        #: Every header of the part, names lower-cased, in order.
        self.headers = headers

    def __repr__(self) -> str:
        return f"PartStart(name={self.name!r}, filename={self.filename!r})"


class PartData:
    """A slice of the current part's content."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __repr__(self) -> str:
        return f"PartData({self.data!r})"


class PartEnd:
    """The current part is complete."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "PartEnd()"


Event = PartStart | PartData | PartEnd


def boundary_from_content_type(content_type: str | bytes | None) -> bytes:
    """The boundary of a ``multipart/form-data`` content type, validated.

    >>> boundary_from_content_type('multipart/form-data; boundary="----x1"')
    b'----x1'
    >>> boundary_from_content_type("multipart/form-data")
    Traceback (most recent call last):
        ...
    vivace.http._errors.MalformedForm: multipart body without a boundary parameter
    """
    _, params = parse_options_header(content_type)
    boundary = params.get("boundary")
    if not boundary:
        raise MalformedForm("multipart body without a boundary parameter")
    raw = boundary.encode("latin-1", "replace")
    if _BOUNDARY.fullmatch(raw) is None:
        raise MalformedForm(f"invalid multipart boundary {boundary!r}")
    return raw


def _decode_header_text(raw: bytes) -> str:
    # RFC 7578 section 5.1: part headers (the filename above all) may be UTF-8.
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


class MultipartParser:
    """Parse a ``multipart/form-data`` body fed in chunks; return events.

    >>> body = (
    ...     b"--XyZ\\r\\n"
    ...     b'Content-Disposition: form-data; name="title"\\r\\n\\r\\n'
    ...     b"hello\\r\\n"
    ...     b"--XyZ\\r\\n"
    ...     b'Content-Disposition: form-data; name="doc"; filename="a.txt"\\r\\n'
    ...     b"Content-Type: text/plain\\r\\n\\r\\n"
    ...     b"file body\\r\\n"
    ...     b"--XyZ--\\r\\n"
    ... )
    >>> parser = MultipartParser(b"XyZ")
    >>> parser.feed(body)
    [PartStart(name='title', filename=None), PartData(b'hello'), PartEnd(), \
PartStart(name='doc', filename='a.txt'), PartData(b'file body'), PartEnd()]
    >>> parser.close()
    []

    ``max_file_size=None`` lifts the limit on files; the other limits always apply.
    """

    __slots__ = (
        "_buffer",
        "_dash_boundary",
        "_delimiter",
        "_part_limit",
        "_part_size",
        "_parts",
        "_preamble_seen",
        "_state",
        "max_field_size",
        "max_file_size",
        "max_part_header_size",
        "max_parts",
    )

    def __init__(
        self,
        boundary: bytes,
        *,
        max_parts: int = DEFAULT_MAX_PARTS,
        max_field_size: int = DEFAULT_MAX_FIELD_SIZE,
        max_file_size: int | None = DEFAULT_MAX_FILE_SIZE,
        max_part_header_size: int = DEFAULT_MAX_PART_HEADER_SIZE,
    ) -> None:
        if _BOUNDARY.fullmatch(boundary) is None:
            raise MalformedForm(f"invalid multipart boundary {boundary!r}")
        self.max_parts = max_parts
        self.max_field_size = max_field_size
        self.max_file_size = max_file_size
        self.max_part_header_size = max_part_header_size
        self._dash_boundary = b"--" + boundary
        self._delimiter = b"\r\n--" + boundary
        self._buffer = b""
        self._state = _PREAMBLE
        self._parts = 0
        self._part_size = 0
        self._part_limit: tuple[str, int] | None = None
        self._preamble_seen = 0

    @property
    def done(self) -> bool:
        """Whether the closing boundary has been read."""
        return self._state == _DONE

    def feed(self, data: bytes) -> list[Event]:
        """Parse ``data``; return the events it completes, in order."""
        events: list[Event] = []
        if self._state == _DONE:
            return events  # the epilogue is ignored (RFC 2046 section 5.1.1)
        buffer = self._buffer + data if self._buffer else data
        while True:
            state = self._state
            if state == _BODY:
                buffer = self._body(buffer, events)
                if self._state == _BODY:
                    break
            elif state == _HEADERS:
                # A CRLF right after the boundary line: an empty header block, so no
                # Content-Disposition, which RFC 7578 section 4.2 requires.
                if buffer.startswith(b"\r\n"):
                    raise MalformedForm("multipart part without headers")
                end = buffer.find(b"\r\n\r\n")
                if end < 0:
                    if len(buffer) > self.max_part_header_size:
                        self._header_too_large()
                    break
                if end > self.max_part_header_size:
                    self._header_too_large()
                events.append(self._start_part(buffer[:end]))
                buffer = buffer[end + 4 :]
                self._state = _BODY
            elif state == _BOUNDARY_LINE:
                if len(buffer) < 2:
                    break
                if buffer.startswith(b"--"):
                    self._state = _DONE
                    buffer = b""
                    break
                eol = buffer.find(b"\r\n")
                if eol < 0:
                    if len(buffer) > _MAX_PADDING:
                        raise MalformedForm("multipart boundary line not terminated by CRLF")
                    break
                if buffer[:eol].strip(b" \t"):
                    raise MalformedForm("unexpected bytes after a multipart boundary")
                buffer = buffer[eol + 2 :]
                self._state = _HEADERS
            else:  # _PREAMBLE (_DONE never loops: it breaks out where it is entered)
                buffer = self._preamble(buffer)
                if self._state == _PREAMBLE:
                    break
        self._buffer = buffer
        return events

    def close(self) -> list[Event]:
        """End of body. Raises ``MalformedForm`` unless the closing boundary was read."""
        if self._state != _DONE:
            raise MalformedForm("multipart body ended before its closing boundary")
        return []

    # -- states --------------------------------------------------------------------------

    def _preamble(self, buffer: bytes) -> bytes:
        dash = self._dash_boundary
        start = 0
        while True:
            i = buffer.find(dash, start)
            if i < 0:
                break
            # The first delimiter is the dash-boundary at the very start of the body or
            # after a CRLF that ends the preamble.
            if (i == 0 and self._preamble_seen == 0) or buffer[i - 2 : i] == b"\r\n":
                self._state = _BOUNDARY_LINE
                return buffer[i + len(dash) :]
            start = i + 1
        keep = len(dash) + 2
        if len(buffer) > keep:
            self._preamble_seen += len(buffer) - keep
            if self._preamble_seen > _MAX_PREAMBLE:
                raise MalformedForm("no multipart boundary found at the start of the body")
            buffer = buffer[-keep:]
        return buffer

    def _start_part(self, block: bytes) -> PartStart:
        self._parts += 1
        if self._parts > self.max_parts:
            raise FormLimitExceeded(
                f"multipart body has more than {self.max_parts} parts",
                limit="max_parts",
                value=self.max_parts,
            )
        lines = block.split(b"\r\n")
        if len(lines) > _MAX_PART_HEADERS:
            raise MalformedForm(f"multipart part with more than {_MAX_PART_HEADERS} headers")
        headers: list[tuple[str, str]] = []
        disposition: str | None = None
        content_type = "text/plain"
        for line in lines:
            name, sep, value = line.partition(b":")
            # RFC 9112 section 5.1: no whitespace before the colon; obs-fold is refused.
            if not sep or not name or name != name.strip() or name[:1] in b" \t":
                raise MalformedForm(f"malformed multipart part header {line[:100]!r}")
            if b"\n" in line or b"\r" in line or b"\x00" in line:
                raise MalformedForm("multipart part header holds CR, LF or NUL")
            text_name = name.decode("latin-1").lower()
            text_value = _decode_header_text(value.strip(b" \t"))
            headers.append((text_name, text_value))
            if text_name == "content-disposition":
                disposition = text_value
            elif text_name == "content-type":
                content_type = text_value
        if disposition is None:
            raise MalformedForm("multipart part without a Content-Disposition header")
        kind, params = parse_options_header(disposition)
        if kind != "form-data" or "name" not in params:
            raise MalformedForm(f"multipart part with Content-Disposition {disposition!r}")
        filename = params.get("filename")
        self._part_size = 0
        if filename is None:
            self._part_limit = ("max_field_size", self.max_field_size)
        elif self.max_file_size is None:
            self._part_limit = None
        else:
            self._part_limit = ("max_file_size", self.max_file_size)
        return PartStart(params["name"], filename, content_type, headers)

    def _emit(self, data: bytes, events: list[Event]) -> None:
        self._part_size += len(data)
        limit = self._part_limit
        if limit is not None and self._part_size > limit[1]:
            what = "field" if limit[0] == "max_field_size" else "file"
            raise FormLimitExceeded(
                f"multipart {what} larger than {limit[1]} bytes", limit=limit[0], value=limit[1]
            )
        events.append(PartData(data))

    def _body(self, buffer: bytes, events: list[Event]) -> bytes:
        delimiter = self._delimiter
        i = buffer.find(delimiter)
        if i >= 0:
            if i:
                self._emit(buffer[:i], events)
            events.append(PartEnd())
            self._state = _BOUNDARY_LINE
            return buffer[i + len(delimiter) :]
        # Everything but a possible delimiter prefix at the end can be emitted now.
        safe = len(buffer) - len(delimiter) + 1
        if safe > 0:
            cr = buffer.find(b"\r", safe)
            if cr < 0:
                cr = len(buffer)
            self._emit(buffer[:cr], events)
            return buffer[cr:]
        return buffer

    def _header_too_large(self) -> None:
        raise FormLimitExceeded(
            f"multipart part headers larger than {self.max_part_header_size} bytes",
            limit="max_part_header_size",
            value=self.max_part_header_size,
        )
