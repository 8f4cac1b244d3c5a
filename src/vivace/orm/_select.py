"""The statements a queryset compiles to: SELECT (models, values, union), COUNT, EXISTS,
aggregate, UPDATE and DELETE — each built from a ``QueryKey`` by the ``Compiler``.

``prepare`` resolves what every statement shares (annotations, WHERE/HAVING, the
joins); each builder then adds its own columns.  The loader plan that goes with a
SELECT says which columns become which attributes of which objects (see _loader).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ._errors import FieldError, QueryError
from ._expressions import LIST_LOOKUPS  # noqa: F401  (re-exported for _queryset)
from ._fields import Field

if TYPE_CHECKING:
    from ._compiler import Compiler, Scope
    from ._model import Model
    from ._query import QueryKey

__all__ = [
    "ModelPlan",
    "RelatedPlan",
    "ValuesPlan",
    "build_aggregate",
    "build_count",
    "build_delete",
    "build_exists",
    "build_select",
    "build_update",
]


@dataclass
class RelatedPlan:
    """A select_related object: built from its columns, set on its parent."""

    parent: int  # 0: the row's main object; n: the n-th related plan's object
    name: str  # the attribute on the parent (forward) or prefetch cache key (reverse one)
    forward: bool
    model: type[Model]
    columns: list[tuple[str, Any]]  # (attname, from_db converter)
    pk_index: int  # position of its primary key within columns


@dataclass
class ModelPlan:
    model: type[Model]
    columns: list[tuple[str, Any]]
    related: list[RelatedPlan] = field(default_factory=list)
    annotations: list[tuple[str, Any]] = field(default_factory=list)


@dataclass
class ValuesPlan:
    mode: str  # "dict", "tuple", "flat", "named"
    names: list[str]
    converters: list[Any]


@dataclass
class Parts:
    where: list[Any]
    having: list[Any]
    grouped: bool


def _has_aggregate(token: Any) -> bool:
    if isinstance(token, tuple):
        if token and token[0] == "agg":
            return True
        return any(_has_aggregate(t) for t in token)
    return False


def _refers(token: Any, names: set[str]) -> bool:
    """Whether a Q token uses any of the annotation ``names``."""
    if not names or not isinstance(token, tuple) or not token:
        return False
    if token[0] in ("L", "F"):
        path = token[1]
        if any(path == n or path.startswith(n + "__") for n in names):
            return True
        return token[0] == "L" and _refers(token[2], names)
    return any(_refers(t, names) for t in token)


def prepare(compiler: Compiler, scope: Scope, key: QueryKey) -> Parts:
    meta = key.model._meta
    for name, token in key.annotations:
        if name in meta.fields or name in meta.by_attname or name == "pk":
            raise QueryError(f"the annotation {name!r} conflicts with a field of {meta.label}")
        scope.annotations[name] = compiler.expression(scope, token)
        if _has_aggregate(token):
            scope.aggregates.add(name)
    where: list[Any] = []
    having: list[Any] = []
    for token in key.where:
        clause = compiler.condition(scope, token)
        (having if _refers(token, scope.aggregates) else where).append(clause)
    if key.empty:
        where.append(sa.false())
    return Parts(where, having, bool(scope.aggregates))


def _converter(compiler: Compiler, field: Any) -> Any:
    if isinstance(field, Field) and field.concrete:
        return field.converters(compiler.backend)[1]
    return None


def _sum_type(compiler: Compiler, scope: Scope, argument: Any) -> type | None:
    """int or float when the summed values are: SUM of integers is a DECIMAL on MySQL
    (and of a bigint, a Count annotation say, a numeric on PostgreSQL); of decimals a
    float on SQLite.  An expression or an annotation has its SQL type (``F("n") * 2``,
    ``Sum("n_books")`` over ``n_books=Count(...)``): it was a Decimal on some backends,
    an int on others."""
    if argument[0] == "F":
        kind, expression, found, _, _ = compiler.walk(scope, argument[1], in_filter=False)
        if kind == "column":
            python_type = getattr(found, "python_type", None)
            return python_type if python_type is int or python_type is float else None
        sql_type = getattr(expression, "type", None)
    else:
        sql_type = compiler.expression(scope, argument).type
    if isinstance(sql_type, sa.Float):
        return float
    if isinstance(sql_type, sa.Integer):
        return int
    return None


def _annotation_converter(compiler: Compiler, scope: Scope, token: Any) -> Any:
    """Aggregates keep their field's conversion (Min/Max of a date on SQLite ...)."""
    if token[0] == "agg":
        function, argument = token[1], token[2]
        if function == "count":
            return int
        if function == "avg":
            return float
        if function == "sum":
            python_type = _sum_type(compiler, scope, argument)
            if python_type is not None:
                return python_type
        if argument[0] == "F":
            _, _, found, _, _ = compiler.walk(scope, argument[1], in_filter=False)
            return _converter(compiler, found)
        return None
    if token[0] == "F":
        kind, _, found, _, _ = compiler.walk(scope, token[1], in_filter=False)
        return _converter(compiler, found) if kind == "column" else None
    if token[0] == "trunc":
        from ._dates import converter

        return converter(token, compiler.backend)
    return None


def _model_columns(compiler: Compiler, key: QueryKey, model: type[Model]) -> list[Field[Any]]:
    meta = model._meta
    only, defer = key.only, key.defer
    for name in (only or frozenset()) | defer:
        meta.get_field(name)
    return [
        f
        for f in meta.concrete
        if f.primary_key
        or (
            (only is None or f.name in only or f.attname in only)
            and f.name not in defer
            and f.attname not in defer
        )
    ]


def _select_related(
    compiler: Compiler, scope: Scope, key: QueryKey, plan: ModelPlan, columns: list[Any]
) -> None:
    parents: dict[str, tuple[int, Any, type[Model]]] = {"": (0, scope.alias, key.model)}
    for path in sorted(key.related, key=lambda p: p.count("__")):
        parts = path.split("__")
        prefix = ""
        for part in parts:
            joined = f"{prefix}__{part}" if prefix else part
            if joined not in parents:
                index, alias, model = parents[prefix]
                relation = model._meta.relations.get(part)
                if relation is None or relation.multi:
                    singles = [n for n, r in model._meta.relations.items() if not r.multi]
                    hint = " (a multi-valued relation: use prefetch_related)" if relation else ""
                    raise FieldError(
                        f"invalid select_related path {path!r}: {model.__name__} has no "
                        f"single-valued relation {part!r}{hint} (choices: {', '.join(singles)})"
                    )
                right = compiler.join(scope, alias, relation)
                target = relation.target
                fields = target._meta.concrete
                start = len(columns)
                columns.extend(right.c[f.attname] for f in fields)
                del start
                plan.related.append(
                    RelatedPlan(
                        parent=index,
                        name=relation.name,
                        forward=relation.kind == "forward",
                        model=target,
                        columns=[(f.attname, _converter(compiler, f)) for f in fields],
                        pk_index=fields.index(target._meta.pk),
                    )
                )
                parents[joined] = (len(plan.related), right, target)
            prefix = joined


def _order(compiler: Compiler, scope: Scope, key: QueryKey, grouped_values: bool) -> list[Any]:
    terms = key.order
    if terms is None:
        if grouped_values:
            return []
        from ._expressions import order_token

        terms = tuple(order_token(t, []) for t in key.model._meta.ordering)
    out: list[Any] = []
    for _, expression_token, descending, nulls in terms:
        expression = compiler.expression(scope, expression_token)
        if expression_token[0] == "random":
            out.append(expression)  # no direction: reversed, it is as random
            continue
        if key.reverse:
            descending = not descending
            nulls = {"first": "last", "last": "first"}.get(nulls) if nulls else None
        if nulls is not None and compiler.backend == "mysql":
            # MySQL has no NULLS FIRST/LAST: sort on "is null" first.
            flag = expression.is_(None)
            out.append(flag.desc() if nulls == "first" else flag.asc())
            nulls = None
        term = expression.desc() if descending else expression.asc()
        if nulls == "first":
            term = term.nulls_first()
        elif nulls == "last":
            term = term.nulls_last()
        out.append(term)
    return out


def _distinct_on(compiler: Compiler, scope: Scope, key: QueryKey, order: list[Any]) -> list[Any]:
    """``distinct(*fields)``'s columns, for PostgreSQL's ``DISTINCT ON``.

    PostgreSQL keeps the first row of each group in the ORDER BY, so its leading terms
    must be the DISTINCT ON columns (in any order; a shorter ordering is a prefix of
    them).  Checked here, before any SQL runs, so the error names the fields and the
    ordering (PostgreSQL's own: "SELECT DISTINCT ON expressions must match initial
    ORDER BY expressions").  MySQL and SQLite have no DISTINCT ON, as in Django.
    """
    from ._errors import NotSupportedError

    names = ", ".join(repr(n) for n in key.distinct)  # type: ignore[union-attr]
    if compiler.backend != "postgresql":
        raise NotSupportedError(
            f"distinct({names}): DISTINCT ON fields is not supported by {compiler.backend} "
            "(PostgreSQL only); use distinct() with values() of those fields instead"
        )
    columns: list[Any] = []
    for name in key.distinct:  # type: ignore[union-attr]
        _kind, expression, _found, rest, _ = compiler.walk(scope, name, in_filter=False)
        if rest:
            raise FieldError(f"distinct(): {name!r} is not a field path")
        columns.append(expression)
    for term in order[: len(columns)]:
        expression = term
        while isinstance(expression, sa.UnaryExpression) and expression.modifier is not None:
            expression = expression.element  # nulls_first(desc(col)) -> col
        if not any(expression.compare(column) for column in columns):
            source = "order_by()" if key.order is not None else "Meta.ordering"
            raise QueryError(
                f"distinct({names}): the ordering must start with the distinct fields "
                f"({source} starts with another term); order_by({names}, ...)"
            )
    return columns


def _limit(statement: Any, key: QueryKey) -> Any:
    if key.limit is not None:
        statement = statement.limit(sa.bindparam(f"p{key.limit[1]}", type_=sa.Integer))
    if key.offset is not None:
        statement = statement.offset(sa.bindparam(f"p{key.offset[1]}", type_=sa.Integer))
    return statement


def build_select(
    compiler: Compiler, scope: Scope, key: QueryKey, *, subquery: bool = False
) -> tuple[Any, Any]:
    """The SELECT of a queryset, and its loader plan."""
    parts = prepare(compiler, scope, key)
    columns: list[Any] = []
    group_by: list[Any] = []
    plan: Any
    if key.mode == "model":
        fields = _model_columns(compiler, key, key.model)
        columns = [scope.alias.c[f.attname] for f in fields]
        plan = ModelPlan(key.model, [(f.attname, _converter(compiler, f)) for f in fields])
        if subquery:
            columns = [scope.alias.c[key.model._meta.pk.attname]]
        else:
            _select_related(compiler, scope, key, plan, columns)
        if parts.grouped:
            group_by = list(columns)
        for name, token in key.annotations:
            columns.append(scope.annotations[name])
            plan.annotations.append((name, _annotation_converter(compiler, scope, token)))
    else:
        names: list[str] = []
        converters: list[Any] = []
        if key.fields:
            for name, token in key.fields:
                if token is not None:
                    scope.annotations[name] = compiler.expression(scope, token)
                    if _has_aggregate(token):
                        scope.aggregates.add(name)
                        parts.grouped = True
                    expression = scope.annotations[name]
                    converter = _annotation_converter(compiler, scope, token)
                else:
                    kind, expression, found, rest, _ = compiler.walk(scope, name, in_filter=False)
                    if rest:
                        raise FieldError(
                            f"values(): {name!r} is not a field path "
                            f"({'__'.join(rest)!r} is a lookup)"
                        )
                    converter = (
                        _annotation_converter(
                            compiler, scope, dict(key.annotations).get(name, ("x",))
                        )
                        if kind == "annotation"
                        else _converter(compiler, found)
                    )
                    if kind == "column" and key.group_values:
                        group_by.append(expression)
                names.append(name)
                columns.append(expression)
                converters.append(converter)
            if key.group_values:
                # annotate() after values(): the annotations join the selected columns.
                for name, token in key.annotations:
                    if name not in names:
                        names.append(name)
                        columns.append(scope.annotations[name])
                        converters.append(_annotation_converter(compiler, scope, token))
        else:
            for f in key.model._meta.concrete:
                names.append(f.attname)
                columns.append(scope.alias.c[f.attname])
                converters.append(_converter(compiler, f))
            for name, token in key.annotations:
                names.append(name)
                columns.append(scope.annotations[name])
                converters.append(_annotation_converter(compiler, scope, token))
        if parts.grouped and not key.group_values:
            group_by = [c for c, n in zip(columns, names, strict=True) if n not in scope.aggregates]
        if key.mode == "flat" and len(columns) != 1:
            raise QueryError("values_list(flat=True) takes exactly one field")
        plan = ValuesPlan(key.mode, names, converters)
    order: list[Any] = []
    ordered = key.combined is None and (not subquery or key.limit is not None)
    if ordered:
        # Before the FROM clause is taken: ordering may join relations too.
        order = _order(compiler, scope, key, key.group_values and parts.grouped)
    distinct_on: list[Any] = []
    if isinstance(key.distinct, tuple):
        distinct_on = _distinct_on(compiler, scope, key, order)
    labelled = [c.label(f"c{i}") for i, c in enumerate(columns)]
    statement = sa.select(*labelled).select_from(scope.from_)
    if parts.where:
        statement = statement.where(*parts.where)
    if group_by:
        statement = statement.group_by(*group_by)
    if parts.having:
        statement = statement.having(*parts.having)
    if distinct_on:
        from sqlalchemy.dialects.postgresql import distinct_on as on

        statement = statement.ext(on(*distinct_on))
    elif key.distinct:
        statement = statement.distinct()
    if key.combined is not None:
        return _combine(compiler, scope, key, statement, plan), plan
    if order:
        statement = statement.order_by(*order)
    statement = _limit(statement, key)
    if key.for_update is not None:
        nowait, skip_locked = key.for_update
        of = scope.alias if compiler.backend == "postgresql" and scope.joins else None
        statement = statement.with_for_update(nowait=nowait, skip_locked=skip_locked, of=of)
    return statement, plan


def _combine(compiler: Compiler, scope: Scope, key: QueryKey, first: Any, plan: Any) -> Any:
    from ._compiler import Scope

    _operator, keep_all, others = key.combined  # type: ignore[misc]
    selects = [first]
    for other in others:
        inner = Scope(other.model, compiler.new_alias(other.model))
        statement, _other_plan = build_select(compiler, inner, other._replace(order=()))
        if len(statement.selected_columns) != len(first.selected_columns):
            raise QueryError("union(): the querysets must select the same number of columns")
        selects.append(statement)
    combined: Any = sa.union_all(*selects) if keep_all else sa.union(*selects)
    names = plan.names if isinstance(plan, ValuesPlan) else [a for a, _ in plan.columns]
    order = []
    for _, expression_token, descending, _nulls in key.order or ():
        if expression_token[0] != "F" or expression_token[1] not in names:
            raise QueryError(
                f"union(): order_by() takes the names of selected columns ({', '.join(names)})"
            )
        column: Any = sa.literal_column(f"c{names.index(expression_token[1])}")
        order.append(column.desc() if descending != key.reverse else column.asc())
    result = combined.subquery("u")
    statement = sa.select(*[result.c[f"c{i}"] for i in range(len(first.selected_columns))])
    if order:
        statement = statement.order_by(*order)
    return _limit(statement, key)


def _simple(key: QueryKey, parts: Parts) -> bool:
    return (
        key.limit is None
        and key.offset is None
        and not key.distinct
        and not parts.grouped
        and key.combined is None
    )


def build_count(compiler: Compiler, scope: Scope, key: QueryKey) -> Any:
    if (
        key.combined is None
        and key.limit is None
        and key.offset is None
        and not key.distinct
        and not key.annotations
        and key.mode == "model"
    ):
        parts = prepare(compiler, scope, key)
        if not parts.grouped:
            statement = sa.select(sa.func.count()).select_from(scope.from_)
            return statement.where(*parts.where) if parts.where else statement
    inner, _ = build_select(compiler, scope, key._replace(order=(), related=()))
    return sa.select(sa.func.count()).select_from(inner.subquery("c"))


def build_exists(compiler: Compiler, scope: Scope, key: QueryKey) -> Any:
    if key.combined is None and key.limit is None and key.offset is None and not key.annotations:
        parts = prepare(compiler, scope, key)
        statement = sa.select(sa.literal(1)).select_from(scope.from_).limit(1)
        return statement.where(*parts.where) if parts.where else statement
    inner, _ = build_select(compiler, scope, key._replace(order=(), related=()))
    return sa.select(sa.literal(1)).select_from(inner.subquery("e")).limit(1)


def build_aggregate(
    compiler: Compiler, scope: Scope, key: QueryKey, aggregates: tuple[Any, ...]
) -> tuple[Any, list[tuple[str, Any]]]:
    from ._compiler import Scope

    parts = prepare(compiler, scope, key)
    if _simple(key, parts) and not parts.having:
        target = scope
        statement = None
    else:
        inner, plan = build_select(compiler, scope, key._replace(order=(), related=()))
        sub = inner.subquery("a")
        target = Scope(key.model, sub)
        names = (
            plan.names
            if isinstance(plan, ValuesPlan)
            else [
                *(a for a, _ in plan.columns),
                *(a for a, _ in plan.annotations),
            ]
        )
        for index, name in enumerate(names):
            target.annotations[name] = sub.c[f"c{index}"]
        statement = sub
    columns = []
    out: list[tuple[str, Any]] = []
    for index, (name, token) in enumerate(aggregates):
        if not _has_aggregate(token):
            raise QueryError(f"aggregate(): {name!r} is not an aggregate expression")
        columns.append(compiler.expression(target, token).label(f"c{index}"))
        out.append((name, _annotation_converter(compiler, scope, token)))
    select = sa.select(*columns)
    if statement is None:
        select = select.select_from(scope.from_)
        if parts.where:
            select = select.where(*parts.where)
    else:
        select = select.select_from(statement)
    return select, out


def _target(compiler: Compiler, key: QueryKey) -> tuple[Scope, list[Any]]:
    """The table scope and WHERE of an UPDATE/DELETE: the conditions themselves, or
    ``pk IN (SELECT ...)`` when they need joins (the statement's table stays alone)."""
    from ._compiler import Scope

    table = key.model._meta.table
    scope = Scope(key.model, table)
    parts = prepare(compiler, scope, key)
    if scope.from_ is scope.alias and not parts.having:
        return scope, parts.where
    inner = Scope(key.model, compiler.new_alias(key.model))
    flat = key._replace(mode="flat", fields=(("pk", None),), order=())
    select, _ = build_select(compiler, inner, flat)
    clean = Scope(key.model, table)
    pk = table.c[key.model._meta.pk.attname]
    # MySQL refuses a subquery on the table being changed unless it is a derived table.
    derived: Any = sa.select(sa.literal_column("c0")).select_from(select.subquery("d"))
    return clean, [pk.in_(derived)]


def build_update(
    compiler: Compiler, scope: Scope, key: QueryKey, assignments: tuple[Any, ...]
) -> Any:
    meta = key.model._meta
    target, where = _target(compiler, key)
    values: dict[Any, Any] = {}
    for attname, token in assignments:
        field_ = meta.by_attname[attname]
        column = target.alias.c[attname]
        if token[0] in ("v", "null"):
            # Parsed as save() parses it (a model object gives its key); NULL is left to
            # the column, as Django leaves it.
            values[column] = compiler.value(target, token, field_, None, write=True)
        else:
            values[column] = compiler.expression(target, token)
            if target.from_ is not target.alias:
                raise FieldError("update(): F() cannot follow relations (joined fields)")
    statement = sa.update(target.alias).values(values)
    return statement.where(*where) if where else statement


def build_delete(compiler: Compiler, scope: Scope, key: QueryKey) -> Any:
    target, where = _target(compiler, key)
    statement = sa.delete(target.alias)
    return statement.where(*where) if where else statement
