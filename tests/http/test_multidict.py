from __future__ import annotations

import pytest

from vivace.http import ImmutableMultiDict, MultiDict, QueryParams


def test_immutable_multidict_reads() -> None:
    d = ImmutableMultiDict([("a", "1"), ("b", "2"), ("a", "3")])
    assert d["a"] == "3"
    assert d.get("a") == "3"
    assert d.get("zz") is None
    assert d.get("zz", "x") == "x"
    assert d.getlist("a") == ["1", "3"]
    assert d.getlist("zz") == []
    assert list(d.keys()) == ["a", "b"]
    assert list(d.values()) == ["3", "2"]
    assert list(d.items()) == [("a", "3"), ("b", "2")]
    assert list(d) == ["a", "b"]
    assert "a" in d and "zz" not in d
    assert len(d) == 2
    assert repr(d) == "ImmutableMultiDict([('a', '1'), ('b', '2'), ('a', '3')])"
    with pytest.raises(KeyError):
        d["zz"]


def test_construction_forms_and_equality() -> None:
    base = ImmutableMultiDict([("a", "1")])
    assert ImmutableMultiDict(base) == base
    assert ImmutableMultiDict({"a": "1"}) == base
    assert ImmutableMultiDict(a="1") == base
    assert ImmutableMultiDict() == ImmutableMultiDict([])
    assert ImmutableMultiDict([("a", "1"), ("b", "2")]) == ImmutableMultiDict(
        [("b", "2"), ("a", "1")]
    )
    assert base != {"a": "1"}
    with pytest.raises(TypeError):
        hash(base)


def test_multidict_mutation() -> None:
    d: MultiDict[str, str] = MultiDict([("a", "1"), ("b", "2")])
    d.append("a", "3")
    assert d.getlist("a") == ["1", "3"]
    d["a"] = "9"
    assert d.multi_items() == [("b", "2"), ("a", "9")]
    del d["b"]
    assert d.multi_items() == [("a", "9")]
    assert d.pop("a") == "9"
    assert d.pop("a", "gone") == "gone"
    d.setlist("t", ["x", "y"])
    assert d.poplist("t") == ["x", "y"]
    assert d.poplist("t") == []
    assert d.setdefault("k", "v") == "v"
    assert d.setdefault("k", "w") == "v"
    d.setlist("k", [])
    assert "k" not in d
    d.update([("m", "1"), ("m", "2")], n="3")
    assert d.getlist("m") == ["1", "2"] and d["n"] == "3"
    d.update({"m": "0"})
    assert d.getlist("m") == ["0"]
    d.clear()
    assert len(d) == 0 and d.multi_items() == []


def test_query_params_parsing() -> None:
    q = QueryParams("a=1&b=&a=3&c")
    assert q.getlist("a") == ["1", "3"]
    assert q["b"] == ""
    assert q["c"] == ""
    assert QueryParams(b"x=%C3%A9")["x"] == "é"
    assert QueryParams(b"x=%C3%A9")["x"] == "é"
    assert QueryParams("x=é".encode())["x"] == "é"
    assert QueryParams(b"x=\xff%FF")["x"] == "\ufffd\ufffd"
    assert QueryParams("x=%C3%A9")["x"] == "é"
    assert QueryParams("q=a+b")["q"] == "a b"
    assert QueryParams({"n": 1, "f": 2.5})["n"] == "1"
    assert QueryParams([("a", "1")], b="2").multi_items() == [("a", "1"), ("b", "2")]
    assert QueryParams(None).multi_items() == []


def test_query_params_str_and_repr() -> None:
    q = QueryParams([("q", "café & tea"), ("q", "x")])
    assert str(q) == "q=caf%C3%A9+%26+tea&q=x"
    assert repr(q) == "QueryParams('q=caf%C3%A9+%26+tea&q=x')"
    assert QueryParams(str(q)) == q


def test_query_params_hostile_input_does_not_crash() -> None:
    q = QueryParams("%%%&=&&==&a=%ZZ&" + "k=v&" * 1000)
    assert q["a"] == "%ZZ"
    assert len(q.getlist("k")) == 1000
