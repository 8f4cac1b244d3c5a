"""The server: sockets, event loop, the sweep, signals and graceful shutdown.

``Server(config).serve()`` runs in the current event loop until ``should_exit`` is set
(by SIGINT/SIGTERM, ``limit_max_requests``, or the caller). ``run(app, **options)`` is
the one-call entry point, which also starts a supervisor for ``workers``/``reload``.

Graceful shutdown (SIGTERM, SIGINT): stop accepting; close idle connections; close
WebSockets with 1001 ("going away"); tell requests in flight that the client is leaving
(``receive()`` says ``http.disconnect`` once their body is read, so streams and long-polls
stop); let them finish (their responses say ``connection: close``) for up to
``timeout_graceful_shutdown`` seconds; then cancel what
is still running, close the remaining connections, and run the lifespan shutdown. A
second SIGINT exits at once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import stat
import sys
import threading
from collections.abc import Callable
from typing import Any

from vivace.server._config import Config
from vivace.server._lifespan import Lifespan
from vivace.server._protocol import HTTPProtocol, UpgradeHandler
from vivace.server._state import ServerState
from vivace.types import ASGIApp

__all__ = ["Server", "bind_sockets", "loop_factory", "run"]

logger = logging.getLogger("vivace.server")

HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop]:
    """The event loop constructor for ``--loop`` (``auto``: uvloop when installed)."""
    if name in ("auto", "uvloop"):
        try:
            import uvloop
        except ImportError:
            if name == "uvloop":
                from vivace.server._errors import ConfigError

                raise ConfigError(
                    "--loop uvloop needs uvloop: pip install 'vivace[standard]'", option="loop"
                ) from None
        else:
            return uvloop.new_event_loop
    return asyncio.new_event_loop


def bind_sockets(config: Config) -> list[socket.socket]:
    """Create the listening sockets for ``config`` (one, today)."""
    if config.fd is not None:
        sock = socket.socket(fileno=config.fd)
    elif config.uds is not None:
        path = config.uds
        if os.path.exists(path) and stat.S_ISSOCK(os.stat(path).st_mode):
            os.unlink(path)  # a stale socket file from an earlier run
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(path)
        except OSError:  # a missing folder, no permission: vivace run says so, exit 3
            sock.close()
            raise
        os.chmod(path, 0o666)
    else:
        family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        try:
            sock.bind((config.host, config.port))
        except OSError:
            sock.close()
            raise
    sock.listen(config.backlog)
    sock.setblocking(False)
    sock.set_inheritable(True)
    return [sock]


def _describe(sock: socket.socket, tls: bool) -> str:
    name = sock.getsockname()
    if isinstance(name, str):
        return f"unix:{name}"
    host, port = name[0], name[1]
    if ":" in host:
        host = f"[{host}]"
    return f"{'https' if tls else 'http'}://{host}:{port}"


def sweep(state: ServerState, late: float, interval: float) -> None:
    """Enforce the connections' deadlines; ``late`` is how far past its time this sweep ran.

    A sweep that runs much later than its interval means the event loop was held up (a
    long callback, an app that blocks, a starved process). Bytes that arrived meanwhile
    may still be unread: an idle keep-alive connection whose deadline passed during the
    stall may hold its next request in the socket, and closing it would lose that request.
    So the stall does not count against anyone: every deadline moves back by it, and
    nothing expires on this sweep; the loop reads what is waiting first.
    """
    connections = list(state.connections)
    if late > interval:
        for conn in connections:
            conn.postpone(late)
        return
    now = state.now
    for conn in connections:
        conn.check_deadline(now)


class Server:
    """An ASGI server for one process.

    >>> server = Server(Config("examples.app:app", port=0))
    >>> server.should_exit
    False

    Run it with ``asyncio.run(server.serve())`` (or ``server.run()``); ``server.started``
    is set once it listens and ``server.addresses`` then lists where.
    """

    def __init__(
        self, config: Config, upgrade_handlers: dict[bytes, UpgradeHandler] | None = None
    ) -> None:
        self.config = config
        self.upgrade_handlers = upgrade_handlers
        self.should_exit = False
        self.force_exit = False
        self.started = threading.Event()
        self.addresses: list[str] = []
        #: ``getsockname()`` of each listening socket, once started.
        self.bound: list[Any] = []
        self.state: ServerState | None = None
        self._servers: list[asyncio.Server] = []
        self._listening: list[socket.socket] = []
        self._accept: Callable[[socket.socket], Any] | None = None
        self._wakeup: asyncio.Event | None = None
        #: Called once the server listens (the worker uses it to tell the supervisor).
        self.on_started: Callable[[], None] | None = None

    def run(self, sockets: list[socket.socket] | None = None) -> None:
        """Run ``serve()`` in a new event loop (uvloop when configured and installed)."""
        with asyncio.Runner(loop_factory=loop_factory(self.config.loop)) as runner:
            runner.run(self.serve(sockets))

    def exit(self) -> None:
        """Ask the server to shut down gracefully (thread-safe)."""
        self.should_exit = True
        wakeup = self._wakeup
        if wakeup is not None and self.state is not None:
            try:
                self.state.loop.call_soon_threadsafe(wakeup.set)
            except RuntimeError:  # the loop already finished
                pass

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        """Serve until asked to exit; raises ``LifespanFailure`` if startup fails."""
        config = self.config
        loop = asyncio.get_running_loop()
        app = config.load_app()
        self._wakeup = asyncio.Event()
        state = self.state = ServerState(config, app, loop, self.upgrade_handlers)
        state.on_limit_max_requests = self._max_requests_reached
        ssl_context = config.ssl_context()
        own_sockets = sockets is None
        if sockets is None:
            sockets = bind_sockets(config)
        lifespan = Lifespan(app, config.lifespan)
        try:
            await lifespan.startup()
        except BaseException:
            if own_sockets:
                self._close_sockets(sockets)
            raise
        state.lifespan_state = lifespan.state
        try:
            # --http 2 serves HTTP/2 only: TLS offers only "h2", cleartext expects the
            # preface. Otherwise HTTPProtocol detects HTTP/2 (``_h2_upgrade``).
            factory: Callable[[], asyncio.Protocol] = lambda: HTTPProtocol(state)  # noqa: E731
            if config.http == "2":
                from vivace.server._h2_protocol import H2Protocol

                factory = lambda: H2Protocol(state)  # noqa: E731
            self._listening = sockets
            self._accept = lambda conn: loop.connect_accepted_socket(factory, conn, ssl=ssl_context)
            for sock in sockets:
                server = await loop.create_server(
                    factory,
                    sock=sock,
                    ssl=ssl_context,
                    backlog=config.backlog,
                )
                self._servers.append(server)
            self.addresses = [_describe(sock, ssl_context is not None) for sock in sockets]
            self.bound = [sock.getsockname() for sock in sockets]
            restore = self._install_signal_handlers(loop)
            try:
                for address in self.addresses:
                    logger.info(
                        "vivace serving on %s (pid %d, %s loop)",
                        address,
                        os.getpid(),
                        type(loop).__module__.split(".")[0],
                    )
                self.started.set()
                if self.on_started is not None:
                    self.on_started()
                await self._main_loop(state)
                await self._shutdown(state)
            finally:
                restore()
        finally:
            for server in self._servers:
                server.close()
            if own_sockets:
                self._close_sockets(sockets)
            self._servers.clear()
            if state.access is not None:
                state.access.flush()  # lines of the last loop iteration: none is lost
        await lifespan.shutdown()

    def _close_sockets(self, sockets: list[socket.socket]) -> None:
        for sock in sockets:
            sock.close()
        if self.config.uds is not None:
            try:
                os.unlink(self.config.uds)
            except OSError:
                pass

    def _tick_interval(self) -> float:
        config = self.config
        shortest = min(
            t for t in (config.timeout_keep_alive, config.timeout_request_head, 4.0) if t > 0
        )
        return min(1.0, max(0.02, shortest / 4))

    async def _main_loop(self, state: ServerState) -> None:
        interval = self._tick_interval()
        wakeup = self._wakeup
        assert wakeup is not None
        last = state.loop.time()
        while not self.should_exit:
            try:
                await asyncio.wait_for(wakeup.wait(), interval)
            except TimeoutError:
                pass
            wakeup.clear()
            state.tick()
            sweep(state, state.now - last - interval, interval)
            last = state.now

    async def _shutdown(self, state: ServerState) -> None:
        state.shutting_down = True
        accepted = self._accept_queued()
        for server in self._servers:
            server.close()
        if accepted:
            await asyncio.gather(*accepted, return_exceptions=True)
        for conn in list(state.connections):
            conn.shutdown()
        for websocket in list(state.websockets):
            websocket.shutdown()  # a close frame with 1001, "going away"
        deadline = state.loop.time() + self.config.timeout_graceful_shutdown
        while (
            (state.connections or state.websockets)
            and not self.force_exit
            and state.loop.time() < deadline
        ):
            await asyncio.sleep(0.02)
            state.tick()
            sweep(state, 0.0, 1.0)  # quiet connections close when their grace ends
        if state.websockets:
            for websocket in list(state.websockets):
                websocket.abort()
            await asyncio.sleep(0)
        if state.connections:
            # A second SIGINT ends the wait at once: said so, not as a timeout.
            why = "second interrupt" if self.force_exit else "graceful shutdown timed out"
            logger.warning(
                "%s: cancelling %d connection(s) still busy", why, len(state.connections)
            )
            for conn in list(state.connections):
                if conn.host_busy:
                    conn.host.cancel()
                for task in list(conn.tasks):
                    task.cancel()
            await asyncio.sleep(0.05)
            for conn in list(state.connections):
                conn.abort(why)
            await asyncio.sleep(0)

    def _accept_queued(self) -> list[Any]:
        """Accept the connections the kernel has queued on the listening sockets.

        Closing a listening socket resets the connections still in its queue, requests
        already sent on them included (under load, a few every shutdown: bench/restarts.py
        sigterm). So the queue is emptied first; those connections are served like the
        others during the shutdown (their first response closes them). What the kernel
        completes between this and the close, microseconds later, is still reset.
        """
        accept = self._accept
        if accept is None:
            return []
        pending = []
        for sock in self._listening:
            while True:
                try:
                    conn, _ = sock.accept()
                except OSError:  # BlockingIOError: the queue is empty
                    break
                conn.setblocking(False)
                pending.append(accept(conn))
        return pending

    def _max_requests_reached(self) -> None:
        if not self.should_exit:
            logger.info("limit_max_requests reached: shutting down")
            self.exit()

    def _install_signal_handlers(self, loop: asyncio.AbstractEventLoop) -> Callable[[], None]:
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        installed: list[signal.Signals] = []
        for sig in HANDLED_SIGNALS:
            try:
                loop.add_signal_handler(sig, self._on_signal, sig)
            except (NotImplementedError, RuntimeError):  # pragma: no cover - not on Unix
                continue
            installed.append(sig)

        def restore() -> None:
            for sig in installed:
                loop.remove_signal_handler(sig)

        return restore

    def _on_signal(self, sig: signal.Signals) -> None:
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True
            logger.info("received %s again: closing every connection now", sig.name)
        else:
            logger.info("received %s: shutting down", sig.name)
        self.exit()


def run(app: ASGIApp | str, **options: Any) -> None:
    """Serve ``app`` until interrupted: ``vivace.server.run("module:app", port=8000)``.

    Takes every option of ``Config``; with ``workers > 1`` or ``reload=True`` it runs a
    supervisor that starts worker processes (``app`` must then be an import string).
    """
    config = Config(app, **options)
    config.configure_logging()
    if config.supervised:
        from vivace.server._supervisor import Supervisor

        sys.exit(Supervisor(config).run())
    Server(config).run()
