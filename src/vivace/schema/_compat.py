"""The private parts of the standard library that vivace.schema relies on, in one place.

``Page[Item]`` for a generic schema is a ``typing._GenericAlias``: it forwards attribute
lookups to ``Page``, so ``Page[Item].validate`` would be ``Page.validate`` and validate
``items`` as ``list[Any]``, silently. pydantic users write ``Page[Item].model_validate``;
the alias must validate as ``Page[Item]``. Nothing public lets a generic class choose the
alias its subscription returns, so ``SchemaAlias`` subclasses ``typing._GenericAlias``
(``_root=True`` is how typing allows its own subclasses) and ``parametrise`` turns the
alias ``typing.Generic`` built into one (an object's ``__class__`` changed in place, so
typing's cache of aliases keeps one object per ``Page[Item]``).

tests/schema/test_compat.py checks these against the running Python and fails, naming
what changed, when a release changes one.
"""

from __future__ import annotations

import types
import typing
from typing import Any

__all__ = ["ALIAS_METHODS", "SchemaAlias", "parametrise"]

#: The class methods of a Schema that a parametrised alias binds to itself.
ALIAS_METHODS = frozenset(
    {"validate", "validate_json", "avalidate", "avalidate_json", "validate_form", "json_schema"}
)

_GenericAlias: Any = getattr(typing, "_GenericAlias")  # noqa: B009 - private, named here


class SchemaAlias(_GenericAlias, _root=True):  # type: ignore[misc,call-arg]
    """``Page[Item]``: ``Page[Item].validate(...)`` validates as ``Page[Item]``."""

    def __getattr__(self, attr: str) -> Any:
        found = super().__getattr__(attr)
        if attr in ALIAS_METHODS and isinstance(found, types.MethodType):
            # A class method bound to the bare class: bind it to the alias instead.
            return types.MethodType(found.__func__, self)
        return found


def parametrise(alias: Any) -> Any:
    """``alias`` (what ``typing.Generic`` returned) as a ``SchemaAlias``."""
    if type(alias) is _GenericAlias:
        alias.__class__ = SchemaAlias
    return alias
