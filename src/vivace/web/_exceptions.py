"""The errors of vivace.web.

::

    Exception
     └── WebError                  everything vivace.web raises
          ├── HTTPException        an error response: status_code, detail, headers; raise
          │    │                   it anywhere in a handler to answer with that status
          │    ├── MalformedBody         400: a JSON or form body that cannot be parsed
          │    ├── ContentTooLarge       413: a body or upload over a configured limit
          │    ├── UnsupportedMediaType  415: ``request.json()`` on a non-JSON body
          │    └── RequestValidationError 422: a typed handler's inputs did not validate
          ├── ClientDisconnect     the client went away while its body was being read
          │                        (also a vivace.http ``ClientDisconnected``, the OSError
          │                        servers raise from ``send()``; re-exported here)
          └── NoMatchFound         ``url_path_for``: no route has that name and parameters

Errors from the layers below are translated here: ``vivace.http``'s ``MalformedForm``
becomes ``MalformedBody`` and ``FormLimitExceeded`` becomes ``ContentTooLarge``; the
original is kept as ``__cause__``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import orjson

from vivace.http import status
from vivace.http._errors import ClientDisconnected

if TYPE_CHECKING:
    from vivace.schema import ValidationError

__all__ = [
    "ClientDisconnect",
    "ContentTooLarge",
    "HTTPException",
    "MalformedBody",
    "NoMatchFound",
    "RequestValidationError",
    "UnsupportedMediaType",
    "WebError",
]


class WebError(Exception):
    """Base class of every error vivace.web raises."""


class HTTPException(WebError):
    """Raise to answer the request with an error status.

    >>> exc = HTTPException(404)
    >>> exc.status_code, exc.detail
    (404, 'Not Found')
    >>> HTTPException(429, "slow down", headers={"retry-after": "5"}).headers
    {'retry-after': '5'}
    >>> HTTPException(422, {"title": "required"}).detail
    {'title': 'required'}

    ``detail`` is a message, or structured detail that JSON can carry (a dict, a list, a
    number...): JSON clients get it as is, others a text rendering of it. Anything JSON
    cannot encode is refused here, with a ``TypeError``, rather than at response time.
    """

    def __init__(
        self,
        status_code: int,
        detail: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if detail is None:
            detail = status.reason_phrase(status_code)
        elif type(detail) is not str:
            try:
                orjson.dumps(detail)
            except TypeError as exc:  # orjson.JSONEncodeError is a TypeError
                raise TypeError(
                    f"HTTPException detail must be a str or JSON-serialisable (dict, list, "
                    f"number...), not {type(detail).__name__}: {exc}"
                ) from None
        super().__init__(status_code, detail)
        self.status_code = status_code
        self.detail: Any = detail
        self.headers = dict(headers) if headers is not None else None

    def __str__(self) -> str:
        return f"{self.status_code}: {self.detail}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status_code={self.status_code!r}, detail={self.detail!r})"


class MalformedBody(HTTPException):
    """A request body that cannot be parsed (400)."""

    def __init__(self, detail: str) -> None:
        super().__init__(400, detail)


class ContentTooLarge(HTTPException):
    """A request body or upload over a limit (413); ``limit`` names the limit."""

    def __init__(self, detail: str, *, limit: str, value: int) -> None:
        super().__init__(413, detail)
        self.limit = limit
        self.value = value


class UnsupportedMediaType(HTTPException):
    """A body whose Content-Type the handler cannot read (415)."""

    def __init__(self, detail: str) -> None:
        super().__init__(415, detail)


class ClientDisconnect(WebError, ClientDisconnected):
    """The client disconnected before the request body was read in full (a
    ``ClientDisconnected``, so one ``except ClientDisconnected`` catches it and what
    ``send()`` raises)."""


class NoMatchFound(WebError, LookupError):
    """No route has this name and these parameters (from ``url_path_for``)."""

    def __init__(self, name: str, params: Mapping[str, object]) -> None:
        keys = ", ".join(sorted(params))
        super().__init__(f"no route named {name!r} takes the parameters ({keys})")
        self.name = name
        self.params = dict(params)


class RequestValidationError(HTTPException):
    """The request's inputs did not validate: every problem, with locations that start
    with the source (``["query", "limit"]``). Answered with a 422 RFC 9457 problem
    (``application/problem+json``) unless the app has a handler for this class or 422."""

    def __init__(self, error: ValidationError) -> None:
        super().__init__(422, "The request's input is not valid")
        self.error = error

    def errors(self) -> list[dict[str, Any]]:
        """The problems as ``{"loc": [...], "code": ..., "msg": ...}``."""
        return [{"loc": list(d.loc), "code": d.code, "msg": d.msg} for d in self.error.details]
