"""Path parameter converters: ``{id:int}``, ``{day:date}``, custom ones.

A converter has a ``regex`` that one path segment must match in full, ``convert`` (text
to value; a ``ValueError`` makes the route not match, so ``/days/2024-02-30`` is a 404,
not a crash) and ``to_string`` (value to text, for ``url_path_for``; a ``ValueError``
there means the value cannot be put in that route). Only ``path`` may span segments
(``spans_segments = True``); custom converters match within one segment.
"""

from __future__ import annotations

import datetime
import math
import re
import uuid
from typing import Any, ClassVar, Generic, TypeVar

__all__ = [
    "CONVERTERS",
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


class IntegerConverter(Converter[int]):
    """A non-negative integer in ASCII digits."""

    regex = "[0-9]+"

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"an int path parameter must be a non-negative int: {value!r}")
        return str(value)


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
