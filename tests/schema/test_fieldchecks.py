"""field_checks: a class's fields validated one by one with the class's own rules."""

import dataclasses
from typing import Annotated, Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vivace.schema import (
    ErrorDetail,
    Field,
    Schema,
    SchemaError,
    create_schema,
    field_checks,
    field_validator,
)


class Page(Schema):
    limit: Annotated[int, Field(ge=1, le=100)] = 10
    q: str | None = None
    name: str = ""
    tags: list[int] = Field(default_factory=list)
    seen: list[str] = []  # noqa: RUF012 - an empty mutable default, copied per use
    token: str = Field("none", alias="x-token")
    when: int = Field(default=0, read_only=True)
    needed: bool = False


def run(check: Any, value: Any) -> tuple[Any, list[tuple[Any, str]]]:
    errs: list[ErrorDetail] = []
    out = check.check(value, ("here",), errs)
    return out, [(e.loc, e.code) for e in errs]


def test_lax_checks_convert_text_and_apply_constraints() -> None:
    checks = {c.name: c for c in field_checks(Page)}
    assert "when" not in checks  # read-only: never read from input
    assert checks["token"].key == "x-token"
    assert run(checks["limit"], "20") == (20, [])
    assert run(checks["limit"], "0")[1] == [(("here",), "ge")]
    assert run(checks["limit"], "x")[1] == [(("here",), "invalid")]
    assert run(checks["tags"], ["1", "2"]) == ([1, 2], [])
    assert run(checks["tags"], ["1", "b"])[1] == [(("here", 1), "invalid")]
    assert run(checks["needed"], "on") == (True, [])


def test_blank_values_and_defaults() -> None:
    checks = {c.name: c for c in field_checks(Page)}
    assert checks["limit"].absent("") and checks["q"].absent("")
    assert not checks["name"].absent("")  # a blank text is a text
    assert not checks["limit"].absent("1")
    errs: list[ErrorDetail] = []
    assert checks["limit"].default(("limit",), errs) == 10
    first, second = checks["seen"].default((), errs), checks["seen"].default((), errs)
    assert first == second == [] and first is not second
    assert checks["tags"].default((), errs) == []
    assert errs == []
    Need = create_schema("Need", {"n": int})
    (n,) = field_checks(Need)
    assert n.default(("query", "n"), errs) is None
    assert [(e.loc, e.code) for e in errs] == [(("query", "n"), "missing")]
    assert repr(n) == "FieldCheck('n', key='n')"


def test_strict_and_json_modes_do_not_convert_text() -> None:
    (strict,) = field_checks(create_schema("S", {"n": int}), mode="strict")
    assert run(strict, "1")[1] == [(("here",), "type")]
    assert not strict.absent("")
    (js,) = field_checks(create_schema("J", {"n": int}), mode="json")
    assert run(js, 1) == (1, [])
    with pytest.raises(ValueError, match="mode must be"):
        field_checks(Page, mode="loose")  # type: ignore[arg-type]


def test_dataclasses_and_classes_with_validators() -> None:
    @dataclasses.dataclass
    class Point:
        x: int
        y: int = 0

    assert [c.name for c in field_checks(Point)] == ["x", "y"]

    class Checked(Schema):
        n: int

        @field_validator("n")
        def positive(cls, v: int) -> int:
            return v

    with pytest.raises(SchemaError, match="has validators"):
        field_checks(Checked)


# --- text_shortcut: the lax check's common case, for callers generating code ---------

SHORTCUT_FIELDS: dict[str, Any] = {
    "text": (str, ...),
    "optional_text": (str | None, None),
    "sized": (Annotated[str, Field(min_length=2, max_length=5)], ...),
    "number": (int, ...),
    "optional_number": (int | None, None),
    "bounded": (Annotated[int, Field(ge=1, le=100)], 10),
    "open_bounds": (Annotated[int, Field(gt=-3, lt=2.5)], 0),
    "optional_bounded": (Annotated[int, Field(ge=0)] | None, None),
}
Shortcuts = create_schema("Shortcuts", SHORTCUT_FIELDS)


def shortcut_agrees(check: Any, raw: Any) -> None:
    """When the shortcut's condition holds, ``check`` returns its value with no error."""
    shortcut = check.text_shortcut("raw")
    assert shortcut is not None, check.name
    condition, value = shortcut
    namespace = {"raw": raw}  # the condition may bind raw_int, which the value reads
    if eval(condition, {}, namespace):
        errs: list[ErrorDetail] = []
        got = check.check(raw, ("here",), errs)
        assert errs == [], (check.name, raw)
        want = eval(value, {}, namespace)
        assert got == want and type(got) is type(want), (check.name, raw)


@pytest.mark.parametrize("check", field_checks(Shortcuts), ids=lambda c: c.name)
@pytest.mark.parametrize(
    "raw",
    [
        "",
        "0",
        "1",
        "42",
        "100",
        "101",
        "-1",
        "+5",
        "007",
        " 5",
        "5 ",
        "1_0",
        "²",
        "٣",
        "9" * 18,
        "9" * 19,
        "9" * 5000,
        "ab",
        "abcdef",
        "x",
        42,
        None,
        2.5,
        True,
    ],
)
def test_shortcuts_on_chosen_values(check: Any, raw: Any) -> None:
    shortcut_agrees(check, raw)


@given(st.one_of(st.text(max_size=25), st.from_regex(r"[+-]?[0-9]{0,22}", fullmatch=True)))
@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
def test_shortcuts_never_disagree_with_the_check(raw: str) -> None:
    for check in field_checks(Shortcuts):
        shortcut_agrees(check, raw)


def test_which_fields_have_a_shortcut() -> None:
    class Others(Schema):
        ratio: float = 0.5
        flag: bool = False
        pattern: Annotated[str, Field(pattern="^a")] = "a"
        step: Annotated[int, Field(multiple_of=2)] = 0
        many: list[int] = []  # noqa: RUF012 - copied per use
        either: int | str = 0

    assert [c.text_shortcut("raw") for c in field_checks(Others)] == [None] * 6
    # Strict modes have no text to convert: no shortcut.
    assert all(c.text_shortcut("raw") is None for c in field_checks(Shortcuts, mode="strict"))
