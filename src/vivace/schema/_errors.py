"""Errors of the validation layer.

::

    ValueError
     └── ValidationError    input that does not fit a schema; ``errors()`` lists every
                            problem found, each with a location, a code and a message
    TypeError
     └── SchemaError        a schema that cannot be built: an unsupported type, a
                            constraint on a type it cannot apply to, a validator naming
                            an unknown field, sync validation of a schema that has async
                            validators

``ValidationError`` is a ``ValueError`` so code that already guards conversions keeps
working. Invalid JSON is a ``ValidationError`` too (code ``invalid_json``, empty location),
so one ``except`` clause covers every kind of bad input.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["ErrorDetail", "SchemaError", "ValidationError"]


class ErrorDetail:
    """One problem with the input: where (``loc``), what kind (``code``) and why (``msg``).

    ``loc`` is a tuple of keys and indexes from the root of the input to the bad value,
    using the names the input used (aliases, not attribute names): ``("items", 3,
    "price")``. An error about the whole input has an empty ``loc``.
    """

    __slots__ = ("code", "loc", "msg")

    def __init__(self, loc: tuple[str | int, ...], code: str, msg: str) -> None:
        self.loc = loc
        self.code = code
        self.msg = msg

    def as_dict(self) -> dict[str, Any]:
        return {"loc": self.loc, "code": self.code, "msg": self.msg}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ErrorDetail):
            return NotImplemented
        return (self.loc, self.code, self.msg) == (other.loc, other.code, other.msg)

    def __hash__(self) -> int:
        return hash((self.loc, self.code, self.msg))

    def __repr__(self) -> str:
        return f"ErrorDetail(loc={self.loc!r}, code={self.code!r}, msg={self.msg!r})"


def format_loc(loc: tuple[str | int, ...]) -> str:
    """``("items", 3, "price")`` -> ``items[3].price`` (used in messages and logs)."""
    out = []
    for part in loc:
        if isinstance(part, int):
            out.append(f"[{part}]")
        else:
            out.append(f".{part}" if out else part)
    return "".join(out) or "(root)"


class ValidationError(ValueError):
    """Input that does not fit: every problem found, in input order.

    >>> from vivace.schema import ValidationError, ErrorDetail
    >>> err = ValidationError([ErrorDetail(("age",), "type", "Expected `int`, got `str`")])
    >>> err.errors()
    [{'loc': ('age',), 'code': 'type', 'msg': 'Expected `int`, got `str`'}]
    >>> err.prefixed("body").errors()[0]["loc"]
    ('body', 'age')
    """

    def __init__(self, details: Iterable[ErrorDetail], *, title: str | None = None) -> None:
        self.details: list[ErrorDetail] = list(details)
        self.title = title
        super().__init__()

    def __str__(self) -> str:
        # Built when shown, not when raised: a rejected request may never print it.
        return self._summary()

    def __repr__(self) -> str:
        # Exception's repr shows the constructor's arguments, which are none here: a log or
        # a test failure read "ValidationError()". Show the summary's head and first error.
        n = len(self.details)
        first = f", first: {format_loc(self.details[0].loc)}: {self.details[0].msg}" if n else ""
        return f"<ValidationError: {self._summary().split(chr(10), 1)[0]}{first}>"

    def _summary(self) -> str:
        n = len(self.details)
        head = f"{n} validation error{'s' if n != 1 else ''}"
        if self.title:
            head += f" for {self.title}"
        lines = [head]
        lines.extend(f"  {format_loc(d.loc)}: {d.msg} [{d.code}]" for d in self.details[:20])
        if n > 20:
            lines.append(f"  ... and {n - 20} more")
        return "\n".join(lines)

    def errors(self) -> list[dict[str, Any]]:
        """The problems as plain dicts ``{"loc": ..., "code": ..., "msg": ...}``."""
        return [d.as_dict() for d in self.details]

    def prefixed(self, *prefix: str | int) -> ValidationError:
        """A copy whose locations start with ``prefix`` (``("query",)``, ``("body",)``)."""
        return ValidationError(
            (ErrorDetail(prefix + d.loc, d.code, d.msg) for d in self.details), title=self.title
        )

    @classmethod
    def merge(cls, errors: Iterable[ValidationError]) -> ValidationError:
        """One error holding the problems of several (for input read from many sources)."""
        details: list[ErrorDetail] = []
        for err in errors:
            details.extend(err.details)
        return cls(details)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.details,), {"title": self.title})

    def __setstate__(self, state: dict[str, Any] | None) -> None:
        self.title = state["title"] if state else None


class SchemaError(TypeError):
    """A schema that cannot be built or used as asked (a programming error, not bad input)."""
