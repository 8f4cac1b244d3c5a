"""The two engines agree: for the same input, msgspec (the fast path) and the Python engine
(every error report, and the types msgspec cannot take) accept and refuse the same values
and build equal results. Hypothesis feeds both the same inputs."""

from __future__ import annotations

import datetime
import decimal
import os
import uuid
from typing import Annotated, Any, Literal

import msgspec
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from vivace.schema import Field, ValidationError, Validator
from vivace.schema._engine import BAD, JSON, PYTHON

from .models import Directory, Level, Permissions, User

# Per type and test; raise it locally (VIVACE_SCHEMA_EXAMPLES=2000) for a deeper search.
EXAMPLES = int(os.environ.get("VIVACE_SCHEMA_EXAMPLES", "30"))

TYPES: list[Any] = [
    int,
    float,
    str,
    bool,
    None,
    Any,
    int | None,
    int | str,
    float | int,
    list[int],
    list[str | None],
    set[int],
    frozenset[str],
    tuple[int, str],
    tuple[int, ...],
    dict[str, int],
    dict[int, str],
    datetime.datetime,
    Annotated[datetime.datetime, Field(tz=True)],
    datetime.date,
    datetime.time,
    datetime.timedelta,
    uuid.UUID,
    decimal.Decimal,
    bytes,
    Permissions,
    Level,
    Literal["a", "b", 3],
    Annotated[int, Field(ge=0, lt=100, multiple_of=3)],
    Annotated[float, Field(gt=-1.5, le=2.5, multiple_of=0.5)],
    Annotated[str, Field(min_length=2, max_length=4, pattern="^[a-c]")],
    Annotated[list[int], Field(min_length=1, max_length=3)],
    Annotated[dict[str, int], Field(max_length=2)],
    User,
    Directory,
]

# Strings shaped like the formats msgspec parses, mutated, so both parsers meet edge cases.
_DATEISH = st.from_regex(
    r"\A[+-]?[0-9]{1,5}(-[0-9]{1,3}){0,2}([Tt ]([0-9]{1,3}:){0,2}[0-9]{1,3}"
    r"(\.[0-9]{0,10})?([Zz]|[+-][0-9]{1,2}:?[0-9]{0,2})?)?\Z"
)
_DURATION = st.from_regex(r"\A[+-]?[Pp]([0-9]{1,4}(\.[0-9]{1,3})?[DdHhMmSsWw]|[Tt]){0,4}\Z")
_UUIDISH = st.one_of(
    st.uuids().map(str),
    st.uuids().map(lambda u: u.hex),
    st.from_regex(r"\A[0-9a-fA-F-]{30,38}\Z"),
)
_NUMBERISH = st.from_regex(r"\A[+-]?[0-9]{0,4}(\.[0-9]{0,4})?([eE][+-]?[0-9]{1,3})?\Z")
_B64ISH = st.from_regex(r"\A[A-Za-z0-9+/]{0,12}={0,2}\Z")
_TEXT = st.one_of(
    st.text(max_size=6),
    st.sampled_from(["READ", "WRITE", "a", "b", "file", "directory", "", "ab", "abcd"]),
    _DATEISH,
    _DURATION,
    _UUIDISH,
    _NUMBERISH,
    _B64ISH,
)
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.integers(min_value=-5, max_value=105),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0.5, 1.0, -1.5, 2.5, 3.0]),
    _TEXT,
)
_KEYS = st.one_of(
    st.sampled_from(
        [
            "name",
            "age",
            "email",
            "tags",
            "address",
            "street",
            "kind",
            "type",
            "created_by",
            "created_at",
            "contents",
            "nbytes",
            "permissions",
            "updated_at",
            "1",
            "-2",
            "01",
        ]
    ),
    st.text(max_size=3),
)
JSONISH = st.recursive(
    _SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(_KEYS, children, max_size=6),
    ),
    max_leaves=20,
)


_VALIDATORS: dict[str, Validator[Any]] = {}


def validator(tp: Any) -> Validator[Any]:
    v = _VALIDATORS.get(repr(tp))
    if v is None:
        v = _VALIDATORS[repr(tp)] = Validator(tp)
        assert v.fast
    return v


def _outcome(fn: Any) -> tuple[bool, Any]:
    try:
        return True, fn()
    except (msgspec.ValidationError, ValidationError):
        return False, None


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and a != a and b != b:
        return True
    if isinstance(a, decimal.Decimal) and isinstance(b, decimal.Decimal) and a.is_nan():
        # NaN is unequal to itself, and comparing a signalling NaN raises: the same NaN
        # is the same kind (quiet or signalling) with the same sign.
        return b.is_nan() and a.is_snan() == b.is_snan() and a.is_signed() == b.is_signed()
    return bool(a == b and type(a) is type(b))


@pytest.mark.parametrize("tp", TYPES, ids=repr)
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=JSONISH)
@example(data="NAN")  # found by hypothesis: Decimal('NaN') from both engines
@example(data="-sNaN")
def test_engines_agree_on_python_data(tp: Any, data: Any) -> None:
    v = validator(tp)
    fast_ok, fast_out = _outcome(lambda: msgspec.convert(data, v._fast, strict=True))
    errs: list[Any] = []
    slow_out = v._check(PYTHON)(data, (), errs)
    slow_ok = slow_out is not BAD
    assert fast_ok == slow_ok, (data, fast_out, errs)
    if fast_ok:
        assert _same(fast_out, slow_out), (data, fast_out, slow_out)


@pytest.mark.parametrize("tp", TYPES, ids=repr)
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=JSONISH)
def test_engines_agree_on_json(tp: Any, data: Any) -> None:
    v = validator(tp)
    doc = msgspec.json.encode(data)
    fast_ok, fast_out = _outcome(lambda: v._decoder.decode(doc))  # type: ignore[union-attr]
    errs: list[Any] = []
    slow_out = v._check(JSON)(msgspec.json.decode(doc), (), errs)
    slow_ok = slow_out is not BAD
    assert fast_ok == slow_ok, (doc, fast_out, errs)
    if fast_ok:
        assert _same(fast_out, slow_out), (doc, fast_out, slow_out)
    # And the public entry point says the same.
    public_ok, _ = _outcome(lambda: v.validate_json(doc))
    assert public_ok == fast_ok
