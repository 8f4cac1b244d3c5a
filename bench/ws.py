"""WebSocket throughput: vivace.server against uvicorn (websockets-sansio) and granian.

    flock /tmp/vivace-bench.lock .venv/bin/python bench/ws.py [--seconds 3] [--rounds 3]

The same app (bench/ws_app.py, vivace.web) on each server, one worker each, access logs
off. The load generator (bench/ws_load.py: raw asyncio + vivace's sans-IO core, uvloop)
runs in its own process. With ``taskset`` available, servers run on CPU 0 and the load
generator on CPU 1. Workloads, each with 16 and 256 connections:

- echo: each connection sends a 32-byte text message and waits for the echo, in a loop
  (round trips per second, all connections together);
- broadcast: the connections subscribe to one channel and one more publishes 32-byte
  messages (at most 64 in flight); messages delivered per second, all subscribers.

Rounds are interleaved (every server once per workload per round); medians are printed,
with each server's ratio to uvicorn.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TARGET = "bench.ws_app:app"
PIN_SERVER = ["taskset", "-c", "0"] if shutil.which("taskset") else []
PIN_CLIENT = ["taskset", "-c", "1"] if shutil.which("taskset") else []


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def commands(port: int) -> dict[str, list[str]]:
    common = ["--host", "127.0.0.1", "--port", str(port)]
    found = {}
    if importlib.util.find_spec("vivace.server") is not None:
        found["vivace"] = [
            str(BIN / "vivace"), "run", TARGET, *common,
            "--no-access-log", "--log-level", "warning",
        ]  # fmt: skip
    found["uvicorn"] = [
        str(BIN / "uvicorn"), TARGET, *common, "--loop", "uvloop", "--http", "httptools",
        "--ws", "websockets-sansio", "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    found["granian"] = [
        str(BIN / "granian"), "--interface", "asgi", *common, "--workers", "1",
        "--loop", "uvloop", "--log-level", "warning", TARGET,
    ]  # fmt: skip
    return found


def start(name: str, command: list[str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [*PIN_SERVER, *command], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 30
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited: {proc.stderr.read().decode()}")  # type: ignore[union-attr]
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as r:
                if r.status == 200:
                    return proc
        except OSError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"{name} did not start")
        time.sleep(0.1)


def measure(kind: str, port: int, clients: int, seconds: float) -> float:
    out = subprocess.run(
        [*PIN_CLIENT, sys.executable, str(ROOT / "bench" / "ws_load.py"), kind, "127.0.0.1",
         str(port), str(clients), str(seconds)],
        cwd=ROOT, capture_output=True, text=True, timeout=seconds * 4 + 60, check=True,
    )  # fmt: skip
    rate: float = json.loads(out.stdout.strip().splitlines()[-1])["rate"]
    return rate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    ports = {}
    procs = {}
    try:
        for name in commands(0):
            port = _free_port()
            ports[name] = port
            procs[name] = start(name, commands(port)[name], port)
        names = list(procs)
        cases = [(kind, n) for kind in ("echo", "broadcast") for n in (16, 256)]
        results: dict[tuple[str, int, str], list[float]] = {}
        for round_no in range(args.rounds):
            for kind, clients in cases:
                for name in names:
                    rate = measure(kind, ports[name], clients, args.seconds)
                    results.setdefault((kind, clients, name), []).append(rate)
                    print(f"round {round_no + 1} {kind:9} {clients:3} {name:8} {rate:10.0f}/s",
                          flush=True)  # fmt: skip
    finally:
        for proc in procs.values():
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
    print()
    header = (
        "| workload | clients | "
        + " | ".join(names)
        + " | "
        + " | ".join(f"{n} / uvicorn" for n in names if n != "uvicorn")
        + " |"
    )
    print(header)
    print("|" + " --- |" * (2 + len(names) + len(names) - 1))
    for kind, clients in cases:
        medians = {n: statistics.median(results[(kind, clients, n)]) for n in names}
        base = medians["uvicorn"]
        row = f"| {kind} | {clients} | " + " | ".join(f"{medians[n]:,.0f}" for n in names)
        row += " | " + " | ".join(f"{medians[n] / base:.2f}x" for n in names if n != "uvicorn")
        print(row + " |")


if __name__ == "__main__":
    main()
