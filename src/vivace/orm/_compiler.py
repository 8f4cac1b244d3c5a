"""From a query key to SQL: paths, joins, conditions, the select; compiled once per shape.

Theory of operation: ``compile_select(connection, key)`` interprets the tokens of a
``QueryKey`` (see _query, _expressions) into a SQLAlchemy Core statement, renders it
once with the database's dialect switched to ``:name`` parameters, and returns a
``Compiled``: the SQL text, which parameter index fills which ``:p<N>`` (and the
conversion its value needs first), and the row loader.  The result is cached per
database under the key, so the next queryset of the same shape costs a dict lookup
plus binding.  vivace.db then maps ``:p<N>`` to the driver's placeholders (also
cached by text), so values are always bound, never spliced into SQL.

Paths (``author__country__name``) are walked model by model.  A single-valued hop
(forward foreign key, one-to-one, either direction) is a LEFT OUTER JOIN, reused by
every use of the same path.  A multi-valued hop (reverse foreign key,
many-to-many) in a *filter* is a correlated ``EXISTS`` subquery, so rows are never
repeated and negation means "no related row matches"; conditions on the same
relation given in one ``filter()`` call share one subquery (they must hold for the
same related row, as in Django), separate calls get separate subqueries.  In
``annotate``/``values``/``order_by`` a multi-valued hop is a LEFT OUTER JOIN (an
aggregate over it groups by the model's columns).

Negation (``exclude()``, ``~Q``) is ``NOT (condition IS TRUE)``: a row whose column is
NULL is *not* excluded by ``exclude(col=1)``, as in Django.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ._errors import FieldError, QueryError, ValidationError
from ._expressions import Q
from ._fields import Field, JSONField, part_parser
from ._lookups import (
    LOOKUPS,
    apply_lookup,
    date_part,
    json_null,
    json_path,
    like_converter,
    split_lookup,
)
from ._relations import ForeignKey, ManyToManyField, Relation

if TYPE_CHECKING:
    from ._model import Model
    from ._query import QueryKey
    from ._registry import Connection

__all__ = ["PARAMETER", "Compiled", "Compiler", "Scope", "condition_for_ddl"]

# A value's placeholder in compiled SQL (``:p<N>``, N its index in the query's params).
PARAMETER = re.compile(r":p(\d+)(?!\w)")

Converter = Callable[[Any], Any] | None
_AGGREGATES: dict[str, Callable[..., Any]] = {
    "count": sa.func.count,
    "sum": sa.func.sum,
    "avg": sa.func.avg,
    "min": sa.func.min,
    "max": sa.func.max,
}
_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b,
    "%": lambda a, b: a % b,
}


class Compiled:
    """One compiled statement shape: SQL text, parameter slots, row loader."""

    __slots__ = ("fixed", "load", "load_one", "names", "plan", "slots", "sql")

    def __init__(self, statement: Any, compiler: Compiler) -> None:
        compiled = statement.compile(dialect=compiler.connection.dialect)
        self.sql: str = compiled.string
        fixed: dict[str, Any] = {}
        slots: list[tuple[str, int, Converter]] = []
        dialect = compiler.connection.dialect
        for name, value in compiled.params.items():
            if name[0] == "p" and name[1:].isdigit():
                index = int(name[1:])
                slots.append((name, index, compiler.converters.get(index)))
            else:
                # A value SQLAlchemy bound itself (a JSON path ...): convert it once here.
                bind = compiled.binds[name]
                processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
                fixed[name] = processor(value) if processor is not None else value
        self.slots = tuple(slots)
        self.fixed = fixed
        self.names = tuple(name for name, _, _ in slots)
        self.load: Any = None
        self.load_one: Any = None
        self.plan: Any = None

    def sharing(self, load: Any, plan: Any) -> Compiled:
        """The same statement with another loader (a values() shape of a model query)."""
        twin = Compiled.__new__(Compiled)
        twin.sql, twin.slots, twin.fixed, twin.names = self.sql, self.slots, self.fixed, self.names
        twin.load, twin.load_one, twin.plan = load, None, plan
        return twin

    def values(self, params: list[Any]) -> dict[str, Any]:
        """The ``:name`` → value mapping for one execution. A value that does not parse
        raises ``ValidationError`` naming every such value (``_refused``), as ``create``
        does, not only the first."""
        values = dict(self.fixed) if self.fixed else {}
        try:
            for name, index, converter in self.slots:
                value = params[index]
                if converter is not None and value is not None:
                    value = converter(value)
                values[name] = value
        except ValidationError:
            raise self._refused(params) from None
        return values

    def _refused(self, params: list[Any]) -> ValidationError:
        """Every parse failure of ``params``, merged (off the hot path: a try costs
        nothing until it catches)."""
        errors: dict[str, list[str]] = {}
        for _, index, converter in self.slots:
            value = params[index]
            if converter is None or value is None:
                continue
            try:
                converter(value)
            except ValidationError as exc:
                for where, messages in exc.errors.items():
                    known = errors.setdefault(where, [])
                    known += [m for m in messages if m not in known]
        return ValidationError(errors)


def refusing(error: ValidationError) -> Converter:
    """A converter that refuses every value with ``error``'s messages: the parser of a
    value type the field never takes, raised when the values are read (with the others'
    errors) rather than when the statement or write plan is built."""

    def refuse(value: Any) -> Any:
        raise ValidationError(error.errors)

    return refuse


class Scope:
    """The FROM clause of one SELECT level: its base model and the joins made so far."""

    __slots__ = ("aggregates", "alias", "annotations", "from_", "joins", "model", "parent")

    def __init__(self, model: type[Model], alias: Any, parent: Scope | None = None) -> None:
        self.model = model
        self.alias = alias
        self.from_: Any = alias
        self.joins: dict[tuple[int, str], Any] = {}
        self.annotations: dict[str, Any] = {}
        self.aggregates: set[str] = set()
        self.parent = parent


class Compiler:
    """Turns tokens into SQLAlchemy expressions for one connection (one dialect)."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.backend = connection.backend
        self.converters: dict[int, Converter] = {}
        self.counter = 0

    def new_alias(self, model: type[Model]) -> Any:
        self.counter += 1
        return model._meta.table.alias(f"t{self.counter}")

    # -- joins and paths -----------------------------------------------------------------

    def join(self, scope: Scope, left: Any, relation: Relation) -> Any:
        """LEFT OUTER JOIN ``relation`` from ``left`` (reused); returns the target alias."""
        key = (id(left), relation.name)
        found = scope.joins.get(key)
        if found is not None:
            return found
        if relation.kind == "m2m":
            through = relation.through
            assert through is not None
            middle = self.new_alias(through)
            scope.from_ = scope.from_.outerjoin(
                middle, left.c[relation.local] == middle.c[relation.source_fk.attname]
            )
            right = self.new_alias(relation.target)
            scope.from_ = scope.from_.outerjoin(
                right, middle.c[relation.target_fk.attname] == right.c[relation.remote]
            )
        else:
            right = self.new_alias(relation.target)
            scope.from_ = scope.from_.outerjoin(
                right, left.c[relation.local] == right.c[relation.remote]
            )
        scope.joins[key] = right
        return right

    def walk(
        self, scope: Scope, path: str, *, in_filter: bool
    ) -> tuple[str, Any, Any, list[str], type[Model]]:
        """Follow ``path``.  Returns ``(kind, expression_or_alias, field_or_relation,
        rest, model)``: kind "column" (a column and its field), "annotation", or
        "multi" (a multi-valued relation met in a filter: the alias it starts from)."""
        model = scope.model
        alias = scope.alias
        if scope.annotations:
            for name, expression in scope.annotations.items():
                if path == name or path.startswith(name + "__"):
                    rest = path[len(name) + 2 :].split("__") if path != name else []
                    return "annotation", expression, name, rest, model
        parts = path.split("__")
        index = 0
        while True:
            part = parts[index]
            meta = model._meta
            if part == "pk":
                part = meta.pk.name
            rest = parts[index + 1 :]
            relation = meta.relations.get(part)
            field = meta.fields.get(part) or meta.by_attname.get(part)
            is_relation_name = field is None or (field.name == part and field.is_relation)
            if relation is not None and is_relation_name:
                if relation.kind == "forward":
                    fk = relation.field
                    if not rest or rest[0] in LOOKUPS:
                        return "column", alias.c[fk.attname], fk, rest, model
                    if rest[0] in ("pk", fk.target_field.name) and (
                        len(rest) == 1 or rest[1] in LOOKUPS
                    ):
                        return "column", alias.c[fk.attname], fk, rest[1:], model
                elif relation.multi and in_filter:
                    return "multi", alias, relation, rest, model
                alias = self.join(scope, alias, relation)
                model = relation.target
                if not rest or rest[0] in LOOKUPS:
                    pk = model._meta.pk
                    return "column", alias.c[pk.attname], pk, rest, model
                index += 1
                continue
            if field is None or isinstance(field, ManyToManyField):
                raise FieldError(
                    f"cannot resolve {part!r} into a field of {model.__name__} "
                    f"(choices: {', '.join(meta.field_names())})"
                    + (f" in {path!r}" if path != part else "")
                )
            return "column", alias.c[field.attname], field, rest, model

    # -- values --------------------------------------------------------------------------

    def value(
        self,
        scope: Scope,
        token: tuple[Any, ...],
        field: Any,
        converter: Converter,
        write: bool = False,
    ) -> Any:
        """The SQL for a value token compared with ``field`` (``write``: assigned to it,
        by update(): parsed by the field's write_parser)."""
        kind = token[0]
        if kind == "v":
            index, value_type = token[1], token[2]
            self.converters[index] = self.value_converter(field, value_type, converter, write)
            return sa.bindparam(f"p{index}", type_=_sa_type(field))
        if kind == "null":
            return sa.null()
        if kind == "list":
            start, count, types = token[1], token[2], token[3]
            out = []
            for offset in range(count):
                index = start + offset
                self.converters[index] = self.value_converter(field, types[offset], converter)
                out.append(sa.bindparam(f"p{index}", type_=_sa_type(field)))
            return out
        if kind == "sub":
            return self.subquery(scope, token[1])
        return self.expression(scope, token)

    def value_converter(
        self, field: Any, value_type: type, converter: Converter, write: bool = False
    ) -> Converter:
        from ._model import Model

        if converter is not None:
            return converter
        if field is None or not isinstance(field, Field):
            return (
                _pk_of if isinstance(value_type, type) and issubclass(value_type, Model) else None
            )
        to_db = field.converters(self.backend)[0]
        if isinstance(value_type, type) and issubclass(value_type, Model):
            attname, expected = field.attname, field.model
            if isinstance(field, ForeignKey):
                attname, expected = field.target_field.attname, field.target
            if not issubclass(value_type, expected):
                # Its key would be compared with another table's (Django: ValueError).
                where = f"{field.model.__name__}.{field.name}"
                message = f"expected {expected.__name__}, got a {value_type.__name__}"
                raise ValidationError({where: [message]})

            def from_instance(value: Any) -> Any:
                key = getattr(value, attname)
                return to_db(key) if to_db is not None and key is not None else key

            return from_instance
        try:
            parse = (
                (field.write_parser if write else field.parser)(value_type)
                if isinstance(value_type, type)
                else None
            )
        except ValidationError as exc:
            # A type the field never takes (a list for a BooleanField): refused when the
            # values are read (``Compiled.values``), with the other values' errors.
            return refusing(exc)
        if parse is None:
            return to_db
        if to_db is None:
            return parse
        convert = to_db
        return lambda value: convert(parse(value))

    def subquery(self, scope: Scope, key: QueryKey) -> Any:
        """A query used as a value (``__in=queryset``): it selects one column."""
        inner = Scope(key.model, self.new_alias(key.model), scope)
        statement, _ = self.select(inner, key, subquery=True)
        return statement

    def expression(self, scope: Scope, token: tuple[Any, ...]) -> Any:
        kind = token[0]
        if kind == "F":
            _found, expression, _field, rest, _ = self.walk(scope, token[1], in_filter=False)
            if rest:
                raise FieldError(f"F({token[1]!r}): {'__'.join(rest)!r} is not a field")
            return expression
        if kind == "v":
            self.converters[token[1]] = None
            return sa.bindparam(f"p{token[1]}", type_=_python_sa_type(token[2]))
        if kind == "null":
            return sa.null()
        if kind == "op":
            lhs = self.expression(scope, token[2])
            rhs = self.expression(scope, token[3])
            return _OPERATORS[token[1]](lhs, rhs)
        if kind == "agg":
            return self.aggregate(scope, token)
        if kind == "star":
            return sa.literal_column("*")
        if kind == "trunc":
            from ._dates import truncate

            return truncate(self, scope, token)
        if kind == "random":
            return sa.func.rand() if self.backend == "mysql" else sa.func.random()
        raise QueryError(f"cannot use {token[0]!r} here")  # pragma: no cover

    def aggregate(self, scope: Scope, token: tuple[Any, ...]) -> Any:
        _, function, argument, distinct, condition = token
        if argument[0] == "star":
            if condition is None:
                return sa.func.count()
            argument = ("F", "pk")
        if argument[0] == "F":
            _found, expression, _field, rest, _ = self.walk(scope, argument[1], in_filter=False)
            if rest:
                raise FieldError(f"cannot aggregate over {argument[1]!r}")
        else:
            expression = self.expression(scope, argument)
        if condition is not None:
            where = self.condition(scope, condition, joined=True)
            if self.backend == "postgresql" or self.backend == "sqlite":
                call = _AGGREGATES[function](expression.distinct() if distinct else expression)
                return call.filter(where)
            expression = sa.case((where, expression), else_=sa.null())
        if distinct:
            expression = expression.distinct()
        return _AGGREGATES[function](expression)

    # -- conditions ----------------------------------------------------------------------

    def condition(self, scope: Scope, token: tuple[Any, ...], *, joined: bool = False) -> Any:
        """A Q token → a WHERE clause.  ``joined``: multi-valued relations are the
        joined rows (an aggregate's ``filter=``), not EXISTS subqueries."""
        _, connector, negated, children = token
        clauses: list[Any] = []
        groups: dict[str, list[tuple[Any, ...]]] = {}
        for child in children:
            if child[0] == "Q":
                clauses.append(self.condition(scope, child, joined=joined))
                continue
            prefix = None if joined else self.multi_prefix(scope, child[1])
            if prefix is not None and connector == Q.AND:
                groups.setdefault(prefix, []).append(child)
            else:
                clauses.append(self.leaf(scope, child, joined=joined))
        for prefix, leaves in groups.items():
            clauses.append(self.exists(scope, prefix, leaves))
        if not clauses:
            clause: Any = sa.true()
        elif len(clauses) == 1:
            clause = clauses[0]
        else:
            clause = sa.and_(*clauses) if connector == Q.AND else sa.or_(*clauses)
        if negated:
            return sa.not_(clause.is_(sa.true()))
        return clause

    def multi_prefix(self, scope: Scope, path: str) -> str | None:
        """The path up to its first multi-valued relation, or None (no joins made)."""
        model = scope.model
        parts = path.split("__")
        if any(path == n or path.startswith(n + "__") for n in scope.annotations):
            return None
        for index, part in enumerate(parts):
            meta = model._meta
            relation = meta.relations.get(meta.pk.name if part == "pk" else part)
            if relation is None:
                return None
            if relation.multi:
                return "__".join(parts[: index + 1])
            model = relation.target
        return None

    def exists(self, scope: Scope, prefix: str, leaves: list[tuple[Any, ...]]) -> Any:
        """EXISTS over the related rows of a multi-valued relation meeting every leaf."""
        kind, alias, relation, _, _ = self.walk(scope, prefix + "__x", in_filter=True)
        assert kind == "multi"
        target = relation.target
        inner_alias = self.new_alias(target)
        inner = Scope(target, inner_alias, scope)
        if relation.kind == "m2m":
            through = relation.through
            assert through is not None
            middle = self.new_alias(through)
            inner.from_ = middle.join(
                inner_alias, middle.c[relation.target_fk.attname] == inner_alias.c[relation.remote]
            )
            correlation = middle.c[relation.source_fk.attname] == alias.c[relation.local]
        else:
            correlation = inner_alias.c[relation.remote] == alias.c[relation.local]
        conditions = [correlation]
        isnull: bool | None = None
        for _, path, value in leaves:
            rest = path[len(prefix) + 2 :]
            if rest == "isnull":
                if value[0] != "bool":
                    raise QueryError("__isnull takes True or False")
                isnull = value[1]
                continue
            if not rest or rest.split("__")[0] in LOOKUPS:
                rest = "pk" + ("__" + rest if rest else "")
            conditions.append(self.leaf(inner, ("L", rest, value)))
        found = sa.exists(sa.select(sa.literal(1)).select_from(inner.from_).where(*conditions))
        if isnull is True:
            return sa.not_(found)
        return found

    def leaf(self, scope: Scope, leaf: tuple[Any, ...], *, joined: bool = False) -> Any:
        _, path, value = leaf
        kind, expression, field, rest, model = self.walk(scope, path, in_filter=not joined)
        if kind == "multi":
            # A multi-valued leaf under OR (or NOT): an EXISTS of its own.
            parts = path.split("__")
            return self.exists(scope, "__".join(parts[: len(parts) - len(rest)]), [leaf])
        if kind == "annotation":
            if len(rest) > 1 or (rest and rest[0] not in LOOKUPS):
                raise FieldError(
                    f"unsupported lookup {'__'.join(rest)!r} on the annotation {field!r} "
                    f"(choices: {', '.join(sorted(LOOKUPS))})"
                )
            # n__gt="1" from a query string: parsed by the annotation's SQL type (Count:
            # int), as a field's filter values are (PostgreSQL refused the text).
            sql_type = getattr(expression, "type", None)
            number: type | None = None
            if isinstance(sql_type, sa.Float):
                number = float
            elif isinstance(sql_type, sa.Integer):
                number = int
            parse = part_parser(f"{model.__name__}.{field}", number) if number else None
            lookup = rest[0] if rest else "exact"
            return self.compare(scope, expression, None, lookup, value, parse)
        transforms, lookup = split_lookup(field, rest, model.__name__)
        converter: Converter = None
        compared_field: Any = field
        if isinstance(field, JSONField) and transforms:
            value_type = value[2] if value[0] == "v" else None
            if value[0] == "list":
                value_type = value[3][0] if value[3] else None
            raw, expression = json_path(expression, transforms, value_type, self.backend)
            if value[0] == "null" and lookup == "exact":
                return json_null(raw, self.backend)
            if lookup != "isnull":
                # A missing key matches no comparison (some backends read it as false).
                condition = self.compare(scope, expression, None, lookup, value, converter)
                return sa.and_(raw.is_not(None), condition)
            expression = raw
            compared_field = None
        elif transforms:
            expression = date_part(transforms[0], expression, self.backend)
            compared_field = None
            # published__year="2024" from a query string: parsed as a filter on the
            # field would be (PostgreSQL refused the text; SQLite and MySQL cast it).
            expected = datetime.date if transforms[0] == "date" else int
            converter = part_parser(field, expected)
        return self.compare(scope, expression, compared_field, lookup, value, converter)

    def compare(
        self,
        scope: Scope,
        lhs: Any,
        field: Any,
        lookup: str,
        value: tuple[Any, ...],
        converter: Converter = None,
    ) -> Any:
        kind = value[0]
        if lookup == "isnull":
            if kind != "bool":
                raise QueryError("__isnull takes True or False")
            return lhs.is_(None) if value[1] else lhs.is_not(None)
        if kind == "null":
            if lookup in ("exact", "iexact"):
                return lhs.is_(None)
            raise QueryError(f"None cannot be used with __{lookup} (use __isnull)")
        if lookup in (
            "contains",
            "icontains",
            "startswith",
            "istartswith",
            "endswith",
            "iendswith",
        ):
            if isinstance(field, JSONField):
                raise FieldError(
                    "text lookups on a JSONField need a key path (data__key__contains)"
                )
            converter = like_converter(lookup, self.backend)
            rhs = self.value(scope, value, None, converter)
            return apply_lookup(lhs, lookup, rhs, self.backend)
        if lookup in ("in", "range") and kind not in ("list", "sub"):
            raise QueryError(f"__{lookup} takes a list of values")
        if lookup in ("regex", "iregex"):
            # SQLite's REGEXP is Python's re (registered by vivace.db): flags go inline.
            inline = lookup == "iregex" and self.backend == "sqlite"
            rhs = self.value(scope, value, None, _inline_ignorecase if inline else str)
            if inline:
                return lhs.regexp_match(rhs)
            return apply_lookup(lhs, lookup, rhs, self.backend)
        rhs = self.value(scope, value, field, converter)
        if isinstance(field, JSONField) and kind == "v" and lookup == "exact":
            # A whole JSON document compared: as JSON on PostgreSQL, as text elsewhere.
            if self.backend == "postgresql":
                return lhs == sa.cast(rhs, lhs.type)
            return (
                sa.func.json(lhs) == sa.func.json(rhs)
                if self.backend == "sqlite"
                else (sa.func.json_compact(lhs) == sa.func.json_compact(rhs))
            )
        return apply_lookup(lhs, lookup, rhs, self.backend)

    # -- the select ----------------------------------------------------------------------

    def select(self, scope: Scope, key: QueryKey, *, subquery: bool = False) -> tuple[Any, Any]:
        """The SELECT for ``key`` and the loader plan (see _loader)."""
        from ._select import build_select

        return build_select(self, scope, key, subquery=subquery)


def _inline_ignorecase(value: Any) -> str:
    return f"(?i){value}"


def _pk_of(value: Any) -> Any:
    return value.pk


def _sa_type(field: Any) -> Any:
    if isinstance(field, Field) and field.concrete:
        return field.sa_type()
    return None


def _python_sa_type(value_type: type) -> Any:
    import datetime
    import decimal

    types: dict[type, Any] = {
        bool: sa.Boolean(),
        int: sa.Integer(),
        float: sa.Double(),
        str: sa.String(),
        decimal.Decimal: sa.Numeric(),
        datetime.datetime: sa.DateTime(),
        datetime.date: sa.Date(),
    }
    return types.get(value_type)


class _DDLConnection:
    """A stand-in connection: constraint conditions are compiled before any database."""

    backend = "ddl"
    dialect = None


def condition_for_ddl(model: type[Model], q: Any, table: Any = None) -> Any:
    """A Q used in DDL (check constraints, partial indexes), its values inline.

    Only comparisons that read the same on every backend belong here (exact, gt, gte,
    lt, lte, in, range, isnull on the model's own columns).
    """
    if not isinstance(q, Q):
        raise FieldError(f"{model.__name__}: a constraint condition must be a Q object")
    params: list[Any] = []
    token = q.key(params)
    compiler = Compiler(_DDLConnection())  # type: ignore[arg-type]
    scope = Scope(model, table if table is not None else model._meta.table)
    clause = compiler.condition(scope, token)
    if scope.from_ is not scope.alias:
        raise FieldError(f"{model.__name__}: a constraint condition cannot follow relations")

    def literal(element: Any) -> Any:
        if isinstance(element, sa.sql.elements.BindParameter):
            key = element.key
            if key.startswith("p") and key[1:].isdigit():
                value = params[int(key[1:])]
                converter = compiler.converters.get(int(key[1:]))
                if converter is not None and value is not None:
                    value = converter(value)
                return sa.literal(value, type_=element.type)
        return None

    replaced: Any = sa.sql.visitors.replacement_traverse(clause, {}, literal)  # type: ignore[call-overload]
    return replaced
