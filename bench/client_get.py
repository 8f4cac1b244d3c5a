"""Benchmark: vivace.client vs aiohttp vs httpx, GET of a 1 KiB body over keep-alive.

All three clients hit the same local server (bench/server.py: uvloop + httptools, one
fixed response, in its own process) in one run. Each measurement runs in a fresh
process: CONCURRENCY tasks loop on ``await client.get(url)`` (reading the whole body) for
DURATION seconds after a warm-up; it reports requests per second and process CPU time
per request (``time.process_time`` delta / requests). Rounds are interleaved (vivace,
aiohttp, httpx, vivace, ...) and the medians and ratios are printed.

Every client gets the same pool size (the concurrency) and runs on the same event loop.

    flock /tmp/vivace-bench.lock .venv/bin/python bench/client_get.py [--rounds 5]
        [--duration 3] [--concurrency 16 128] [--loop uvloop|asyncio] [--pin]

``--pin`` runs the server on CPU 1 and the clients on CPU 0 (taskset), so they do not
compete for a core.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

CLIENTS = ("vivace", "aiohttp", "httpx")
HERE = Path(__file__).resolve().parent


async def _measure(which: str, url: str, concurrency: int, duration: float) -> dict[str, Any]:
    if which == "vivace":
        from vivace.client import Client, Limits

        vclient = Client(limits=Limits(max_connections=concurrency))

        async def one() -> int:
            return len((await vclient.get(url)).content)

        close = vclient.aclose
    elif which == "aiohttp":
        import aiohttp

        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency))

        async def one() -> int:
            async with session.get(url) as response:
                return len(await response.read())

        close = session.close
    else:
        import httpx

        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        hclient = httpx.AsyncClient(limits=limits)

        async def one() -> int:
            return len((await hclient.get(url)).content)

        close = hclient.aclose

    async def run(seconds: float) -> int:
        deadline = time.perf_counter() + seconds
        counts = [0] * concurrency

        async def worker(i: int) -> None:
            while time.perf_counter() < deadline:
                assert await one() == 1024
                counts[i] += 1

        await asyncio.gather(*[worker(i) for i in range(concurrency)])
        return sum(counts)

    await run(min(1.0, duration / 3))  # warm-up: connections open, code paths hot
    wall, cpu = time.perf_counter(), time.process_time()
    done = await run(duration)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    await close()
    return {"rps": done / wall, "cpu_us": cpu / done * 1e6, "requests": done}


def worker_main(args: argparse.Namespace) -> None:
    coro = _measure(args.worker, args.url, args.worker_concurrency, args.duration)
    if args.loop == "uvloop":
        import uvloop

        result = uvloop.run(coro)
    else:
        result = asyncio.run(coro)
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[16, 128])
    parser.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop")
    parser.add_argument("--clients", nargs="+", default=list(CLIENTS))
    parser.add_argument("--pin", action="store_true")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--worker-concurrency", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker_main(args)
        return

    pin_server = ["taskset", "-c", "1"] if args.pin else []
    pin_client = ["taskset", "-c", "0"] if args.pin else []
    with tempfile.TemporaryDirectory() as tmp:
        port_file = os.path.join(tmp, "port")
        server = subprocess.Popen([*pin_server, sys.executable, str(HERE / "server.py"), port_file])
        try:
            port = ""
            for _ in range(100):
                if os.path.exists(port_file):
                    port = Path(port_file).read_text()
                    if port:
                        break
                time.sleep(0.05)
            url = f"http://127.0.0.1:{port}/"
            results: dict[tuple[str, int], list[dict[str, Any]]] = {}
            for round_number in range(args.rounds):
                for concurrency in args.concurrency:
                    for which in args.clients:
                        out = subprocess.run(
                            [
                                *pin_client,
                                sys.executable,
                                __file__,
                                "--worker",
                                which,
                                "--worker-concurrency",
                                str(concurrency),
                                "--url",
                                url,
                                "--duration",
                                str(args.duration),
                                "--loop",
                                args.loop,
                            ],
                            capture_output=True,
                            text=True,
                            timeout=args.duration * 10 + 60,
                            check=True,
                        )
                        result = json.loads(out.stdout)
                        results.setdefault((which, concurrency), []).append(result)
                        print(
                            f"round {round_number + 1} c={concurrency:<4} {which:8} "
                            f"{result['rps']:10.0f} req/s {result['cpu_us']:8.1f} us CPU/req",
                            file=sys.stderr,
                        )
        finally:
            server.terminate()
            server.wait(10)

    print(f"\nloop: {args.loop}; {args.rounds} rounds of {args.duration} s; medians\n")
    print(
        "| concurrency | client | req/s | CPU µs/req | vivace speed-up (req/s) | "
        "vivace CPU saving |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for concurrency in args.concurrency:
        med = {
            which: (
                statistics.median(r["rps"] for r in results[(which, concurrency)]),
                statistics.median(r["cpu_us"] for r in results[(which, concurrency)]),
            )
            for which in args.clients
        }
        base_rps, base_cpu = med.get("vivace", (0.0, 0.0))
        for which in args.clients:
            rps, cpu = med[which]
            ratio = f"{base_rps / rps:.2f}x" if which != "vivace" and rps else "—"
            saving = f"{cpu / base_cpu:.2f}x" if which != "vivace" and base_cpu else "—"
            print(f"| {concurrency} | {which} | {rps:,.0f} | {cpu:.1f} | {ratio} | {saving} |")


if __name__ == "__main__":
    main()
