"""Errors of the ASGI server.

::

    Exception
     └── ServerError                 anything the server refuses or fails to do
          ├── ConfigError            an option that cannot be used (bad value, bad combination)
          ├── AppImportError         ``module:attr`` that cannot be imported or is not an app
          ├── LifespanFailure        the app reported ``lifespan.startup.failed`` (or raised)
          └── ProtocolViolation      the app sent an ASGI message it must not send now
    OSError
     └── ClientDisconnected          ``send()`` after the client went away (ASGI spec 2.4);
                                     vivace.http's class, re-exported here
"""

from __future__ import annotations

import asyncio
import logging
import traceback

from vivace.http._errors import ClientDisconnected

__all__ = [
    "AppImportError",
    "ClientDisconnected",
    "ConfigError",
    "LifespanFailure",
    "ProtocolViolation",
    "ServerError",
]

logger = logging.getLogger("vivace.server")


class ServerError(Exception):
    """Base class of the errors the server raises."""


class ConfigError(ServerError, ValueError):
    """An option value that cannot be used; ``option`` names it."""

    def __init__(self, message: str, *, option: str | None = None) -> None:
        super().__init__(message)
        self.option = option


class AppImportError(ServerError, ImportError):
    """The ``module:attribute`` app reference could not be loaded."""

    def __init__(self, message: str, *, target: str) -> None:
        super().__init__(message)
        self.target = target


class LifespanFailure(ServerError):
    """The app failed its lifespan startup or shutdown; ``phase`` says which."""

    def __init__(self, message: str, *, phase: str) -> None:
        super().__init__(message)
        self.phase = phase


class ProtocolViolation(ServerError, RuntimeError):
    """The app sent an ASGI message that is invalid at this point of the exchange."""

    def __init__(self, message: str, *, message_type: object = None) -> None:
        super().__init__(message)
        self.message_type = message_type


def report_app_error(error: BaseException, disconnected: bool) -> None:
    """Log what an HTTP app raised, then let go of its frames.

    After the client left, an ``OSError`` from ``send()`` or a cancellation is the end of
    the stream, not a bug: DEBUG. So is an error a framework raised *from* one: Starlette's
    ``StreamingResponse`` (ASGI 2.4) turns the ``OSError`` into its ``ClientDisconnect``.

    The traceback's frames hold the app's locals, and usually a reference cycle through
    the exception, so without help they live until the next cyclic garbage collection: an
    async generator the app was iterating (``async for`` does not close it when the body
    of the loop raises) would keep its ``finally`` (an SSE stream unsubscribing, a
    connection going back to its pool) waiting for seconds or minutes. Clearing the
    finished frames once the error is logged frees them at once (the traceback still
    formats: clearing keeps code and line numbers).
    """
    if disconnected and _from_departure(error):
        logger.debug("ASGI app stopped after the client disconnected: %r", error)
    elif isinstance(error, asyncio.CancelledError):
        logger.warning("ASGI app was cancelled before it finished its response")
    else:
        logger.error("Exception in ASGI application", exc_info=error)
    if isinstance(error, (Exception, asyncio.CancelledError)):  # not re-raised by the caller
        link: BaseException | None = error
        for _ in range(_CHAIN_LIMIT):
            if link is None:
                break
            traceback.clear_frames(link.__traceback__)  # skips frames still running
            link = link.__cause__ or link.__context__


_CHAIN_LIMIT = 16  # exception chains are short; a bound keeps a cyclic chain finite


def _from_departure(error: BaseException) -> bool:
    """The error is, or was raised while handling, an OSError or a cancellation."""
    link: BaseException | None = error
    for _ in range(_CHAIN_LIMIT):
        if link is None:
            return False
        if isinstance(link, (OSError, asyncio.CancelledError)):
            return True
        link = link.__cause__ or link.__context__
    return False
