"""Generic schemas, dataclasses and TypedDicts: ``Page[Item]`` as pydantic users write it."""

from __future__ import annotations

import dataclasses
import json
from typing import Annotated, Any, Generic, Literal, TypedDict, TypeVar

import pytest

from tests.schema.models import Box, Item, Page, T
from vivace.schema import (
    Field,
    Schema,
    SchemaError,
    ValidationError,
    Validator,
    json_schema,
    json_schemas,
    schema_validator,
    validate,
    validate_json,
)
from vivace.schema._bridge import fast_type
from vivace.schema._nodes import class_name, node_for

U = TypeVar("U")
Num = TypeVar("Num", bound=int)


class Holder(Schema):
    box: Box[int]
    boxes: list[Box[Item]] = Field(default_factory=list)


class Counted(Schema, Generic[T]):
    """Options of our own on a generic class's fields: the Python engine does it."""

    count: int = Field(ge=0)
    values: list[T] = Field(default_factory=list)


class Checked(Schema, Generic[T]):
    low: T
    high: T

    @schema_validator()
    def ordered(self) -> None:
        if self.low > self.high:  # type: ignore[operator]
            raise ValueError("low is above high")


class Bounded(Schema, Generic[Num]):
    n: Num


class IntBox(Box[int]):
    pass


class Pair(Box[T], Generic[T, U]):
    other: U


class NamedPair(Pair[int, str]):
    pass


class Cat(Schema, Generic[T], tag="cat"):
    food: T


class Dog(Schema, Generic[T], tag="dog"):
    toy: T


@dataclasses.dataclass
class DBox(Generic[T]):
    item: T


class TBox(TypedDict, Generic[T]):
    item: T


def errs(tp: Any, data: Any, mode: str = "strict") -> list[tuple[Any, str]]:
    with pytest.raises(ValidationError) as exc:
        validate(tp, data, mode=mode)  # type: ignore[arg-type]
    return [(e["loc"], e["code"]) for e in exc.value.errors()]


def json_errs(tp: Any, data: bytes) -> list[tuple[Any, str]]:
    with pytest.raises(ValidationError) as exc:
        validate_json(tp, data)
    return [(e["loc"], e["code"]) for e in exc.value.errors()]


def test_a_parametrised_schema_validates_its_parameter() -> None:
    box = validate(Box[int], {"item": 1})
    assert box == Box(item=1) and type(box) is Box
    assert errs(Box[int], {"item": "1"}) == [(("item",), "type")]
    assert validate(Box[int], {"item": "1"}, mode="lax") == Box(item=1)
    assert errs(Box[int], {"item": "x"}, mode="lax") == [(("item",), "invalid")]
    assert errs(Box[int], {}) == [(("item",), "missing")]
    assert errs(Box[int], [1]) == [((), "type")]
    assert validate(Box[str], {"item": "x"}) == Box(item="x")


def test_validate_json_takes_msgspecs_generic_struct_path() -> None:
    assert fast_type(node_for(Box[int])) is not None
    assert validate_json(Box[int], b'{"item": 2}') == Box(item=2)
    assert json_errs(Box[int], b'{"item": "2"}') == [(("item",), "type")]
    with pytest.raises(ValidationError) as exc:
        validate_json(Box[int], b'{"item": "2"}')
    assert str(exc.value).startswith("1 validation error for Box[int]")
    # The constraint on an argument reaches msgspec in its own dialect.
    positive = Box[Annotated[int, Field(ge=0)]]
    assert fast_type(node_for(positive)) is not None
    assert validate_json(positive, b'{"item": 0}') == Box(item=0)
    assert json_errs(positive, b'{"item": -1}') == [(("item",), "ge")]
    assert errs(positive, {"item": -1}) == [(("item",), "ge")]


def test_the_generic_class_is_never_rewritten_for_one_parametrisation() -> None:
    class Late(Schema, Generic[T]):
        item: T

    # Bare first (T read as Any), then parametrised: each keeps its own meaning.
    assert validate_json(Late, b'{"item": "x"}') == Late(item="x")
    assert validate_json(Late[int], b'{"item": 3}') == Late(item=3)
    assert json_errs(Late[int], b'{"item": "x"}') == [(("item",), "type")]
    assert validate_json(Late[str], b'{"item": "x"}') == Late(item="x")
    assert validate_json(Late, b'{"item": [1]}') == Late(item=[1])


def test_bare_generic_reads_its_variable_as_any_or_its_bound() -> None:
    assert validate(Box, {"item": [1, "a"]}) == Box(item=[1, "a"])
    assert validate(Page, {"items": [1, "a"]}).items == [1, "a"]
    assert validate(Bounded, {"n": 3}) == Bounded(n=3)
    assert errs(Bounded, {"n": "3"}) == [(("n",), "type")]


def test_nesting() -> None:
    boxes = validate_json(list[Box[Item]], b'[{"item": {"name": "a"}}]')
    assert boxes == [Box(item=Item(name="a"))]
    assert json_errs(list[Box[Item]], b'[{"item": {"name": 1}}]') == [((0, "item", "name"), "type")]
    assert validate(Box[Box[int]], {"item": {"item": 3}}) == Box(item=Box(item=3))
    assert errs(Box[Box[int]], {"item": {"item": "3"}}) == [(("item", "item"), "type")]
    held = validate_json(Holder, b'{"box": {"item": 1}, "boxes": [{"item": {"name": "b"}}]}')
    assert held == Holder(box=Box(item=1), boxes=[Box(item=Item(name="b"))])
    assert json_errs(Holder, b'{"box": {"item": "1"}, "boxes": [{"item": 5}]}') == [
        (("box", "item"), "type"),
        (("boxes", 0, "item"), "type"),
    ]
    assert validate(Page[Box[int]], {"items": [{"item": "4"}]}, mode="lax").items == [Box(item=4)]
    assert validate(Box[int] | None, None) is None
    assert validate(Box[int] | None, {"item": 1}) == Box(item=1)


def test_dump_of_a_validated_generic() -> None:
    page = validate(Page[Item], {"items": [{"name": "pen"}], "total": 1})
    assert page.dump() == {"items": [{"name": "pen"}], "total": 1}
    assert page.dump_json() == b'{"items":[{"name":"pen"}],"total":1}'
    assert Validator(Page[Item]).dump_json(page) == page.dump_json()


def test_options_of_the_generic_class_run_in_the_python_engine() -> None:
    assert fast_type(node_for(Counted[str])) is None
    assert validate_json(Counted[str], b'{"count": 1, "values": ["a"]}').values == ["a"]
    assert json_errs(Counted[str], b'{"count": -1, "values": [1]}') == [
        (("count",), "ge"),
        (("values", 0), "type"),
    ]
    assert fast_type(node_for(Checked[int])) is None
    assert validate_json(Checked[int], b'{"low": 1, "high": 2}') == Checked(low=1, high=2)
    assert json_errs(Checked[int], b'{"low": 3, "high": 2}') == [((), "value_error")]
    assert json_errs(Checked[int], b'{"low": "3", "high": 2}') == [(("low",), "type")]


def test_subclasses_keep_the_parameters_their_bases_were_given() -> None:
    assert validate(IntBox, {"item": 1}) == IntBox(item=1)
    assert errs(IntBox, {"item": "x"}) == [(("item",), "type")]
    assert json_errs(IntBox, b'{"item": "x"}') == [(("item",), "type")]
    assert errs(NamedPair, {"item": "x", "other": 1}) == [
        (("item",), "type"),
        (("other",), "type"),
    ]
    assert validate(Pair[int, str], {"item": 1, "other": "x"}) == Pair(item=1, other="x")
    assert json_errs(Pair[str, int], b'{"item": 1, "other": "x"}') == [
        (("item",), "type"),
        (("other",), "type"),
    ]


def test_a_variable_given_two_arguments_by_the_bases_is_refused() -> None:
    @dataclasses.dataclass
    class Left(Generic[T]):
        a: T

    @dataclasses.dataclass
    class Right(Generic[T]):
        b: T

    @dataclasses.dataclass
    class Both(Left[int], Right[str]):
        pass

    with pytest.raises(SchemaError, match="type variable ~T is given both int and str"):
        validate(Both, {"a": 1, "b": "x"})


def test_generic_dataclasses_and_typeddicts() -> None:
    assert validate(DBox[int], {"item": "3"}, mode="lax") == DBox(3)
    assert validate_json(DBox[int], b'{"item": 3}') == DBox(3)
    assert json_errs(DBox[int], b'{"item": "x"}') == [(("item",), "type")]
    assert errs(DBox[Item], {"item": {"name": 2}}) == [(("item", "name"), "type")]
    assert validate(TBox[int], {"item": "3"}, mode="lax") == {"item": 3}
    assert validate_json(TBox[list[int]], b'{"item": [1]}') == {"item": [1]}
    assert json_errs(TBox[int], b'{"item": "x"}') == [(("item",), "type")]
    assert validate(DBox, {"item": "anything"}) == DBox("anything")


def test_tagged_union_of_generic_classes() -> None:
    pets: Any = Cat[int] | Dog[str]
    assert validate(pets, {"type": "cat", "food": 1}) == Cat(food=1)
    assert validate_json(pets, b'{"type": "dog", "toy": "ball"}') == Dog(toy="ball")
    assert errs(pets, {"type": "dog", "toy": 1}) == [(("toy",), "type")]
    assert json_errs(pets, b'{"type": "cat", "food": "fish"}') == [(("food",), "type")]
    mapping = json_schema(pets)["discriminator"]["mapping"]
    assert mapping == {"cat": "#/$defs/Cat_int_", "dog": "#/$defs/Dog_str_"}


def test_json_schema_names_are_valid_component_names_and_stable() -> None:
    doc = json_schema(Page[Item])
    assert doc["$ref"] == "#/$defs/Page_Item_"
    assert list(doc["$defs"]) == ["Item", "Page_Item_"]
    assert doc["$defs"]["Page_Item_"]["title"] == "Page[Item]"
    assert doc["$defs"]["Page_Item_"]["properties"]["items"] == {
        "type": "array",
        "items": {"$ref": "#/$defs/Item"},
    }
    nested = json_schema(Box[Box[int]])
    assert nested["$ref"] == "#/$defs/Box_Box_int__"
    assert nested["$defs"]["Box_Box_int__"]["properties"]["item"] == {"$ref": "#/$defs/Box_int_"}
    assert json_schema(Box)["$ref"] == "#/$defs/Box"
    assert json_schema(Box)["$defs"]["Box"]["properties"]["item"] == {}
    assert json.dumps(json_schema(Page[Item])) == json.dumps(doc)
    # One parametrisation met twice is one definition, even in strict naming (OpenAPI).
    refs, defs = json_schemas([Box[int], list[Box[int]]], names={})
    assert refs[0] == {"$ref": "#/$defs/Box_int_"} and list(defs) == ["Box_int_"]


def test_names_of_parameters() -> None:
    assert class_name(Box) == "Box"
    assert class_name(Box[int | None]) == "Box[int | None]"
    assert class_name(Box[None]) == "Box[None]"
    assert class_name(Box[Any]) == "Box[Any]"
    assert class_name(Box[tuple[int, ...]]) == "Box[tuple[int, ...]]"
    assert class_name(Box[Annotated[int, Field(ge=0)]]) == "Box[int]"
    assert class_name(Box[Literal["a", 1]]) == "Box[Literal['a', 1]]"
    assert class_name(Pair[list[int], dict[str, Item]]) == "Pair[list[int], dict[str, Item]]"
    name = "Box_tuple_int__...__"  # "." may stay in a component name
    assert json_schema(Box[tuple[int, ...]])["$ref"] == f"#/$defs/{name}"


def test_same_named_parametrisations_fall_back_to_module_paths() -> None:
    def make() -> Any:
        class Box(Schema, Generic[T]):
            item: T

        return Box

    other = make()
    _, defs = json_schemas([Box[int], other[int]])
    assert "Box_int_" in defs
    assert any(k.endswith("make__<locals>__Box_int_") for k in defs)
    with pytest.raises(SchemaError, match="two schemas are named 'Box_int_'"):
        json_schemas([Box[int], other[int]], names={})


def test_unresolvable_parameter_is_a_schema_error_naming_the_class() -> None:
    with pytest.raises(SchemaError, match=r"Box\[ForwardRef\('Nowhere'\)\]\.item: unresolved"):
        validate(Box["Nowhere"], {"item": 1})  # type: ignore[name-defined]


def test_a_bare_generic_field_inside_a_generic_class_is_any() -> None:
    class Outer(Schema, Generic[T]):
        raw: Box  # type: ignore[type-arg]
        value: T

    out = validate(Outer[int], {"raw": {"item": "x"}, "value": 1})
    assert out == Outer(raw=Box(item="x"), value=1)
    assert errs(Outer[int], {"raw": {"item": "x"}, "value": "1"}) == [(("value",), "type")]


async def test_async_validation_of_a_generic() -> None:
    page = await Validator(Page[Item]).avalidate({"items": [{"name": "a"}]})
    assert page == Page(items=[Item(name="a")])
    with pytest.raises(ValidationError):
        await Validator(Page[Item]).avalidate_json(b'{"items": [{"name": 1}]}')


def test_generic_fields_inside_a_generic_class() -> None:
    class Wrapper(Schema, Generic[T]):
        inner: Box[T]
        note: Item | None = None

    class Deep(Schema, Generic[T]):
        inner: Box[Box]  # type: ignore[type-arg]
        value: T

    assert fast_type(node_for(Wrapper[int])) is not None
    assert validate_json(Wrapper[int], b'{"inner": {"item": 1}}') == Wrapper(inner=Box(item=1))
    assert json_errs(Wrapper[int], b'{"inner": {"item": "x"}}') == [(("inner", "item"), "type")]
    assert json_errs(Wrapper[int], b'{"inner": {"item": 1}, "note": {}}') == [
        (("note", "name"), "missing")
    ]
    assert fast_type(node_for(Deep[int])) is None
    deep = validate_json(Deep[int], b'{"inner": {"item": {"item": "x"}}, "value": 1}')
    assert deep.inner == Box(item=Box(item="x"))


def test_class_methods_of_a_parametrised_schema_validate_as_it() -> None:
    # pydantic users write Page[Item].model_validate(...): Page[Item].validate must check
    # the items as Item. It was Page.validate (typing forwards the lookup), which read T
    # as Any and let {"name": 1} through unchecked.
    with pytest.raises(ValidationError) as exc:
        Page[Item].validate({"items": [{"name": 1}], "total": 1})
    assert [e["loc"] for e in exc.value.errors()] == [("items", 0, "name")]
    with pytest.raises(ValidationError):
        Page[Item].validate_json(b'{"items": [{"name": 1}], "total": 1}')
    with pytest.raises(ValidationError):
        Page[int].validate_form({"items": "x", "total": "1"})
    assert Page[int].validate({"items": ["7"], "total": "1"}, mode="lax").items == [7]
    assert Page[Item].json_schema()["$ref"] == "#/$defs/Page_Item_"
    partly = Box[list[U]]  # a substitution keeps the alias's methods
    assert partly[int].validate({"item": [1]}).item == [1]
    with pytest.raises(ValidationError):
        partly[int].validate({"item": ["x"]})
    # The bare class still reads T as Any, as documented; constructing is unchanged.
    assert Page.validate({"items": [{"name": 1}], "total": 1}).items == [{"name": 1}]
    assert Page[Item](items=[], total=0) == Page(items=[], total=0)
    assert Page[Item] is Page[Item]


async def test_async_class_methods_of_a_parametrised_schema() -> None:
    with pytest.raises(ValidationError):
        await Page[Item].avalidate({"items": [{"name": 1}], "total": 1})
    with pytest.raises(ValidationError):
        await Page[Item].avalidate_json(b'{"items": [{"name": 1}], "total": 1}')


def test_a_schema_that_is_not_generic_cannot_be_subscripted() -> None:
    with pytest.raises(TypeError, match="Item is not a generic schema"):
        Item[int]  # type: ignore[misc]
