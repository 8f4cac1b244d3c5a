"""Declaring schemas: fields, defaults, aliases, class options, create_schema, other classes."""

from __future__ import annotations

import dataclasses
import datetime
from typing import Annotated, Any, ClassVar, TypedDict

import msgspec
import pytest

from vivace.schema import (
    Field,
    Schema,
    SchemaError,
    ValidationError,
    Validator,
    create_schema,
    validate,
    validate_json,
)

from .models import Address, User


def test_fields_defaults_and_constructor_do_not_validate() -> None:
    u = User(name="ada")
    assert (u.age, u.email, u.tags, u.kind) == (0, None, [], "person")
    assert User(name="a").tags is not User(name="b").tags  # default_factory
    # Construction is for code holding good values: it does not check them.
    assert User(name=123).name == 123  # type: ignore[arg-type]
    assert isinstance(u, msgspec.Struct)


def test_validate_dict_and_json() -> None:
    data = {"name": "ada", "age": 36, "address": {"street": "Main"}}
    u = User.validate(data)
    assert u.address == Address(street="Main")
    assert User.validate_json(msgspec.json.encode(data)) == u
    assert User.validate_json('{"name": "ada"}').name == "ada"


def test_alias_and_camel_rule() -> None:
    class Account(Schema, rename="camel"):
        full_name: str
        user_id: int = Field(alias="uid")

    a = Account.validate({"fullName": "Ada", "uid": 1})
    assert (a.full_name, a.user_id) == ("Ada", 1)
    assert a.dump() == {"fullName": "Ada", "uid": 1}
    assert a.dump(by_alias=False) == {"full_name": "Ada", "user_id": 1}
    with pytest.raises(ValidationError) as exc:
        Account.validate({"full_name": "Ada", "uid": 1})
    assert exc.value.errors()[0]["loc"] == ("fullName",)


def test_alias_inside_annotated_is_refused() -> None:
    class Bad(Schema):
        x: Annotated[int, Field(alias="y")]

    with pytest.raises(SchemaError, match="default position"):
        Bad.validate({"y": 1})


def test_forbid_unknown_fields() -> None:
    class Strict(Schema, forbid_unknown_fields=True):
        a: int

    assert Strict.validate({"a": 1}).a == 1
    with pytest.raises(ValidationError) as exc:
        Strict.validate({"a": "x", "b": 1, "c": 2})
    assert [(e["loc"], e["code"]) for e in exc.value.errors()] == [
        (("a",), "type"),
        (("b",), "unknown_field"),
        (("c",), "unknown_field"),
    ]
    # Unknown fields are ignored by default.
    assert User.validate({"name": "x", "zzz": 1}).name == "x"


def test_reserved_field_names() -> None:
    with pytest.raises(SchemaError, match="validate"):

        class Bad(Schema):
            validate: int  # type: ignore[assignment]


def test_self_referencing_schema() -> None:
    class Node(Schema):
        value: int
        children: list[Node] = Field(default_factory=list)

    n = Node.validate({"value": 1, "children": [{"value": 2, "children": [{"value": 3}]}]})
    assert n.children[0].children[0].value == 3
    with pytest.raises(ValidationError) as exc:
        Node.validate({"value": 1, "children": [{"value": 2, "children": [{"value": "x"}]}]})
    assert exc.value.errors()[0]["loc"] == ("children", 0, "children", 0, "value")


def test_subclass_inherits_fields_and_options() -> None:
    class Base(Schema):
        a: Annotated[int, Field(ge=0)]

    Base.validate({"a": 1})  # compiled (annotations rewritten) before the subclass exists

    class Child(Base):
        b: str = "x"

    with pytest.raises(ValidationError) as exc:
        Child.validate({"a": -1})
    assert exc.value.errors()[0]["code"] == "ge"
    assert Child.validate({"a": 1, "b": "y"}) == Child(a=1, b="y")


def test_create_schema() -> None:
    Point = create_schema(
        "Point",
        {"x": int, "y": (int, Field(default=0, ge=0)), "label": (str | None, None)},
        rename="camel",
        doc="A point.",
    )
    p = Point.validate({"x": 1})
    assert (p.x, p.y, p.label) == (1, 0, None)  # type: ignore[attr-defined]
    assert Point.__doc__ == "A point."
    assert Point.__module__ == __name__
    with pytest.raises(ValidationError):
        Point.validate({"x": 1, "y": -1})
    with pytest.raises(SchemaError):
        create_schema("Bad", {"x": (int, 1, 2)})
    with pytest.raises(SchemaError):
        create_schema("Bad", {"x": int}, namespace={"x": 1})


def test_create_schema_with_forward_references() -> None:
    Tree = create_schema(
        "Tree", {"kids": (list["Tree"], Field(default_factory=list))}, namespace={}
    )
    Tree.Tree = Tree  # type: ignore[attr-defined]
    t = Tree.validate({"kids": [{"kids": []}]})
    assert len(t.kids) == 1  # type: ignore[attr-defined]


def test_plain_dataclass_and_typeddict() -> None:
    @dataclasses.dataclass
    class Point:
        x: int
        y: int = 0

    class Movie(TypedDict, total=False):
        title: str
        year: int

    assert validate(Point, {"x": 1}) == Point(1, 0)
    assert validate_json(list[Point], b'[{"x": 1, "y": 2}]') == [Point(1, 2)]
    assert validate(Movie, {"title": "x"}) == {"title": "x"}
    with pytest.raises(ValidationError) as exc:
        validate(Point, {"y": "a"})
    assert {e["code"] for e in exc.value.errors()} == {"missing", "type"}
    with pytest.raises(ValidationError):
        validate(Movie, {"year": "1999"})
    assert validate(Movie, {"year": "1999"}, mode="lax") == {"year": 1999}


def test_dataclass_with_field_options_uses_python_engine() -> None:
    @dataclasses.dataclass
    class Box:
        size: Annotated[int, Field(ge=1)]

    v = Validator(Box)
    assert not v.fast
    assert v.validate({"size": 2}) == Box(2)
    with pytest.raises(ValidationError):
        v.validate({"size": 0})


def test_bare_type_expressions() -> None:
    assert validate(list[int], [1, 2]) == [1, 2]
    assert validate(dict[str, User], {"a": {"name": "x"}})["a"].name == "x"
    assert validate(tuple[int, str], [1, "a"]) == (1, "a")
    assert validate(int | None, None) is None
    assert Validator(list[int]).fast
    with pytest.raises(SchemaError):
        Validator(complex)
    with pytest.raises(SchemaError):
        Validator(dict[float, int])


def test_unresolvable_annotation() -> None:
    class Broken(Schema):
        x: Missing  # type: ignore[name-defined]  # noqa: F821

    with pytest.raises(SchemaError, match="Broken"):
        Broken.validate({"x": 1})


def test_constraint_on_wrong_type() -> None:
    with pytest.raises(SchemaError, match="cannot apply"):
        Validator(Annotated[str, Field(ge=1)])
    with pytest.raises(TypeError):
        Field(multiple_of=0)
    with pytest.raises(TypeError):
        Field(min_length=-1)
    with pytest.raises(TypeError):
        Field(default=1, default_factory=list)
    with pytest.raises(TypeError):
        Field(read_only=True, write_only=True)


def test_field_options_merge_annotated_and_default() -> None:
    class M(Schema):
        x: Annotated[int, Field(ge=0, title="X")] = Field(default=1, le=10)

    assert M.validate({}).x == 1
    with pytest.raises(ValidationError) as exc:
        M.validate({"x": 11})
    assert exc.value.errors()[0]["code"] == "le"
    assert M.json_schema()["$defs"]["M"]["properties"]["x"]["title"] == "X"


def test_unions_of_untagged_schemas_use_python_engine() -> None:
    class A(Schema):
        a: int

    class B(Schema):
        b: str

    v = Validator(A | B)
    assert not v.fast
    assert v.validate({"b": "x"}) == B(b="x")
    assert v.validate_json(b'{"a": 1}') == A(a=1)
    with pytest.raises(ValidationError) as exc:
        v.validate({"c": 1})
    assert exc.value.errors()[0]["code"] == "union"


def test_datetime_default_and_any() -> None:
    class Event(Schema):
        at: datetime.datetime
        payload: Any = None

    e = Event.validate({"at": "2020-01-01T00:00:00", "payload": {"x": [1]}})
    assert e.at.tzinfo is None and e.payload == {"x": [1]}


def test_a_field_named_with_a_leading_underscore_is_refused() -> None:
    # pydantic keeps ``_name`` private; a Struct field of that name was read from input
    # ({"_owner": 1} set it) and written out, silently.
    with pytest.raises(SchemaError, match="'_owner' starts with '_'"):

        class Owned(Schema):
            _owner: int = 0
            title: str = ""

    with pytest.raises(SchemaError, match="'_id' starts with '_'"):
        create_schema("Doc", {"_id": str})

    class Keyed(Schema):
        registry: ClassVar[dict[str, int]] = {}
        _hidden: ClassVar[int] = 0  # a class variable is no field: allowed
        id: str = Field(alias="_id")

    assert Keyed.validate({"_id": "x"}).dump() == {"_id": "x"}


def test_pydantic_configuration_is_refused_not_ignored() -> None:
    # model_config = {"extra": "forbid"} was an ignored class attribute: unknown fields
    # went on being accepted while the author believed them refused.
    with pytest.raises(SchemaError, match="'model_config' is pydantic's configuration"):

        class Configured(Schema):
            model_config: ClassVar[dict[str, str]] = {"extra": "forbid"}
            a: int

    with pytest.raises(SchemaError, match="forbid_unknown_fields=True"):

        class Extra(Schema, extra="forbid"):  # type: ignore[call-arg]
            a: int

    class Strict(Schema, forbid_unknown_fields=True):
        a: int

    with pytest.raises(ValidationError):
        Strict.validate({"a": 1, "b": 2})

    class Notes(Schema):
        extra: str = ""  # a field may be called extra

    assert Notes.validate({"extra": "x"}).extra == "x"
