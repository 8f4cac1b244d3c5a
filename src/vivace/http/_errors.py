"""Errors of the shared HTTP vocabulary.

::

    ValueError
     ├── InvalidHeader     a header name or value that must not be written (CR, LF, NUL,
     │                     a name that is not an RFC 9110 token)
     ├── InvalidURL        a URL that cannot be parsed or has an impossible port
     └── InvalidCookie     a cookie name or attribute that must not be written

They subclass ``ValueError`` so code that already guards conversions keeps working.
"""

from __future__ import annotations

__all__ = ["InvalidCookie", "InvalidHeader", "InvalidURL"]


class InvalidHeader(ValueError):
    """A header name or value that would corrupt or inject into a message if written."""

    def __init__(self, message: str, *, name: bytes | str | None = None) -> None:
        super().__init__(message)
        self.name = name


class InvalidURL(ValueError):
    """A URL that cannot be parsed."""

    def __init__(self, message: str, *, url: str | None = None) -> None:
        super().__init__(message)
        self.url = url


class InvalidCookie(ValueError):
    """A cookie that cannot be written as a ``Set-Cookie`` header."""

    def __init__(self, message: str, *, name: str | None = None) -> None:
        super().__init__(message)
        self.name = name
