"""The private parts of ``typing`` that vivace.schema relies on (vivace/schema/_compat.py).

A Python release that changes one fails here, naming it, rather than somewhere inside the
generic-schema tests.
"""

from __future__ import annotations

import typing
from typing import Generic, TypeVar

from vivace.schema import _compat

T = TypeVar("T")


class Plain(Generic[T]):
    pass


def test_generic_subscription_returns_typing_generic_alias() -> None:
    alias = Plain[int]
    assert type(alias) is typing._GenericAlias  # type: ignore[attr-defined]
    assert alias.__dict__.get("__origin__") is Plain


def test_generic_alias_forwards_attribute_lookups_through_getattr() -> None:
    # SchemaAlias overrides __getattr__: typing must still route missing names there.
    assert "__getattr__" in vars(typing._BaseGenericAlias)  # type: ignore[attr-defined]
    assert Plain[int].__init_subclass__ is not None
    assert Plain[int].mro == Plain.mro


def test_schema_alias_keeps_what_typing_reads() -> None:
    alias = _compat.parametrise(Plain[int])
    assert type(alias) is _compat.SchemaAlias
    assert typing.get_origin(alias) is Plain
    assert typing.get_args(alias) == (int,)
    assert alias == Plain[int]
    assert _compat.parametrise(list[int]) == list[int]  # not typing's class: left alone
