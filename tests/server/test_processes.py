"""``vivace run`` as a real process: signals, workers, rolling restart, reload."""

from __future__ import annotations

import http.client
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

APP = """
import asyncio, os, sys
VERSION = "v1"

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    if scope["path"] == "/slow":
        print("slow request started", file=sys.stderr, flush=True)
        await asyncio.sleep(0.5)
    body = {"/pid": str(os.getpid()), "/version": VERSION}.get(scope["path"], "ok").encode()
    await send({"type": "http.response.start", "status": 200})
    await send({"type": "http.response.body", "body": body})
"""

FAILING = """
async def app(scope, receive, send):
    await receive()
    await send({"type": "lifespan.startup.failed", "message": "cannot start"})
"""


class Process:
    def __init__(self, tmp_path: Path, *args: str, app: str = APP) -> None:
        (tmp_path / "procapp.py").write_text(app)
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "vivace.cli",
                "run",
                "procapp:app",
                "--port",
                "0",
                "--app-dir",
                str(tmp_path),
                "--no-access-log",
                *args,
            ],
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            env=env,
            cwd=tmp_path,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.log: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.port = 0

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            line = raw.decode(errors="replace")
            self.log.append(line)
            self.lines.put(line)

    def wait_for(self, pattern: str, timeout: float = 20) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {pattern!r} in:\n{''.join(self.log)}")
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                continue
            match = re.search(pattern, line)
            if match:
                return match

    def started(self) -> Process:
        self.port = int(self.wait_for(r"serving on http://127\.0\.0\.1:(\d+)").group(1))
        return self

    def get(self, path: str) -> str:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("GET", path)
            return conn.getresponse().read().decode()
        finally:
            conn.close()

    def exit_status(self) -> int:
        try:
            return self.proc.wait(30)
        finally:
            if self.proc.poll() is None:  # pragma: no cover - only when the test failed
                self.proc.kill()
                self.proc.wait()
            self.reader.join(10)
            assert self.proc.stderr is not None
            self.proc.stderr.close()

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.exit_status()


def test_run_and_graceful_sigterm(tmp_path: Path) -> None:
    process = Process(tmp_path).started()
    assert process.get("/") == "ok"
    results: list[str] = []
    thread = threading.Thread(target=lambda: results.append(process.get("/slow")))
    thread.start()
    process.wait_for("slow request started")
    assert process.stop() == 0
    thread.join(10)
    assert results == ["ok"]  # the in-flight request finished


def test_startup_failure_exit_status(tmp_path: Path) -> None:
    process = Process(tmp_path, app=FAILING)
    assert process.exit_status() == 3
    assert "cannot start" in "".join(process.log)
    workers = Process(tmp_path, "--workers", "2", app=FAILING)
    assert workers.exit_status() == 3


SHUTDOWN_FAILING = """
async def app(scope, receive, send):
    if scope["type"] != "lifespan":
        return
    await receive()
    await send({"type": "lifespan.startup.complete"})
    await receive()
    raise RuntimeError("shutdown broke")
"""


@pytest.mark.parametrize("workers", [1, 2])
def test_lifespan_shutdown_failure_is_reported_once(tmp_path: Path, workers: int) -> None:
    """The app's traceback (logged when it happened) and one line per process, exit
    status 1. Before, the LifespanFailure then went up through ``vivace run`` (or the
    worker): a second traceback, of the server's own frames."""
    process = Process(tmp_path, "--workers", str(workers), app=SHUTDOWN_FAILING)
    for _ in range(workers):
        process.started()
    status = process.stop()
    log = "".join(process.log)
    assert log.count("Traceback") == workers, log
    assert log.count("vivace: lifespan shutdown failed: RuntimeError: shutdown broke") == workers
    assert "LifespanFailure" not in log
    assert status == (1 if workers == 1 else 0)


def test_workers_restart_and_rolling_restart(tmp_path: Path) -> None:
    process = Process(tmp_path, "--workers", "2", "--timeout-graceful-shutdown", "2")
    process.started()
    process.wait_for(r"serving on")  # the second worker
    pids = {process.get("/pid") for _ in range(20)}
    assert pids and all(p.isdigit() for p in pids)
    victim = int(next(iter(pids)))
    os.kill(victim, signal.SIGKILL)
    process.wait_for(rf"worker {victim} exited")
    process.wait_for(r"worker \d+ serving")
    deadline = time.monotonic() + 20
    while str(victim) in {process.get("/pid") for _ in range(10)}:
        assert time.monotonic() < deadline
    before = {process.get("/pid") for _ in range(20)}
    process.proc.send_signal(signal.SIGHUP)
    process.wait_for(r"rolling restart")
    for _ in range(2):
        process.wait_for(r"worker \d+ serving")
    # The last old worker is told to stop once its replacement serves: from then on only
    # new workers answer (bounded polling, not a sleep).
    deadline = time.monotonic() + 20
    while before & (after := {process.get("/pid") for _ in range(20)}):
        assert time.monotonic() < deadline, (before, after)
    assert process.stop() == 0


def test_reload(tmp_path: Path) -> None:
    process = Process(
        tmp_path, "--reload", "--reload-dir", str(tmp_path), "--reload-interval", "0.1"
    )
    process.started()
    assert process.get("/version") == "v1"
    # The watcher takes its first look at the files when it starts, which may be just
    # after the server said it serves: change the file until the change is seen.
    for attempt in range(40):
        (tmp_path / "procapp.py").write_text(APP.replace('"v1"', f'"v2"  # {attempt}'))
        try:
            process.wait_for(r"reload: .* changed", timeout=0.5)
            break
        except AssertionError:
            continue
    else:
        raise AssertionError("the change was never seen:\n" + "".join(process.log))
    deadline = time.monotonic() + 20
    while process.get("/version") != "v2":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    (tmp_path / "procapp.py").write_text("this is not python(")
    process.wait_for(r"reload: .* changed")
    process.wait_for(r"rolling restart stopped")
    assert process.get("/version") == "v2"  # the old worker keeps serving
    assert process.stop(signal.SIGINT) == 0
