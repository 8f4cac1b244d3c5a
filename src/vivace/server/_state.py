"""What every connection of one server shares: settings in the form the hot path wants
them, counters, and the once-a-tick clock and default header lines."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from vivace.http import format_http_date
from vivace.server._accesslog import AccessLogger
from vivace.server._config import Config
from vivace.types import ASGIApp

if TYPE_CHECKING:
    from vivace.server._h2_protocol import H2Protocol
    from vivace.server._protocol import HTTPProtocol, UpgradeHandler
    from vivace.server._websocket import WebSocketProtocol

__all__ = ["ServerState"]


class ServerState:
    """Shared by all connections of a server; the sweep (``tick``) keeps it current."""

    __slots__ = (
        "_second",
        "access",
        "active",
        "app",
        "config",
        "connections",
        "date_header",
        "default_lines",
        "h2_limits",
        "h2c",
        "lifespan_state",
        "limit_concurrency",
        "limit_max_requests",
        "loop",
        "max_body_size",
        "max_head_size",
        "max_header_count",
        "now",
        "on_limit_max_requests",
        "proxy_headers",
        "requests",
        "root_path",
        "server_header",
        "shutting_down",
        "targets",
        "timeout_keep_alive",
        "timeout_request_head",
        "trust",
        "upgrade_handlers",
        "websockets",
    )

    def __init__(
        self,
        config: Config,
        app: ASGIApp,
        loop: asyncio.AbstractEventLoop,
        upgrade_handlers: dict[bytes, UpgradeHandler] | None = None,
    ) -> None:
        self.config = config
        self.app = app
        self.loop = loop
        self.connections: set[HTTPProtocol | H2Protocol] = set()
        self.active = 0
        self.requests = 0
        self.shutting_down = False
        self.lifespan_state: dict[str, Any] = {}
        self.access = (
            AccessLogger(config.access_log_format, loop=loop) if config.access_log else None
        )
        if self.access is not None and not self.access.enabled:
            self.access = None
        self.limit_concurrency = config.limit_concurrency
        self.limit_max_requests = config.limit_max_requests
        self.on_limit_max_requests: Callable[[], None] | None = None
        self.max_body_size = config.max_body_size
        self.max_head_size = config.max_head_size
        self.max_header_count = config.max_header_count
        self.timeout_keep_alive = config.timeout_keep_alive
        self.timeout_request_head = config.timeout_request_head
        self.proxy_headers = config.proxy_headers
        self.trust = config.trusted_proxies
        self.root_path = config.root_path
        self.targets: dict[bytes, tuple[str, bytes, bytes]] = {}
        self.server_header = b"server: vivace\r\n" if config.server_header else b""
        self.date_header = config.date_header
        self.upgrade_handlers = dict(upgrade_handlers) if upgrade_handlers is not None else {}
        #: Open WebSocket connections (no longer HTTP connections: closed at shutdown).
        self.websockets: set[WebSocketProtocol] = set()
        if config.ws and b"websocket" not in self.upgrade_handlers:
            from vivace.server._websocket import upgrade_handler

            self.upgrade_handlers[b"websocket"] = upgrade_handler(self)
        # HTTP/2 (``--http``): None when off; h2c: the cleartext listener detects it too.
        self.h2_limits = config.h2_limits() if config.http != "1" else None
        self.h2c = self.h2_limits is not None
        if config.http == "auto" and b"h2c" not in self.upgrade_handlers:
            from vivace.server._h2_upgrade import upgrade_handler as h2c_handler

            self.upgrade_handlers[b"h2c"] = h2c_handler(self)
        self._second = -1
        self.default_lines = b""
        self.now = loop.time()
        self.tick()

    def tick(self) -> None:
        """Advance the coarse clock and refresh the Date line (once a second at most)."""
        self.now = self.loop.time()
        second = int(time.time())
        if second != self._second:
            self._second = second
            lines = self.server_header
            if self.date_header:
                lines += b"date: " + format_http_date(second).encode("ascii") + b"\r\n"
            self.default_lines = lines
