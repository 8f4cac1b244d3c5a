"""Refusing a JSON document that repeats a key in an object (``duplicate_keys="error"``).

Neither msgspec nor orjson reports a repeated key (RFC 8259 section 4 leaves them to the
parser): a decoded object keeps one member per distinct key. So the exact check is a second
parse with the standard library's scanner, whose ``object_pairs_hook`` sees every pair
(``refuse_duplicates``); it costs about 8x msgspec's typed decode. Three proofs in C code
spare most documents that scan; each answers "surely unique" or "look", never wrongly
"unique":

- the count proof of a type (``count_proof``) and, where it says "look", the key proof
  of the type (``key_proof``), both run once a document was decoded as that type
  (``typed_proof`` puts them in that order);
- the colon proof (``surely_unique``), for any document.

Both count the ``:`` of the document. Outside strings a JSON document has one ``:`` per
member of an object; a parse that keeps one member per distinct key, re-encoded by msgspec,
has one ``:`` per member left (msgspec writes ``"key":value``), plus those inside strings.
When the strings' ``:`` are the same on both sides, the counts are equal exactly when no
member was dropped, that is when no key was repeated.

The colon proof decodes the document generically (dicts) and re-encodes it: a string is
written as it was read unless it used a ``\\u`` escape (which could hide a ``:`` or spell a
key two ways), so documents with one go to the scanner.

The key proof decodes the document as a *key shape* of the type: each class becomes a
Struct of the same keys, every field absent by default (``UNSET``, never written) and
unknown keys refused, so that every member of every object is kept once per key. A
value that cannot hold an object (a string, a number, a list of them...) is kept as
``msgspec.Raw``, its text as it was sent, or as the ``int`` or ``bool`` it is (no ``:`` in
those). That such a value holds no object, with a repeated key in it, is what the typed
decode that succeeded just before proved; so the key proof runs only after it. Strings
kept raw keep their escapes, so the ``\\u`` rule applies only where the shape decodes
strings: a ``dict``'s keys, an ``Any`` value, a key with a ``:`` in it. Measured on the
20-field order of bench/web_typed_apps.py: 1.7 us, against 2.9 us for the colon proof
(which decodes and writes every value) and 5.6 us for the scanner.

The count proof writes nothing. A document the typed decode accepted has every required
key of each object it had to hold (the required keys of the top, of the objects in its
required fields, and so on down); the count shape of the type finds which optional keys
(and class tags) were sent, skipping every other value unread. Their sum ``L`` is a lower
bound on the distinct keys of the document's objects, which are at most its members,
which are at most its ``:``. So when the ``:`` are exactly ``L``, every member is a distinct
key: nothing was repeated. A ``:`` in a string, an unknown key or an object in an optional
field only makes the count larger than ``L`` ("look"); escapes need no rule (a key is
matched as msgspec decodes it, and an escaped ``:`` is not counted). It applies when
every required value either holds no object or is itself one of these classes (not a
list of them, a dict or ``Any``, whose keys it cannot know).
Measured on the 20-field order (one optional key): 0.9 us, against 1.8 us for the key
proof (timeit, min of 5); a type whose keys are all required needs no decode at all.
Where the optional keys are few and plain, a text search of the document finds them
instead of the count shape (``_searched``, which says why a name found before a ``:``
is a key): on that order the whole proof costs 7,530 instructions instead of 12,070
(callgrind).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import msgspec
import msgspec.inspect as mi
from msgspec.structs import astuple

from vivace.schema._errors import ErrorDetail, ValidationError
from vivace.schema._nodes import Node, class_info

__all__ = ["count_proof", "key_proof", "refuse_duplicates", "surely_unique", "typed_proof"]

Text = bytes | str

_ENCODER = msgspec.json.Encoder()


class _Duplicate(Exception):
    pass


def refuse_duplicates(text: Text) -> None:
    """Raise ``ValidationError`` (``duplicate_key``) if an object in ``text`` repeats a key.

    A document the scanner cannot read is left to the decoder, which reports it.
    """
    if surely_unique(text):
        return
    try:
        _PAIRS_DECODER.decode(text.decode("utf-8") if isinstance(text, bytes) else text)
    except _Duplicate as exc:
        raise ValidationError(
            [ErrorDetail((), "duplicate_key", f"Duplicate key {exc.args[0]!r} in an object")]
        ) from None
    except (ValueError, RecursionError):
        pass


def _has_unicode_escape(text: Text) -> bool:
    # A one-byte search first: a document seldom has a backslash (measured: 0.35 us less
    # on a 20-field object than searching for the two bytes). ``find``, not ``in``: for
    # bytes, ``in`` first tries the needle as an integer (75 ns against 180 ns).
    if isinstance(text, str):
        return text.find("\\") >= 0 and text.find("\\u") >= 0
    return text.find(b"\\") >= 0 and text.find(b"\\u") >= 0


def surely_unique(text: Text) -> bool:
    """The colon proof (see the module docstring): whether ``text`` provably repeats no
    key (True), or the scanner must look (False). Measured on a 20-field object: 2.9 us,
    against 5.6 us for the scanner."""
    if _has_unicode_escape(text):
        return False
    colons = text.count(":") if isinstance(text, str) else text.count(b":")
    if colons == 0:
        return True
    try:
        again = _ENCODER.encode(msgspec.json.decode(text))
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        return False  # the scanner and then the decoder report it
    return again.count(b":") == colons


def _pairs_hook(pairs: list[tuple[str, Any]]) -> None:
    # dict(pairs) is built in C: a shorter dict means a repeated key, found then in
    # Python. Measured on a 20-field object: 5.6 us per document, against 11.1 us for a
    # Python loop over a set per object. Returning None keeps no object alive.
    if len(pairs) > 1 and len(dict(pairs)) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Duplicate(key)
            seen.add(key)


_PAIRS_DECODER = json.JSONDecoder(object_pairs_hook=_pairs_hook)


# --- the key proof of a type ---------------------------------------------------------------

# Values of these kinds are never a JSON object nor hold one.
_FLAT = frozenset(
    {
        "none",
        "unset",
        "str",
        "float",
        "bytes",
        "decimal",
        "datetime",
        "date",
        "time",
        "timedelta",
        "uuid",
        "enum",
        "literal",
    }
)
# Kept as decoded: no ``:`` in their JSON, and no object made for a small int or a bool
# (measured on the 20-field order: 0.88 -> 0.72 us for the shape's decode, against Raw).
_AS_IS: dict[str, Any] = {"bool": bool, "int": int}
_SEQUENCES = frozenset({"list", "set", "frozenset", "vartuple"})


class _Shape:
    """Builds the key shape of a type; ``strings`` is set where it decodes strings."""

    def __init__(self) -> None:
        self.strings = False
        self.building: set[Any] = set()
        self.count = 0

    def flat(self, tp: Any) -> bool:
        return tp is msgspec.Raw or tp is bool or tp is int

    def of(self, node: Node) -> Any:
        kind = node.kind
        if kind in _FLAT:
            return msgspec.Raw
        as_is = _AS_IS.get(kind)
        if as_is is not None:
            return as_is
        if kind in _SEQUENCES:
            item = self.of(node.args[0])
            return msgspec.Raw if self.flat(item) else list[item]  # type: ignore[valid-type]
        if kind == "tuple":
            items = [self.of(a) for a in node.args]
            if all(self.flat(i) for i in items):
                return msgspec.Raw
            return self.generic()
        if kind == "dict":
            self.strings = True  # the keys are decoded and written again
            value = self.of(node.args[1])
            return dict[str, value]  # type: ignore[valid-type]
        if kind == "union":
            options = [self.of(a) for a in node.args if a.kind not in ("none", "unset")]
            if all(self.flat(o) for o in options):
                return msgspec.Raw
            if len(options) == 1:
                # msgspec takes a Struct, list or dict with None; null is written as null.
                return options[0] | None if node.nullable else options[0]
            return self.generic()
        if kind == "class":
            return self.of_class(node.py)
        return self.generic()

    def generic(self) -> Any:
        # Decoded as plain data: every object a dict, every string decoded.
        self.strings = True
        return Any

    def of_class(self, cls: Any) -> Any:
        config = getattr(cls, "__struct_config__", None)
        if cls in self.building or (config is not None and config.array_like):
            return self.generic()  # a recursive reference; an object read from an array
        info = class_info(cls)
        self.building.add(cls)
        try:
            shapes = [self.of(f.node) for f in info.fields]
        finally:
            self.building.discard(cls)
        keys = [f.key for f in info.fields]
        if info.tag_field is not None:
            shapes.append(msgspec.Raw)
            keys.append(info.tag_field)
        if any(":" in key for key in keys):
            self.strings = True  # a key written with a ``:`` could have been sent escaped
        self.count += 1
        return _keyed_struct(
            f"{getattr(cls, '__name__', 'Class')}Keys{self.count}",
            list(zip(keys, shapes, strict=True)),
            forbid_unknown_fields=True,
        )


def _keyed_struct(title: str, members: list[tuple[str, Any]], forbid_unknown_fields: bool) -> Any:
    """A Struct with a field per ``(key, type)`` of ``members``, read from that JSON key,
    absent by default (``UNSET``, never written)."""
    names = [f"f{n}" for n in range(len(members))]
    return msgspec.defstruct(
        title,
        [(name, tp, msgspec.UNSET) for name, (_, tp) in zip(names, members, strict=True)],
        rename={name: key for name, (key, _) in zip(names, members, strict=True)},
        forbid_unknown_fields=forbid_unknown_fields,
    )


def _always(text: Text, colons: int) -> bool:
    return True


Proof = Callable[[Text, int], bool]


def key_proof(node: Node) -> Proof | None:
    """The key proof for documents already decoded as ``node``'s type (see the module
    docstring), or None where it would be the colon proof again (an ``Any`` at the top,
    or a shape msgspec refuses). It is given the document and its number of ``:``."""
    shape = _Shape()
    try:
        tp = shape.of(node)
        decode = msgspec.json.Decoder(tp).decode
    except (TypeError, ValueError):
        return None
    if tp is Any:
        return None
    if shape.flat(tp):
        return _always  # no object in the document at all
    encode = _ENCODER.encode
    strings = shape.strings

    def proof(text: Text, colons: int) -> bool:
        if strings and _has_unicode_escape(text):
            return False
        try:
            again = encode(decode(text))
        except (msgspec.DecodeError, msgspec.ValidationError):
            return False  # an unknown key, or a value the shape reads otherwise
        return again.count(b":") == colons

    return proof


# --- the count proof of a type -------------------------------------------------------------

# msgspec's descriptions of the values that are never a JSON object nor hold one.
_FLAT_INFO = (
    mi.NoneType,
    mi.BoolType,
    mi.IntType,
    mi.FloatType,
    mi.StrType,
    mi.BytesType,
    mi.ByteArrayType,
    mi.MemoryViewType,
    mi.DateTimeType,
    mi.DateType,
    mi.TimeType,
    mi.TimeDeltaType,
    mi.UUIDType,
    mi.DecimalType,
    mi.EnumType,
    mi.LiteralType,
)


def _flat_info(info: mi.Type) -> bool:
    if isinstance(info, mi.Metadata):
        return _flat_info(info.type)
    if isinstance(info, _FLAT_INFO):
        return True
    if isinstance(info, mi.CollectionType):  # list, set, frozenset, tuple[X, ...]
        return _flat_info(info.item_type)
    if isinstance(info, mi.TupleType):
        return all(_flat_info(i) for i in info.item_types)
    if isinstance(info, mi.UnionType):
        return all(_flat_info(i) for i in info.types)
    return False


class _Uncountable(Exception):
    pass


Counter = Callable[[Any], int]
ObjectInfo = mi.StructType | mi.DataclassType | mi.TypedDictType


def _object_info(info: mi.Type) -> ObjectInfo | None:
    """``info`` if it decodes only from a JSON object (a class read from an array is not)."""
    if isinstance(info, mi.Metadata):
        return _object_info(info.type)
    if isinstance(info, mi.StructType) and not info.array_like:
        return info
    if isinstance(info, (mi.DataclassType, mi.TypedDictType)):
        return info
    return None


class _Plan:
    """For objects decoded as one class: ``static``, how many keys each surely has (its
    required keys, and those of the objects they surely hold); ``most``, how many it can
    have; the count ``shape`` that finds its optional keys (None: it has none) and
    ``present``, the function counting them in a decoded shape; ``required`` and
    ``optional``, the names of the keys counted in ``static`` and of those looked for."""

    __slots__ = ("most", "optional", "present", "required", "shape", "static")

    def __init__(
        self,
        static: int,
        most: int,
        shape: Any,
        present: Counter | None,
        required: frozenset[str],
        optional: frozenset[str],
    ) -> None:
        self.static = static
        self.most = most
        self.shape = shape
        self.present = present
        self.required = required
        self.optional = optional


def _count_plan(info: ObjectInfo, building: set[Any]) -> _Plan:
    if info.cls in building:
        raise _Uncountable  # a class that requires itself: no document has one
    building.add(info.cls)
    try:
        static = most = 0
        members: list[tuple[str, Any]] = []
        nested: list[tuple[int, Counter]] = []
        required: set[str] = set()
        optional: set[str] = set()
        for f in info.fields:
            if not f.required:
                members.append((f.encode_name, msgspec.Raw))  # present or not
                optional.add(f.encode_name)
                most += 1
                continue
            static += 1
            most += 1
            required.add(f.encode_name)
            if _flat_info(f.type):
                continue
            inner = _object_info(f.type)
            if inner is None:
                raise _Uncountable  # a required value that may hold objects of any keys
            plan = _count_plan(inner, building)
            static += plan.static
            most += plan.most
            required |= plan.required
            optional |= plan.optional
            if plan.present is not None:
                nested.append((len(members), plan.present))
                members.append((f.encode_name, plan.shape))
    finally:
        building.discard(info.cls)
    tag = getattr(info, "tag_field", None)
    if tag is not None:
        members.append((tag, msgspec.Raw))  # a class's tag may be sent or left out
        optional.add(tag)
        most += 1
    names = (frozenset(required), frozenset(optional))
    if not members:
        return _Plan(static, most, None, None, *names)
    shape = _keyed_struct(f"{info.cls.__name__}Count", members, forbid_unknown_fields=False)
    size = len(members) - len(nested)  # nested shapes are always there: counted apart
    unset = msgspec.UNSET
    if not nested:

        def present(value: Any) -> int:
            return size - astuple(value).count(unset)

    else:

        def present(value: Any) -> int:
            fields = astuple(value)
            n = size - fields.count(unset)
            for index, inner in nested:
                n += inner(fields[index])
            return n

    return _Plan(static, most, shape, present, *names)


# A search of the document per optional key costs about 5 instructions a byte when the key
# is absent, the count shape's decode about 15 (callgrind, the 20-field order of
# bench/web_typed_apps.py: 2,000 against 7,250 with its counting): searched up to this many.
_SEARCHED_KEYS = 3


def _searchable(plan: _Plan) -> bool:
    """Whether the type's optional keys (it has some) can be found by a text search
    (``_searched``): a few, none of them also a required key (which a found key could then
    be), each written in JSON as it is (a key that needs an escape is left to the shape)
    and starting with a character that cannot follow a string's closing quote (not JSON
    whitespace, ``,``, ``:``, ``}`` or ``]``)."""
    return (
        plan.present is not None  # else no key is optional: the count alone decides
        and len(plan.optional) <= _SEARCHED_KEYS
        and not plan.optional & plan.required
        and all(
            key and key[0] not in _AFTER_A_STRING and msgspec.json.encode(key)[1:-1] == key.encode()
            for key in plan.optional
        )
    )


# What may follow a string's closing quote in a JSON document (RFC 8259 section 2).
_AFTER_A_STRING = frozenset(" \t\r\n,:}]")


def _searched(plan: _Plan, keys: Proof | None) -> Callable[[Text], bool]:
    """The count proof with the optional keys found by a text search of the document
    instead of the count shape. A key is counted once when its quoted name is found
    right before a ``:`` and not right after a backslash. Then it is a key: a quote after
    no backslash is not escaped, so it opens or closes a string; it cannot close one, as
    the name's first character may not follow a closing quote in a valid document (which
    the typed decode proved it is); so it opens a string whose content is exactly the name
    (the name holds no quote or backslash), and a string followed by ``:`` is a key. Each
    name so found is a member of some object other than those counted in ``static`` (the
    name is no required key), and different names are different members: ``static`` plus
    the names found is still a lower bound of the document's distinct keys. A key sent
    escaped, or with a space before its ``:``, is not found: the bound is then too low,
    the count unequal, and the key proof decides.

    The whole typed proof for such a type, in one frame (``keys``, the key proof, where the
    count cannot tell): the frames of ``typed_proof`` and of a count proof cost ~2,000
    instructions a document (callgrind)."""
    static, most = plan.static, plan.most
    # Each needle is the quoted name and its ``:``.
    forms = (
        [b'"' + key.encode() + b'":' for key in plan.optional],
        b":",
        92,  # indexing bytes gives an int: a backslash's byte
    )
    str_forms = ([f'"{key}":' for key in plan.optional], ":", "\\")

    def proof(text: Text) -> bool:
        needles, colon, backslash = forms if isinstance(text, bytes) else str_forms
        colons = text.count(colon)  # type: ignore[arg-type]
        if colons == static:
            return True  # no optional key can have been sent (bound <= ... <= colons)
        if colons <= most:  # else a ``:`` in a string, or a repeated key
            found = static
            for needle in needles:
                at = text.find(needle)  # type: ignore[arg-type]
                if at > 0 and text[at - 1] != backslash:
                    found += 1
            if colons == found:
                return True
        return keys is not None and keys(text, colons)

    return proof


def _plan_of(fast: Any) -> _Plan | None:
    """The count plan of the msgspec type ``fast``, None where the count does not apply."""
    info = _object_info(mi.type_info(fast))
    if info is None:
        return None
    try:
        return _count_plan(info, set())
    except (_Uncountable, ValueError):
        # ValueError: a key msgspec cannot rename a shape's field to (a quote, a backslash
        # or a control character in a TypedDict's key); the key proof looks for it.
        return None


def count_proof(fast: Any) -> Proof | None:
    """The count proof for documents already decoded as the msgspec type ``fast`` (see
    the module docstring), or None where it does not apply: the top is not an object, or
    a required value may hold objects whose keys it does not know (a list of classes, a
    dict, ``Any``)."""
    plan = _plan_of(fast)
    if plan is None:
        return None
    if _searchable(plan):
        alone = _searched(plan, None)

        def searched(text: Text, colons: int) -> bool:
            return alone(text)

        return searched
    return _counted(plan)


def _counted(plan: _Plan) -> Proof:
    """The count proof of ``plan`` with its optional keys found by the count shape (or
    none to find)."""
    static, most, present = plan.static, plan.most, plan.present
    if present is None:

        def proof(text: Text, colons: int) -> bool:
            return colons == static

        return proof

    decode = msgspec.json.Decoder(plan.shape).decode

    def counted(text: Text, colons: int) -> bool:
        if colons == static:
            return True  # no optional key can have been sent (bound <= ... <= colons)
        if colons > most:
            return False  # more than all its keys: a ``:`` in a string, or a repeated key
        try:
            return colons == static + present(decode(text))
        except (msgspec.DecodeError, msgspec.ValidationError):
            return False  # not a document of the type: the key proof's work

    return counted


def typed_proof(node: Node, fast: Any) -> Callable[[Text], bool] | None:
    """The count proof, then the key proof, for documents already decoded as ``node``'s
    type (``fast`` in msgspec's dialect): True only when no object repeats a key."""
    keys = key_proof(node)
    plan = _plan_of(fast)  # built once, for whichever form of the count proof applies
    if plan is not None and _searchable(plan):
        return _searched(plan, keys)
    counted = _counted(plan) if plan is not None else None
    if counted is None and keys is None:
        return None

    def proof(text: Text) -> bool:
        colons = text.count(":") if isinstance(text, str) else text.count(b":")
        if counted is not None and counted(text, colons):
            return True
        return keys is not None and keys(text, colons)

    return proof
