"""Edge cases of type analysis and of the Python engine."""

from __future__ import annotations

import decimal
import enum
import random
import typing
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal, NewType, TypeVar

import msgspec
import pytest

from vivace.schema import Field, Schema, SchemaError, ValidationError, Validator, validate
from vivace.schema._engine import BAD, JSON, PYTHON
from vivace.schema._nodes import Node, node_for

UserId = NewType("UserId", int)
Bounded = TypeVar("Bounded", bound=int)
Free = TypeVar("Free")


def errs(tp: Any, data: Any, mode: str = "strict") -> list[tuple[Any, str]]:
    with pytest.raises(ValidationError) as exc:
        validate(tp, data, mode=mode)  # type: ignore[arg-type]
    return [(e["loc"], e["code"]) for e in exc.value.errors()]


def test_analysis_of_special_forms() -> None:
    assert node_for(UserId).kind == "int"
    assert node_for(Bounded).kind == "int"
    assert node_for(Free).kind == "any"
    assert node_for(Literal[None]).kind == "none"
    opt = node_for(Literal["a", None])
    assert opt.kind == "union" and opt.nullable
    assert node_for(Literal[Literal["a"], "b"]).values == ("a", "b")  # noqa: RUF041
    assert node_for(list).args[0].kind == "any"
    assert node_for(tuple).kind == "vartuple"
    assert node_for(dict).args[0].kind == "any"
    assert node_for(Sequence[int]).kind == "list"
    assert node_for(Mapping[str, int]).kind == "dict"
    assert node_for(typing.AbstractSet[int]).kind == "set"
    assert node_for(int | Any).kind == "any"
    assert node_for(None).kind == "none"
    assert node_for(object).kind == "any"
    with pytest.raises(SchemaError, match="Literal"):
        node_for(Literal[1.5])
    with pytest.raises(SchemaError, match="forward"):
        node_for("Thing")
    with pytest.raises(SchemaError):
        node_for(typing.Callable[[], int])
    assert validate(UserId, 5) == 5


def test_node_describe_and_repr() -> None:
    class C(Schema):
        a: int

    cases = {
        int: "int",
        C: "C",
        enum.Enum("E", "A"): "enum",
        None: "null",
        list[int]: "array",
        dict[str, int]: "object",
        int | str: "int | str",
    }
    for tp, text in cases.items():
        assert node_for(tp).describe() == text
    assert repr(node_for(list[int])) == "Node('list', (Node('int', ()),))"
    assert node_for(int | None).without_none().kind == "int"
    assert node_for(int | str | None).without_none().kind == "union"
    assert Node("union", (Node("none"),)).without_none().kind == "none"
    assert node_for(int).without_none().kind == "int"
    assert repr(BAD) == "BAD"


def test_python_mode_subclasses_of_builtins() -> None:
    class Level(enum.IntEnum):
        HIGH = 2

    class Name(str):
        pass

    assert validate(int, Level.HIGH) == 2 and type(validate(int, Level.HIGH)) is int
    assert type(validate(float, Level.HIGH)) is float
    assert type(validate(str, Name("x"))) is Name  # passed through, as msgspec does

    class Precise(float):
        pass

    assert errs(float, Precise(1.5)) == [((), "type")]  # msgspec refuses float subclasses
    v = Validator(int)
    out = v._check(PYTHON)(Level.HIGH, (), [])
    assert out == 2 and type(out) is int
    assert type(Validator(float)._check(PYTHON)(Level.HIGH, (), [])) is float
    assert type(Validator(str)._check(PYTHON)(Name("x"), (), [])) is Name
    assert Validator(float)._check(PYTHON)(10**400, (), []) is BAD


def test_engine_only_paths() -> None:
    # Python engine only: set of unhashable items, uploads, unions msgspec refuses.
    assert errs(set[Any], [[1]]) == [((), "type")]
    assert errs(list[int] | dict[str, int] | None, ["x"]) == [((0,), "type")]
    assert errs(Annotated[float, Field(multiple_of=0.5)], 1.25) == [((), "multiple_of")]
    assert validate(Annotated[float, Field(multiple_of=0.5)], 1.5) == 1.5
    json_check = Validator(dict[int, str])._check(JSON)
    problems: list[Any] = []
    assert json_check({"+1": "a", "x": "b", "-2": "c"}, (), problems) is BAD
    assert [p.loc for p in problems] == [("+1",), ("x",)]
    assert Validator(dict[int, str])._check(JSON)({"-2": "c"}, (), []) == {-2: "c"}


def test_tagged_union_in_the_python_engine() -> None:
    class A(Schema, tag="a"):
        x: int = Field(default=0, read_only=True)  # read-only: the Python engine

    class B(Schema, tag="b"):
        y: int = 0

    assert not Validator(A | B).fast
    assert validate(list[A | B], [{"type": "b", "y": 1}]) == [B(y=1)]
    assert errs(A | B, {"y": 1}) == [(("type",), "missing")]
    assert errs(A | B, {"type": "c"}) == [(("type",), "tag")]
    assert errs(A | B, {"type": ["a"]}) == [(("type",), "tag")]
    assert errs(A, {"type": "b"}) == [(("type",), "tag")]


def test_literal_lax_and_unhashable() -> None:
    assert validate(Literal[True, 2], "yes", mode="lax") is True
    assert errs(Literal[True, 2], "maybe", "lax") == [((), "literal")]
    assert errs(Literal["a"], ["a"]) == [((), "literal")]


def test_enum_python_and_lax() -> None:
    class Color(enum.Enum):
        RED = "red"

    class Num(enum.Enum):
        ONE = 1

    assert validate(Num, "1", mode="lax") is Num.ONE
    assert errs(Num, "x", "lax") == [((), "type")]
    assert errs(Color, 1) == [((), "type")]


def test_tuple_in_python_mode_and_wrong_container() -> None:
    assert validate(tuple[int, int], (1, 2)) == (1, 2)
    assert errs(tuple[int, int], "ab") == [((), "type")]
    assert errs(tuple[int, int], [1, "x"]) == [((1,), "type")]


def test_msgspec_struct_and_generic_struct() -> None:
    class Plain(msgspec.Struct):
        a: int

    T = TypeVar("T")

    class Box(msgspec.Struct, typing.Generic[T]):
        item: T

    assert validate(Plain, {"a": 1}) == Plain(a=1)
    assert node_for(Box[int]).kind == "class"
    assert errs(Plain, {"a": "x"}) == [(("a",), "type")]


Cents = Annotated[float, Field(ge=0, multiple_of=0.01)]
Tenths = Annotated[float, Field(multiple_of=0.1)]
Price = Annotated[decimal.Decimal, Field(ge=0, multiple_of=decimal.Decimal("0.01"))]


def test_a_decimal_step_on_floats_accepts_what_json_writes() -> None:
    # fmod(19.99, 0.01) and fmod(0.3, 0.1) are not 0 (no binary float is 0.01 or 0.1):
    # msgspec's rule refused every price; pydantic accepts them. Both engines now agree.
    cases = ((Cents, (19.99, 0.07, 1, 0.0), (0.005, 1.001)), (Tenths, (0.3,), (0.35,)))
    for tp, good, bad in cases:
        for value in good:
            assert validate(tp, value) == value
            assert Validator(tp).validate_json(str(value).encode()) == value
            assert validate(tp, str(value), mode="lax") == value
        for value in bad:
            assert errs(tp, value) == [((), "multiple_of")]
    assert errs(Tenths, float("inf")) == [((), "multiple_of")]
    assert errs(Tenths, float("nan")) == [((), "multiple_of")]
    assert validate(Annotated[int, Field(multiple_of=0.1)], 3) == 3
    assert validate(Annotated[int, Field(multiple_of=0.5)], 3) == 3
    assert not Validator(Cents).fast and Validator(Annotated[float, Field(multiple_of=0.5)]).fast


def test_decimal_bounds_and_steps() -> None:
    # Decimal steps were checked with float fmod (Decimal("1.25") was not a multiple of
    # 0.01), NaN crashed the bounds (InvalidOperation) and 1e999999999 the step (ValueError).
    assert validate(Price, decimal.Decimal("1.25")) == decimal.Decimal("1.25")
    assert Validator(Price).validate_json(b'"1"') == decimal.Decimal(1)
    assert Validator(Price).validate_json(b"19.99") == decimal.Decimal("19.99")
    assert errs(Price, decimal.Decimal("1.255")) == [((), "multiple_of")]
    for text in ("NaN", "-NaN", "sNaN", "Infinity", "-Infinity"):
        assert errs(Price, decimal.Decimal(text)) == [((), "finite")]
        assert errs(Price, text, mode="lax") == [((), "finite")]
    assert validate(Price, decimal.Decimal("1e999999999")) == decimal.Decimal("1e999999999")
    assert errs(Price, decimal.Decimal("1e-999999999")) == [((), "multiple_of")]
    assert validate(Price, decimal.Decimal("0E-999999999")) == 0
    assert errs(Annotated[decimal.Decimal, Field(lt=10)], decimal.Decimal("1e999999999")) == [
        ((), "lt")
    ]
    sevenths = Annotated[decimal.Decimal, Field(multiple_of=decimal.Decimal("0.07"))]
    assert validate(sevenths, "7" * 10_000 + "00e-4", mode="lax")  # 10,000 digits: int() refuses
    assert errs(sevenths, "7" * 9_999 + "100e-4", mode="lax") == [((), "multiple_of")]
    assert validate(Annotated[decimal.Decimal, Field(multiple_of=3)], decimal.Decimal("9.0"))


def test_decimal_multiple_agrees_with_fractions() -> None:
    from fractions import Fraction

    from vivace.schema._engine import _decimal_multiple

    rng = random.Random(7)
    for _ in range(3000):
        v = decimal.Decimal(rng.randint(-(10**6), 10**6)).scaleb(rng.randint(-8, 8))
        m = decimal.Decimal(rng.randint(1, 300)).scaleb(rng.randint(-5, 5))
        assert _decimal_multiple(v, m) == ((Fraction(v) / Fraction(m)).denominator == 1)
