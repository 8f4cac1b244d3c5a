"""``Model._meta``: what the ORM knows about one model class.

Built by the model metaclass from the class body and its ``Meta``: the fields in
declaration order, the primary key, the relations (forward, reverse and many-to-many),
ordering, constraints and indexes, and — once every model it refers to is defined —
its SQLAlchemy ``Table`` in the model's ``MetaData`` (``vivace.orm.metadata`` unless
``Meta.metadata`` names another), which is what Alembic autogenerates migrations from.

``Meta`` options: ``table`` (alias ``db_table``), ``abstract``, ``ordering``,
``unique_together``, ``constraints`` (``UniqueConstraint``, ``CheckConstraint``),
``indexes`` (``Index``), ``metadata``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ._errors import FieldError, ModelDefinitionError

if TYPE_CHECKING:
    from ._fields import Field
    from ._model import Model
    from ._relations import Relation

__all__ = ["CheckConstraint", "Index", "Options", "UniqueConstraint", "metadata"]

#: The MetaData every model's table joins unless its ``Meta.metadata`` says otherwise.
metadata = sa.MetaData()

META_OPTIONS = (
    "abstract",
    "constraints",
    "db_table",
    "indexes",
    "metadata",
    "ordering",
    "table",
    "unique_together",
)


class UniqueConstraint:
    """``Meta.constraints = [UniqueConstraint(fields=["a", "b"], name="uq_ab")]``.

    ``condition=Q(...)`` makes it partial: a unique partial index on PostgreSQL and
    SQLite; MySQL has no partial indexes, so there the database does not enforce it.
    """

    def __init__(self, *, fields: Sequence[str], name: str, condition: Any = None) -> None:
        self.fields = tuple(fields)
        self.name = name
        self.condition = condition


class CheckConstraint:
    """``CheckConstraint(check=Q(price__gte=0), name="price_not_negative")``."""

    def __init__(self, *, check: Any, name: str) -> None:
        self.check = check
        self.name = name


class Index:
    """``Index(fields=["-created", "title"], name="ix_recent")``; ``condition=Q(...)``
    makes a partial index where the backend has them (PostgreSQL, SQLite); MySQL
    builds it as a plain index."""

    def __init__(
        self, *, fields: Sequence[str], name: str, unique: bool = False, condition: Any = None
    ) -> None:
        self.fields = tuple(fields)
        self.name = name
        self.unique = unique
        self.condition = condition


# (id of a MetaData, table name) → the model owning it, by qualified name: two models
# may not share a table; the same model defined again (a module reloaded) may.
_table_owners: dict[tuple[int, str], str] = {}


def skipped_on(index: Any, backend: str) -> bool:
    """A unique partial index is not created on MySQL (no partial indexes there)."""
    partial = index.dialect_kwargs.get("postgresql_where") is not None
    return backend == "mysql" and partial and bool(index.unique)


def default_table_name(class_name: str) -> str:
    """``BlogPost`` → ``blog_post``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", class_name).lower()


class Options:
    """The description of one model (``Article._meta``)."""

    def __init__(self, model: type[Model], meta: Any, abstract_parent_meta: Any) -> None:
        self.model = model
        values: dict[str, Any] = {}
        for source in (abstract_parent_meta, meta):
            if source is None:
                continue
            for key, value in vars(source).items():
                if key.startswith("__"):
                    continue
                if key not in META_OPTIONS:
                    raise ModelDefinitionError(
                        f"{model.__name__}.Meta: unknown option {key!r} "
                        f"(valid: {', '.join(META_OPTIONS)})"
                    )
                values[key] = value
        self.abstract: bool = bool(meta is not None and vars(meta).get("abstract", False))
        self.table_name: str = (
            values.get("table") or values.get("db_table") or default_table_name(model.__name__)
        )
        ordering = values.get("ordering", ())
        self.ordering: tuple[Any, ...] = (
            (ordering,) if isinstance(ordering, str) else tuple(ordering)
        )
        self.unique_together = [tuple(group) for group in _groups(values.get("unique_together"))]
        self.constraints: list[Any] = list(values.get("constraints", ()))
        self.indexes: list[Any] = list(values.get("indexes", ()))
        self.metadata: sa.MetaData = values.get("metadata", metadata)
        self.meta_class = meta
        self.fields: dict[str, Field[Any]] = {}
        self.concrete: list[Field[Any]] = []
        self.by_attname: dict[str, Field[Any]] = {}
        self.pk: Field[Any] | Any = None  # the primary key field, once the fields are in
        self.forward: list[Any] = []  # ForeignKey / OneToOneField
        self.many_to_many: list[Any] = []
        self.reverse: list[Relation] = []
        self.incoming: list[Any] = []  # every ForeignKey pointing here (hidden ones too)
        self.accessors: dict[str, Relation] = {}  # attribute name → relation (prefetch)
        self.relations: dict[str, Relation] = {}  # query name → hop (forward and reverse)
        self.table: sa.Table | Any = None  # built once every relation target is defined
        self.waiting = 0  # relations whose target is not defined yet
        self.ready = False  # every field of the class body is in (set by the metaclass)
        self.after_register: list[Any] = []  # callbacks once the class is registered
        self.auto_through = False  # a join table made for a ManyToManyField
        # Row loaders, insert/update SQL, per (kind, backend): see _loader and _writes.
        self.plans: dict[Any, Any] = {}
        self.deletion_plan: Any = None

    def __repr__(self) -> str:
        return f"<Options for {self.model.__name__}>"

    @property
    def label(self) -> str:
        return self.model.__name__

    def add_field(self, field: Field[Any]) -> None:
        self.fields[field.name] = field
        if field.concrete:
            self.concrete.append(field)
            self.by_attname[field.attname] = field
        if field.primary_key:
            if self.pk is not None:
                raise ModelDefinitionError(
                    f"{self.model.__name__} declares two primary keys: "
                    f"{self.pk.name!r} and {field.name!r}"
                )
            self.pk = field

    def field_names(self) -> list[str]:
        """Every name a query may use on this model: fields, attnames, relations."""
        names = list(self.fields)
        names += [f.attname for f in self.concrete if f.attname != f.name]
        names += [name for name in self.relations if name not in self.fields]
        return names

    def get_field(self, name: str) -> Field[Any]:
        """The field called ``name`` (or with that attname); FieldError lists choices."""
        field = self.fields.get(name) or self.by_attname.get(name)
        if field is None:
            raise FieldError(
                f"{self.model.__name__} has no field {name!r} "
                f"(choices: {', '.join(self.field_names())})"
            )
        return field

    # -- the table ----------------------------------------------------------------------------

    def build_table(self) -> None:
        """Create the SQLAlchemy Table (every relation's target is known by now)."""
        name = self.table_name
        qualified = f"{self.model.__module__}.{self.model.__qualname__}"
        owner_key = (id(self.metadata), name)
        if name in self.metadata.tables:
            owner = _table_owners.get(owner_key)
            if owner is not None and owner != qualified:
                raise ModelDefinitionError(
                    f"{self.model.__name__}: table {name!r} already belongs to {owner}"
                )
            self.metadata.remove(self.metadata.tables[name])  # a model redefined
        _table_owners[owner_key] = qualified
        columns = [field.sa_column() for field in self.concrete]
        extra: list[Any] = []
        for group in self.unique_together:
            columns_of = [self.get_field(n).column_name for n in group]
            extra.append(sa.UniqueConstraint(*columns_of))
        partial = []
        later = []
        for constraint in self.constraints:
            if isinstance(constraint, UniqueConstraint) and constraint.condition is not None:
                # A partial unique constraint is a unique partial index.
                partial.append(
                    Index(
                        fields=constraint.fields,
                        name=constraint.name,
                        unique=True,
                        condition=constraint.condition,
                    )
                )
            else:
                later.append(constraint)
        table = sa.Table(name, self.metadata, *columns, *extra)
        for constraint in later:
            # Check conditions are compiled against the table's own columns.
            table.append_constraint(self._constraint(constraint, table))
        for index in [*self.indexes, *partial]:
            self._index(table, index)
        self.table = table

    def _constraint(self, constraint: Any, table: sa.Table) -> Any:
        from ._compiler import condition_for_ddl

        if isinstance(constraint, UniqueConstraint):
            cols = [self.get_field(n).column_name for n in constraint.fields]
            return sa.UniqueConstraint(*cols, name=constraint.name)
        if isinstance(constraint, CheckConstraint):
            return sa.CheckConstraint(
                condition_for_ddl(self.model, constraint.check, table), name=constraint.name
            )
        raise ModelDefinitionError(
            f"{self.model.__name__}.Meta.constraints: {constraint!r} is not a "
            f"UniqueConstraint or CheckConstraint"
        )

    def _index(self, table: sa.Table, index: Any) -> None:
        from ._compiler import condition_for_ddl

        if not isinstance(index, Index):
            raise ModelDefinitionError(
                f"{self.model.__name__}.Meta.indexes: {index!r} is not an Index"
            )
        expressions = []
        for name in index.fields:
            descending = name.startswith("-")
            column = table.c[self.get_field(name.lstrip("-")).attname]
            expressions.append(column.desc() if descending else column)
        kwargs: dict[str, Any] = {}
        if index.condition is not None:
            where = condition_for_ddl(self.model, index.condition, table)
            kwargs = {"postgresql_where": where, "sqlite_where": where}
        built = sa.Index(index.name, *expressions, unique=index.unique, **kwargs)
        if index.condition is not None and index.unique:
            # MySQL has no partial indexes: a plain unique index there would refuse rows
            # the condition allows, so it is not created on MySQL at all.
            built.ddl_if(callable_=_not_mysql)


def _not_mysql(
    ddl: Any,
    target: Any,
    bind: Any,
    tables: Any = None,
    state: Any = None,
    *,
    dialect: Any,
    compiler: Any = None,
    checkfirst: bool,
) -> bool:
    return bool(dialect.name not in ("mysql", "mariadb"))


def _groups(value: Any) -> list[Sequence[str]]:
    if not value:
        return []
    if isinstance(value[0], str):
        return [value]
    return list(value)
