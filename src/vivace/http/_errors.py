"""Errors of the shared HTTP vocabulary.

::

    ValueError
     ├── InvalidHeader     a header name or value that must not be written (CR, LF, NUL,
     │                     a name that is not an RFC 9110 token)
     ├── InvalidURL        a URL that cannot be parsed or has an impossible port
     ├── InvalidCookie     a cookie name or attribute that must not be written
     └── FormError         a form body (urlencoded or multipart) that cannot be read
          ├── MalformedForm        broken syntax: no boundary, a part without a name,
          │                        a body that ends before the closing boundary
          └── FormLimitExceeded    a limit was reached (part count, field or file size,
                                   part header size); ``limit`` names it
    OSError
     └── ClientDisconnected   the other side of an ASGI exchange went away: ``send()``
                              after the client closed the connection (vivace.server), or
                              after the caller closed the response (vivace.client's
                              ASGITransport); vivace.web's ``ClientDisconnect`` (the body
                              could not be read in full) is a subclass

The ``ValueError`` ones subclass ``ValueError`` so code that already guards conversions
keeps working. ``ClientDisconnected`` is an ``OSError`` because the ASGI specification
(2.4) asks servers to raise an ``OSError`` subclass from ``send()`` on a closed
connection; frameworks such as Starlette catch ``OSError`` there. It is defined once, here,
and re-exported by vivace.server, vivace.client and vivace.web, so one ``except`` clause
catches it whichever layer raised it.
"""

from __future__ import annotations

__all__ = [
    "ClientDisconnected",
    "FormError",
    "FormLimitExceeded",
    "InvalidCookie",
    "InvalidHeader",
    "InvalidURL",
    "MalformedForm",
]


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


class FormError(ValueError):
    """A form body that cannot be read; the framework answers 400 or 413."""


class MalformedForm(FormError):
    """A form body whose syntax is broken (a web framework answers 400)."""


class FormLimitExceeded(FormError):
    """A form body over one of the parser's limits (a web framework answers 413).

    ``limit`` is the name of the limit (``"max_parts"``, ``"max_field_size"``,
    ``"max_file_size"``, ``"max_part_header_size"``) and ``value`` its setting.
    """

    def __init__(self, message: str, *, limit: str, value: int) -> None:
        super().__init__(message)
        self.limit = limit
        self.value = value


class ClientDisconnected(OSError):
    """The other side of an ASGI exchange went away (raised by ``send()``)."""
