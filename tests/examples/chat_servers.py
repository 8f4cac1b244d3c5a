"""Server processes for the cross-process tests: the chat example (examples/chat), and any
app (``app_servers``, used by the batteries' tests too).

Each server is a vivace.server process of its own on a socket bound to port 0 and handed
over by file descriptor; the chat servers have the Redis broadcast behind the app and a
channel prefix unique to the test run.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import REDIS_URL

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
TARGET = "examples.chat.app:app"


def _command(target: str, fd: int) -> list[str]:
    return [str(BIN / "vivace"), "run", target, "--fd", str(fd), "--log-level", "warning"]


@contextlib.contextmanager
def chat_servers(count: int, prefix: str | None = None) -> Iterator[list[str]]:
    """Start ``count`` chat servers sharing one Redis prefix; yields their base URLs."""
    prefix = prefix or f"vivace-test-chat-{uuid.uuid4().hex}:"
    env = {"CHAT_BROADCAST_URL": REDIS_URL, "CHAT_BROADCAST_PREFIX": prefix}
    with app_servers(TARGET, count, env) as urls:
        yield urls


@contextlib.contextmanager
def app_servers(target: str, count: int, env: dict[str, str]) -> Iterator[list[str]]:
    """Start ``count`` server processes serving ``target`` (``module:app``, from the
    repository root) with ``env`` added; yields their base URLs once each answers
    ``GET /`` with 200."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        **env,
    }
    started: list[tuple[subprocess.Popen[bytes], socket.socket]] = []
    urls = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", 0))
            sock.listen(128)
            sock.set_inheritable(True)
            proc = subprocess.Popen(
                _command(target, sock.fileno()),
                env=env,
                cwd=ROOT,
                pass_fds=[sock.fileno()],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            started.append((proc, sock))
            urls.append(f"http://127.0.0.1:{sock.getsockname()[1]}")
        for (proc, _), url in zip(started, urls, strict=True):
            _wait_ready(proc, url)
        yield urls
    finally:
        for proc, sock in started:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
            if proc.stderr is not None:
                proc.stderr.close()
            sock.close()


def _wait_ready(proc: subprocess.Popen[bytes], url: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        if proc.poll() is not None:
            err = proc.stderr.read().decode() if proc.stderr else ""
            raise RuntimeError(f"vivace exited with {proc.returncode}: {err}")
        try:
            with urllib.request.urlopen(url + "/", timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("vivace did not start within 30 s")
        time.sleep(0.05)
