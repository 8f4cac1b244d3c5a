"""vivace.server: the ASGI server (HTTP/1.1 on httptools, uvloop when installed).

Run an app from Python::

    from vivace.server import run
    run("myproject.app:app", port=8000, workers=4)

or embed the server in your own event loop::

    >>> config = Config("examples.app:app", port=0, access_log=False)
    >>> server = Server(config)          # then: await server.serve()
    >>> config.max_head_size, config.timeout_request_head
    (65536, 10.0)

The command line is ``vivace run module:app``; see docs/server.md for every option.
"""

from vivace.server._config import OPTIONS, Config, Option, import_from_string
from vivace.server._errors import (
    AppImportError,
    ClientDisconnected,
    ConfigError,
    LifespanFailure,
    ProtocolViolation,
    ServerError,
)
from vivace.server._protocol import HTTPProtocol, UpgradeHandler
from vivace.server._server import Server, run

__all__ = [
    "OPTIONS",
    "AppImportError",
    "ClientDisconnected",
    "Config",
    "ConfigError",
    "HTTPProtocol",
    "LifespanFailure",
    "Option",
    "ProtocolViolation",
    "Server",
    "ServerError",
    "UpgradeHandler",
    "import_from_string",
    "run",
]
