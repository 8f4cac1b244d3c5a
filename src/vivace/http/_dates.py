"""HTTP dates (RFC 9110 section 5.6.7) and the per-second cached ``Date`` header value.

Every response carries a ``Date`` header; formatting one costs more than the rest of a
small response's head, so ``http_date_now()`` formats it at most once a second.
"""

from __future__ import annotations

import calendar
import time

__all__ = ["format_http_date", "http_date_now", "parse_http_date"]

_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTH_NUMBER = {name.lower(): i + 1 for i, name in enumerate(_MONTHS)}
_LONG_WEEKDAYS = frozenset(
    ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
)


def format_http_date(timestamp: float) -> str:
    """Format a POSIX timestamp as an IMF-fixdate: ``Sun, 06 Nov 1994 08:49:37 GMT``."""
    t = time.gmtime(timestamp)
    return (
        f"{_WEEKDAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year:04d} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT"
    )


def _digits(text: str) -> bool:
    # ASCII digits only: str.isdigit() also admits "\xb9" (superscript one, in the latin-1
    # text of a header), which int() refuses. Found by fuzz/targets.py range_conditional.
    return text.isascii() and text.isdigit()


def _clock(text: str) -> tuple[int, int, int] | None:
    parts = text.split(":")
    if len(parts) != 3 or not all(len(p) == 2 and _digits(p) for p in parts):
        return None
    hour, minute, second = (int(p) for p in parts)
    if hour > 23 or minute > 59 or second > 60:
        return None
    return hour, minute, second


def parse_http_date(value: str) -> float | None:
    """Parse an HTTP date in any of the three formats RFC 9110 requires recipients to accept.

    Returns a POSIX timestamp, or ``None`` for anything malformed (a bad date in a request
    header is ignored, never an error)::

        >>> parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT")    # IMF-fixdate
        784111777.0
        >>> parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT")   # obsolete RFC 850
        784111777.0
        >>> parse_http_date("Sun Nov  6 08:49:37 1994")         # obsolete asctime
        784111777.0
        >>> parse_http_date("yesterday") is None
        True
    """
    fields = value.split()
    if len(fields) == 6 and fields[0].endswith(",") and fields[5] == "GMT":
        # IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
        day, month, year, clock = fields[1], fields[2], fields[3], fields[4]
        if len(year) != 4:
            return None
    elif len(fields) == 4 and fields[0].endswith(",") and fields[3] == "GMT":
        # RFC 850: Sunday, 06-Nov-94 08:49:37 GMT (RFC 9110: a two-digit year that looks
        # more than 50 years in the future is in the past century).
        if fields[0][:-1].lower() not in _LONG_WEEKDAYS:
            return None
        date_parts = fields[1].split("-")
        if len(date_parts) != 3 or len(date_parts[2]) != 2 or not _digits(date_parts[2]):
            return None
        day, month, short_year = date_parts
        this_year = time.gmtime().tm_year
        year_number = this_year - this_year % 100 + int(short_year)
        if year_number > this_year + 50:
            year_number -= 100
        year, clock = str(year_number), fields[2]
    elif len(fields) == 5:
        # asctime: Sun Nov  6 08:49:37 1994
        month, day, clock, year = fields[1], fields[2], fields[3], fields[4]
        if len(year) != 4:
            return None
    else:
        return None
    month_number = _MONTH_NUMBER.get(month.lower())
    hms = _clock(clock)
    if month_number is None or hms is None or not _digits(day) or not _digits(year):
        return None
    day_number = int(day)
    if not 1 <= day_number <= 31:
        return None
    try:
        return float(calendar.timegm((int(year), month_number, day_number, *hms, 0, 0, 0)))
    except (ValueError, OverflowError):  # pragma: no cover - timegm accepts any int tuple
        return None


_cached_second = -1
_cached_value = b""


def http_date_now() -> bytes:
    """The current time as an IMF-fixdate, as bytes, recomputed at most once a second."""
    global _cached_second, _cached_value
    now = int(time.time())
    if now != _cached_second:
        _cached_value = format_http_date(now).encode("ascii")
        _cached_second = now
    return _cached_value
