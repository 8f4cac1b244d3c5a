"""``Model``: the base class of every model, and the metaclass that reads class bodies.

::

    class Article(Model):
        title: str = CharField(max_length=200)
        body: str = TextField(default="")
        author: Author = ForeignKey(Author, on_delete=CASCADE, related_name="articles")
        tags = ManyToManyField(Tag)

        class Meta:
            table = "articles"
            ordering = ["-id"]

The metaclass is a ``typing.dataclass_transform``: mypy sees ``Article(title=...)``
(keyword-only; a field given ``default=`` is optional) and reads attribute types from
the annotations.  At run time the constructor is generated per model (plain
assignments into ``__dict__``), field values are plain instance attributes — no
descriptor per field read — and rows become objects through loaders generated per
query shape (see _loader).  Only relations have descriptors, so that touching one
that was not loaded raises ``NotLoadedError`` instead of querying.

A model without a primary key gets ``id = AutoField()``.  ``Meta.abstract = True``
makes a base whose fields each subclass gets its own copy of; subclassing a concrete
model (multi-table inheritance) is refused.
"""

from __future__ import annotations

import inspect
import reprlib
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Literal, dataclass_transform

from ._deletion import delete_object
from ._errors import (
    FieldError,
    ModelDefinitionError,
    MultipleObjectsReturned,
    NotLoadedError,
    ObjectDoesNotExist,
)
from ._fields import (
    NOT_PROVIDED,
    AutoField,
    BigAutoField,
    BigIntegerField,
    BinaryField,
    BooleanField,
    CharField,
    DateField,
    DateTimeField,
    DecimalField,
    DurationField,
    EnumField,
    Field,
    FloatField,
    IntegerField,
    JSONField,
    PositiveBigIntegerField,
    PositiveIntegerField,
    PositiveSmallIntegerField,
    SmallIntegerField,
    TextField,
    TimeField,
    UUIDField,
)
from ._managers import Manager
from ._options import Options
from ._registry import registry
from ._relations import ForeignKey, ManyToManyField, OneToOneField
from ._writes import save as _save

if TYPE_CHECKING:
    from vivace.db import Database

__all__ = ["Model", "ModelMeta", "finish_model"]

_MISSING: Any = NOT_PROVIDED
_repr = reprlib.Repr()
_repr.maxstring = 40


def _short(value: Any) -> str:
    """A field value for repr(): long strings and bytes cut short."""
    if isinstance(value, str | bytes):
        return _repr.repr(value)
    return repr(value)


@dataclass_transform(
    kw_only_default=True,
    field_specifiers=(
        Field,
        AutoField,
        BigAutoField,
        BigIntegerField,
        BinaryField,
        BooleanField,
        CharField,
        DateField,
        DateTimeField,
        DecimalField,
        DurationField,
        EnumField,
        FloatField,
        IntegerField,
        JSONField,
        PositiveBigIntegerField,
        PositiveIntegerField,
        PositiveSmallIntegerField,
        SmallIntegerField,
        TextField,
        TimeField,
        UUIDField,
        ForeignKey,
        OneToOneField,
        ManyToManyField,
    ),
)
class ModelMeta(type):
    """Reads a model's class body: fields, Meta, managers; registers the model."""

    _meta: Options

    def __new__(
        mcs, name: str, bases: tuple[type, ...], namespace: dict[str, Any], **kwargs: Any
    ) -> ModelMeta:
        parents = [b for b in bases if isinstance(b, ModelMeta) and hasattr(b, "_meta")]
        if not any(isinstance(b, ModelMeta) for b in bases):
            return super().__new__(mcs, name, bases, namespace, **kwargs)
        meta = namespace.pop("Meta", None)
        inherited: dict[str, Any] = {}
        parent_meta = None
        for parent in parents:
            if not parent._meta.abstract:
                raise ModelDefinitionError(
                    f"{name} subclasses the concrete model {parent.__name__}: multi-table "
                    f"inheritance is not supported; make {parent.__name__} abstract "
                    f"(Meta.abstract = True)"
                )
            inherited.update(parent._meta.fields)
            parent_meta = parent._meta.meta_class
        declared = {
            key: value
            for key, value in namespace.items()
            if isinstance(value, Field | ManyToManyField)
        }
        for key in declared:
            del namespace[key]
        cls = super().__new__(mcs, name, bases, namespace, **kwargs)
        inherited_meta = _without_abstract(parent_meta)
        options = Options(cls, meta, inherited_meta)  # type: ignore[arg-type]
        cls._meta = options
        fields = {key: field.clone() for key, field in inherited.items()}
        for key, field in declared.items():
            fields.pop(key, None)
            fields[key] = field
        if options.abstract:
            options.fields = fields
            return cls
        cls.DoesNotExist = type(  # type: ignore[attr-defined]
            "DoesNotExist",
            (ObjectDoesNotExist,),
            {"__module__": cls.__module__, "__qualname__": f"{cls.__qualname__}.DoesNotExist"},
        )
        cls.MultipleObjectsReturned = type(  # type: ignore[attr-defined]
            "MultipleObjectsReturned",
            (MultipleObjectsReturned,),
            {
                "__module__": cls.__module__,
                "__qualname__": f"{cls.__qualname__}.MultipleObjectsReturned",
            },
        )
        if not any(getattr(f, "primary_key", False) for f in fields.values()):
            if "id" in fields:
                raise ModelDefinitionError(
                    f"{name}.id is not a primary key; declare another field "
                    f"primary_key=True or rename id"
                )
            fields = {"id": AutoField(), **fields}
        for key, field in fields.items():
            if key in ("pk", "objects") or key.startswith("_"):
                raise ModelDefinitionError(f"{name}: {key!r} cannot be a field name")
            field.contribute(cls, key)
            options.add_field(field)
            if isinstance(field, ForeignKey):
                options.forward.append(field)
            elif isinstance(field, ManyToManyField):
                options.many_to_many.append(field)
        model: Any = cls
        model.__init__ = _make_init(model)
        options.ready = True
        registry.register(model)
        for callback in options.after_register:
            callback(model)
        if options.waiting == 0 and options.table is None:
            options.build_table()
            finish_model(model)
        return cls

    def __getattr__(cls, name: str) -> Any:
        # Only reached when normal lookup fails: Article.title → its Field.
        if name.startswith("__"):
            raise AttributeError(name)
        meta = cls.__dict__.get("_meta")
        if meta is not None:
            field = meta.fields.get(name)
            if field is not None:
                return field
        raise AttributeError(f"type object {cls.__name__!r} has no attribute {name!r}")


def _without_abstract(meta: Any) -> Any:
    if meta is None:
        return None
    values = {k: v for k, v in vars(meta).items() if not k.startswith("__") and k != "abstract"}
    return type("Meta", (), values)


def finish_model(model: type[Model]) -> None:
    """Called once a model's table exists (every relation target is defined)."""
    model._meta.plans.clear()


class Model(metaclass=ModelMeta):
    """Base class of models.  See the module docstring and docs/orm.md."""

    _meta: ClassVar[Options]
    objects: ClassVar[Manager[Any]] = Manager()
    _persisted: bool = False
    DoesNotExist: ClassVar[type[ObjectDoesNotExist]] = ObjectDoesNotExist
    MultipleObjectsReturned: ClassVar[type[MultipleObjectsReturned]] = MultipleObjectsReturned

    if TYPE_CHECKING:
        # The automatic primary key (a model that declares its own has that instead).
        id: int = AutoField(default=None)

        def __init__(self, **kwargs: Any) -> None: ...

    @property
    def pk(self) -> Any:
        """The primary key's value (whatever the field is called)."""
        return self.__dict__.get(self._meta.pk.attname)

    @pk.setter
    def pk(self, value: Any) -> None:
        self.__dict__[self._meta.pk.attname] = value

    def __repr__(self) -> str:
        data = self.__dict__
        parts = [
            f"{field.attname}={_short(data[field.attname])}"
            for field in self._meta.concrete
            if field.attname in data
        ]
        return f"{type(self).__name__}({', '.join(parts)})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Model):
            return NotImplemented
        if type(self)._meta is not type(other)._meta:
            return False
        pk = self.pk
        if pk is None:
            return self is other
        return bool(pk == other.pk)

    def __hash__(self) -> int:
        pk = self.pk
        if pk is None:
            raise TypeError(f"an unsaved {type(self).__name__} (no primary key) is not hashable")
        return hash(pk)

    if not TYPE_CHECKING:

        def __getattr__(self, name: str) -> Any:
            # Reached only when the instance has no such attribute: a deferred field, or
            # a relation descriptor that raised NotLoadedError (an AttributeError, so
            # Python tries here next): raise the descriptor's own error.
            meta = type(self)._meta
            if name in meta.accessors:
                for klass in type(self).__mro__:
                    if name in klass.__dict__:
                        return klass.__dict__[name].__get__(self, type(self))
            if isinstance(inspect.getattr_static(type(self), name, None), Manager):
                raise AttributeError(
                    f"managers are reached through the class ({type(self).__name__}.{name}), "
                    f"not through an instance"
                )
            field = meta.fields.get(name) or meta.by_attname.get(name)
            if field is not None and not name.startswith("_"):
                raise NotLoadedError(
                    f"{type(self).__name__}.{name} was not loaded (only()/defer() left it "
                    f"out): `await obj.refresh_from_db(fields=[{name!r}])` loads it"
                )
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    # -- writes -----------------------------------------------------------------------------

    async def save(
        self,
        *,
        using: Database | None = None,
        update_fields: Iterable[str] | None = None,
        force_insert: bool = False,
        force_update: bool = False,
    ) -> None:
        """INSERT a new object, UPDATE a loaded one (only ``update_fields`` if given)."""
        # _writes and _deletion are imported with this module, not in each call: an
        # import statement in the method cost 0.5 us a save() or delete() (timeit).
        await _save(self, using, update_fields, force_insert, force_update)

    async def delete(self, *, using: Database | None = None) -> int:
        """Delete this row (applying on_delete rules); returns the rows deleted here."""
        return await delete_object(self, using)

    async def refresh_from_db(
        self, *, fields: Sequence[str] | None = None, using: Database | None = None
    ) -> None:
        """Reload field values from the database (all of them, or ``fields``)."""
        queryset = type(self).objects.using(using).filter(pk=self.pk)
        if fields:
            names = [self._meta.get_field(name).name for name in fields]
            queryset = queryset.only(*names)
        fresh = await queryset.get()
        data = self.__dict__
        for key, value in fresh.__dict__.items():
            if key != "_persisted":
                data[key] = value
        data["_persisted"] = True

    async def full_clean(
        self,
        *,
        exclude: Iterable[str] = (),
        validate_unique: bool = True,
        using: Database | None = None,
    ) -> None:
        """Validate the loaded values through vivace.schema, the fields' own rules and
        (``validate_unique``) the database's unique columns; raises ValidationError."""
        from ._schema import full_clean

        await full_clean(self, exclude, validate_unique, using)

    @classmethod
    def schema(
        cls,
        variant: Literal["output", "input", "clean"] = "output",
        *,
        fields: Sequence[str] | None = None,
        exclude: Iterable[str] = (),
        optional: bool = False,
    ) -> Any:
        """A vivace.schema Schema derived from this model: ``"output"`` (every column)
        or ``"input"`` (what a client sends to create one); see vivace.orm._schema."""
        from ._schema import model_schema

        return model_schema(
            cls,
            variant,
            fields=fields,
            exclude=exclude,
            optional=optional,
        )

    async def fetch_related(self, *paths: Any, using: Database | None = None) -> None:
        """Load relations now: ``await article.fetch_related("author", "tags")``."""
        from ._prefetch import prefetch

        await prefetch([self], paths, using)


def _make_init(model: type[Model]) -> Any:
    """Generate the constructor: keyword arguments straight into ``__dict__``."""
    options = model._meta
    params: list[str] = []
    body: list[str] = []
    env: dict[str, Any] = {"_M": _MISSING, "_unknown": _unknown}
    for index, field in enumerate(options.concrete):
        name, attname = field.name, field.attname
        default = _default_expression(field, index, env)
        if isinstance(field, ForeignKey):
            params += [name, attname]
            env[f"_set{index}"] = model.__dict__[name].__set__
            body.append(f"    if {name} is not _M:")
            body.append(f"        _set{index}(_self, {name})")
            body.append("    else:")
            body.append(f"        _d[{attname!r}] = {default} if {attname} is _M else {attname}")
        else:
            params.append(name)
            body.append(f"    _d[{attname!r}] = {default} if {name} is _M else {name}")
    signature = ", ".join(f"{p}=_M" for p in params)
    source = (
        f"def __init__(_self, /, *, {signature}, **_extra):\n"
        f"    if _extra:\n"
        f"        _unknown(_self, _extra)\n"
        f"    _d = _self.__dict__\n" + "\n".join(body) + "\n"
    )
    exec(compile(source, f"<vivace.orm {model.__name__}.__init__>", "exec"), env)
    init = env["__init__"]
    init.__qualname__ = f"{model.__qualname__}.__init__"
    return init


def _default_expression(field: Field[Any], index: int, env: dict[str, Any]) -> str:
    default = field.default
    if default is NOT_PROVIDED:
        return "None"
    if callable(default) or isinstance(default, dict | list | set):
        env[f"_f{index}"] = field.get_default
        return f"_f{index}()"
    env[f"_c{index}"] = default
    return f"_c{index}"


def _unknown(instance: Model, extra: dict[str, Any]) -> None:
    options = instance._meta
    m2m = [name for name in extra if isinstance(options.fields.get(name), ManyToManyField)]
    if m2m:
        raise TypeError(
            f"{type(instance).__name__}(): {', '.join(m2m)} is a many-to-many relation: save "
            f"the object, then use `await obj.{m2m[0]}.set(...)`"
        )
    names = ", ".join(repr(n) for n in extra)
    choices = ", ".join(
        name
        for f in options.concrete
        for name in ((f.name, f.attname) if f.name != f.attname else (f.name,))
    )
    raise TypeError(
        f"{type(instance).__name__}() got unexpected keyword argument(s) {names} "
        f"(fields: {choices})"
    )


def check_field_names(model: type[Model], names: Iterable[str]) -> None:
    for name in names:
        model._meta.get_field(name)


__all__ += ["check_field_names"]
_ = FieldError
