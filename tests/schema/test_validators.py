"""Validators: field and schema level, before and after, sync and async."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from vivace.schema import (
    ErrorDetail,
    Field,
    Schema,
    SchemaError,
    ValidationError,
    Validator,
    field_validator,
    schema_validator,
)


class Signup(Schema):
    name: str
    password: str
    confirm: str
    tags: list[str] = Field(default_factory=list)

    @field_validator("name")
    def strip_name(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("Must not be blank")
        return value.strip()

    @field_validator("tags", mode="before")
    def split_tags(cls, value: Any) -> Any:
        return value.split(",") if isinstance(value, str) else value

    @schema_validator(mode="before")
    def lower_keys(cls, data: Any) -> Any:
        return {k.lower(): v for k, v in data.items()} if isinstance(data, dict) else data

    @schema_validator()
    def passwords_match(self) -> None:
        if self.password != self.confirm:
            raise ValueError("Passwords do not match")


def errors(fn: Any, *args: Any, **kw: Any) -> list[tuple[Any, str, str]]:
    with pytest.raises(ValidationError) as exc:
        fn(*args, **kw)
    return [(e["loc"], e["code"], e["msg"]) for e in exc.value.errors()]


def test_before_and_after_validators() -> None:
    s = Signup.validate({"NAME": " ada ", "password": "x", "confirm": "x", "tags": "a,b"})
    assert (s.name, s.tags) == ("ada", ["a", "b"])
    assert not Validator(Signup).fast  # validators run in the Python engine
    got = Signup.validate_json(b'{"name": "bo", "password": "x", "confirm": "x"}')
    assert got.name == "bo"


def test_validator_errors_join_type_errors() -> None:
    assert errors(Signup.validate, {"name": "  ", "password": 1, "confirm": "x"}) == [
        (("name",), "value_error", "Must not be blank"),
        (("password",), "type", "Expected `str`, got `int`"),
    ]
    assert errors(Signup.validate, {"name": "a", "password": "x", "confirm": "y"}) == [
        ((), "value_error", "Passwords do not match")
    ]


def test_validators_in_nested_schema_report_nested_locations() -> None:
    class Form(Schema):
        users: list[Signup]

    got = errors(Form.validate, {"users": [{"name": "", "password": "a", "confirm": "a"}]})
    assert got == [(("users", 0, "name"), "value_error", "Must not be blank")]


def test_validator_raising_validation_error_and_assertion() -> None:
    class Pair(Schema):
        a: int
        b: int

        @schema_validator()
        def check(self) -> Pair:
            problems = []
            if self.a < 0:
                problems.append(ErrorDetail(("a",), "negative", "a < 0"))
            if self.b < 0:
                problems.append(ErrorDetail(("b",), "negative", "b < 0"))
            if problems:
                raise ValidationError(problems)
            return Pair(a=self.a * 2, b=self.b)

        @field_validator("b")
        def small(cls, v: int) -> int:
            assert v < 100, "b too big"
            return v

    assert Pair.validate({"a": 1, "b": 2}).a == 2  # an after validator may return a new object
    assert errors(Pair.validate, {"a": -1, "b": -1}) == [
        (("a",), "negative", "a < 0"),
        (("b",), "negative", "b < 0"),
    ]
    assert errors(Pair.validate, {"a": 1, "b": 200}) == [(("b",), "value_error", "b too big")]


def test_schema_before_validator_error() -> None:
    class Strict(Schema):
        a: int

        @schema_validator(mode="before")
        def needs_dict(cls, data: Any) -> Any:
            if not isinstance(data, dict):
                raise TypeError("Send an object")
            return data

    assert errors(Strict.validate, [1]) == [((), "value_error", "Send an object")]


def test_unknown_field_in_validator() -> None:
    class Bad(Schema):
        a: int

        @field_validator("b")
        def check(cls, v: Any) -> Any:
            return v

    with pytest.raises(SchemaError, match="unknown field 'b'"):
        Bad.validate({"a": 1})


def test_subclass_overrides_validator() -> None:
    class Base(Schema):
        a: int

        @field_validator("a")
        def positive(cls, v: int) -> int:
            if v < 0:
                raise ValueError("negative")
            return v

    class Child(Base):
        def positive(cls, v: int) -> int:  # type: ignore[override]
            return v

    with pytest.raises(ValidationError):
        Base.validate({"a": -1})
    assert Child.validate({"a": -1}).a == -1


def test_decorator_arguments() -> None:
    with pytest.raises(TypeError):
        field_validator()
    with pytest.raises(TypeError):
        field_validator("a", mode="during")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        schema_validator(mode="during")  # type: ignore[arg-type]

    async def f(cls: Any, v: Any) -> Any:
        return v

    with pytest.raises(TypeError, match="async"):
        field_validator("a", mode="before")(f)
    with pytest.raises(TypeError, match="async"):
        schema_validator(mode="before")(f)


# --- async validators ---------------------------------------------------------------------

TAKEN = {"ada@example.org"}


class Account(Schema):
    email: str
    name: str = ""

    @field_validator("email")
    async def email_free(cls, value: str) -> str:
        await asyncio.sleep(0)
        if value in TAKEN:
            raise ValueError("This email is taken")
        return value.lower()

    @schema_validator()
    async def whole(self) -> None:
        await asyncio.sleep(0)
        if self.name == "root":
            raise ValueError("Reserved name")


async def test_async_validators() -> None:
    a = await Account.avalidate({"email": "BO@example.org"})
    assert a.email == "bo@example.org"
    a = await Account.avalidate_json(b'{"email": "x@y.z"}')
    assert a.email == "x@y.z"
    with pytest.raises(ValidationError) as exc:
        await Account.avalidate({"email": "ada@example.org", "name": "root"})
    assert exc.value.errors() == [
        {"loc": ("email",), "code": "value_error", "msg": "This email is taken"},
        {"loc": (), "code": "value_error", "msg": "Reserved name"},
    ]


async def test_async_validators_run_only_on_valid_input() -> None:
    with pytest.raises(ValidationError) as exc:
        await Account.avalidate({"email": 5})
    assert exc.value.errors()[0]["code"] == "type"


def test_sync_validate_refuses_schema_with_async_validators() -> None:
    with pytest.raises(SchemaError, match="avalidate"):
        Account.validate({"email": "x"})
    with pytest.raises(SchemaError, match="avalidate"):
        Account.validate_json(b'{"email": "x"}')


async def test_async_validators_nested_in_containers() -> None:
    class Team(Schema):
        members: list[Account]
        lead: Account | None = None
        by_role: dict[str, Account] = Field(default_factory=dict)
        pair: tuple[Account, int] | None = None

    with pytest.raises(ValidationError) as exc:
        await Team.avalidate(
            {
                "members": [{"email": "a@b.c"}, {"email": "ada@example.org"}],
                "lead": {"email": "ada@example.org"},
                "by_role": {"x": {"email": "ada@example.org"}},
                "pair": [{"email": "ada@example.org"}, 1],
            }
        )
    assert [e["loc"] for e in exc.value.errors()] == [
        ("members", 1, "email"),
        ("lead", "email"),
        ("by_role", "x", "email"),
        ("pair", 0, "email"),
    ]
    team = await Team.avalidate({"members": [{"email": "Q@B.C"}]}, mode="lax")
    assert team.members[0].email == "q@b.c"


async def test_async_validator_on_frozen_schema_and_typeddict() -> None:
    class Frozen(Schema, frozen=True):
        email: str

        @field_validator("email")
        async def lower(cls, v: str) -> str:
            return v.lower()

    assert (await Frozen.avalidate({"email": "A"})).email == "a"


class Pydanticish(Schema):
    name: str
    low: int = 0
    high: int = 0

    @field_validator("name")
    @classmethod
    def shout(cls, value: str) -> str:
        if not value:
            raise ValueError("Must not be empty")
        return value.upper()

    @schema_validator(mode="before")
    @classmethod
    def accept_title(cls, data: Any) -> Any:
        if isinstance(data, dict) and "title" in data:
            data = {**data, "name": data["title"]}
        return data


def test_validators_stacked_on_classmethod_run() -> None:
    # pydantic's idiom puts @classmethod under @field_validator: such a validator was
    # silently never run (its mark sat on the classmethod object, not the function).
    assert Pydanticish.validate({"name": "ada"}).name == "ADA"
    assert Pydanticish.validate({"title": "bo"}).name == "BO"
    assert Pydanticish.validate_json(b'{"name": "cy"}').name == "CY"
    with pytest.raises(ValidationError) as exc:
        Pydanticish.validate({"name": ""})
    assert exc.value.errors()[0]["code"] == "value_error"

    class Later(Schema):
        when: int

        @field_validator("when", mode="before")
        @staticmethod
        def as_number(cls: Any, value: Any) -> Any:
            return int(value) if isinstance(value, str) else value

    assert Later.validate({"when": "5"}).when == 5


async def test_async_validator_stacked_on_classmethod_runs() -> None:
    class Taken(Schema):
        email: str

        @field_validator("email")
        @classmethod
        async def free(cls, value: str) -> str:
            raise ValueError("taken")

    with pytest.raises(SchemaError):
        Taken.validate({"email": "a"})
    with pytest.raises(ValidationError):
        await Taken.avalidate({"email": "a"})


def test_a_validator_that_wants_pydantic_arguments_is_refused_when_defined() -> None:
    # def f(cls, value, info) failed at validation with a TypeError that was reported as
    # the input's value_error; it is the schema's fault, said when the class is defined.
    with pytest.raises(TypeError, match=r"must take \(cls, value\)"):

        class WithInfo(Schema):
            a: int

            @field_validator("a")
            def check(cls, value: int, info: Any) -> int:
                return value

    with pytest.raises(TypeError, match=r"must take \(self\)"):

        class Wrapped(Schema):
            a: int

            @schema_validator()
            def check(self, handler: Any) -> None:
                pass

    with pytest.raises(TypeError, match=r"must take \(cls, data\)"):

        class Before(Schema):
            a: int

            @schema_validator(mode="before")
            def check(cls) -> None:
                pass
