"""Pagination: by page number (``Paginator``) and by keyset (``CursorPaginator``).

``Paginator`` is Django's: ``page = await Paginator(qs, per_page=20).page(3)`` runs a
COUNT and one LIMIT/OFFSET query.  Deep pages cost the database the rows it skips,
and rows inserted meanwhile shift pages; ``CursorPaginator`` has neither problem:
each page continues *after* the last row of the previous one, with a condition on
the ordering columns (``WHERE (created, id) < (:c, :i)`` spelt out with AND/OR so
every backend can use its index), and carries that position in an opaque cursor.

The ordering of a cursor paginator must end in a unique column; the primary key is
appended when it does not.  Its columns must not hold NULL.  A cursor is base64 of
JSON: it is not secret and not signed — it only ever becomes bound values, so a
forged one can only select other rows the queryset already allows.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import decimal
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import orjson

from ._errors import EmptyPage, InvalidPage, PageNotAnInteger
from ._expressions import Q
from ._queryset import QuerySet

__all__ = ["CursorPage", "CursorPaginator", "Page", "Paginator"]

T = TypeVar("T")
MAX_CURSOR = 4096  # characters: a cursor is a few ordering values


@dataclass
class Page(Generic[T]):
    """One page: its objects and where it sits."""

    items: list[T]
    number: int
    count: int
    num_pages: int
    per_page: int

    @property
    def has_next(self) -> bool:
        return self.number < self.num_pages

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def next_page_number(self) -> int:
        if not self.has_next:
            raise EmptyPage("this is the last page")
        return self.number + 1

    @property
    def previous_page_number(self) -> int:
        if not self.has_previous:
            raise EmptyPage("this is the first page")
        return self.number - 1

    @property
    def start_index(self) -> int:
        """1-based index of the first object on the page (0 when there is none)."""
        return 0 if self.count == 0 else (self.number - 1) * self.per_page + 1

    @property
    def end_index(self) -> int:
        return self.start_index + len(self.items) - 1 if self.items else 0

    def __iter__(self) -> Any:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


class Paginator(Generic[T]):
    """Page-number pagination of a queryset (give it an ordering: pages of an
    unordered query are not stable).

    ``orphans``: a last page with that many objects or fewer joins the page before.
    """

    def __init__(
        self,
        queryset: QuerySet[T],
        per_page: int,
        *,
        orphans: int = 0,
        allow_empty_first_page: bool = True,
    ) -> None:
        if not isinstance(per_page, int) or per_page < 1:
            raise ValueError(f"per_page must be a positive integer, not {per_page!r}")
        if orphans < 0:
            raise ValueError("orphans cannot be negative")
        self.queryset = queryset
        self.per_page = per_page
        self.orphans = orphans
        self.allow_empty_first_page = allow_empty_first_page

    def _pages(self, count: int) -> int:
        if count == 0:
            return 1 if self.allow_empty_first_page else 0
        hits = max(1, count - self.orphans)
        return math.ceil(hits / self.per_page)

    def validate_number(self, number: Any) -> int:
        """The page number as an int (from an int or a query string); InvalidPage else."""
        if isinstance(number, bool) or (isinstance(number, float) and not number.is_integer()):
            raise PageNotAnInteger(f"page number {number!r} is not an integer")
        try:
            value = int(number)
        except (TypeError, ValueError):
            raise PageNotAnInteger(f"page number {str(number)[:40]!r} is not an integer") from None
        if value < 1:
            raise EmptyPage(f"page number {value} is less than 1")
        return value

    async def page(self, number: Any) -> Page[T]:
        """Page ``number`` (1-based): COUNT, then one LIMIT/OFFSET query."""
        value = self.validate_number(number)
        count = await self.queryset.count()
        pages = self._pages(count)
        if value > pages:
            if value == 1 and self.allow_empty_first_page:
                return Page([], 1, count, pages, self.per_page)
            raise EmptyPage(f"page {value} is past the last page ({pages})")
        start = (value - 1) * self.per_page
        stop = start + self.per_page
        if stop + self.orphans >= count:
            stop = count
        items = await self.queryset[start:stop]
        return Page(items, value, count, pages, self.per_page)


@dataclass
class CursorPage(Generic[T]):
    """One keyset page: its objects and the cursors of the pages around it."""

    items: list[T]
    next_cursor: str | None
    previous_cursor: str | None

    @property
    def has_next(self) -> bool:
        return self.next_cursor is not None

    @property
    def has_previous(self) -> bool:
        return self.previous_cursor is not None

    def __iter__(self) -> Any:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


_TAGS: dict[type, str] = {
    datetime.datetime: "dt",
    datetime.date: "d",
    datetime.time: "t",
    decimal.Decimal: "dec",
    uuid.UUID: "u",
}
_PARSE = {
    "dt": datetime.datetime.fromisoformat,
    "d": datetime.date.fromisoformat,
    "t": datetime.time.fromisoformat,
    "dec": decimal.Decimal,
    "u": uuid.UUID,
}


def _encode_value(value: Any) -> Any:
    for kind, tag in _TAGS.items():
        if isinstance(value, kind):
            if tag in ("dec", "u"):
                return [tag, str(value)]
            return [tag, value.isoformat()]  # type: ignore[attr-defined]
    if isinstance(value, bool | int | float | str):
        return value
    raise InvalidPage(f"cannot put a {type(value).__name__} into a cursor")


def _decode_value(value: Any) -> Any:
    if isinstance(value, list):
        if len(value) != 2 or value[0] not in _PARSE or not isinstance(value[1], str):
            raise InvalidPage("invalid cursor")
        try:
            return _PARSE[value[0]](value[1])
        except (ValueError, decimal.InvalidOperation):
            raise InvalidPage("invalid cursor") from None
    if isinstance(value, bool | int | float | str):
        return value
    raise InvalidPage("invalid cursor")


class CursorPaginator(Generic[T]):
    """Keyset pagination: ``await CursorPaginator(qs, ordering=("-created",), per_page=20)
    .page(after=cursor)``.  The primary key is added to the ordering as a tiebreaker."""

    def __init__(self, queryset: QuerySet[T], *, ordering: Sequence[str], per_page: int) -> None:
        if not isinstance(per_page, int) or per_page < 1:
            raise ValueError(f"per_page must be a positive integer, not {per_page!r}")
        meta = queryset.model._meta
        terms: list[tuple[str, bool]] = []
        for term in ordering:
            if not isinstance(term, str) or not term.lstrip("-"):
                raise ValueError(f"ordering takes field names ('name' or '-name'), not {term!r}")
            name = term.lstrip("-")
            field = meta.pk if name == "pk" else meta.get_field(name)
            terms.append((field.attname, term.startswith("-")))
        if not any(name == meta.pk.attname for name, _ in terms):
            terms.append((meta.pk.attname, terms[-1][1] if terms else False))
        self.queryset = queryset
        self.per_page = per_page
        self.terms = terms

    def _encode(self, obj: Any) -> str:
        values = []
        for name, _ in self.terms:
            value = getattr(obj, name)
            if value is None:
                raise InvalidPage(f"cursor pagination needs non-null ordering values ({name})")
            values.append(_encode_value(value))
        return base64.urlsafe_b64encode(orjson.dumps(values)).decode().rstrip("=")

    def _decode(self, cursor: str) -> list[Any]:
        if not isinstance(cursor, str) or len(cursor) > MAX_CURSOR:
            raise InvalidPage("invalid cursor")
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            values = orjson.loads(raw)
        except (binascii.Error, ValueError):
            raise InvalidPage("invalid cursor") from None
        if not isinstance(values, list) or len(values) != len(self.terms):
            raise InvalidPage("invalid cursor")
        return [_decode_value(v) for v in values]

    def _after(self, values: list[Any], forward: bool) -> Q:
        """Rows after (``forward``) or before the position ``values``."""
        condition = Q()
        for index, (name, descending) in enumerate(self.terms):
            # Forwards on an ascending column means greater; each flip turns it round.
            lookup = "lt" if descending == forward else "gt"
            equal = {n: v for (n, _), v in zip(self.terms[:index], values, strict=False)}
            condition |= Q(**equal) & Q(**{f"{name}__{lookup}": values[index]})
        return condition

    async def page(self, *, after: str | None = None, before: str | None = None) -> CursorPage[T]:
        """The page after ``after`` (or before ``before``; the first page with neither)."""
        if after is not None and before is not None:
            raise InvalidPage("give after or before, not both")
        forward = before is None
        # Backwards: read the rows before the cursor in reverse, then turn them round.
        order = [("-" if descending == forward else "") + n for n, descending in self.terms]
        queryset = self.queryset
        cursor = after if forward else before
        if cursor is not None:
            queryset = queryset.filter(self._after(self._decode(cursor), forward))
        rows = list(await queryset.order_by(*order)[: self.per_page + 1])
        more = len(rows) > self.per_page
        rows = rows[: self.per_page]
        if not forward:
            rows.reverse()
        if not rows:
            return CursorPage([], None, None)
        if forward:
            next_cursor = self._encode(rows[-1]) if more else None
            previous = self._encode(rows[0]) if after is not None else None
        else:
            next_cursor = self._encode(rows[-1])
            previous = self._encode(rows[0]) if more else None
        return CursorPage(rows, next_cursor, previous)
