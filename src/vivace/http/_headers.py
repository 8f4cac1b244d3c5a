"""HTTP header collections: ``Headers`` (read-only) and ``MutableHeaders``.

Both wrap the list of ``(name, value)`` byte pairs that ASGI uses, so a scope's headers can
be read without copying and a response's headers written without converting. Names are
kept lower-cased (ASGI requires it for scopes; HTTP/2 requires it on the wire, and HTTP/1.1
names are case-insensitive, RFC 9110 section 5.1). Lookups take and return ``str`` decoded
as latin-1, the historical encoding of header octets (RFC 9110 section 5.5).

Anything that adds a header through ``MutableHeaders`` is validated: a name must be an RFC
9110 token and a value may not contain CR, LF or NUL, so a header we write can never split
a message or inject another header.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from vivace.http._errors import InvalidHeader
from vivace.http._tokens import is_field_value, is_token

__all__ = [
    "Headers",
    "HeadersInput",
    "MutableHeaders",
    "check_header_name",
    "check_header_value",
]

#: What ``Headers`` accepts: a mapping, or pairs of str or bytes.
HeadersInput = Mapping[str, str] | Iterable[tuple[str | bytes, str | bytes]]


def check_header_name(name: bytes) -> bytes:
    """Return ``name`` if it is a valid field name (an RFC 9110 token), else raise."""
    if not is_token(name):
        raise InvalidHeader(f"invalid header name {name!r}", name=name)
    return name


def check_header_value(value: bytes, name: bytes | None = None) -> bytes:
    """Return ``value`` if it holds no CR, LF or NUL, else raise ``InvalidHeader``."""
    if not is_field_value(value):
        raise InvalidHeader(
            f"invalid header value {value!r}: CR, LF and NUL are forbidden", name=name
        )
    return value


def _encode(text: str | bytes) -> bytes:
    if isinstance(text, bytes):
        return text
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        raise InvalidHeader(f"header text {text!r} is not latin-1") from None


def _to_raw(headers: HeadersInput) -> list[tuple[bytes, bytes]]:
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    raw: list[tuple[bytes, bytes]] = []
    for name, value in pairs:
        bname = check_header_name(_encode(name).lower())
        raw.append((bname, check_header_value(_encode(value), bname)))
    return raw


class Headers(Mapping[str, str]):
    """An immutable, case-insensitive view of HTTP headers; duplicates are kept in order.

    ``headers["name"]`` and ``get`` return the first value; ``getlist`` returns them all::

        >>> h = Headers([("Accept", "text/html"), ("accept", "application/json")])
        >>> h["ACCEPT"], h.getlist("accept")
        ('text/html', ['text/html', 'application/json'])
        >>> Headers(scope={"headers": [(b"host", b"example.com")]})["host"]
        'example.com'
    """

    __slots__ = ("_list",)

    _list: list[tuple[bytes, bytes]]

    def __init__(
        self,
        headers: HeadersInput | None = None,
        *,
        raw: list[tuple[bytes, bytes]] | None = None,
        scope: Mapping[str, Any] | None = None,
    ) -> None:
        if scope is not None:
            # First: a request's headers are read this way on every request.
            if headers is not None or raw is not None:
                raise TypeError("pass at most one of 'headers', 'raw' and 'scope'")
            hs = scope["headers"]
            self._list = hs if isinstance(hs, list) else list(hs)
        elif raw is not None:
            if headers is not None:
                raise TypeError("pass at most one of 'headers', 'raw' and 'scope'")
            # Trusted input (from a parser or another Headers): names already lower-cased.
            self._list = raw
        elif headers is not None:
            self._list = _to_raw(headers)
        else:
            self._list = []

    @property
    def raw(self) -> list[tuple[bytes, bytes]]:
        """The underlying ``(name, value)`` byte pairs, names lower-cased."""
        return self._list

    def keys(self) -> list[str]:  # type: ignore[override]
        return [name.decode("latin-1") for name, _ in self._list]

    def values(self) -> list[str]:  # type: ignore[override]
        return [value.decode("latin-1") for _, value in self._list]

    def items(self) -> list[tuple[str, str]]:  # type: ignore[override]
        return [(n.decode("latin-1"), v.decode("latin-1")) for n, v in self._list]

    def getlist(self, key: str) -> list[str]:
        """Every value of header ``key``, in the order received."""
        bkey = key.lower().encode("latin-1")
        return [v.decode("latin-1") for n, v in self._list if n == bkey]

    def get_raw(self, key: bytes) -> bytes | None:
        """The first value of a header given as lower-case bytes, undecoded, or ``None``."""
        for n, v in self._list:
            if n == key:
                return v
        return None

    def __getitem__(self, key: str) -> str:
        bkey = key.lower().encode("latin-1")
        for n, v in self._list:
            if n == bkey:
                return v.decode("latin-1")
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        bkey = key.lower().encode("latin-1")
        return any(n == bkey for n, _ in self._list)

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self._list)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Headers):
            return NotImplemented
        return sorted(self._list) == sorted(other._list)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        items = self.items()
        if len({k for k, _ in items}) == len(items):
            return f"{type(self).__name__}({dict(items)!r})"
        return f"{type(self).__name__}(raw={self._list!r})"

    def mutablecopy(self) -> MutableHeaders:
        """A ``MutableHeaders`` holding a copy of these headers."""
        return MutableHeaders(raw=self._list[:])


class MutableHeaders(Headers):
    """Headers that can be changed; every name and value added is validated.

    >>> h = MutableHeaders({"content-type": "text/plain"})
    >>> h["Set-Cookie"] = "a=1"
    >>> h.append("set-cookie", "b=2")
    >>> h.getlist("set-cookie")
    ['a=1', 'b=2']
    >>> h["x-bad"] = "evil\\r\\ninjected: 1"
    Traceback (most recent call last):
        ...
    vivace.http._errors.InvalidHeader: invalid header value ...
    """

    __slots__ = ()

    def __setitem__(self, key: str, value: str) -> None:
        """Set header ``key`` to ``value``, replacing every earlier value."""
        bkey = check_header_name(_encode(key).lower())
        bvalue = check_header_value(_encode(value), bkey)
        found = -1
        kept: list[tuple[bytes, bytes]] = []
        for i, (n, v) in enumerate(self._list):
            if n == bkey:
                if found < 0:
                    found = i
                    kept.append((bkey, bvalue))
            else:
                kept.append((n, v))
        if found < 0:
            kept.append((bkey, bvalue))
        self._list[:] = kept

    def __delitem__(self, key: str) -> None:
        """Remove every value of header ``key``; a missing header is not an error."""
        bkey = key.lower().encode("latin-1")
        self._list[:] = [(n, v) for n, v in self._list if n != bkey]

    def __ior__(self, other: HeadersInput) -> MutableHeaders:
        self.update(other)
        return self

    def __or__(self, other: HeadersInput) -> MutableHeaders:
        new = self.mutablecopy()
        new.update(other)
        return new

    def setdefault(self, key: str, value: str) -> str:
        """Return the first value of ``key``, setting it to ``value`` first if absent."""
        bkey = key.lower().encode("latin-1")
        current = self.get_raw(bkey)
        if current is not None:
            return current.decode("latin-1")
        self.append(key, value)
        return value

    def update(self, other: HeadersInput = (), /, **kwargs: str) -> None:
        """Set each header of ``other`` (replacing earlier values), then each keyword."""
        pairs: Iterable[tuple[str | bytes, str | bytes]]
        pairs = other.items() if isinstance(other, Mapping) else other
        for key, value in pairs:
            self[key.decode("latin-1") if isinstance(key, bytes) else key] = (
                value.decode("latin-1") if isinstance(value, bytes) else value
            )
        for key, value in kwargs.items():
            self[key.replace("_", "-")] = value

    def append(self, key: str | bytes, value: str | bytes) -> None:
        """Add a value for ``key`` after any existing ones (for ``Set-Cookie``, ``Vary``...)."""
        bkey = check_header_name(_encode(key).lower())
        self._list.append((bkey, check_header_value(_encode(value), bkey)))

    def extend(self, pairs: Sequence[tuple[str | bytes, str | bytes]]) -> None:
        """Append each pair."""
        for key, value in pairs:
            self.append(key, value)

    def add_vary_header(self, vary: str) -> None:
        """Add ``vary`` to the ``Vary`` header unless it is already listed."""
        existing = self.get("vary")
        if existing is None:
            self["vary"] = vary
            return
        listed = {part.strip().lower() for part in existing.split(",")}
        if vary.lower() not in listed and "*" not in listed:
            self["vary"] = f"{existing}, {vary}"
