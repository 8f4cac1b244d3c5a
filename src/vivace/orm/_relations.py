"""Relations: ForeignKey, OneToOneField, ManyToManyField, and how each side reads them.

Reading a relation never queries the database.  ``article.author`` returns the author
loaded with ``select_related``/``prefetch_related``/``fetch_related`` (or assigned), and
raises ``NotLoadedError`` naming those three otherwise; ``article.author_id`` (the
column) is always there.  Reverse and many-to-many sides (``author.articles``,
``article.tags``) are managers: awaiting their querysets runs SQL explicitly, and
iterating the manager itself reads what prefetch_related loaded.

``on_delete`` (what happens to rows referring to a deleted row): CASCADE and SET_NULL
are done by the database (the foreign key is declared ``ON DELETE CASCADE``/``SET
NULL``); PROTECT, RESTRICT and SET_DEFAULT are done by the ORM before it deletes (see
_deletion); DO_NOTHING leaves it to the database's constraint.  With
``db_constraint=False`` (no constraint in the database) the ORM does CASCADE and
SET_NULL itself too.

A ``Relation`` is one hop of a query path (``author__name``): forward (many-to-one,
one-to-one), reverse (one-to-many, reverse one-to-one) or many-to-many (through the
join table, a model of its own: made automatically, or named with ``through=``).
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

from ._errors import ModelDefinitionError, NotLoadedError
from ._fields import Converter, Field, FieldOptions, value_parser
from ._registry import registry

if TYPE_CHECKING:
    from typing import Unpack

    import sqlalchemy as sa

    from ._managers import ManyToManyManager, ReverseManager
    from ._model import Model

__all__ = [
    "CASCADE",
    "DO_NOTHING",
    "PROTECT",
    "RESTRICT",
    "SET_DEFAULT",
    "SET_NULL",
    "ForeignKey",
    "ManyToManyField",
    "OnDelete",
    "OneToOneField",
    "Relation",
    "ReverseManagerDescriptor",
]

M = TypeVar("M", bound="Model")


class OnDelete(enum.Enum):
    """What deleting a row does to the rows whose foreign key refers to it."""

    CASCADE = "CASCADE"
    PROTECT = "PROTECT"
    RESTRICT = "RESTRICT"
    SET_NULL = "SET_NULL"
    SET_DEFAULT = "SET_DEFAULT"
    DO_NOTHING = "DO_NOTHING"


CASCADE = OnDelete.CASCADE
PROTECT = OnDelete.PROTECT
RESTRICT = OnDelete.RESTRICT
SET_NULL = OnDelete.SET_NULL
SET_DEFAULT = OnDelete.SET_DEFAULT
DO_NOTHING = OnDelete.DO_NOTHING

# What the database's foreign key does; the rest is the ORM's job (or nobody's).
_SQL_ON_DELETE = {CASCADE: "CASCADE", SET_NULL: "SET NULL"}

_MISSING = object()


class Relation:
    """One hop of a query path from ``model`` to ``target``.

    ``local`` and ``remote`` are the attnames joined (``model.local = target.remote``);
    a many-to-many hop goes through ``through`` (``model.pk = through.<source>`` and
    ``through.<target> = target.pk``).
    """

    __slots__ = (
        "field",
        "kind",
        "local",
        "model",
        "multi",
        "name",
        "remote",
        "source_fk",
        "target",
        "target_fk",
        "through",
    )

    def __init__(
        self,
        name: str,
        model: type[Model],
        target: type[Model],
        kind: str,
        field: Any,
        local: str,
        remote: str,
        *,
        through: type[Model] | None = None,
        source_fk: Any = None,
        target_fk: Any = None,
    ) -> None:
        self.name = name
        self.model = model
        self.target = target
        self.kind = kind  # "forward", "reverse", "reverse_one", "m2m"
        self.field = field
        self.multi = kind in ("reverse", "m2m")
        self.local = local
        self.remote = remote
        self.through = through
        self.source_fk = source_fk
        self.target_fk = target_fk

    def __repr__(self) -> str:
        return (
            f"<Relation {self.model.__name__}.{self.name} -> {self.target.__name__} ({self.kind})>"
        )


class ForeignKey(Field[Any]):
    """A many-to-one relation: ``author: Author = ForeignKey(Author, on_delete=CASCADE)``.

    The column is ``<name>_id`` (``db_column`` to rename), holding the target's primary
    key (or ``to_field``).  ``related_name`` names the reverse manager on the target
    (default ``<model>_set``; ``"+"`` for none), ``related_query_name`` the name
    queries use from the target side (default: related_name, else the model name).
    The target is a class, a class name (defined before or after), or ``"self"``.
    """

    is_relation = True
    many_to_one = True
    target: type[Model]
    target_field: Field[Any]
    to: type[Model] | str
    on_delete: OnDelete
    related_name: str | None
    related_query_name: str | None
    to_field: str | None
    db_constraint: bool
    reverse_relation: Relation | None

    def __new__(
        cls,
        to: type[Model] | str,
        *,
        on_delete: OnDelete,
        related_name: str | None = None,
        related_query_name: str | None = None,
        to_field: str | None = None,
        db_constraint: bool = True,
        **options: Unpack[FieldOptions],
    ) -> Any:
        if not isinstance(on_delete, OnDelete):
            raise ModelDefinitionError(
                f"{cls.__name__}: on_delete must be one of CASCADE, PROTECT, RESTRICT, "
                f"SET_NULL, SET_DEFAULT, DO_NOTHING (from vivace.orm), not {on_delete!r}"
            )
        if on_delete is SET_NULL and not options.get("null", False):
            raise ModelDefinitionError(f"{cls.__name__}: on_delete=SET_NULL needs null=True")
        if on_delete is SET_DEFAULT and "default" not in options:
            raise ModelDefinitionError(f"{cls.__name__}: on_delete=SET_DEFAULT needs a default")
        self = super().__new__(cls, **options)
        self.to = to
        self.on_delete = on_delete
        self.related_name = related_name
        self.related_query_name = related_query_name
        self.to_field = to_field
        self.db_constraint = db_constraint
        self.reverse_relation = None
        return self

    def get_attname(self) -> str:
        return f"{self.name}_id"

    def contribute(self, model: type[Model], name: str) -> None:
        super().contribute(model, name)
        setattr(model, name, ForwardDescriptor(self))
        to = self.to
        if to == "self":
            to = model
        if isinstance(to, str):
            model._meta.waiting += 1

            def resolved(target: type[Model]) -> None:
                model._meta.waiting -= 1
                self.resolve(target)
                _maybe_finish(model)

            setattr(resolved, "owner", model)  # noqa: B010 - read by check_resolved
            registry.later(to, model.__module__, resolved)
        else:
            self.resolve(to)

    def resolve(self, target: type[Model]) -> None:
        from ._model import Model

        if not (isinstance(target, type) and issubclass(target, Model)):
            raise ModelDefinitionError(
                f"{self.model.__name__}.{self.name}: {target!r} is not a model class"
            )
        if target._meta.abstract:
            raise ModelDefinitionError(
                f"{self.model.__name__}.{self.name}: cannot refer to the abstract model "
                f"{target.__name__}"
            )
        self.target = target
        self.target_field = (
            target._meta.get_field(self.to_field) if self.to_field else target._meta.pk
        )
        model = self.model
        forward = Relation(
            self.name, model, target, "forward", self, self.attname, self.target_field.attname
        )
        model._meta.relations[self.name] = forward
        model._meta.accessors[self.name] = forward
        target._meta.incoming.append(self)
        registry.version += 1
        if self.related_name is not None and self.related_name.endswith("+"):
            return
        kind = "reverse_one" if self.unique else "reverse"
        default = model.__name__.lower() if self.unique else f"{model.__name__.lower()}_set"
        accessor = self.related_name or default
        query_name = self.related_query_name or self.related_name or model.__name__.lower()
        reverse = Relation(
            accessor, target, model, kind, self, self.target_field.attname, self.attname
        )
        self.reverse_relation = reverse
        target._meta.reverse.append(reverse)
        target._meta.relations[query_name] = reverse
        target._meta.accessors[accessor] = reverse
        if kind == "reverse_one":
            setattr(target, accessor, ReverseOneDescriptor(reverse))
        else:
            setattr(target, accessor, ReverseManagerDescriptor(reverse))

    def sa_type(self) -> Any:
        return self.target_field.sa_type()

    def parser(self, value_type: type) -> Converter:
        return value_parser(self, self.target_field.python_type, value_type)

    def sa_column(self) -> sa.Column[Any]:
        import sqlalchemy as sa

        column = super().sa_column()
        if self.db_constraint:
            target = self.target._meta
            column.append_foreign_key(
                sa.ForeignKey(
                    f"{target.table_name}.{self.target_field.column_name}",
                    ondelete=_SQL_ON_DELETE.get(self.on_delete),
                )
            )
        if not self.unique and not self.db_index:
            column.index = True  # Django indexes foreign keys too
        return column

    def converters(self, backend: str) -> Any:
        return self.target_field.converters(backend)

    def check(self, value: Any) -> list[str]:
        return []


class OneToOneField(ForeignKey):
    """A one-to-one relation: a unique ForeignKey whose reverse side is one object."""

    def _setup(self, options: FieldOptions) -> None:
        super()._setup(options)
        self.unique = True


def _maybe_finish(model: type[Model]) -> None:
    meta = model._meta
    if meta.ready and meta.waiting == 0 and meta.table is None and not meta.abstract:
        meta.build_table()
        from ._model import finish_model

        finish_model(model)


class ForwardDescriptor:
    """``article.author``: the loaded related object, never a query."""

    __slots__ = ("field", "name")

    def __init__(self, field: ForeignKey) -> None:
        self.field = field
        self.name = field.name

    def __get__(self, instance: Any, owner: Any) -> Any:
        if instance is None:
            return self.field
        value = instance.__dict__.get(self.name, _MISSING)
        key = instance.__dict__.get(self.field.attname)
        if value is not _MISSING:
            if value is None:
                if key is None:
                    return None
            elif getattr(value, self.field.target_field.attname) == key:
                return value
        elif key is None and self.field.attname in instance.__dict__:
            return None
        raise NotLoadedError(
            f"{type(instance).__name__}.{self.name} is not loaded: use "
            f"select_related({self.name!r}) or prefetch_related({self.name!r}) on the "
            f"query, or `await obj.fetch_related({self.name!r})` (the ORM does no hidden "
            f"queries); {self.field.attname} is {key!r}"
        )

    def __set__(self, instance: Any, value: Any) -> None:
        field = self.field
        if value is None:
            instance.__dict__[field.attname] = None
            instance.__dict__[self.name] = None
            return
        if not isinstance(value, field.target):
            raise TypeError(
                f"{type(instance).__name__}.{self.name} must be a {field.target.__name__} "
                f"instance (or None), not {type(value).__name__}; to set the key, assign "
                f"{field.attname}"
            )
        instance.__dict__[field.attname] = getattr(value, field.target_field.attname)
        instance.__dict__[self.name] = value


class ReverseOneDescriptor:
    """``user.profile`` (reverse one-to-one): the loaded object, or None if there is none."""

    __slots__ = ("relation",)

    def __init__(self, relation: Relation) -> None:
        self.relation = relation

    def __get__(self, instance: Any, owner: Any) -> Any:
        if instance is None:
            return self
        cache = instance.__dict__.get("_prefetched")
        if cache is not None and self.relation.name in cache:
            return cache[self.relation.name]
        name = self.relation.name
        raise NotLoadedError(
            f"{type(instance).__name__}.{name} is not loaded: use select_related({name!r}) or "
            f"prefetch_related({name!r}) on the query, or `await obj.fetch_related({name!r})`"
        )

    def __set__(self, instance: Any, value: Any) -> None:
        instance.__dict__.setdefault("_prefetched", {})[self.relation.name] = value


class ReverseManagerDescriptor(Generic[M]):
    """``author.article_set``: a manager of the rows whose foreign key points here (or,
    for the reverse side of a many-to-many relation, of the rows linked to this one)."""

    __slots__ = ("relation",)

    def __init__(self, relation: Relation) -> None:
        self.relation = relation

    @overload
    def __get__(self, instance: None, owner: Any) -> ReverseManagerDescriptor[M]: ...
    @overload
    def __get__(self, instance: Model, owner: Any) -> ReverseManager[M]: ...
    def __get__(self, instance: Any, owner: Any) -> Any:
        if instance is None:
            return self
        from ._managers import ManyToManyManager, ReverseManager

        if self.relation.kind == "m2m":  # the reverse side of a many-to-many relation
            return ManyToManyManager(instance, self.relation)
        return ReverseManager(instance, self.relation)


class ManyToManyField(Generic[M]):
    """A many-to-many relation, declared without an annotation::

        tags = ManyToManyField(Tag, related_name="articles")

    ``article.tags`` is a manager (``await article.tags.add(tag)``, ``remove``,
    ``clear``, ``set``, ``create``, ``all()``, ``filter()``).  The join table is made
    automatically (``<table>_<name>``, or ``db_table``), or is the model named by
    ``through=`` (a model with foreign keys to both sides).
    """

    is_relation = True
    concrete = False
    primary_key = False
    name: str
    model: type[Model]
    target: type[M]
    through: type[Model]
    source_fk: ForeignKey
    target_fk: ForeignKey

    def __init__(
        self,
        to: type[M] | str,
        *,
        through: type[Model] | str | None = None,
        related_name: str | None = None,
        related_query_name: str | None = None,
        db_table: str | None = None,
    ) -> None:
        self.to = to
        self.through_ref = through
        self.related_name = related_name
        self.related_query_name = related_query_name
        self.db_table = db_table
        self.attname = ""
        self.null = True
        self.help_text = ""

    def __repr__(self) -> str:
        owner = getattr(self, "model", None)
        where = f"{owner.__name__}.{self.name}" if owner is not None else "unbound"
        return f"<ManyToManyField {where}>"

    @overload
    def __get__(self, instance: None, owner: Any) -> ManyToManyField[M]: ...
    @overload
    def __get__(self, instance: Model, owner: Any) -> ManyToManyManager[M]: ...
    def __get__(self, instance: Any, owner: Any) -> Any:
        if instance is None:
            return self
        from ._managers import ManyToManyManager

        return ManyToManyManager(instance, self.forward)

    def contribute(self, model: type[Model], name: str) -> None:
        self.model = model
        self.name = name
        self.attname = name
        setattr(model, name, self)
        pending = [r for r in (self.to, self.through_ref) if isinstance(r, str) and r != "self"]
        model._meta.waiting += 1  # the join table's model is made once both sides exist
        self._pending = len(pending)

        def resolved(_: type[Model]) -> None:
            self._pending -= 1
            if self._pending == 0:
                self._finish()

        setattr(resolved, "owner", model)  # noqa: B010 - read by check_resolved
        if not pending:
            # Finish once the owner itself is registered (it is not, during contribute).
            self._pending = 1
            model._meta.after_register.append(resolved)
        for reference in pending:
            registry.later(reference, model.__module__, resolved)

    def _resolve_model(self, reference: Any) -> type[Model]:
        if reference == "self":
            return self.model
        if isinstance(reference, str):
            found = registry.lookup(reference, self.model.__module__)
            assert found is not None
            return found
        return reference  # type: ignore[no-any-return]

    def _finish(self) -> None:
        model = self.model
        self.target = self._resolve_model(self.to)  # type: ignore[assignment]
        if self.through_ref is None:
            self.through = _auto_through(self)
        else:
            self.through = self._resolve_model(self.through_ref)
        self.source_fk, self.target_fk = _through_keys(self)
        self.forward = Relation(
            self.name,
            model,
            self.target,
            "m2m",
            self,
            model._meta.pk.attname,
            self.target._meta.pk.attname,
            through=self.through,
            source_fk=self.source_fk,
            target_fk=self.target_fk,
        )
        model._meta.relations[self.name] = self.forward
        model._meta.accessors[self.name] = self.forward
        if not (self.related_name or "").endswith("+"):
            accessor = self.related_name or f"{model.__name__.lower()}_set"
            query_name = self.related_query_name or self.related_name or model.__name__.lower()
            reverse = Relation(
                accessor,
                self.target,
                model,
                "m2m",
                self,
                self.target._meta.pk.attname,
                model._meta.pk.attname,
                through=self.through,
                source_fk=self.target_fk,
                target_fk=self.source_fk,
            )
            self.target._meta.relations[query_name] = reverse
            self.target._meta.accessors[accessor] = reverse
            self.target._meta.reverse.append(reverse)
            setattr(self.target, accessor, ReverseManagerDescriptor(reverse))
        model._meta.waiting -= 1
        _maybe_finish(model)


def _auto_through(field: ManyToManyField[Any]) -> type[Model]:
    """The join table's model: two foreign keys (CASCADE) and a unique pair."""
    from ._model import Model, ModelMeta

    model, target = field.model, field.target
    source_name = model.__name__.lower()
    target_name = target.__name__.lower()
    if source_name == target_name:
        source_name, target_name = f"from_{source_name}", f"to_{target_name}"
    table = field.db_table or f"{model._meta.table_name}_{field.name}"
    meta = type(
        "Meta",
        (),
        {
            "table": table,
            "unique_together": [(source_name, target_name)],
            "metadata": model._meta.metadata,
        },
    )
    namespace: dict[str, Any] = {
        "__module__": model.__module__,
        "__qualname__": f"{model.__qualname__}_{field.name}",
        "Meta": meta,
        source_name: ForeignKey(model, on_delete=CASCADE, related_name="+"),
        target_name: ForeignKey(target, on_delete=CASCADE, related_name="+"),
    }
    through: Any = ModelMeta(f"{model.__name__}_{field.name}", (Model,), namespace)
    through._meta.auto_through = True
    model_class: type[Model] = through
    return model_class


def _through_keys(field: ManyToManyField[Any]) -> tuple[ForeignKey, ForeignKey]:
    through = field.through
    keys = list(through._meta.forward)
    source = [f for f in keys if f.target is field.model]
    target = [f for f in keys if f.target is field.target]
    if field.model is field.target:
        if len(source) != 2:
            raise ModelDefinitionError(
                f"{field.model.__name__}.{field.name}: the through model {through.__name__} "
                f"needs two foreign keys to {field.model.__name__}"
            )
        return source[0], source[1]
    if len(source) != 1 or len(target) != 1:
        raise ModelDefinitionError(
            f"{field.model.__name__}.{field.name}: the through model {through.__name__} needs "
            f"exactly one foreign key to {field.model.__name__} and one to "
            f"{field.target.__name__}"
        )
    return source[0], target[0]
