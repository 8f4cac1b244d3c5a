"""vivace's server against uvicorn and granian: TechEmpower plaintext and JSON with wrk.

Run it from the repository root, under the shared benchmark lock (one benchmark at a time
on this machine), with the ``bench`` extra installed::

    flock /tmp/vivace-bench.lock .venv/bin/python bench/server_asgi.py --duration 5 --rounds 5

Every server runs one worker process serving the same raw ASGI app (bench/apps/
techempower.py) on 127.0.0.1, in two regimes, both in one run:

* ``quiet``: access logs off on every server (``--no-access-log``, log level warning);
* ``defaults``: every server as it starts with its own defaults (log level info): uvicorn
  and vivace then write an access line per request (to stdout/stderr, which go to
  /dev/null here), granian does not (its access log is off by default).

A fourth row, ``bare``, is the ceiling the issue quotes: a uvloop + httptools loop with no
ASGI at all (bench/apps/bare_loop.py), the same in both regimes. "req/s vs bare" says how
much of what the machine does before any server work each server keeps.

Rounds are interleaved (each server in turn, round after round) because the machine is
shared and noisy; the tables give the medians of the rounds: req/s, p99 latency, and
the server's CPU time per request (user + system time of the server's process tree from
/proc/<pid>/stat, over the wrk run, divided by the requests wrk counted), with ratios of
the medians. CPU per request is the steadiest figure on a busy machine. Nothing is
installed by this script.
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
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
PY = sys.executable
SERVERS = ("vivace", "uvicorn", "granian", "bare")
REGIMES = ("quiet", "defaults")
TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def commands(port: int, name: str, regime: str) -> list[str]:
    app = "apps.techempower:app"
    quiet = regime == "quiet"
    if name == "vivace" or name.startswith("vivace@"):  # vivace@NAME: see --also
        cmd = [PY, "-m", "vivace.cli", "run", app, "--port", str(port)]
        return [*cmd, "--no-access-log", "--log-level", "warning"] if quiet else cmd
    if name == "uvicorn":
        cmd = [PY, "-m", "uvicorn", app, "--port", str(port)]
        cmd += ["--http", "httptools", "--loop", "uvloop", "--workers", "1"]
        return [*cmd, "--no-access-log", "--log-level", "warning"] if quiet else cmd
    if name == "bare":  # the ceiling: no ASGI, nothing to log (the same in both regimes)
        return [PY, "apps/bare_loop.py", str(port)]
    if name == "granian":
        cmd = [PY, "-m", "granian", "--interface", "asgi", "--workers", "1"]
        cmd += ["--port", str(port)]
        if quiet:
            cmd += ["--no-access-log", "--log-level", "warning"]
        return [*cmd, app]
    raise ValueError(name)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its descendants (granian forks workers)."""
    total = 0.0
    stack = [pid]
    while stack:
        current = stack.pop()
        try:
            with open(f"/proc/{current}/stat") as file:
                fields = file.read().rpartition(")")[2].split()
            total += (int(fields[11]) + int(fields[12])) / TICKS
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as file:
                    stack.extend(int(child) for child in file.read().split())
        except (OSError, ValueError):
            continue  # the process exited meanwhile
    return total


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


# What a browser sends besides Host (``--fields N`` adds the first N): the per-field cost
# of header parsing shows in CPU per request only with more than wrk's one field.
BROWSER_FIELDS = (
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Language: en-US,en;q=0.5",
    "Accept-Encoding: gzip, deflate, br, zstd",
    "Upgrade-Insecure-Requests: 1",
    "Sec-Fetch-Dest: document",
    "Sec-Fetch-Mode: navigate",
    "Sec-Fetch-Site: none",
    "Sec-Fetch-User: ?1",
    "Priority: u=0, i",
    "Cookie: session=0123456789abcdef0123456789abcdef",
)


def wrk(
    port: int, path: str, duration: float, connections: int, fields: int = 0
) -> tuple[float, float, int]:
    """One wrk run: (req/s, p99 in ms, requests completed)."""
    extra = [arg for field in BROWSER_FIELDS[:fields] for arg in ("-H", field)]
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{duration:g}s",
            "--latency",
            *extra,
            f"http://127.0.0.1:{port}{path}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    count = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    assert p99 is not None, out
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    if "Non-2xx" in out or "Socket errors" in out:
        print(f"  warning: errors reported for port {port}{path}:\n{out}", file=sys.stderr)
    return rps, float(p99.group(1)) * scale, count


Key = tuple[str, str, str]  # (regime, path, server)


def table(
    results: dict[Key, list[tuple[float, float, float]]], regime: str, paths: list[str]
) -> None:
    print(f"\n{regime}:\n")
    print(
        "| test | server | req/s | p99 ms | CPU us/req | req/s vs uvicorn | req/s vs granian "
        "| req/s vs bare | CPU/req vs uvicorn | CPU/req vs granian |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for path in paths:
        med = {
            name: tuple(
                statistics.median(run[i] for run in results[regime, path, name]) for i in range(3)
            )
            for (reg, pth, name) in results
            if reg == regime and pth == path
        }
        for name, (rps, p99, cpu) in med.items():
            anchors = ("uvicorn", "granian")  # "-" when --servers left one out
            ratios = [f"{rps / med[a][0]:.2f}x" if a in med else "-" for a in (*anchors, "bare")]
            ratios += [f"{cpu / med[a][2]:.2f}x" if a in med else "-" for a in anchors]
            print(
                f"| {path.strip('/')} | {name} | {rps:,.0f} | {p99:.2f} | {cpu:.1f} | "
                + " | ".join(ratios)
                + " |"
            )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--servers", default=",".join(SERVERS))
    parser.add_argument("--regimes", default=",".join(REGIMES))
    parser.add_argument("--paths", default="/plaintext,/json")
    parser.add_argument(
        "--fields",
        type=int,
        default=0,
        choices=range(len(BROWSER_FIELDS) + 1),
        metavar=f"0-{len(BROWSER_FIELDS)}",
        help="browser-like request header fields to send besides Host",
    )
    parser.add_argument(
        "--also",
        action="append",
        default=[],
        metavar="NAME=SRC",
        help="also run the vivace found in SRC (a src/ folder, e.g. of main) as vivace@NAME, "
        "interleaved with the others: a before/after comparison under the same noise",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed")
    names = args.servers.split(",")
    sources: dict[str, str] = {}
    for also in args.also:
        label, _, src = also.partition("=")
        sources[f"vivace@{label}"] = str(Path(src).resolve())
        names.append(f"vivace@{label}")
    regimes = args.regimes.split(",")
    paths = args.paths.split(",")
    procs: dict[tuple[str, str], tuple[int, subprocess.Popen[bytes]]] = {}
    results: dict[Key, list[tuple[float, float, float]]] = {}
    try:
        for regime in regimes:
            for name in names:
                port = free_port()
                env = None
                if name in sources:
                    env = {**os.environ, "PYTHONPATH": sources[name]}
                proc = subprocess.Popen(
                    commands(port, name, regime),
                    cwd=HERE,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                procs[regime, name] = (port, proc)
        for port, proc in procs.values():
            wait_ready(port, proc)
            for path in paths:
                wrk(port, path, 1, args.connections)  # warm-up
        for round_no in range(args.rounds):
            for regime in regimes:
                for path in paths:
                    for name in names:
                        port, proc = procs[regime, name]
                        before = cpu_seconds(proc.pid)
                        rps, p99, count = wrk(
                            port, path, args.duration, args.connections, args.fields
                        )
                        cpu = (cpu_seconds(proc.pid) - before) / max(count, 1) * 1e6
                        results.setdefault((regime, path, name), []).append((rps, p99, cpu))
                        print(
                            f"round {round_no + 1} {regime:8} {path:10} {name:8} {rps:10.0f} "
                            f"req/s  p99 {p99:6.2f} ms  {cpu:5.1f} us CPU/req",
                            flush=True,
                        )
    finally:
        for _, proc in procs.values():
            proc.terminate()
        for _, proc in procs.values():
            proc.wait(10)

    print(
        f"\nwrk -t1 -c{args.connections} -d{args.duration:g}s, {args.rounds} interleaved "
        f"rounds, medians; {1 + args.fields} request header field(s)"
    )
    for regime in regimes:
        table(results, regime, paths)


if __name__ == "__main__":
    main()
