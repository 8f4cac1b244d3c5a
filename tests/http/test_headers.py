from __future__ import annotations

import pytest

from vivace.http import (
    Headers,
    InvalidHeader,
    MutableHeaders,
    check_header_name,
    is_field_value,
    is_token,
)


def test_lookup_is_case_insensitive_and_keeps_duplicates() -> None:
    h = Headers([("Content-Type", "text/html"), ("X-A", "1"), (b"x-a", b"2")])
    assert h["content-type"] == "text/html"
    assert h["CONTENT-TYPE"] == "text/html"
    assert h.get("x-a") == "1"
    assert h.getlist("X-A") == ["1", "2"]
    assert h.getlist("missing") == []
    assert h.get("missing") is None
    assert h.get("missing", "d") == "d"
    assert "x-a" in h and "X-A" in h and "nope" not in h
    assert 3 not in h
    assert len(h) == 3
    assert list(h) == ["content-type", "x-a", "x-a"]
    assert h.keys() == ["content-type", "x-a", "x-a"]
    assert h.values() == ["text/html", "1", "2"]
    assert h.items() == [("content-type", "text/html"), ("x-a", "1"), ("x-a", "2")]
    assert h.raw == [(b"content-type", b"text/html"), (b"x-a", b"1"), (b"x-a", b"2")]
    with pytest.raises(KeyError):
        h["missing"]


def test_construct_from_mapping_raw_and_scope() -> None:
    assert Headers({"A": "1"}).raw == [(b"a", b"1")]
    raw = [(b"host", b"example.com")]
    assert Headers(raw=raw).raw is raw
    assert Headers(scope={"headers": raw})["host"] == "example.com"
    assert Headers(scope={"headers": tuple(raw)}).raw == raw
    assert Headers().raw == []
    with pytest.raises(TypeError):
        Headers({"a": "1"}, raw=raw)
    with pytest.raises(TypeError):
        Headers({"a": "1"}, scope={"headers": raw})
    with pytest.raises(TypeError):
        Headers(raw=raw, scope={"headers": raw})


def test_latin1_values_round_trip() -> None:
    h = Headers(raw=[(b"x-name", "caf\xe9".encode("latin-1"))])
    assert h["x-name"] == "caf\xe9"


def test_non_latin1_text_is_rejected() -> None:
    with pytest.raises(InvalidHeader):
        Headers({"x-name": "日本"})


def test_equality_ignores_order_and_repr() -> None:
    a = Headers([("a", "1"), ("b", "2")])
    b = Headers([("b", "2"), ("a", "1")])
    assert a == b
    assert a != Headers([("a", "1")])
    assert a != {"a": "1", "b": "2"}
    assert repr(a) == "Headers({'a': '1', 'b': '2'})"
    assert "raw=" in repr(Headers([("a", "1"), ("a", "2")]))
    with pytest.raises(TypeError):
        hash(a)


@pytest.mark.parametrize(
    "value",
    ["evil\r\nset-cookie: x=1", "a\nb", "a\rb", "nul\x00byte"],
)
def test_injection_in_values_is_refused(value: str) -> None:
    with pytest.raises(InvalidHeader):
        Headers({"x-a": value})
    h = MutableHeaders()
    with pytest.raises(InvalidHeader):
        h["x-a"] = value
    with pytest.raises(InvalidHeader):
        h.append("x-a", value)
    assert h.raw == []


@pytest.mark.parametrize("name", ["", "bad name", "x:y", "a\r\nb", "tab\t", "caf\xe9", "a(b)"])
def test_invalid_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidHeader):
        MutableHeaders()[name] = "1"


def test_check_header_name_accepts_tokens() -> None:
    assert check_header_name(b"x-custom_header.v1!#$%&'*+^`|~") == b"x-custom_header.v1!#$%&'*+^`|~"


def test_mutable_set_replaces_all_and_keeps_position() -> None:
    h = MutableHeaders([("a", "1"), ("b", "2"), ("a", "3")])
    h["A"] = "9"
    assert h.raw == [(b"a", b"9"), (b"b", b"2")]
    h["c"] = "new"
    assert h.raw[-1] == (b"c", b"new")


def test_mutable_delete_setdefault_update_append() -> None:
    h = MutableHeaders({"a": "1"})
    del h["A"]
    del h["missing"]
    assert h.raw == []
    assert h.setdefault("x", "1") == "1"
    assert h.setdefault("x", "2") == "1"
    h.update({"x": "3", "y": "4"}, content_type="text/plain")
    assert h["x"] == "3" and h["y"] == "4" and h["content-type"] == "text/plain"
    h.update([(b"z", b"5")])
    assert h["z"] == "5"
    h.extend([("set-cookie", "a=1"), (b"set-cookie", b"b=2")])
    assert h.getlist("set-cookie") == ["a=1", "b=2"]


def test_or_operators() -> None:
    h = MutableHeaders({"a": "1"})
    merged = h | {"b": "2"}
    assert merged["b"] == "2" and "b" not in h
    h |= {"c": "3"}
    assert h["c"] == "3"


def test_mutablecopy_is_independent() -> None:
    h = Headers({"a": "1"})
    m = h.mutablecopy()
    m["a"] = "2"
    assert h["a"] == "1" and m["a"] == "2"


def test_vary_header() -> None:
    h = MutableHeaders()
    h.add_vary_header("Origin")
    h.add_vary_header("origin")
    h.add_vary_header("Accept-Encoding")
    assert h["vary"] == "Origin, Accept-Encoding"
    star = MutableHeaders({"vary": "*"})
    star.add_vary_header("Origin")
    assert star["vary"] == "*"


@pytest.mark.parametrize("name", [b"x-ok", b"!#$%&'*+-.^_`|~09AZaz", "Content-Type"])
def test_one_token_rule_everywhere(name: str | bytes) -> None:
    # vivace.http.is_token is the rule Headers, the server, cookies and the client share.
    assert is_token(name)
    for bad in ("", "a b", "a:b", "a\r", "é", "(x)", "a,b", "a/b"):
        assert not is_token(bad) and not is_token(bad.encode("utf-8"))


def test_one_field_value_rule_everywhere() -> None:
    assert is_field_value(b"any\tvisible text, even \x7f and \xff")
    for bad in (b"a\rb", b"a\nb", b"a\x00b"):
        assert not is_field_value(bad)
