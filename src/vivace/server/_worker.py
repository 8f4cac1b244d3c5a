"""Entry point of a worker process started by the supervisor.

The supervisor passes the listening sockets as inherited file descriptors, the options
as JSON in ``VIVACE_WORKER_CONFIG`` and a pipe in ``VIVACE_WORKER_READY_FD`` on which
the worker writes one byte once it serves. Exit status 3 means the worker could not
start (import error, lifespan startup failure).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys

from vivace.server._config import Config
from vivace.server._errors import ServerError
from vivace.server._server import Server

__all__ = ["STARTUP_FAILURE", "main"]

STARTUP_FAILURE = 3
logger = logging.getLogger("vivace.server")


def main() -> int:
    spec = json.loads(os.environ["VIVACE_WORKER_CONFIG"])
    fds = [int(fd) for fd in os.environ["VIVACE_WORKER_FDS"].split(",")]
    ready_fd = int(os.environ["VIVACE_WORKER_READY_FD"])
    options = spec["options"]
    options.update(workers=1, reload=False)
    config = Config(spec["app"], **options)
    config.configure_logging()
    sockets = [socket.socket(fileno=fd) for fd in fds]
    server = Server(config)

    def ready() -> None:
        os.write(ready_fd, b"1")
        os.close(ready_fd)

    server.on_started = ready
    try:
        server.run(sockets)
    except (ServerError, ImportError, SyntaxError) as exc:
        logger.error("worker %d could not start: %s", os.getpid(), exc)
        return STARTUP_FAILURE
    return 0


if __name__ == "__main__":  # pragma: no branch
    sys.exit(main())
