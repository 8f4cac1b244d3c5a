"""Markers for typed handlers: where a parameter comes from, and dependencies.

A typed handler declares its inputs in its signature; most need no marker (a name in the
path template is a path parameter, a scalar or a list of scalars is a query parameter, a
schema, dataclass or TypedDict is the JSON body, ``UploadFile`` is an uploaded file). A
marker, in ``Annotated[...]`` or as the default, says what inference cannot: ``Header()``,
``Cookie()``, ``Form()``, a query group (``Annotated[Filters, Query()]``), an alias,
constraints and documentation.

>>> from typing import Annotated
>>> from vivace.web import Query
>>> async def search(q: str, limit: Annotated[int, Query(ge=1, le=100)] = 20): ...

Constraints and documentation are vivace.schema ``Field`` options: ``gt``, ``ge``, ``lt``,
``le``, ``multiple_of``, ``min_length``, ``max_length``, ``pattern``, ``title``,
``description``, ``examples``, ``deprecated``.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable
from typing import Any

from vivace.web._request import Request
from vivace.web._responses import Response

__all__ = [
    "MARKERS",
    "REQUIRED",
    "Body",
    "Cookie",
    "Depends",
    "File",
    "Form",
    "Header",
    "Param",
    "Path",
    "Query",
    "is_typed",
    "output_type",
    "strip_optional",
    "typed_handler",
]


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


#: The default of a parameter that has none: it must be given.
REQUIRED: Any = _Required()


class Param:
    """Where a handler parameter is read from (base of ``Path``, ``Query``...)."""

    source = ""

    __slots__ = ("alias", "default", "field_options", "include_in_schema")

    def __init__(
        self,
        default: Any = REQUIRED,
        *,
        alias: str | None = None,
        include_in_schema: bool = True,
        **field_options: Any,
    ) -> None:
        # ``Query(...)``: FastAPI's (and Pydantic's) spelling of "required".
        self.default = REQUIRED if default is ... else default
        self.alias = alias
        self.include_in_schema = include_in_schema
        self.field_options = field_options

    def __repr__(self) -> str:
        return f"{type(self).__name__}(alias={self.alias!r})"


class Path(Param):
    """A path parameter (the default for a name in the route's path template)."""

    source = "path"
    __slots__ = ()


class Query(Param):
    """A query parameter; on a schema type, the whole query string read as that schema
    (a group of parameters)."""

    source = "query"
    __slots__ = ()


class Header(Param):
    """A request header; ``user_agent`` reads ``user-agent`` (``convert_underscores``)."""

    source = "header"
    __slots__ = ("convert_underscores",)

    def __init__(
        self, default: Any = REQUIRED, *, convert_underscores: bool = True, **options: Any
    ) -> None:
        super().__init__(default, **options)
        self.convert_underscores = convert_underscores


class Cookie(Param):
    """A cookie."""

    source = "cookie"
    __slots__ = ()


class Body(Param):
    """The JSON body, or a key of it: several ``Body`` parameters (or ``embed=True``) read
    one object with a key per parameter."""

    source = "body"
    __slots__ = ("embed",)

    def __init__(self, default: Any = REQUIRED, *, embed: bool = False, **options: Any) -> None:
        super().__init__(default, **options)
        self.embed = embed


class Form(Param):
    """A field of a urlencoded or multipart form; on a schema type, the whole form."""

    source = "form"
    __slots__ = ()


class File(Form):
    """An uploaded file of a multipart form (``UploadFile`` needs no marker)."""

    source = "form"
    __slots__ = ()


class Depends:
    """A dependency: the parameter gets what ``dependency`` returns (or yields).

    ``dependency`` is an async or sync function, or an async or sync generator (the code
    after ``yield`` runs once the response is sent). Its own parameters are typed
    parameters too, dependencies included. Within a request a dependency runs once and
    its value is shared (``use_cache=False`` runs it for each use).

    >>> from typing import Annotated
    >>> from vivace.web import Depends
    >>> async def pagination(offset: int = 0, limit: int = 20) -> tuple[int, int]:
    ...     return offset, limit
    >>> async def items(page: Annotated[tuple[int, int], Depends(pagination)]): ...
    """

    __slots__ = ("dependency", "use_cache")

    def __init__(
        self, dependency: Callable[..., Any] | None = None, *, use_cache: bool = True
    ) -> None:
        if dependency is not None and not callable(dependency):
            raise TypeError(f"Depends() takes a callable, not {dependency!r}")
        #: None: ``Annotated[Pager, Depends()]``, FastAPI's shortcut for ``Depends(Pager)``
        #: (the annotated class is called).
        self.dependency = dependency
        self.use_cache = use_cache

    def __repr__(self) -> str:
        name = getattr(self.dependency, "__qualname__", repr(self.dependency))
        return f"Depends({name})"


MARKERS = (Param, Depends)

_NOT_SERIALISED = (type(None), str, bytes, dict, list)


def output_type(func: Any, response_model: Any) -> Any:
    """The declared output type of a handler, or None when its result goes out as it is
    (a Response, no annotation, ``Any``, a plain ``dict``/``list``/``str``/``bytes``)."""
    if response_model is not None:
        return response_model
    try:
        hints = typing.get_type_hints(func, include_extras=True)
    except Exception:  # annotations that do not resolve: nothing declared
        return None
    tp = hints.get("return", Any)
    if tp is Any or tp in _NOT_SERIALISED:
        return None
    union = typing.get_origin(tp) is typing.Union or isinstance(tp, types.UnionType)
    members = typing.get_args(tp) if union else (tp,)
    for member in members:
        origin = typing.get_origin(member) or member
        if isinstance(origin, type) and issubclass(origin, Response):
            return None
    return tp


def is_typed(func: Any, *, skip: int = 0, passed: type = Request) -> bool:
    """Whether ``func`` needs the typed machinery: any parameter besides one positional
    connection parameter (annotated as the connection, or not annotated)."""
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):
        return False
    params = [
        p
        for p in list(signature.parameters.values())[skip:]
        if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    if not params:
        return False
    first, rest = params[0], params[1:]
    if any(p.default is p.empty or isinstance(p.default, MARKERS) for p in rest):
        return True
    if isinstance(first.default, MARKERS) or first.kind is first.KEYWORD_ONLY:
        return True
    annotation = first.annotation
    if annotation is first.empty or annotation is Any:
        return False
    if isinstance(annotation, str):
        last = annotation.strip().strip("'\"").rsplit(".", 1)[-1]
        return last not in {cls.__name__ for cls in passed.__mro__} | {"Any"}
    if not isinstance(annotation, type) or typing.is_typeddict(annotation):
        return True
    return not issubclass(passed, annotation)


def strip_optional(tp: Any) -> Any:
    """``T`` for ``T | None`` (``Optional[T]``); anything else as it is."""
    args = typing.get_args(tp)
    if args and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return tp


def typed_handler(func: Callable[..., Any], **options: Any) -> Any:
    """The ``TypedHandler`` for ``func`` (``_typed``'s keywords). ``_typed`` and
    vivace.schema are imported here, when the first typed route is built, so an app with
    none never loads them."""
    from vivace.web._typed import TypedHandler

    return TypedHandler(func, **options)
