"""Every supported type, strict and lax, through both the fast path and the Python engine."""

from __future__ import annotations

import datetime
import decimal
import uuid
from typing import Annotated, Any, Literal

import pytest

from vivace.schema import (
    Email,
    Field,
    HttpUrl,
    Secret,
    ValidationError,
    Validator,
    validate,
    validate_json,
)

from .models import Level, Permissions

UTC = datetime.UTC


def codes(tp: Any, data: Any, mode: str = "strict") -> list[str]:
    with pytest.raises(ValidationError) as exc:
        validate(tp, data, mode=mode)  # type: ignore[arg-type]
    return [e["code"] for e in exc.value.errors()]


@pytest.mark.parametrize(
    ("tp", "good", "expected"),
    [
        (str, "x", "x"),
        (int, 5, 5),
        (int, 10**30, 10**30),
        (float, 1, 1.0),
        (float, 1.5, 1.5),
        (bool, True, True),
        (bytes, "AAEC", b"\x00\x01\x02"),
        (decimal.Decimal, "1.50", decimal.Decimal("1.50")),
        (decimal.Decimal, 2, decimal.Decimal(2)),
        (
            datetime.datetime,
            "2020-01-02T03:04:05Z",
            datetime.datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC),
        ),
        (datetime.date, "2020-01-02", datetime.date(2020, 1, 2)),
        (datetime.time, "03:04:05", datetime.time(3, 4, 5)),
        (datetime.timedelta, "P1DT2H", datetime.timedelta(days=1, hours=2)),
        (
            uuid.UUID,
            "12345678-1234-5678-1234-567812345678",
            uuid.UUID(int=0x12345678123456781234567812345678),
        ),
        (Permissions, "READ", Permissions.READ),
        (Level, 2, Level.HIGH),
        (Literal["a", 1, True], 1, 1),
        (Literal["a", 1, True], True, True),
        (list[int], [1, 2], [1, 2]),
        (tuple[int, ...], [1, 2], (1, 2)),
        (tuple[int, str], [1, "a"], (1, "a")),
        (tuple[()], [], ()),
        (set[int], [1, 1, 2], {1, 2}),
        (frozenset[str], ["a"], frozenset({"a"})),
        (dict[str, int], {"a": 1}, {"a": 1}),
        (dict[int, str], {1: "a"}, {1: "a"}),
        (int | None, None, None),
        (int | str, "1", "1"),
        (float | int, 1, 1),
        (Any, {"x": [1]}, {"x": [1]}),
        (Email, "ada@example.org", "ada@example.org"),
        (HttpUrl, "https://example.org/a?b#c", "https://example.org/a?b#c"),
    ],
)
def test_good_values(tp: Any, good: Any, expected: Any) -> None:
    out = validate(tp, good)
    assert out == expected and type(out) is type(expected)
    # The Python engine (used for every error report) gives the same answer.
    v = Validator(tp)
    assert v._run(good, 1) == expected


@pytest.mark.parametrize(
    ("tp", "bad", "code"),
    [
        (str, 1, "type"),
        (int, "1", "type"),
        (int, 1.0, "type"),
        (int, True, "type"),
        (float, "1.5", "type"),
        (bool, 1, "type"),
        (bytes, "!!", "invalid"),
        (decimal.Decimal, "x", "invalid"),
        (datetime.datetime, "2020-13-01T00:00:00", "invalid"),
        (datetime.datetime, 5, "type"),
        (Annotated[datetime.datetime, Field(tz=True)], "2020-01-01T00:00:00", "tz"),
        (datetime.date, "2020-02-30", "invalid"),
        (uuid.UUID, "nope", "invalid"),
        (Permissions, "NOPE", "enum"),
        (Permissions, 1, "type"),
        (Literal["a", "b"], "c", "literal"),
        (list[int], "x", "type"),
        (tuple[int, str], [1], "length"),
        (dict[str, int], [], "type"),
        (int | None, "x", "type"),
        (int | str, 1.5, "union"),
        (Email, "not-an-email", "email"),
        (HttpUrl, "ftp://x", "uri"),
        (Annotated[int, Field(gt=1)], 1, "gt"),
        (Annotated[int, Field(ge=1)], 0, "ge"),
        (Annotated[int, Field(lt=1)], 1, "lt"),
        (Annotated[int, Field(le=1)], 2, "le"),
        (Annotated[int, Field(multiple_of=3)], 4, "multiple_of"),
        (Annotated[float, Field(multiple_of=0.5)], 0.7, "multiple_of"),
        (Annotated[str, Field(min_length=2)], "a", "min_length"),
        (Annotated[str, Field(max_length=2)], "abc", "max_length"),
        (Annotated[str, Field(pattern="^a")], "b", "pattern"),
        (Annotated[list[int], Field(max_length=1)], [1, 2], "max_length"),
        (Annotated[decimal.Decimal, Field(ge=0)], "-1", "ge"),
        (Annotated[bytes, Field(max_length=1)], "AAEC", "max_length"),
    ],
)
def test_bad_values(tp: Any, bad: Any, code: str) -> None:
    assert codes(tp, bad) == [code]


def test_python_objects_in_strict_python_mode() -> None:
    now = datetime.datetime(2020, 1, 1, tzinfo=UTC)
    assert validate(datetime.datetime, now) is now
    assert validate(bytes, b"x") == b"x"
    assert validate(list[int], (1, 2)) == [1, 2]
    assert validate(Permissions, Permissions.READ) is Permissions.READ
    assert validate(uuid.UUID, uuid.UUID(int=1)) == uuid.UUID(int=1)


def test_json_only_takes_json_types() -> None:
    assert validate_json(bytes, b'"AAEC"') == b"\x00\x01\x02"
    assert validate_json(dict[int, str], b'{"1": "a"}') == {1: "a"}
    with pytest.raises(ValidationError):
        validate_json(dict[int, str], b'{"x": "a"}')
    assert validate_json(decimal.Decimal, b"1.25") == decimal.Decimal("1.25")


def test_secret_never_prints() -> None:
    s = validate(Secret, "hunter2")
    assert "hunter2" not in repr(s) and "hunter2" not in str(s) and f"{s}" == "**********"
    assert s.get_secret_value() == "hunter2"
    assert s == Secret("hunter2") and s != Secret("x") and len(s) == 7
    assert s != "hunter2" and hash(s) == hash(Secret("hunter2"))
    assert validate(Secret, s) is s
    assert codes(Secret, 1) == ["type"]
    assert codes(Annotated[Secret, Field(min_length=8)], "short") == ["min_length"]
    assert validate_json(Secret, b'"x"').get_secret_value() == "x"


# --- lax mode -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tp", "text", "expected"),
    [
        (int, "42", 42),
        (int, "-7", -7),
        (int, "+7", 7),
        (float, "1.5", 1.5),
        (float, "2", 2.0),
        (float, "1e3", 1000.0),
        (bool, "true", True),
        (bool, "on", True),
        (bool, "Yes", True),
        (bool, "1", True),
        (bool, "false", False),
        (bool, "off", False),
        (bool, "0", False),
        (Level, "2", Level.HIGH),
        (Literal[1, 2], "2", 2),
        (Literal[True], "true", True),
        (int | None, "", None),
        (int | None, "3", 3),
        (list[int], ["1", "2"], [1, 2]),
        (list[int], "5", [5]),
        (dict[str, int], {"a": "1"}, {"a": 1}),
        (datetime.date, "2020-01-02", datetime.date(2020, 1, 2)),
        (str, "", ""),
    ],
)
def test_lax_conversions(tp: Any, text: Any, expected: Any) -> None:
    assert validate(tp, text, mode="lax") == expected


@pytest.mark.parametrize(
    ("tp", "text"),
    [
        (int, "4.0"),
        (int, "1_000"),
        (int, " 1"),
        (int, "9" * 5000),
        (float, "nan"),
        (float, "inf"),
        (float, "1e999"),
        (float, "x"),
        (bool, "maybe"),
        (None, "x"),
    ],
)
def test_lax_refusals(tp: Any, text: str) -> None:
    assert codes(tp, text, "lax")[0] in ("invalid", "type")


def test_lax_is_not_strict() -> None:
    assert codes(int, "42") == ["type"]
    with pytest.raises(ValueError, match="mode"):
        validate(int, 1, mode="loose")  # type: ignore[arg-type]


def test_lax_blank_means_missing_for_optional_and_non_text_fields() -> None:
    from vivace.schema import Schema

    class Q(Schema):
        limit: int = 10
        q: str | None = None
        name: str = "x"
        needed: int

    got = Q.validate({"limit": "", "q": "", "name": "", "needed": "1"}, mode="lax")
    assert (got.limit, got.q, got.name, got.needed) == (10, None, "", 1)
    with pytest.raises(ValidationError) as exc:
        Q.validate({"needed": ""}, mode="lax")
    assert exc.value.errors() == [{"loc": ("needed",), "code": "missing", "msg": "Field required"}]


def test_lax_from_multidict() -> None:
    from vivace.http import QueryParams
    from vivace.schema import Schema

    class Search(Schema):
        q: str
        tags: list[str] = Field(default_factory=list)
        page: int = 1

    s = Search.validate(QueryParams("q=x&tags=a&tags=b&page=3"), mode="lax")
    assert (s.q, s.tags, s.page) == ("x", ["a", "b"], 3)
    assert validate(dict[str, int], QueryParams("a=1&b=2"), mode="lax") == {"a": 1, "b": 2}
    assert validate(dict[str, list[int]], QueryParams("a=1&a=2"), mode="lax") == {"a": [1, 2]}


@pytest.mark.parametrize(
    ("tp", "text", "code"),
    [
        (Email, "ada@example.org\n", "email"),
        (HttpUrl, "https://example.org/\n", "uri"),
        (Annotated[str, Field(pattern=r"^[a-z-]+$")], "a-slug\n", "pattern"),
        (Annotated[str, Field(pattern=r"^x$|^y$")], "x\n", "pattern"),
    ],
)
def test_a_pattern_ending_in_dollar_refuses_a_final_newline(tp: Any, text: str, code: str) -> None:
    # JSON Schema's (ECMA-262) "$" is the end of the text; Python's also matches before a
    # final newline, which let "ada@example.org\n" through both engines.
    for mode in ("strict", "lax"):
        assert codes(tp, text, mode) == [code]
    with pytest.raises(ValidationError):
        validate_json(tp, ('"' + text.replace("\n", "\\n") + '"').encode())
    assert validate(tp, text[:-1]) == text[:-1]


def test_a_pattern_is_reported_and_described_as_given() -> None:
    tp = Annotated[str, Field(pattern=r"^[a$]+$")]
    with pytest.raises(ValidationError) as info:
        validate(tp, "b")
    assert info.value.errors()[0]["msg"] == "Must match '^[a$]+$'"
    assert validate(tp, "a$a") == "a$a"
    assert Validator(tp).json_schema()["pattern"] == "^[a$]+$"
    # A pattern in multi-line mode keeps Python's reading of "$" (it asked for lines).
    assert validate(Annotated[str, Field(pattern=r"(?m)^a$")], "a\nb") == "a\nb"
