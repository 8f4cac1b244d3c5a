"""Server options: one table drives the Python API, the CLI and ``VIVACE_*`` variables.

Every option is a row of ``OPTIONS``: its name, kind, default and help text. ``Config``
takes them as keyword arguments; an option not given falls back to the environment
variable ``VIVACE_<NAME>`` (for example ``VIVACE_PORT=9000``) and then to the default.
``vivace run`` builds its argparse flags from the same table, so the three can never
disagree.

    >>> Config("examples.app:app", port=9000).port
    9000
    >>> Config("examples.app:app", port="x")
    Traceback (most recent call last):
        ...
    vivace.server._errors.ConfigError: option 'port': expected an integer, got 'x'
"""

from __future__ import annotations

import importlib
import inspect
import ipaddress
import logging
import os
import ssl
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from vivace.http._h2_frames import H2Limits
from vivace.server._errors import AppImportError, ConfigError
from vivace.types import ASGIApp

__all__ = ["OPTIONS", "Config", "Option", "import_from_string"]

# The TLS 1.2 cipher suites offered when HTTP/2 may be negotiated (see ``ssl_context``).
H2_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20"

LOG_LEVELS = {
    "critical": logging.CRITICAL,
    "error": logging.ERROR,
    "warning": logging.WARNING,
    "info": logging.INFO,
    "debug": logging.DEBUG,
    "trace": 5,
}

DEFAULT_ACCESS_LOG_FORMAT = '%(client)s - "%(request_line)s" %(status)s %(bytes)s %(duration_ms)s'


@dataclass(frozen=True, slots=True)
class Option:
    """One server option: the row from which the keyword, the flag and the variable come."""

    name: str
    kind: str  # "str", "int", "float", "bool", "list" or "choice"
    default: Any
    help: str
    choices: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    metavar: str | None = None

    @property
    def env(self) -> str:
        return "VIVACE_" + self.name.upper()

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


OPTIONS: tuple[Option, ...] = (
    Option("host", "str", "127.0.0.1", "bind to this address"),
    Option("port", "int", 8000, "bind to this TCP port (0 picks a free one)"),
    Option("uds", "str", None, "bind to this UNIX domain socket path", metavar="PATH"),
    Option("fd", "int", None, "serve on this already-bound socket file descriptor"),
    Option("backlog", "int", 2048, "listen() backlog"),
    Option("factory", "bool", False, "APP names a callable that returns the app"),
    Option("app_dir", "str", ".", "directory put first on sys.path to import APP"),
    Option("workers", "int", 1, "number of worker processes (a supervisor restarts them)"),
    Option("reload", "bool", False, "restart the worker when a watched file changes"),
    Option(
        "reload_dirs",
        "list",
        (),
        "directories to watch with --reload (default: the app dir)",
        aliases=("--reload-dir",),
    ),
    Option("reload_includes", "list", ("*.py",), "glob patterns of files to watch"),
    Option(
        "reload_excludes",
        "list",
        (".*", "__pycache__", "*.pyc", "site-packages", "node_modules", ".venv", "venv"),
        "glob patterns of files and directories not to watch",
    ),
    Option("reload_interval", "float", 0.25, "seconds between two scans of watched files"),
    Option("loop", "choice", "auto", "event loop", choices=("auto", "asyncio", "uvloop")),
    Option("lifespan", "choice", "auto", "ASGI lifespan", choices=("auto", "on", "off")),
    Option("ssl_certfile", "str", None, "TLS certificate chain (PEM)", metavar="PATH"),
    Option("ssl_keyfile", "str", None, "TLS private key (PEM)", metavar="PATH"),
    Option("ssl_keyfile_password", "str", None, "password of the TLS private key"),
    Option("ssl_ca_certs", "str", None, "CA certificates to verify clients", metavar="PATH"),
    Option(
        "ssl_cert_reqs",
        "choice",
        "none",
        "client certificates",
        choices=("none", "optional", "required"),
    ),
    Option(
        "ssl_ciphers",
        "str",
        None,
        "OpenSSL cipher string (default: Python's; with HTTP/2 its AEAD suites only)",
    ),
    Option("proxy_headers", "bool", True, "honour X-Forwarded-* and Forwarded from trusted peers"),
    Option(
        "forwarded_allow_ips",
        "list",
        ("127.0.0.1", "::1"),
        "peer addresses or networks whose proxy headers are trusted ('*' for all)",
    ),
    Option("root_path", "str", "", "ASGI root_path, for apps mounted below a path prefix"),
    Option(
        "log_level",
        "choice",
        "info",
        "log level",
        choices=("critical", "error", "warning", "info", "debug", "trace"),
    ),
    Option("access_log", "bool", True, "log one line per request to the 'vivace.access' logger"),
    Option(
        "access_log_format",
        "str",
        DEFAULT_ACCESS_LOG_FORMAT,
        "%-style format; keys: client, method, path, http_version, request_line, status, "
        "bytes, duration_ms, user_agent, referer",
    ),
    Option("server_header", "bool", True, "send 'server: vivace'"),
    Option("date_header", "bool", True, "send a Date header"),
    Option("limit_concurrency", "int", None, "answer 503 beyond this many open connections"),
    Option("limit_max_requests", "int", None, "stop the worker after this many requests"),
    Option("timeout_keep_alive", "float", 5.0, "seconds an idle keep-alive connection stays"),
    Option("timeout_request_head", "float", 10.0, "seconds to receive a request head (408)"),
    Option("timeout_graceful_shutdown", "float", 30.0, "seconds in-flight requests get at exit"),
    Option(
        "max_head_size",
        "int",
        65536,
        "largest request line + headers in bytes (431)",
        aliases=("--h11-max-incomplete-event-size",),
    ),
    Option("max_header_count", "int", 100, "most request header fields (431)"),
    Option("max_body_size", "int", None, "largest request body in bytes (413); none if unset"),
    Option(
        "http",
        "choice",
        "auto",
        "HTTP versions: auto (HTTP/1.1, and HTTP/2 by TLS ALPN, h2c prior knowledge or "
        "Upgrade), 1 (HTTP/1.1 only), 2 (HTTP/2 only)",
        choices=("auto", "1", "2"),
    ),
    Option("h2_max_concurrent_streams", "int", 128, "HTTP/2 streams a client may open at once"),
    Option("h2_initial_window_size", "int", 256 * 1024, "HTTP/2 flow-control window of a stream"),
    Option(
        "h2_connection_window_size",
        "int",
        16 * 1024 * 1024,
        "HTTP/2 flow-control window of a connection (bounds unread request bodies)",
    ),
    Option(
        "h2_max_header_list_size",
        "int",
        65536,
        "largest HTTP/2 request head, decoded (431 beyond)",
    ),
    Option(
        "h2_max_streams_per_connection",
        "int",
        10000,
        "HTTP/2 streams served on one connection before GOAWAY asks the client to reconnect",
    ),
    Option(
        "h2_send_timeout",
        "float",
        30.0,
        "seconds HTTP/2 data may wait for a peer's window or socket before the stream or "
        "connection is dropped",
    ),
    Option("ws", "bool", True, "serve WebSocket upgrades (RFC 6455)"),
    Option(
        "ws_max_size",
        "int",
        1024 * 1024,
        "largest incoming WebSocket message in bytes, after decompression (close 1009)",
    ),
    Option(
        "ws_ping_interval", "float", 20.0, "seconds between WebSocket keep-alive pings (0: off)"
    ),
    Option("ws_ping_timeout", "float", 20.0, "seconds a ping may wait for its pong (close 1011)"),
    Option("ws_close_timeout", "float", 5.0, "seconds a client has to answer our close frame"),
    Option(
        "ws_per_message_deflate", "bool", True, "offer permessage-deflate compression (RFC 7692)"
    ),
)

_BY_NAME = {option.name: option for option in OPTIONS}


def _convert(option: Option, value: Any) -> Any:
    """Turn a keyword or environment value into the option's kind, or raise ConfigError."""
    if value is None:
        return None
    kind = option.kind
    try:
        if kind == "bool":
            if isinstance(value, str):
                lowered = value.strip().lower()
                if lowered in ("1", "true", "yes", "on"):
                    return True
                if lowered in ("0", "false", "no", "off", ""):
                    return False
                raise ValueError
            return bool(value)
        if kind == "int":
            if isinstance(value, (bool, float)):
                raise ValueError
            return int(value)
        if kind == "float":
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if kind == "list":
            if isinstance(value, str):
                return tuple(part.strip() for part in value.split(",") if part.strip())
            return tuple(str(item) for item in value)
        if kind == "choice":
            if value not in option.choices:
                raise ValueError
            return value
        return str(value)
    except (TypeError, ValueError):
        expected = {
            "bool": "a boolean",
            "int": "an integer",
            "float": "a number",
            "choice": "one of " + ", ".join(option.choices),
        }.get(kind, "a value")
        raise ConfigError(
            f"option {option.name!r}: expected {expected}, got {value!r}", option=option.name
        ) from None


def import_from_string(target: str) -> Any:
    """Import ``"package.module:attribute"`` (the attribute may be dotted).

    >>> import_from_string("os.path:join").__name__
    'join'
    """
    module_name, sep, attrs = target.partition(":")
    if not sep or not module_name or not attrs:
        raise AppImportError(
            f"app reference {target!r} must look like 'module:attribute'", target=target
        )
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name and not module_name.startswith(f"{exc.name}."):
            raise  # a module the app itself imports is missing: show the real error
        raise AppImportError(f"could not import module {module_name!r}", target=target) from None
    obj: Any = module
    for attr in attrs.split("."):
        try:
            obj = getattr(obj, attr)
        except AttributeError:
            raise AppImportError(
                f"module {module_name!r} has no attribute {attrs!r}", target=target
            ) from None
    return obj


class Config:
    """All settings of one server; see ``OPTIONS`` for every keyword and its default.

    ``app`` is an ASGI callable or a ``"module:attribute"`` string (needed for
    ``workers > 1`` and ``reload``, where each worker process imports the app itself).

    >>> config = Config("examples.app:app", host="0.0.0.0", workers=2)
    >>> config.host, config.workers, config.timeout_keep_alive
    ('0.0.0.0', 2, 5.0)
    """

    host: str
    port: int
    uds: str | None
    fd: int | None
    backlog: int
    factory: bool
    app_dir: str | None
    workers: int
    reload: bool
    reload_dirs: tuple[str, ...]
    reload_includes: tuple[str, ...]
    reload_excludes: tuple[str, ...]
    reload_interval: float
    loop: str
    lifespan: str
    ssl_certfile: str | None
    ssl_keyfile: str | None
    ssl_keyfile_password: str | None
    ssl_ca_certs: str | None
    ssl_cert_reqs: str
    ssl_ciphers: str | None
    proxy_headers: bool
    forwarded_allow_ips: tuple[str, ...]
    root_path: str
    log_level: str
    access_log: bool
    access_log_format: str
    server_header: bool
    date_header: bool
    limit_concurrency: int | None
    limit_max_requests: int | None
    timeout_keep_alive: float
    timeout_request_head: float
    timeout_graceful_shutdown: float
    max_head_size: int
    max_header_count: int
    max_body_size: int | None
    http: str
    h2_max_concurrent_streams: int
    h2_initial_window_size: int
    h2_connection_window_size: int
    h2_max_header_list_size: int
    h2_max_streams_per_connection: int
    h2_send_timeout: float
    ws: bool
    ws_max_size: int
    ws_ping_interval: float
    ws_ping_timeout: float
    ws_close_timeout: float
    ws_per_message_deflate: bool

    def __init__(
        self,
        app: ASGIApp | str,
        *,
        env: Mapping[str, str] | None = None,
        **options: Any,
    ) -> None:
        unknown = set(options) - set(_BY_NAME)
        if unknown:
            raise TypeError(f"unknown server option(s): {', '.join(sorted(unknown))}")
        environ = os.environ if env is None else env
        self.app = app
        self.explicit = frozenset(options)
        for option in OPTIONS:
            if option.name in options:
                value = options[option.name]
            elif option.env in environ:
                value = environ[option.env]
            else:
                value = option.default
            setattr(self, option.name, _convert(option, value))
        self._validate()

    def _validate(self) -> None:
        positive = (
            "backlog",
            "workers",
            "max_head_size",
            "max_header_count",
            "limit_concurrency",
            "limit_max_requests",
            "max_body_size",
            "ws_max_size",
            "h2_max_concurrent_streams",
            "h2_max_streams_per_connection",
        )
        for name in positive:
            value = getattr(self, name)
            if value is not None and value < 1 and not (name == "max_body_size" and value == 0):
                raise ConfigError(f"option {name!r} must be at least 1, got {value}", option=name)
        for name in (
            "timeout_keep_alive",
            "timeout_request_head",
            "timeout_graceful_shutdown",
            "ws_ping_interval",
            "ws_ping_timeout",
            "ws_close_timeout",
            "h2_send_timeout",
        ):
            if getattr(self, name) < 0:
                raise ConfigError(f"option {name!r} cannot be negative", option=name)
        try:
            self.h2_limits()
        except ValueError as exc:
            raise ConfigError(str(exc), option="http") from None
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"port {self.port} is out of range", option="port")
        if (self.ssl_certfile is None) != (self.ssl_keyfile is None):
            raise ConfigError(
                "TLS needs both --ssl-certfile and --ssl-keyfile", option="ssl_certfile"
            )
        if self.uds is not None and self.fd is not None:
            raise ConfigError("--uds and --fd cannot be used together", option="uds")
        if (self.workers > 1 or self.reload) and not isinstance(self.app, str):
            raise ConfigError(
                "workers > 1 and reload need the app as an import string like 'module:app'",
                option="workers" if self.workers > 1 else "reload",
            )
        self.root_path = self.root_path.rstrip("/")
        if self.root_path and not self.root_path.startswith("/"):
            raise ConfigError(
                f"root_path {self.root_path!r} must start with '/'", option="root_path"
            )
        self.trusted_proxies = _parse_networks(self.forwarded_allow_ips)

    # -- derived settings ----------------------------------------------------------------

    @property
    def is_tls(self) -> bool:
        return self.ssl_certfile is not None

    @property
    def supervised(self) -> bool:
        """Whether a supervisor process runs workers (``workers > 1`` or ``reload``)."""
        return self.workers > 1 or self.reload

    def options(self) -> dict[str, Any]:
        """Every option as a keyword dict (what a worker process is started with)."""
        return {option.name: getattr(self, option.name) for option in OPTIONS}

    def load_app(self) -> ASGIApp:
        """Import the app (when given as a string) and call the factory if ``factory``."""
        app: Any = self.app
        if isinstance(app, str):
            if self.app_dir is not None:
                path = os.path.abspath(self.app_dir)
                if path not in sys.path:
                    sys.path.insert(0, path)
            app = import_from_string(app)
        if self.factory:
            if not callable(app):
                raise AppImportError(
                    "--factory given but the app is not callable", target=str(self.app)
                )
            app = app()
        if not callable(app):
            raise AppImportError(f"{self.app!r} is not a callable ASGI app", target=str(self.app))
        if not _is_asgi3(app):
            raise AppImportError(
                f"{self.app!r} is not an ASGI 3 app: it must take (scope, receive, send)",
                target=str(self.app),
            )
        return app  # type: ignore[no-any-return]

    def ssl_context(self) -> ssl.SSLContext | None:
        """The server-side TLS context, or ``None`` without ``ssl_certfile``."""
        if self.ssl_certfile is None:
            return None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        try:
            context.load_cert_chain(
                self.ssl_certfile, self.ssl_keyfile, password=self.ssl_keyfile_password
            )
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                f"cannot load TLS certificate: {exc}", option="ssl_certfile"
            ) from None
        context.verify_mode = {
            "none": ssl.CERT_NONE,
            "optional": ssl.CERT_OPTIONAL,
            "required": ssl.CERT_REQUIRED,
        }[self.ssl_cert_reqs]
        if self.ssl_ca_certs:
            context.load_verify_locations(self.ssl_ca_certs)
        if self.ssl_ciphers:
            context.set_ciphers(self.ssl_ciphers)
        elif self.http != "1":
            # RFC 9113 section 9.2.2: HTTP/2 over TLS 1.2 must not use the cipher suites of
            # its Appendix A (CBC, static RSA/DH key exchange, ...). Python's default list
            # has some (ECDH+AES with CBC): keep the ephemeral-key AEAD suites only, which
            # every browser and client of the last decade offers (TLS 1.3's suites are
            # AEAD anyway and not set here).
            context.set_ciphers(H2_CIPHERS)
        # RFC 9113 section 3.2: HTTP/2 over TLS is chosen by ALPN ("h2").
        context.set_alpn_protocols(
            {"1": ["http/1.1"], "2": ["h2"]}.get(self.http, ["h2", "http/1.1"])
        )
        return context

    def h2_limits(self) -> H2Limits:
        """The HTTP/2 limits these options ask for (``ValueError`` if one is out of range)."""
        return H2Limits(
            max_concurrent_streams=self.h2_max_concurrent_streams,
            initial_window_size=self.h2_initial_window_size,
            connection_window_size=self.h2_connection_window_size,
            max_header_list_size=self.h2_max_header_list_size,
            max_block_size=max(self.h2_max_header_list_size, 16384),
            max_streams_per_connection=self.h2_max_streams_per_connection,
            send_stall_timeout=self.h2_send_timeout,
            enable_connect_protocol=self.ws,
        )

    def configure_logging(self) -> None:
        """Give the ``vivace`` loggers a stderr handler unless the app configured its own."""
        level = LOG_LEVELS[self.log_level]
        root = logging.getLogger("vivace")
        if not root.handlers:
            handler = logging.StreamHandler()
            handler.setFormatter(logging.Formatter("%(levelname)s: [%(name)s] %(message)s"))
            root.addHandler(handler)
            root.propagate = False
        root.setLevel(level)
        access = logging.getLogger("vivace.access")
        access.setLevel(level if self.access_log else logging.CRITICAL + 1)


def _is_asgi3(app: Any) -> bool:
    """A best-effort check that ``app`` takes (scope, receive, send), like ASGI 3 apps."""
    if inspect.isclass(app):
        # An ASGI 2 class takes (scope) and returns an instance to call. A class whose
        # instances are awaitable and whose constructor takes (scope, receive, send), like
        # vivace.web's endpoint classes, is an ASGI 3 app.
        if not hasattr(app, "__await__"):
            return False
        target: Any = app
    elif inspect.isfunction(app) or inspect.ismethod(app):
        target = app
    else:
        target = app.__call__
    try:
        signature = inspect.signature(target)
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        return True
    positional = [
        p
        for p in signature.parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    if any(p.kind == p.VAR_POSITIONAL for p in signature.parameters.values()):
        return True
    return len(positional) >= 3


def _parse_networks(
    items: Sequence[str],
) -> tuple[bool, tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...], frozenset[str]]:
    """``forwarded_allow_ips`` as (trust everyone, networks, literal non-IP names)."""
    networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    literals: set[str] = set()
    trust_all = False
    for item in items:
        if item == "*":
            trust_all = True
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            literals.add(item)  # e.g. "unix:" for UNIX socket peers
    return trust_all, tuple(networks), frozenset(literals)
