"""Output: ``dump`` (JSON-ready data) and ``dump_json`` (bytes).

With no options, or options that match how the classes are declared, msgspec writes the
objects directly (``to_builtins`` / ``json.encode``): no Python code per field. Options it
cannot express (include/exclude, by_alias=False over renamed fields, exclude_defaults on a
class not declared ``omit_defaults``, write-only or excluded fields, ``Secret`` values, a
Partial's declared defaults) take the Python path below, which walks the objects by their
runtime type.

Rules: ``UNSET`` values are never written (there is no JSON for "not sent"); a Partial's
unsent fields are written with the full schema's default, if it has one, unless
``exclude_unset=True``. ``exclude_defaults`` left at ``None`` follows each class's
``omit_defaults`` setting; ``True``/``False`` overrides it. Write-only and
``exclude=True`` fields are never written; ``exclude_none`` leaves out fields holding
``None``. A ``Secret`` is written as
``"**********"``. Keys are aliases unless ``by_alias=False``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import msgspec

from vivace.schema._fields import NODEFAULT, UNSET
from vivace.schema._nodes import ClassInfo, Node, class_info
from vivace.schema._types import MASK, Secret, Upload

__all__ = ["dump", "dump_json", "exact_encoder"]


def _enc_hook(value: Any) -> Any:
    if isinstance(value, Secret):
        return MASK
    if isinstance(value, Upload):
        return value.filename
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


_ENCODER = msgspec.json.Encoder(enc_hook=_enc_hook)


class _Plan:
    """Per class: can msgspec write it, and with which omit_defaults setting?"""

    __slots__ = ("omit", "plain", "renamed")

    def __init__(self, plain: bool, omit: bool | None, renamed: bool) -> None:
        self.plain = plain
        self.omit = omit  # True/False when every reachable class agrees, None when mixed
        self.renamed = renamed


_PLANS: dict[type, _Plan] = {}
_PLAIN_STRUCTS: dict[type, bool] = {}


def _plan(cls: type) -> _Plan:
    plan = _PLANS.get(cls)
    if plan is None:
        classes: set[type] = set()
        plain = _walk_plain(Node("class", py=cls), classes)
        infos = [class_info(c) for c in classes]
        omits = {i.omit_defaults for i in infos}
        omit = omits.pop() if len(omits) == 1 else None
        renamed = any(f.key != f.name for i in infos for f in i.fields)
        plan = _PLANS[cls] = _Plan(plain, omit, renamed)
    return plan


def _walk_plain(node: Node, classes: set[type]) -> bool:
    kind = node.kind
    if kind in ("secret", "upload"):
        return False
    if kind == "class":
        cls = node.py
        if cls in classes:
            return True
        classes.add(cls)
        info = class_info(cls)
        if info.kind != "struct" or getattr(cls, "__vivace_partial_of__", None) is not None:
            return False
        for f in info.fields:
            if f.info.write_only or f.info.exclude or not _walk_plain(f.node, classes):
                return False
        return True
    return all(_walk_plain(a, classes) for a in node.args)


def _fast_ok(value: Any, options: dict[str, Any]) -> bool:
    if not isinstance(value, msgspec.Struct):
        return False
    plan = _plan(type(value))
    if not plan.plain or options["include"] is not None or options["exclude"] is not None:
        return False
    if options["exclude_none"]:
        return False
    if not options["by_alias"] and plan.renamed:
        return False
    wanted = options["exclude_defaults"]
    # None means "as each class declares": exactly what msgspec does. Mixed settings
    # (plan.omit is None) with an explicit choice take the Python path.
    return wanted is None or plan.omit is wanted


def dump(
    value: Any,
    *,
    include: Any = None,
    exclude: Any = None,
    by_alias: bool = True,
    exclude_unset: bool = False,
    exclude_defaults: bool | None = None,
    exclude_none: bool = False,
) -> Any:
    """``value`` (a schema object, or data holding some) as JSON-ready Python data.

    ``include``/``exclude`` take a set of field names, or a dict mapping a name to ``True``
    or to the same kind of spec for the nested object: ``exclude={"owner": {"email"}}``.
    ``exclude_none`` leaves out the fields of objects that hold ``None`` (as pydantic's: a
    dict's or a list's ``None`` values stay).
    """
    options = {
        "include": include,
        "exclude": exclude,
        "by_alias": by_alias,
        "exclude_unset": exclude_unset,
        "exclude_defaults": exclude_defaults,
        "exclude_none": exclude_none,
    }
    if _fast_ok(value, options):
        return msgspec.to_builtins(value, enc_hook=_enc_hook, str_keys=True)
    dumper = _Dumper(by_alias, exclude_unset, exclude_defaults, exclude_none)
    return dumper.value(value, include, exclude)


def dump_json(
    value: Any,
    *,
    include: Any = None,
    exclude: Any = None,
    by_alias: bool = True,
    exclude_unset: bool = False,
    exclude_defaults: bool | None = None,
    exclude_none: bool = False,
) -> bytes:
    """``value`` as JSON bytes (same options as ``dump``)."""
    if (
        include is None
        and exclude is None
        and by_alias
        and not exclude_unset
        and exclude_defaults is None
        and not exclude_none
    ):
        # No options (a typed handler's output): one lookup by class decides what
        # _fast_ok would. Measured on a 20-field schema: 0.8 us against 2.1 us.
        cls = type(value)
        plain = _PLAIN_STRUCTS.get(cls)
        if plain is None:
            plain = isinstance(value, msgspec.Struct) and _plan(cls).plain
            if len(_PLAIN_STRUCTS) < 4096:  # classes made at run time cannot fill memory
                _PLAIN_STRUCTS[cls] = plain
        if plain:
            return _ENCODER.encode(value)
    options = {
        "include": include,
        "exclude": exclude,
        "by_alias": by_alias,
        "exclude_unset": exclude_unset,
        "exclude_defaults": exclude_defaults,
        "exclude_none": exclude_none,
    }
    if _fast_ok(value, options):
        return _ENCODER.encode(value)
    dumper = _Dumper(by_alias, exclude_unset, exclude_defaults, exclude_none)
    data = dumper.value(value, include, exclude)
    return _ENCODER.encode(data)


def exact_encoder(cls: Any) -> Callable[[Any], bytes] | None:
    """A function writing a value of exactly ``cls`` as ``dump_json(value)`` does, with
    nothing decided per call, when msgspec writes the class directly (a Struct whose
    fields are all written as they are); else None."""
    if isinstance(cls, type) and issubclass(cls, msgspec.Struct) and _plan(cls).plain:
        return _ENCODER.encode
    return None


def _sub(spec: Any, name: str) -> Any:
    if isinstance(spec, Mapping):
        inner = spec.get(name)
        return None if inner is True else inner
    return None


def _selected(name: str, include: Any, exclude: Any) -> bool:
    if include is not None and name not in include:
        return False
    if exclude is not None and name in exclude:
        ex = exclude[name] if isinstance(exclude, Mapping) else True
        return ex is not True
    return True


def _is_default(value: Any, f: Any) -> bool:
    if f.default is not NODEFAULT:
        default = f.default
    elif f.default_factory is not None:
        default = f.default_factory()
    else:
        return False
    if value is default:
        return True
    try:
        return bool(type(value) is type(default) and value == default)
    except Exception:  # an odd __eq__ (an array): not the default
        return False


def _key(k: Any) -> Any:
    """A dict key as JSON writes it (``1`` as ``"1"``, a UUID or an enum as its text)."""
    out = msgspec.to_builtins(k)
    return str(out) if type(out) is int else out


class _Dumper:
    __slots__ = ("by_alias", "exclude_defaults", "exclude_none", "exclude_unset")

    def __init__(
        self, by_alias: bool, exclude_unset: bool, exclude_defaults: bool | None, exclude_none: bool
    ) -> None:
        self.by_alias = by_alias
        self.exclude_unset = exclude_unset
        self.exclude_defaults = exclude_defaults
        self.exclude_none = exclude_none

    def value(self, v: Any, include: Any, exclude: Any) -> Any:
        t = type(v)
        if t is str or t is int or t is float or t is bool or v is None:
            return v
        if isinstance(v, msgspec.Struct) or (
            dataclasses.is_dataclass(v) and not isinstance(v, type)
        ):
            return self.obj(v, class_info(t), include, exclude)
        if t is dict or isinstance(v, Mapping):
            return {
                _key(k): self.value(x, _sub(include, k), _sub(exclude, k))
                for k, x in v.items()
                if _selected(k, include, exclude)
            }
        if t is list or t is tuple or t is set or t is frozenset:
            return [self.value(x, include, exclude) for x in v]
        if isinstance(v, Secret):
            return MASK
        if isinstance(v, Upload):
            return v.filename
        return msgspec.to_builtins(v, enc_hook=_enc_hook, str_keys=True)

    def obj(self, v: Any, info: ClassInfo, include: Any, exclude: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if info.tag_field is not None:
            out[info.tag_field] = info.tag
        full = getattr(info.cls, "__vivace_partial_of__", None)
        full_info = class_info(full) if full is not None else None
        omit = self.exclude_defaults
        if omit is None:
            omit = info.omit_defaults
        for f in info.fields:
            if f.info.write_only or f.info.exclude:
                continue
            name = f.name
            if not _selected(name, include, exclude):
                continue
            x = getattr(v, name)
            if x is UNSET:
                if self.exclude_unset or full_info is None:
                    continue
                spec = full_info.by_name[name]
                if spec.required:
                    continue
                x = spec.default_value()
            elif omit and _is_default(x, f):
                continue
            if x is None and self.exclude_none:
                continue
            key = f.key if self.by_alias else name
            out[key] = self.value(x, _sub(include, name), _sub(exclude, name))
        return out
