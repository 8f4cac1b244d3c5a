"""Hostile input: deep, huge, out of range, malformed. A ValidationError in bounded time."""

from __future__ import annotations

import time
from typing import Any

import pytest

from vivace.schema import Field, Schema, ValidationError, Validator, validate, validate_json

from .models import Directory, User


class Node(Schema):
    children: list[Node] = Field(default_factory=list)


def bounded(fn: Any, *args: Any, limit: float = 5.0) -> list[dict[str, Any]]:
    # CPU time, not wall-clock: the bound is on the work an input causes, which other
    # processes on a loaded machine do not change (wall-clock took 38 s there once).
    start = time.process_time()
    with pytest.raises(ValidationError) as exc:
        fn(*args)
    assert time.process_time() - start < limit
    return exc.value.errors()


def test_100k_nested_arrays() -> None:
    doc = b"[" * 100_000 + b"]" * 100_000
    for tp in (Any, list[Any], list[list[int]], User, Node):
        got = bounded(Validator(tp).validate_json, doc)
        assert got[0]["code"] in ("invalid_json", "too_deep", "type")


def test_100k_nested_objects_of_a_recursive_schema() -> None:
    doc = b'{"children":[' * 100_000 + b"]}" * 100_000
    got = bounded(Node.validate_json, doc)
    assert got[0]["code"] in ("invalid_json", "too_deep")
    # The same depth as Python data: the engines stop with a ValidationError.
    data: dict[str, Any] = {"children": []}
    for _ in range(100_000):
        data = {"children": [data]}
    got = bounded(Node.validate, data)
    assert got[0]["code"] == "too_deep"
    bad = {"children": [data, 1]}
    assert bounded(Node.validate, bad)[0]["code"] == "too_deep"
    assert bounded(lambda d: Node.validate(d, mode="lax"), data)[0]["code"] == "too_deep"


def test_10mb_array() -> None:
    doc = b"[" + b"1," * 5_000_000 + b"1]"
    assert len(doc) > 10_000_000
    start = time.process_time()
    assert len(validate_json(list[int], doc)) == 5_000_001
    assert time.process_time() - start < 10
    # One bad item at the end of 10 MB: reported with its index.
    bad = doc[:-2] + b'"x"]'
    got = bounded(validate_json, list[int], bad, limit=20)
    assert got == [{"loc": (5_000_000,), "code": "type", "msg": "Expected `int`, got `str`"}]


@pytest.mark.parametrize(
    "doc",
    [b"1e999999", b"-1e999999", b"[1e400]", b"1" * 100_000, b"-" + b"9" * 100_000],
)
def test_numbers_out_of_range(doc: bytes) -> None:
    for tp in (float, int, Any, list[float]):
        got = bounded(Validator(tp).validate_json, doc)
        assert got[0]["code"] in ("invalid_json", "type", "invalid")


def test_huge_integer_as_python_data_and_lax_text() -> None:
    assert validate(int, 10**5000) == 10**5000  # Python data: ints are unbounded
    assert bounded(lambda: validate(float, 10**5000))[0]["code"] == "invalid"
    assert bounded(lambda: validate(int, "9" * 100_000, mode="lax"))[0]["code"] == "invalid"


@pytest.mark.parametrize("doc", [b'"\xff"', b"\xc3\x28", b'{"name": "\xed\xa0\x80"}'])
def test_invalid_utf8(doc: bytes) -> None:
    got = bounded(User.validate_json, doc)
    assert got[0]["code"] == "invalid_json"


@pytest.mark.parametrize("doc", [b"NaN", b"Infinity", b"-Infinity", b"[NaN]", b'{"a": NaN}'])
def test_nan_and_infinity_are_not_json(doc: bytes) -> None:
    for tp in (float, Any, list[float], dict[str, float]):
        got = bounded(Validator(tp).validate_json, doc)
        assert got[0]["code"] == "invalid_json"


def test_duplicate_keys() -> None:
    # RFC 8259 section 4 leaves duplicate names to the parser; by default the last value
    # wins (as in JavaScript). Both engines agree, so what is validated is what is used.
    assert User.validate_json(b'{"name": "a", "name": "b"}').name == "b"
    got = bounded(User.validate_json, b'{"name": "a", "age": 1, "age": "x"}')
    assert got == [{"loc": ("age",), "code": "type", "msg": "Expected `int`, got `str`"}]
    # On request, a repeated key anywhere is refused.
    doc = b'{"name": "a", "address": {"street": "x", "street": "y"}}'
    got = bounded(lambda: User.validate_json(doc, duplicate_keys="error"))
    assert got == [
        {"loc": (), "code": "duplicate_key", "msg": "Duplicate key 'street' in an object"}
    ]
    assert User.validate_json(b'{"name": "a"}', duplicate_keys="error").name == "a"
    v = Validator(dict[str, int])
    assert bounded(lambda: v.validate_json(bytearray(b'{"a": 1, "a": 1}'), duplicate_keys="error"))
    # What the stdlib scanner cannot read is left to the decoder, which says why.
    for bad in (b"{", b"[" * 100_000):
        got = bounded(lambda b=bad: User.validate_json(b, duplicate_keys="error"))
        assert got[0]["code"] in ("invalid_json", "too_deep")
    with pytest.raises(ValueError, match="duplicate_keys"):
        User.validate_json(b"{}", duplicate_keys="first")  # type: ignore[arg-type]


async def test_duplicate_keys_async() -> None:
    with pytest.raises(ValidationError):
        await User.avalidate_json(b'{"name": "a", "name": "b"}', duplicate_keys="error")


def test_wrong_type_at_every_level() -> None:
    doc = {
        "type": "directory",
        "name": 1,
        "created_by": 2,
        "created_at": 3,
        "contents": [
            {
                "type": "file",
                "name": [],
                "created_by": {},
                "created_at": 1.5,
                "nbytes": "x",
                "permissions": 4,
            },
            {
                "type": "directory",
                "name": None,
                "created_by": True,
                "created_at": [],
                "contents": {},
            },
            "nope",
        ],
    }
    got = bounded(Directory.validate, doc)
    assert len(got) == 13  # 3 at the root, 5 in the file, 4 in the directory, 1 item
    assert {e["code"] for e in got} <= {"type", "union"}
