"""Requests lost across restarts: ``vivace run --workers 2`` under wrk while it restarts.

    flock /tmp/vivace-bench.lock .venv/bin/python bench/restarts.py [MODE] [RUNS] [SECONDS]

MODE is one of

* ``sighup``  (default) two rolling restarts (SIGHUP) during the run: no request may fail;
* ``reload``  ``--reload``: the app file changes twice during the run: none may fail;
* ``sigkill`` one worker is killed (SIGKILL) mid-run: only its in-flight requests may fail
  (at most wrk's 32 connections' worth), and it is replaced;
* ``sigterm`` the server gets SIGTERM mid-run: every request already sent on a connection
  is answered (no read errors); connections opened after the listener closed are refused.

wrk runs with one thread and 32 keep-alive connections (``-t1 -c32``), as in issue 20.
Prints one line per run and PASS/FAIL; exits 1 on a failure. tests/server/test_restarts.py
runs the same (fewer, shorter runs).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench._process import AppProcess  # noqa: E402

__all__ = ["APP", "Result", "main", "run_once"]

APP = """
VERSION = 1

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok"})
"""


@dataclass
class Result:
    mode: str
    requests: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    non_2xx: int = 0
    events: list[str] = field(default_factory=list)
    log: list[str] = field(default_factory=list)

    @property
    def lost(self) -> int:
        """Requests sent and not answered: read and timeout errors, bad statuses; and
        write errors, except after SIGTERM: once the listener closes, wrk's reconnects
        are refused, which it counts as write errors (a non-blocking connect fails on
        the first write), and those requests were never sent."""
        e = self.errors
        lost = e.get("read", 0) + e.get("timeout", 0) + self.non_2xx
        return lost if self.mode == "sigterm" else lost + e.get("write", 0)

    def passed(self) -> bool:
        if any("outlived it" in line for line in self.log):
            return False  # a worker survived its supervisor (bench/_process.py)
        if self.mode == "sigkill":
            # The killed worker's in-flight requests (one per connection at most) may
            # fail; it must be replaced.
            replaced = any("replacing it" in line for line in self.log)
            return self.lost <= 32 and replaced and self.errors.get("connect", 0) == 0
        if self.mode == "sigterm":
            return self.lost == 0
        return self.lost == 0 and self.errors.get("connect", 0) == 0

    def __str__(self) -> str:
        errors = ", ".join(f"{k} {v}" for k, v in sorted(self.errors.items())) or "none"
        return (
            f"{self.mode}: {self.requests} requests, socket errors: {errors}, "
            f"non-2xx: {self.non_2xx}, lost: {self.lost} -> "
            f"{'PASS' if self.passed() else 'FAIL'}"
        )


def _parse_wrk(text: str, result: Result) -> None:
    match = re.search(r"(\d+) requests in", text)
    result.requests = int(match.group(1)) if match else 0
    match = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if match:
        for name, value in zip(
            ("connect", "read", "write", "timeout"), match.groups(), strict=True
        ):
            if int(value):
                result.errors[name] = int(value)
    match = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    result.non_2xx = int(match.group(1)) if match else 0


def run_once(mode: str, seconds: float = 10.0) -> Result:
    """One wrk run of ``seconds`` against a fresh server, with the mode's disturbance."""
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed (scripts/test installs it: apt-get install wrk)")
    result = Result(mode)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "restartapp.py").write_text(APP)
        args = ["--timeout-graceful-shutdown", "5"]
        if mode == "reload":
            args += ["--reload", "--reload-dirs", tmp, "--reload-interval", "0.2"]
        else:
            args += ["--workers", "2"]
        server = AppProcess("restartapp:app", *args, app_dir=folder)
        result.log = server.log
        try:
            port = server.serving(1 if mode == "reload" else 2)  # every worker serves
            wrk = subprocess.Popen(
                ["wrk", "-t1", "-c32", f"-d{seconds:g}s", f"http://127.0.0.1:{port}/"],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            _disturb(mode, seconds, server.proc, folder, server.log, result)
            out, _ = wrk.communicate(timeout=seconds + 30)
            _parse_wrk(out, result)
        finally:
            server.stop()
    return result


def _disturb(
    mode: str,
    seconds: float,
    server: subprocess.Popen[str],
    folder: Path,
    lines: list[str],
    result: Result,
) -> None:
    start = time.monotonic()

    def at(fraction: float) -> None:
        delay = start + seconds * fraction - time.monotonic()
        if delay > 0:
            time.sleep(delay)

    if mode == "sighup":
        for fraction in (0.3, 0.65):
            at(fraction)
            server.send_signal(signal.SIGHUP)
            result.events.append(f"SIGHUP at {time.monotonic() - start:.1f} s")
    elif mode == "reload":
        for version, fraction in ((2, 0.3), (3, 0.65)):
            at(fraction)
            (folder / "restartapp.py").write_text(
                APP.replace("VERSION = 1", f"VERSION = {version}")
            )
            result.events.append(f"app changed at {time.monotonic() - start:.1f} s")
    elif mode == "sigkill":
        at(0.4)
        pids = [int(m) for m in re.findall(r"worker (\d+) serving", "".join(lines))]
        os.kill(pids[0], signal.SIGKILL)
        result.events.append(f"worker {pids[0]} SIGKILLed at {time.monotonic() - start:.1f} s")
    elif mode == "sigterm":
        at(0.5)
        server.send_signal(signal.SIGTERM)
        result.events.append(f"SIGTERM at {time.monotonic() - start:.1f} s")
    else:
        raise ValueError(f"unknown mode {mode!r}")


def main(argv: list[str]) -> int:
    mode = argv[0] if argv else "sighup"
    runs = int(argv[1]) if len(argv) > 1 else 5
    seconds = float(argv[2]) if len(argv) > 2 else 10.0
    failed = 0
    for number in range(1, runs + 1):
        result = run_once(mode, seconds)
        print(f"run {number}/{runs}: {result}  ({'; '.join(result.events)})", flush=True)
        failed += not result.passed()
    print(f"{mode}: {runs - failed}/{runs} runs passed -> {'PASS' if not failed else 'FAIL'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
