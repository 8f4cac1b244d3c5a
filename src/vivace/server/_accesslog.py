"""The access log: one line per response on the ``vivace.access`` logger, cheaply.

The format is %-style with named keys (``--access-log-format``). Everything that comes
from the request (path, user agent, referer) is escaped: control characters (C0, DEL and
C1) become ``\\xNN`` so a client cannot forge log lines or send terminal escapes.

    >>> escape("/a\\r\\nINFO: fake\\x1b[31m")
    '/a\\\\x0d\\\\x0aINFO: fake\\\\x1b[31m'

Theory of operation. Going through ``logging`` for every response costs more than
serving it (a ``LogRecord``, the handler lock, a formatter, a ``write`` and a ``flush``
system call per line). So:

* The format is compiled once into a function that computes only the fields it uses
  and applies the format to a tuple. Client addresses, methods and request targets
  repeat, so their escaped forms are cached (bounded caches).
* Lines are buffered, and written once per event-loop iteration (``loop.call_soon``)
  or when ``flush()`` is called (the server flushes at shutdown, so no line is lost).
* At a flush, each handler of the logger (and its ancestors, as ``logging`` would pick
  them) gets the batch. A plain ``StreamHandler``/``FileHandler`` with the stock
  ``Formatter`` gets one ``write`` of all lines: the formatter is applied once to a
  record whose message is a marker, and the text around the marker wraps every line,
  so the output is what one record per line would have produced. Any other handler
  (or a logger with filters) gets one record per line through ``Handler.handle``.

Access lines are therefore written at the end of the loop iteration that answered the
request, possibly after other log lines of that iteration.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from typing import Any

__all__ = ["AccessLogger", "compile_format", "escape"]

_ESCAPES = {c: f"\\x{c:02x}" for c in (*range(0x20), *range(0x7F, 0xA0))}
_ESCAPES[ord("\\")] = "\\\\"


def escape(text: str) -> str:
    """Replace control characters (and backslash) with visible escapes."""
    return text.translate(_ESCAPES)


# A "%" starts "%%", a named specifier "%(key)..." or (an error here) an unnamed one.
_PERCENT = re.compile(r"%(?:(%)|\((\w+)\))?")
FIELDS = (
    "client",
    "method",
    "path",
    "http_version",
    "request_line",
    "status",
    "bytes",
    "duration_ms",
    "user_agent",
    "referer",
)
_CACHE_MAX = 1024

#: What ``log`` receives, in order, and what a compiled format takes.
LineFunction = Callable[
    [
        "tuple[str, int] | None",
        str,
        bytes,
        bytes,
        str,
        int,
        int,
        float,
        "list[tuple[bytes, bytes]]",
    ],
    str,
]

# Source of the computation of each field, in an order where every field comes after
# the ones it uses. Only the fields a format names (and what they need) are computed.
_NEEDS = {"request_line": ("method", "path"), "referer": ("user_agent",)}
_SOURCE = {
    "client": (
        "    client_s = clients.get(client)\n"
        "    if client_s is None:\n"
        "        client_s = escape(f'{client[0]}:{client[1]}') if client else '-'\n"
        "        if len(clients) < CACHE_MAX:\n"
        "            clients[client] = client_s\n"
    ),
    "method": (
        "    method_s = methods.get(method)\n"
        "    if method_s is None:\n"
        "        method_s = escape(method)\n"
        "        if len(methods) < CACHE_MAX:\n"
        "            methods[method] = method_s\n"
    ),
    "path": (
        "    target = raw_path + b'?' + query if query else raw_path\n"
        "    path_s = targets.get(target)\n"
        "    if path_s is None:\n"
        "        path_s = escape(target.decode('latin-1'))\n"
        "        if len(targets) < CACHE_MAX:\n"
        "            targets[target] = path_s\n"
    ),
    "request_line": "    request_line_s = f'{method_s} {path_s} HTTP/{http_version}'\n",
    "duration_ms": "    duration_ms_s = f'{duration * 1000:.2f}'\n",
    "user_agent": (
        "    user_agent_s = referer_s = '-'\n"
        "    for name, value in headers:\n"
        "        if name == b'user-agent':\n"
        "            user_agent_s = escape(value.decode('latin-1'))\n"
        "        elif name == b'referer':\n"
        "            referer_s = escape(value.decode('latin-1'))\n"
    ),
}
_VALUES = {
    "client": "client_s",
    "method": "method_s",
    "path": "path_s",
    "http_version": "http_version",
    "request_line": "request_line_s",
    "status": "status",
    "bytes": "size",
    "duration_ms": "duration_ms_s",
    "user_agent": "user_agent_s",
    "referer": "referer_s",
}


def _bad_format(error: Exception) -> LineFunction:
    def line(
        client: tuple[str, int] | None,
        method: str,
        raw_path: bytes,
        query: bytes,
        http_version: str,
        status: int,
        size: int,
        duration: float,
        headers: list[tuple[bytes, bytes]],
    ) -> str:
        return f"{escape(method)} {status} (bad access log format: {error!r})"

    return line


def _keys(fmt: str) -> tuple[list[str] | None, str]:
    """The keys a format names, in order, and the format with them made positional.

    Keys are ``None`` if a specifier has no key (the format is then refused).
    """
    keys: list[str] = []
    parts: list[str] = []
    start = 0
    for match in _PERCENT.finditer(fmt):
        if match.group(1) is None:
            key = match.group(2)
            if key is None:
                return None, fmt
            keys.append(key)
            parts.append(fmt[start : match.start()] + "%")
            start = match.end()
    parts.append(fmt[start:])
    return keys, "".join(parts)


def compile_format(fmt: str) -> LineFunction:
    """Compile an access log format into a function from the response's facts to a line.

    A format that names an unknown key, or is not a valid %-format with named keys,
    compiles to a function that says so in each line (the server still runs).

    >>> line = compile_format('%(client)s "%(request_line)s" %(status)s')
    >>> line(("10.0.0.1", 5), "GET", b"/a\\nb", b"q=1", "1.1", 200, 5, 0.001, [])
    '10.0.0.1:5 "GET /a\\\\x0ab?q=1 HTTP/1.1" 200'
    """
    order, positional = _keys(fmt)
    sample: dict[str, Any] = dict.fromkeys(FIELDS, "")
    sample.update(status=200, bytes=0)
    try:  # validates the format: unknown keys, bad specifiers
        if order is None:
            raise TypeError("every specifier needs a key: %(key)s")
        fmt % sample
    except (KeyError, ValueError, TypeError) as exc:
        return _bad_format(exc)
    wanted: list[str] = []
    for key in order:
        for need in (*_NEEDS.get(key, ()), key):
            if need not in wanted:
                wanted.append(need)
    body = "".join(_SOURCE[key] for key in _SOURCE if key in wanted)
    values = "".join(f"{_VALUES[key]}, " for key in order)
    # The generated source only holds the fixed snippets above and identifiers from
    # _VALUES; the user's format is a constant in the namespace, never source text.
    source = (
        "def line(client, method, raw_path, query, http_version, status, size, duration,"
        " headers):\n" + body + f"    return FORMAT % ({values})\n"
    )
    namespace: dict[str, Any] = {
        "FORMAT": positional,
        "escape": escape,
        "clients": {},
        "methods": {},
        "targets": {},
        "CACHE_MAX": _CACHE_MAX,
    }
    exec(compile(source, "<vivace access log format>", "exec"), namespace)
    function: LineFunction = namespace["line"]
    return function


_MARK = "\x00vivace-access-line\x00"
_PLAIN_HANDLERS = (logging.StreamHandler, logging.FileHandler)
_PLAIN_FORMATTERS = (logging.Formatter, type(None))


class AccessLogger:
    """Formats access lines and writes them in batches; created once per server.

    With a ``loop``, lines are written at the end of the loop iteration that logged
    them; without one, at once. Call ``flush()`` before the loop stops.
    """

    __slots__ = ("_buffer", "_line", "_logger", "_loop", "needs_duration")

    def __init__(
        self,
        fmt: str,
        logger: logging.Logger | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self._line = compile_format(fmt)
        self._logger = logger or logging.getLogger("vivace.access")
        self._loop = loop
        self._buffer: list[str] = []
        #: Whether the format shows the duration (else the server does not time requests).
        self.needs_duration = "duration_ms" in (_keys(fmt)[0] or ())

    @property
    def enabled(self) -> bool:
        return self._logger.isEnabledFor(logging.INFO)

    def log(
        self,
        client: tuple[str, int] | None,
        method: str,
        raw_path: bytes,
        query: bytes,
        http_version: str,
        status: int,
        size: int,
        duration: float,
        headers: list[tuple[bytes, bytes]],
    ) -> None:
        buffer = self._buffer
        buffer.append(
            self._line(
                client, method, raw_path, query, http_version, status, size, duration, headers
            )
        )
        if len(buffer) == 1:
            loop = self._loop
            if loop is None or loop.is_closed():
                self.flush()
            else:
                loop.call_soon(self.flush)

    def flush(self) -> None:
        """Write the buffered lines to the logger's handlers."""
        lines = self._buffer
        if not lines:
            return
        self._buffer = []
        logger = self._logger
        if not logger.isEnabledFor(logging.INFO):
            return
        if logger.filters:  # filters see records: give them one per line
            for line in lines:
                logger.handle(self._record(line))
            return
        current: logging.Logger | None = logger
        while current is not None:
            for handler in current.handlers:
                if handler.level <= logging.INFO:
                    self._emit(handler, lines)
            current = current.parent if current.propagate else None

    def _record(self, message: str) -> logging.LogRecord:
        logger = self._logger
        return logger.makeRecord(logger.name, logging.INFO, "", 0, message, (), None)

    def _emit(self, handler: logging.Handler, lines: list[str]) -> None:
        if (
            type(handler) in _PLAIN_HANDLERS
            and not handler.filters
            and type(handler.formatter) in _PLAIN_FORMATTERS
            and getattr(handler, "stream", None) is not None
        ):
            record = self._record(_MARK)
            try:
                text = handler.format(record)
            except Exception:
                handler.handleError(record)
                return
            prefix, mark, suffix = text.partition(_MARK)
            if mark and _MARK not in suffix:
                end = suffix + handler.terminator  # type: ignore[attr-defined]
                data = prefix + (end + prefix).join(lines) + end
                handler.acquire()
                try:
                    handler.stream.write(data)  # type: ignore[attr-defined]
                    handler.flush()
                except Exception:
                    handler.handleError(record)
                finally:
                    handler.release()
                return
        for line in lines:
            handler.handle(self._record(line))
