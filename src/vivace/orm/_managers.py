"""Managers: ``Article.objects`` and the managers of relations (``author.articles``).

``Manager`` is a descriptor on the model class: ``Article.objects`` is a manager bound
to ``Article`` (typed ``Manager[Article]``) whose methods start querysets.  Subclass it
and override ``get_queryset()`` for a custom default queryset.

Relation managers are made per instance: ``author.articles`` (reverse foreign key)
and ``article.tags`` (many-to-many, either side).  Their querysets (``all()``,
``filter()`` ...) run SQL when awaited; iterating the manager itself, or ``len()``,
reads what ``prefetch_related``/``fetch_related`` loaded and raises NotLoadedError
when nothing was — the ORM never queries behind your back.
"""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

from ._errors import NotLoadedError, QueryError
from ._queryset import QuerySet

if TYPE_CHECKING:
    from vivace.db import Database

    from ._expressions import Aggregate, Expression, Q
    from ._model import Model
    from ._relations import Relation

__all__ = ["Manager", "ManyToManyManager", "ReverseManager"]

M = TypeVar("M", bound="Model")
M2 = TypeVar("M2", bound="Model")


class BaseManager(Generic[M]):
    """The queryset-starting methods shared by every manager."""

    model: type[M]

    def get_queryset(self) -> QuerySet[M]:
        """The queryset every method starts from (override in a subclass)."""
        return QuerySet(self.model)

    def all(self) -> QuerySet[M]:
        return self.get_queryset()

    def using(self, db: Database | None) -> QuerySet[M]:
        return self.get_queryset().using(db)

    def filter(self, *args: Q, **kwargs: Any) -> QuerySet[M]:
        return self.get_queryset().filter(*args, **kwargs)

    def exclude(self, *args: Q, **kwargs: Any) -> QuerySet[M]:
        return self.get_queryset().exclude(*args, **kwargs)

    def order_by(self, *terms: str | Expression) -> QuerySet[M]:
        return self.get_queryset().order_by(*terms)

    def select_related(self, *paths: str) -> QuerySet[M]:
        return self.get_queryset().select_related(*paths)

    def reverse(self) -> QuerySet[M]:
        return self.get_queryset().reverse()

    def iterator(self, chunk_size: int = 500) -> AsyncIterator[M]:
        return self.get_queryset().iterator(chunk_size)

    def prefetch_related(self, *lookups: Any) -> QuerySet[M]:
        return self.get_queryset().prefetch_related(*lookups)

    def annotate(self, *args: Aggregate, **kwargs: Any) -> QuerySet[M]:
        return self.get_queryset().annotate(*args, **kwargs)

    def only(self, *fields: str) -> QuerySet[M]:
        return self.get_queryset().only(*fields)

    def defer(self, *fields: str) -> QuerySet[M]:
        return self.get_queryset().defer(*fields)

    def distinct(self, *fields: str) -> QuerySet[M]:
        return self.get_queryset().distinct(*fields)

    def values(self, *fields: str, **expressions: Expression) -> QuerySet[dict[str, Any]]:
        return self.get_queryset().values(*fields, **expressions)

    @overload
    def values_list(self, *fields: str) -> QuerySet[tuple[Any, ...]]: ...
    @overload
    def values_list(self, *fields: str, flat: bool = ..., named: bool = ...) -> QuerySet[Any]: ...
    def values_list(self, *fields: str, flat: bool = False, named: bool = False) -> QuerySet[Any]:
        return self.get_queryset().values_list(*fields, flat=flat, named=named)

    def dates(self, field_name: str, kind: str, order: str = "ASC") -> QuerySet[datetime.date]:
        return self.get_queryset().dates(field_name, kind, order)

    def datetimes(
        self, field_name: str, kind: str, order: str = "ASC", tzinfo: datetime.tzinfo | None = None
    ) -> QuerySet[datetime.datetime]:
        return self.get_queryset().datetimes(field_name, kind, order, tzinfo)

    def none(self) -> QuerySet[M]:
        return self.get_queryset().none()

    def union(self, *others: QuerySet[Any], all: bool = False) -> QuerySet[M]:
        return self.get_queryset().union(*others, all=all)

    def select_for_update(self, *, nowait: bool = False, skip_locked: bool = False) -> QuerySet[M]:
        return self.get_queryset().select_for_update(nowait=nowait, skip_locked=skip_locked)

    async def get(self, *args: Q, **kwargs: Any) -> M:
        return await self.get_queryset().get(*args, **kwargs)

    async def first(self) -> M | None:
        return await self.get_queryset().first()

    async def last(self) -> M | None:
        return await self.get_queryset().last()

    async def earliest(self, *fields: str) -> M:
        return await self.get_queryset().earliest(*fields)

    async def latest(self, *fields: str) -> M:
        return await self.get_queryset().latest(*fields)

    async def count(self) -> int:
        return await self.get_queryset().count()

    async def exists(self) -> bool:
        return await self.get_queryset().exists()

    async def aggregate(self, *args: Aggregate, **kwargs: Aggregate) -> dict[str, Any]:
        return await self.get_queryset().aggregate(*args, **kwargs)

    async def in_bulk(
        self, id_list: Iterable[Any] | None = None, *, field_name: str = "pk"
    ) -> dict[Any, M]:
        return await self.get_queryset().in_bulk(id_list, field_name=field_name)

    async def create(self, **kwargs: Any) -> M:
        return await self.get_queryset().create(**kwargs)

    async def get_or_create(
        self, defaults: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> tuple[M, bool]:
        return await self.get_queryset().get_or_create(defaults, **kwargs)

    async def update_or_create(
        self,
        defaults: Mapping[str, Any] | None = None,
        create_defaults: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> tuple[M, bool]:
        return await self.get_queryset().update_or_create(defaults, create_defaults, **kwargs)

    async def bulk_create(
        self, objs: Iterable[M], *, batch_size: int | None = None, ignore_conflicts: bool = False
    ) -> list[M]:
        return await self.get_queryset().bulk_create(
            objs, batch_size=batch_size, ignore_conflicts=ignore_conflicts
        )

    async def bulk_update(
        self, objs: Iterable[M], fields: Sequence[str], *, batch_size: int | None = None
    ) -> int:
        return await self.get_queryset().bulk_update(objs, fields, batch_size=batch_size)

    async def update(self, **kwargs: Any) -> int:
        return await self.get_queryset().update(**kwargs)

    async def delete(self) -> int:
        return await self.get_queryset().delete()


class Manager(BaseManager[M]):
    """The ``objects`` of a model: ``await Article.objects.filter(...)``."""

    def __init__(self) -> None:
        self._bound: dict[type[Any], Manager[Any]] = {}

    @overload
    def __get__(self, instance: None, owner: type[M2]) -> Manager[M2]: ...
    @overload
    def __get__(self, instance: object, owner: type[M2]) -> Manager[M2]: ...
    def __get__(self, instance: object | None, owner: type[Any]) -> Manager[Any]:
        if instance is not None:
            raise AttributeError(
                f"managers are reached through the class ({owner.__name__}.objects), "
                f"not through an instance"
            )
        bound = self._bound.get(owner)
        if bound is None:
            if "_meta" not in owner.__dict__ or owner._meta.abstract:
                raise AttributeError(f"{owner.__name__} is abstract: it has no manager")
            bound = object.__new__(type(self))
            bound.__dict__.update(self.__dict__)
            bound._bound = {}
            bound.model = owner
            self._bound[owner] = bound
        return bound

    def __repr__(self) -> str:
        model = getattr(self, "model", None)
        return f"<Manager {model.__name__ if model else 'unbound'}>"


class _LoadedView(Generic[M]):
    """Iteration over what prefetch_related / fetch_related loaded for a relation."""

    instance: Model
    relation: Relation

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {type(self.instance).__name__}.{self.relation.name}>"

    def _key(self) -> Any:
        """The instance's value the relation joins on (its key): it must be saved."""
        value = getattr(self.instance, self.relation.local)
        if value is None:
            raise QueryError(
                f"{type(self.instance).__name__} must be saved before its "
                f"{self.relation.name} can be used"
            )
        return value

    def _loaded(self) -> list[M]:
        cache = self.instance.__dict__.get("_prefetched")
        name = self.relation.name
        if cache is None or name not in cache:
            raise NotLoadedError(
                f"{type(self.instance).__name__}.{name} is not loaded: use "
                f"prefetch_related({name!r}) on the query or `await obj.fetch_related({name!r})`; "
                f"or query it explicitly: `await obj.{name}.all()`"
            )
        found: list[M] = cache[name]
        return found

    @property
    def loaded(self) -> bool:
        cache = self.instance.__dict__.get("_prefetched")
        return cache is not None and self.relation.name in cache

    def __iter__(self) -> Iterator[M]:
        return iter(self._loaded())

    def __len__(self) -> int:
        return len(self._loaded())

    def __getitem__(self, index: int) -> M:
        return self._loaded()[index]


class ReverseManager(BaseManager[M], _LoadedView[M]):
    """``author.articles``: the rows whose foreign key points at ``author``."""

    def __init__(self, instance: Model, relation: Relation) -> None:
        self.instance = instance
        self.relation = relation
        self.model = relation.target  # type: ignore[assignment]
        self.field = relation.field

    def get_queryset(self) -> QuerySet[M]:
        return QuerySet(self.model).filter(**{self.field.attname: self._key()})

    async def create(self, **kwargs: Any) -> M:
        kwargs[self.field.attname] = self._key()
        return await QuerySet(self.model).create(**kwargs)

    async def add(self, *objs: M) -> None:
        """Point these saved objects at this instance (one UPDATE)."""
        key = self._key()
        for obj in objs:
            if not isinstance(obj, self.model):
                raise TypeError(f"{self.relation.name}.add() takes {self.model.__name__} objects")
            if obj.pk is None:
                raise QueryError(f"{self.relation.name}.add(): save {obj!r} first")
        if objs:
            await (
                QuerySet(self.model)
                .filter(pk__in=[o.pk for o in objs])
                .update(**{self.field.attname: key})
            )
            for obj in objs:
                obj.__dict__[self.field.attname] = key
                obj.__dict__[self.field.name] = self.instance

    def _nullable(self, operation: str) -> None:
        if not self.field.null:
            raise QueryError(
                f"{self.relation.name}.{operation}() would set {self.model.__name__}."
                f"{self.field.name} to NULL, which it does not allow (null=False): "
                f"delete the objects instead"
            )

    async def remove(self, *objs: M) -> None:
        """Unlink these objects (sets their foreign key to NULL; needs null=True)."""
        self._nullable("remove")
        if objs:
            await (
                self.get_queryset()
                .filter(pk__in=[o.pk for o in objs])
                .update(**{self.field.attname: None})
            )
            for obj in objs:
                obj.__dict__[self.field.attname] = None
                obj.__dict__[self.field.name] = None

    async def clear(self) -> None:
        """Unlink every related object (needs null=True)."""
        self._nullable("clear")
        await self.get_queryset().update(**{self.field.attname: None})

    async def set(self, objs: Iterable[M]) -> None:
        """Make exactly ``objs`` the related objects (needs null=True to unlink others)."""
        wanted = list(objs)
        self._nullable("set")
        keep = [o.pk for o in wanted if o.pk is not None]
        await self.get_queryset().exclude(pk__in=keep).update(**{self.field.attname: None})
        await self.add(*wanted)


class ManyToManyManager(BaseManager[M], _LoadedView[M]):
    """``article.tags`` / ``tag.article_set``: both sides of a many-to-many relation."""

    def __init__(self, instance: Model, relation: Relation) -> None:
        self.instance = instance
        self.relation = relation
        self.model = relation.target  # type: ignore[assignment]
        assert relation.through is not None
        self.through: type[Model] = relation.through
        self.source = relation.source_fk
        self.target = relation.target_fk

    def get_queryset(self) -> QuerySet[M]:
        subquery: QuerySet[Any] = QuerySet(self.through).filter(
            **{self.source.attname: self._key()}
        )
        return QuerySet(self.model).filter(
            pk__in=subquery.values_list(self.target.attname, flat=True)
        )

    def _target_keys(self, objs: Sequence[Any]) -> list[Any]:
        keys = []
        for obj in objs:
            if isinstance(obj, self.model):
                if obj.pk is None:
                    raise QueryError(f"{self.relation.name}: save {obj!r} first")
                keys.append(obj.pk)
            elif isinstance(obj, Model_types()):
                raise TypeError(
                    f"{self.relation.name} takes {self.model.__name__} objects or keys, "
                    f"not {type(obj).__name__}"
                )
            else:
                keys.append(obj)
        return list(dict.fromkeys(keys))

    async def add(self, *objs: Any, through_defaults: Mapping[str, Any] | None = None) -> None:
        """Link these objects (or primary keys); links that exist already are kept."""
        from ._writes import insert_links

        await insert_links(self, self._key(), self._target_keys(objs), through_defaults)

    async def remove(self, *objs: Any) -> None:
        """Unlink these objects (or primary keys)."""
        keys = self._target_keys(objs)
        if keys:
            await (
                QuerySet(self.through)
                .filter(**{self.source.attname: self._key(), f"{self.target.attname}__in": keys})
                .delete()
            )

    async def clear(self) -> None:
        """Unlink every related object."""
        await QuerySet(self.through).filter(**{self.source.attname: self._key()}).delete()

    async def set(
        self, objs: Iterable[Any], *, through_defaults: Mapping[str, Any] | None = None
    ) -> None:
        """Make exactly ``objs`` the related objects (adds and removes the difference)."""
        wanted = self._target_keys(list(objs))
        current = (
            await QuerySet(self.through)
            .filter(**{self.source.attname: self._key()})
            .values_list(self.target.attname, flat=True)
        )
        stale = [k for k in current if k not in set(wanted)]
        if stale:
            await self.remove(*stale)
        await self.add(
            *[k for k in wanted if k not in set(current)], through_defaults=through_defaults
        )

    async def create(
        self, *, through_defaults: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> M:
        """Create a target object and link it."""
        obj: M = await QuerySet(self.model).create(**kwargs)
        await self.add(obj, through_defaults=through_defaults)
        return obj


def Model_types() -> type:
    from ._model import Model

    return Model
