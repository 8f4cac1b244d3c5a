from __future__ import annotations

from datetime import UTC, datetime
from http.cookies import SimpleCookie

import pytest

from vivace.http import InvalidCookie, format_set_cookie, parse_cookie_header


def test_parse_simple_and_quoted() -> None:
    assert parse_cookie_header("a=1; b=two") == {"a": "1", "b": "two"}
    assert parse_cookie_header('q="with space"') == {"q": "with space"}
    assert parse_cookie_header("e=") == {"e": ""}
    assert parse_cookie_header("") == {}


@pytest.mark.parametrize(
    "header",
    ["junk", ";;;", "=novalue", "bad name=1", "\x00=1", "a b c", " ; = ; "],
)
def test_parse_skips_malformed_pairs(header: str) -> None:
    assert parse_cookie_header(header + "; ok=1") == {"ok": "1"}


def test_parse_first_value_wins() -> None:
    assert parse_cookie_header("a=1; a=2") == {"a": "1"}


def test_format_defaults_and_attributes() -> None:
    assert format_set_cookie("a", "1") == "a=1; Path=/; SameSite=lax"
    value = format_set_cookie(
        "s",
        "v",
        max_age=10,
        expires=datetime(1994, 11, 6, 8, 49, 37, tzinfo=UTC),
        domain="example.com",
        path="/app",
        secure=True,
        httponly=True,
        samesite="strict",
        partitioned=True,
    )
    assert value == (
        "s=v; Expires=Sun, 06 Nov 1994 08:49:37 GMT; HttpOnly; Max-Age=10; "
        "Domain=example.com; Partitioned; Path=/app; SameSite=strict; Secure"
    )
    assert format_set_cookie("a", path=None, samesite=None) == "a="
    assert "Expires=Sun, 06 Nov 1994" in format_set_cookie("a", expires="Sun, 06 Nov 1994")
    assert "Expires=" in format_set_cookie("a", expires=60)


@pytest.mark.parametrize(
    "value", ["with space", 'quote"d', "semi;colon", "comma,", "back\\slash", "café", "\x01"]
)
def test_values_round_trip_and_stay_one_header(value: str) -> None:
    header = format_set_cookie("k", value, path=None, samesite=None)
    assert "\r" not in header and "\n" not in header
    assert header.count(";") == 0 or header.startswith('k="')
    cookie_part = header.partition("=")[2]
    assert parse_cookie_header(f"k={cookie_part}") == {"k": value}


def test_quoted_values_are_readable_by_http_cookies() -> None:
    header = format_set_cookie("k", "a b;c", path=None, samesite=None)
    jar: SimpleCookie = SimpleCookie()
    jar.load(header)
    assert jar["k"].value == "a b;c"


def test_unquote_tolerates_bad_escapes() -> None:
    assert parse_cookie_header('k="\\q\\377"') == {"k": "q\xff"}
    assert parse_cookie_header('k="plain"') == {"k": "plain"}


@pytest.mark.parametrize("name", ["", "a b", "a;b", "a=b", "a\r\n", "é"])
def test_bad_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidCookie):
        format_set_cookie(name, "v")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"path": "/a; Domain=evil"},
        {"domain": "x\r\nSet-Cookie: a=b"},
        {"expires": "Sun;"},
        {"samesite": "sometimes"},
    ],
)
def test_attribute_injection_is_refused(kwargs: dict[str, str]) -> None:
    with pytest.raises(InvalidCookie):
        format_set_cookie("a", "1", **kwargs)  # type: ignore[arg-type]
