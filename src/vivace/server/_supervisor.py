"""The supervisor: worker processes for ``--workers N`` and ``--reload``.

The supervisor binds the listening sockets once and starts each worker as a fresh
interpreter (``python -m vivace.server._worker``) that inherits them, so all workers
accept on the same socket and a restarted worker imports the code anew.

* A worker that dies unexpectedly is replaced (with a growing pause if replacements keep
  failing to start, so a broken deployment does not spin).
* SIGHUP: rolling restart. One slot at a time, a new worker is started; once it serves,
  the old one gets SIGTERM and finishes its requests. If the new one cannot start, the
  old one keeps serving and the restart stops there.
* ``--reload``: the same rolling restart whenever a watched file changes.
* SIGTERM/SIGINT: every worker gets SIGTERM (graceful shutdown); workers still alive
  ``timeout_graceful_shutdown`` + 5 s later are killed.

Exit status: 0 after a clean stop, 3 when the workers cannot start in the first place;
``failure`` then holds the workers' start-up report (``_startup.Failure``), which
``vivace run`` prints once.  A worker that fails later (a replacement, a rolling restart)
has its report logged, each distinct report once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import sys
import time
from typing import Any

from vivace.server._config import Config
from vivace.server._reload import FileWatcher
from vivace.server._server import bind_sockets
from vivace.server._startup import Failure

__all__ = ["Supervisor"]

logger = logging.getLogger("vivace.server")

STARTUP_FAILURE = 3


class _Worker:
    __slots__ = ("proc", "ready", "retired", "started_at")

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.ready = False
        self.retired = False
        self.started_at = time.monotonic()


class Supervisor:
    """Starts and watches worker processes; ``run()`` returns the exit status."""

    def __init__(self, config: Config) -> None:
        assert isinstance(config.app, str)
        self.config = config
        self.slots: list[_Worker | None] = []
        self.stopping = False
        self._restart_lock: asyncio.Lock | None = None
        self._stopped: asyncio.Event | None = None
        self._fds: list[int] = []
        self._sockets: list[socket.socket] = []
        # Workers started and not yet serving: a stop must reach them too, or one that a
        # rolling restart was starting when SIGTERM came outlives the supervisor.
        self._spawning: set[asyncio.subprocess.Process] = set()
        self._tasks: set[asyncio.Task[Any]] = set()  # strong references to background tasks
        #: The start-up report of the last worker that could not start.
        self.failure: Failure | None = None
        self._logged: set[Failure] = set()

    def run(self) -> int:
        return asyncio.run(self.main())

    async def main(self) -> int:
        config = self.config
        sockets = self._sockets = bind_sockets(config)
        self._fds = [s.fileno() for s in sockets]
        self._restart_lock = asyncio.Lock()
        self._stopped = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._stop)
        loop.add_signal_handler(signal.SIGHUP, self._on_hup)
        count = 1 if config.reload else config.workers
        logger.info("supervisor %d starting %d worker(s)", os.getpid(), count)
        try:
            workers = await asyncio.gather(*(self._spawn() for _ in range(count)))
            if any(w is None for w in workers):
                self.slots = list(workers)
                await self._terminate_all()
                return STARTUP_FAILURE
            self.slots = list(workers)
            for index, worker in enumerate(workers):
                assert worker is not None
                self._tasks.add(loop.create_task(self._watch(index, worker)))
            watcher = loop.create_task(self._watch_files()) if config.reload else None
            await self._stopped.wait()
            if watcher is not None:
                watcher.cancel()
            await self._terminate_all()
            return 0
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                loop.remove_signal_handler(sig)
            for sock in sockets:
                sock.close()
            if config.uds is not None:
                try:
                    os.unlink(config.uds)
                except OSError:
                    pass

    def _stop(self) -> None:
        logger.info("supervisor: stopping workers")
        self.stopping = True
        # The workers stop accepting now; while our copy of the listening socket stayed
        # open, the kernel kept completing connections into its queue that nobody would
        # accept, and reset them (requests already sent) when we closed it at the end.
        # Closed now, a new connection is refused instead, before any request is sent.
        for sock in self._sockets:
            sock.close()
        assert self._stopped is not None
        self._stopped.set()

    def _on_hup(self) -> None:
        logger.info("supervisor: SIGHUP, rolling restart")
        self._tasks.add(asyncio.get_running_loop().create_task(self.rolling_restart()))

    async def _spawn(self) -> _Worker | None:
        """Start a worker and wait until it serves; None if it exits first."""
        read_fd, write_fd = os.pipe()
        env = dict(os.environ)
        env["VIVACE_WORKER_CONFIG"] = json.dumps(
            {"app": self.config.app, "options": self.config.options()}
        )
        env["VIVACE_WORKER_FDS"] = ",".join(map(str, self._fds))
        env["VIVACE_WORKER_READY_FD"] = str(write_fd)
        try:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "vivace.server._worker",
                pass_fds=(*self._fds, write_fd),
                env=env,
            )
        finally:
            os.close(write_fd)
        worker = _Worker(proc)
        loop = asyncio.get_running_loop()
        self._spawning.add(proc)
        try:
            signal_byte, report = await loop.run_in_executor(None, _read_status, read_fd)
        finally:
            os.close(read_fd)
            self._spawning.discard(proc)
        if signal_byte != b"1":
            code = await proc.wait()
            if signal_byte == b"0":
                self.failure = Failure.from_bytes(report)
            else:  # died without a report (killed, crashed in the interpreter)
                self.failure = Failure(
                    f"worker {proc.pid} exited with status {code} before serving"
                )
            logger.info("worker %d exited with status %d before serving", proc.pid, code)
            return None
        worker.ready = True
        logger.info("worker %d serving", proc.pid)
        return worker

    async def _watch(self, index: int, worker: _Worker) -> None:
        code = await worker.proc.wait()
        if worker.retired or self.stopping:
            return
        logger.warning("worker %d exited with status %d; replacing it", worker.proc.pid, code)
        delay = 0.5
        while not self.stopping:
            replacement = await self._spawn()
            if replacement is not None:
                if self.stopping:  # set by a signal while the worker started
                    replacement.proc.terminate()  # type: ignore[unreachable]
                    await replacement.proc.wait()
                    return
                self.slots[index] = replacement
                self._tasks.add(
                    asyncio.get_running_loop().create_task(self._watch(index, replacement))
                )
                return
            self._log_failure("a replacement worker could not start")
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)

    async def rolling_restart(self) -> bool:
        """Replace every worker one at a time; False if a new worker failed to start."""
        assert self._restart_lock is not None
        async with self._restart_lock:
            for index, old in enumerate(list(self.slots)):
                if self.stopping:
                    return False
                new = await self._spawn()
                if self.stopping:  # SIGTERM while it started: it must not outlive us
                    if new is not None:  # type: ignore[unreachable]  # set by a signal
                        await self._stop_process(new.proc)
                    return False
                if new is None:
                    self._log_failure("rolling restart stopped: the new worker failed to start")
                    return False
                if old is not None:
                    old.retired = True
                self.slots[index] = new
                self._tasks.add(asyncio.get_running_loop().create_task(self._watch(index, new)))
                if old is not None:
                    await self._stop_worker(old)
            return True

    def _log_failure(self, what: str) -> None:
        failure = self.failure
        assert failure is not None
        if failure in self._logged:
            logger.error("%s: %s", what, failure.line)
            return
        self._logged.add(failure)
        logger.error("%s: %s\n%s", what, failure.line, (failure.traceback or "").rstrip())

    async def _stop_worker(self, worker: _Worker) -> None:
        worker.retired = True
        await self._stop_process(worker.proc)

    async def _stop_process(self, proc: asyncio.subprocess.Process) -> None:
        if proc.returncode is None:
            try:
                proc.send_signal(signal.SIGTERM)
            except ProcessLookupError:  # pragma: no cover - exited in between
                pass
        try:
            await asyncio.wait_for(proc.wait(), self.config.timeout_graceful_shutdown + 5)
        except TimeoutError:
            logger.warning("worker %d did not stop in time; killing it", proc.pid)
            proc.kill()
            await proc.wait()

    async def _terminate_all(self) -> None:
        await asyncio.gather(
            *(self._stop_worker(w) for w in self.slots if w is not None),
            *(self._stop_process(p) for p in list(self._spawning)),
        )

    async def _watch_files(self) -> None:
        config = self.config
        loop = asyncio.get_running_loop()
        watcher = await loop.run_in_executor(
            None,
            FileWatcher,
            config.reload_dirs or (config.app_dir or ".",),
            config.reload_includes,
            config.reload_excludes,
        )
        while not self.stopping:
            await asyncio.sleep(config.reload_interval)
            changed = await loop.run_in_executor(None, watcher.changes)
            if changed:
                shown = ", ".join(os.path.relpath(p) for p in changed[:3])
                logger.info("reload: %s changed; restarting the worker", shown)
                await self.rolling_restart()


def _read_status(fd: int) -> tuple[bytes, bytes]:
    """A worker's first byte on its ready pipe and, after ``0``, its report (to EOF)."""
    first = os.read(fd, 1)
    if first != b"0":
        return first, b""
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    return first, b"".join(chunks)
