"""vivace's server against uvicorn and granian: TechEmpower plaintext and JSON with wrk.

Run it from the repository root, under the shared benchmark lock (one benchmark at a time
on this machine), with the ``bench`` extra installed::

    flock /tmp/vivace-bench.lock .venv/bin/python bench/server_asgi.py --duration 8 --rounds 5

Every server runs one worker process serving the same raw ASGI app (bench/apps/
techempower.py) on 127.0.0.1; access logs are off for all of them. A fourth entry,
``vivace+log``, is vivace with its access log on (to a file) to show what logging costs.
Rounds are interleaved (A, B, C, A, B, C, ...) because the machine is shared and noisy;
the table gives the median req/s and p99 latency of the rounds and the ratios of the
medians. Nothing is installed by this script.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
PY = sys.executable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def commands(port: int, name: str, log_dir: str) -> list[str]:
    app = "apps.techempower:app"
    if name == "vivace":
        return [
            PY,
            "-m",
            "vivace.cli",
            "run",
            app,
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
        ]
    if name == "vivace+log":
        return [
            PY,
            "-c",
            "import logging, sys; from vivace.cli import main; "
            f"logging.basicConfig(filename={os.path.join(log_dir, 'access.log')!r}, "
            "level=logging.INFO); sys.exit(main(sys.argv[1:]))",
            "run",
            app,
            "--port",
            str(port),
            "--access-log",
        ]
    if name == "uvicorn":
        return [
            PY,
            "-m",
            "uvicorn",
            app,
            "--port",
            str(port),
            "--http",
            "httptools",
            "--loop",
            "uvloop",
            "--no-access-log",
            "--log-level",
            "warning",
            "--workers",
            "1",
        ]
    if name == "granian":
        return [
            PY,
            "-m",
            "granian",
            "--interface",
            "asgi",
            "--workers",
            "1",
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
            app,
        ]
    raise ValueError(name)


def wait_ready(port: int, proc: subprocess.Popen[bytes], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/plaintext", timeout=1) as r:
                if r.read() == b"Hello, World!":
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server on port {port} did not start")


def wrk(port: int, path: str, duration: float, connections: int) -> tuple[float, float]:
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{duration:g}s",
            "--latency",
            f"http://127.0.0.1:{port}{path}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    assert p99 is not None, out
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    if "Non-2xx" in out or "Socket errors" in out:
        print(f"  warning: errors reported for port {port}{path}:\n{out}", file=sys.stderr)
    return rps, float(p99.group(1)) * scale


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--servers", default="vivace,uvicorn,granian,vivace+log")
    parser.add_argument("--paths", default="/plaintext,/json")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed")
    names = args.servers.split(",")
    paths = args.paths.split(",")
    log_dir = tempfile.mkdtemp(prefix="vivace-bench-")
    procs: dict[str, tuple[int, subprocess.Popen[bytes]]] = {}
    try:
        for name in names:
            port = free_port()
            proc = subprocess.Popen(
                commands(port, name, log_dir),
                cwd=HERE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            procs[name] = (port, proc)
        for port, proc in procs.values():
            wait_ready(port, proc)
            for path in paths:
                wrk(port, path, 1, args.connections)  # warm-up
        results: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for round_no in range(args.rounds):
            for path in paths:
                for name in names:
                    rps, p99 = wrk(procs[name][0], path, args.duration, args.connections)
                    results.setdefault((name, path), []).append((rps, p99))
                    print(
                        f"round {round_no + 1} {path:10} {name:11} {rps:10.0f} req/s"
                        f"  p99 {p99:6.2f} ms",
                        flush=True,
                    )
    finally:
        for _, proc in procs.values():
            proc.terminate()
        for _, proc in procs.values():
            proc.wait(10)
        shutil.rmtree(log_dir, ignore_errors=True)

    print(
        f"\nwrk -t1 -c{args.connections} -d{args.duration:g}s, {args.rounds} interleaved rounds, "
        "medians\n"
    )
    print("| test | server | req/s | p99 ms | vs uvicorn | vs granian |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for path in paths:
        med = {
            name: (
                statistics.median(r for r, _ in results[name, path]),
                statistics.median(p for _, p in results[name, path]),
            )
            for name in names
        }
        for name in names:
            rps, p99 = med[name]
            vs_u = f"{rps / med['uvicorn'][0]:.2f}x" if "uvicorn" in med else "-"
            vs_g = f"{rps / med['granian'][0]:.2f}x" if "granian" in med else "-"
            print(f"| {path.strip('/')} | {name} | {rps:,.0f} | {p99:.2f} | {vs_u} | {vs_g} |")


if __name__ == "__main__":
    main()
