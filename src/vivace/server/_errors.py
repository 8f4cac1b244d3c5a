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

from vivace.http._errors import ClientDisconnected

__all__ = [
    "AppImportError",
    "ClientDisconnected",
    "ConfigError",
    "LifespanFailure",
    "ProtocolViolation",
    "ServerError",
]


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
