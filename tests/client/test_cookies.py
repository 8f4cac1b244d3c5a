"""The cookie jar: RFC 6265 domain, path, expiry and secure rules."""

from __future__ import annotations

import pytest

from vivace.client import Cookies
from vivace.http import URL


def test_host_only_and_domain_cookies() -> None:
    jar = Cookies()
    jar.extract(URL("http://www.example.com/"), ["host=1", "dom=2; Domain=example.com"])
    assert jar.header_for(URL("http://www.example.com/")) == "host=1; dom=2"
    assert jar.header_for(URL("http://sub.www.example.com/")) == "dom=2"
    assert jar.header_for(URL("http://example.com/")) == "dom=2"
    assert jar.header_for(URL("http://other.com/")) is None


def test_rejected_domains() -> None:
    jar = Cookies()
    jar.extract(
        URL("http://www.example.com/"),
        ["a=1; Domain=other.com", "b=2; Domain=com", "c", "=x", "d=4; Domain=www.example.com"],
    )
    assert list(jar) == ["d"]
    ip = Cookies()
    ip.extract(URL("http://10.0.0.1/"), ["a=1; Domain=0.0.1"])
    assert len(ip) == 0
    ip.extract(URL("http://localhost/"), ["a=1; Domain=localhost"])
    assert ip.header_for(URL("http://localhost/")) == "a=1"


def test_paths_expiry_secure() -> None:
    jar = Cookies()
    url = URL("https://h.test/app/page")
    jar.extract(
        url,
        [
            "default=1",
            "root=2; Path=/",
            "deep=3; Path=/app/deeper",
            "gone=4; Max-Age=0",
            "old=5; Expires=Wed, 09 Jun 2001 10:18:14 GMT",
            "sec=6; Secure; Path=/",
            "bad=7; Max-Age=abc",
        ],
    )
    assert jar.header_for(URL("https://h.test/app/page")) == "default=1; bad=7; root=2; sec=6"
    assert jar.header_for(URL("http://h.test/app")) == "default=1; bad=7; root=2"
    assert jar.header_for(URL("https://h.test/application")) == "root=2; sec=6"
    assert jar.header_for(URL("https://h.test/app/deeper/x")) == (
        "deep=3; default=1; bad=7; root=2; sec=6"
    )
    jar.extract(url, ["root=gone; Path=/; Max-Age=-1"])
    assert "root" not in jar


def test_mapping_api() -> None:
    jar = Cookies([("a", "1")])
    jar["b"] = "2"
    jar.set("a", "3", domain=".example.com", path="/x")
    assert jar.get("a") == "1" and jar.get("a", domain="example.com") == "3"
    assert jar.get("zzz", "dflt") == "dflt"
    assert len(jar) == 2 and sorted(jar) == ["a", "b"] and bool(jar)
    assert "for example.com/x" in repr(jar) and "for */" in repr(jar)
    jar.delete("a", domain="example.com")
    assert jar.get("a") == "1"
    del jar["a"]
    with pytest.raises(KeyError):
        del jar["a"]
    with pytest.raises(KeyError):
        jar["a"]
    other = Cookies(jar)
    assert dict(other) == {"b": "2"}
    jar.set("c", "3", domain="d.test")
    jar.clear(domain="d.test")
    assert "c" not in jar
    jar.clear()
    assert not jar
    assert jar.header_for(URL("http://h.test/"), {"x": "1"}) == "x=1"


def test_default_path_rules() -> None:
    jar = Cookies()
    jar.extract(URL("http://h.test/a/b/c"), ["x=1", "y=2; Path=relative"])
    assert jar.header_for(URL("http://h.test/a/b/z")) == "x=1; y=2"
    assert jar.header_for(URL("http://h.test/a/")) is None
    top = Cookies()
    top.extract(URL("http://h.test/page"), ["t=1"])
    assert top.header_for(URL("http://h.test/")) == "t=1"
    replaced = Cookies()
    replaced.extract(URL("http://h.test/"), ["a=1; Path=/"])
    replaced.extract(URL("http://h.test/"), ["a=2; Path=/"])
    assert replaced.header_for(URL("http://h.test/")) == "a=2"
