"""Schemas from JSON Schema: ``from_json_schema(document)`` builds the types it describes.

Objects with ``properties`` become Schema classes (built with ``create_schema``), named by
their ``title`` or their ``$defs`` key; local ``$ref`` (``#/$defs/X``, ``#/definitions/X``,
``#/components/schemas/X``) is followed, recursion included. Understood: ``type`` (one or
a list), ``enum``, ``const``, ``anyOf``/``oneOf``, ``allOf`` of one schema, string
``format`` (date-time, date, time, duration, uuid, email, uri, password, binary),
``contentEncoding: base64``, ``items``, ``prefixItems``, ``uniqueItems``,
``additionalProperties``, ``required``, the numeric and length bounds, ``pattern``, and the
field annotations (title, description, examples, default, deprecated, readOnly,
writeOnly). Anything else is ignored, as JSON Schema does with unknown keywords; a remote
``$ref`` raises ``SchemaError``.
"""

from __future__ import annotations

import datetime
import keyword
import re
import typing
import uuid
from collections.abc import Mapping
from typing import Annotated, Any

from vivace.schema._errors import SchemaError
from vivace.schema._fields import NODEFAULT, field
from vivace.schema._schema import RESERVED, Schema, create_schema
from vivace.schema._types import Email, HttpUrl, Secret, Upload

__all__ = ["from_json_schema"]

_FORMATS: dict[str, Any] = {
    "date-time": datetime.datetime,
    "date": datetime.date,
    "time": datetime.time,
    "duration": datetime.timedelta,
    "uuid": uuid.UUID,
    "email": Email,
    "uri": HttpUrl,
    "password": Secret,
    "binary": Upload,
}
_SIMPLE: dict[str, Any] = {
    "integer": int,
    "number": float,
    "boolean": bool,
    "null": type(None),
}
_NAME = re.compile(r"[^0-9A-Za-z_]")


def _identifier(key: str) -> str:
    name = _NAME.sub("_", key) or "field"
    if name[0].isdigit():
        name = "f_" + name
    if keyword.iskeyword(name) or name in RESERVED:
        name += "_"
    return name


class _Builder:
    def __init__(self, root: Mapping[str, Any], module: str) -> None:
        self.root = root
        self.module = module
        self.by_ref: dict[str, Any] = {}
        self.pending: dict[str, str] = {}  # ref -> placeholder name, while being built
        self.namespace: dict[str, Any] = {}
        self.built: list[type] = []

    def resolve(self, ref: str) -> tuple[Mapping[str, Any], str]:
        if not ref.startswith("#"):
            raise SchemaError(f"only local $ref is supported, not {ref!r}")
        target: Any = self.root
        for part in ref[1:].split("/")[1:]:
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(target, Mapping) or part not in target:
                raise SchemaError(f"$ref {ref!r} points nowhere")
            target = target[part]
        if not isinstance(target, Mapping):
            raise SchemaError(f"$ref {ref!r} is not a schema")
        return target, ref.rsplit("/", 1)[-1]

    def ref(self, ref: str) -> Any:
        done = self.by_ref.get(ref)
        if done is not None:
            return done
        placeholder = self.pending.get(ref)
        if placeholder is not None:
            return placeholder  # a recursive reference: a string resolved later
        target, name = self.resolve(ref)
        placeholder = "_ref_" + _identifier(name) + f"_{len(self.pending)}"
        self.pending[ref] = placeholder
        tp = self.type_of(target, name)
        self.by_ref[ref] = tp
        self.namespace[placeholder] = tp
        return tp

    def type_of(self, s: Any, name: str) -> Any:
        if s is True or s == {}:
            return Any
        if s is False:
            raise SchemaError("a schema of `false` accepts nothing")
        if not isinstance(s, Mapping):
            raise SchemaError(f"not a JSON Schema: {s!r}")
        if "$ref" in s:
            return self.ref(s["$ref"])
        if "const" in s:
            return typing.Literal[s["const"]]
        if "enum" in s:
            return typing.Literal[tuple(s["enum"])]
        for key in ("anyOf", "oneOf"):
            if key in s:
                options = tuple(self.type_of(o, name) for o in s[key])
                return typing.Union[options]  # noqa: UP007
        if "allOf" in s:
            if len(s["allOf"]) != 1:
                raise SchemaError("allOf is supported with one schema only")
            return self.type_of(s["allOf"][0], name)
        kind = s.get("type")
        if isinstance(kind, list):
            options = tuple(self.type_of({**s, "type": k}, name) for k in kind)
            return typing.Union[options]  # noqa: UP007
        if kind is None:
            kind = "object" if "properties" in s else None
        return self._typed(s, kind, name)

    def _typed(self, s: Mapping[str, Any], kind: Any, name: str) -> Any:
        if kind == "string":
            if s.get("contentEncoding") == "base64":
                return self._bounded(bytes, s)
            fmt = _FORMATS.get(s.get("format", ""))
            if fmt is not None:
                return fmt
            return self._bounded(str, s)
        if kind in _SIMPLE:
            return self._bounded(_SIMPLE[kind], s)
        if kind == "array":
            if "prefixItems" in s:
                items = tuple(self.type_of(i, name) for i in s["prefixItems"])
                return tuple[items] if items else tuple[()]  # type: ignore[valid-type]
            item = self.type_of(s.get("items", {}), name + "Item")
            container: Any = set if s.get("uniqueItems") else list
            return self._bounded(container[item], s, array=True)
        if kind == "object":
            if "properties" in s:
                return self.schema(s, s.get("title") or name)
            extra = s.get("additionalProperties", {})
            value = self.type_of(extra if extra is not False else {}, name + "Value")
            return dict[str, value]  # type: ignore[valid-type]
        if kind is None:
            return Any
        raise SchemaError(f"unknown JSON Schema type {kind!r}")

    def _bounded(self, tp: Any, s: Mapping[str, Any], array: bool = False) -> Any:
        options = {
            "ge": s.get("minimum"),
            "le": s.get("maximum"),
            "gt": s.get("exclusiveMinimum"),
            "lt": s.get("exclusiveMaximum"),
            "multiple_of": s.get("multipleOf"),
            "min_length": s.get("minItems" if array else "minLength"),
            "max_length": s.get("maxItems" if array else "maxLength"),
            "pattern": s.get("pattern"),
        }
        given = {k: v for k, v in options.items() if v is not None}
        if not given:
            return tp
        return Annotated[tp, field(**given)]

    def schema(self, s: Mapping[str, Any], name: str) -> type[Schema]:
        required = set(s.get("required", ()))
        fields: dict[str, Any] = {}
        for key, prop in s["properties"].items():
            tp = self.type_of(prop, _identifier(key).title().replace("_", ""))
            options: dict[str, Any] = {}
            if isinstance(prop, Mapping):
                for ours, theirs in (
                    ("title", "title"),
                    ("description", "description"),
                    ("examples", "examples"),
                    ("deprecated", "deprecated"),
                    ("read_only", "readOnly"),
                    ("write_only", "writeOnly"),
                ):
                    if theirs in prop:
                        options[ours] = prop[theirs]
            pyname = _identifier(key)
            if pyname != key:
                options["alias"] = key
            if key not in required:
                if isinstance(prop, Mapping) and "default" in prop:
                    options["default"] = prop["default"]
                else:
                    options["default"] = None
                    tp = tp | None if tp is not Any else Any
            default = NODEFAULT if "default" not in options else options.pop("default")
            fields[pyname] = (tp, field(default, **options))
        cls = create_schema(
            _identifier(name),
            fields,
            module=self.module,
            doc=s.get("description"),
            namespace=self.namespace,
            forbid_unknown_fields=s.get("additionalProperties") is False,
        )
        self.built.append(cls)
        return cls


def from_json_schema(document: Mapping[str, Any], *, name: str = "Model") -> Any:
    """The type a JSON Schema document describes (a Schema class for an object).

    >>> from vivace.schema import from_json_schema
    >>> Pet = from_json_schema({
    ...     "title": "Pet", "type": "object",
    ...     "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
    ...     "required": ["name"],
    ... })
    >>> Pet.validate({"name": "Rex", "age": 3})
    Pet(name='Rex', age=3)
    """
    builder = _Builder(document, __name__)
    title = document.get("title") if isinstance(document, Mapping) else None
    tp = builder.type_of(document, str(title or name))
    # Classes built before a recursive reference's target existed see it now.
    for cls in builder.built:
        for placeholder, target in builder.namespace.items():
            setattr(cls, placeholder, target)
    return tp
