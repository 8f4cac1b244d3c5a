"""vivace.web against Starlette and FastAPI, each on its servers, measured with wrk.

    flock /tmp/vivace-bench.lock .venv/bin/python bench/web.py [--duration 5] [--rounds 3]

Combinations (one worker each, access logs off; with ``--defaults`` every server runs
with its own defaults instead, which means an access line per request on vivace.server
and uvicorn, written to /dev/null):

    vivace.web on vivace.server   (when vivace.server is installed)
    vivace.web on uvicorn         (httptools + uvloop: the framework cost on a common server)
    vivace.web on granian
    Starlette on uvicorn, FastAPI on uvicorn, Starlette on granian   (the anchors)

Endpoints: plaintext, JSON, a path parameter (int), a JSON body echo (POST), and the last
of 50 parameterised routes. Rounds are interleaved (every combination once per round, in
the same order) and medians are taken, because the machine is shared and noisy. Prints
req/s and p99 latency per combination and endpoint, then vivace's ratios to each anchor,
and the server process's CPU time per request (user + system, from /proc, over the
measured wrk run).

With ``--typed`` the typed endpoints of bench/web_typed_apps.py are measured instead (typed
path and query parameters, a 20-field JSON body validated and echoed, a chain of three
dependencies), for vivace.web on vivace.server and on uvicorn, FastAPI on uvicorn and
Litestar on uvicorn.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
BIN = Path(PY).parent

ENDPOINTS = {
    "plaintext": ("GET", "/plaintext"),
    "json": ("GET", "/json"),
    "path param": ("GET", "/users/42"),
    "json echo": ("POST", "/echo"),
    "50 routes, last": ("GET", "/r49/123"),
}
ECHO_BODY = '{"id": 42, "name": "vivace", "tags": ["fast", "safe"], "active": true}'

# --typed: (method, path, body) of bench/web_typed_apps.py's endpoints.
TYPED_ENDPOINTS: dict[str, tuple[str, str]] = {
    "typed path+query": ("GET", "/items/42?q=shoes&limit=20"),
    "20-field body": ("POST", "/orders"),
    "3 dependencies": ("GET", "/chain"),
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _commands(
    app: str, port: int, defaults: bool = False, module: str = "bench.web_apps"
) -> dict[str, list[str]]:
    target = f"{module}:{app}"
    commands = {
        "vivace.server": [
            str(BIN / "vivace"),
            "run",
            target,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        "uvicorn": [
            str(BIN / "uvicorn"),
            target,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--no-access-log",
            "--log-level",
            "warning",
            "--workers",
            "1",
        ],
        "granian": [
            str(BIN / "granian"),
            "--interface",
            "asgi",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--loop",
            "uvloop",
            "--log-level",
            "warning",
            target,
        ],
    }
    if defaults:  # each server as it starts by default: vivace and uvicorn log each request
        for command in commands.values():
            for flag in ("--no-access-log", "--log-level", "warning"):
                if flag in command:
                    command.remove(flag)
    return commands


def combinations(typed: bool = False) -> list[tuple[str, str, str]]:
    """(label, app attribute, server) in run order."""
    combos = []
    if typed:
        if importlib.util.find_spec("vivace.server") is not None:
            combos.append(("vivace.web on vivace.server", "vivace_app", "vivace.server"))
        return [
            *combos,
            ("vivace.web on uvicorn", "vivace_app", "uvicorn"),
            ("FastAPI on uvicorn", "fastapi_app", "uvicorn"),
            ("Litestar on uvicorn", "litestar_app", "uvicorn"),
        ]
    if importlib.util.find_spec("vivace.server") is not None:
        combos.append(("vivace.web on vivace.server", "vivace_app", "vivace.server"))
    combos += [
        ("vivace.web on uvicorn", "vivace_app", "uvicorn"),
        ("vivace.web on granian", "vivace_app", "granian"),
        ("Starlette on uvicorn", "starlette_app", "uvicorn"),
        ("FastAPI on uvicorn", "fastapi_app", "uvicorn"),
        ("Starlette on granian", "starlette_app", "granian"),
    ]
    return combos


def _wait_ready(port: int, proc: subprocess.Popen[bytes], deadline: float) -> None:
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.sendall(b"GET /plaintext HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if s.recv(64).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("server did not become ready")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (/proc/PID/stat, fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wrk(
    port: int, method: str, path: str, duration: float, script: str
) -> tuple[float, float, int]:
    """(req/s, p99 ms, requests made)."""
    cmd = ["wrk", "-t1", "-c64", f"-d{max(1, round(duration))}s", "--latency"]
    if method == "POST":
        cmd += ["-s", script]
    cmd.append(f"http://127.0.0.1:{port}{path}")
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 30).stdout
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if found is None:
        raise RuntimeError(f"wrk failed for {method} {path}: {out}")
    rps = float(found.group(1))
    p99_match = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    p99 = 0.0
    if p99_match:
        value, unit = float(p99_match.group(1)), p99_match.group(2)
        p99 = value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
    total = re.search(r"(\d+) requests in", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"{errors.group(1)} error responses for {method} {path}:\n{out}")
    return rps, p99, int(total.group(1)) if total else 0


def _post_script(body: str) -> str:
    path = Path(tempfile.mkdtemp()) / "post.lua"
    path.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = '{body}'\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
    )
    return str(path)


def run(
    duration: float,
    rounds: int,
    only: list[str] | None,
    defaults: bool = False,
    typed: bool = False,
) -> None:
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed")
    combos = [c for c in combinations(typed) if not only or any(o in c[0] for o in only)]
    endpoints = TYPED_ENDPOINTS if typed else ENDPOINTS
    module = "bench.web_typed_apps" if typed else "bench.web_apps"
    if typed:
        sys.path.insert(0, str(ROOT))
        from bench.web_typed_apps import ORDER_BODY

        script = _post_script(ORDER_BODY)
    else:
        script = _post_script(ECHO_BODY)
    results: dict[tuple[str, str], list[tuple[float, float]]] = {}
    cpu: dict[tuple[str, str], list[float]] = {}
    paths = [str(ROOT), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
    for r in range(rounds):
        for label, app, server in combos:
            port = _free_port()
            proc = subprocess.Popen(
                _commands(app, port, defaults, module)[server],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                _wait_ready(port, proc, time.monotonic() + 30)
                for name, (method, path) in endpoints.items():
                    _wrk(port, method, path, 1, script)  # warm-up
                    before = _cpu_seconds(proc.pid)
                    rps, p99, requests = _wrk(port, method, path, duration, script)
                    used = _cpu_seconds(proc.pid) - before
                    results.setdefault((label, name), []).append((rps, p99))
                    cpu.setdefault((label, name), []).append(used / max(requests, 1) * 1e6)
                    print(f"round {r + 1} {label:30} {name:18} {rps:10.0f} req/s", flush=True)
            finally:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
    _report(results, [c[0] for c in combos], endpoints)
    _report_cpu(cpu, [c[0] for c in combos], endpoints)


def _report_cpu(
    cpu: dict[tuple[str, str], list[float]], labels: list[str], endpoints: dict[str, Any]
) -> None:
    print("\nserver CPU time per request, median microseconds (user + system)\n")
    print("| endpoint | " + " | ".join(labels) + " |")
    print("| --- " * (len(labels) + 1) + "|")
    for name in endpoints:
        cells = [
            f"{statistics.median(cpu[(label, name)]):.1f}" if (label, name) in cpu else "-"
            for label in labels
        ]
        print(f"| {name} | " + " | ".join(cells) + " |")


def _median(values: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(v[0] for v in values), statistics.median(v[1] for v in values)


def _report(
    results: dict[tuple[str, str], list[tuple[float, float]]],
    labels: list[str],
    endpoints: dict[str, Any],
) -> None:
    print("\nmedian req/s (p99 ms)\n")
    header = "| endpoint | " + " | ".join(labels) + " |"
    print(header)
    print("| --- " * (len(labels) + 1) + "|")
    for name in endpoints:
        cells = []
        for label in labels:
            if (label, name) in results:
                rps, p99 = _median(results[(label, name)])
                cells.append(f"{rps:,.0f} ({p99:.1f})")
            else:
                cells.append("-")
        print(f"| {name} | " + " | ".join(cells) + " |")
    subjects = [label for label in labels if label.startswith("vivace.web")]
    anchors = [label for label in labels if not label.startswith("vivace.web")]
    print("\nratios (req/s, vivace / anchor)\n")
    cols = [f"{s} / {a}" for s in subjects for a in anchors]
    print("| endpoint | " + " | ".join(cols) + " |")
    print("| --- " * (len(cols) + 1) + "|")
    for name in endpoints:
        cells = []
        for s in subjects:
            for a in anchors:
                if (s, name) in results and (a, name) in results:
                    ratio = _median(results[(s, name)])[0] / _median(results[(a, name)])[0]
                    cells.append(f"{ratio:.2f}x")
                else:
                    cells.append("-")
        print(f"| {name} | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    parser.add_argument(
        "--defaults", action="store_true", help="servers with their default logging"
    )
    parser.add_argument(
        "--only", action="append", help="run only combinations whose label contains this"
    )
    parser.add_argument(
        "--typed", action="store_true", help="the typed endpoints (vivace, FastAPI, Litestar)"
    )
    args = parser.parse_args()
    run(args.duration, args.rounds, args.only, args.defaults, args.typed)


if __name__ == "__main__":
    main()
