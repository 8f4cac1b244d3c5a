"""Ready-made types: ``Email``, ``HttpUrl``, ``Secret`` and ``Upload``.

``Email`` and ``HttpUrl`` are ``str`` with a pattern (and a JSON Schema ``format``), so they
validate on the fast path. ``Secret`` wraps a string that never shows in ``repr()``,
``str()``, logs or output (``dump`` writes ``"**********"``); read it with
``get_secret_value()``. ``Upload`` accepts an uploaded file object from a multipart form
(vivace.web's ``UploadFile`` or anything with ``filename`` and ``read``).
"""

from __future__ import annotations

import hmac
from typing import Annotated, Any, Protocol, runtime_checkable

from vivace.schema._fields import field

__all__ = ["Email", "HttpUrl", "Secret", "Upload"]

# A practical address check (what HTML's <input type=email> accepts, WHATWG HTML
# 4.10.5.1.5), not the whole of RFC 5322: one "@", a dot-atom local part, and a domain of
# labels of letters, digits and inner hyphens. 254 is RFC 5321's path limit less the
# angle brackets.
_EMAIL = (
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)
# An absolute http(s) URL with a host and no whitespace (RFC 3986 section 3: scheme "://"
# authority, then path, query and fragment).
_HTTP_URL = r"^[Hh][Tt][Tt][Pp][Ss]?://[^\s/?#@]+(?:@[^\s/?#@]+)?(?:[/?#][^\s]*)?$"

Email = Annotated[str, field(pattern=_EMAIL, max_length=254, format="email")]
HttpUrl = Annotated[str, field(pattern=_HTTP_URL, max_length=2083, format="uri")]

MASK = "**********"


class Secret:
    """A string that never prints. Compare with ``==`` (constant time).

    >>> from vivace.schema import Secret
    >>> s = Secret("hunter2")
    >>> s, str(s), s.get_secret_value()
    (Secret('**********'), '**********', 'hunter2')
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"

    def __str__(self) -> str:
        return MASK

    def __len__(self) -> int:
        return len(self._value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(self._value)


@runtime_checkable
class Upload(Protocol):
    """An uploaded file, as a multipart form parser hands it over (duck-typed)."""

    filename: str | None
    content_type: str | None

    def read(self, *args: Any) -> Any: ...
