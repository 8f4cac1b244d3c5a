"""Reading multi-value input (query strings, HTML forms) into data a schema validates.

A form or query string is flat and repeats keys; a schema is nested and typed. The rules:

- a list-typed field takes every value of its key (``?tag=a&tag=b``); others take the last;
- a nested schema's fields are named with dots (``address.street``), in forms;
- an unchecked checkbox sends nothing, so an absent ``bool`` field is ``False`` in a form;
- an empty file input (a part with an empty filename) counts as not sent;
- keys no field claims are passed on, so a schema that forbids unknown fields reports them.

Works with anything that has ``getlist`` (vivace.http's ``MultiDict`` and ``QueryParams``,
vivace.web's ``FormData``, Starlette's and Django's) or a plain mapping.
"""

from __future__ import annotations

from typing import Any

from vivace.schema._errors import ValidationError
from vivace.schema._nodes import ClassInfo, Node, class_info, node_for

__all__ = ["form_errors", "is_multidict", "multidict_to_data", "validate_form"]

_SEQUENCES = frozenset({"list", "set", "frozenset", "vartuple"})


def is_multidict(data: Any) -> bool:
    return callable(getattr(data, "getlist", None)) and callable(getattr(data, "keys", None))


class _Values:
    """``getlist`` over a multidict or a plain mapping (whose list values are many)."""

    __slots__ = ("data", "multi")

    def __init__(self, data: Any) -> None:
        self.data = data
        self.multi = is_multidict(data)

    def getlist(self, key: str) -> list[Any]:
        if self.multi:
            return list(self.data.getlist(key))
        if key not in self.data:
            return []
        value = self.data[key]
        return list(value) if isinstance(value, list | tuple) else [value]

    def names(self) -> list[str]:
        return [str(k) for k in self.data.keys()]  # noqa: SIM118 - a multidict's keys()


def _empty_upload(value: Any) -> bool:
    return getattr(value, "filename", None) == "" and callable(getattr(value, "read", None))


def _read(info: ClassInfo, values: _Values, prefix: str, form: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    claimed: set[str] = set()
    for f in info.fields:
        key = prefix + f.key
        node = f.node.without_none()
        if node.kind == "class" and form:
            nested_prefix = key + "."
            if any(k.startswith(nested_prefix) for k in values.names()):
                out[f.key] = _read(class_info(node.py), values, nested_prefix, form)
            elif not f.node.nullable and f.required:
                # Nothing sent for a required group: its own inputs are what is missing.
                out[f.key] = _read(class_info(node.py), values, nested_prefix, form)
            continue
        claimed.add(key)
        got = [v for v in values.getlist(key) if not _empty_upload(v)]
        if node.kind in _SEQUENCES:
            if got:
                out[f.key] = got
        elif got:
            out[f.key] = got[-1]
        elif form and node.kind == "bool":
            out[f.key] = False  # an unchecked checkbox sends nothing
    if info.tag_field is not None:
        claimed.add(prefix + info.tag_field)
        tag = values.getlist(prefix + info.tag_field)
        if tag:
            out[info.tag_field] = tag[-1]
    for k in values.names():
        if k.startswith(prefix) and k not in claimed:
            rest = k[len(prefix) :]
            if "." not in rest and rest not in out:
                found = values.getlist(k)
                out[rest] = found[-1] if found else None
    return out


def multidict_to_data(node: Node, data: Any, *, form: bool = False) -> Any:
    """Flat multi-value input -> the nested data ``node`` describes."""
    root = node.without_none()
    values = _Values(data)
    if root.kind == "class":
        return _read(class_info(root.py), values, "", form)
    if root.kind == "dict" and root.args[1].without_none().kind in _SEQUENCES:
        return {k: values.getlist(k) for k in values.names()}
    return {k: values.getlist(k)[-1] for k in values.names()}


def validate_form(cls: Any, form: Any) -> Any:
    """Validate a submitted form (a multidict or mapping) as ``cls``, in lax mode."""
    from vivace.schema._validator import validator_for

    data = multidict_to_data(node_for(cls), form, form=True)
    return validator_for(cls).validate(data, mode="lax")


def input_name(loc: tuple[str | int, ...]) -> str:
    """The form input an error location belongs to: ``("address", "street")`` ->
    ``address.street``; a list item's error belongs to the list's input."""
    parts = [str(p) for p in loc if not isinstance(p, int)]
    return ".".join(parts)


def form_errors(error: ValidationError | None) -> dict[str, list[str]]:
    """Messages keyed by input name (``""`` for errors about the whole form).

    >>> from vivace.schema import ErrorDetail, ValidationError, form_errors
    >>> form_errors(ValidationError([ErrorDetail(("age",), "type", "Invalid integer")]))
    {'age': ['Invalid integer']}
    """
    out: dict[str, list[str]] = {}
    if error is None:
        return out
    for d in error.details:
        out.setdefault(input_name(d.loc), []).append(d.msg)
    return out
