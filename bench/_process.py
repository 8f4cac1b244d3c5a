"""``vivace run APP`` in a subprocess for the reliability scripts (restarts, soak, faults).

Its stderr is read by a thread into ``log`` all along (a pipe nobody reads would fill up
and stall the server); ``serving(count)`` waits for that many "serving on" lines (one per
worker) and returns the port. The server runs in a session of its own: ``stop()`` notes
(``leftovers``) and kills any process of it still alive after the server exited, such as
a worker its supervisor failed to stop.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

__all__ = ["ROOT", "AppProcess"]

ROOT = Path(__file__).resolve().parent.parent


class AppProcess:
    def __init__(
        self, app: str, *args: str, app_dir: Path = ROOT, env: dict[str, str] | None = None
    ) -> None:
        self.log: list[str] = []
        command = [sys.executable, "-m", "vivace.cli", "run", app, "--port", "0"]
        command += ["--app-dir", str(app_dir), "--no-access-log", *args]
        self.leftovers = False
        self.proc = subprocess.Popen(
            command,
            start_new_session=True,
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            cwd=app_dir,
            text=True,
            env=dict(os.environ, PYTHONUNBUFFERED="1", **(env or {})),
        )
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.log.append(line)

    def serving(self, count: int = 1, timeout: float = 30) -> int:
        """Wait until ``count`` processes serve; the port they serve on."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ports = re.findall(r"serving on http://127\.0\.0\.1:(\d+)", "".join(self.log))
            if len(ports) >= count:
                return int(ports[0])
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("the server did not start:\n" + "".join(self.log[-30:]))

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM (if still running), wait, kill if it takes longer than ``timeout``."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        group = self.proc.pid  # the session's process group
        deadline = time.monotonic() + 5
        while True:
            try:
                os.killpg(group, 0)
            except ProcessLookupError:
                break  # every process of the server is gone
            if time.monotonic() > deadline:
                self.leftovers = True
                self.log.append("bench: processes of the server outlived it; killed\n")
                os.killpg(group, signal.SIGKILL)
                break
            time.sleep(0.05)
        self.reader.join(10)
        if self.proc.stderr is not None and not self.reader.is_alive():
            self.proc.stderr.close()
