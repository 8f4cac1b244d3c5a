"""JSON Schema 2020-12: generated from types, and types built from documents."""

from __future__ import annotations

import datetime
import decimal
import enum
import json
import uuid
from typing import Annotated, Any, Literal

import pytest

from vivace.schema import (
    Email,
    Field,
    HttpUrl,
    Schema,
    SchemaError,
    Secret,
    Upload,
    ValidationError,
    from_json_schema,
    json_schema,
    json_schemas,
)

from .models import Directory, User


class Color(enum.Enum):
    """Colours we sell."""

    RED = "red"
    BLUE = "blue"


class Everything(Schema, forbid_unknown_fields=True):
    """All the types."""

    s: Annotated[str, Field(min_length=1, max_length=5, pattern="^a")]
    i: Annotated[int, Field(gt=0, lt=10, multiple_of=2)] = Field(
        default=2, title="I", description="an int", examples=[2, 4], deprecated=True
    )
    f: float
    b: bool
    raw: bytes
    money: decimal.Decimal
    when: datetime.datetime
    day: datetime.date
    at: datetime.time
    span: datetime.timedelta
    id: uuid.UUID
    color: Color
    lit: Literal["x", "y"]
    one: Literal[1]
    items: Annotated[list[int], Field(min_length=1)]
    tags: set[str]
    pair: tuple[int, str]
    empty: tuple[()]
    rest: tuple[int, ...]
    by_id: dict[int, str]
    by_name: dict[Annotated[str, Field(max_length=3)], int]
    by_color: dict[Color, int]
    maybe: int | None = None
    anything: Any = None
    email: Email = "a@b.c"
    site: HttpUrl | None = None
    secret: Secret = Field(default_factory=lambda: Secret("x"), write_only=True)
    upload: Upload | None = None
    id2: int = Field(default=0, read_only=True, json_schema_extra={"x-db": "pk"})
    bag: Annotated[dict[str, int], Field(max_length=2)] = Field(default_factory=dict)
    alias_me: int = Field(default=0, alias="aliasMe")


def test_generated_schema() -> None:
    doc = json_schema(Everything)
    assert doc["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert doc["$ref"] == "#/$defs/Everything"
    d = doc["$defs"]["Everything"]
    p = d["properties"]
    assert d["description"] == "All the types." and d["additionalProperties"] is False
    assert p["s"] == {"type": "string", "minLength": 1, "maxLength": 5, "pattern": "^a"}
    assert p["i"] == {
        "type": "integer",
        "exclusiveMinimum": 0,
        "exclusiveMaximum": 10,
        "multipleOf": 2,
        "title": "I",
        "description": "an int",
        "examples": [2, 4],
        "default": 2,
        "deprecated": True,
    }
    assert p["raw"] == {"type": "string", "contentEncoding": "base64"}
    assert p["when"]["format"] == "date-time" and p["span"]["format"] == "duration"
    assert p["color"] == {
        "title": "Color",
        "enum": ["red", "blue"],
        "type": "string",
        "description": "Colours we sell.",
    }
    assert p["lit"] == {"enum": ["x", "y"]} and p["one"] == {"const": 1}
    assert p["items"] == {"type": "array", "items": {"type": "integer"}, "minItems": 1}
    assert p["tags"]["uniqueItems"] is True
    assert p["pair"] == {
        "type": "array",
        "minItems": 2,
        "maxItems": 2,
        "prefixItems": [{"type": "integer"}, {"type": "string"}],
        "items": False,
    }
    assert p["empty"] == {"type": "array", "minItems": 0, "maxItems": 0, "items": False}
    assert p["by_id"]["propertyNames"] == {"pattern": "^-?[0-9]+$"}
    assert p["by_name"]["propertyNames"] == {"maxLength": 3}
    assert p["by_color"]["propertyNames"] == {"enum": ["red", "blue"]}
    assert p["maybe"] == {"anyOf": [{"type": "integer"}, {"type": "null"}], "default": None}
    assert p["anything"] == {"default": None}
    assert p["email"]["format"] == "email" and p["secret"]["writeOnly"] is True
    assert p["upload"]["anyOf"][0] == {"type": "string", "format": "binary"}
    assert p["id2"] == {"type": "integer", "default": 0, "readOnly": True, "x-db": "pk"}
    assert p["bag"]["maxProperties"] == 2
    assert "aliasMe" in p
    assert "id2" not in d["required"] and "s" in d["required"]
    json.dumps(doc)  # plain JSON


def test_recursive_tagged_union_and_discriminator() -> None:
    doc = json_schema(Directory)
    items = doc["$defs"]["Directory"]["properties"]["contents"]["items"]
    assert items["anyOf"] == [{"$ref": "#/$defs/File"}, {"$ref": "#/$defs/Directory"}]
    assert items["discriminator"]["propertyName"] == "type"
    assert doc["$defs"]["File"]["properties"]["type"] == {"enum": ["file"]}


def test_many_schemas_one_defs_stable_output() -> None:
    refs, defs = json_schemas(
        [User, list[Directory], int], ref_template="#/components/schemas/{name}"
    )
    assert refs[0] == {"$ref": "#/components/schemas/User"}
    assert refs[2] == {"type": "integer"}
    assert list(defs) == sorted(defs) == ["Address", "Directory", "File", "User"]
    again = json_schemas([User, list[Directory], int], ref_template="#/components/schemas/{name}")
    assert json.dumps(again[1]) == json.dumps(defs)


def test_name_collisions_get_module_paths() -> None:
    def make() -> type[Schema]:
        class User(Schema):
            x: int

        return User

    other = make()
    _, defs = json_schemas([User, other])
    assert "User" in defs
    assert any(k.endswith("make__<locals>__User") for k in defs)


def test_round_trip_through_json_schema() -> None:
    Rebuilt = from_json_schema(json_schema(User))
    data = {"name": "ada", "age": 3, "address": {"street": "x"}, "kind": "robot"}
    assert Rebuilt.validate(data).dump(exclude_defaults=True) == User.validate(data).dump(
        exclude_defaults=True
    )
    with pytest.raises(ValidationError) as exc:
        Rebuilt.validate({"name": "", "age": 200, "address": {"street": "x", "zip_code": "1"}})
    assert [e["code"] for e in exc.value.errors()] == ["min_length", "le", "pattern"]


def test_from_json_schema_keywords() -> None:
    T = from_json_schema(
        {
            "title": "Thing",
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "first-name": {"type": "string", "maxLength": 3, "readOnly": True},
                "class": {"type": ["integer", "null"]},
                "when": {"type": "string", "format": "date-time"},
                "kind": {"enum": ["a", "b"]},
                "one": {"const": 1},
                "items": {"type": "array", "items": {"type": "number"}, "minItems": 1},
                "unique": {"type": "array", "items": {"type": "integer"}, "uniqueItems": True},
                "pair": {
                    "type": "array",
                    "prefixItems": [{"type": "integer"}, {"type": "boolean"}],
                },
                "map": {"type": "object", "additionalProperties": {"type": "integer"}},
                "free": {},
                "either": {"oneOf": [{"type": "integer"}, {"type": "string"}]},
                "all": {"allOf": [{"type": "integer", "minimum": 0}]},
                "raw": {"type": "string", "contentEncoding": "base64"},
                "validate": {"type": "integer", "default": 5},
                "2x": {"type": "boolean"},
                "pw": {"type": "string", "format": "password", "writeOnly": True},
                "untyped": {"description": "anything"},
            },
            "required": ["when", "kind"],
        }
    )
    t = T.validate(
        {
            "when": "2020-01-01T00:00:00Z",
            "kind": "a",
            "class": None,
            "items": [1],
            "unique": [1, 1],
            "pair": [1, True],
            "map": {"a": 1},
            "either": "x",
            "all": 0,
            "raw": "AA==",
            "2x": True,
            "pw": "s",
        }
    )
    assert t.unique == {1} and t.pair == (1, True) and t.raw == b"\x00"  # type: ignore[attr-defined]
    assert t.validate_ == 5 and t.f_2x is True  # type: ignore[attr-defined]
    assert t.pw.get_secret_value() == "s"  # type: ignore[attr-defined]
    with pytest.raises(ValidationError) as exc:
        T.validate({"when": "x", "kind": "c", "zzz": 1, "all": -1})
    assert [e["code"] for e in exc.value.errors()] == ["invalid", "literal", "ge", "unknown_field"]
    assert from_json_schema({"type": "integer"}) is int
    assert from_json_schema(True) is Any  # type: ignore[arg-type]
    assert from_json_schema({"type": "array"}) == list[Any]
    assert from_json_schema({"type": "object"}) == dict[str, Any]


def test_from_json_schema_refs_and_errors() -> None:
    doc = {
        "$ref": "#/definitions/Node",
        "definitions": {
            "Node": {
                "type": "object",
                "properties": {
                    "children": {"type": "array", "items": {"$ref": "#/definitions/Node"}},
                    "peer": {"$ref": "#/definitions/Leaf"},
                },
            },
            "Leaf": {"type": "object", "properties": {"v": {"type": "integer"}}},
        },
    }
    Node = from_json_schema(doc)
    n = Node.validate({"children": [{"children": [], "peer": {"v": 1}}]})
    assert n.children[0].peer.v == 1  # type: ignore[attr-defined]
    for bad in (
        {"$ref": "http://example.org/x"},
        {"$ref": "#/nowhere"},
        {"$ref": "#/x", "x": 5},
        {"allOf": [{}, {}]},
        {"type": "thing"},
        False,
        5,
    ):
        with pytest.raises(SchemaError):
            from_json_schema(bad)  # type: ignore[arg-type]


def test_decimal_bounds_are_json_numbers() -> None:
    # Decimal bounds went into the document as Decimal objects: json.dumps refused it.
    tp = Annotated[
        decimal.Decimal,
        Field(
            ge=decimal.Decimal("0.5"),
            lt=decimal.Decimal("100"),
            multiple_of=decimal.Decimal("0.01"),
        ),
    ]
    doc = json_schema(tp)
    assert json.loads(json.dumps(doc))["minimum"] == 0.5
    assert (doc["minimum"], doc["exclusiveMaximum"], doc["multipleOf"]) == (0.5, 100, 0.01)
    assert type(doc["exclusiveMaximum"]) is int


def test_dict_defaults_and_examples_have_text_keys() -> None:
    class Counts(Schema):
        by_id: dict[int, int] = Field(default_factory=lambda: {1: 2}, examples=[{3: 4}])

    prop = Counts.json_schema()["$defs"]["Counts"]["properties"]["by_id"]
    assert prop["examples"] == [{"3": 4}]
    assert json.loads(json.dumps(prop))["examples"] == [{"3": 4}]
