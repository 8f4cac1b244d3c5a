"""Errors: every one reported, with its location, code and message, in one ValidationError."""

from __future__ import annotations

import json
import pickle
from typing import Annotated, Any, Literal

import msgspec
import pytest

from vivace.schema import ErrorDetail, Field, Schema, ValidationError, Validator, validate

from .models import Directory, User, tree_json


def errors_of(fn: Any, *args: Any) -> list[dict[str, Any]]:
    with pytest.raises(ValidationError) as exc:
        fn(*args)
    return exc.value.errors()


def test_every_error_at_once_with_paths() -> None:
    doc = tree_json(2)
    doc["name"] = 5
    inner = doc["contents"][0]  # type: ignore[index]
    inner["contents"][0]["nbytes"] = -1
    inner["contents"][0]["permissions"] = "ALL"
    del inner["created_by"]
    doc["contents"].append({"type": "link"})  # type: ignore[attr-defined]
    doc["contents"].append(7)  # type: ignore[attr-defined]
    expected = [
        (("name",), "type"),
        (("contents", 0, "created_by"), "missing"),
        (("contents", 0, "contents", 0, "nbytes"), "ge"),
        (("contents", 0, "contents", 0, "permissions"), "enum"),
        (("contents", 2, "type"), "tag"),
        (("contents", 3), "union"),
    ]
    for run in (
        lambda: Directory.validate(doc),
        lambda: Directory.validate_json(msgspec.json.encode(doc)),
    ):
        got = errors_of(run)
        assert [(e["loc"], e["code"]) for e in got] == expected
        assert all(isinstance(e["msg"], str) and e["msg"] for e in got)


def test_fifty_errors_all_reported() -> None:
    doc = tree_json(1)
    doc["contents"] = [
        {
            "type": "file",
            "name": f"f{i}",
            "created_by": "x",
            "created_at": "2020-01-01T00:00:00Z",
            "nbytes": -i - 1,  # each one breaks ge=0
            "permissions": "READ",
        }
        for i in range(50)
    ]
    got = errors_of(Directory.validate_json, msgspec.json.encode(doc))
    assert len(got) == 50
    assert [e["loc"] for e in got] == [("contents", i, "nbytes") for i in range(50)]


def test_messages_and_str() -> None:
    with pytest.raises(ValidationError) as exc:
        User.validate({"name": "", "age": 200, "tags": "x"})
    err = exc.value
    assert err.errors() == [
        {"loc": ("name",), "code": "min_length", "msg": "Must have at least 1 character"},
        {"loc": ("age",), "code": "le", "msg": "Must be less than or equal to 150"},
        {"loc": ("tags",), "code": "type", "msg": "Expected `array`, got `str`"},
    ]
    text = str(err)
    assert text.startswith("3 validation errors for User")
    assert "age: Must be less than or equal to 150 [le]" in text
    assert isinstance(err, ValueError)


def test_many_errors_summary_is_bounded() -> None:
    err = ValidationError([ErrorDetail((i,), "type", "bad") for i in range(30)])
    assert "... and 10 more" in str(err)
    assert str(ValidationError([ErrorDetail((), "x", "y")])).startswith("1 validation error\n")


def test_prefix_merge_and_pickle() -> None:
    a = ValidationError([ErrorDetail(("limit",), "type", "bad")])
    b = ValidationError([ErrorDetail((), "missing", "Field required")], title="Body")
    merged = ValidationError.merge([a.prefixed("query"), b.prefixed("body")])
    assert [d.loc for d in merged.details] == [("query", "limit"), ("body",)]
    again = pickle.loads(pickle.dumps(b))
    assert again.details == b.details and again.title == "Body"
    assert ErrorDetail(("a",), "c", "m") == ErrorDetail(("a",), "c", "m")
    assert ErrorDetail(("a",), "c", "m") != "x"
    assert len({ErrorDetail(("a",), "c", "m"), ErrorDetail(("a",), "c", "m")}) == 1
    assert "loc=('a',)" in repr(ErrorDetail(("a",), "c", "m"))


def test_invalid_json_is_a_validation_error() -> None:
    for data in (b"{", b"", b"[1,]", b"\xff"):
        got = errors_of(User.validate_json, data)
        assert got[0]["code"] == "invalid_json" and got[0]["loc"] == ()
    # Through the Python engine too (a type msgspec does not decode).
    assert errors_of(Validator(int | Schema).validate_json, b"{")[0]["code"] == "invalid_json"


def test_engine_disagreement_falls_back_to_msgspec_error() -> None:
    from vivace.schema._validator import _ms_loc

    assert _ms_loc("Expected `int`, got `str` - at `$.items[3].price`") == (
        ("items", 3, "price"),
        "Expected `int`, got `str`",
    )
    assert _ms_loc("Expected `str`, got `int` - at `key` in `$.m`") == (
        ("m",),
        "Expected `str`, got `int`",
    )
    assert _ms_loc("Object missing required field `a`") == ((), "Object missing required field `a`")

    class Odd(Schema):
        a: int

        def __post_init__(self) -> None:
            if self.a == 13:
                raise ValueError("unlucky")

    # msgspec reports a __post_init__ error as invalid input; so does the Python engine.
    assert errors_of(Odd.validate, {"a": 13}) == [
        {"loc": (), "code": "value_error", "msg": "unlucky"}
    ]
    # Were the engines ever to disagree, msgspec's refusal stands, translated.
    v = Validator(Odd)
    v.validate({"a": 1})
    v._checks[1] = lambda value, loc, errs: value
    assert errors_of(v.validate, {"a": 13}) == [{"loc": (), "code": "invalid", "msg": "unlucky"}]


class LitCat(Schema):
    kind: Literal["cat"]
    lives: int = 9


class LitDog(Schema):
    kind: Literal["dog"]
    good: bool = True
    size: Literal["s", "m", "l"] = "m"


class LitHome(Schema):
    pet: LitCat | LitDog
    pets: list[LitCat | LitDog] = Field(default_factory=list)


def test_union_of_schemas_with_a_literal_field_reports_the_member_meant() -> None:
    # pydantic's discriminated union idiom: a Literal field per member. A wrong field in
    # the member the Literal names was reported only as "Expected `LitCat | LitDog`".
    def codes(data: Any) -> list[tuple[Any, str]]:
        with pytest.raises(ValidationError) as exc:
            LitHome.validate_json(json.dumps(data))
        return [(e["loc"], e["code"]) for e in exc.value.errors()]

    assert codes({"pet": {"kind": "dog", "good": 1}}) == [(("pet", "good"), "type")]
    assert codes({"pet": {"kind": "dog", "size": "xl"}}) == [(("pet", "size"), "literal")]
    pets = {"pet": {"kind": "cat"}, "pets": [{"kind": "cat", "lives": "9"}]}
    assert codes(pets) == [(("pets", 0, "lives"), "type")]
    with pytest.raises(ValidationError) as exc:
        LitHome.validate({"pet": {"kind": "cow"}})
    assert exc.value.errors() == [
        {"loc": ("pet", "kind"), "code": "literal", "msg": "Must be one of 'cat', 'dog'"}
    ]

    # Each member misses a different Literal field: none is meant, no field is the culprit.
    class Small(Schema):
        kind: Literal["cat"]
        size: Literal["s"]

    class Large(Schema):
        kind: Literal["dog"]
        size: Literal["l"]

    with pytest.raises(ValidationError) as exc:
        validate(Small | Large, {"kind": "cat", "size": "l"})
    assert [(e["loc"], e["code"]) for e in exc.value.errors()] == [((), "union")]
    # No Literal decides: the union's own error, as before.
    assert codes({"pet": {"good": 1}}) == [(("pet",), "union")]
    assert codes({"pet": {"kind": "cat", "lives": "x", "good": 1}}) == [(("pet", "lives"), "type")]
    assert LitHome.validate({"pet": {"kind": "dog"}}).pet == LitDog(kind="dog")


def test_length_messages_count_in_the_singular_for_one() -> None:
    # "Must have at least 1 items" read badly (the test above recorded "1 characters").
    short = Validator(Annotated[list[int], Field(min_length=1, max_length=1)])
    with pytest.raises(ValidationError) as exc:
        short.validate([])
    assert exc.value.errors()[0]["msg"] == "Must have at least 1 item"
    with pytest.raises(ValidationError) as exc:
        short.validate([1, 2])
    assert exc.value.errors()[0]["msg"] == "Must have at most 1 item"
    with pytest.raises(ValidationError) as exc:
        Validator(Annotated[bytes, Field(max_length=2)]).validate(b"abc")
    assert exc.value.errors()[0]["msg"] == "Must have at most 2 bytes"


def test_repr_says_what_failed() -> None:
    # repr() was "ValidationError()" (no constructor arguments reach Exception).
    err = ValidationError([ErrorDetail(("a", 0), "type", "Expected `int`, got `str`")], title="T")
    assert (
        repr(err)
        == "<ValidationError: 1 validation error for T, first: a[0]: Expected `int`, got `str`>"
    )
    assert repr(ValidationError([])) == "<ValidationError: 0 validation errors>"
