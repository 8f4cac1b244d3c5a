"""Entry point of a worker process started by the supervisor.

The supervisor passes the listening sockets as inherited file descriptors, the options
as JSON in ``VIVACE_WORKER_CONFIG`` and a pipe in ``VIVACE_WORKER_READY_FD`` on which
the worker writes one byte, ``1``, once it serves.  A worker that cannot start (import
error, factory or lifespan startup failure) writes ``0`` followed by its start-up report
(``_startup.Failure`` as JSON) instead, prints nothing itself, and exits with status 3:
the supervisor prints each distinct report once, however many workers failed.
"""

from __future__ import annotations

import json
import os
import socket
import sys

from vivace.server._config import Config
from vivace.server._errors import LifespanFailure
from vivace.server._server import Server
from vivace.server._startup import describe

__all__ = ["STARTUP_FAILURE", "main"]

STARTUP_FAILURE = 3


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

    def tell(message: bytes) -> None:
        view = memoryview(message)
        while view:
            view = view[os.write(ready_fd, view) :]
        os.close(ready_fd)

    server.on_started = lambda: tell(b"1")
    try:
        server.run(sockets)
    except Exception as exc:
        if server.started.is_set():
            if isinstance(exc, LifespanFailure):  # its traceback is logged: one line (_cli)
                print(f"vivace: lifespan {exc.phase} failed: {exc}", file=sys.stderr)
                return 1
            raise  # a failure while serving: the full traceback, exit status 1
        failure = describe(exc, spec["app"], factory=config.factory)
        tell(b"0" + failure.to_bytes())
        return STARTUP_FAILURE
    return 0


if __name__ == "__main__":  # pragma: no branch
    sys.exit(main())
