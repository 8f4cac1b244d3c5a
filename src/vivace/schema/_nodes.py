"""Type analysis: a type expression -> a tree of ``Node`` objects every part reads.

The Python engine, the msgspec bridge, JSON Schema, forms and the dumper all walk the same
nodes, so a type is understood once. Classes (schemas, msgspec Structs, dataclasses,
TypedDicts) are leaves here (kind ``"class"``); their fields are analysed lazily by
``class_info`` so self-referencing schemas need no special case.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import types
import typing
import uuid
from collections.abc import Callable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import Any

import msgspec

from vivace.schema._errors import SchemaError
from vivace.schema._fields import NODEFAULT, Constraints, FieldInfo, UnsetType
from vivace.schema._types import Secret, Upload

__all__ = [
    "ClassInfo",
    "FieldSpec",
    "Node",
    "NodeRef",
    "class_info",
    "class_name",
    "is_generic",
    "node_for",
    "real_class",
]

_LEAVES: dict[Any, str] = {
    bool: "bool",
    int: "int",
    float: "float",
    str: "str",
    bytes: "bytes",
    bytearray: "bytes",
    decimal.Decimal: "decimal",
    datetime.datetime: "datetime",
    datetime.date: "date",
    datetime.time: "time",
    datetime.timedelta: "timedelta",
    uuid.UUID: "uuid",
    Secret: "secret",
    Upload: "upload",
    UnsetType: "unset",
    type(None): "none",
}

#: Kinds whose values come from JSON strings (what lax mode and forms parse from text).
STRING_KINDS = frozenset(
    {"str", "bytes", "decimal", "datetime", "date", "time", "timedelta", "uuid", "secret"}
)
#: Kinds msgspec converts from a string for us (the Python engine delegates these).
DELEGATED = frozenset({"bytes", "decimal", "datetime", "date", "time", "timedelta", "uuid"})
_NUMERIC = frozenset({"int", "float", "decimal"})
_SIZED = frozenset({"str", "bytes", "list", "set", "frozenset", "vartuple", "dict", "secret"})
_TZ = frozenset({"datetime", "time"})


class Node:
    """One type in a type expression.

    ``kind``: any, none, unset, bool, int, float, str, bytes, decimal, datetime, date, time,
    timedelta, uuid, secret, upload, enum, literal, list, set, frozenset, vartuple, tuple,
    dict, union, class. ``args``: child nodes (item; key and value; tuple items; union
    options). ``c``: constraints. ``py``: the Python type (enum or class). ``values``:
    a literal's values.
    """

    __slots__ = ("args", "c", "kind", "py", "values")

    def __init__(
        self,
        kind: str,
        args: tuple[Node, ...] = (),
        c: Constraints | None = None,
        py: Any = None,
        values: tuple[Any, ...] = (),
    ) -> None:
        self.kind = kind
        self.args = args
        self.c = c
        self.py = py
        self.values = values

    @property
    def nullable(self) -> bool:
        return self.kind in ("none", "any") or (
            self.kind == "union" and any(a.kind == "none" for a in self.args)
        )

    def without_none(self) -> Node:
        """The node with ``None`` (and ``UNSET``) taken out of a union."""
        if self.kind != "union":
            return self
        rest = tuple(a for a in self.args if a.kind not in ("none", "unset"))
        if len(rest) == 1:
            return rest[0]
        return Node("union", rest) if rest else Node("none")

    def describe(self) -> str:
        """A short type name for messages: ``int``, ``list``, ``File | Directory``."""
        kind = self.kind
        if kind == "union":
            return " | ".join(a.describe() for a in self.args if a.kind != "unset")
        if kind == "class":
            return class_name(self.py)
        if kind == "enum":
            return "enum"
        if kind == "none":
            return "null"
        if kind in ("list", "set", "frozenset", "vartuple", "tuple"):
            return "array"
        if kind == "dict":
            return "object"
        return kind

    def __repr__(self) -> str:
        return f"Node({self.kind!r}, {self.args!r})"


_ANY = Node("any")


class NodeRef:
    """Annotated metadata carrying an analysed node (and the field's options).

    The msgspec bridge rewrites a schema's annotations into msgspec's dialect and keeps the
    original analysis beside it, so reading the rewritten annotation again (a subclass
    defined later) gives back exactly the same node. msgspec ignores metadata it does not
    know.
    """

    __slots__ = ("info", "node")

    def __init__(self, node: Node, info: FieldInfo | None) -> None:
        self.node = node
        self.info = info


def _constraints_of(meta: Sequence[Any]) -> tuple[Constraints | None, FieldInfo | None]:
    c: Constraints | None = None
    info: FieldInfo | None = None
    for m in meta:
        if isinstance(m, NodeRef) and m.info is not None:
            info = m.info if info is None else info.merged(m.info)
        elif isinstance(m, FieldInfo):
            info = m if info is None else info.merged(m)
            if m.constraints is not None:
                c = m.constraints if c is None else c.merged(m.constraints)
    return c, info


def apply_constraints(node: Node, c: Constraints | None) -> Node:
    """``node`` with ``c`` added; for a union, added to every member that is not None."""
    if c is None:
        return node
    if node.kind == "union":
        return Node("union", tuple(apply_constraints(a, c) for a in node.args))
    if node.kind in ("none", "unset"):
        return node
    for name in dict(c.items()):
        if name in ("gt", "ge", "lt", "le", "multiple_of"):
            ok = node.kind in _NUMERIC
        elif name in ("min_length", "max_length"):
            ok = node.kind in _SIZED
        elif name in ("pattern", "format"):
            ok = node.kind in ("str", "secret")
        else:  # tz
            ok = node.kind in _TZ
        if not ok:
            raise SchemaError(f"constraint {name!r} cannot apply to type {node.describe()}")
    merged = c if node.c is None else node.c.merged(c)
    return Node(node.kind, node.args, merged, node.py, node.values)


def _is_typeddict(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, dict) and hasattr(tp, "__total__")


def node_for(tp: Any) -> Node:
    """Analyse one type expression. Raises ``SchemaError`` for a type we cannot validate."""
    if tp is Any or tp is object:
        return _ANY
    if tp is None:
        return Node("none")
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        inner, *meta = typing.get_args(tp)
        for m in meta:
            if isinstance(m, NodeRef):
                return m.node
        c, info = _constraints_of(meta)
        if info is not None and info.alias is not None:
            raise SchemaError(
                "give an alias in the default position (name: str = Field(alias=...)), "
                "not inside Annotated[...]"
            )
        return apply_constraints(node_for(inner), c)
    if isinstance(tp, typing.NewType):
        return node_for(tp.__supertype__)
    if isinstance(tp, typing.TypeVar):
        bound = tp.__bound__
        return node_for(bound) if bound is not None else _ANY
    if origin is typing.Union or origin is types.UnionType:
        return _union(tuple(node_for(a) for a in typing.get_args(tp)))
    if origin is typing.Literal:
        values = _literal_values(tp)
        if all(v is None for v in values):
            return Node("none")
        lit = Node("literal", values=tuple(v for v in values if v is not None))
        return _union((lit, Node("none"))) if None in values else lit
    if origin is not None:
        return _generic(tp, origin, typing.get_args(tp))
    if isinstance(tp, str | typing.ForwardRef):
        raise SchemaError(f"unresolved forward reference {tp!r}")
    kind = _LEAVES.get(tp)
    if kind is not None:
        return Node(kind, py=tp)
    if isinstance(tp, type):
        if issubclass(tp, enum.Enum):
            return Node("enum", py=tp, values=tuple(m.value for m in tp))
        if issubclass(tp, msgspec.Struct) or dataclasses.is_dataclass(tp) or _is_typeddict(tp):
            return Node("class", py=tp)
        bare = _BARE.get(tp)
        if bare is not None:
            return _generic(tp, tp, ())
    raise SchemaError(f"unsupported type {tp!r}")


_BARE: dict[Any, Any] = {
    list: list,
    set: set,
    frozenset: frozenset,
    tuple: tuple,
    dict: dict,
    Sequence: list,
    AbstractSet: set,
    Mapping: dict,
}


def _literal_values(tp: Any) -> tuple[Any, ...]:
    out: list[Any] = []
    for v in typing.get_args(tp):
        if typing.get_origin(v) is typing.Literal:
            out.extend(_literal_values(v))
        elif v is None or type(v) in (str, int, bool):
            out.append(v)
        else:
            raise SchemaError(f"Literal values must be str, int, bool or None, not {v!r}")
    return tuple(out)


def _union(options: tuple[Node, ...]) -> Node:
    flat: list[Node] = []
    for o in options:
        for a in o.args if o.kind == "union" else (o,):
            if a.kind == "any":
                return _ANY
            if a.kind in ("none", "unset") and any(f.kind == a.kind for f in flat):
                continue
            flat.append(a)
    if len(flat) == 1:
        return flat[0]
    return Node("union", tuple(flat))


def _generic(tp: Any, origin: Any, args: tuple[Any, ...]) -> Node:
    if origin in (list, Sequence, typing.Sequence, typing.MutableSequence):
        return Node("list", (node_for(args[0]) if args else _ANY,))
    if origin in (set, AbstractSet, typing.AbstractSet, typing.MutableSet):
        return Node("set", (node_for(args[0]) if args else _ANY,))
    if origin is frozenset:
        return Node("frozenset", (node_for(args[0]) if args else _ANY,))
    if origin is tuple:
        if not args:
            # bare `tuple` is any length; `tuple[()]` (no args on 3.11+) is the empty one
            return Node("vartuple", (_ANY,)) if tp is tuple else Node("tuple", ())
        if len(args) == 2 and args[1] is Ellipsis:
            return Node("vartuple", (node_for(args[0]),))
        if args == ((),):
            return Node("tuple", ())
        return Node("tuple", tuple(node_for(a) for a in args))
    if origin in (dict, Mapping, typing.Mapping, typing.MutableMapping):
        key = node_for(args[0]) if args else _ANY
        value = node_for(args[1]) if args else _ANY
        if key.kind not in ("any", "str", "int", "enum", "literal", "uuid", "union"):
            raise SchemaError(f"dict keys must be strings or ints in JSON, not {args[0]!r}")
        return Node("dict", (key, value))
    if isinstance(origin, type) and (
        issubclass(origin, msgspec.Struct)
        or dataclasses.is_dataclass(origin)
        or _is_typeddict(origin)
    ):
        # A generic class given its parameters (``Page[Item]``): the alias itself is the
        # class node; class_info substitutes the parameters into the fields.
        return Node("class", py=tp)
    raise SchemaError(f"unsupported type {tp!r}")


def real_class(cls: Any) -> Any:
    """The class behind a class node: ``Page`` for ``Page[Item]``, else ``cls`` itself."""
    origin = typing.get_origin(cls)
    return origin if origin is not None else cls


def is_generic(cls: Any) -> bool:
    """Whether ``cls`` is a generic class or one of its parametrisations (``Page``,
    ``Page[Item]``): their annotations hold type variables and must stay as written."""
    return bool(getattr(real_class(cls), "__parameters__", ()))


def class_name(cls: Any) -> str:
    """A class's name with its parameters: ``Page``, ``Page[Item]``, ``Box[list[int]]``."""
    if typing.get_origin(cls) is None:
        return str(cls.__name__)
    return _type_name(cls)


def _type_name(tp: Any) -> str:
    if tp is type(None) or tp is None:
        return "None"
    if tp is Any:
        return "Any"
    if tp is Ellipsis:
        return "..."
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin is typing.Union or origin is types.UnionType:
        return " | ".join(_type_name(a) for a in args)
    if origin is typing.Literal:
        return f"Literal[{', '.join(repr(a) for a in args)}]"
    if origin is not None:
        return f"{_type_name(origin)}[{', '.join(_type_name(a) for a in args)}]"
    name = getattr(tp, "__name__", None)
    return str(name) if name is not None else repr(tp)


# --- classes: fields, defaults, validators ------------------------------------------------


class FieldSpec:
    """One field of a class, resolved: attribute name, input/output key, node, options."""

    __slots__ = (
        "default",
        "default_factory",
        "info",
        "key",
        "name",
        "node",
        "required",
        "validators",
    )

    def __init__(
        self,
        name: str,
        key: str,
        node: Node,
        *,
        required: bool,
        default: Any = NODEFAULT,
        default_factory: Callable[[], Any] | None = None,
        info: FieldInfo | None = None,
    ) -> None:
        self.name = name
        self.key = key
        self.node = node
        self.required = required
        self.default = default
        self.default_factory = default_factory
        self.info = info if info is not None else FieldInfo()
        self.validators: list[Any] = []

    def default_value(self) -> Any:
        if self.default_factory is not None:
            return self.default_factory()
        return self.default

    @property
    def read_only(self) -> bool:
        return self.info.read_only

    @property
    def write_only(self) -> bool:
        return self.info.write_only


class ClassInfo:
    """A class's fields and options, for the engines, the dumper and JSON Schema."""

    __slots__ = (
        "by_key",
        "by_name",
        "cls",
        "fields",
        "forbid_unknown",
        "kind",
        "omit_defaults",
        "tag",
        "tag_field",
        "tp",
        "validators",
    )

    def __init__(self, tp: Any, kind: str, fields: list[FieldSpec]) -> None:
        self.tp = tp  # as written: ``Page[Item]`` for a generic class given its parameters
        self.cls = real_class(tp)  # the class that makes the objects: ``Page``
        self.kind = kind  # "struct", "dataclass" or "typeddict"
        self.fields = fields
        self.by_key = {f.key: f for f in fields}
        self.by_name = {f.name: f for f in fields}
        self.forbid_unknown = False
        self.omit_defaults = False
        self.tag: str | int | None = None
        self.tag_field: str | None = None
        self.validators: list[Any] = []


_INFOS: dict[Any, ClassInfo] = {}


def _hints(cls: Any) -> dict[str, Any]:
    origin = typing.get_origin(cls)
    if origin is not None:
        # ``Page[Item]``: the class's hints with each type variable replaced by its
        # argument, as ``typing`` substitutes them (``list[T]`` -> ``list[Item]``).
        # (typing has checked the number of arguments.)
        subst = dict(zip(origin.__parameters__, typing.get_args(cls), strict=True))
        return {name: _substitute(tp, subst) for name, tp in _hints(origin).items()}
    # Names a string annotation may use beyond its module's globals: the class itself (a
    # self-reference in a class defined inside a function), the locals of the function
    # it was defined in (captured by SchemaMeta), and the class namespace.
    localns: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        localns.update(getattr(klass, "__vivace_locals__", None) or {})
        localns[klass.__name__] = klass
    localns.update(vars(cls))
    try:
        hints = typing.get_type_hints(cls, localns=localns, include_extras=True)
    except NameError as exc:
        raise SchemaError(f"{cls.__qualname__}: cannot resolve annotation: {exc}") from exc
    subst = _base_arguments(cls)
    return {name: _substitute(tp, subst) for name, tp in hints.items()} if subst else hints


def _base_arguments(cls: type) -> dict[Any, Any]:
    """The type variables a class fixes by subclassing a parametrised generic class:
    ``class IntBox(Box[int])`` gives ``{T: int}`` (also through a chain of generic bases)."""
    subst: dict[Any, Any] = {}
    for klass in cls.__mro__:  # nearest first: its arguments feed the bases further up
        for base in klass.__dict__.get("__orig_bases__", ()):
            origin = typing.get_origin(base)
            params: tuple[Any, ...] = getattr(origin, "__parameters__", ())
            if origin is typing.Generic or not params:
                continue
            for param, arg in zip(params, typing.get_args(base), strict=True):
                arg = _substitute(arg, subst)
                if subst.get(param, arg) != arg:
                    raise SchemaError(
                        f"{cls.__qualname__}: type variable {param} is given both "
                        f"{_type_name(subst[param])} and {_type_name(arg)} by its bases"
                    )
                subst[param] = arg
    return subst


def _substitute(tp: Any, subst: dict[Any, Any]) -> Any:
    if isinstance(tp, typing.TypeVar):
        return subst.get(tp, tp)
    params = getattr(tp, "__parameters__", ())
    if not params or isinstance(tp, type):
        return tp
    return tp[tuple(subst.get(p, p) for p in params)]


def class_info(cls: Any) -> ClassInfo:
    """The fields of a Struct (a Schema), a dataclass or a TypedDict, analysed once; of a
    generic one given its parameters (``Page[Item]``), with the parameters substituted."""
    info = _INFOS.get(cls)
    if info is not None:
        return info
    origin = real_class(cls)
    if isinstance(origin, type) and issubclass(origin, msgspec.Struct):
        info = _struct_info(cls)
    elif dataclasses.is_dataclass(origin):
        info = _dataclass_info(cls)
    else:
        info = _typeddict_info(cls)
    _INFOS[cls] = info
    return info


def _field_node(owner: Any, name: str, tp: Any, extra: FieldInfo | None) -> tuple[Node, FieldInfo]:
    meta: list[Any] = []
    if typing.get_origin(tp) is typing.Annotated:
        meta = [m for m in tp.__metadata__ if isinstance(m, FieldInfo | NodeRef)]
    try:
        node = node_for(tp)
        _, info = _constraints_of(meta)
        if extra is not None:
            info = extra if info is None else info.merged(extra)
            node = apply_constraints(node, extra.constraints)
    except SchemaError as exc:
        raise SchemaError(f"{class_name(owner)}.{name}: {exc}") from None
    return node, info if info is not None else FieldInfo()


def struct_fields(cls: Any) -> list[tuple[str, str, Any, Callable[[], Any] | None]]:
    """(name, encoded name, default, default factory) of each field of a Struct class.

    Read from the class attributes msgspec documents (``__struct_fields__``,
    ``__struct_encode_fields__``, ``__struct_defaults__``) rather than through
    ``msgspec.structs.fields``, which evaluates the annotations itself and cannot see the
    names of the function a class was defined in. A default made by ``default_factory``
    is an object with a ``factory`` attribute (tests/schema/test_bridge.py checks this).
    """
    names = cls.__struct_fields__
    keys = cls.__struct_encode_fields__
    given = cls.__struct_defaults__
    defaults = (msgspec.NODEFAULT,) * (len(names) - len(given)) + tuple(given)
    out: list[tuple[str, str, Any, Callable[[], Any] | None]] = []
    for name, key, default in zip(names, keys, defaults, strict=True):
        if default is msgspec.NODEFAULT:
            out.append((name, key, NODEFAULT, None))
        elif type(default).__name__ == "Factory" and hasattr(default, "factory"):
            out.append((name, key, NODEFAULT, default.factory))
        else:
            out.append((name, key, default, None))
    return out


def _struct_info(cls: Any) -> ClassInfo:
    real = real_class(cls)
    extras: dict[str, FieldInfo] = getattr(real, "__vivace_fields__", {})
    hints = _hints(cls)
    fields: list[FieldSpec] = []
    for name, key, default, factory in struct_fields(real):
        node, finfo = _field_node(cls, name, hints[name], extras.get(name))
        fields.append(
            FieldSpec(
                name,
                key,
                node,
                required=default is NODEFAULT and factory is None,
                default=default,
                default_factory=factory,
                info=finfo,
            )
        )
    info = ClassInfo(cls, "struct", fields)
    config = real.__struct_config__
    info.forbid_unknown = config.forbid_unknown_fields
    info.omit_defaults = config.omit_defaults
    if config.tag is not None:
        info.tag = config.tag
        info.tag_field = config.tag_field
    return info


def _dataclass_info(cls: Any) -> ClassInfo:
    hints = _hints(cls)
    fields: list[FieldSpec] = []
    for f in dataclasses.fields(real_class(cls)):
        if not f.init:
            continue
        node, finfo = _field_node(cls, f.name, hints[f.name], None)
        has_default = f.default is not dataclasses.MISSING
        factory = f.default_factory if f.default_factory is not dataclasses.MISSING else None
        fields.append(
            FieldSpec(
                f.name,
                f.name,
                node,
                required=not has_default and factory is None,
                default=f.default if has_default else NODEFAULT,
                default_factory=factory,
                info=finfo,
            )
        )
    return ClassInfo(cls, "dataclass", fields)


def _typeddict_info(cls: Any) -> ClassInfo:
    hints = _hints(cls)
    required_keys: frozenset[str] = real_class(cls).__required_keys__
    fields: list[FieldSpec] = []
    for name, tp in hints.items():
        while typing.get_origin(tp) in (typing.Required, typing.NotRequired):
            tp = typing.get_args(tp)[0]
        node, finfo = _field_node(cls, name, tp, None)
        fields.append(FieldSpec(name, name, node, required=name in required_keys, info=finfo))
    return ClassInfo(cls, "typeddict", fields)
