"""Validators: ``field_validator`` and ``schema_validator``, sync or async.

A validator is a function on the schema class, marked by a decorator:

- ``@field_validator("name", mode="after")``: ``def f(cls, value) -> value``, run on the
  converted value (``mode="before"``: on the raw input, before conversion).
- ``@schema_validator(mode="after")``: ``def f(self) -> Self | None``, run on the built
  object; ``mode="before"``: ``def f(cls, data) -> data`` on the raw input mapping.
- ``async def`` validators run only in ``avalidate`` (after everything else passed, so a
  database is asked only about well-formed input). Sync ``validate`` of a schema that has
  async validators raises ``SchemaError`` rather than skip a check silently.

A validator reports a problem by raising ``ValueError`` (or ``AssertionError``,
``TypeError``): its message becomes an error with code ``value_error`` at the field's
location. Raising ``ValidationError`` reports several, with locations relative to the field.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from typing import Any, Literal, TypeVar

from vivace.schema._errors import SchemaError

__all__ = ["ClassValidators", "class_validators", "field_validator", "schema_validator"]

F = TypeVar("F", bound=Callable[..., Any])


class _Spec:
    __slots__ = ("fields", "func", "is_async", "mode")

    def __init__(self, func: Callable[..., Any], fields: tuple[str, ...], mode: str) -> None:
        self.func = func
        self.fields = fields  # () for a schema validator
        self.mode = mode
        self.is_async = inspect.iscoroutinefunction(func)


def field_validator(*fields: str, mode: Literal["before", "after"] = "after") -> Callable[[F], F]:
    """Mark ``def f(cls, value)`` as a validator of the named fields.

    >>> from vivace.schema import Schema, field_validator
    >>> class User(Schema):
    ...     name: str
    ...     @field_validator("name")
    ...     def strip(cls, value: str) -> str:
    ...         if not value.strip():
    ...             raise ValueError("Must not be blank")
    ...         return value.strip()
    >>> User.validate({"name": "  ada "}).name
    'ada'
    """
    if not fields:
        raise TypeError("field_validator() needs at least one field name")
    if mode not in ("before", "after"):
        raise TypeError("mode must be 'before' or 'after'")

    def mark(func: F) -> F:
        return _mark(func, fields, mode, ("cls", "value"))

    return mark


def _mark(func: F, fields: tuple[str, ...], mode: str, params: tuple[str, ...]) -> F:
    """Put the validator's spec on its function: under ``@classmethod`` (pydantic's idiom,
    ``@field_validator`` above ``@classmethod``) that is the function inside, which is
    what the class's dict yields once unwrapped."""
    target = func.__func__ if isinstance(func, classmethod | staticmethod) else func
    _check_signature(target, params)
    spec = _Spec(target, fields, mode)
    if spec.is_async and mode == "before":
        raise TypeError("async validators run after conversion: use mode='after'")
    target.__vivace_validator__ = spec  # type: ignore[attr-defined]
    return func


def _check_signature(func: Callable[..., Any], params: tuple[str, ...]) -> None:
    """Refuse, when it is defined, a validator that cannot be called with ``params``
    (pydantic's ``info``/``handler`` arguments): called, its TypeError would read as the
    input's fault."""
    try:
        inspect.signature(func).bind(*params)
    except TypeError:
        raise TypeError(
            f"validator {func.__qualname__} must take ({', '.join(params)}): vivace passes "
            f"no ValidationInfo or handler"
        ) from None
    except ValueError:  # pragma: no cover - a callable without a signature: not checked
        pass


def schema_validator(*, mode: Literal["before", "after"] = "after") -> Callable[[F], F]:
    """Mark a whole-object validator: ``def f(self)`` (after) or ``def f(cls, data)`` (before).

    >>> from vivace.schema import Schema, schema_validator
    >>> class Range(Schema):
    ...     low: int
    ...     high: int
    ...     @schema_validator()
    ...     def ordered(self) -> None:
    ...         if self.low > self.high:
    ...             raise ValueError("low must not exceed high")
    >>> Range.validate({"low": 1, "high": 2}).high
    2
    """
    if mode not in ("before", "after"):
        raise TypeError("mode must be 'before' or 'after'")

    def mark(func: F) -> F:
        return _mark(func, (), mode, ("self",) if mode == "after" else ("cls", "data"))

    return mark


class ClassValidators:
    """A class's validators, grouped the way the engines run them."""

    __slots__ = (
        "async_field",
        "async_schema",
        "field_after",
        "field_before",
        "schema_after",
        "schema_before",
    )

    def __init__(self) -> None:
        self.field_before: dict[str, tuple[Callable[..., Any], ...]] = {}
        self.field_after: dict[str, tuple[Callable[..., Any], ...]] = {}
        self.schema_before: tuple[Callable[..., Any], ...] = ()
        self.schema_after: tuple[Callable[..., Any], ...] = ()
        self.async_field: dict[str, tuple[Callable[..., Any], ...]] = {}
        self.async_schema: tuple[Callable[..., Any], ...] = ()

    @property
    def any_sync(self) -> bool:
        return bool(
            self.field_before or self.field_after or self.schema_before or self.schema_after
        )

    @property
    def any_async(self) -> bool:
        return bool(self.async_field or self.async_schema)


_CACHE: dict[type, ClassValidators] = {}
_EMPTY = ClassValidators()


def _add(table: dict[str, tuple[Any, ...]], name: str, fn: Any) -> None:
    table[name] = (*table.get(name, ()), fn)


def class_validators(cls: type) -> ClassValidators:
    """The validators of ``cls`` and its bases (a subclass's method of the same name wins)."""
    found = _CACHE.get(cls)
    if found is not None:
        return found
    origin: Any = typing.get_origin(cls)
    if origin is not None:  # ``Page[Item]``: the validators of ``Page``
        found = _CACHE[cls] = class_validators(origin)
        return found
    specs: dict[str, _Spec] = {}
    for klass in reversed(cls.__mro__):
        for attr, value in vars(klass).items():
            func = value.__func__ if isinstance(value, classmethod | staticmethod) else value
            spec = getattr(func, "__vivace_validator__", None)
            if isinstance(spec, _Spec):
                specs[attr] = spec
            elif attr in specs:
                del specs[attr]  # overridden by a plain method
    if not specs:
        _CACHE[cls] = _EMPTY
        return _EMPTY
    from vivace.schema._nodes import class_info

    names = {f.name for f in class_info(cls).fields}
    out = ClassValidators()
    for spec in specs.values():
        for name in spec.fields:
            if name not in names:
                raise SchemaError(
                    f"{cls.__qualname__}: validator {spec.func.__name__} names unknown "
                    f"field {name!r}"
                )
            if spec.is_async:
                _add(out.async_field, name, spec.func)
            elif spec.mode == "before":
                _add(out.field_before, name, spec.func)
            else:
                _add(out.field_after, name, spec.func)
        if not spec.fields:
            if spec.is_async:
                out.async_schema = (*out.async_schema, spec.func)
            elif spec.mode == "before":
                out.schema_before = (*out.schema_before, spec.func)
            else:
                out.schema_after = (*out.schema_after, spec.func)
    _CACHE[cls] = out
    return out
