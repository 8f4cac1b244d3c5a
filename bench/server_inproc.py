"""The Python cost of one request in vivace's HTTP/1.1 protocol, without sockets.

wrk's numbers on this shared machine move by 10-20% between runs, and most of a
request's time there is the kernel (the write and read system calls on loopback). This
harness measures only what vivace's code adds: 64 ``HTTPProtocol`` objects with a
transport that drops what is written are fed wrk's request (``GET <path> HTTP/1.1`` with
a Host field) from loop callbacks, as uvloop would deliver them, one loop iteration per
round of 64; the app is bench/apps/techempower.py (behind ``echo_app`` below). It prints
the best (minimum) time per request over the repetitions, which is the steadiest figure on
a busy machine (with short repetitions, ``--rounds 20 --repeat 300``, steadier still)::

    flock /tmp/vivace-bench.lock .venv/bin/python bench/server_inproc.py
    flock /tmp/vivace-bench.lock .venv/bin/python bench/server_inproc.py --access-log

``--app module:attr`` serves another app from bench/ instead, for example the
vivace.web app of bench/web.py (``--app web_apps:vivace_app --paths /plaintext,/json``):
then the figure is server and framework together.
A path given as ``POST /path`` is sent as wrk's POST script sends it (bench/web.py): head
and body in one piece of data, ``Content-Type: application/json`` and a Content-Length,
the body the 20-field order of bench/web_typed_apps.py (``--body`` for another one). With
no ``--app``, such a request goes to ``echo_app`` below (a raw ASGI app that reads the
body and echoes it), so the figure is the server's body path::

    flock /tmp/vivace-bench.lock .venv/bin/python bench/server_inproc.py --paths "POST /echo"
    flock /tmp/vivace-bench.lock .venv/bin/python bench/server_inproc.py \
        --app web_typed_apps:vivace_app --paths "GET /items/42?q=shoes&limit=20,POST /orders"

``--access-log`` turns the access log on with ``vivace run``'s handler writing to
/dev/null. ``--profile`` runs it under cProfile and prints the top functions (the times
are then inflated by the profiler; compare them with each other only).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import importlib
import logging
import os
import pstats
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from apps import techempower
from web_typed_apps import ORDER_BODY

from vivace.server import Config
from vivace.server._protocol import HTTPProtocol
from vivace.server._server import loop_factory
from vivace.server._state import ServerState

CONNECTIONS = 64


class NullTransport(asyncio.Transport):
    """Counts writes and drops the bytes."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0
        self.extra = {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}

    def write(self, data: Any) -> None:
        self.writes += 1

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.extra.get(name, default)

    def is_closing(self) -> bool:
        return False

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def close(self) -> None:
        pass


ECHO_START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [(b"content-type", b"application/json")],
}


async def echo_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Reads the whole request body and answers it back (techempower.app otherwise)."""
    if scope["method"] != "POST":
        await techempower.app(scope, receive, send)
        return
    chunks = []
    more = True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    await send(ECHO_START)
    await send({"type": "http.response.body", "body": b"".join(chunks)})


def load_app(spec: str) -> Any:
    if not spec:
        return echo_app
    module, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module), attr)


def wire_request(spec: str, body: bytes) -> bytes:
    """wrk's request for ``path`` or ``POST path`` (one piece of data, as wrk writes it)."""
    method, _, path = spec.rpartition(" ")
    if method in ("", "GET"):
        return b"GET %s HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n" % path.encode()
    return (
        b"%s %s HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Length: %d\r\n"
        b"Content-Type: application/json\r\n\r\n%s"
        % (method.encode(), path.encode(), len(body), body)
    )


async def measure(app: Any, request: bytes, rounds: int, repeat: int, access_log: bool) -> float:
    loop = asyncio.get_running_loop()
    config = Config(app, access_log=access_log)
    if access_log:
        config.configure_logging()  # what `vivace run` does: a stderr handler...
        handler = logging.getLogger("vivace").handlers[0]
        assert isinstance(handler, logging.StreamHandler)
        handler.setStream(open(os.devnull, "w"))  # noqa: SIM115 - ...to /dev/null
    state = ServerState(config, app, loop)
    protocols = []
    transports = []
    for _ in range(CONNECTIONS):
        protocol = HTTPProtocol(state)
        transport = NullTransport()
        protocol.connection_made(transport)
        protocols.append(protocol)
        transports.append(transport)

    def feed() -> None:
        for protocol in protocols:
            protocol.data_received(request)

    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(rounds):
            loop.call_soon(feed)  # outside any Task, as the loop calls data_received
            await asyncio.sleep(0)
        best = min(best, (time.perf_counter() - start) / (rounds * CONNECTIONS))
    assert sum(t.writes for t in transports) == repeat * rounds * CONNECTIONS
    for protocol in protocols:  # their host Tasks end before the loop closes
        protocol.connection_lost(None)
    await asyncio.sleep(0)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--paths", default="/plaintext,/json", help="comma-separated: /path or POST /path"
    )
    parser.add_argument("--body", default=ORDER_BODY, help="the body of a POST")
    parser.add_argument("--rounds", type=int, default=1000, help="rounds of 64 requests")
    parser.add_argument("--repeat", type=int, default=20, help="repetitions (min is kept)")
    parser.add_argument("--access-log", action="store_true")
    parser.add_argument("--app", default="", help="module:attr in bench/ (default: techempower)")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    run = asyncio.Runner(loop_factory=loop_factory("auto"))
    app = load_app(args.app)
    for path in args.paths.split(","):
        request = wire_request(path, args.body.encode())
        coro = measure(app, request, args.rounds, args.repeat, args.access_log)
        if args.profile:
            profiler = cProfile.Profile()
            profiler.enable()
            run.run(coro)
            profiler.disable()
            pstats.Stats(profiler).sort_stats("tottime").print_stats(20)
            continue
        best = run.run(coro)
        log = "on" if args.access_log else "off"
        print(f"{path:16} access log {log}: {best * 1e6:.2f} us/request (min of {args.repeat})")
    run.close()


if __name__ == "__main__":
    main()
