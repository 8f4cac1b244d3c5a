"""The access log: one line per response on the ``vivace.access`` logger.

The format is %-style with named keys (``--access-log-format``). Everything that comes
from the request (path, user agent, referer) is escaped: control characters (C0, DEL and
C1) become ``\\xNN`` so a client cannot forge log lines or send terminal escapes.

    >>> escape("/a\\r\\nINFO: fake\\x1b[31m")
    '/a\\\\x0d\\\\x0aINFO: fake\\\\x1b[31m'
"""

from __future__ import annotations

import logging
import re
from typing import Any

__all__ = ["AccessLogger", "escape"]

_ESCAPES = {c: f"\\x{c:02x}" for c in (*range(0x20), *range(0x7F, 0xA0))}
_ESCAPES[ord("\\")] = "\\\\"


def escape(text: str) -> str:
    """Replace control characters (and backslash) with visible escapes."""
    return text.translate(_ESCAPES)


_KEYS = re.compile(r"%\((\w+)\)")


class AccessLogger:
    """Formats and emits access log records; created once per server.

    Only the fields the format uses are computed, and records are handed to the logger's
    handlers directly (``Logger.handle``), skipping the caller lookup ``Logger.info``
    does for every line, which is most of the cost of a log line.
    """

    __slots__ = ("_format", "_keys", "_logger")

    def __init__(self, fmt: str, logger: logging.Logger | None = None) -> None:
        self._format = fmt
        self._keys = frozenset(_KEYS.findall(fmt))
        self._logger = logger or logging.getLogger("vivace.access")

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
        logger = self._logger
        if not logger.isEnabledFor(logging.INFO):
            return
        keys = self._keys
        fields: dict[str, Any] = {"status": status, "bytes": size, "http_version": http_version}
        if "client" in keys:
            fields["client"] = escape(f"{client[0]}:{client[1]}") if client else "-"
        if keys & {"method", "path", "request_line"}:
            target = raw_path + b"?" + query if query else raw_path
            path = fields["path"] = escape(target.decode("latin-1"))
            method = fields["method"] = escape(method)
            fields["request_line"] = f"{method} {path} HTTP/{http_version}"
        if "duration_ms" in keys:
            fields["duration_ms"] = f"{duration * 1000:.2f}"
        if keys & {"user_agent", "referer"}:
            user_agent = referer = b"-"
            for name, value in headers:
                if name == b"user-agent":
                    user_agent = value
                elif name == b"referer":
                    referer = value
            fields["user_agent"] = escape(user_agent.decode("latin-1"))
            fields["referer"] = escape(referer.decode("latin-1"))
        try:
            message = self._format % fields
        except (KeyError, ValueError, TypeError) as exc:
            message = f"{escape(method)} {status} (bad access log format: {exc!r})"
        logger.handle(logger.makeRecord(logger.name, logging.INFO, "", 0, message, (), None))
