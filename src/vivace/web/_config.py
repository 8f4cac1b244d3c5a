"""Per-app settings the request path reads: limits, the thread pool, error handlers.

An ``App`` puts its ``WebConfig`` into each request scope (``scope["vivace.web"]``), so a
``Router``, a ``Route`` or a ``Request`` deep inside mounts finds the app's settings with
one dict lookup; outside an ``App`` they use ``DEFAULT_CONFIG``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from vivace.http import (
    DEFAULT_MAX_FIELD_SIZE,
    DEFAULT_MAX_FILE_SIZE,
    DEFAULT_MAX_PART_HEADER_SIZE,
    DEFAULT_MAX_PARTS,
)
from vivace.types import Scope
from vivace.web._concurrency import ThreadPool, default_pool
from vivace.web._exceptions import HTTPException

__all__ = ["CONFIG_KEY", "DEFAULT_CONFIG", "ExceptionHandler", "Limits", "WebConfig", "config_of"]

CONFIG_KEY = "vivace.web"

#: An exception handler: ``handler(request, exc)`` returning a response (sync or async).
ExceptionHandler = Callable[[Any, Any], Any] | Callable[[Any, Any], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class Limits:
    """Limits on what a request body may make the app hold.

    >>> Limits().max_body_size
    16777216
    >>> Limits(max_form_file_size=None).max_form_file_size is None
    True

    - ``max_body_size``: ``request.body()``, ``json()`` and urlencoded ``form()`` (bytes
      held in memory); ``None`` lifts it. ``request.stream()`` is not limited: a handler
      that streams decides for itself.
    - ``max_form_parts``: fields plus files in one form.
    - ``max_form_field_size``: one non-file field.
    - ``max_form_fields_size``: all the non-file fields of one multipart form together
      (they are held in memory, as an urlencoded body is: the same 16 MiB default).
    - ``max_form_file_size``: one uploaded file (``None`` lifts it).
    - ``max_form_size``: a whole multipart body, files included (``None`` lifts it); the
      default leaves room for one file of the default ``max_form_file_size``.
    - ``form_spool_size``: the uploads of one form are kept in memory together up to
      this many bytes; beyond it, each upload that would pass it moves to a temporary
      file on disk. So a form holds at most ``max_form_fields_size`` plus
      ``form_spool_size`` in memory, however many parts it has.
    - ``max_part_header_size``: the header block of one multipart part.
    """

    max_body_size: int | None = 16 * 1024 * 1024
    max_form_parts: int = DEFAULT_MAX_PARTS
    max_form_field_size: int = DEFAULT_MAX_FIELD_SIZE
    max_form_fields_size: int = 16 * 1024 * 1024
    max_form_file_size: int | None = DEFAULT_MAX_FILE_SIZE
    max_form_size: int | None = 128 * 1024 * 1024
    form_spool_size: int = 1024 * 1024
    max_part_header_size: int = DEFAULT_MAX_PART_HEADER_SIZE


class WebConfig:
    """What the request path needs to know about the app (internal).

    ``exception_handlers`` maps a status code or an exception class to a handler. A
    handler for ``500`` or ``Exception`` is the server-error handler: it answers
    unhandled errors in ``ServerErrorMiddleware`` (outside the user's middleware), and the
    error is still re-raised for the server to log. The others answer in the route.
    ``json_errors`` makes the default error responses RFC 9457 problem documents for
    every client (see ``_handlers.error_response``).
    """

    __slots__ = (
        "debug",
        "dependency_overrides",
        "handlers_by_class",
        "handlers_by_status",
        "json_errors",
        "limits",
        "server_error_handler",
        "thread_pool",
    )

    def __init__(
        self,
        *,
        limits: Limits | None = None,
        thread_pool: ThreadPool | None = None,
        exception_handlers: Mapping[Any, ExceptionHandler] | None = None,
        debug: bool = False,
        json_errors: bool = False,
    ) -> None:
        self.limits = limits if limits is not None else Limits()
        self.thread_pool = thread_pool if thread_pool is not None else default_pool
        self.debug = debug
        self.json_errors = json_errors
        self.handlers_by_class: dict[type[BaseException], ExceptionHandler] = {}
        self.handlers_by_status: dict[int, ExceptionHandler] = {}
        self.server_error_handler: ExceptionHandler | None = None
        #: Typed handlers' dependency -> replacement (``App.dependency_overrides``).
        self.dependency_overrides: dict[Any, Any] = {}
        for key, handler in (exception_handlers or {}).items():
            self.add_handler(key, handler)

    def add_handler(self, key: Any, handler: ExceptionHandler) -> None:
        """Register ``handler`` for a status code or an exception class."""
        if key in (500, Exception):
            self.server_error_handler = handler
        elif isinstance(key, int) and not isinstance(key, bool):
            self.handlers_by_status[key] = handler
        elif isinstance(key, type) and issubclass(key, BaseException):
            self.handlers_by_class[key] = handler
        else:
            raise TypeError(f"exception handlers are keyed by status code or class, not {key!r}")

    def handler_for(self, exc: BaseException) -> ExceptionHandler | None:
        """The handler for this exception: by status code, then by class (MRO order)."""
        if self.handlers_by_status and isinstance(exc, HTTPException):
            handler = self.handlers_by_status.get(exc.status_code)
            if handler is not None:
                return handler
        by_class = self.handlers_by_class
        if by_class:
            for cls in type(exc).__mro__:
                handler = by_class.get(cls)
                if handler is not None:
                    return handler
        return None


DEFAULT_CONFIG = WebConfig()


def config_of(scope: Scope) -> WebConfig:
    """The ``WebConfig`` of the app serving this scope."""
    config: WebConfig = scope.get(CONFIG_KEY, DEFAULT_CONFIG)
    return config
