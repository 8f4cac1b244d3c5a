"""HPACK (RFC 7541): header compression for HTTP/2, decoder and encoder. No I/O.

Decoder. ``HPACKDecoder.decode(block)`` turns one header block into a list of
``(name, value)`` byte pairs, keeping the dynamic table (section 2.3.2) and checking the
decoded size against a limit *while* decoding: a small block that expands into a huge
header list (an "HPACK bomb": one big entry indexed thousands of times) stops at the
limit, before it is built (RFC 9113 section 10.5.1). ``generation`` changes whenever the
dynamic table does, so a caller may cache what it derived from a block that left the
table unchanged: the same bytes then decode to the same list (the connection core does,
which makes the usual request - every field indexed - a dictionary lookup).

Encoder. ``HPACKEncoder`` never uses the dynamic table: it announces a table size of 0
in its first block (section 6.3) and writes every field as an indexed static entry or a
literal without indexing (never indexed for credentials, section 7.1.3), strings
unencoded (Huffman coding is optional, section 5.2). Its output therefore depends only
on the pair, and each pair's bytes are cached. The cost is compression: fields repeat on
every response. The gain is that nothing the peer does to its table size can desynchronise
us, and no per-connection state is kept.

Huffman decoding (Appendix B) uses the ``hpack`` library's decoder, which carries the
code table; every other part is ours.

Errors::

    ValueError
     └── HPACKError              a block that does not decode (COMPRESSION_ERROR)
          └── HeaderListTooLarge the decoded list would exceed the size limit
"""

from __future__ import annotations

from typing import ClassVar

from hpack.exceptions import HPACKDecodingError
from hpack.huffman_table import decode_huffman

__all__ = [
    "STATIC_TABLE",
    "HPACKDecoder",
    "HPACKEncoder",
    "HPACKError",
    "HeaderListTooLarge",
    "encode_integer",
]

# RFC 7541 Appendix A; index 1 is element 0.
STATIC_TABLE: tuple[tuple[bytes, bytes], ...] = tuple(
    (n.encode("ascii"), v.encode("ascii"))
    for n, v in (
        (":authority", ""),
        (":method", "GET"),
        (":method", "POST"),
        (":path", "/"),
        (":path", "/index.html"),
        (":scheme", "http"),
        (":scheme", "https"),
        (":status", "200"),
        (":status", "204"),
        (":status", "206"),
        (":status", "304"),
        (":status", "400"),
        (":status", "404"),
        (":status", "500"),
        ("accept-charset", ""),
        ("accept-encoding", "gzip, deflate"),
        ("accept-language", ""),
        ("accept-ranges", ""),
        ("accept", ""),
        ("access-control-allow-origin", ""),
        ("age", ""),
        ("allow", ""),
        ("authorization", ""),
        ("cache-control", ""),
        ("content-disposition", ""),
        ("content-encoding", ""),
        ("content-language", ""),
        ("content-length", ""),
        ("content-location", ""),
        ("content-range", ""),
        ("content-type", ""),
        ("cookie", ""),
        ("date", ""),
        ("etag", ""),
        ("expect", ""),
        ("expires", ""),
        ("from", ""),
        ("host", ""),
        ("if-match", ""),
        ("if-modified-since", ""),
        ("if-none-match", ""),
        ("if-range", ""),
        ("if-unmodified-since", ""),
        ("last-modified", ""),
        ("link", ""),
        ("location", ""),
        ("max-forwards", ""),
        ("proxy-authenticate", ""),
        ("proxy-authorization", ""),
        ("range", ""),
        ("referer", ""),
        ("refresh", ""),
        ("retry-after", ""),
        ("server", ""),
        ("set-cookie", ""),
        ("strict-transport-security", ""),
        ("transfer-encoding", ""),
        ("user-agent", ""),
        ("vary", ""),
        ("via", ""),
        ("www-authenticate", ""),
    )
)
_STATIC_COUNT = len(STATIC_TABLE)
_ENTRY_OVERHEAD = 32  # section 4.1: an entry's size is len(name) + len(value) + 32
# An integer larger than this is refused: no field, table size or index needs it, and an
# unbounded varint is a way to make the decoder loop.
_MAX_INT = 1 << 32


class HPACKError(ValueError):
    """A header block that cannot be decoded: a connection error COMPRESSION_ERROR."""


class HeaderListTooLarge(HPACKError):
    """The decoded header list grew past the limit (name + value + 32 per field)."""


def encode_integer(value: int, prefix_bits: int, first: int = 0) -> bytes:
    """Section 5.1: ``value`` with an N-bit prefix, the high bits of the first byte = first."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes((first | value,))
    out = bytearray((first | limit,))
    value -= limit
    while value >= 128:
        out.append((value & 127) | 128)
        value >>= 7
    out.append(value)
    return bytes(out)


class HPACKDecoder:
    """Decodes header blocks of one connection direction (one dynamic table)."""

    __slots__ = ("_entries", "_max_allowed", "_max_size", "_size", "generation")

    def __init__(self, max_table_size: int = 4096) -> None:
        #: Newest entry last: dynamic index 62 is ``_entries[-1]``.
        self._entries: list[tuple[bytes, bytes]] = []
        self._size = 0
        # What we advertised in SETTINGS_HEADER_TABLE_SIZE: the encoder may pick any size
        # up to it (section 6.3), and starts at it (section 4.2).
        self._max_allowed = max_table_size
        self._max_size = max_table_size
        self.generation = 0

    @property
    def table_size(self) -> int:
        """The dynamic table's current size in octets (section 4.1)."""
        return self._size

    def _evict(self, room: int) -> None:
        entries = self._entries
        while entries and self._size + room > self._max_size:
            name, value = entries.pop(0)
            self._size -= len(name) + len(value) + _ENTRY_OVERHEAD

    def _field(self, index: int) -> tuple[bytes, bytes]:
        if index <= 0:
            raise HPACKError("index 0 is not a header field (RFC 7541 section 6.1)")
        if index <= _STATIC_COUNT:
            return STATIC_TABLE[index - 1]
        position = index - _STATIC_COUNT
        entries = self._entries
        if position > len(entries):
            raise HPACKError(f"index {index} is past the end of the dynamic table")
        return entries[-position]

    def decode(self, block: bytes, max_list_size: int = 1 << 62) -> list[tuple[bytes, bytes]]:
        """The header list of ``block``; raises ``HPACKError`` (or ``HeaderListTooLarge``)."""
        headers: list[tuple[bytes, bytes]] = []
        append = headers.append
        total = 0
        pos = 0
        end = len(block)
        first = True  # a table size update is allowed only before the first field
        try:
            while pos < end:
                byte = block[pos]
                if byte & 0x80:  # 6.1 indexed header field
                    index = byte & 0x7F
                    pos += 1
                    if index == 0x7F:
                        index, pos = _integer(block, pos, index)
                    field = self._field(index)
                    total += len(field[0]) + len(field[1]) + _ENTRY_OVERHEAD
                    if total > max_list_size:
                        raise HeaderListTooLarge("header list too large")
                    append(field)
                    first = False
                    continue
                if byte & 0xE0 == 0x20:  # 6.3 dynamic table size update
                    if not first:
                        raise HPACKError("table size update after a header field (section 4.2)")
                    size = byte & 0x1F
                    pos += 1
                    if size == 0x1F:
                        size, pos = _integer(block, pos, size)
                    if size > self._max_allowed:
                        raise HPACKError(f"table size update to {size} above the limit")
                    self._max_size = size
                    self._evict(0)
                    self.generation += 1
                    continue
                first = False
                if byte & 0x40:  # 6.2.1 literal with incremental indexing
                    index = byte & 0x3F
                    mask = 0x3F
                    indexing = True
                else:  # 6.2.2 without indexing, 6.2.3 never indexed
                    index = byte & 0x0F
                    mask = 0x0F
                    indexing = False
                pos += 1
                if index == mask:
                    index, pos = _integer(block, pos, index)
                if index:
                    name = self._field(index)[0]
                else:
                    name, pos = _string(block, pos, max_list_size)
                value, pos = _string(block, pos, max_list_size)
                size = len(name) + len(value) + _ENTRY_OVERHEAD
                total += size
                if total > max_list_size:
                    raise HeaderListTooLarge("header list too large")
                append((name, value))
                if indexing:
                    # Section 4.4: an entry larger than the table empties it and is not added.
                    self._evict(size)
                    if size <= self._max_size:
                        self._entries.append((name, value))
                        self._size += size
                    self.generation += 1
        except IndexError:
            raise HPACKError("header block ends inside a field") from None
        return headers


def _integer(block: bytes, pos: int, value: int) -> tuple[int, int]:
    """The continuation bytes of a prefixed integer (section 5.1), from ``pos``."""
    shift = 0
    while True:
        byte = block[pos]
        pos += 1
        value += (byte & 0x7F) << shift
        if value > _MAX_INT:
            raise HPACKError("integer too large")
        if not byte & 0x80:
            return value, pos
        shift += 7


def _string(block: bytes, pos: int, limit: int) -> tuple[bytes, int]:
    """A string literal (section 5.2) from ``pos``: its bytes and the position after it."""
    byte = block[pos]
    length = byte & 0x7F
    pos += 1
    if length == 0x7F:
        length, pos = _integer(block, pos, length)
    end = pos + length
    if end > len(block):
        raise HPACKError("string literal runs past the end of the block")
    data = block[pos:end]
    if byte & 0x80:
        # Huffman coding shortens at most to 5 bits per octet: a bound checked before
        # decoding, so a bomb cannot hide in a Huffman string either.
        if length * 8 // 5 > limit:
            raise HeaderListTooLarge("header list too large")
        try:
            data = decode_huffman(data)
        except HPACKDecodingError as exc:
            raise HPACKError(f"invalid Huffman string: {exc}") from None
    return data, end


# Fields whose values are credentials: written "never indexed" (RFC 7541 section 7.1.3).
_SENSITIVE = frozenset((b"authorization", b"cookie", b"proxy-authorization", b"set-cookie"))
_STATIC_PAIRS = {pair: i + 1 for i, pair in enumerate(STATIC_TABLE) if pair[1]}
_STATIC_NAMES: dict[bytes, int] = {}
for _i, (_name, _value) in enumerate(STATIC_TABLE):
    _STATIC_NAMES.setdefault(_name, _i + 1)
_CACHE_MAX = 4096


def _literal(data: bytes) -> bytes:
    return encode_integer(len(data), 7) + data


class HPACKEncoder:
    """Encodes header lists without a dynamic table (see the module docstring).

    >>> HPACKEncoder().encode([(b":status", b"200")])
    b' \\x88'
    """

    __slots__ = ("_announced",)

    #: Shared by all encoders: a pair's bytes do not depend on the connection.
    _cache: ClassVar[dict[tuple[bytes, bytes], bytes]] = {}

    def __init__(self) -> None:
        self._announced = False

    def table_size_changed(self) -> None:
        """The peer changed SETTINGS_HEADER_TABLE_SIZE: say again that we use none."""
        self._announced = False

    def field(self, name: bytes, value: bytes) -> bytes:
        """One field's bytes (cached)."""
        key = (name, value)
        data = self._cache.get(key)
        if data is not None:
            return data
        index = _STATIC_PAIRS.get(key)
        if index is not None:
            data = bytes((0x80 | index,))
        else:
            first = 0x10 if name in _SENSITIVE else 0x00
            index = _STATIC_NAMES.get(name, 0)
            if index:
                data = encode_integer(index, 4, first) + _literal(value)
            else:
                data = bytes((first,)) + _literal(name) + _literal(value)
        if len(self._cache) < _CACHE_MAX:
            self._cache[key] = data
        return data

    def prefix(self) -> bytes:
        """What must start the next block: a size update to 0, once (section 6.3)."""
        if self._announced:
            return b""
        self._announced = True
        return b"\x20"

    def encode(self, headers: list[tuple[bytes, bytes]]) -> bytes:
        """A header block for ``headers`` (names must already be lowercase)."""
        field = self.field
        return self.prefix() + b"".join([field(n, v) for n, v in headers])
