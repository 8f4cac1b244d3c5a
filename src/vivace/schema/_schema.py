"""``Schema``: a class whose annotations are its fields; ``create_schema``; ``Partial``.

A ``Schema`` is a ``msgspec.Struct`` (``kw_only`` by default), so msgspec decodes JSON
straight into it and encodes it without a detour through dicts. The class keywords are
msgspec's: ``tag``/``tag_field`` (tagged unions), ``rename`` (``"camel"`` for camelCase
keys), ``forbid_unknown_fields``, ``omit_defaults``, ``frozen``... Defining a class does no
analysis; the first ``validate`` compiles it (class definition stays cheap).

Constructing ``User(name=..., age=...)`` does not validate (as with dataclasses): it is
what code that already holds good values calls. ``User.validate(data)`` validates.
"""

from __future__ import annotations

import sys
import typing
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal, Self, TypeVar, dataclass_transform

import msgspec

from vivace.schema._errors import SchemaError
from vivace.schema._fields import NODEFAULT, UNSET, FieldInfo, field

__all__ = ["Partial", "Schema", "SchemaMeta", "create_schema", "fields_set", "partial"]

T = TypeVar("T")

#: Names of Schema's own methods; a field of the same name would hide one.
RESERVED = frozenset(
    {
        "validate",
        "validate_json",
        "avalidate",
        "avalidate_json",
        "validate_form",
        "dump",
        "dump_json",
        "json_schema",
    }
)


def _translate_default(value: FieldInfo) -> Any:
    kwargs: dict[str, Any] = {}
    if value.default is not NODEFAULT:
        kwargs["default"] = value.default
    if value.default_factory is not None:
        kwargs["default_factory"] = value.default_factory
    if value.alias is not None:
        kwargs["name"] = value.alias
    return msgspec.field(**kwargs)


@dataclass_transform(kw_only_default=True, field_specifiers=(field, msgspec.field))
class SchemaMeta(msgspec.StructMeta):
    """Collects ``Field()`` options, then lets msgspec build the Struct."""

    def __new__(
        mcls,
        name: str,
        bases: tuple[type, ...],
        namespace: dict[str, Any],
        /,
        **kwargs: Any,
    ) -> SchemaMeta:
        for pydantic_name, given in (("model_config", namespace), ("extra", kwargs)):
            if pydantic_name in given:
                # pydantic's configuration: ignored here, it would leave a user believing
                # (say) that unknown fields are refused.
                raise SchemaError(
                    f"{name}: {pydantic_name!r} is pydantic's configuration; give class "
                    f"keywords instead: class {name}(Schema, forbid_unknown_fields=True, "
                    f"frozen=True, rename='camel')"
                )
        options: dict[str, FieldInfo] = {}
        for base in reversed(bases):
            options.update(getattr(base, "__vivace_fields__", {}))
        annotations = namespace.get("__annotations__", {})
        for attr in annotations:
            if attr in RESERVED:
                raise SchemaError(f"{name}: a field cannot be named {attr!r} (a Schema method)")
            value = namespace.get(attr, NODEFAULT)
            if isinstance(value, FieldInfo):
                options[attr] = value
                namespace[attr] = _translate_default(value)
        kwargs.setdefault("kw_only", True)
        cls = super().__new__(mcls, name, bases, namespace, **kwargs)
        for attr in cls.__struct_fields__:
            if attr.startswith("_"):
                # pydantic makes ``_name`` a private attribute (never read from input,
                # never written); a Struct field of that name would be both.
                raise SchemaError(
                    f"{name}: field {attr!r} starts with '_', which pydantic keeps private but "
                    f"a Schema would read from input and write out; name it without the '_' "
                    f"(Field(alias={attr!r}) if that is its JSON key, "
                    f"Field(read_only=True, exclude=True) to keep it out of input and output)"
                )
        cls.__vivace_fields__ = options  # type: ignore[attr-defined]
        cls.__vivace_locals__ = _defining_locals()  # type: ignore[attr-defined]
        return cls


def _defining_locals() -> dict[str, Any] | None:
    """Names a string annotation may need beyond the class's module: the locals of the
    function a class is defined in (a snapshot: names bound later are not seen), as
    pydantic allows; or, for code run with exec() in a namespace that is no importable
    module, that namespace itself."""
    frame = sys._getframe(2)
    while frame.f_globals.get("__name__") == __name__ and frame.f_back is not None:
        frame = frame.f_back  # create_schema() and partial() call in from this module
    if frame.f_code.co_name == "<module>" or frame.f_locals is frame.f_globals:
        module = sys.modules.get(frame.f_globals.get("__name__", ""))
        if module is not None and module.__dict__ is frame.f_globals:
            return None
        return frame.f_globals
    return dict(frame.f_locals)


@dataclass_transform(kw_only_default=True, field_specifiers=(field, msgspec.field))
class Schema(msgspec.Struct, metaclass=SchemaMeta):
    """Base class of schemas.

    >>> from vivace.schema import Schema
    >>> class User(Schema):
    ...     name: str
    ...     age: int = 0
    >>> user = User.validate({"name": "ada", "age": 36})
    >>> user
    User(name='ada', age=36)
    >>> user.dump_json()
    b'{"name":"ada","age":36}'
    """

    if not TYPE_CHECKING:

        def __class_getitem__(cls, params: Any) -> Any:
            # ``Page[Item]`` of a generic schema: typing's alias, whose class methods
            # (``Page[Item].validate``) validate as ``Page[Item]``, not as a bare ``Page``.
            if typing.Generic not in cls.__mro__:
                raise TypeError(f"{cls.__name__} is not a generic schema")
            from vivace.schema._compat import parametrise

            return parametrise(typing.Generic.__dict__["__class_getitem__"].__func__(cls, params))

    @classmethod
    def validate(cls, data: Any, *, mode: Literal["strict", "lax"] = "strict") -> Self:
        """Validate Python data (a dict from a form, the ORM, a parsed body)."""
        from vivace.schema._validator import validator_for

        out: Self = validator_for(cls).validate(data, mode=mode)
        return out

    @classmethod
    def validate_json(
        cls, data: bytes | str, *, duplicate_keys: Literal["last", "error"] = "last"
    ) -> Self:
        """Decode and validate a JSON document in one step (strict mode).

        ``duplicate_keys="error"`` refuses an object that repeats a key; by default the
        last value wins.
        """
        from vivace.schema._validator import validator_for

        out: Self = validator_for(cls).validate_json(data, duplicate_keys=duplicate_keys)
        return out

    @classmethod
    async def avalidate(cls, data: Any, *, mode: Literal["strict", "lax"] = "strict") -> Self:
        """Validate, then run the async validators (``await User.avalidate(data)``)."""
        from vivace.schema._validator import validator_for

        out: Self = await validator_for(cls).avalidate(data, mode=mode)
        return out

    @classmethod
    async def avalidate_json(
        cls, data: bytes | str, *, duplicate_keys: Literal["last", "error"] = "last"
    ) -> Self:
        """``validate_json``, then the async validators."""
        from vivace.schema._validator import validator_for

        out: Self = await validator_for(cls).avalidate_json(data, duplicate_keys=duplicate_keys)
        return out

    @classmethod
    def validate_form(cls, form: Any) -> Self:
        """Validate a submitted HTML form (``await request.form()``): lax mode, dotted
        names for nested schemas, repeated keys for lists, files as uploads."""
        from vivace.schema._formdata import validate_form

        out: Self = validate_form(cls, form)
        return out

    def dump(
        self,
        *,
        include: Any = None,
        exclude: Any = None,
        by_alias: bool = True,
        exclude_unset: bool = False,
        exclude_defaults: bool | None = None,
        exclude_none: bool = False,
    ) -> dict[str, Any]:
        """This object as JSON-ready data (``dict``, ``list``, ``str``, numbers...)."""
        from vivace.schema._dump import dump

        out: dict[str, Any] = dump(
            self,
            include=include,
            exclude=exclude,
            by_alias=by_alias,
            exclude_unset=exclude_unset,
            exclude_defaults=exclude_defaults,
            exclude_none=exclude_none,
        )
        return out

    def dump_json(
        self,
        *,
        include: Any = None,
        exclude: Any = None,
        by_alias: bool = True,
        exclude_unset: bool = False,
        exclude_defaults: bool | None = None,
        exclude_none: bool = False,
    ) -> bytes:
        """This object as JSON bytes."""
        from vivace.schema._dump import dump_json

        return dump_json(
            self,
            include=include,
            exclude=exclude,
            by_alias=by_alias,
            exclude_unset=exclude_unset,
            exclude_defaults=exclude_defaults,
            exclude_none=exclude_none,
        )

    @classmethod
    def json_schema(cls, *, ref_template: str = "#/$defs/{name}") -> dict[str, Any]:
        """This schema as a JSON Schema (draft 2020-12) document with its ``$defs``."""
        from vivace.schema._jsonschema import json_schema

        return json_schema(cls, ref_template=ref_template)


FieldDefinition = Any | tuple[Any, Any]


def create_schema(
    name: str,
    fields: Mapping[str, FieldDefinition],
    *,
    base: type[Schema] = Schema,
    module: str | None = None,
    doc: str | None = None,
    namespace: Mapping[str, Any] | None = None,
    validators: Mapping[str, Callable[..., Any]] | None = None,
    **config: Any,
) -> type[Schema]:
    """Build a Schema class from a name and field definitions (for code that derives
    schemas, such as the ORM).

    ``fields`` maps a field name to its type, or to ``(type, default)`` where the default
    may be a ``Field(...)``. ``namespace`` supplies names for string annotations (forward
    and recursive references); ``validators`` adds decorated validator functions;
    ``config`` takes the class keywords (``rename="camel"``, ``forbid_unknown_fields``...).

    >>> from vivace.schema import Field, create_schema
    >>> Point = create_schema("Point", {"x": int, "y": (int, Field(default=0, ge=0))})
    >>> Point.validate({"x": 1})
    Point(x=1, y=0)
    """
    annotations: dict[str, Any] = {}
    ns: dict[str, Any] = {"__annotations__": annotations, "__doc__": doc}
    ns["__module__"] = module if module is not None else _caller_module()
    for fname, definition in fields.items():
        if isinstance(definition, tuple):
            if len(definition) != 2:
                raise SchemaError(f"{name}.{fname}: give a type or a (type, default) pair")
            annotations[fname], ns[fname] = definition
        else:
            annotations[fname] = definition
    if namespace:
        for key, value in namespace.items():
            if key in annotations:
                raise SchemaError(f"{name}: namespace name {key!r} is also a field")
            ns[key] = value
    if validators:
        ns.update(validators)
    cls = SchemaMeta(name, (base,), ns, **config)
    return typing.cast(type[Schema], cls)


def _caller_module() -> str:
    frame = sys._getframe(2)
    return str(frame.f_globals.get("__name__", __name__))


_PARTIALS: dict[type, type[Schema]] = {}


def partial(cls: type[T]) -> type[T]:
    """The PATCH variant of a schema: every field optional, defaulting to ``UNSET``.

    Nested schemas stay as they are (a PATCH replaces a nested object whole). Field
    validators run on the fields that were sent; schema-level validators do not run
    (they may need fields that were not sent). ``fields_set(obj)`` names what was sent.

    >>> from vivace.schema import Schema, partial, fields_set
    >>> class User(Schema):
    ...     name: str
    ...     age: int = 0
    >>> patch = partial(User).validate({"age": 37})
    >>> fields_set(patch), patch.dump_json(exclude_unset=True)
    (frozenset({'age'}), b'{"age":37}')
    """
    done = _PARTIALS.get(cls)
    if done is not None:
        return typing.cast(type[T], done)
    if not (isinstance(cls, type) and issubclass(cls, Schema)):
        raise SchemaError(f"partial() takes a Schema class, not {cls!r}")
    from vivace.schema._nodes import NodeRef, class_info
    from vivace.schema._validators import class_validators

    info = class_info(cls)
    fields: dict[str, Any] = {}
    for f in info.fields:
        options = FieldInfo(alias=f.key if f.key != f.name else None, default=UNSET)
        options = f.info.merged(options)
        options.default_factory = None
        tp = typing.Annotated[Any, NodeRef(_with_unset(f.node), f.info)]
        fields[f.name] = (tp, options)
    config = cls.__struct_config__
    vals = class_validators(cls)
    funcs: dict[str, Any] = {}
    for table in (vals.field_before, vals.field_after, vals.async_field):
        for fns in table.values():
            for fn in fns:
                funcs[fn.__name__] = fn
    new = create_schema(
        f"{cls.__name__}Partial",
        fields,
        module=cls.__module__,
        doc=cls.__doc__,
        validators=funcs,
        forbid_unknown_fields=config.forbid_unknown_fields,
        tag=config.tag,
        tag_field=config.tag_field if config.tag is not None else None,
        frozen=config.frozen,
    )
    new.__vivace_partial_of__ = cls  # type: ignore[attr-defined]
    _PARTIALS[cls] = new
    return typing.cast(type[T], new)


def _with_unset(node: Any) -> Any:
    from vivace.schema._nodes import Node, _union

    return _union((node, Node("unset")))


if TYPE_CHECKING:
    # For type checkers ``Partial[User]`` is ``User`` (its fields keep their types; at run
    # time an unsent one holds UNSET).
    Partial = typing.Annotated[T, "partial"]
else:

    class Partial:
        """``Partial[User]`` is ``partial(User)``: the PATCH variant of a schema."""

        def __class_getitem__(cls, item: type) -> type:
            return partial(item)


def fields_set(obj: Any) -> frozenset[str]:
    """The names of the fields of ``obj`` that hold a value (are not ``UNSET``).

    With ``Partial[...]`` (or a field defaulting to ``UNSET``) that is what the client sent.
    """
    from vivace.schema._nodes import class_info

    if isinstance(obj, dict):  # a TypedDict: the keys present
        return frozenset(k for k, v in obj.items() if v is not UNSET)
    info = class_info(type(obj))
    return frozenset(f.name for f in info.fields if getattr(obj, f.name) is not UNSET)
