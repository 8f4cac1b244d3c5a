"""``dates()`` and ``datetimes()``: the distinct values of a date or datetime field,
truncated to a year, month, week (its Monday), day, hour, minute or second.

Theory of operation: ``QuerySet.dates(field, kind)`` is
``values_list(<Trunc>, flat=True).distinct().order_by(<Trunc>)`` over the rows whose
field is not NULL, as in Django; the ``Trunc`` expression compiles to each backend's
own truncation (PostgreSQL's ``date_trunc``, MySQL's ``DATE_FORMAT`` cast back to a
DATE/DATETIME, SQLite's ``strftime``), so the database does the DISTINCT and the
ordering, and the loader turns its values into ``date`` / ``datetime`` objects.

Time zones, consistent with DateTimeField (naive values, aware ones stored as UTC):
without ``tzinfo`` the stored (UTC) value is truncated and the results are naive.
With ``tzinfo``, each value is first moved to that zone's local time, truncated there,
and returned aware in that zone (Django's ``datetimes(..., tzinfo=)``).  The move is
SQL the three backends share: ``value + CASE WHEN value >= <transition> THEN <offset>
... END`` seconds, the zone's UTC offsets and the instants they change read once per
zone from the ``tzinfo`` itself between 1900 and 2100 (values outside take the
nearest offset), so it needs no time zone tables in the database (MariaDB has none by
default) and gives the same answer on every backend.  The transitions and offsets are
bound parameters like any value.
"""

from __future__ import annotations

import datetime
import functools
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ._errors import FieldError, QueryError
from ._expressions import Expression
from ._fields import DateField, DateTimeField

if TYPE_CHECKING:
    from ._compiler import Compiler, Scope
    from ._model import Model

__all__ = ["DATETIME_KINDS", "DATE_KINDS", "Trunc", "check_field", "converter", "truncate"]

DATE_KINDS = ("year", "month", "week", "day")
DATETIME_KINDS = (*DATE_KINDS, "hour", "minute", "second")
# The zone's offsets are read between these instants (a probe a day, then bisected to
# the second: 73,000 probes, about 0.15 s once per zone and process).
FIRST, LAST = datetime.datetime(1900, 1, 1), datetime.datetime(2100, 1, 1)

# strftime / DATE_FORMAT patterns of a truncated value, per kind (week: see _week).
_SQLITE = {
    "year": "%Y-01-01",
    "month": "%Y-%m-01",
    "day": "%Y-%m-%d",
    "hour": "%Y-%m-%d %H:00:00",
    "minute": "%Y-%m-%d %H:%M:00",
    "second": "%Y-%m-%d %H:%M:%S",
}
_MYSQL = {
    "year": "%Y-01-01",
    "month": "%Y-%m-01",
    "day": "%Y-%m-%d",
    "hour": "%Y-%m-%d %H:00:00",
    "minute": "%Y-%m-%d %H:%i:00",
    "second": "%Y-%m-%d %H:%i:%s",
}


class Trunc(Expression):
    """A date or datetime field's value truncated to ``kind`` (dates()/datetimes())."""

    __slots__ = ("kind", "name", "output", "tzinfo")

    def __init__(
        self, name: str, kind: str, output: str, tzinfo: datetime.tzinfo | None = None
    ) -> None:
        self.name = name
        self.kind = kind
        self.output = output  # "date" or "datetime"
        self.tzinfo = tzinfo

    def __repr__(self) -> str:
        return f"Trunc({self.name!r}, {self.kind!r})"

    def key(self, params: list[Any]) -> tuple[Any, ...]:
        shift = None
        if self.tzinfo is not None:
            first, changes = transitions(self.tzinfo)
            start = len(params)
            params.append(first)
            for instant, offset in changes:
                params.append(instant)
                params.append(offset)
            shift = (start, len(changes))
        return ("trunc", self.kind, self.name, self.output, self.tzinfo, shift)


def check_field(model: type[Model], path: str, method: str, kinds: tuple[str, ...]) -> None:
    """Refuse, now, a path that names no date field of the right kind."""
    current = model
    parts = path.split("__") if isinstance(path, str) and path else [path]
    for part in parts[:-1]:
        relation = current._meta.relations.get(part)
        if relation is None:
            raise FieldError(
                f"{method}(): {str(part)[:60]!r} in {str(path)[:100]!r} is not a relation "
                f"of {current.__name__} (choices: {', '.join(current._meta.relations)})"
            )
        current = relation.target
    field = current._meta.get_field(parts[-1])
    wanted = DateTimeField if kinds is DATETIME_KINDS else DateField
    if not isinstance(field, wanted):
        raise FieldError(
            f"{method}(): {current.__name__}.{field.name} is not a {wanted.__name__}"
            + (" (dates() takes a DateField or a DateTimeField)" if wanted is DateField else "")
        )


@functools.lru_cache(maxsize=64)
def transitions(
    tzinfo: datetime.tzinfo,
) -> tuple[int, tuple[tuple[datetime.datetime, int], ...]]:
    """The zone's UTC offset (seconds) before FIRST's first change, and each change
    between FIRST and LAST: ``(naive UTC instant, offset from then on)``."""

    def offset(instant: datetime.datetime) -> int:
        try:
            delta = instant.replace(tzinfo=datetime.UTC).astimezone(tzinfo).utcoffset()
        except ValueError as exc:  # its utcoffset() is None: it names no zone
            raise QueryError(f"datetimes(): tzinfo {tzinfo!r} gives no UTC offset") from exc
        assert delta is not None  # astimezone() refuses a zone without one
        return int(delta.total_seconds())

    day = datetime.timedelta(days=1)
    first = current = offset(FIRST)
    changes: list[tuple[datetime.datetime, int]] = []
    instant = FIRST
    while instant < LAST:
        following = instant + day
        found = offset(following)
        if found != current:
            # Bisect to the second: the change lies in (low, high].
            low, high = instant, following
            while high - low > datetime.timedelta(seconds=1):
                middle = low + (high - low) / 2
                middle = middle.replace(microsecond=0)
                if offset(middle) == current:
                    low = middle
                else:
                    high = middle
            changes.append((high, found))
            current = found
        instant = following
    return first, tuple(changes)


def truncate(compiler: Compiler, scope: Scope, token: tuple[Any, ...]) -> Any:
    """The SQL of a ``("trunc", kind, path, output, tzinfo, shift)`` token."""
    _, kind, path, output, _tzinfo, shift = token
    _found, value, field, rest, _ = compiler.walk(scope, path, in_filter=False)
    if rest or not isinstance(field, DateField):  # pragma: no cover - check_field ran
        raise FieldError(f"{path!r} is not a date field")
    backend = compiler.backend
    if shift is not None:
        value = _shifted(compiler, scope, value, field, shift)
    if backend == "postgresql":
        if not isinstance(field, DateTimeField):
            value = sa.cast(value, sa.DateTime())
        truncated = sa.func.date_trunc(sa.literal_column(f"'{kind}'"), value)
        return sa.cast(truncated, sa.Date() if output == "date" else sa.DateTime())
    if kind == "week":
        return _week(backend, value, output)
    if backend == "mysql":
        text = sa.func.date_format(value, sa.literal(_MYSQL[kind] + _time(kind, output)))
        return sa.cast(text, sa.Date() if output == "date" else sa.DateTime())
    return sa.func.strftime(sa.literal(_SQLITE[kind] + _time(kind, output)), value)


def _time(kind: str, output: str) -> str:
    """The time of day a truncated datetime has when its pattern gives only a date."""
    return " 00:00:00" if output == "datetime" and kind in DATE_KINDS else ""


def _week(backend: str, value: Any, output: str) -> Any:
    """The Monday (00:00) of the value's ISO week."""
    if backend == "mysql":
        monday = sa.func.subdate(sa.func.date(value), sa.func.weekday(value))
        return sa.cast(monday, sa.Date() if output == "date" else sa.DateTime())
    # SQLite: "weekday 0" moves forward to the next Sunday (or stays on one).
    pattern = "%Y-%m-%d" + _time("week", output)
    return sa.func.strftime(
        sa.literal(pattern), value, sa.literal("weekday 0"), sa.literal("-6 days")
    )


def _shifted(
    compiler: Compiler, scope: Scope, value: Any, field: Any, shift: tuple[int, int]
) -> Any:
    """``value`` moved by its zone's offset at that instant (see the module docstring)."""
    start, count = shift

    def seconds(index: int) -> Any:
        compiler.converters[index] = None
        return sa.cast(sa.bindparam(f"p{index}"), sa.Integer())

    whens = []
    # Latest change first: recent values, the most common, stop at the first WHEN.
    for number in range(count - 1, -1, -1):
        index = start + 1 + 2 * number
        instant = compiler.value(scope, ("v", index, datetime.datetime), field, None)
        whens.append((value >= instant, seconds(index + 1)))
    offset = sa.case(*whens, else_=seconds(start)) if whens else seconds(start)
    backend = compiler.backend
    if backend == "postgresql":
        return value + offset * sa.literal_column("INTERVAL '1 second'", type_=sa.Interval())
    if backend == "mysql":
        return sa.func.timestampadd(sa.literal_column("SECOND"), offset, value)
    return sa.func.datetime(value, sa.func.printf(sa.literal("%d seconds"), offset))


def converter(token: tuple[Any, ...], backend: str) -> Any:
    """From the database's truncated value to a date, or a datetime (aware in the
    token's zone if it has one)."""
    output, tzinfo = token[3], token[4]
    if output == "date":
        return datetime.date.fromisoformat if backend == "sqlite" else None
    parse = datetime.datetime.fromisoformat if backend == "sqlite" else None
    if tzinfo is None:
        return parse

    def aware(value: Any) -> datetime.datetime:
        if parse is not None:
            value = parse(value)
        result: datetime.datetime = value.replace(tzinfo=tzinfo)
        return result

    return aware
