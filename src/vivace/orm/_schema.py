"""Models and vivace.schema: schemas derived from models, and ``full_clean``.

``model_schema(Article)`` builds a ``vivace.schema.Schema`` from the model's fields —
the Python type of each (a foreign key as its key column, ``author_id``), ``None``
allowed where the column is nullable, the field's default, and its constraints
(``max_length``, integer ranges, ``choices`` as a ``Literal``, a SlugField's
``pattern``, an EmailField's ``pattern`` and ``format: email``, ``help_text`` as the
description).  Variants:

- ``"output"`` (default): every column, the primary key included — what an API
  returns;
- ``"input"``: what a client may send to create a row — no automatic key, no
  ``auto_now``/``auto_now_add`` columns; fields with a default are optional; text that
  may not be blank must not be empty;
- ``fields=[...]`` / ``exclude=[...]`` choose a subset (``"patch"`` inputs: pass
  ``optional=True`` to make every field optional).

The schemas are what vivace.web's typed handlers validate and document (OpenAPI); the
web layer never sees the model.  Schemas are built once per model and variant.

``await obj.full_clean()`` validates an object's values through the model's clean
schema (types, lengths, ranges, choices — each error with its field), then what only
the field knows (decimal digits, validators), then uniqueness against the database
(``unique`` fields and ``unique_together``/``UniqueConstraint`` sets), and raises
``ValidationError`` with every problem by field name.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Literal

from ._errors import FieldError, ValidationError
from ._fields import (
    EMAIL_PATTERN,
    NOT_PROVIDED,
    CharField,
    DateField,
    EmailField,
    EnumField,
    Field,
    IntegerField,
    JSONField,
    SlugField,
)
from ._options import UniqueConstraint
from ._relations import ForeignKey

if TYPE_CHECKING:
    from vivace.db import Database

    from ._model import Model

__all__ = ["full_clean", "model_schema"]

Variant = Literal["output", "input", "clean"]
_cache: dict[Any, Any] = {}


def _python_type(field: Field[Any]) -> Any:
    if isinstance(field, ForeignKey):
        return _python_type(field.target_field)
    if isinstance(field, EnumField):
        return field.enum_type
    if isinstance(field, JSONField):
        return Any
    if field.choices is not None and not isinstance(field, EnumField):
        return Literal[field.choices]
    return field.python_type


def _constraints(field: Field[Any], variant: Variant) -> dict[str, Any]:
    options: dict[str, Any] = {}
    target = field.target_field if isinstance(field, ForeignKey) else field
    if isinstance(target, CharField) and target.choices is None:
        options["max_length"] = target.max_length
        if isinstance(target, SlugField):
            options["pattern"] = target.pattern
        elif isinstance(target, EmailField):
            options["pattern"], options["format"] = EMAIL_PATTERN, "email"
        if "pattern" in options and field.blank:
            # blank=True: "" is a value (as in Django, whose validators skip it).
            options["pattern"] = f"^$|{options['pattern']}"
    if isinstance(target, IntegerField) and not target.auto_increment:
        options["ge"], options["le"] = target.minimum, target.maximum
    if (
        variant != "output"
        and target.python_type is str
        and not field.blank
        and field.choices is None
        and not isinstance(field, ForeignKey)
    ):
        options["min_length"] = 1
    if field.help_text:
        options["description"] = field.help_text
    return options


def _automatic(field: Field[Any]) -> bool:
    """Filled in by the database or the ORM, never by a client."""
    if field.auto_increment:
        return True
    return isinstance(field, DateField) and (field.auto_now or field.auto_now_add)


def model_schema(
    model: type[Model],
    variant: Variant = "output",
    *,
    fields: Sequence[str] | None = None,
    exclude: Iterable[str] = (),
    optional: bool = False,
    name: str | None = None,
) -> Any:
    """A ``vivace.schema.Schema`` class for ``model`` (see the module docstring).

    >>> from vivace.orm import Model, CharField, IntegerField
    >>> class Pen(Model):
    ...     name: str = CharField(max_length=20)
    ...     ink: int = IntegerField(default=1)
    >>> PenIn = model_schema(Pen, "input")
    >>> PenIn.validate({"name": "blue"})
    PenInput(name='blue', ink=1)
    >>> sorted(model_schema(Pen).json_schema()["$defs"]["Pen"]["required"])
    ['id', 'ink', 'name']
    """
    try:
        from vivace.schema import Field as SchemaField
        from vivace.schema import create_schema
    except ImportError as exc:  # pragma: no cover - vivace.schema ships with vivace
        raise ImportError("model schemas need vivace.schema") from exc

    if variant not in ("output", "input", "clean"):
        raise ValueError(f"variant must be 'output', 'input' or 'clean', not {variant!r}")
    meta = model._meta
    excluded = frozenset(exclude)
    chosen = tuple(fields) if fields is not None else None
    key = (model, variant, chosen, excluded, optional, name)
    found = _cache.get(key)
    if found is not None:
        return found
    known = {f.name: f for f in meta.concrete} | {f.attname: f for f in meta.concrete}
    for wanted in (*(chosen or ()), *excluded):
        if wanted not in known:
            raise FieldError(
                f"{meta.label} has no field {wanted!r} for a schema "
                f"(choices: {', '.join(f.attname for f in meta.concrete)})"
            )
    selected = [known[n] for n in chosen] if chosen is not None else list(meta.concrete)
    definitions: dict[str, Any] = {}
    for field in selected:
        if field.name in excluded or field.attname in excluded:
            continue
        if variant == "input" and chosen is None and _automatic(field):
            continue
        annotation = _python_type(field)
        if field.null or (variant == "clean" and (field.has_default or field.primary_key)):
            annotation = annotation | None
        options = _constraints(field, variant)
        if variant == "output":
            default: Any = NOT_PROVIDED
        elif optional or field.null:
            default = None
        elif field.has_default and not callable(field.default):
            default = field.get_default()
        elif field.has_default or field.primary_key or variant == "clean":
            default = None
            annotation = annotation | None
        else:
            default = NOT_PROVIDED
        if optional and not field.null:
            annotation = annotation | None
        if default is NOT_PROVIDED:
            definitions[field.attname] = (
                (annotation, SchemaField(**options)) if options else annotation
            )
        else:
            definitions[field.attname] = (annotation, SchemaField(default, **options))
    suffix = {"output": "", "input": "Input", "clean": "Clean"}[variant]
    schema = create_schema(
        name or f"{model.__name__}{suffix}", definitions, module=model.__module__
    )
    _cache[key] = schema
    return schema


async def full_clean(
    obj: Model,
    exclude: Iterable[str] = (),
    validate_unique: bool = True,
    using: Database | None = None,
) -> None:
    """Validate ``obj``'s loaded values; ValidationError lists every problem by field."""
    from vivace.schema import ValidationError as SchemaValidationError

    model = type(obj)
    meta = model._meta
    skipped = frozenset(exclude)
    data = obj.__dict__
    errors: dict[str, list[str]] = {}
    values = {
        f.attname: data[f.attname]
        for f in meta.concrete
        if f.attname in data and f.name not in skipped and f.attname not in skipped
    }
    schema = model_schema(model, "clean", exclude=skipped)
    try:
        schema.validate({k: v for k, v in values.items() if v is not None})
    except SchemaValidationError as exc:
        for error in exc.errors():
            location = error["loc"]
            name = str(location[0]) if location else "__all__"
            errors.setdefault(_field_name(model, name), []).append(error["msg"])
    for field in meta.concrete:
        if field.attname not in values or field.name in errors:
            continue
        value = values[field.attname]
        if value is None:
            if (
                not field.null
                and not field.primary_key
                and not _automatic(field)
                and not (field.db_default is not NOT_PROVIDED)
            ):
                errors.setdefault(field.name, []).append("This field cannot be null.")
            continue
        problems = field.check(value)
        if problems:
            errors.setdefault(field.name, []).extend(problems)
    if validate_unique and not errors:
        await _check_unique(obj, skipped, errors, using)
    if errors:
        raise ValidationError(errors)


def _field_name(model: type[Model], attname: str) -> str:
    field = model._meta.by_attname.get(attname)
    return field.name if field is not None else attname


async def _check_unique(
    obj: Model, skipped: frozenset[str], errors: dict[str, list[str]], using: Database | None
) -> None:
    from ._queryset import QuerySet

    meta = type(obj)._meta
    groups: list[tuple[str, ...]] = [
        (f.name,) for f in meta.concrete if f.unique and not f.primary_key
    ]
    groups += list(meta.unique_together)
    groups += [
        tuple(c.fields)
        for c in meta.constraints
        if isinstance(c, UniqueConstraint) and c.condition is None
    ]
    for group in groups:
        if any(name in skipped for name in group):
            continue
        lookup = {}
        for name in group:
            field = meta.get_field(name)
            value = obj.__dict__.get(field.attname)
            if value is None:
                break  # NULLs never collide
            lookup[field.attname] = value
        else:
            queryset: QuerySet[Any] = QuerySet(type(obj), db=using).filter(**lookup)
            if obj.pk is not None:
                queryset = queryset.exclude(pk=obj.pk)
            if await queryset.exists():
                label = ", ".join(group)
                key = group[0] if len(group) == 1 else "__all__"
                errors.setdefault(key, []).append(f"{meta.label} with this {label} already exists.")
