"""The access log: one line per response on the ``vivace.access`` logger.

The format is %-style with named keys (``--access-log-format``). Everything that comes
from the request (path, user agent, referer) is escaped: control characters (C0, DEL and
C1) become ``\\xNN`` so a client cannot forge log lines or send terminal escapes.

    >>> escape("/a\\r\\nINFO: fake\\x1b[31m")
    '/a\\\\x0d\\\\x0aINFO: fake\\\\x1b[31m'
"""

from __future__ import annotations

import logging
from typing import Any

__all__ = ["AccessLogger", "escape"]

_ESCAPES = {c: f"\\x{c:02x}" for c in (*range(0x20), *range(0x7F, 0xA0))}
_ESCAPES[ord("\\")] = "\\\\"


def escape(text: str) -> str:
    """Replace control characters (and backslash) with visible escapes."""
    return text.translate(_ESCAPES)


class AccessLogger:
    """Formats and emits access log records; created once per server."""

    __slots__ = ("_format", "_logger")

    def __init__(self, fmt: str, logger: logging.Logger | None = None) -> None:
        self._format = fmt
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
        user_agent = referer = b"-"
        for name, value in headers:
            if name == b"user-agent":
                user_agent = value
            elif name == b"referer":
                referer = value
        target = raw_path + b"?" + query if query else raw_path
        path = escape(target.decode("latin-1"))
        method = escape(method)
        fields: dict[str, Any] = {
            "client": escape(f"{client[0]}:{client[1]}") if client else "-",
            "method": method,
            "path": path,
            "http_version": http_version,
            "request_line": f"{method} {path} HTTP/{http_version}",
            "status": status,
            "bytes": size,
            "duration_ms": f"{duration * 1000:.2f}",
            "user_agent": escape(user_agent.decode("latin-1")),
            "referer": escape(referer.decode("latin-1")),
        }
        try:
            message = self._format % fields
        except (KeyError, ValueError, TypeError) as exc:
            message = f"{fields['request_line']} {status} (bad access log format: {exc})"
        self._logger.info(message)
