"""Typed handlers: inputs read from the signature, validated, and the result serialised.

Theory of operation. When a route is built, ``analyse`` reads the handler's signature once
(and, recursively, its dependencies' signatures) and decides where every parameter comes
from (see ``_params``). The single path, query, header and cookie parameters become one
vivace.schema ``Schema`` built for the route and are read and validated in one pass, in
lax mode (text from the wire: ``_scalars``); a group (a schema read from a whole source)
and a form are validated through vivace.schema, one call each; the JSON body is validated
strictly, repeated keys refused. Every source is validated before anything runs and all
their errors are reported together, as one ``RequestValidationError`` (a 422) whose
locations start with the source: ``("query", "limit")``, ``("body", "items", 0)``.

Then dependencies run, each once per request (unless ``use_cache=False``), the route's
``dependencies=`` first, then in the order the signatures name them; a generator
dependency's code after ``yield`` runs once the response is sent
(``Request.add_cleanup``), or, when a later dependency or the handler fails, the
exception is raised at its ``yield`` first (``_dependencies``: FastAPI's rule since
0.106, so a dependency can roll back). ``dependency_overrides`` (on the app) swap a
dependency for another callable, for tests: the handler is analysed again with them in
place (``with_overrides``), so only the inputs of what runs are read. The handler is
called with keyword arguments, and what it returns is serialised by its declared output
type (the return annotation or ``response_model``) to JSON: only the fields of that type
are written, so an ORM model or a richer object never leaks what the output schema lacks.

Nothing here inspects a signature per request: a request costs the source validations,
the dependency calls and the handler call.
"""

from __future__ import annotations

import dataclasses
import datetime
import inspect
import types
import typing
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Annotated, Any

from vivace.http import Headers, MultiDict
from vivace.schema import (
    Field,
    Schema,
    SchemaError,
    Upload,
    ValidationError,
    Validator,
    create_schema,
    dump_json,
    partial,
    validate,
    validate_form,
)
from vivace.types import Scope
from vivace.web._background import BackgroundTasks
from vivace.web._config import CONFIG_KEY, DEFAULT_CONFIG, WebConfig
from vivace.web._converters import (
    DateConverter,
    FloatConverter,
    IntegerConverter,
    UUIDConverter,
)
from vivace.web._datastructures import UploadFile
from vivace.web._dependencies import (
    TASKS_KEY,
    Exit,
    Solving,
    call_kwargs,
    describe,
    flat_arguments,
    unwind,
)
from vivace.web._exceptions import RequestValidationError, UnsupportedMediaType
from vivace.web._handlers import problem_response, to_response
from vivace.web._params import (
    MARKERS,
    REQUIRED,
    Body,
    Depends,
    File,
    Header,
    Param,
    output_type,
    strip_optional,
)
from vivace.web._request import HTTPConnection, Request
from vivace.web._responses import (
    JSONResponse,
    Response,
    _no_body_status,
    content_type_header,
    length_header,
)
from vivace.web._scalars import Scalars

__all__ = ["Input", "Output", "Plan", "TypedHandler", "is_file_bytes"]

SOURCES = ("path", "query", "header", "cookie")


# -- analysis ------------------------------------------------------------------------


@dataclasses.dataclass(eq=False)
class Input:
    """One value read from the request (shared by every parameter naming it)."""

    source: str  # path | query | header | cookie | body | form
    key: str  # its name on the wire
    annotation: Any
    default: Any  # REQUIRED: required
    marker: Param | None
    group: bool = False  # a schema read from the whole source
    index: int = 0


@dataclasses.dataclass(eq=False)
class Plan:
    """How to call one callable (the handler or a dependency): each parameter's kind."""

    func: Callable[..., Any]
    #: (parameter name, kind, ref): kind "input" (ref: Input), "connection",
    #: "dependency" (ref: Dependency), "background" (the request's BackgroundTasks).
    args: list[tuple[str, str, Any]]
    is_async: bool
    is_generator: bool
    #: Dependencies run first, their values not passed (a route's ``dependencies=``).
    before: list[Dependency] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(eq=False)
class Dependency:
    func: Callable[..., Any]
    use_cache: bool
    plan: Plan


def _is_class_like(tp: Any) -> bool:
    tp = typing.get_origin(tp) or tp  # a generic class given its parameters: ``Box[Item]``
    if not isinstance(tp, type):
        return False
    if issubclass(tp, Schema) or dataclasses.is_dataclass(tp):
        return True
    return typing.is_typeddict(tp) or hasattr(tp, "__struct_fields__")


def _is_object(tp: Any) -> bool:
    """Whether ``tp`` is read from a JSON object (a schema, dataclass, TypedDict, dict)."""
    tp = strip_optional(tp)
    return _is_class_like(tp) or tp is dict or typing.get_origin(tp) in (dict, Mapping)


def _is_upload(tp: Any) -> bool:
    tp = strip_optional(tp)
    if tp is UploadFile or tp is Upload:
        return True
    origin = typing.get_origin(tp)
    return origin in (list, Sequence) and any(_is_upload(a) for a in typing.get_args(tp))


_CONNECTIONS = (HTTPConnection,)


def _is_connection(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, _CONNECTIONS)


def _split(annotation: Any, default: Any) -> tuple[Any, Param | Depends | None, Any]:
    """(type, marker, default) from ``Annotated[T, marker]`` and/or a marker default."""
    marker: Param | Depends | None = None
    if typing.get_origin(annotation) is Annotated:
        base, *extras = typing.get_args(annotation)
        for extra in extras:
            if isinstance(extra, MARKERS):
                marker = extra
        if marker is not None:
            annotation = base
    if isinstance(default, MARKERS):
        marker = default
        default = default.default if isinstance(default, Param) else REQUIRED
    elif isinstance(marker, Param) and default is REQUIRED:
        default = marker.default
    return annotation, marker, default


class _Analysis:
    """Shared state while analysing a handler and its dependencies."""

    def __init__(
        self,
        owner: Any,
        path_names: Sequence[str],
        connection: type,
        websocket: bool,
        overrides: Mapping[Any, Callable[..., Any]] | None = None,
    ) -> None:
        self.owner = owner
        self.path_names = set(path_names)
        # ``path_names`` may map each name to its converter (a route's): then a type
        # its converter's values cannot pass is refused (``check_converter``).
        self.converters: Mapping[str, Any] = path_names if isinstance(path_names, Mapping) else {}
        self.connection = connection
        self.websocket = websocket
        self.overrides = overrides or {}
        self.inputs: dict[tuple[str, str], Input] = {}
        self.dependencies: dict[Any, Dependency] = {}
        self.security: list[tuple[str, dict[str, Any], list[str]]] = []
        self.background = False  # a parameter asks for the request's BackgroundTasks

    def fail(self, func: Any, name: str, why: str) -> typing.NoReturn:
        raise TypeError(
            f"handler {describe(self.owner)}: parameter {name!r} of {describe(func)} {why}"
        )

    def plan(self, func: Callable[..., Any], skip: int = 0) -> Plan:
        try:
            signature = inspect.signature(func, eval_str=True)
        except NameError as exc:
            raise TypeError(
                f"handler {describe(self.owner)}: cannot resolve the annotations of "
                f"{describe(func)}: {exc}"
            ) from None
        args: list[tuple[str, str, Any]] = []
        for param in list(signature.parameters.values())[skip:]:
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                continue
            if param.kind is param.POSITIONAL_ONLY:
                self.fail(
                    func, param.name, "is positional-only: typed parameters are passed by name"
                )
            annotation = Any if param.annotation is param.empty else param.annotation
            default = param.default
            if default is param.empty or default is ...:  # ``q: str = ...``: required
                default = REQUIRED
            args.append(self.parameter(func, param.name, annotation, default))
        target = func
        if not inspect.isfunction(target) and not inspect.ismethod(target):
            target = getattr(func, "__call__", func)  # noqa: B004 - a callable instance
        return Plan(
            func=func,
            args=args,
            is_async=inspect.iscoroutinefunction(target) or inspect.isasyncgenfunction(target),
            is_generator=inspect.isgeneratorfunction(target) or inspect.isasyncgenfunction(target),
        )

    def parameter(
        self, func: Any, name: str, annotation: Any, default: Any
    ) -> tuple[str, str, Any]:
        tp, marker, default = _split(annotation, default)
        if isinstance(marker, Depends):
            if marker.dependency is None:  # ``Depends()``: the annotated class is called
                if not isinstance(tp, type):
                    self.fail(
                        func,
                        name,
                        f"is Depends() without a dependency: its annotation {tp!r} is not "
                        "a class to call (name the dependency: Depends(func))",
                    )
                marker = Depends(tp, use_cache=marker.use_cache)
            return name, "dependency", self.dependency(marker)
        if marker is None and _is_connection(tp):
            if not issubclass(self.connection, tp):
                self.fail(
                    func,
                    name,
                    f"asks for {tp.__name__}, but this route passes the {self.connection.__name__}",
                )
            return name, "connection", None
        if marker is None and tp is Any and name in ("request", "websocket"):
            return name, "connection", None
        if marker is None and isinstance(tp, type) and issubclass(tp, BackgroundTasks):
            if self.websocket:
                self.fail(
                    func,
                    name,
                    "asks for BackgroundTasks: a WebSocket route has no response to run them after",
                )
            self.background = True
            return name, "background", None
        source = self.source_of(func, name, tp, marker)
        if self.websocket and source in ("body", "form"):
            self.fail(
                func,
                name,
                "reads a body: a WebSocket route takes path, query, "
                "header and cookie parameters and dependencies",
            )
        key = name
        if marker is not None and marker.alias is not None:
            key = marker.alias
        elif source == "header" and (not isinstance(marker, Header) or marker.convert_underscores):
            key = name.replace("_", "-")
        group = source in ("query", "header", "cookie", "form") and _is_class_like(tp)
        if group:
            key = f"<{name}>"
        if source == "path" and key not in self.path_names:
            self.fail(func, name, f"is a path parameter, but the path has no {{{key}}}")
        if source == "path" and not group:
            self.check_converter(func, name, key, tp)
        found = self.inputs.get((source, key))
        if found is None:
            found = Input(
                source,
                key,
                tp,
                default,
                marker if isinstance(marker, Param) else None,
                group,
                len(self.inputs),
            )
            self.inputs[(source, key)] = found
        return name, "input", found

    def check_converter(self, func: Any, name: str, key: str, tp: Any) -> None:
        """Refuse a path parameter whose type cannot take what its converter gives
        (``{item_id:int}`` with ``item_id: str``): every request would be a 422."""
        converter = self.converters.get(key)
        known = _CONVERTER_SAMPLES.get(type(converter))
        if known is None:
            return  # str and path give text, which lax mode parses; custom: unknown
        conv_name, kind, sample = known
        try:
            validate(tp, sample, mode="lax")
        except ValidationError as exc:
            if any(error["code"] == "type" for error in exc.errors()):
                self.fail(
                    func,
                    name,
                    f"is annotated {_type_name(tp)}, but the path's {{{key}:{conv_name}}} "
                    f"gives {kind}: every request would be a 422 (annotate it "
                    f"{type(sample).__name__}, or write {{{key}}} to get the text)",
                )
        except (SchemaError, TypeError):  # pragma: no cover - the source's validator says
            return

    def source_of(self, func: Any, name: str, tp: Any, marker: Param | None) -> str:
        if marker is not None:
            return marker.source
        if name in self.path_names:
            return "path"
        if _is_upload(tp):
            return "form"
        plain = strip_optional(tp)
        if _is_object(plain) or (_is_many(plain) and any(map(_is_object, typing.get_args(plain)))):
            return "body"  # an object, or a list of them: only a JSON body holds one
        if tp is Any:
            self.fail(
                func,
                name,
                "has no annotation: annotate it (int, str, a schema...) or name it 'request'",
            )
        return "query"

    def dependency(self, marker: Depends) -> Dependency:
        key = marker.dependency if marker.use_cache else marker
        found = self.dependencies.get(key)
        if found is None:
            func = marker.dependency
            assert func is not None  # a Depends() was given its class by ``parameter``
            for entry in getattr(func, "__openapi_security__", ()) or ():
                if entry not in self.security:
                    self.security.append(entry)
            # An override is analysed in the original's place: its own parameters are
            # read, and the original's (and its dependencies') are not.
            func = self.overrides.get(func, func)
            plan = self.plan(func)
            found = Dependency(func, marker.use_cache, plan)
            self.dependencies[key] = found
        return found


#: A value of each built-in converter's type (their ``convert`` gives it), for
#: ``check_converter``; ``str`` and ``path`` give text, any annotation parses.
_CONVERTER_SAMPLES: dict[type, tuple[str, str, Any]] = {
    IntegerConverter: ("int", "an int", 1),
    FloatConverter: ("float", "a float", 1.5),
    UUIDConverter: ("uuid", "a UUID", uuid.UUID(int=1)),
    DateConverter: ("date", "a date", datetime.date(2000, 1, 1)),
}


def _type_name(tp: Any) -> str:
    return tp.__name__ if isinstance(tp, type) else repr(tp)


# -- validation of sources ------------------------------------------------------------


def _field_default(item: Input) -> Any:
    options: dict[str, Any] = dict(item.marker.field_options) if item.marker else {}
    options["alias"] = item.key
    if item.default is not REQUIRED:
        options["default"] = item.default
    return Field(**options)


def _form_type(tp: Any) -> Any:
    if tp is UploadFile:
        return Upload
    args = typing.get_args(tp)
    if args:
        mapped = tuple(_form_type(a) for a in args)
        if mapped != args:
            origin = typing.get_origin(tp)
            if origin is list or origin is Sequence:
                return list[mapped[0]]  # type: ignore[valid-type]
            return typing.Union[mapped]  # noqa: UP007 - rebuilt from parts
    return tp


def is_file_bytes(item: Input) -> bool:
    """Whether ``item`` is FastAPI's ``Annotated[bytes, File()]``: an uploaded file's
    content (or ``list[bytes]``, several files')."""
    if not isinstance(item.marker, File):
        return False
    tp = strip_optional(item.annotation)
    return tp is bytes or (_is_many(tp) and typing.get_args(tp) == (bytes,))


async def _read_files(form: Any, keys: frozenset[str]) -> MultiDict[str, Any]:
    """``form`` with the values under ``keys`` as bytes: an upload's content, a text
    field's UTF-8 (as FastAPI takes it; not base64, lax mode's rule for ``bytes``)."""
    items = []
    for key, value in form.multi_items():
        if key in keys:
            value = await value.read() if isinstance(value, UploadFile) else value.encode()
        items.append((key, value))
    return MultiDict(items)


def _is_many(tp: Any) -> bool:
    origin = typing.get_origin(strip_optional(tp))
    return origin in (list, tuple, set, frozenset, Sequence)


def _validator(tp: Any, owner: str, what: str) -> Validator[Any]:
    """A validator for ``tp``, compiled now (vivace.schema compiles on first use): a type
    it cannot handle fails when the route is built, not on a request."""
    try:
        validator: Validator[Any] = Validator(tp)
        validator.fast  # noqa: B018 - compiles
    except (SchemaError, TypeError) as exc:
        raise TypeError(f"handler {owner}: {what}: {exc}") from None
    return validator


class _Source:
    """One source's validation through vivace.schema: the groups (a schema read from the
    whole source), and for a form its single fields too (a form's own rules apply)."""

    __slots__ = ("fields", "file_bytes", "groups", "name", "validator")

    def __init__(self, name: str, items: list[Input], owner: str) -> None:
        self.name = name
        singles = [i for i in items if not i.group]
        # ``Annotated[bytes, File()]``: read from the upload before validation.
        self.file_bytes = frozenset(i.key for i in singles if is_file_bytes(i))
        self.fields: list[tuple[str, int]] = [(f"f{n}", i.index) for n, i in enumerate(singles)]
        self.validator: Validator[Any] | None = None
        if singles:
            definitions = {
                f"f{n}": (_form_type(i.annotation), _field_default(i))
                for n, i in enumerate(singles)
            }
            try:
                cls = create_schema(f"{owner}_{name}", definitions, module=__name__)
            except (SchemaError, TypeError) as exc:
                raise TypeError(f"{owner}: {name} parameters: {exc}") from None
            self.validator = _validator(cls, owner, f"{name} parameters")
        self.groups: list[tuple[Validator[Any], int]] = [
            (_validator(i.annotation, owner, f"{name} group {i.key}"), i.index)
            for i in items
            if i.group
        ]

    def read(self, data: Any, values: list[Any], errors: list[ValidationError]) -> None:
        validator = self.validator
        if validator is not None:
            try:
                obj = self.validate(validator, data)
            except ValidationError as exc:
                errors.append(exc.prefixed(self.name))
            else:
                for field, index in self.fields:
                    values[index] = getattr(obj, field)
        for group, index in self.groups:
            try:
                values[index] = self.validate(group, data)
            except ValidationError as exc:
                errors.append(exc.prefixed(self.name))

    def validate(self, validator: Validator[Any], data: Any) -> Any:
        if self.name == "form":
            # A form's own rules: an absent checkbox is False, an empty file input is
            # not sent, dotted names fill nested schemas (vivace.schema's validate_form).
            return validate_form(validator.type, data)
        return validator.validate(data, mode="lax")


class _Body:
    """The JSON body: one parameter (the whole body) or several (one key each)."""

    __slots__ = ("default", "embedded", "fields", "index", "read_json", "required", "validator")

    def __init__(self, items: list[Input], owner: str) -> None:
        embed = len(items) > 1 or any(isinstance(i.marker, Body) and i.marker.embed for i in items)
        self.embedded = embed
        self.fields: list[tuple[str, int]] = []
        if embed:
            definitions = {f"f{n}": (i.annotation, _field_default(i)) for n, i in enumerate(items)}
            self.fields = [(f"f{n}", i.index) for n, i in enumerate(items)]
            cls = create_schema(f"{owner}_body", definitions, module=__name__)
            self.validator: Validator[Any] = _validator(cls, owner, "body")
            self.required = any(i.default is REQUIRED for i in items)
            self.default: Any = None
            self.index = -1
        else:
            item = items[0]
            self.validator = _validator(item.annotation, owner, "body")
            self.required = item.default is REQUIRED
            self.default = item.default
            self.index = item.index
        # Repeated keys refused (a JSON body is read strictly): the options applied once.
        self.read_json = self.validator.json_reader(duplicate_keys="error")

    def take(
        self, raw: bytes, scope: Scope, values: list[Any], errors: list[ValidationError]
    ) -> None:
        """Validate the body ``raw`` (read by the caller) into ``values``."""
        if not raw:
            if self.required:
                errors.append(ValidationError([_missing_body()]))
            elif not self.embedded:
                values[self.index] = self.default
            else:
                self.fill(self.validator.validate({}), values)
            return
        # The Content-Type read from the scope, inline: the request's Headers object is
        # not built for one field (ASGI servers send names in lower case). With the
        # reader of json_reader and no empty parameter call (``parametrised``), a frame
        # less each: bench/server_inproc.py "POST /orders" 9.16 -> 8.92 us.
        # The value is compared as the server gave it: bytes(field) for every request cost
        # ~1,000 instructions (bench/server_instructions.py POST /orders: 115,504 -> 114,403).
        content_type: Any = b""
        for name, field in scope["headers"]:
            if name == b"content-type":
                content_type = field
                break
        if content_type != b"application/json":  # the usual value, as it is: no parsing
            media = bytes(content_type).split(b";", 1)[0].strip().lower()
            if media != b"application/json" and not media.endswith(b"+json"):
                given = repr(media.decode("latin-1")) if media else "a body without Content-Type"
                raise UnsupportedMediaType(f"the body must be JSON (application/json), not {given}")
        try:
            value = self.read_json(raw)
        except ValidationError as exc:
            errors.append(exc.prefixed("body"))
            return
        if self.embedded:
            self.fill(value, values)
        else:
            values[self.index] = value

    def fill(self, obj: Any, values: list[Any]) -> None:
        for field, index in self.fields:
            values[index] = getattr(obj, field)


def _scalars(items: list[Input], owner: str) -> Scalars:
    """The single path/query/header/cookie parameters: one schema (its fields' types,
    constraints and defaults), validated by ``Scalars`` in one pass."""
    definitions = {f"f{n}": (i.annotation, _field_default(i)) for n, i in enumerate(items)}
    sources = [s for s in SOURCES if any(i.source == s for i in items)]
    what = " and ".join(sources) + " parameters"
    try:
        cls = create_schema(f"{owner}_parameters", definitions, module=__name__)
    except (SchemaError, TypeError) as exc:
        raise TypeError(f"{owner}: {what}: {exc}") from None
    _validator(cls, owner, what)
    return Scalars(
        [
            (i.source, i.key, i.source in ("query", "header") and _is_many(i.annotation), i.index)
            for i in items
        ],
        cls,
    )


def _missing_body() -> Any:
    from vivace.schema import ErrorDetail

    return ErrorDetail(("body",), "missing", "A JSON body is required")


def _headers(connection: HTTPConnection) -> Headers:
    return connection.headers


_READERS: dict[str, Callable[[HTTPConnection], Any]] = {
    "path": lambda c: c.scope.get("path_params") or {},
    "query": lambda c: c.query_params,
    "header": _headers,
    "cookie": lambda c: c.cookies,
}


# -- output -------------------------------------------------------------------------


def _converter(tp: Any, unset: bool = False) -> Callable[[Any], Any]:
    """A function turning a returned value into ``tp`` by reading the attributes ``tp``
    declares (an ORM model, any object), recursively; values already of ``tp`` pass.
    ``unset``: a schema is made as its ``Partial`` (checked as ``tp`` first), the fields
    the value lacks left ``UNSET``, for ``dump(exclude_unset=True)``."""
    tp = strip_optional(tp)
    origin = typing.get_origin(tp)
    if origin in (list, Sequence, tuple, set, frozenset) and typing.get_args(tp):
        item = _converter(typing.get_args(tp)[0], unset)

        def convert_list(value: Any) -> Any:
            return [item(v) for v in value] if value is not None else None

        return convert_list
    if origin in (dict, Mapping) and len(typing.get_args(tp)) == 2:
        # dict[str, Item]: the values are written through Item too (a dict value's
        # extra keys leaked: the encoder writes a dict as it is).
        each = _converter(typing.get_args(tp)[1], unset)
        if each is _identity:
            return _identity

        def convert_dict(value: Any) -> Any:
            return {k: each(v) for k, v in value.items()} if value is not None else None

        return convert_dict
    if origin is typing.Union or origin is types.UnionType:
        # Item | Other: the first member the value converts to (a value already of one
        # goes as it is; a plain member, str or int, takes what the classes refuse).
        members = [_converter(m, unset) for m in typing.get_args(tp) if m is not type(None)]
        if all(m is _identity for m in members):
            return _identity

        args = typing.get_args(tp)

        def convert_union(value: Any) -> Any:
            if value is None or type(value) in args:
                return value
            for member in members:
                if member is _identity:
                    return value
                try:
                    return member(value)
                except TypeError:  # a required field missing: not this member
                    continue
            return value

        return convert_union
    if not isinstance(tp, type) or not _is_class_like(tp) or typing.is_typeddict(tp):
        return _identity
    hints = typing.get_type_hints(tp)
    names = (
        list(tp.__struct_fields__)
        if hasattr(tp, "__struct_fields__")
        else [f.name for f in dataclasses.fields(tp)]
    )
    nested = {n: _converter(hints[n], unset) for n in names if n in hints}
    nested = {n: c for n, c in nested.items() if c is not _identity}
    cls = tp
    made = partial(tp) if unset and issubclass(tp, Schema) else None

    def convert(value: Any) -> Any:
        if value is None or type(value) is cls:
            return value
        mapping = isinstance(value, Mapping)
        kwargs = {}
        for n in names:
            if mapping:
                if n not in value:
                    continue
                v = value[n]
            else:
                v = getattr(value, n, _ABSENT)
                if v is _ABSENT:
                    continue
            c = nested.get(n)
            kwargs[n] = c(v) if c is not None else v
        if made is not None:
            cls(**kwargs)  # what a required field missing raises, as without ``unset``
            return made(**kwargs)
        return cls(**kwargs)

    return convert


_ABSENT = object()
_PLAIN_LEAVES = (str, int, float, bool, type(None))
_PLAIN_CONTAINERS = (dict, list, Mapping, Sequence, typing.Union, types.UnionType)


def _plain(tp: Any) -> bool:
    """Whether ``tp`` holds only JSON's own values (no class to filter or convert)."""
    if tp is Any or tp in _PLAIN_LEAVES:
        return True
    origin = typing.get_origin(tp)
    if origin is None or origin not in _PLAIN_CONTAINERS:
        return False
    return all(_plain(arg) for arg in typing.get_args(tp))


def _identity(value: Any) -> Any:
    return value


class Output:
    """Serialises a handler's result by its declared type."""

    __slots__ = (
        "convert",
        "exact",
        "plain_dict",
        "response_class",
        "status_code",
        "type",
        "validator",
    )

    def __init__(self, tp: Any, status_code: int, response_class: type[Response]) -> None:
        self.type = tp
        self.status_code = status_code
        self.response_class = response_class
        self.convert = _converter(tp) if tp is not None else _identity
        # A type of plain JSON values (``dict[str, Any]``, ``list[int]``...) has nothing
        # to filter: the result goes to orjson as it is (measured: 12.4 us through the
        # schema's dump for a 3-key dict, 1 us without).
        plain = tp is None or _plain(tp)
        self.validator: Validator[Any] | None = (
            None if plain else _validator(tp, getattr(tp, "__name__", "output"), "output")
        )
        # A result of exactly the declared schema (the usual case) goes straight to its
        # encoder, what dump_json would do (measured on the 20-field order: 1.5 -> 0.9 us).
        self.exact: Callable[[Any], bytes] | None = None
        if self.validator is not None and response_class is JSONResponse:
            self.exact = self.validator.exact_encoder()
        # A dict where plain JSON is declared: what to_response does, without its tests.
        self.plain_dict = (
            self.validator is None
            and response_class in (JSONResponse, Response)
            and status_code == 200
        )

    def response(self, result: Any) -> Response:
        exact = self.exact
        if exact is not None and type(result) is self.type:
            return _encoded_json(exact(result), self.status_code)
        if self.plain_dict and type(result) is dict:
            return JSONResponse(result)
        if isinstance(result, Response):
            return result
        if self.validator is None:
            if self.response_class is JSONResponse or self.response_class is Response:
                response = to_response(result)
                if self.status_code != 200:
                    response.status_code = self.status_code
                return response
            return self.response_class(result, self.status_code)
        body = self.validator.dump_json(self.convert(result))
        if self.response_class is JSONResponse:
            return _encoded_json(body, self.status_code)
        return self.response_class(body, self.status_code)


class _NoContent(Output):
    """The output of a route whose status has no content (``status_code=204``, 304, 1xx):
    whatever the handler returns (``None``, as ``-> None`` says) is the empty response
    with that status, as in FastAPI; a returned ``Response`` goes out as it is."""

    __slots__ = ()

    def response(self, result: Any) -> Response:
        if isinstance(result, Response):
            return result
        return Response(status_code=self.status_code)


class _Shaped(Output):
    """The output of a route with FastAPI's ``response_model_include``, ``_exclude``,
    ``_exclude_unset``, ``_exclude_defaults`` or ``_exclude_none``: written through
    vivace.schema's ``dump`` with those options (a class of its own: ``Output.response``
    stays as it is for other routes). ``exclude_unset`` as FastAPI means it: a returned
    dict's (or object's) missing keys are left out, through the schema's ``Partial``;
    ``exclude_none`` drops every ``None`` value of an object (a dict) in the output."""

    __slots__ = ("exclude_none", "options")

    def __init__(
        self,
        tp: Any,
        status_code: int,
        response_class: type[Response],
        shaping: Mapping[str, Any],
    ) -> None:
        super().__init__(tp, status_code, response_class)
        self.options = {k: v for k, v in shaping.items() if k != "exclude_none"}
        self.exclude_none = bool(shaping.get("exclude_none"))
        if self.options.get("exclude_unset"):
            self.convert = _converter(tp, unset=True)
        if self.validator is None:  # plain JSON declared: still shaped
            self.validator = _validator(tp, getattr(tp, "__name__", "output"), "output")

    def response(self, result: Any) -> Response:
        if isinstance(result, Response):
            return result
        assert self.validator is not None
        data = self.validator.dump(self.convert(result), **self.options)
        if self.exclude_none:
            data = _without_none(data)
        body = dump_json(data)
        if self.response_class is JSONResponse:
            return _encoded_json(body, self.status_code)
        return self.response_class(body, self.status_code)


def _without_none(data: Any) -> Any:
    if type(data) is dict:
        return {k: _without_none(v) for k, v in data.items() if v is not None}
    if type(data) is list:
        return [_without_none(v) for v in data]
    return data


class _EncodedJSON(Response):
    """JSON already encoded, made by ``_encoded_json``."""

    media_type = "application/json"
    # Speed trick: called without arguments (by _encoded_json, which sets the slots), as
    # the server's RequestCycle.new does. Through Response.__init__ (CPython 3.11's
    # type.__call__ passes the arguments as a tuple, then the checks for other content)
    # a response cost ~1,100 instructions more (callgrind, the 20-field order).
    __init__ = object.__init__


_JSON_TYPE = content_type_header(_EncodedJSON.media_type, _EncodedJSON.charset)


def _encoded_json(body: bytes, status_code: int) -> Response:
    """What ``Response(body, status_code, media_type="application/json")`` makes, for a
    status with content (an Output's: ``_NoContent`` answers the others)."""
    response: Response = _EncodedJSON()
    response.status_code = status_code
    response.background = None
    response.body = body
    response.raw_headers = [_JSON_TYPE, length_header(len(body))]
    return response


# -- the typed handler ----------------------------------------------------------------


class TypedHandler:
    """A handler analysed once: ``await typed(request)`` validates the inputs, runs the
    dependencies, calls the handler and serialises its result."""

    def __init__(
        self,
        func: Callable[..., Any],
        *,
        path_names: Sequence[str] = (),
        connection: type = Request,
        status_code: int = 200,
        response_model: Any = None,
        response_class: type[Response] = JSONResponse,
        bound: bool = False,
        serialised: bool = True,
        dependencies: Sequence[Depends] = (),
        overrides: Mapping[Any, Callable[..., Any]] | None = None,
        shaping: Mapping[str, Any] | None = None,
    ) -> None:
        self.func = func
        # What ``with_overrides`` builds this handler again with.
        self.options: dict[str, Any] = {
            "path_names": path_names,
            "connection": connection,
            "bound": bound,
            "dependencies": dependencies,
        }
        self.overridden = overrides is not None
        self.swapped: tuple[list[tuple[Any, Any]], TypedHandler] | None = None
        analysis = _Analysis(func, path_names, connection, connection is not Request, overrides)
        self.plan = analysis.plan(func, skip=1 if bound else 0)
        for marker in dependencies:
            if not isinstance(marker, Depends) or marker.dependency is None:
                raise TypeError(
                    f"handler {describe(func)}: dependencies= takes Depends(func) markers, "
                    f"not {marker!r}"
                )
            self.plan.before.append(analysis.dependency(marker))
        if connection is not Request and not any(k == "connection" for _, k, _ in self.plan.args):
            raise TypeError(
                f"handler {describe(func)} takes no {connection.__name__} parameter: a "
                f"typed {connection.__name__} handler needs one to talk to the client"
            )
        self.inputs = list(analysis.inputs.values())
        self.dependencies = list(analysis.dependencies.values())
        self.background = analysis.background
        if self.background and type(self) is TypedHandler:
            # The tasks go on the response: a class of its own, so handlers without
            # them do not pay a test per request.
            self.__class__ = _WithTasks
        self.security = analysis.security
        owner = getattr(func, "__name__", "handler")
        by_source: dict[str, list[Input]] = {}
        for item in self.inputs:
            by_source.setdefault(item.source, []).append(item)
        singles = [i for s in SOURCES for i in by_source.get(s, ()) if not i.group]
        self.scalars = _scalars(singles, owner) if singles else None
        # A group (a schema read from a whole source) is validated on its own.
        self.sources = [
            (_READERS[s], _Source(s, groups, owner))
            for s in SOURCES
            if (groups := [i for i in by_source.get(s, ()) if i.group])
        ]
        # A handler of a JSON body alone skips the call that reads no parameter.
        self.parametrised = self.scalars is not None or bool(self.sources)
        self.body = _Body(by_source["body"], owner) if "body" in by_source else None
        self.form = _Source("form", by_source["form"], owner) if "form" in by_source else None
        if self.body is not None and self.form is not None:
            raise TypeError(
                f"handler {describe(func)} reads both a JSON body and a form: choose one"
            )
        self.count = len(self.inputs)
        # The arguments' computation, generated: see _dependencies.flat_arguments.
        self.arguments = flat_arguments(self.plan)
        # Nothing to await before the handler (no body, form or dependency): the
        # arguments are read without a coroutine (measured: 0.2 us a request). With a JSON
        # body and no dependency, the one await is the body's, in ``__call__`` (measured:
        # bench/server_inproc.py POST /orders 13.53 -> 13.13 us).
        solves = self.form is not None or bool(self.dependencies)
        self.reads_body = self.body is not None and not solves
        self.awaits = solves or self.body is not None
        # A dependency override's value is passed on, never serialised: its return
        # annotation (an AsyncIterator for a generator) is not an output type.
        declared = output_type(func, response_model) if serialised else None
        if serialised and _no_body_status(status_code):
            self.output: Output = _NoContent(declared, status_code, response_class)
        elif shaping and serialised:
            if declared is None:
                raise TypeError(
                    f"handler {describe(func)}: response_model_{next(iter(shaping))} "
                    "shapes the declared output, and there is none: give a return "
                    "annotation or response_model="
                )
            self.output = _Shaped(declared, status_code, response_class, shaping)
        else:
            self.output = Output(declared, status_code, response_class)

    async def __call__(self, request: Request, *first: Any) -> Response:
        """Serve ``request``; ``first``: positional arguments before the typed ones (the
        instance, for a method of an ``HTTPEndpoint``)."""
        # The generator dependencies entered so far: a failure of what runs after them
        # (a later dependency, the handler) is raised at their ``yield``.
        exits: list[Exit] | None = [] if self.dependencies else None
        plan = self.plan
        try:
            if not self.awaits:
                kwargs = self.read(request)
            elif self.reads_body:
                # A body that came with its head is taken without a coroutine.
                raw = request.received_body()
                if raw is None:
                    raw = await request.body()
                kwargs = self.read(request, raw)
            else:
                kwargs = await self.solve(request, request.add_cleanup, exits)
            if plan.is_async:
                result = await plan.func(*first, **kwargs)
            else:
                config: WebConfig = request.scope.get(CONFIG_KEY, DEFAULT_CONFIG)
                result = await config.thread_pool.run(call_kwargs, plan.func, kwargs, *first)
        except Exception as exc:
            error = await unwind(exits, exc) if exits else exc
            if isinstance(error, RequestValidationError):
                return _invalid(request, error)
            if error is exc:
                raise
            raise error from None
        return self.output.response(result)

    def read_parameters(
        self, connection: HTTPConnection, values: list[Any], errors: list[ValidationError]
    ) -> None:
        """The path, query, header and cookie parameters into ``values``."""
        if self.scalars is not None:
            self.scalars.read(connection, values, errors)
        for reader, source in self.sources:
            source.read(reader(connection), values, errors)

    def read(self, connection: HTTPConnection, body: bytes = b"") -> dict[str, Any]:
        """``solve`` for a handler that awaits nothing before it runs (``awaits`` false)
        or only its JSON ``body`` (``reads_body``)."""
        values: list[Any] = [None] * self.count
        errors: list[ValidationError] = []
        if self.parametrised:
            self.read_parameters(connection, values, errors)
        if self.body is not None:
            self.body.take(body, connection.scope, values, errors)
        if errors:
            raise RequestValidationError(ValidationError.merge(errors))
        kwargs: dict[str, Any] = self.arguments(connection, values, None, None, None)
        return kwargs

    async def solve(
        self,
        connection: HTTPConnection,
        add_cleanup: Callable[[Callable[[], Awaitable[None]]], None],
        exits: list[Exit] | None = None,
    ) -> dict[str, Any]:
        """The handler's keyword arguments; ``RequestValidationError`` with every problem.
        A generator dependency's clean-up goes to ``add_cleanup``, and it is listed in
        ``exits`` (when given) to be thrown a later failure (``unwind``)."""
        if not self.awaits:
            return self.read(connection)
        config: WebConfig | None = None
        if self.dependencies:
            config = connection.scope.get(CONFIG_KEY, DEFAULT_CONFIG)
            if config.dependency_overrides and not self.overridden:
                swapped = self.with_overrides(config.dependency_overrides)
                return await swapped.solve(connection, add_cleanup, exits)
        values: list[Any] = [None] * self.count
        errors: list[ValidationError] = []
        self.read_parameters(connection, values, errors)
        if self.body is not None:
            raw = await connection.body()  # type: ignore[attr-defined]
            self.body.take(raw, connection.scope, values, errors)
        elif self.form is not None:
            form = await connection.form()  # type: ignore[attr-defined]
            if self.form.file_bytes:
                form = await _read_files(form, self.form.file_bytes)
            self.form.read(form, values, errors)
        if errors:
            raise RequestValidationError(ValidationError.merge(errors))
        if config is None:
            kwargs: dict[str, Any] = self.arguments(connection, values, None, add_cleanup, exits)
            return kwargs
        if self.overridden:
            state = Solving(connection, values, config, add_cleanup, exits)
            return await state.arguments(self.plan)
        kwargs = await self.arguments(connection, values, config.thread_pool, add_cleanup, exits)
        return kwargs

    def with_overrides(self, overrides: Mapping[Any, Callable[..., Any]]) -> TypedHandler:
        """This handler analysed again with ``overrides`` (an app's
        ``dependency_overrides``) in place of the dependencies they name, as FastAPI
        does: an override's parameters are read from the request, and the inputs only
        the overridden dependency read are not required. Made on first use (tests set
        overrides after the routes exist) and kept while the overrides stay the same."""
        items = list(overrides.items())
        swapped = self.swapped
        if (
            swapped is not None
            and len(swapped[0]) == len(items)
            and all(a is c and b is d for (a, b), (c, d) in zip(swapped[0], items, strict=True))
        ):
            return swapped[1]
        handler = TypedHandler(self.func, serialised=False, overrides=dict(items), **self.options)
        self.swapped = (items, handler)
        return handler


class _WithTasks(TypedHandler):
    """A typed handler taking ``BackgroundTasks`` (itself or in a dependency): what was
    added to them runs after the response, as the response's own background (after it,
    when the handler returned a response with one). Not when the handler failed: there is
    no response to run them after (FastAPI's rule)."""

    async def __call__(self, request: Request, *first: Any) -> Response:
        response = await TypedHandler.__call__(self, request, *first)
        tasks: BackgroundTasks | None = request.scope.get(TASKS_KEY)
        if tasks is not None and tasks.tasks:
            own = response.background
            response.background = tasks if own is None else BackgroundTasks([own, tasks])
        return response


def _invalid(request: Request, exc: RequestValidationError) -> Response:
    """The 422: the app's handler for it when there is one (raised to the runner), else
    the problem details."""
    config: WebConfig = request.scope.get(CONFIG_KEY, DEFAULT_CONFIG)
    if config.handler_for(exc) is not None:
        raise exc
    return problem_response(422, exc.detail, errors=exc.errors())
