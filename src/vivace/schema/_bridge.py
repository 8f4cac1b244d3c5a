"""The msgspec bridge: our nodes in msgspec's type dialect, and the fast path's plan.

msgspec decodes JSON straight into schema objects (a ``Schema`` is a ``msgspec.Struct``),
so on valid input no Python code runs per field. It needs the constraints in its own
``Annotated[int, msgspec.Meta(ge=0)]`` form, so before the first decoder is built each
schema class's ``__annotations__`` are rewritten into that form (``prepare``). msgspec
reads a Struct's annotations lazily, when a decoder for it is first built; the compat test
in tests/schema/test_bridge.py fails if a msgspec release stops doing so.

A type takes the fast path only when msgspec can do all of it: no sync validators (those run
in the Python engine, which reports their errors with the type errors), no read-only fields
(ignored on input), no ``Secret``/``Upload``, no dataclass or TypedDict carrying our field
options, and a union msgspec supports (it refuses two untagged classes in one union, for
example; the refusal is how we find out).
"""

from __future__ import annotations

import typing
from typing import Annotated, Any

import msgspec

from vivace.schema._engine import inexact_multiple
from vivace.schema._fields import Constraints, UnsetType
from vivace.schema._nodes import Node, NodeRef, class_info, is_generic, node_for, real_class
from vivace.schema._validators import class_validators

__all__ = ["NotFast", "fast_type", "leaf_type", "ms_type"]

_PLAIN: dict[str, Any] = {
    "any": Any,
    "none": type(None),
    "unset": UnsetType,
    "bool": bool,
    "int": int,
    "float": float,
    "str": str,
}


# Subscripted at run time with computed arguments (typed Any so checkers allow it).
_TUPLE: Any = tuple
_DICT: Any = dict


class NotFast(Exception):
    """This node needs the Python engine."""


def _meta(node: Node) -> msgspec.Meta | None:
    c = node.c
    if c is None:
        return None
    args = {n: v for n, v in c.items() if n != "format"}
    if c.regex is not None:  # msgspec searches with Python's re: the pattern made for it
        args["pattern"] = c.regex.pattern
    if "multiple_of" in args and inexact_multiple(args["multiple_of"]):
        raise NotFast("a decimal step: msgspec's fmod refuses 0.3 as a multiple of 0.1")
    return msgspec.Meta(**args) if args else None


def _wrap(tp: Any, node: Node) -> Any:
    meta = _meta(node)
    return Annotated[tp, meta] if meta is not None else tp


def leaf_type(node: Node) -> Any:
    """The msgspec type for one leaf (the Python engine's delegated conversions): its
    timezone rule only, as the engine checks bounds and lengths itself, with our codes."""
    tz = node.c.tz if node.c is not None else None
    bare = Node(node.kind, node.args, Constraints(tz=tz) if tz is not None else None, node.py)
    return ms_type(bare, {})


def ms_type(node: Node, seen: dict[type, bool]) -> Any:
    """``node`` as a msgspec type expression; classes reachable are prepared on the way."""
    kind = node.kind
    plain = _PLAIN.get(kind)
    if plain is not None:
        return _wrap(plain, node)
    if kind in ("bytes", "decimal", "datetime", "date", "time", "timedelta", "uuid", "enum"):
        return _wrap(node.py if kind != "bytes" else bytes, node)
    if kind == "literal":
        return typing.Literal[node.values]
    if kind in ("list", "set", "frozenset", "vartuple"):
        item = ms_type(node.args[0], seen)
        container: Any = {"list": list, "set": set, "frozenset": frozenset}.get(kind)
        tp = container[item] if container is not None else _TUPLE[item, ...]
        return _wrap(tp, node)
    if kind == "tuple":
        items = tuple(ms_type(a, seen) for a in node.args)
        return _TUPLE[items] if items else _TUPLE[()]
    if kind == "dict":
        key, value = (ms_type(a, seen) for a in node.args)
        return _wrap(_DICT[key, value], node)
    if kind == "union":
        return typing.Union[tuple(ms_type(a, seen) for a in node.args)]  # noqa: UP007
    if kind == "class":
        _prepare_class(node.py, seen)
        if is_generic(node.py):
            # ``Page[Item]``: msgspec substitutes the arguments into the class's own
            # annotations (left as written, see _prepare_class); the arguments in its
            # dialect. A bare ``Page`` is given its variables' bounds (or Any) explicitly,
            # as msgspec would otherwise fill them from an enclosing generic class that
            # happens to use the same variable.
            args = typing.get_args(node.py) or real_class(node.py).__parameters__
            return real_class(node.py)[tuple(ms_type(node_for(a), seen) for a in args)]
        return node.py
    raise NotFast(kind)  # secret, upload


def _prepare_class(cls: type, seen: dict[type, bool]) -> None:
    if cls in seen:
        return
    seen[cls] = True
    info = class_info(cls)
    if class_validators(cls).any_sync:
        raise NotFast("validators")
    annotations: dict[str, Any] = {}
    for f in info.fields:
        if f.info.read_only:
            raise NotFast("read_only")
        tp = ms_type(f.node, seen)
        annotations[f.name] = Annotated[tp, NodeRef(f.node, f.info)]
    if is_generic(cls):
        # A generic class's annotations hold its type variables, which msgspec substitutes
        # per parametrisation: they are never rewritten, so options of our own on the
        # class's fields (invisible to msgspec) need the Python engine.
        generic = class_info(real_class(cls))
        if any(_has_options(f.node) or f.info.constraints for f in generic.fields):
            raise NotFast("options on a generic class")
        if any(_has_bare_generic(f.node) for f in generic.fields):
            # msgspec would fill a bare generic class's variables from this class's
            # arguments where the two share a variable; we read them as Any.
            raise NotFast("bare generic class inside a generic class")
    elif info.kind == "struct":
        # Looked up on the class itself: a base's flag says nothing of its subclasses.
        if cls.__dict__.get("__vivace_translated__") is not True:
            cls.__annotations__ = annotations
            cls.__vivace_translated__ = True  # type: ignore[attr-defined]
    elif any(_has_options(f.node) or f.info.constraints for f in info.fields):
        # msgspec reads a dataclass's or TypedDict's own annotations, where our Field()
        # options are invisible to it: validate those in the Python engine.
        raise NotFast("options on a dataclass")


def _has_options(node: Node) -> bool:
    return node.c is not None or any(_has_options(a) for a in node.args)


def _has_bare_generic(node: Node) -> bool:
    if node.kind == "class":
        args = typing.get_args(node.py)
        if not is_generic(node.py):
            return False
        return not args or any(_has_bare_generic(node_for(a)) for a in args)
    return any(_has_bare_generic(a) for a in node.args)


def fast_type(node: Node) -> Any:
    """The msgspec type for the fast path, or ``None`` when the Python engine must do it."""
    try:
        tp = ms_type(node, {})
        msgspec.json.Decoder(tp)  # msgspec refuses what it cannot decode here, once
    except (NotFast, TypeError, NameError):
        # NameError: msgspec evaluates a dataclass's own string annotations, in its
        # module only; the Python engine (which also sees the defining function's names)
        # does those.
        return None
    return tp
