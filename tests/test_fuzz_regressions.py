"""What the fuzzers found (fuzz/targets.py), each pinned by the input that found it.

Most are one mistake in several places: ``str.isdigit()`` is true for digits of other
scripts and for superscripts ("\\xb2", "\\xb9" in the latin-1 text of a header), which
``int()`` refuses, so a guarded conversion raised ``ValueError`` from a header.
"""

from __future__ import annotations

import ipaddress

import pytest

from tests.server.conftest import Harness, parse_responses, text_app
from vivace.cache import ResponseCache
from vivace.client._exceptions import RemoteProtocolError
from vivace.client._http11 import ResponseReader
from vivace.client._models import host_header
from vivace.http import URL, InvalidURL, parse_http_date, parse_set_cookie
from vivace.server._proxy import resolve_proxy
from vivace.stores import MemoryStore
from vivace.web._broadcast_postgres import PostgresBackend
from vivace.web._fileresponse import parse_range_header

TRUST_ALL = (True, (), frozenset[str]())


def test_forwarded_port_with_a_superscript_digit() -> None:
    # proxy_headers: for="[2001:db8:cafe::17]:\xb24711" raised ValueError in the request path.
    header = b'for="[2001:db8:cafe::17]:\xb24711"'
    assert resolve_proxy([(b"forwarded", header)], TRUST_ALL) == (("2001:db8:cafe::17", 0), None)
    trust = (False, (ipaddress.ip_network("10.0.0.0/8"),), frozenset[str]())
    assert resolve_proxy([(b"forwarded", b"for=1.2.3.4:\xb9")], trust) == (("1.2.3.4", 0), None)


async def test_forwarded_superscript_port_through_the_server() -> None:
    h = Harness(text_app, proxy_headers=True, forwarded_allow_ips="*")
    await h.send(b"GET / HTTP/1.1\r\nHost: a\r\nForwarded: for=1.2.3.4:\xb2\r\n\r\n")
    assert (await h.response()).status == 200
    await h.close()


def test_http_dates_with_superscript_digits_are_malformed() -> None:
    # range_conditional: "08:4\xb9:37" raised ValueError out of parse_http_date.
    assert parse_http_date("Sun, 06 Nov 1994 08:4\xb9:37 GMT") is None
    assert parse_http_date("Sun, 0\xb2 Nov 1994 08:49:37 GMT") is None
    assert parse_http_date("Sunday, 06-Nov-9\xb3 08:49:37 GMT") is None
    assert parse_http_date("Sun Nov  6 08:49:37 199\xb9") is None
    assert parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT") == 784111777


def test_set_cookie_max_age_that_int_refuses_is_ignored() -> None:
    for value in ("\xb9", "--5", "-", "-\xb2", ""):
        cookie = parse_set_cookie(f"a=b; Max-Age={value}", now=100.0)
        assert cookie is not None and cookie.expires is None, value
    assert parse_set_cookie("a=b; Max-Age=-5", now=100.0).expires == 0.0  # type: ignore[union-attr]


def test_set_cookie_unknown_samesite_is_ignored() -> None:
    # cookies: "SameSite=Laxx" was kept as "laxx" (RFC 6265bis 5.6.7: ignore the attribute).
    assert parse_set_cookie("a=b; SameSite=Laxx").samesite is None  # type: ignore[union-attr]
    assert parse_set_cookie("a=b; SameSite=STRICT").samesite == "strict"  # type: ignore[union-attr]


@pytest.mark.parametrize("status", [b"004", b"000", b"099"])
def test_client_refuses_a_status_below_100(status: bytes) -> None:
    # http11_client: llhttp reads any three digits; "HTTP/1.1 004" completed a response.
    reader = ResponseReader()
    reader.start()
    with pytest.raises(RemoteProtocolError, match="invalid status code"):
        reader.feed(b"HTTP/1.1 " + status + b" No Content\r\n\r\n")


def test_range_on_an_empty_representation_is_ignored() -> None:
    # range_conditional: "bytes=-100" on 0 bytes gave the range (0, 0): "bytes 0--1/0".
    assert parse_range_header("bytes=-100", 0) is None
    assert parse_range_header("bytes=0-", 0) is None
    assert parse_range_header("bytes=-100", 10) == [(0, 10)]


def test_conversions_elsewhere_refuse_superscripts() -> None:
    # The same isdigit() guard in the client, the response cache and the broadcast.
    with pytest.raises(InvalidURL, match="invalid port"):
        host_header(URL("http://example.com:\xb2/"))  # was UnicodeEncodeError
    assert host_header(URL("http://example.com:80/")) == b"example.com"
    cache = ResponseCache(MemoryStore(), ttl=7)
    scope = {"type": "http", "method": "GET"}
    assert cache.ttl_for(scope, 200, [(b"cache-control", b"max-age=\xb9")]) == 7
    backend = PostgresBackend("postgresql://127.0.0.1/test")
    assert backend.event_key("\xb9") is None
    assert backend.event_key("12") == (12,)


async def test_no_error_response_after_a_response_that_closed() -> None:
    # http11_server: a request that ends the connection (HTTP/1.0 without keep-alive),
    # then bytes the parser refuses: the 400 was written after the transport was closed.
    h = Harness(text_app)
    await h.send(b"GET / HTTP/1.0\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n")
    await h.closed()
    assert [r.status for r in parse_responses(h.transport.data)] == [200]
