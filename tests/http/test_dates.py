from __future__ import annotations

import time

import pytest

from vivace.http import _dates, format_http_date, http_date_now, parse_http_date


def test_format() -> None:
    assert format_http_date(784111777) == "Sun, 06 Nov 1994 08:49:37 GMT"
    assert format_http_date(0) == "Thu, 01 Jan 1970 00:00:00 GMT"


@pytest.mark.parametrize(
    "text",
    [
        "Sun, 06 Nov 1994 08:49:37 GMT",
        "sun, 06 nov 1994 08:49:37 GMT",
        "Sunday, 06-Nov-94 08:49:37 GMT",
        "Sun Nov  6 08:49:37 1994",
    ],
)
def test_parse_all_three_formats(text: str) -> None:
    assert parse_http_date(text) == 784111777.0


def test_rfc850_two_digit_year_is_not_far_future() -> None:
    this_year = time.gmtime().tm_year
    future = (this_year + 60) % 100
    parsed = parse_http_date(f"Monday, 01-Jan-{future:02d} 00:00:00 GMT")
    assert parsed is not None
    assert time.gmtime(parsed).tm_year <= this_year + 50


@pytest.mark.parametrize(
    "text",
    [
        "",
        "yesterday",
        "Sun, 06 Nov 94 08:49:37 GMT",
        "Sun, 06 Foo 1994 08:49:37 GMT",
        "Sun, 32 Nov 1994 08:49:37 GMT",
        "Sun, 00 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 25:49:37 GMT",
        "Sun, 06 Nov 1994 08:49 GMT",
        "Sun, 06 Nov 1994 08:xx:37 GMT",
        "Sun, 06 Nov 1994 08:49:37 PST",
        "Funday, 06-Nov-94 08:49:37 GMT",
        "Sunday, 06-Nov-1994 08:49:37 GMT",
        "Sunday, 06-Nov 08:49:37 GMT",
        "Sun Nov  6 08:49:37 94",
        "Sun Nov xx 08:49:37 1994",
        "\x00" * 50,
    ],
)
def test_parse_rejects_malformed(text: str) -> None:
    assert parse_http_date(text) is None


def test_date_now_is_cached_per_second(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.2]
    monkeypatch.setattr(_dates.time, "time", lambda: clock[0])
    monkeypatch.setattr(_dates, "_cached_second", -1)
    first = http_date_now()
    assert first == format_http_date(1000).encode()
    clock[0] = 1000.9
    assert http_date_now() is first
    clock[0] = 1001.0
    assert http_date_now() == format_http_date(1001).encode()
