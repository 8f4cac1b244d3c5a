"""Cookies on the wire: parse a ``Cookie`` request header, build a ``Set-Cookie`` value.

Parsing is lenient the way browsers are: a malformed pair is skipped, never an error, so a
client with a broken cookie still gets served. Building is strict (RFC 6265 section 4.1):
the name must be a token and attributes may not hold ``;`` or control characters, so a
cookie can never inject another attribute or header. Values outside the cookie-octet set
are quoted with backslash-octal escapes, the form Python's ``http.cookies`` (and so Django
and Starlette) read back.
"""

from __future__ import annotations

import re
import time
from datetime import datetime
from typing import Literal

from vivace.http._dates import format_http_date
from vivace.http._errors import InvalidCookie
from vivace.http._tokens import is_token

__all__ = ["format_set_cookie", "parse_cookie_header"]

# RFC 6265 section 4.1.1: cookie-octet = %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E
_COOKIE_OCTETS = frozenset(b"!#$%&'()*+-./0123456789:<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]^_`")
_COOKIE_OCTETS |= frozenset(b"abcdefghijklmnopqrstuvwxyz{|}~")
# Attribute values (Path, Domain): any CHAR except CTLs and ";" (RFC 6265 section 4.1.1).
_ATTRIBUTE = re.compile(r"[^\x00-\x1f\x7f;]*")
_OCTAL_ESCAPE = re.compile(r"\\([0-3][0-7][0-7])|\\(.)", re.DOTALL)


def _quote(value: str) -> str:
    raw = value.encode("utf-8")
    if all(b in _COOKIE_OCTETS for b in raw):
        return value
    # Browsers split cookies on ";" even inside quotes, so every byte outside cookie-octet
    # (space, ",", ";", controls, non-ASCII) is escaped, never written raw.
    out = []
    for b in raw:
        if b == 0x22 or b == 0x5C:  # '"' and '\\' are escaped with a backslash
            out.append("\\" + chr(b))
        elif b in _COOKIE_OCTETS:
            out.append(chr(b))
        else:
            out.append(f"\\{b:03o}")
    return '"' + "".join(out) + '"'


def _unquote(value: str) -> str:
    if len(value) < 2 or value[0] != '"' or value[-1] != '"':
        return value
    inner = value[1:-1]
    if "\\" not in inner:
        return inner
    data = bytearray()
    pos = 0
    for match in _OCTAL_ESCAPE.finditer(inner):
        data += inner[pos : match.start()].encode("utf-8", "surrogateescape")
        octal, char = match.groups()
        data += bytes([int(octal, 8)]) if octal else char.encode("utf-8", "surrogateescape")
        pos = match.end()
    data += inner[pos:].encode("utf-8", "surrogateescape")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def parse_cookie_header(header: str) -> dict[str, str]:
    """Parse a ``Cookie`` request header into ``{name: value}``.

    Malformed pairs are skipped; a name sent twice keeps its first value (browsers send the
    cookie with the most specific path first, RFC 6265 section 5.4)::

        >>> parse_cookie_header('session=abc; theme="dark mode"; junk; a=1; a=2')
        {'session': 'abc', 'theme': 'dark mode', 'a': '1'}
    """
    cookies: dict[str, str] = {}
    for chunk in header.split(";"):
        name, sep, value = chunk.partition("=")
        if not sep:
            continue
        name = name.strip()
        if not name or name in cookies or not is_token(name):
            continue
        cookies[name] = _unquote(value.strip())
    return cookies


def _attribute(name: str, value: str) -> str:
    if _ATTRIBUTE.fullmatch(value) is None:
        raise InvalidCookie(f"cookie {name} attribute {value!r} holds ';' or a control character")
    return value


def format_set_cookie(
    name: str,
    value: str = "",
    *,
    max_age: int | None = None,
    expires: datetime | int | str | None = None,
    path: str | None = "/",
    domain: str | None = None,
    secure: bool = False,
    httponly: bool = False,
    samesite: Literal["lax", "strict", "none"] | None = "lax",
    partitioned: bool = False,
) -> str:
    """Build the value of a ``Set-Cookie`` header (RFC 6265 section 4.1).

    ``expires`` may be a datetime, a number of seconds from now, or a preformatted date::

        >>> format_set_cookie("session", "abc", max_age=3600, httponly=True, secure=True)
        'session=abc; HttpOnly; Max-Age=3600; Path=/; SameSite=lax; Secure'
        >>> format_set_cookie("bad;name", "x")
        Traceback (most recent call last):
            ...
        vivace.http._errors.InvalidCookie: invalid cookie name 'bad;name'
    """
    if not is_token(name):
        raise InvalidCookie(f"invalid cookie name {name!r}", name=name)
    parts = [f"{name}={_quote(value)}"]
    if expires is not None:
        if isinstance(expires, datetime):
            expires = format_http_date(expires.timestamp())
        elif isinstance(expires, int):
            expires = format_http_date(time.time() + expires)
        parts.append(f"Expires={_attribute(name, expires)}")
    if httponly:
        parts.append("HttpOnly")
    if max_age is not None:
        parts.append(f"Max-Age={int(max_age)}")
    if domain is not None:
        parts.append(f"Domain={_attribute(name, domain)}")
    if partitioned:
        parts.append("Partitioned")
    if path is not None:
        parts.append(f"Path={_attribute(name, path)}")
    if samesite is not None:
        if samesite.lower() not in ("lax", "strict", "none"):
            raise InvalidCookie(f"samesite must be 'lax', 'strict' or 'none', not {samesite!r}")
        parts.append(f"SameSite={samesite.lower()}")
    if secure:
        parts.append("Secure")
    return "; ".join(parts)
