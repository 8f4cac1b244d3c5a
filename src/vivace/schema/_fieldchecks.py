"""``field_checks``: a class's fields validated one by one, for callers that gather values.

``Validator.validate`` takes one object (a dict, a multidict) and returns an instance of
the class. A caller whose values come from several places, and who wants the values
rather than an instance, pays there for a dict built only to be read, an instance built
only to be taken apart, and a validation call per place. vivace.web's typed parameters
are such a caller: a handler's path, query, header and cookie parameters are read from
four places and passed as keyword arguments.

``field_checks(cls)`` gives, for each field, the same rules the engine applies to that
field inside ``cls`` (its node with every constraint, the mode's conversions, the lax
rule that a blank value of a non-text field counts as absent, the default or the
``missing`` error), as a ``FieldCheck`` the caller runs on a value it found. The class
may have no validators: a schema validator sees the whole object, which is not built.
"""

from __future__ import annotations

from typing import Any, Literal

from vivace.schema._bridge import leaf_type
from vivace.schema._engine import JSON, LAX, PYTHON, Check, Compiler
from vivace.schema._errors import ErrorDetail, SchemaError
from vivace.schema._nodes import STRING_KINDS, FieldSpec, class_info
from vivace.schema._validators import class_validators

__all__ = ["FieldCheck", "field_checks"]

_MODES = {"lax": LAX, "strict": PYTHON, "json": JSON}
# Mutable defaults are copied for each use, as msgspec does for a Struct's instances.
_COPIED = (list, dict, set, bytearray)


class FieldCheck:
    """One field of a class: ``check(value, loc, errs)`` validates a value found for it.

    ``check`` returns the value to use and appends an ``ErrorDetail`` to ``errs`` for every
    problem (what it returns then is meaningless: look at ``errs``). ``absent(value)``
    says whether a value counts as not given (in lax mode, a blank value of a non-text
    field); for an absent value, ``default()`` gives the field's default, or appends the
    ``missing`` error when it has none.
    """

    __slots__ = ("blank_is_absent", "check", "key", "name", "spec")

    def __init__(self, spec: FieldSpec, check: Check, lax: bool) -> None:
        self.spec = spec
        self.name = spec.name
        self.key = spec.key
        self.check = check
        self.blank_is_absent = lax and (spec.node.nullable or spec.node.kind not in STRING_KINDS)

    def absent(self, value: Any) -> bool:
        return self.blank_is_absent and value == ""

    def default(self, loc: tuple[str | int, ...], errs: list[ErrorDetail]) -> Any:
        spec = self.spec
        if spec.required:
            errs.append(ErrorDetail(loc, "missing", "Field required"))
            return None
        value = spec.default_value()
        return value.copy() if type(value) in _COPIED else value

    def __repr__(self) -> str:
        return f"FieldCheck({self.name!r}, key={self.key!r})"


def field_checks(cls: type, *, mode: Literal["lax", "strict", "json"] = "lax") -> list[FieldCheck]:
    """The checks of ``cls``'s fields (a Schema, dataclass or TypedDict), in field order.

    >>> from typing import Annotated
    >>> from vivace.schema import Field, create_schema, field_checks
    >>> Page = create_schema("Page", {"limit": (Annotated[int, Field(ge=1)], 10)})
    >>> (limit,) = field_checks(Page)
    >>> errs = []
    >>> limit.check("20", ("limit",), errs), errs
    (20, [])
    >>> limit.check("0", ("limit",), errs) and [e.code for e in errs]
    ['ge']
    """
    if mode not in _MODES:
        raise ValueError("mode must be 'lax', 'strict' or 'json'")
    vals = class_validators(cls)
    if vals.any_sync or vals.any_async:
        raise SchemaError(
            f"{cls.__qualname__} has validators: field checks do not build the object they see"
        )
    compiler = Compiler(_MODES[mode], leaf_type)
    return [
        FieldCheck(f, compiler.node(f.node), mode == "lax")
        for f in class_info(cls).fields
        if not f.read_only
    ]
