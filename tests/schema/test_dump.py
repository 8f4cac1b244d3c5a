"""Output: dump and dump_json, their options, PATCH schemas and fields_set."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import json
import uuid
from typing import Annotated, Any

import msgspec
import pytest

from vivace.schema import (
    UNSET,
    Field,
    Partial,
    Schema,
    SchemaError,
    Secret,
    UnsetType,
    ValidationError,
    Validator,
    dump,
    dump_json,
    field_validator,
    fields_set,
    partial,
)

from .models import Address, Directory, File, User, tree_json


def test_dump_round_trip_and_fast_path_equality() -> None:
    d = Directory.validate(tree_json(3))
    assert Directory.validate_json(d.dump_json()) == d
    assert dump(d) == msgspec.json.decode(d.dump_json())
    # The Python path writes the same as msgspec does.
    assert dump(d, exclude_defaults=True) == d.dump()
    assert dump_json(d, exclude={"nothing"}) == d.dump_json()


def test_omit_defaults_follows_the_class_unless_overridden() -> None:
    f = File.validate(tree_json(1)["contents"][0])  # type: ignore[index]
    assert "updated_by" not in f.dump()
    assert f.dump(exclude_defaults=False)["updated_by"] is None
    u = User(name="a")
    assert u.dump() == {
        "name": "a",
        "age": 0,
        "email": None,
        "tags": [],
        "address": None,
        "kind": "person",
    }
    assert u.dump(exclude_defaults=True) == {"name": "a"}


def test_include_exclude_nested() -> None:
    u = User(name="a", address=Address(street="s"))
    assert u.dump(include={"name", "address"}) == {
        "name": "a",
        "address": {"street": "s", "city": "Paris", "zip_code": "75001"},
    }
    assert u.dump(include={"address": {"city"}}) == {"address": {"city": "Paris"}}
    assert u.dump(include={"address": True}) == {
        "address": {"street": "s", "city": "Paris", "zip_code": "75001"}
    }
    assert u.dump(
        exclude={"address": {"city", "zip_code"}, "tags": True}, exclude_defaults=True
    ) == {
        "name": "a",
        "address": {"street": "s"},
    }
    assert u.dump_json(include={"name"}) == b'{"name":"a"}'


def test_types_in_output() -> None:
    class Everything(Schema):
        when: datetime.datetime
        day: datetime.date
        span: datetime.timedelta
        id: uuid.UUID
        money: decimal.Decimal
        raw: bytes
        pair: tuple[int, str]
        tags: set[str]
        counts: dict[int, int]
        secret: Secret
        anything: Any = None

    e = Everything.validate(
        {
            "when": "2020-01-01T00:00:00Z",
            "day": "2020-01-02",
            "span": "PT1S",
            "id": str(uuid.UUID(int=5)),
            "money": "1.10",
            "raw": "AAE=",
            "pair": [1, "a"],
            "tags": ["x"],
            "counts": {1: 2},
            "secret": "pw",
            "anything": {"nested": [1, 2.5, None]},
        }
    )
    out = e.dump()
    assert out["when"] == "2020-01-01T00:00:00Z" and out["day"] == "2020-01-02"
    assert out["span"] == "PT1S" and out["money"] == "1.10" and out["raw"] == "AAE="
    assert out["pair"] == [1, "a"] and out["tags"] == ["x"] and out["counts"] == {"1": 2}
    assert out["secret"] == "**********"
    assert b'"secret":"**********"' in e.dump_json()
    assert b"pw" not in e.dump_json(exclude={"raw"})


def test_write_only_and_excluded_fields_are_never_written() -> None:
    class Login(Schema):
        user: str
        password: str = Field(write_only=True)
        internal: int = Field(default=0, exclude=True)

    login = Login.validate({"user": "a", "password": "pw", "internal": 3})
    assert login.password == "pw" and login.internal == 3
    assert login.dump() == {"user": "a"}
    assert login.dump_json() == b'{"user":"a"}'


def test_read_only_fields_are_ignored_on_input() -> None:
    class Article(Schema):
        id: int = Field(default=0, read_only=True)
        title: str

    a = Article.validate({"id": 99, "title": "x"})
    assert a.id == 0
    assert not Validator(Article).fast
    assert Article.validate_json(b'{"id": "junk", "title": "x"}').id == 0
    assert Article(id=5, title="x").dump() == {"id": 5, "title": "x"}


def test_dump_of_plain_data_and_dataclasses() -> None:
    @dataclasses.dataclass
    class P:
        x: int
        when: datetime.date

    assert dump([P(1, datetime.date(2020, 1, 1))]) == [{"x": 1, "when": "2020-01-01"}]
    assert dump({"a": (1, 2), "b": {3}}) == {"a": [1, 2], "b": [3]}
    assert dump_json({"a": None}) == b'{"a":null}'
    assert Validator(list[P]).dump_json([P(1, datetime.date(2020, 1, 1))]) == (
        b'[{"x":1,"when":"2020-01-01"}]'
    )
    assert Validator(int).dump(3) == 3


def test_object_that_json_cannot_hold() -> None:
    with pytest.raises(TypeError):
        dump_json({"a": object()})


# --- PATCH ------------------------------------------------------------------------------


class Profile(Schema):
    name: Annotated[str, Field(min_length=1)]
    bio: str = ""
    age: int = 0
    links: list[str] = Field(default_factory=list)

    @field_validator("name")
    def no_admin(cls, v: str) -> str:
        if v == "admin":
            raise ValueError("Reserved")
        return v


def test_partial_validates_only_what_was_sent() -> None:
    P = Partial[Profile]
    assert P is partial(Profile)
    patch = P.validate({"bio": "hi"})
    assert (patch.name, patch.bio, patch.age) == (UNSET, "hi", UNSET)
    assert fields_set(patch) == {"bio"}
    assert patch.dump(exclude_unset=True) == {"bio": "hi"}
    # Without exclude_unset, unsent fields with a default are written with it.
    assert patch.dump() == {"bio": "hi", "age": 0, "links": []}
    with pytest.raises(ValidationError) as exc:
        P.validate({"name": "", "age": "x"})
    assert [e["code"] for e in exc.value.errors()] == ["min_length", "type"]
    with pytest.raises(ValidationError):
        P.validate({"name": "admin"})  # field validators still run
    assert P.validate_json(b"{}").dump_json(exclude_unset=True) == b"{}"
    assert P.__name__ == "ProfilePartial"


def test_fields_set_and_unset_default() -> None:
    class Patchy(Schema):
        a: int | UnsetType = UNSET
        b: int = 0

    p = Patchy.validate({"b": 1})
    assert fields_set(p) == {"b"}
    assert p.dump() == {"b": 1}
    assert fields_set(Patchy.validate({"a": 1})) == {"a", "b"}


def test_fields_set_of_a_typeddict() -> None:
    from typing import TypedDict

    class Movie(TypedDict, total=False):
        title: str
        year: int

    from vivace.schema import validate

    assert fields_set(validate(Movie, {"year": 1999})) == {"year"}


def test_partial_of_non_schema() -> None:
    with pytest.raises(SchemaError):
        partial(int)


def test_dump_json_without_options_decides_per_class_once() -> None:
    class Login(Schema):
        name: str
        password: Secret
        pin: str = Field(write_only=True)  # msgspec alone would write it

    class Plain(Schema):
        name: str
        tags: list[str] = []  # noqa: RUF012 - copied per instance

    for _ in range(2):  # the first call decides, the second reads the decision
        assert dump_json(Plain(name="a")) == b'{"name":"a","tags":[]}'
        assert dump_json(Login(name="a", password=Secret("p"), pin="1")) == (
            b'{"name":"a","password":"**********"}'
        )
        assert dump_json([Plain(name="b")]) == b'[{"name":"b","tags":[]}]'
        assert Validator(Plain).dump_json(Plain(name="c")) == b'{"name":"c","tags":[]}'


class Contactable(Schema):
    name: str
    email: str | None = None
    phone: str | None = Field(default=None, alias="tel")
    notes: dict[str, int | None] = Field(default_factory=dict)
    scores: list[int | None] = Field(default_factory=list)
    friends: list[Contactable] = Field(default_factory=list)


def test_exclude_none_leaves_out_fields_holding_none() -> None:
    # pydantic's model_dump(exclude_none=True): was a TypeError (no such option).
    c = Contactable(
        name="Ada",
        phone=None,
        notes={"a": None},
        scores=[None, 1],
        friends=[Contactable(name="Bo", email="bo@x.org")],
    )
    expected = {
        "name": "Ada",
        "notes": {"a": None},  # a dict's and a list's None values stay, as in pydantic
        "scores": [None, 1],
        "friends": [{"name": "Bo", "email": "bo@x.org", "notes": {}, "scores": [], "friends": []}],
    }
    assert c.dump(exclude_none=True) == expected
    assert json.loads(c.dump_json(exclude_none=True)) == expected
    assert dump([c], exclude_none=True) == [expected]
    assert c.dump(exclude_none=True, include={"name", "email"}) == {"name": "Ada"}
    assert c.dump()["tel"] is None  # without the option, None is written
    assert b"tel" not in dump_json(c, exclude_none=True)


class Keyed(Schema):
    by_id: dict[int, str] = Field(default_factory=dict)
    by_uuid: dict[uuid.UUID, Secret] = Field(default_factory=dict)


def test_dump_writes_dict_keys_as_json_text() -> None:
    # dump() is JSON-ready data: int keys stayed ints ({1: 'a'}), which orjson refuses and
    # which disagreed with dump_json's "1" (pydantic's mode="json" writes "1" too).
    k = Keyed(by_id={1: "a"}, by_uuid={uuid.UUID(int=1): Secret("pw")})
    expected = {
        "by_id": {"1": "a"},
        "by_uuid": {"00000000-0000-0000-0000-000000000001": "**********"},
    }
    assert k.dump() == expected  # Secret: the Python path
    assert Keyed(by_id={1: "a"}).dump() == {"by_id": {"1": "a"}, "by_uuid": {}}  # msgspec's
    assert dump({2: [k]}, exclude=None)["2"][0] == expected
    assert json.loads(k.dump_json()) == expected
    assert Keyed.validate(k.dump(), mode="lax").by_id == {1: "a"}
