"""prefetch_related and fetch_related: load relations of many objects, one query each.

For a list of objects and a path (``"author__books"``), each step loads one relation
of every object of that level with one query (``WHERE key IN (...)``) and stores it:
a forward foreign key on the object itself (``article.author``), a reverse or
many-to-many relation in the object's prefetch cache (read by iterating the manager,
``author.books``), or on ``to_attr`` as a plain list.  A step already loaded (by
``select_related`` or an earlier prefetch) is not loaded again.  Many-to-many steps
read the join table joined to the target (one query), so a ``Prefetch`` queryset
for them may filter and order but not annotate.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ._errors import FieldError, QueryError

if TYPE_CHECKING:
    from vivace.db import Database

    from ._queryset import QuerySet
    from ._relations import Relation

__all__ = ["Prefetch", "prefetch"]


class Prefetch:
    """``Prefetch("books", queryset=Book.objects.filter(published=True), to_attr="live")``."""

    __slots__ = ("lookup", "queryset", "to_attr")

    def __init__(
        self, lookup: str, queryset: QuerySet[Any] | None = None, to_attr: str | None = None
    ) -> None:
        if not isinstance(lookup, str) or not lookup:
            raise QueryError(f"Prefetch() takes a relation path, not {lookup!r}")
        self.lookup = lookup
        self.queryset = queryset
        self.to_attr = to_attr

    def __repr__(self) -> str:
        return f"Prefetch({self.lookup!r})"


def _loaded(obj: Any, relation: Relation) -> bool:
    if relation.kind == "forward":
        return relation.name in obj.__dict__
    cache = obj.__dict__.get("_prefetched")
    return cache is not None and relation.name in cache


async def prefetch(objs: Sequence[Any], lookups: Sequence[Any], using: Database | None) -> None:
    """Load ``lookups`` (paths or Prefetch objects) for ``objs`` (one model)."""
    if not objs:
        return
    for lookup in lookups:
        item = lookup if isinstance(lookup, Prefetch) else Prefetch(lookup)
        if not isinstance(lookup, Prefetch | str):
            raise QueryError(f"prefetch_related() takes paths or Prefetch objects, not {lookup!r}")
        parts = item.lookup.split("__")
        level: list[Any] = list(objs)
        for index, part in enumerate(parts):
            if not level:
                break
            last = index == len(parts) - 1
            model = type(level[0])
            relation = model._meta.accessors.get(part)
            if relation is None:
                raise FieldError(
                    f"cannot prefetch {part!r} of {model.__name__} in {item.lookup!r}: not a "
                    f"relation (choices: {', '.join(model._meta.accessors)})"
                )
            queryset = item.queryset if last else None
            to_attr = item.to_attr if last else None
            if queryset is not None and queryset.model is not relation.target:
                raise QueryError(
                    f"Prefetch({item.lookup!r}): the queryset is of {queryset.model.__name__}, "
                    f"the relation's model is {relation.target.__name__}"
                )
            if queryset is not None or to_attr or not all(_loaded(o, relation) for o in level):
                await _load(level, relation, queryset, to_attr, using)
            level = _next_level(level, relation, to_attr)


def _next_level(level: list[Any], relation: Relation, to_attr: str | None) -> list[Any]:
    out: list[Any] = []
    for obj in level:
        if to_attr:
            value = obj.__dict__.get(to_attr)
        elif relation.kind == "forward":
            value = obj.__dict__.get(relation.name)
        else:
            value = obj.__dict__.get("_prefetched", {}).get(relation.name)
        if value is None:
            continue
        if isinstance(value, list):
            out.extend(value)
        else:
            out.append(value)
    unique: dict[int, Any] = {id(o): o for o in out}
    return list(unique.values())


async def _load(
    level: list[Any],
    relation: Relation,
    queryset: QuerySet[Any] | None,
    to_attr: str | None,
    using: Database | None,
) -> None:
    from ._queryset import QuerySet

    target = relation.target
    base = queryset if queryset is not None else QuerySet(target, db=using)
    if queryset is not None and queryset._query.sliced:
        raise QueryError("a Prefetch queryset cannot be sliced")
    keys = list({obj.__dict__.get(relation.local) for obj in level} - {None})
    if relation.kind == "forward":
        fk = relation.field
        found = await base.filter(**{f"{fk.target_field.name}__in": keys}) if keys else []
        by_key = {row.__dict__[fk.target_field.attname]: row for row in found}
        for obj in level:
            value = by_key.get(obj.__dict__.get(fk.attname))
            obj.__dict__[to_attr or fk.name] = value
        return
    if relation.kind in ("reverse", "reverse_one"):
        fk = relation.field
        found = await base.filter(**{f"{fk.attname}__in": keys}) if keys else []
        groups: dict[Any, list[Any]] = {}
        by_local = {obj.__dict__.get(relation.local): obj for obj in level}
        for row in found:
            key = row.__dict__[fk.attname]
            groups.setdefault(key, []).append(row)
            parent = by_local.get(key)
            if parent is not None and relation.local == fk.target_field.attname:
                row.__dict__[fk.name] = parent
        for obj in level:
            rows = groups.get(obj.__dict__.get(relation.local), [])
            loaded: Any = rows if relation.kind == "reverse" else (rows[0] if rows else None)
            _store(obj, relation, loaded, to_attr)
        return
    await _load_many_to_many(level, relation, queryset, to_attr, using, keys)


async def _load_many_to_many(
    level: list[Any],
    relation: Relation,
    queryset: QuerySet[Any] | None,
    to_attr: str | None,
    using: Database | None,
    keys: list[Any],
) -> None:
    from ._queryset import QuerySet

    through = relation.through
    assert through is not None
    source, target_fk = relation.source_fk, relation.target_fk
    links: QuerySet[Any] = QuerySet(through, db=using).filter(**{f"{source.attname}__in": keys})
    links = links.select_related(target_fk.name)
    order: tuple[Any, ...] = ()
    if queryset is not None:
        query = queryset._query
        if query.annotations or query.mode != "model" or query.combined is not None:
            raise QueryError(
                "a Prefetch queryset of a many-to-many relation may filter, order and "
                "select_related, not annotate, values() or union()"
            )
        if query.where:
            links = links.filter(**{f"{target_fk.name}__in": queryset.values_list("pk", flat=True)})
        prefix = target_fk.name + "__"
        terms = query.order if query.order is not None else tuple(relation.target._meta.ordering)
        for term in terms:
            if not isinstance(term, str):
                raise QueryError("a many-to-many Prefetch queryset orders by field names only")
            sign = "-" if term.startswith("-") != query.reverse else ""
            order += (sign + prefix + term.lstrip("-"),)
        links = links.select_related(*(prefix + p for p in query.related))
    else:
        order = tuple(
            ("-" if t.startswith("-") else "") + f"{target_fk.name}__" + t.lstrip("-")
            for t in relation.target._meta.ordering
            if isinstance(t, str)
        )
    links = links.order_by(*order, "pk")
    groups: dict[Any, list[Any]] = {}
    for link in await links:
        groups.setdefault(link.__dict__[source.attname], []).append(link.__dict__[target_fk.name])
    for obj in level:
        _store(obj, relation, groups.get(obj.__dict__.get(relation.local), []), to_attr)


def _store(obj: Any, relation: Relation, value: Any, to_attr: str | None) -> None:
    if to_attr:
        obj.__dict__[to_attr] = value
    else:
        obj.__dict__.setdefault("_prefetched", {})[relation.name] = value
