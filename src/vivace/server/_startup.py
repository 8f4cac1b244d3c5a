"""Start-up failures told the way a person reads them: one line, and the user's traceback.

``vivace run`` exits with status 3 when the app cannot start: the app module is missing,
raises or does not parse while it is imported, the attribute is missing, the factory
raises, the lifespan startup fails, or the socket cannot be bound.  ``Failure`` holds what
to print for it:

* ``line``: the cause and where it happened, e.g. ``could not import 'app:app':
  ModuleNotFoundError: No module named 'asyncpg' (app.py, line 3)``;
* ``traceback``: the traceback of the user's code, without the frames of the import
  machinery and of the server itself, or None where there is no code to show (a module
  that does not exist, a bad option, a port in use).

A worker process sends its ``Failure`` to the supervisor as JSON (``to_bytes``), so that
N workers failing the same way print it once.
"""

from __future__ import annotations

import json
import os
import sysconfig
import traceback
from dataclasses import dataclass
from types import TracebackType

from vivace.server._errors import LifespanFailure, ServerError

__all__ = ["Failure", "describe"]

_SERVER = os.path.dirname(os.path.abspath(__file__)) + os.sep
_VIVACE = os.path.dirname(_SERVER.rstrip(os.sep)) + os.sep
# Where code that is not the user's lives: the location points past it.
_LIBRARIES = tuple(
    {
        os.path.abspath(path) + os.sep
        for key in ("stdlib", "platstdlib", "purelib", "platlib")
        if (path := sysconfig.get_paths().get(key))
    }
)
#: A report larger than this is cut (the head of the traceback goes first): it travels
#: through a pipe the supervisor reads only after the worker exits or reports.
_MAX_REPORT = 32 * 1024


@dataclass(frozen=True)
class Failure:
    """What ``vivace run`` prints for a start-up failure (see the module docstring)."""

    line: str
    traceback: str | None = None

    def to_bytes(self) -> bytes:
        tb = self.traceback
        if tb is not None and len(tb) > _MAX_REPORT:
            tb = "...\n" + tb[-_MAX_REPORT:]
        return json.dumps({"line": self.line[:_MAX_REPORT], "traceback": tb}).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> Failure:
        try:
            report = json.loads(data)
            line, tb = report["line"], report["traceback"]
            if isinstance(line, str) and (tb is None or isinstance(tb, str)):
                return cls(line, tb)
        except (ValueError, TypeError, KeyError):
            pass
        return cls("a worker sent an unreadable start-up report")


def _shown(filename: str) -> str:
    path = os.path.abspath(filename)
    relative = os.path.relpath(path)
    return relative if not relative.startswith("..") else path


def _frames(tb: TracebackType | None) -> traceback.StackSummary:
    return traceback.extract_tb(tb)


def _is_machinery(filename: str) -> bool:
    return filename.startswith("<frozen ") or os.path.abspath(filename).startswith(_SERVER)


def _is_users(filename: str) -> bool:
    """A frame of the user's code: not vivace, the standard library, an installed
    package, or compiled code (whose frames name a relative ``.pyx`` file)."""
    if not os.path.isabs(filename):
        return False
    path = os.path.abspath(filename)
    return not path.startswith(_VIVACE) and not path.startswith(_LIBRARIES)


def _location(exc: BaseException) -> str | None:
    """``file, line N`` of the innermost frame of the user's code (or of any code)."""
    if isinstance(exc, SyntaxError) and exc.filename:
        return f"{_shown(exc.filename)}, line {exc.lineno}"
    frames = [f for f in _frames(exc.__traceback__) if not f.filename.startswith("<")]
    if not frames:
        return None
    users = [f for f in frames if _is_users(f.filename)]
    frame = users[-1] if users else frames[-1]
    return f"{_shown(frame.filename)}, line {frame.lineno}"


def cause_line(exc: BaseException) -> str:
    """``Type: message (file, line N)`` for an exception from the user's code."""
    message = exc.msg if isinstance(exc, SyntaxError) else str(exc)
    text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    where = _location(exc)
    return f"{text} ({where})" if where else text


def user_traceback(exc: BaseException) -> str:
    """The traceback from the first frame of the user's code on (without the event
    loop's, the import machinery's and the server's frames above it)."""
    shown = traceback.TracebackException.from_exception(exc)
    frames = list(shown.stack)
    first = next((i for i, f in enumerate(frames) if _is_users(f.filename)), None)
    if first is not None:
        kept = frames[first:]
    elif isinstance(exc, SyntaxError):
        kept = []  # the error itself names the file, line and text
    else:
        kept = [f for f in frames if not _is_machinery(f.filename)]
    shown.stack = traceback.StackSummary.from_list(kept)
    return "".join(shown.format())


def _in_server(exc: BaseException) -> bool:
    return not any(_is_users(f.filename) for f in _frames(exc.__traceback__))


def _from_import(exc: BaseException) -> bool:
    if isinstance(exc, SyntaxError):
        return True
    return any(f.filename.startswith("<frozen importlib") for f in _frames(exc.__traceback__))


def describe(exc: BaseException, app: object, *, factory: bool = False, where: str = "") -> Failure:
    """The ``Failure`` for an exception raised while the server started.

    ``app`` is the app reference (``module:attribute``), ``factory`` whether it names a
    factory, ``where`` the address the server was to listen on.
    """
    if isinstance(exc, LifespanFailure):
        cause = exc.__cause__
        if cause is not None:
            return Failure(
                f"lifespan {exc.phase} failed: {cause_line(cause)}", user_traceback(cause)
            )
        message = str(exc).strip()
        if "\n" in message:  # the app reported a traceback as its failure message
            return Failure(
                f"lifespan {exc.phase} failed: {message.splitlines()[-1]}", message + "\n"
            )
        return Failure(f"lifespan {exc.phase} failed: {message}")
    if isinstance(exc, ServerError):
        return Failure(str(exc))
    if _from_import(exc):
        return Failure(f"could not import {app!r}: {cause_line(exc)}", user_traceback(exc))
    if isinstance(exc, OSError) and _in_server(exc):
        # Raised by the server itself, not by the app's code: binding the socket.
        return Failure(f"cannot listen on {where}: {exc}" if where else str(exc))
    if factory:
        return Failure(f"the app factory {app!r} raised {cause_line(exc)}", user_traceback(exc))
    return Failure(f"could not start {app!r}: {cause_line(exc)}", user_traceback(exc))
