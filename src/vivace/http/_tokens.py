"""The rules for the names and values of HTTP fields, in one place.

Every layer checks the names and values it writes (and some it reads) against these:
the server's response heads (HTTP/1.1 and HTTP/2), ``Headers``, cookies on both sides,
the client's request methods. One rule, so a name the server refuses is one ``Headers``
refuses too.

- RFC 9110 section 5.6.2: a token (a field name, a method, a cookie name) is
  ``1*tchar``, ``tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
  "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA``.
- RFC 9110 section 5.5: a field value never holds CR, LF or NUL (a value that did could
  end the field and start another: header injection, response splitting).
"""

from __future__ import annotations

import re

__all__ = ["is_field_value", "is_token"]

_TCHAR = r"!#$%&'*+\-.^_`|~0-9A-Za-z"
_TOKEN = re.compile(f"[{_TCHAR}]+")
_TOKEN_BYTES = re.compile(f"[{_TCHAR}]+".encode("ascii"))
_FORBIDDEN_BYTES = re.compile(rb"[\r\n\x00]")


def is_token(text: str | bytes) -> bool:
    """Whether ``text`` is an RFC 9110 token (a valid field name or method).

    >>> is_token(b"content-type"), is_token("GET"), is_token("bad name"), is_token(b"")
    (True, True, False, False)
    """
    pattern = _TOKEN_BYTES if type(text) is bytes else _TOKEN
    return pattern.fullmatch(text) is not None  # type: ignore[arg-type]


def is_field_value(value: bytes) -> bool:
    """Whether ``value`` may be written as a field value: no CR, LF or NUL.

    >>> is_field_value(b"text/plain"), is_field_value(b"x\\r\\nset-cookie: a=b")
    (True, False)
    """
    return _FORBIDDEN_BYTES.search(value) is None
