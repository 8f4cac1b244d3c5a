"""Path parameter converters: ``{id:int}``, ``{day:date}``, custom ones.

A converter has a ``regex`` that one path segment must match in full, ``convert`` (text
to value; a ``ValueError`` makes the route not match, so ``/days/2024-02-30`` is a 404,
not a crash) and ``to_string`` (value to text, for ``url_path_for``; a ``ValueError``
there means the value cannot be put in that route). Only ``path`` may span segments
(``spans_segments = True``); custom converters match within one segment.

A converter may take options in the route path, ``{id:int(min=1,max=1000)}``: the text
in parentheses is ``name=integer`` pairs separated by commas, given to the converter's
``with_options``, which returns a configured copy (the base class takes no options).
``int`` takes ``min`` and ``max``; by default it matches 0 to 2**63 - 1, so a value that
no signed 64-bit database column can hold is a 404, never a query that fails.
"""

from __future__ import annotations

import datetime
import math
import re
import uuid
from typing import Any, ClassVar, Generic, TypeVar

__all__ = [
    "CONVERTERS",
    "INT64_MAX",
    "Converter",
    "DateConverter",
    "FloatConverter",
    "IntegerConverter",
    "PathConverter",
    "StringConverter",
    "UUIDConverter",
    "register_converter",
]

T = TypeVar("T")


class Converter(Generic[T]):
    """Base class of path converters.

    >>> class Slug(Converter[str]):
    ...     regex = "[a-z0-9]+(?:-[a-z0-9]+)*"
    ...     def convert(self, value: str) -> str:
    ...         return value
    ...     def to_string(self, value: str) -> str:
    ...         return value
    >>> register_converter("slug", Slug())
    """

    regex: ClassVar[str] = ""
    spans_segments: ClassVar[bool] = False

    def convert(self, value: str) -> T:
        raise NotImplementedError

    def to_string(self, value: T) -> str:
        raise NotImplementedError

    def with_options(self, **options: int) -> Converter[T]:
        """A copy configured by ``{name:conv(key=value,...)}``; ``ValueError`` if this
        converter takes no such option."""
        raise ValueError(f"the {type(self).__name__} path converter takes no options")


class StringConverter(Converter[str]):
    """One non-empty path segment (the default)."""

    regex = "[^/]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        value = str(value)
        if "/" in value or not value:
            raise ValueError(f"a str path parameter must be non-empty, without '/': {value!r}")
        return value


class PathConverter(Converter[str]):
    """The rest of the path, slashes included (may be empty)."""

    regex = ".*"
    spans_segments = True

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return str(value)


#: The largest value of a signed 64-bit integer: the default upper bound of ``int``.
INT64_MAX = 2**63 - 1


class IntegerConverter(Converter[int]):
    """A non-negative integer in ASCII digits, from ``min`` to ``max`` (inclusive).

    >>> IntegerConverter().convert("42")
    42
    >>> IntegerConverter().with_options(min=1, max=10).convert("11")
    Traceback (most recent call last):
    ValueError: 11 is not within 1..10
    """

    __slots__ = ("_digits", "max", "min")

    regex = "[0-9]+"

    def __init__(self, min: int = 0, max: int = INT64_MAX) -> None:
        for name, bound in (("min", min), ("max", max)):
            if isinstance(bound, bool) or not isinstance(bound, int) or bound < 0:
                raise ValueError(f"int converter {name} must be an int >= 0: {bound!r}")
        if min > max:
            raise ValueError(f"int converter min ({min}) is above max ({max})")
        self.min = min
        self.max = max
        self._digits = len(str(max))

    def convert(self, value: str) -> int:
        if len(value) > self._digits and len(value.lstrip("0")) > self._digits:
            # Too long to be in range: refused before int() (slow on huge inputs).
            raise ValueError(f"{value[:30]}... is not within {self.min}..{self.max}")
        number = int(value)
        if number > self.max or number < self.min:
            raise ValueError(f"{number} is not within {self.min}..{self.max}")
        return number

    def to_string(self, value: int) -> str:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"an int path parameter must be an int: {value!r}")
        if value > self.max or value < self.min:
            raise ValueError(f"an int path parameter must be within {self.min}..{self.max}")
        return str(value)

    def with_options(self, **options: int) -> IntegerConverter:
        unknown = set(options) - {"min", "max"}
        if unknown:
            raise ValueError(f"the int path converter takes min and max, not {sorted(unknown)}")
        return IntegerConverter(options.get("min", self.min), options.get("max", self.max))


class FloatConverter(Converter[float]):
    """A non-negative decimal number (``3`` or ``3.25``)."""

    regex = r"[0-9]+(?:\.[0-9]+)?"

    def convert(self, value: str) -> float:
        return float(value)

    def to_string(self, value: float) -> str:
        value = float(value)
        if value < 0 or not math.isfinite(value):
            raise ValueError(f"a float path parameter must be finite and >= 0: {value!r}")
        text = f"{value:.15f}".rstrip("0").rstrip(".")
        return text if text else "0"


class UUIDConverter(Converter[uuid.UUID]):
    """A UUID in its canonical 8-4-4-4-12 hex form."""

    regex = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"

    def convert(self, value: str) -> uuid.UUID:
        return uuid.UUID(value)

    def to_string(self, value: uuid.UUID) -> str:
        return str(uuid.UUID(str(value)))


class DateConverter(Converter[datetime.date]):
    """An ISO 8601 calendar date, ``YYYY-MM-DD``; impossible dates do not match."""

    regex = "[0-9]{4}-[0-9]{2}-[0-9]{2}"

    def convert(self, value: str) -> datetime.date:
        return datetime.date.fromisoformat(value)

    def to_string(self, value: datetime.date) -> str:
        if not isinstance(value, datetime.date):
            raise ValueError(f"a date path parameter must be a datetime.date: {value!r}")
        return value.isoformat()


CONVERTERS: dict[str, Converter[Any]] = {
    "str": StringConverter(),
    "path": PathConverter(),
    "int": IntegerConverter(),
    "float": FloatConverter(),
    "uuid": UUIDConverter(),
    "date": DateConverter(),
}


def register_converter(name: str, converter: Converter[Any]) -> None:
    """Make ``{param:name}`` available in route paths (register before building routes)."""
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) is None:
        raise ValueError(f"invalid converter name {name!r}")
    re.compile(converter.regex)  # fail now on a bad pattern, not on the first request
    CONVERTERS[name] = converter
