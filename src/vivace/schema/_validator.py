"""``Validator``: a compiled validator for one type, and the fast/complete error strategy.

Strict validation first tries msgspec (``_bridge``): on good input that is the whole cost.
msgspec stops at the first error, so when it reports one the Python engine (``_engine``)
runs over the same input and collects every error, with the same rules. Lax mode,
before-validators and read-only fields always run in the Python engine.

Everything per type is built once, on first use, and kept on the ``Validator``.
"""

from __future__ import annotations

import functools
import re
import typing
from collections.abc import Callable
from typing import Any, Generic, Literal, TypeVar, overload

import msgspec

from vivace.schema._bridge import fast_type, leaf_type
from vivace.schema._dump import dump, dump_json, exact_encoder
from vivace.schema._duplicates import Text, refuse_duplicates, typed_proof
from vivace.schema._engine import BAD, JSON, LAX, PYTHON, Check, compile_node
from vivace.schema._errors import ErrorDetail, SchemaError, ValidationError
from vivace.schema._fields import UNSET
from vivace.schema._nodes import Node, class_info, class_name, node_for, real_class
from vivace.schema._validators import class_validators

__all__ = ["Validator", "validate", "validate_json", "validator_for"]

T = TypeVar("T")
Mode = Literal["strict", "lax"]
DupKeys = Literal["last", "error"]
JSONInput = bytes | bytearray | memoryview | str

_PATH_PART = re.compile(r"\.([^.\[]+)|\[(\d+)\]|\[\.\.\.\]")


def _ms_loc(message: str) -> tuple[tuple[str | int, ...], str]:
    """Split msgspec's ``"Expected `int` - at `$.items[3]`"`` into a location and a text."""
    text, sep, where = message.partition(" - at `")
    if not sep:
        return (), text
    where = where.rstrip("`")
    if where.startswith("key` in `"):
        where = where[len("key` in `") :]
    loc = tuple(
        m[1] if m[1] is not None else int(m[2]) if m[2] is not None else "..."
        for m in _PATH_PART.finditer(where.removeprefix("$"))
    )
    return loc, text


def _translated(exc: msgspec.ValidationError) -> list[ErrorDetail]:
    loc, text = _ms_loc(str(exc))
    return [ErrorDetail(loc, "invalid", text)]


def _too_deep() -> ValidationError:
    return ValidationError([ErrorDetail((), "too_deep", "Input is nested too deeply")])


class Validator(Generic[T]):
    """Validates, dumps and describes values of one type (a schema, ``list[int]``...).

    >>> from vivace.schema import Validator
    >>> ints = Validator(list[int])
    >>> ints.validate([1, 2])
    [1, 2]
    >>> ints.validate(["1", "2"], mode="lax")
    [1, 2]
    >>> ints.validate_json(b'[1, "x"]')
    Traceback (most recent call last):
    ...
    vivace.schema._errors.ValidationError: 1 validation error
      [1]: Expected `int`, got `str` [type]
    """

    __slots__ = (
        "_async",
        "_checks",
        "_compiled",
        "_decoder",
        "_fast",
        "_proof",
        "_title",
        "_unique",
        "node",
        "type",
    )

    _unique: Callable[[JSONInput], T]  # set by _compile

    def __init__(self, tp: Any) -> None:
        self.type = tp
        try:
            self.node = node_for(tp)
        except RecursionError:  # pragma: no cover - only absurd type expressions
            raise SchemaError(f"type {tp!r} is nested too deeply") from None
        self._compiled = False
        self._fast: Any = None
        self._decoder: msgspec.json.Decoder[Any] | None = None
        self._proof: Callable[[Text], bool] | None = None
        self._checks: dict[int, Check] = {}
        self._async: bool = False
        # Errors name a class they were about; a bare type expression goes unnamed.
        self._title = class_name(tp) if self.node.kind == "class" else None

    # --- compiling ------------------------------------------------------------------

    def _compile(self) -> None:
        self._fast = fast_type(self.node)
        if self._fast is not None:
            self._decoder = msgspec.json.Decoder(self._fast)
            self._proof = typed_proof(self.node, self._fast)
        self._async = _has_async(self.node, set())
        self._unique = self._unique_reader()
        self._compiled = True

    def _check(self, mode: int) -> Check:
        check = self._checks.get(mode)
        if check is None:
            check = compile_node(self.node, mode, leaf_type)
            self._checks[mode] = check
        return check

    def _run(self, data: Any, mode: int) -> Any:
        errs: list[ErrorDetail] = []
        try:
            out = self._check(mode)(data, (), errs)
        except RecursionError:
            raise _too_deep() from None
        if out is BAD:
            raise ValidationError(errs, title=self._title)
        return out

    def _guard_async(self) -> None:
        if self._async:
            raise SchemaError(f"{self._title or self.type!r} has async validators: use avalidate()")

    # --- validating ---------------------------------------------------------------

    def validate(self, data: Any, *, mode: Mode = "strict") -> T:
        """Validate Python data; ``mode="lax"`` also converts strings (queries, forms)."""
        if not self._compiled:
            self._compile()
        if self._async:
            self._guard_async()
        return self._validate(data, mode)

    def _validate(self, data: Any, mode: Mode) -> T:
        if mode == "lax":
            from vivace.schema._formdata import is_multidict, multidict_to_data

            if is_multidict(data):
                data = multidict_to_data(self.node, data)
            out: T = self._run(data, LAX)
            return out
        if mode != "strict":
            raise ValueError("mode must be 'strict' or 'lax'")
        fast = self._fast
        if fast is not None:
            try:
                out = typing.cast(T, msgspec.convert(data, fast, strict=True))
                return out
            except msgspec.ValidationError as exc:
                return typing.cast(T, self._again(data, PYTHON, exc))
            except RecursionError:
                raise _too_deep() from None
        out = self._run(data, PYTHON)
        return out

    def _again(self, data: Any, mode: int, exc: msgspec.ValidationError) -> Any:
        """msgspec refused: collect every error with the Python engine."""
        errs: list[ErrorDetail] = []
        try:
            out = self._check(mode)(data, (), errs)
        except RecursionError:
            raise _too_deep() from None
        if out is BAD:
            raise ValidationError(errs, title=self._title)
        # The engines disagree (a bug): msgspec's refusal stands.
        raise ValidationError(_translated(exc), title=self._title)

    def validate_json(
        self, data: bytes | bytearray | memoryview | str, *, duplicate_keys: DupKeys = "last"
    ) -> T:
        """Decode a JSON document and validate it, in one step (strict mode).

        ``duplicate_keys="error"`` refuses an object that repeats a key (code
        ``duplicate_key``); by default the last value wins, as in JavaScript.
        """
        if not self._compiled:
            self._compile()
        if self._async:
            self._guard_async()
        if duplicate_keys == "last":
            return self._validate_json(data)
        if duplicate_keys != "error":
            raise ValueError("duplicate_keys must be 'last' or 'error'")
        return self._unique(data)

    def _validate_json(self, data: bytes | bytearray | memoryview | str) -> T:
        decoder = self._decoder
        if decoder is not None:
            try:
                out: T = typing.cast(T, decoder.decode(data))
                return out
            except msgspec.ValidationError as exc:
                return typing.cast(T, self._again(_decode_any(data), JSON, exc))
            except msgspec.DecodeError as exc:
                raise _bad_json(exc) from None
            except RecursionError:
                raise _too_deep() from None
        out = self._run(_decode_any(data), JSON)
        return out

    def _unique_reader(self) -> Callable[[JSONInput], T]:
        """``_validate_json``, refusing a repeated key (``_duplicates``), as a function
        made once per type (``_compile``). The typed decode comes first: the type's key
        proof is exact only on a document it accepted. A document it refuses is checked
        for repeated keys before its errors are reported (the ``duplicate_key`` error
        wins, as it is the first thing wrong with it)."""
        decoder = self._decoder
        proof = self._proof
        again = self._validate_json

        def read_unique(data: JSONInput) -> T:
            text: Text = data if type(data) is bytes or isinstance(data, str) else bytes(data)
            if decoder is None or proof is None:
                refuse_duplicates(text)
                return again(text)
            try:
                out: T = decoder.decode(text)
            except (msgspec.ValidationError, msgspec.DecodeError, RecursionError):
                refuse_duplicates(text)
                return again(text)
            if not proof(text):
                refuse_duplicates(text)
            return out

        return read_unique

    def json_reader(self, *, duplicate_keys: DupKeys = "last") -> Callable[[JSONInput], T]:
        """``validate_json`` with its options applied once: a function of the document,
        for code that validates many documents of one type (vivace.web reads each typed
        JSON body this way). The same results and errors as ``validate_json``, one
        Python call less a document (timeit on the 20-field order of
        bench/web_typed_apps.py, ``duplicate_keys="error"``: 2.11 -> 1.94 us).

        >>> from vivace.schema import Schema
        >>> class Point(Schema):
        ...     x: int
        >>> read = Validator(Point).json_reader(duplicate_keys="error")
        >>> read(b'{"x": 1}')
        Point(x=1)
        >>> read(b'{"x": 1, "x": 2}')
        Traceback (most recent call last):
        ...
        vivace.schema._errors.ValidationError: 1 validation error
          (root): Duplicate key 'x' in an object [duplicate_key]
        """
        if duplicate_keys != "last" and duplicate_keys != "error":
            raise ValueError("duplicate_keys must be 'last' or 'error'")
        if not self._compiled:
            self._compile()
        if self._async:  # validate_json refuses each document: so does the reader
            return functools.partial(self.validate_json, duplicate_keys=duplicate_keys)
        return self._validate_json if duplicate_keys == "last" else self._unique

    async def avalidate(self, data: Any, *, mode: Mode = "strict") -> T:
        """``validate``, then the async validators of every object in the result."""
        if not self._compiled:
            self._compile()
        out = self._validate(data, mode)
        if self._async:
            await _run_async(self.node, out)
        return out

    async def avalidate_json(
        self, data: bytes | bytearray | memoryview | str, *, duplicate_keys: DupKeys = "last"
    ) -> T:
        if not self._compiled:
            self._compile()
        if duplicate_keys == "last":
            out = self._validate_json(data)
        elif duplicate_keys == "error":
            out = self._unique(data)
        else:
            raise ValueError("duplicate_keys must be 'last' or 'error'")
        if self._async:
            await _run_async(self.node, out)
        return out

    # --- output and description ---------------------------------------------------------

    def dump(self, value: T, **options: Any) -> Any:
        """``value`` as JSON-ready data; options as for ``Schema.dump``."""
        return dump(value, **options)

    def dump_json(self, value: T, **options: Any) -> bytes:
        return dump_json(value, **options)

    def exact_encoder(self) -> Callable[[T], bytes] | None:
        """A function writing a value of exactly this type (not a subclass) as
        ``dump_json`` with no options does, nothing decided per call, when msgspec writes
        the type directly (a schema of fields written as they are); else None.

        >>> from vivace.schema import Schema
        >>> class Point(Schema):
        ...     x: int
        >>> Validator(Point).exact_encoder()(Point(x=1))
        b'{"x":1}'
        """
        return exact_encoder(self.type)

    def json_schema(self, *, ref_template: str = "#/$defs/{name}") -> dict[str, Any]:
        from vivace.schema._jsonschema import json_schema

        return json_schema(self.type, ref_template=ref_template)

    @property
    def fast(self) -> bool:
        """Whether strict validation of this type runs on the msgspec fast path."""
        if not self._compiled:
            self._compile()
        return self._fast is not None


def _decode_any(data: bytes | bytearray | memoryview | str) -> Any:
    # The same parser as the fast path, so both engines see identical values.
    try:
        return msgspec.json.decode(data)
    except msgspec.DecodeError as exc:
        raise _bad_json(exc) from None
    except msgspec.ValidationError as exc:  # a number out of range
        raise ValidationError([ErrorDetail((), "invalid_json", str(exc))]) from None
    except RecursionError:
        raise _too_deep() from None


def _bad_json(exc: Exception) -> ValidationError:
    return ValidationError([ErrorDetail((), "invalid_json", f"Invalid JSON: {exc}")])


# --- async validators ---------------------------------------------------------------------


def _has_async(node: Node, seen: set[type]) -> bool:
    if node.kind == "class":
        cls = node.py
        if cls in seen:
            return False
        seen.add(cls)
        if class_validators(cls).any_async:
            return True
        return any(_has_async(f.node, seen) for f in class_info(cls).fields)
    return any(_has_async(a, seen) for a in node.args)


async def _run_async(node: Node, value: Any) -> None:
    errs: list[ErrorDetail] = []
    await _walk_async(node, value, (), errs)
    if errs:
        raise ValidationError(errs)


async def _walk_async(node: Node, value: Any, loc: tuple[str | int, ...], errs: list[Any]) -> None:
    from vivace.schema._engine import _validator_error

    kind = node.kind
    if value is None or value is UNSET:
        return
    if kind == "class":
        cls = node.py
        info = class_info(cls)
        vals = class_validators(cls)
        is_dict = info.kind == "typeddict"
        for f in info.fields:
            v = value.get(f.name, UNSET) if is_dict else getattr(value, f.name)
            if v is UNSET:
                continue
            sub = (*loc, f.key)
            for fn in vals.async_field.get(f.name, ()):
                try:
                    res = await fn(cls, v)
                except (ValueError, TypeError, AssertionError) as exc:
                    _validator_error(exc, sub, errs)
                    break
                if res is not None:
                    v = res
                    if is_dict:
                        value[f.name] = v
                    else:
                        msgspec.structs.force_setattr(value, f.name, v) if isinstance(
                            value, msgspec.Struct
                        ) else setattr(value, f.name, v)
            await _walk_async(f.node, v, sub, errs)
        for fn in vals.async_schema:
            try:
                await fn(value)
            except (ValueError, TypeError, AssertionError) as exc:
                _validator_error(exc, loc, errs)
        return
    if kind in ("list", "vartuple", "set", "frozenset"):
        for i, x in enumerate(value):
            await _walk_async(node.args[0], x, (*loc, i), errs)
    elif kind == "tuple":
        for i, (a, x) in enumerate(zip(node.args, value, strict=True)):
            await _walk_async(a, x, (*loc, i), errs)
    elif kind == "dict":
        for k, x in value.items():
            await _walk_async(node.args[1], x, (*loc, k), errs)
    elif kind == "union":
        for a in node.args:
            if a.kind == "class" and isinstance(value, real_class(a.py)):
                await _walk_async(a, value, loc, errs)
                return
        for a in node.args:
            if a.kind != "class" and _has_async(a, set()):
                await _walk_async(a, value, loc, errs)


# --- the module-level API -----------------------------------------------------------------

_VALIDATORS: dict[Any, Validator[Any]] = {}


def validator_for(tp: Any) -> Validator[Any]:
    """The shared, cached ``Validator`` of a type."""
    try:
        v = _VALIDATORS.get(tp)
    except TypeError:  # an unhashable type expression
        return Validator(tp)
    if v is None:
        v = _VALIDATORS[tp] = Validator(tp)
    return v


@overload
def validate(tp: type[T], data: Any, *, mode: Mode = "strict") -> T: ...
@overload
def validate(tp: Any, data: Any, *, mode: Mode = "strict") -> Any: ...
def validate(tp: Any, data: Any, *, mode: Mode = "strict") -> Any:
    """Validate ``data`` as ``tp`` (any supported type expression).

    >>> from vivace.schema import validate
    >>> validate(dict[str, int], {"a": "1"}, mode="lax")
    {'a': 1}
    """
    return validator_for(tp).validate(data, mode=mode)


@overload
def validate_json(tp: type[T], data: bytes | str, *, duplicate_keys: DupKeys = "last") -> T: ...
@overload
def validate_json(tp: Any, data: bytes | str, *, duplicate_keys: DupKeys = "last") -> Any: ...
def validate_json(tp: Any, data: bytes | str, *, duplicate_keys: DupKeys = "last") -> Any:
    """Decode and validate a JSON document as ``tp``."""
    return validator_for(tp).validate_json(data, duplicate_keys=duplicate_keys)
