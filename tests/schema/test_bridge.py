"""What the fast path relies on in msgspec: fails when a msgspec release changes it."""

from __future__ import annotations

from typing import Annotated

import msgspec
import pytest

from vivace.schema import Field, Schema, ValidationError, Validator
from vivace.schema._nodes import struct_fields


def test_msgspec_reads_struct_annotations_lazily() -> None:
    # The bridge rewrites a schema's annotations into msgspec's dialect before the first
    # decoder is built; msgspec must read them then, not at class creation.
    class Late(Schema):
        x: Annotated[int, Field(ge=0)]

    assert Validator(Late).fast
    with pytest.raises(ValidationError):
        Late.validate_json(b'{"x": -1}')
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(b'{"x": -1}', type=Late)


def test_struct_defaults_layout() -> None:
    class S(msgspec.Struct, kw_only=True):
        a: int = 1
        b: list[int] = msgspec.field(default_factory=list)
        c: int
        d: int = msgspec.field(name="D", default=3)

    got = struct_fields(S)
    assert [(n, k, d) for n, k, d, _ in got] == [
        ("a", "a", 1),
        ("b", "b", got[1][2]),
        ("c", "c", got[2][2]),
        ("d", "D", 3),
    ]
    assert got[1][3] is list and got[2][3] is None
    assert repr(got[2][2]) == "NODEFAULT"


def test_subclassing_structmeta_and_unset_are_supported() -> None:
    assert isinstance(Schema, msgspec.StructMeta)
    assert msgspec.UNSET is not None and not msgspec.UNSET
