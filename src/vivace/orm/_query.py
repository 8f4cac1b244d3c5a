"""The state of a queryset, and its key: the shape its SQL is compiled and cached for.

A ``Query`` holds what the chain of queryset calls asked for (conditions, ordering,
slice, relations to join, mode ...).  ``Query.key(params)`` turns it into a
``QueryKey`` — a hashable tuple of tokens (see _expressions) — and the list of values
to bind.  Equal keys mean equal SQL: the compiler runs once per key and per database,
later querysets of the same shape only look the key up and bind their values.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from ._expressions import Expression, Q, order_token

if TYPE_CHECKING:
    from ._model import Model

__all__ = ["Query", "QueryKey"]


class QueryKey(NamedTuple):
    model: type[Model]
    where: tuple[Any, ...]
    order: tuple[Any, ...] | None
    reverse: bool
    limit: tuple[Any, ...] | None
    offset: tuple[Any, ...] | None
    distinct: bool | tuple[str, ...]  # a tuple: distinct(*fields), DISTINCT ON
    related: tuple[str, ...]
    only: frozenset[str] | None
    defer: frozenset[str]
    annotations: tuple[Any, ...]
    mode: str
    fields: tuple[Any, ...] | None
    group_values: bool
    for_update: tuple[Any, ...] | None
    empty: bool
    combined: tuple[Any, ...] | None


class Query:
    """What a queryset asks for (copied, never changed, by each chained call)."""

    __slots__ = (
        "annotations",
        "combined",
        "defer",
        "distinct",
        "empty",
        "fields",
        "for_update",
        "group_values",
        "high",
        "low",
        "mode",
        "model",
        "only",
        "order",
        "plain",
        "prefetch",
        "related",
        "reverse",
        "where",
    )

    def __init__(self, model: type[Model]) -> None:
        self.model = model
        self.where: tuple[Q, ...] = ()
        self.order: tuple[Any, ...] | None = None  # None: the model's Meta.ordering
        self.reverse = False
        self.low = 0
        self.high: int | None = None
        self.distinct: bool | tuple[str, ...] = False
        self.related: tuple[str, ...] = ()
        self.prefetch: tuple[Any, ...] = ()
        self.only: frozenset[str] | None = None
        self.defer: frozenset[str] = frozenset()
        self.annotations: dict[str, Expression] = {}
        self.mode = "model"  # or "dict", "tuple", "flat", "named"
        self.fields: tuple[Any, ...] | None = None
        self.group_values = False
        self.for_update: tuple[Any, ...] | None = None
        self.empty = False
        self.combined: tuple[Any, ...] | None = None  # (operator, all, queries)
        self.plain = True  # nothing asked yet: Model.objects.all() (see QuerySet.get)

    def clone(self) -> Query:
        # Every slot spelled out: a loop of getattr/setattr over __slots__ took 1.21 us,
        # this takes 0.26 us; a filter().values_list() chain clones twice per query
        # (tests/orm/test_reads.py checks that every slot is copied).
        new = Query.__new__(Query)
        new.annotations = self.annotations
        new.combined = self.combined
        new.defer = self.defer
        new.distinct = self.distinct
        new.empty = self.empty
        new.fields = self.fields
        new.for_update = self.for_update
        new.group_values = self.group_values
        new.high = self.high
        new.low = self.low
        new.mode = self.mode
        new.model = self.model
        new.only = self.only
        new.order = self.order
        new.prefetch = self.prefetch
        new.related = self.related
        new.reverse = self.reverse
        new.where = self.where
        new.plain = False  # a clone is made to be changed
        return new

    @property
    def sliced(self) -> bool:
        return self.low != 0 or self.high is not None

    def key(self, params: list[Any]) -> QueryKey:
        """The shape of this query; its values are appended to ``params``.

        Every query pays this before its compiled statement is found, so the parts most
        queries leave empty skip their comprehension, and the key is made with
        ``tuple.__new__`` (NamedTuple's own ``__new__`` is a Python function): bench/orm.py's
        ``filter(level=...).values_list()``, timeit, 1.71 -> 0.84 us (and its look-up in
        the cache of compiled statements with it 2.85 -> 1.10 us).
        """
        where = self.where
        if len(where) == 1:
            where_key: tuple[Any, ...] = (where[0].key(params),)
        else:
            where_key = tuple([q.key(params) for q in where])
        annotations: tuple[Any, ...] = ()
        if self.annotations:
            annotations = tuple(
                [(name, expression.key(params)) for name, expression in self.annotations.items()]
            )
        order = None if self.order is None else tuple([order_token(t, params) for t in self.order])
        fields: tuple[Any, ...] | None = None
        if self.fields is not None:
            fields = tuple(
                [(f, None) if isinstance(f, str) else (f[0], f[1].key(params)) for f in self.fields]
            )
        limit = offset = None
        if self.high is not None:
            params.append(self.high - self.low)
            limit = ("v", len(params) - 1, int)
        if self.low:
            params.append(self.low)
            offset = ("v", len(params) - 1, int)
        combined = None
        if self.combined is not None:
            operator, keep_all, queries = self.combined
            combined = (operator, keep_all, tuple([q.key(params) for q in queries]))
        return _new_key(
            QueryKey,
            (
                self.model,
                where_key,
                order,
                self.reverse,
                limit,
                offset,
                self.distinct,
                self.related,
                self.only,
                self.defer,
                annotations,
                self.mode,
                fields,
                self.group_values,
                self.for_update,
                self.empty,
                combined,
            ),
        )


_new_key = tuple.__new__
