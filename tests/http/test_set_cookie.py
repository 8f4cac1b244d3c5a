"""Reading Set-Cookie headers as a user agent (RFC 6265 section 5.2) and cookie dates."""

from __future__ import annotations

from vivace.http import SetCookie, format_set_cookie, parse_cookie_date, parse_set_cookie


def test_round_trip_with_format_set_cookie() -> None:
    header = format_set_cookie(
        "sid",
        "a b",
        max_age=10,
        path="/p",
        domain="example.com",
        secure=True,
        httponly=True,
        samesite="strict",
        partitioned=True,
    )
    cookie = parse_set_cookie(header, now=100.0)
    assert cookie == SetCookie(
        name="sid",
        value='"a\\040b"',
        expires=110.0,
        domain="example.com",
        path="/p",
        secure=True,
        httponly=True,
        samesite="strict",
        partitioned=True,
    )


def test_lenient_parsing() -> None:
    assert parse_set_cookie("a=") == SetCookie("a", "")
    assert parse_set_cookie(" a = b ;;; Unknown=1; Domain=; Path=rel") == SetCookie("a", "b")
    assert parse_set_cookie("=b") is None
    assert parse_set_cookie("a=1; Expires=garbage").expires is None  # type: ignore[union-attr]
    c = parse_set_cookie("a=1; Max-Age=5; Expires=Wed, 09 Jun 2021 10:18:14 GMT", now=0.0)
    assert c is not None and c.expires == 5.0  # Max-Age wins
    c = parse_set_cookie("a=1; Max-Age=-5")
    assert c is not None and c.expires == 0.0
    c = parse_set_cookie("a=1; Max-Age=1x; SameSite=")
    assert c is not None and c.expires is None and c.samesite is None
    c = parse_set_cookie("a=1; Max-Age=10")
    assert c is not None and c.expires is not None and c.expires > 1e9


def test_cookie_dates() -> None:
    base = 1623233894.0
    assert parse_cookie_date("Wed, 09 Jun 2021 10:18:14 GMT") == base
    assert parse_cookie_date("09 Jun 2021 10:18:14") == base
    assert parse_cookie_date("Wednesday, 09-Jun-2021 10:18:14 GMT") == base
    assert parse_cookie_date("Thu, 01 Jan 70 00:00:00 GMT") == 0.0
    assert parse_cookie_date("Thu, 01 Jan 1970 24:00:00 GMT") is None
    assert parse_cookie_date("Thu, 32 Jan 1970 00:00:00 GMT") is None
    assert parse_cookie_date("Thu, 01 Jan 1600 00:00:00 GMT") is None
    assert parse_cookie_date("Thu, 01 Xyz 1970 00:00:00 GMT") is None
