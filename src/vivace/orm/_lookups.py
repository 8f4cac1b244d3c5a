"""Lookups (``__icontains``, ``__gte`` ...) and transforms (``__year``, JSON keys).

A filter path ends in zero or more transforms and one lookup::

    title__icontains="orm"      published__year__gte=2024      data__owner__name="Ada"

Each backend gets the SQL that gives Django's meaning:

- ``contains``/``startswith``/``endswith`` are case-sensitive everywhere: ``LIKE`` on
  PostgreSQL, ``LIKE BINARY`` on MySQL (whose default collations ignore case),
  ``instr``/``substr`` on SQLite (whose ``LIKE`` ignores ASCII case); the ``i``
  variants compare lower-cased text (``ILIKE`` on PostgreSQL).  ``%``, ``_`` and the
  escape character in values are escaped, so they match themselves.
- ``exact`` follows the column's collation (case-insensitive on MySQL by default).
- Date parts: ``year``, ``iso_year``, ``quarter``, ``month``, ``week`` (ISO),
  ``day``, ``week_day`` (1 = Sunday), ``iso_week_day`` (1 = Monday), ``hour``,
  ``minute``, ``second``, and ``date`` (a datetime's date).
- ``regex``/``iregex``: PostgreSQL ``~``/``~*``, MySQL ``REGEXP`` with ``(?-i)``/``(?i)``,
  SQLite ``REGEXP`` (Python's ``re``, registered by vivace.db on each connection).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from ._errors import FieldError
from ._fields import DateField, DateTimeField, Field, JSONField

__all__ = ["LOOKUPS", "TRANSFORMS", "apply_lookup", "json_null", "like_converter"]

LOOKUPS = frozenset(
    (
        "exact",
        "iexact",
        "contains",
        "icontains",
        "in",
        "gt",
        "gte",
        "lt",
        "lte",
        "startswith",
        "istartswith",
        "endswith",
        "iendswith",
        "range",
        "isnull",
        "regex",
        "iregex",
    )
)
DATE_TRANSFORMS = frozenset(
    ("year", "iso_year", "quarter", "month", "week", "day", "week_day", "iso_week_day")
)
TIME_TRANSFORMS = frozenset(("hour", "minute", "second", "date"))
TRANSFORMS = DATE_TRANSFORMS | TIME_TRANSFORMS
_LIKE = frozenset(("contains", "icontains", "startswith", "istartswith", "endswith", "iendswith"))
ESCAPE = "!"


def _escape_like(value: Any) -> str:
    text = str(value)
    return text.replace(ESCAPE, ESCAPE * 2).replace("%", ESCAPE + "%").replace("_", ESCAPE + "_")


def like_converter(lookup: str, backend: str) -> Callable[[Any], Any]:
    """The value conversion for a LIKE-family lookup: escaped and wrapped in ``%``."""
    sensitive = not lookup.startswith("i")
    if backend == "sqlite" and sensitive:
        return str  # instr()/substr() compare the text itself
    base = lookup.lstrip("i") if lookup.startswith("i") else lookup
    if base == "contains":
        return lambda value: f"%{_escape_like(value)}%"
    if base == "startswith":
        return lambda value: f"{_escape_like(value)}%"
    return lambda value: f"%{_escape_like(value)}"


def date_part(part: str, expression: Any, backend: str) -> Any:
    """An integer date part (or the date) of a date/datetime expression."""
    if part == "date":
        if backend == "postgresql":
            return sa.cast(expression, sa.Date)
        return sa.func.date(expression, type_=sa.Date)
    if backend == "postgresql":
        names = {"week_day": "dow", "iso_week_day": "isodow", "iso_year": "isoyear"}
        extracted: Any = sa.func.floor(sa.extract(names.get(part, part), expression))
        if part == "week_day":
            extracted = extracted + 1
        return sa.cast(extracted, sa.Integer)
    if backend == "mysql":
        functions: dict[str, Callable[[Any], Any]] = {
            "year": lambda e: sa.func.year(e),
            "iso_year": lambda e: sa.func.yearweek(e, 3).op("DIV")(100),
            "quarter": lambda e: sa.func.quarter(e),
            "month": lambda e: sa.func.month(e),
            "week": lambda e: sa.func.week(e, 3),
            "day": lambda e: sa.func.dayofmonth(e),
            "week_day": lambda e: sa.func.dayofweek(e),
            "iso_week_day": lambda e: sa.func.weekday(e) + 1,
            "hour": lambda e: sa.func.hour(e),
            "minute": lambda e: sa.func.minute(e),
            "second": lambda e: sa.func.second(e),
        }
        return sa.type_coerce(functions[part](expression), sa.Integer)
    # SQLite: strftime; the ISO week is that of the week's Thursday.
    thursday = sa.func.date(expression, "-3 days", "weekday 4")
    formats: dict[str, Any] = {
        "year": sa.func.strftime("%Y", expression),
        "iso_year": sa.func.strftime("%Y", thursday),
        "month": sa.func.strftime("%m", expression),
        "day": sa.func.strftime("%d", expression),
        "week_day": sa.func.strftime("%w", expression),
        "iso_week_day": sa.func.strftime("%w", expression),
        "hour": sa.func.strftime("%H", expression),
        "minute": sa.func.strftime("%M", expression),
        "second": sa.func.strftime("%S", expression),
        "quarter": sa.func.strftime("%m", expression),
        "week": sa.func.strftime("%j", thursday),
    }
    number: Any = sa.cast(formats[part], sa.Integer)
    if part == "week_day":
        number = number + 1
    elif part == "iso_week_day":
        number = (number + 6) % 7 + 1
    elif part == "quarter":
        number = (number + 2) // 3
    elif part == "week":
        number = (number - 1) // 7 + 1
    return sa.type_coerce(number, sa.Integer)


def split_lookup(
    field: Field[Any] | None, parts: list[str], model_name: str
) -> tuple[list[str], str]:
    """``(transforms, lookup)`` from the path parts after a field."""
    if not parts:
        return [], "exact"
    if isinstance(field, JSONField):
        if parts[-1] in LOOKUPS:
            return parts[:-1], parts[-1]
        return parts, "exact"
    lookup = "exact"
    transforms = parts
    if parts[-1] in LOOKUPS:
        lookup = parts[-1]
        transforms = parts[:-1]
    allowed: frozenset[str] = frozenset()
    if isinstance(field, DateTimeField):
        allowed = TRANSFORMS
    elif isinstance(field, DateField):
        allowed = DATE_TRANSFORMS
    for index, transform in enumerate(transforms):
        if transform not in allowed or index > 0:
            name = field.name if field is not None else "value"
            kind = type(field).__name__ if field is not None else "expression"
            choices = sorted(LOOKUPS | allowed) if index == 0 else sorted(LOOKUPS)
            raise FieldError(
                f"unsupported lookup {transform!r} for {kind} {model_name}.{name} "
                f"(choices: {', '.join(choices)})"
            )
    return transforms, lookup


def apply_lookup(lhs: Any, lookup: str, rhs: Any, backend: str) -> Any:
    """The condition ``lhs <lookup> rhs`` (rhs: a bound parameter, an expression, a list)."""
    if lookup == "exact":
        return lhs == rhs
    if lookup == "iexact":
        return sa.func.lower(lhs) == sa.func.lower(rhs)
    if lookup == "gt":
        return lhs > rhs
    if lookup == "gte":
        return lhs >= rhs
    if lookup == "lt":
        return lhs < rhs
    if lookup == "lte":
        return lhs <= rhs
    if lookup == "in":
        if isinstance(rhs, list):
            return lhs.in_(rhs) if rhs else sa.false()
        return lhs.in_(rhs)
    if lookup == "range":
        return lhs.between(rhs[0], rhs[1])
    if lookup in _LIKE:
        return _like(lhs, lookup, rhs, backend)
    if lookup in ("regex", "iregex"):
        if backend == "mysql":
            flag = "(?i)" if lookup == "iregex" else "(?-i)"
            return lhs.op("REGEXP")(sa.func.concat(flag, rhs))
        return lhs.regexp_match(rhs, flags="i" if lookup == "iregex" else None)
    raise FieldError(f"unsupported lookup {lookup!r}")  # pragma: no cover - split_lookup checks


def _like(lhs: Any, lookup: str, rhs: Any, backend: str) -> Any:
    insensitive = lookup.startswith("i")
    text = sa.type_coerce(lhs, sa.String)
    if insensitive:
        if backend == "postgresql":
            return text.ilike(rhs, escape=ESCAPE)
        return sa.func.lower(text).like(sa.func.lower(rhs), escape=ESCAPE)
    if backend == "postgresql":
        return text.like(rhs, escape=ESCAPE)
    if backend == "mysql":
        return text.like(sa.func.binary(rhs), escape=ESCAPE)
    # SQLite's LIKE ignores ASCII case: compare the text itself.
    if lookup == "contains":
        return sa.func.instr(text, rhs) > 0
    length = sa.func.length(rhs)
    if lookup == "startswith":
        return sa.func.substr(text, 1, length) == rhs
    return sa.and_(length <= sa.func.length(text), sa.func.substr(text, -length) == rhs)


def json_path(lhs: Any, keys: list[str], value_type: type | None, backend: str) -> tuple[Any, Any]:
    """``lhs`` followed down ``keys`` (digits index arrays): the raw element (NULL where
    the path is missing) and the element typed for comparing with ``value_type``."""
    path = tuple(int(k) if k.isdigit() else k for k in keys)
    element = lhs[path]
    if backend == "sqlite":
        # SQLAlchemy quotes SQLite's extracted element, so a missing path is not NULL
        # there: json_type() is NULL exactly when the path is missing.
        text = "$" + "".join(
            f"[{k}]"
            if isinstance(k, int)
            else '."' + k.replace("\\", "\\\\").replace('"', '\\"') + '"'
            for k in path
        )
        missing = sa.func.json_type(lhs, sa.literal(text))
        typed = json_path(lhs, keys, value_type, "")[1]
        return missing, typed
    if value_type is bool:
        return element, element.as_boolean()
    if value_type is int:
        return element, element.as_integer()
    if value_type is float:
        return element, element.as_float()
    if value_type is str:
        return element, element.as_string()
    return element, element


def json_null(raw: Any, backend: str) -> Any:
    """Whether the element ``json_path`` found (``raw``) is JSON ``null``: what
    ``data__key=None`` means, as in Django (a missing key is ``data__key__isnull=True``)."""
    if backend == "sqlite":
        return raw == "null"  # raw is json_type(): 'null' for null, NULL when missing
    if backend == "postgresql":
        return sa.func.jsonb_typeof(raw) == "null"
    return sa.func.json_type(raw) == "NULL"
