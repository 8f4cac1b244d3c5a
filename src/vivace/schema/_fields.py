"""Field options: ``Field()``, the options object it returns, and the ``UNSET`` marker.

``Field()`` is used two ways, which may be combined (the default-position options win)::

    age: Annotated[int, Field(ge=0, le=150)] = 0
    age: int = Field(default=0, ge=0, le=150, title="Age in years")

Constraints (``gt`` ... ``pattern``) apply to the value's type; for an ``Optional[T]`` they
apply to ``T`` (``None`` needs no check). Documentation options (title, description,
examples, deprecated) go to JSON Schema and forms; read_only/write_only/exclude shape
input and output.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import msgspec

__all__ = ["NODEFAULT", "UNSET", "Constraints", "FieldInfo", "UnsetType", "field"]

#: The value of a field that was not given (PATCH): never output, never validated.
#: It is msgspec's own marker, so the fast path and the Python engine share one object.
UNSET: Any = msgspec.UNSET
UnsetType = msgspec.UnsetType


class _NoDefault:
    __slots__ = ()

    def __repr__(self) -> str:
        return "NODEFAULT"

    def __reduce__(self) -> str:
        return "NODEFAULT"


#: "No default given": a required field.
NODEFAULT: Any = _NoDefault()

_CONSTRAINTS = (
    "gt",
    "ge",
    "lt",
    "le",
    "multiple_of",
    "min_length",
    "max_length",
    "pattern",
    "tz",
    "format",
)


def python_pattern(pattern: str) -> str:
    """``pattern`` as JSON Schema means it (ECMA-262, as pydantic and browsers read it),
    for Python's ``re``: a ``$`` outside a character class matches only at the end of the
    text (``\\Z``). Python's ``$`` also matches before a final newline, so ``"a@b.co\\n"``
    passed the ``Email`` pattern and ``"slug\\n"`` a ``^[a-z-]+$``. A pattern that sets
    multi-line mode itself (``(?m)``) is left as it is.

    >>> python_pattern(r"^[a-z$]+$")
    '^[a-z$]+\\\\Z'
    """
    if re.compile(pattern).flags & re.MULTILINE:
        return pattern
    out: list[str] = []
    i, n = 0, len(pattern)
    in_class = False
    while i < n:
        ch = pattern[i]
        if ch == "\\":  # an escape: the next character is taken as it is
            out.append(pattern[i : i + 2])
            i += 2
            continue
        i += 1
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
            # Python reads a "]" right after "[" or "[^" as a member, not as the end.
            start = i + 1 if pattern.startswith("^", i) else i
            if pattern.startswith("]", start):
                start += 1
            out.append(pattern[i - 1 : start])
            i = start
            continue
        elif ch == "$":
            out.append("\\Z")
            continue
        out.append(ch)
    return "".join(out)


class Constraints:
    """The checks on one value (bounds, lengths, pattern, timezone, format name).

    ``format`` names a ready-made string format (``email``, ``uri``) for messages and JSON
    Schema; its check is the ``pattern`` it comes with.
    """

    __slots__ = (*_CONSTRAINTS, "regex")

    gt: int | float | None
    ge: int | float | None
    lt: int | float | None
    le: int | float | None
    multiple_of: int | float | None
    min_length: int | None
    max_length: int | None
    pattern: str | None
    tz: bool | None
    format: str | None
    regex: re.Pattern[str] | None

    def __init__(self, **values: Any) -> None:
        for name in _CONSTRAINTS:
            setattr(self, name, values.get(name))
        self.regex = re.compile(python_pattern(self.pattern)) if self.pattern is not None else None

    def merged(self, other: Constraints | None) -> Constraints:
        if other is None:
            return self
        values = {n: getattr(self, n) for n in _CONSTRAINTS}
        for n in _CONSTRAINTS:
            v = getattr(other, n)
            if v is not None:
                values[n] = v
        return Constraints(**values)

    def items(self) -> list[tuple[str, Any]]:
        return [(n, getattr(self, n)) for n in _CONSTRAINTS if getattr(self, n) is not None]

    def __bool__(self) -> bool:
        return bool(self.items())

    def __repr__(self) -> str:
        inner = ", ".join(f"{n}={v!r}" for n, v in self.items())
        return f"Constraints({inner})"


class FieldInfo:
    """The options of one field, as given to ``Field()``.

    Hashable by identity so it can sit in ``Annotated[...]`` inside unions.
    """

    __slots__ = (
        "alias",
        "constraints",
        "default",
        "default_factory",
        "deprecated",
        "description",
        "examples",
        "exclude",
        "json_schema_extra",
        "read_only",
        "title",
        "widget",
        "write_only",
    )

    def __init__(
        self,
        *,
        default: Any = NODEFAULT,
        default_factory: Callable[[], Any] | None = None,
        alias: str | None = None,
        title: str | None = None,
        description: str | None = None,
        examples: list[Any] | None = None,
        deprecated: bool = False,
        read_only: bool = False,
        write_only: bool = False,
        exclude: bool = False,
        widget: str | None = None,
        json_schema_extra: dict[str, Any] | None = None,
        constraints: Constraints | None = None,
    ) -> None:
        if default is not NODEFAULT and default_factory is not None:
            raise TypeError("give default or default_factory, not both")
        if read_only and write_only:
            raise TypeError("a field cannot be both read_only and write_only")
        self.default = default
        self.default_factory = default_factory
        self.alias = alias
        self.title = title
        self.description = description
        self.examples = examples
        self.deprecated = deprecated
        self.read_only = read_only
        self.write_only = write_only
        self.exclude = exclude
        self.widget = widget
        self.json_schema_extra = json_schema_extra
        self.constraints = constraints if constraints else None

    def merged(self, other: FieldInfo) -> FieldInfo:
        """These options overridden by every option ``other`` sets."""
        out = FieldInfo()
        blank = _BLANK
        for name in FieldInfo.__slots__:
            mine = getattr(self, name)
            theirs = getattr(other, name)
            # Every blank value is a singleton (None, False, NODEFAULT): compare by identity
            # so a default with an odd __eq__ (an array) is never asked.
            setattr(out, name, theirs if theirs is not getattr(blank, name) else mine)
        if self.constraints is not None and other.constraints is not None:
            out.constraints = self.constraints.merged(other.constraints)
        return out

    def __repr__(self) -> str:
        blank = _BLANK
        parts = [
            f"{n}={getattr(self, n)!r}"
            for n in FieldInfo.__slots__
            if getattr(self, n) is not getattr(blank, n)
        ]
        return f"Field({', '.join(parts)})"


_BLANK = FieldInfo()


def field(
    default: Any = NODEFAULT,
    *,
    default_factory: Callable[[], Any] | None = None,
    alias: str | None = None,
    title: str | None = None,
    description: str | None = None,
    examples: list[Any] | None = None,
    deprecated: bool = False,
    read_only: bool = False,
    write_only: bool = False,
    exclude: bool = False,
    widget: str | None = None,
    json_schema_extra: dict[str, Any] | None = None,
    gt: int | float | None = None,
    ge: int | float | None = None,
    lt: int | float | None = None,
    le: int | float | None = None,
    multiple_of: int | float | None = None,
    min_length: int | None = None,
    max_length: int | None = None,
    pattern: str | None = None,
    tz: bool | None = None,
    format: str | None = None,
) -> Any:
    """Options for one field; see the module docstring. Exported as ``Field``.

    Typed as returning ``Any`` so ``age: int = Field(default=0)`` type-checks.

    >>> from typing import Annotated
    >>> from vivace.schema import Field, Schema
    >>> class Item(Schema):
    ...     price: Annotated[float, Field(gt=0)]
    ...     tags: list[str] = Field(default_factory=list, max_length=5)
    >>> Item.validate({"price": 2.5}).tags
    []
    """
    constraints = Constraints(
        gt=gt,
        ge=ge,
        lt=lt,
        le=le,
        multiple_of=multiple_of,
        min_length=min_length,
        max_length=max_length,
        pattern=pattern,
        tz=tz,
        format=format,
    )
    if multiple_of is not None and multiple_of <= 0:
        raise TypeError("multiple_of must be > 0")
    for name in ("min_length", "max_length"):
        value = getattr(constraints, name)
        if value is not None and (type(value) is not int or value < 0):
            raise TypeError(f"{name} must be an int >= 0")
    return FieldInfo(
        default=default,
        default_factory=default_factory,
        alias=alias,
        title=title,
        description=description,
        examples=examples,
        deprecated=deprecated,
        read_only=read_only,
        write_only=write_only,
        exclude=exclude,
        widget=widget,
        json_schema_extra=json_schema_extra,
        constraints=constraints,
    )
