"""The Python engine: a validator per (type, mode) that reports every error.

msgspec (the fast path, ``_bridge``) stops at the first error and knows nothing of lax
mode, before-validators or read-only fields. This engine does all of it: each node is
compiled once into a closure ``check(value, loc, errs) -> value | BAD`` that appends an
``ErrorDetail`` to ``errs`` for every problem and carries on with the next field or item.

Modes: ``JSON`` (what a JSON document holds), ``PYTHON`` (the same rules, plus the Python
objects msgspec's ``convert`` accepts: datetime, UUID, Decimal, bytes, tuples...) and
``LAX`` (PYTHON plus strings for everything: query strings, paths, headers, forms).
Strict rules are msgspec's, so the two engines agree (tests/schema/test_agreement.py);
where a leaf has many rules (RFC 3339 dates, ISO 8601 durations, base64, UUIDs, decimals)
this engine hands the leaf to msgspec itself, so the rule lives in one place.
"""

from __future__ import annotations

import decimal
import math
import re
import typing
from collections.abc import Callable
from typing import Any

import msgspec

from vivace.schema._errors import ErrorDetail, SchemaError, ValidationError
from vivace.schema._fields import UNSET, Constraints
from vivace.schema._nodes import STRING_KINDS, Node, class_info
from vivace.schema._types import Secret, Upload

__all__ = ["BAD", "JSON", "LAX", "PYTHON", "Check", "compile_node", "json_type_name"]

JSON, PYTHON, LAX = 0, 1, 2


class _Bad:
    __slots__ = ()

    def __repr__(self) -> str:
        return "BAD"


#: Returned by a check that appended errors.
BAD: Any = _Bad()
_MISSING: Any = object()

Loc = tuple[str | int, ...]
Errs = list[ErrorDetail]
Check = Callable[[Any, Loc, Errs], Any]

_JSON_NAMES = {
    str: "str",
    int: "int",
    float: "float",
    bool: "bool",
    type(None): "null",
    list: "array",
    dict: "object",
}


def json_type_name(value: Any) -> str:
    """The kind of a value in messages: JSON's names, else the Python type's name."""
    name = _JSON_NAMES.get(type(value))
    return name if name is not None else type(value).__name__


def _type_error(errs: Errs, loc: Loc, expected: str, value: Any) -> Any:
    errs.append(ErrorDetail(loc, "type", f"Expected `{expected}`, got `{json_type_name(value)}`"))
    return BAD


_HASHABLE_SCALARS = frozenset({str, int, bool, type(None)})
_LAX_TRUE = frozenset({"true", "1", "on", "yes"})
_LAX_FALSE = frozenset({"false", "0", "off", "no"})
_INT_TEXT = re.compile(r"[+-]?[0-9]+")
_FLOAT_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
# Python refuses int() of longer strings (sys.get_int_max_str_digits, CVE-2020-10735);
# msgspec's JSON decoder refuses them too, so the bound is the same everywhere.
_MAX_INT_DIGITS = 4300


# --- constraint checks --------------------------------------------------------------------


def _coefficient(v: decimal.Decimal) -> tuple[str, int]:
    """A finite decimal as ``(a, p)``, the digits of ``a`` and ``p``, with
    ``v == ±a * 10**p`` (its text has exactly the coefficient's digits; ``as_tuple()``
    would build a tuple of ints per digit)."""
    mantissa = str(v).upper().partition("E")[0]
    a = mantissa.lstrip("-").replace(".", "").lstrip("0") or "0"
    return a, v.adjusted() - len(a) + 1


def _mod_text(a: str, b: int) -> int:
    """The integer written by ``a`` modulo ``b``, read 4,000 digits at a time (a decimal
    may hold more digits than ``int()`` converts at once)."""
    r = 0
    for i in range(0, len(a), 4000):
        chunk = a[i : i + 4000]
        r = (r * pow(10, len(chunk), b) + int(chunk)) % b
    return r


def _decimal_multiple(v: decimal.Decimal, mul: decimal.Decimal) -> bool:
    """Whether ``v`` (finite: the bounds check refuses NaN first) is an exact multiple of
    ``mul`` (finite, > 0), in integers: with ``v = a * 10**p`` and ``mul = b * 10**q``, no
    division or rounding, in bounded time even for ``1e999999999``."""
    a, p = _coefficient(v)
    digits, q = _coefficient(mul)
    b = int(digits)
    if p >= q:  # b divides a * 10**(p - q)
        return _mod_text(a, b) * pow(10, p - q, b) % b == 0
    k = q - p  # b * 10**k divides a: a ends in k zeros, and b divides what is before
    if k >= len(a):
        return a == "0"
    return not a[-k:].strip("0") and _mod_text(a[:-k], b) == 0


def inexact_multiple(mul: Any) -> bool:
    """Whether ``multiple_of=mul`` is a decimal, or a float such as 0.1 or 0.01, which no
    binary float holds exactly (``fmod(19.99, 0.01)`` is not 0). Such a step is checked in
    decimal, on the shortest text of the value (what JSON carries), not by ``fmod``
    (msgspec's rule, which refuses 0.3 as a multiple of 0.1)."""
    if type(mul) is not float:
        return isinstance(mul, decimal.Decimal)
    return decimal.Decimal(mul) != decimal.Decimal(repr(mul))  # 0.5 is exact, 0.1 is not


def _multiple_test(mul: Any) -> Callable[[Any], bool]:
    """Whether a number is a multiple of ``mul``: integers by remainder, floats by fmod
    (msgspec's rule, exact for a whole step), decimals and decimal steps exactly."""
    decimal_rule = inexact_multiple(mul)
    exact = mul if isinstance(mul, decimal.Decimal) else decimal.Decimal(repr(mul))
    fmod = math.fmod

    def test(v: Any) -> bool:
        if isinstance(v, decimal.Decimal):
            return _decimal_multiple(v, exact)
        if decimal_rule:
            if type(v) is float and not math.isfinite(v):
                return False
            return _decimal_multiple(decimal.Decimal(repr(v)), exact)
        if type(v) is int and type(mul) is int:
            return v % mul == 0
        return fmod(v, mul) == 0

    return test


def _num_checks(c: Constraints) -> Callable[[Any, Loc, Errs], bool]:
    """A function that appends an error per failed bound and says whether all passed."""
    gt, ge, lt, le, mul = c.gt, c.ge, c.lt, c.le, c.multiple_of
    multiple = _multiple_test(mul) if mul is not None else None
    Decimal = decimal.Decimal

    def check(v: Any, loc: Loc, errs: Errs) -> bool:
        if type(v) is Decimal and not v.is_finite():
            # NaN has no order (comparing it raises InvalidOperation), and neither it nor
            # an infinity is within any bound or a multiple of anything.
            errs.append(ErrorDetail(loc, "finite", "Must be a finite number"))
            return False
        ok = True
        if gt is not None and not v > gt:
            errs.append(ErrorDetail(loc, "gt", f"Must be greater than {gt}"))
            ok = False
        if ge is not None and not v >= ge:
            errs.append(ErrorDetail(loc, "ge", f"Must be greater than or equal to {ge}"))
            ok = False
        if lt is not None and not v < lt:
            errs.append(ErrorDetail(loc, "lt", f"Must be less than {lt}"))
            ok = False
        if le is not None and not v <= le:
            errs.append(ErrorDetail(loc, "le", f"Must be less than or equal to {le}"))
            ok = False
        if multiple is not None and not multiple(v):
            errs.append(ErrorDetail(loc, "multiple_of", f"Must be a multiple of {mul}"))
            ok = False
        return ok

    return check


_FORMAT_MESSAGES = {"email": "Must be a valid email address", "uri": "Must be a valid URL"}


def _count(n: int, unit: str) -> str:
    """``1 item``, ``2 items`` (``unit`` is the plural)."""
    return f"1 {unit[:-1]}" if n == 1 else f"{n} {unit}"


def _len_checks(c: Constraints, unit: str) -> Callable[[Any, Loc, Errs], bool]:
    lo, hi, regex, fmt, pattern = c.min_length, c.max_length, c.regex, c.format, c.pattern

    def check(v: Any, loc: Loc, errs: Errs) -> bool:
        ok = True
        n = len(v)
        if lo is not None and n < lo:
            errs.append(ErrorDetail(loc, "min_length", f"Must have at least {_count(lo, unit)}"))
            ok = False
        if hi is not None and n > hi:
            errs.append(ErrorDetail(loc, "max_length", f"Must have at most {_count(hi, unit)}"))
            ok = False
        if regex is not None and ok:
            text = v.get_secret_value() if isinstance(v, Secret) else v
            if regex.search(text) is None:
                if fmt in _FORMAT_MESSAGES:
                    errs.append(ErrorDetail(loc, fmt, _FORMAT_MESSAGES[fmt]))
                else:
                    errs.append(ErrorDetail(loc, "pattern", f"Must match {pattern!r}"))
                ok = False
        return ok

    return check


# --- compiling nodes ----------------------------------------------------------------------


class Compiler:
    """Compiles nodes for one mode; classes are compiled once (recursion through a cell)."""

    def __init__(self, mode: int, ms_type: Callable[[Node], Any]) -> None:
        self.mode = mode
        self.ms_type = ms_type
        self.classes: dict[type, Check] = {}

    def node(self, node: Node) -> Check:
        builder = getattr(self, "_" + node.kind)
        check: Check = builder(node)
        return check

    # leaves

    def _any(self, node: Node) -> Check:
        def check(v: Any, loc: Loc, errs: Errs) -> Any:
            return v

        return check

    def _none(self, node: Node) -> Check:
        lax = self.mode == LAX

        def check(v: Any, loc: Loc, errs: Errs) -> Any:
            if v is None:
                return None
            if lax and v == "":
                return None
            return _type_error(errs, loc, "null", v)

        return check

    def _unset(self, node: Node) -> Check:
        def check(v: Any, loc: Loc, errs: Errs) -> Any:
            if v is UNSET:
                return v
            return _type_error(errs, loc, "unset", v)

        return check

    def _bool(self, node: Node) -> Check:
        lax = self.mode == LAX

        def check(v: Any, loc: Loc, errs: Errs) -> Any:
            if v is True or v is False:
                return v
            if lax and type(v) is str:
                low = v.lower()
                if low in _LAX_TRUE:
                    return True
                if low in _LAX_FALSE:
                    return False
                errs.append(ErrorDetail(loc, "invalid", "Invalid boolean"))
                return BAD
            return _type_error(errs, loc, "bool", v)

        return check

    def _int(self, node: Node) -> Check:
        lax = self.mode == LAX
        bounds = _num_checks(node.c) if node.c else None

        def check(v: Any, loc: Loc, errs: Errs) -> Any:
            t = type(v)
            if t is not int:
                if lax and t is str:
                    if len(v) > _MAX_INT_DIGITS + 1 or not _INT_TEXT.fullmatch(v):
                        errs.append(ErrorDetail(loc, "invalid", "Invalid integer"))
                        return BAD
                    v = int(v)
                elif isinstance(v, int) and t is not bool:
                    v = int(v)  # an IntEnum member or an int subclass, as msgspec does
                else:
                    return _type_error(errs, loc, "int", v)
            if bounds is not None and not bounds(v, loc, errs):
                return BAD
            return v

        return check

    def _float(self, node: Node) -> Check:
        lax = self.mode == LAX
        bounds = _num_checks(node.c) if node.c else None

        def check(v: Any, loc: Loc, errs: Errs) -> Any:
            t = type(v)
            if t is not float:
                if t is int:
                    try:
                        v = float(v)
                    except OverflowError:
                        errs.append(ErrorDetail(loc, "invalid", "Number out of range"))
                        return BAD
                elif lax and t is str:
                    f = float(v) if _FLOAT_TEXT.fullmatch(v) else math.nan
                    if not math.isfinite(f):
                        errs.append(ErrorDetail(loc, "invalid", "Invalid number"))
                        return BAD
                    v = f
                elif isinstance(v, int) and t is not bool:
                    try:
                        v = float(v)  # an int subclass (IntEnum), as msgspec does
                    except OverflowError:
                        errs.append(ErrorDetail(loc, "invalid", "Number out of range"))
                        return BAD
                else:
                    return _type_error(errs, loc, "float", v)
            if bounds is not None and not bounds(v, loc, errs):
                return BAD
            return v

        return check

    def _str(self, node: Node) -> Check:
        lens = _len_checks(node.c, "characters") if node.c else None

        def check(v: Any, loc: Loc, errs: Errs) -> Any:
            if type(v) is not str and not isinstance(v, str):
                # A str subclass (a str-valued enum member) passes as it is, as in msgspec.
                return _type_error(errs, loc, "str", v)
            if lens is not None and not lens(v, loc, errs):
                return BAD
            return v

        return check

    def _secret(self, node: Node) -> Check:
        lens = _len_checks(node.c, "characters") if node.c else None
        python = self.mode != JSON

        def check(v: Any, loc: Loc, errs: Errs) -> Any:
            if type(v) is str:
                v = Secret(v)
            elif not (python and isinstance(v, Secret)):
                return _type_error(errs, loc, "str", v)
            if lens is not None and not lens(v, loc, errs):
                return BAD
            return v

        return check

    def _upload(self, node: Node) -> Check:
        def check(v: Any, loc: Loc, errs: Errs) -> Any:
            if isinstance(v, Upload):
                return v
            return _type_error(errs, loc, "file", v)

        return check

    def _delegated(self, node: Node) -> Check:
        """bytes, decimal, datetime, date, time, timedelta, uuid: msgspec converts."""
        target = self.ms_type(node)
        name = node.kind
        json = self.mode == JSON
        bounds = _num_checks(node.c) if node.kind == "decimal" and node.c else None
        lens = _len_checks(node.c, "bytes") if node.kind == "bytes" and node.c else None
        convert = msgspec.convert
        from_json = msgspec.json.decode
        encode = msgspec.json.encode

        def check(v: Any, loc: Loc, errs: Errs) -> Any:
            try:
                if json and type(v) is not str:
                    # A JSON number for a decimal: msgspec's JSON rule, not convert's.
                    out = from_json(encode(v), type=target)
                else:
                    out = convert(v, target, strict=True)
            except msgspec.ValidationError as exc:
                msg = str(exc).split(" - at `", 1)[0]
                code = "type" if msg.startswith("Expected `") and ", got `" in msg else "invalid"
                if "timezone" in msg:
                    code = "tz"
                errs.append(ErrorDetail(loc, code, msg))
                return BAD
            except (TypeError, msgspec.EncodeError):
                return _type_error(errs, loc, name, v)
            if bounds is not None and not bounds(out, loc, errs):
                return BAD
            if lens is not None and not lens(out, loc, errs):
                return BAD
            return out

        return check

    _bytes = _decimal = _datetime = _date = _time = _timedelta = _uuid = _delegated

    def _enum(self, node: Node) -> Check:
        cls = node.py
        members = {m.value: m for m in cls}
        lax = self.mode == LAX
        int_values = all(type(v) is int for v in members)
        allowed = ", ".join(repr(v) for v in members)
        python = self.mode != JSON
        value_types = {type(v) for v in members}

        def check(v: Any, loc: Loc, errs: Errs) -> Any:
            if python and type(v) is cls:
                return v
            if lax and int_values and type(v) is str and _INT_TEXT.fullmatch(v) and len(v) < 30:
                v = int(v)
            if type(v) in value_types:
                m = members.get(v)
                if m is not None:
                    return m
                errs.append(ErrorDetail(loc, "enum", f"Must be one of {allowed}"))
                return BAD
            return _type_error(errs, loc, "int" if int_values else "str", v)

        return check

    def _literal(self, node: Node) -> Check:
        values = node.values
        allowed = ", ".join(repr(v) for v in values)
        lax = self.mode == LAX
        has_int = any(type(v) is int for v in values)
        has_bool = any(type(v) is bool for v in values)
        # Keyed by (type, value) so 1 and True stay apart, as JSON keeps them.
        table = {(type(v), v): v for v in values}

        def check(v: Any, loc: Loc, errs: Errs) -> Any:
            t = type(v)
            hit = table.get((t, v), _MISSING) if t in _HASHABLE_SCALARS else _MISSING
            if hit is not _MISSING:
                return hit
            if lax and type(v) is str:
                if has_int and _INT_TEXT.fullmatch(v) and len(v) < 30:
                    hit = table.get((int, int(v)), _MISSING)
                elif has_bool and v.lower() in _LAX_TRUE | _LAX_FALSE:
                    hit = table.get((bool, v.lower() in _LAX_TRUE), _MISSING)
                if hit is not _MISSING:
                    return hit
            errs.append(ErrorDetail(loc, "literal", f"Must be one of {allowed}"))
            return BAD

        return check

    # containers

    def _sequence(self, node: Node, out_type: type) -> Check:
        item = self.node(node.args[0])
        lens = _len_checks(node.c, "items") if node.c else None
        python = self.mode != JSON
        lax = self.mode == LAX
        accepted: tuple[type, ...] = (list, tuple, set, frozenset) if python else (list,)

        def check(v: Any, loc: Loc, errs: Errs) -> Any:
            if not isinstance(v, accepted):
                if lax and type(v) is str:
                    v = [v]  # one query parameter for a list-typed one
                else:
                    return _type_error(errs, loc, "array", v)
            if lens is not None and not lens(v, loc, errs):
                return BAD
            n = len(errs)
            out = [item(x, (*loc, i), errs) for i, x in enumerate(v)]
            if len(errs) > n:
                return BAD
            if out_type is list:
                return out
            try:
                return out_type(out)
            except TypeError:
                errs.append(ErrorDetail(loc, "type", "Items must be hashable"))
                return BAD

        return check

    def _list(self, node: Node) -> Check:
        return self._sequence(node, list)

    def _set(self, node: Node) -> Check:
        return self._sequence(node, set)

    def _frozenset(self, node: Node) -> Check:
        return self._sequence(node, frozenset)

    def _vartuple(self, node: Node) -> Check:
        return self._sequence(node, tuple)

    def _tuple(self, node: Node) -> Check:
        items = [self.node(a) for a in node.args]
        n_items = len(items)
        accepted: tuple[type, ...] = (list, tuple) if self.mode != JSON else (list,)

        def check(v: Any, loc: Loc, errs: Errs) -> Any:
            if not isinstance(v, accepted):
                return _type_error(errs, loc, "array", v)
            v = typing.cast(list[Any], v)
            if len(v) != n_items:
                errs.append(ErrorDetail(loc, "length", f"Expected an array of length {n_items}"))
                return BAD
            n = len(errs)
            pairs = enumerate(zip(items, v, strict=True))
            out = tuple(c(x, (*loc, i), errs) for i, (c, x) in pairs)
            return BAD if len(errs) > n else out

        return check

    def _dict(self, node: Node) -> Check:
        key_node, value_node = node.args
        if self.mode == JSON and key_node.without_none().kind in ("int", "enum", "literal"):
            key = self._json_key(key_node)
        else:
            key = self.node(key_node)
        value = self.node(value_node)
        lens = _len_checks(node.c, "items") if node.c else None

        def check(v: Any, loc: Loc, errs: Errs) -> Any:
            if type(v) is not dict and not isinstance(v, dict):
                return _type_error(errs, loc, "object", v)
            if lens is not None and not lens(v, loc, errs):
                return BAD
            n = len(errs)
            out = {}
            for k, x in v.items():
                sub = (*loc, k)
                ck = key(k, sub, errs)
                out[ck] = value(x, sub, errs)
            return BAD if len(errs) > n else out

        return check

    def _json_key(self, key_node: Node) -> Check:
        # JSON object keys are strings; msgspec reads int-like keys as ints.
        inner = Compiler(LAX, self.ms_type).node(key_node)

        def check(v: Any, loc: Loc, errs: Errs) -> Any:
            if type(v) is str and not _INT_TEXT.fullmatch(v.lstrip("-") or "x"):
                return _type_error(errs, loc, "int", v)
            if type(v) is str and v.startswith("+"):
                return _type_error(errs, loc, "int", v)
            return inner(v, loc, errs)

        return check

    def _union(self, node: Node) -> Check:
        return _UnionBuilder(self, node).build()

    def _class(self, node: Node) -> Check:
        cls = node.py
        done = self.classes.get(cls)
        if done is not None:
            return done
        cell: list[Check] = []

        def forward(v: Any, loc: Loc, errs: Errs) -> Any:
            return cell[0](v, loc, errs)

        self.classes[cls] = forward
        from vivace.schema._codegen import class_check

        real = class_check(self, class_info(cls))
        cell.append(real)
        self.classes[cls] = real
        return real


def _natural_kinds(value: Any) -> tuple[str, ...]:
    """The node kinds a value of this Python type maps to without conversion, best first."""
    t = type(value)
    if t is bool:
        return ("bool", "literal")
    if t is int:
        return ("int", "literal", "enum", "float", "decimal")
    if t is float:
        return ("float", "decimal")
    if t is str:
        return (
            "str",
            "literal",
            "enum",
            "secret",
            "datetime",
            "date",
            "time",
            "timedelta",
            "uuid",
            "decimal",
            "bytes",
        )
    if t is list or t is tuple:
        return ("list", "tuple", "vartuple", "set", "frozenset")
    if t is dict:
        return ("class", "dict")
    if value is None:
        return ("none",)
    return ()


def _literal_misses(trial: Errs, depth: int, keys: dict[str, str]) -> set[str | int]:
    """The fields among ``keys`` (the Literal fields every member of a union has) that
    ``trial``'s errors say hold no value of their ``Literal``, on the object checked."""
    return {
        d.loc[-1]
        for d in trial
        if d.code == "literal" and len(d.loc) == depth and d.loc[-1] in keys
    }


class _UnionBuilder:
    def __init__(self, compiler: Compiler, node: Node) -> None:
        self.compiler = compiler
        self.node = node

    def build(self) -> Check:
        compiler, node = self.compiler, self.node
        options = [(a, compiler.node(a)) for a in node.args]
        expected = node.describe()
        lax = compiler.mode == LAX
        nullable = any(a.kind == "none" for a in node.args)
        takes_text = any(a.kind in STRING_KINDS or a.kind == "literal" for a in node.args)
        tagged = self._tag_table()
        literal_keys = self._literal_keys()
        # Optional[X] (and X | UnsetType): a wrong value gets X's own errors.
        solid = [(a, c) for a, c in options if a.kind not in ("none", "unset")]
        only = solid[0][1] if len(solid) == 1 else None

        def check(v: Any, loc: Loc, errs: Errs) -> Any:
            if v is None and nullable:
                return None
            if lax and v == "" and nullable and not takes_text:
                return None
            if tagged is not None and type(v) is dict:
                return tagged(v, loc, errs)
            if only is not None:
                return only(v, loc, errs)
            kinds = _natural_kinds(v)
            first = [(a, c) for k in kinds for a, c in options if a.kind == k]
            rest = [(a, c) for a, c in options if (a, c) not in first]
            fits: list[Errs] = []
            for a, c in first + rest:
                trial: Errs = []
                out = c(v, loc, trial)
                if out is not BAD:
                    return out
                if a.kind in kinds:
                    fits.append(trial)
            if len(fits) > 1 and literal_keys:
                # Schemas told apart by a Literal field (pydantic's discriminated unions):
                # the members whose Literal fields all matched are the ones meant; when
                # none did, the field they all miss is what is wrong.
                misses = [_literal_misses(t, len(loc) + 1, literal_keys) for t in fits]
                meant = [t for t, missed in zip(fits, misses, strict=True) if not missed]
                if not meant:
                    for key, allowed in literal_keys.items():
                        if all(key in missed for missed in misses):
                            errs.append(
                                ErrorDetail((*loc, key), "literal", f"Must be one of {allowed}")
                            )
                            return BAD
                fits = meant or fits
            if len(fits) == 1:
                # One member has the value's JSON type (or its tag): its errors say the most.
                errs.extend(fits[0])
                return BAD
            errs.append(
                ErrorDetail(loc, "union", f"Expected `{expected}`, got `{json_type_name(v)}`")
            )
            return BAD

        return check

    def _literal_keys(self) -> dict[str, str]:
        """The keys every schema member has as a ``Literal`` field, with the values the
        members allow together (as an error message lists them)."""
        classes = [a.py for a in self.node.args if a.kind == "class"]
        if len(classes) < 2:
            return {}
        per = [
            {f.key: f.node.values for f in class_info(c).fields if f.node.kind == "literal"}
            for c in classes
        ]
        common = [k for k in per[0] if all(k in p for p in per[1:])]
        return {
            k: ", ".join(repr(v) for v in dict.fromkeys(v for p in per for v in p[k]))
            for k in common
        }

    def _tag_table(self) -> Callable[[dict[str, Any], Loc, Errs], Any] | None:
        classes = [a.py for a in self.node.args if a.kind == "class"]
        if len(classes) < 2:
            return None
        infos = [class_info(c) for c in classes]
        fields = {i.tag_field for i in infos}
        if None in fields or len(fields) != 1:
            return None
        tag_field = fields.pop()
        assert tag_field is not None
        table = {i.tag: self.compiler.node(Node("class", py=i.tp)) for i in infos}
        allowed = ", ".join(repr(t) for t in table)

        def dispatch(v: dict[str, Any], loc: Loc, errs: Errs) -> Any:
            tag = v.get(tag_field, _MISSING)
            if tag is _MISSING:
                errs.append(ErrorDetail((*loc, tag_field), "missing", "Field required"))
                return BAD
            target = table.get(tag) if type(tag) in (str, int) else None
            if target is None:
                errs.append(
                    ErrorDetail((*loc, tag_field), "tag", f"Invalid tag {tag!r}: must be {allowed}")
                )
                return BAD
            return target(v, loc, errs)

        return dispatch


def _validator_error(exc: BaseException, loc: Loc, errs: Errs) -> None:
    if isinstance(exc, ValidationError):
        errs.extend(ErrorDetail(loc + d.loc, d.code, d.msg) for d in exc.details)
        return
    msg = str(exc) or type(exc).__name__
    if isinstance(exc, AssertionError):
        msg = msg.split("\n", 1)[0]  # an assert's message, without pytest's explanation
    errs.append(ErrorDetail(loc, "value_error", msg))


def _run_field_validators(fns: tuple[Any, ...], cls: type, value: Any, loc: Loc, errs: Errs) -> Any:
    for fn in fns:
        try:
            value = fn(cls, value)
        except (ValueError, TypeError, AssertionError) as exc:
            _validator_error(exc, loc, errs)
            return BAD
    return value


def compile_node(node: Node, mode: int, ms_type: Callable[[Node], Any]) -> Check:
    """The checker for ``node`` in ``mode`` (JSON, PYTHON or LAX)."""
    try:
        return Compiler(mode, ms_type).node(node)
    except SchemaError:
        raise
    except (TypeError, ValueError, re.error) as exc:  # pragma: no cover - defensive
        raise SchemaError(str(exc)) from exc
