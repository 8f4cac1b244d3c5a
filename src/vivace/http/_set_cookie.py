"""Reading ``Set-Cookie`` response headers, as a user agent does (RFC 6265 section 5.2).

The server side writes cookies (``format_set_cookie``); a client reads them back with
``parse_set_cookie`` and stores them in its jar. Parsing follows the user-agent algorithm,
which is deliberately lenient: an attribute it does not understand is ignored, a bad
``Expires`` date is ignored, and only a line without a ``name=value`` pair is dropped.
The value is kept exactly as sent (quotes included), because it goes back to the server
unchanged in the ``Cookie`` header.
"""

from __future__ import annotations

import calendar
import re
import time
from dataclasses import dataclass

__all__ = ["SetCookie", "parse_cookie_date", "parse_set_cookie"]

# RFC 6265 section 5.1.1: delimiter = %x09 / %x20-2F / %x3B-40 / %x5B-60 / %x7B-7E
_DATE_TOKENS = re.compile(r"[^\x09\x20-\x2f\x3b-\x40\x5b-\x60\x7b-\x7e]+")
_TIME = re.compile(r"(\d{1,2}):(\d{1,2}):(\d{1,2})(?:\D.*)?")
_DAY = re.compile(r"(\d{1,2})(?:\D.*)?")
_YEAR = re.compile(r"(\d{2,4})(?:\D.*)?")
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


_SAMESITE = frozenset(("strict", "lax", "none"))


def parse_cookie_date(text: str) -> float | None:
    """Parse a cookie ``Expires`` date the way browsers do (RFC 6265 section 5.1.1).

    Accepts every date format servers actually send, not only the RFC 9110 ones::

        >>> parse_cookie_date("Wed, 09 Jun 2021 10:18:14 GMT")
        1623233894.0
        >>> parse_cookie_date("Wed, 09-Jun-2021 10:18:14 GMT")   # Netscape style
        1623233894.0
        >>> parse_cookie_date("Wed, 09-Jun-21 10:18:14 GMT")     # two-digit year
        1623233894.0
        >>> parse_cookie_date("tomorrow") is None
        True
    """
    found_time = found_day = found_month = found_year = False
    hour = minute = second = day = month = year = 0
    for token in _DATE_TOKENS.findall(text):
        if not found_time and (m := _TIME.fullmatch(token)):
            hour, minute, second = int(m[1]), int(m[2]), int(m[3])
            found_time = True
        elif not found_day and (m := _DAY.fullmatch(token)):
            day = int(m[1])
            found_day = True
        elif not found_month and token[:3].lower() in _MONTHS:
            month = _MONTHS.index(token[:3].lower()) + 1
            found_month = True
        elif not found_year and (m := _YEAR.fullmatch(token)):
            year = int(m[1])
            found_year = True
    if not (found_time and found_day and found_month and found_year):
        return None
    if 70 <= year <= 99:
        year += 1900
    elif 0 <= year <= 69:
        year += 2000
    if not 1 <= day <= 31 or year < 1601 or hour > 23 or minute > 59 or second > 59:
        return None
    return float(calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0)))


@dataclass(frozen=True, slots=True)
class SetCookie:
    """One ``Set-Cookie`` header, parsed. ``expires`` is a POSIX timestamp, already
    combining ``Max-Age`` (which wins, RFC 6265 section 5.3 step 3) and ``Expires``;
    ``domain`` is lower-cased without its leading dot; ``path`` is ``None`` when absent or
    not absolute (the jar then uses the request's default path)."""

    name: str
    value: str
    expires: float | None = None
    domain: str | None = None
    path: str | None = None
    secure: bool = False
    httponly: bool = False
    samesite: str | None = None
    partitioned: bool = False


def parse_set_cookie(header: str, now: float | None = None) -> SetCookie | None:
    """Parse a ``Set-Cookie`` value; ``None`` when a user agent must ignore it.

    >>> c = parse_set_cookie("sid=abc; Path=/app; Domain=.Example.com; Max-Age=60; Secure",
    ...                      now=1000.0)
    >>> c.name, c.value, c.path, c.domain, c.expires, c.secure
    ('sid', 'abc', '/app', 'example.com', 1060.0, True)
    >>> parse_set_cookie("no-equals-sign") is None
    True
    """
    pair, _, attributes = header.partition(";")
    name, sep, value = pair.partition("=")
    name, value = name.strip(" \t"), value.strip(" \t")
    if not sep or not name:
        return None
    expires: float | None = None
    max_age: float | None = None
    domain = path = samesite = None
    secure = httponly = partitioned = False
    for attribute in attributes.split(";") if attributes else ():
        key, _, val = attribute.partition("=")
        key, val = key.strip(" \t").lower(), val.strip(" \t")
        if key == "expires":
            parsed = parse_cookie_date(val)
            if parsed is not None:
                expires = parsed
        elif key == "max-age":
            digits = val[1:] if val[:1] == "-" else val
            # ASCII digits only: isdigit() admits superscripts, which int() refuses.
            if digits.isascii() and digits.isdigit():
                delta = int(val)
                base = time.time() if now is None else now
                max_age = 0.0 if delta <= 0 else base + delta
        elif key == "domain":
            if val:
                domain = val.lstrip(".").lower()
        elif key == "path":
            path = val if val.startswith("/") else None
        elif key == "secure":
            secure = True
        elif key == "httponly":
            httponly = True
        elif key == "samesite":
            # RFC 6265bis section 5.6.7: a value other than these three is ignored.
            samesite = val.lower() if val.lower() in _SAMESITE else None
        elif key == "partitioned":
            partitioned = True
    return SetCookie(
        name=name,
        value=value,
        expires=max_age if max_age is not None else expires,
        domain=domain,
        path=path,
        secure=secure,
        httponly=httponly,
        samesite=samesite,
        partitioned=partitioned,
    )
