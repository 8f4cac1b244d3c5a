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

import math
from typing import Any, Literal

from vivace.schema._bridge import leaf_type
from vivace.schema._engine import JSON, LAX, PYTHON, Check, Compiler
from vivace.schema._errors import ErrorDetail, SchemaError
from vivace.schema._nodes import STRING_KINDS, FieldSpec, class_info
from vivace.schema._validators import class_validators

__all__ = ["FieldCheck", "field_checks"]

_MODES = {"lax": LAX, "strict": PYTHON, "json": JSON}
_BOUNDS = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}
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

    __slots__ = ("blank_is_absent", "check", "key", "lax", "name", "spec")

    def __init__(self, spec: FieldSpec, check: Check, lax: bool) -> None:
        self.spec = spec
        self.name = spec.name
        self.key = spec.key
        self.check = check
        self.lax = lax
        self.blank_is_absent = lax and (spec.node.nullable or spec.node.kind not in STRING_KINDS)

    def text_shortcut(self, var: str) -> tuple[str, str] | None:
        """Python source for the common case of a lax check of text from the wire:
        ``(condition, value)``, two expressions over the variable ``var``, such that when
        ``condition`` holds, ``check`` would return ``value`` and report nothing (the
        condition may bind ``<var>_int``, the value then reads it). ``None`` when the
        field has no shortcut (every value goes through ``check``).

        A caller generating code for its fields (vivace.web's typed parameters) calls
        nothing for an unconstrained ``str`` or a digit string for an ``int`` within its
        bounds (tests/schema/test_fieldchecks.py proves each shortcut against ``check``).

        >>> from typing import Annotated
        >>> from vivace.schema import Field, create_schema, field_checks
        >>> Page = create_schema("Page", {"limit": (Annotated[int, Field(ge=1)], 10)})
        >>> condition, value = field_checks(Page)[0].text_shortcut("raw")
        >>> value, condition.split(" and ")[-1]
        ('raw_int', '(raw_int := int(raw)) >= 1)')
        """
        if not self.lax:
            return None
        node = self.spec.node
        if node.kind == "union" and node.c is None:
            solid = [a for a in node.args if a.kind != "none"]
            if len(solid) != 1 or len(node.args) != 2:
                return None
            node = solid[0]  # X | None: a value that is not blank gets X's check
        c = node.c if node.c else None
        conditions = [f"type({var}) is str"]
        if node.kind == "str":
            if c is not None:
                if any(n not in ("min_length", "max_length") for n, _ in c.items()):
                    return None
                if c.min_length is not None:
                    conditions.append(f"len({var}) >= {c.min_length!r}")
                if c.max_length is not None:
                    conditions.append(f"len({var}) <= {c.max_length!r}")
            return "(" + " and ".join(conditions) + ")", var
        if node.kind == "int":
            # An ASCII digit string is what the lax rule's [+-]?[0-9]+ accepts, unsigned;
            # 18 digits are far below the length refused (4,300).
            conditions += [f"{var}.isascii()", f"{var}.isdigit()", f"len({var}) < 19"]
            if c is None:
                return "(" + " and ".join(conditions) + ")", f"int({var})"
            number = f"{var}_int"  # the converted value, bound once in the condition
            bounds = []
            for name, value in c.items():
                op = _BOUNDS.get(name)
                if op is None or type(value) not in (int, float) or not math.isfinite(value):
                    return None  # multiple_of, or a bound not written as a literal
                bounds.append(f"{number} {op} {value!r}")
            conditions.append(f"({number} := int({var})) " + bounds[0].split(" ", 1)[1])
            conditions += bounds[1:]
            return "(" + " and ".join(conditions) + ")", number
        return None

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
