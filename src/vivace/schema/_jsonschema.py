"""JSON Schema (draft 2020-12) from types: ``json_schema`` and ``json_schemas``.

Every class becomes a named definition referenced with ``$ref``, so nested and recursive
schemas need nothing special. ``json_schemas`` renders many types against one shared set of
definitions with a chosen reference template, which is what an OpenAPI document needs
(``ref_template="#/components/schemas/{name}"``). Output is deterministic: properties in
field order, definitions sorted by name, a class's name stable across runs (``__name__``,
or its module path when two classes share a name).
"""

from __future__ import annotations

import decimal
import inspect
import re
from collections.abc import Callable, Iterable
from typing import Any

import msgspec

from vivace.schema._errors import SchemaError
from vivace.schema._fields import NODEFAULT, UNSET
from vivace.schema._nodes import ClassInfo, Node, class_info, class_name, node_for, real_class

__all__ = ["DIALECT", "json_schema", "json_schemas"]

DIALECT = "https://json-schema.org/draft/2020-12/schema"

_FORMATS = {
    "datetime": "date-time",
    "date": "date",
    "time": "time",
    "timedelta": "duration",
    "uuid": "uuid",
}


def _dotted(cls: Any) -> str:
    real = real_class(cls)
    # ``Page[Item]`` keeps its parameters, as its default name does: ``app.models.Page_Item_``.
    params = _UNSAFE.sub("_", class_name(cls)[len(real.__name__) :])
    return f"{real.__module__}.{real.__qualname__}{params}"


def _default_name(cls: Any) -> str:
    # A generic class given its parameters is named as pydantic names it in OpenAPI:
    # ``Page[Item]`` -> ``Page_Item_``, since a component's name may hold only
    # ``A-Z a-z 0-9 . - _`` (OpenAPI 3.1, Components Object) and sits in ``$ref`` URIs.
    return _UNSAFE.sub("_", class_name(cls))


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


class _Generator:
    def __init__(
        self,
        ref_template: str,
        naming: Callable[[type], str | None] | None = None,
        taken: dict[str, type] | None = None,
    ) -> None:
        self.ref_template = ref_template
        self.defs: dict[str, dict[str, Any]] = {}
        self.names: dict[type, str] = {}
        self.naming = naming
        self.strict = taken is not None
        self.taken: dict[str, type] = taken if taken is not None else {}

    def name(self, cls: type) -> str:
        name = self.names.get(cls)
        if name is None:
            chosen = self.naming(cls) if self.naming is not None else None
            name = _default_name(cls) if chosen is None else chosen
            other = self.taken.get(name)
            if other is not None and other is not cls and other != cls:
                if self.strict:
                    raise SchemaError(
                        f"two schemas are named {name!r}: {_dotted(other)} and "
                        f"{_dotted(cls)}; rename one, or name them apart with a naming "
                        "function (json_schemas(naming=...), OpenAPI(schema_name=...))"
                    )
                name = _dotted(cls).replace(".", "__")
            self.names[cls] = name
            self.taken[name] = cls
        return name

    def ref(self, cls: type) -> dict[str, Any]:
        name = self.name(cls)
        if name not in self.defs:
            self.defs[name] = {}  # reserve first: a recursive reference finds it
            self.defs[name] = self.cls(class_info(cls))
        return {"$ref": self.ref_template.format(name=name)}

    def node(self, node: Node) -> dict[str, Any]:
        out = getattr(self, "_" + node.kind)(node)
        c = node.c
        if c is not None:
            out.update(_constraint_keywords(node, c))
        return dict(out)

    def _any(self, node: Node) -> dict[str, Any]:
        return {}

    def _none(self, node: Node) -> dict[str, Any]:
        return {"type": "null"}

    def _unset(self, node: Node) -> dict[str, Any]:
        return {}

    def _bool(self, node: Node) -> dict[str, Any]:
        return {"type": "boolean"}

    def _int(self, node: Node) -> dict[str, Any]:
        return {"type": "integer"}

    def _float(self, node: Node) -> dict[str, Any]:
        return {"type": "number"}

    def _str(self, node: Node) -> dict[str, Any]:
        return {"type": "string"}

    def _secret(self, node: Node) -> dict[str, Any]:
        return {"type": "string", "format": "password", "writeOnly": True}

    def _upload(self, node: Node) -> dict[str, Any]:
        return {"type": "string", "format": "binary"}

    def _bytes(self, node: Node) -> dict[str, Any]:
        return {"type": "string", "contentEncoding": "base64"}

    def _decimal(self, node: Node) -> dict[str, Any]:
        return {"type": ["string", "number"], "format": "decimal"}

    def _leaf_format(self, node: Node) -> dict[str, Any]:
        return {"type": "string", "format": _FORMATS[node.kind]}

    _datetime = _date = _time = _timedelta = _uuid = _leaf_format

    def _enum(self, node: Node) -> dict[str, Any]:
        out: dict[str, Any] = {"title": node.py.__name__, "enum": list(node.values)}
        types = {type(v) for v in node.values}
        if types == {str}:
            out["type"] = "string"
        elif types == {int}:
            out["type"] = "integer"
        doc = node.py.__doc__
        if doc and doc != _ENUM_DOC:
            out["description"] = inspect.cleandoc(doc)
        return out

    def _literal(self, node: Node) -> dict[str, Any]:
        if len(node.values) == 1:
            return {"const": node.values[0]}
        return {"enum": list(node.values)}

    def _array(self, node: Node, unique: bool) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "array"}
        item = self.node(node.args[0])
        if item:
            out["items"] = item
        if unique:
            out["uniqueItems"] = True
        return out

    def _list(self, node: Node) -> dict[str, Any]:
        return self._array(node, False)

    def _vartuple(self, node: Node) -> dict[str, Any]:
        return self._array(node, False)

    def _set(self, node: Node) -> dict[str, Any]:
        return self._array(node, True)

    _frozenset = _set

    def _tuple(self, node: Node) -> dict[str, Any]:
        n = len(node.args)
        out: dict[str, Any] = {"type": "array", "minItems": n, "maxItems": n}
        if n:
            out["prefixItems"] = [self.node(a) for a in node.args]
        out["items"] = False
        return out

    def _dict(self, node: Node) -> dict[str, Any]:
        key, value = node.args
        out: dict[str, Any] = {"type": "object"}
        v = self.node(value)
        if v:
            out["additionalProperties"] = v
        k = key.without_none()
        if k.kind == "int":
            out["propertyNames"] = {"pattern": "^-?[0-9]+$"}
        elif k.kind == "str" and k.c is not None:
            out["propertyNames"] = _constraint_keywords(k, k.c)
        elif k.kind in ("enum", "literal"):
            out["propertyNames"] = {"enum": [str(x) for x in k.values]}
        return out

    def _union(self, node: Node) -> dict[str, Any]:
        options = [self.node(a) for a in node.args if a.kind != "unset"]
        if len(options) == 1:
            return options[0]
        out: dict[str, Any] = {"anyOf": options}
        classes = [a.py for a in node.args if a.kind == "class"]
        infos = [class_info(c) for c in classes]
        fields = {i.tag_field for i in infos}
        if len(infos) > 1 and len(fields) == 1 and None not in fields:
            # OpenAPI's discriminator (JSON Schema ignores unknown keywords).
            out["discriminator"] = {
                "propertyName": fields.pop(),
                "mapping": {
                    str(i.tag): self.ref_template.format(name=self.name(i.tp)) for i in infos
                },
            }
        return out

    def _class(self, node: Node) -> dict[str, Any]:
        return self.ref(node.py)

    def cls(self, info: ClassInfo) -> dict[str, Any]:
        cls = info.cls
        out: dict[str, Any] = {"title": class_name(info.tp), "type": "object"}
        doc = cls.__doc__
        if doc and not doc.startswith(f"{cls.__name__}("):  # a dataclass's generated doc
            out["description"] = inspect.cleandoc(doc)
        props: dict[str, Any] = {}
        required: list[str] = []
        if info.tag_field is not None:
            props[info.tag_field] = {"enum": [info.tag]}
            required.append(info.tag_field)
        for f in info.fields:
            props[f.key] = self.field(f)
            if f.required and not f.info.read_only:
                required.append(f.key)
        out["properties"] = props
        if required:
            out["required"] = required
        if info.forbid_unknown:
            out["additionalProperties"] = False
        return out

    def field(self, f: Any) -> dict[str, Any]:
        out = self.node(f.node)
        fi = f.info
        if fi.title is not None:
            out["title"] = fi.title
        if fi.description is not None:
            out["description"] = fi.description
        if fi.examples is not None:
            out["examples"] = msgspec.to_builtins(fi.examples, str_keys=True)
        if f.default is not NODEFAULT and f.default is not UNSET:
            try:
                out["default"] = msgspec.to_builtins(f.default, str_keys=True)
            except TypeError:
                pass  # a default JSON cannot show
        if fi.deprecated:
            out["deprecated"] = True
        if fi.read_only:
            out["readOnly"] = True
        if fi.write_only:
            out["writeOnly"] = True
        if fi.json_schema_extra:
            out.update(fi.json_schema_extra)
        return out


_ENUM_DOC = "An enumeration."


def _constraint_keywords(node: Node, c: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    array = node.kind in ("list", "set", "frozenset", "vartuple")
    obj = node.kind == "dict"
    for name, value in c.items():
        if isinstance(value, decimal.Decimal):
            # JSON Schema's bounds are JSON numbers; a Decimal is not one (json.dumps
            # refuses it, msgspec would write a string).
            value = int(value) if value == value.to_integral_value() else float(value)
        if name == "gt":
            out["exclusiveMinimum"] = value
        elif name == "ge":
            out["minimum"] = value
        elif name == "lt":
            out["exclusiveMaximum"] = value
        elif name == "le":
            out["maximum"] = value
        elif name == "multiple_of":
            out["multipleOf"] = value
        elif name == "min_length":
            out["minItems" if array else "minProperties" if obj else "minLength"] = value
        elif name == "max_length":
            out["maxItems" if array else "maxProperties" if obj else "maxLength"] = value
        elif name == "pattern":
            out["pattern"] = value
        elif name == "format":
            out["format"] = value
    return out


def json_schema(tp: Any, *, ref_template: str = "#/$defs/{name}") -> dict[str, Any]:
    """A JSON Schema document for one type, its classes under ``$defs``.

    >>> from vivace.schema import Schema, json_schema
    >>> class Pet(Schema):
    ...     name: str
    >>> json_schema(list[Pet])["items"]
    {'$ref': '#/$defs/Pet'}
    """
    gen = _Generator(ref_template)
    root = gen.node(node_for(tp))
    out: dict[str, Any] = {"$schema": DIALECT, **root}
    if gen.defs:
        out["$defs"] = {k: gen.defs[k] for k in sorted(gen.defs)}
    return out


def json_schemas(
    types: Iterable[Any],
    *,
    ref_template: str = "#/$defs/{name}",
    naming: Callable[[type], str | None] | None = None,
    names: dict[str, type] | None = None,
) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """Schemas for several types sharing one set of definitions (for OpenAPI).

    Returns ``(schemas, definitions)``: one schema per type, in order (a class is a
    ``$ref``), and every definition they refer to, sorted by name.

    ``naming(cls)`` names a class's definition (``None``: its ``__name__``). With
    ``names`` (a dict, filled with each definition's class and shared between calls),
    two classes given one name raise ``SchemaError`` instead of the second being named
    by its module path.

    >>> from vivace.schema import Schema, json_schemas
    >>> class A(Schema):
    ...     x: int
    >>> refs, defs = json_schemas([A, list[A]], ref_template="#/components/schemas/{name}")
    >>> refs[1], sorted(defs)
    ({'type': 'array', 'items': {'$ref': '#/components/schemas/A'}}, ['A'])
    """
    gen = _Generator(ref_template, naming, names)
    schemas = [gen.node(node_for(tp)) for tp in types]
    return schemas, {k: gen.defs[k] for k in sorted(gen.defs)}
