"""HTTP/2: vivace's server against granian, hypercorn and uvicorn (zttp) with h2load, and
vivace's client against httpx over one HTTP/2 connection.

Run it from the repository root, under the shared benchmark lock, with the ``bench`` extra
installed and Debian's nghttp2-client (h2load) and nghttp2-server (nghttpd)::

    flock /tmp/vivace-bench.lock .venv/bin/python bench/http2.py [--duration 5]
        [--rounds 3] [--parts server,client,upload]

server: every server runs one worker process on 127.0.0.1 serving the raw ASGI app
(bench/apps/techempower.py, ``/plaintext``) and vivace.web (bench/web_apps.py, ``/json``),
access logs off. ``h2load -c64 -m10`` over h2c (prior knowledge) measures vivace,
``granian --http 2``, hypercorn (the h2 library) and ``uvicorn --http zttp --http2``;
vivace is also measured over HTTP/1.1 (``h2load --h1`` with the same flags: ten
requests pipelined per connection) as the reference the h2c rate is compared with.
Reported: req/s, p99 latency (from h2load's per-request log), server CPU time per
request (/proc), medians of interleaved rounds, and the ratios.

client: 10,000 GETs over one HTTP/2 connection (h2c prior knowledge) to nghttpd (C, so
the clients are what is measured), 10 in flight at a time, vivace.client vs
httpx(http2=True); each in a fresh process, process CPU time per request.

upload: one 360 MiB POST with vivace.client over HTTP/2 and over HTTP/1.1 to a vivace
server that reads and drops the body; the issue's bound is h2 <= 1.2x the HTTP/1.1 time.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from server_asgi import cpu_seconds, free_port

HERE = Path(__file__).resolve().parent
PY = sys.executable
SERVERS = ("vivace", "granian", "hypercorn", "uvicorn", "vivace-h1")
APPS = {"raw": ("apps.techempower:app", "/plaintext"), "web": ("apps.vivace_web:app", "/json")}


def server_command(name: str, app: str, port: int) -> list[str]:
    if name in ("vivace", "vivace-h1"):
        return [PY, "-m", "vivace.cli", "run", app, "--port", str(port), "--no-access-log",
                "--log-level", "warning"]  # fmt: skip
    if name == "granian":
        return [PY, "-m", "granian", "--interface", "asgi", "--http", "2", "--workers", "1",
                "--port", str(port), "--no-access-log", "--log-level", "warning", app]  # fmt: skip
    if name == "hypercorn":
        return [PY, "-m", "hypercorn", "-b", f"127.0.0.1:{port}", "-w", "1", "--log-level",
                "warning", app]  # fmt: skip
    if name == "uvicorn":
        return [PY, "-m", "uvicorn", "--http", "zttp", "--http2", "--loop", "uvloop", "--port",
                str(port), "--no-access-log", "--log-level", "warning", app]  # fmt: skip
    raise ValueError(name)


def wait_ready(url: str, proc: subprocess.Popen[bytes], h1: bool, timeout: float = 20) -> None:
    """Poll with single h2load requests (granian --http 2 speaks no HTTP/1.1)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server for {url} exited with {proc.returncode}")
        args = ["h2load", "-n1", "-c1", *(["--h1"] if h1 else []), url]
        if "1 succeeded" in subprocess.run(args, capture_output=True, text=True).stdout:
            return
        time.sleep(0.2)
    raise RuntimeError(f"server for {url} did not start")


def h2load(url: str, duration: float, h1: bool) -> tuple[float, float, int]:
    """(req/s, p99 ms, requests) of one h2load run."""
    with tempfile.NamedTemporaryFile(suffix=".log") as log:
        args = ["h2load", "-c64", "-m10", "-D", f"{duration:g}",
                "--log-file", log.name, url]  # fmt: skip
        if h1:
            args.insert(1, "--h1")
        out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
        latencies = sorted(
            int(line.split("\t")[2]) for line in Path(log.name).read_text().splitlines() if line
        )
    done = int(out.split(" succeeded")[0].rsplit(" ", 1)[1])
    if " 0 failed, 0 errored" not in out:
        print(f"  warning: errors reported for {url}:\n{out}", file=sys.stderr)
    seconds = float(out.split("finished in ")[1].split("s,")[0])
    p99 = latencies[int(len(latencies) * 0.99)] / 1000 if latencies else 0.0
    return done / seconds, p99, done


def bench_servers(args: argparse.Namespace) -> None:
    names = [n for n in args.servers.split(",") if n]
    procs: dict[tuple[str, str], tuple[int, subprocess.Popen[bytes]]] = {}
    results: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    try:
        for kind, (app, _) in APPS.items():
            for name in names:
                port = free_port()
                command = server_command(name, app, port)
                quiet = subprocess.DEVNULL
                proc = subprocess.Popen(command, cwd=HERE, stdout=quiet, stderr=quiet)
                procs[kind, name] = (port, proc)
        for (kind, name), (port, proc) in procs.items():
            url = f"http://127.0.0.1:{port}{APPS[kind][1]}"
            wait_ready(url, proc, name == "vivace-h1")
            h2load(url, 1, name == "vivace-h1")  # warm-up
        for _ in range(args.rounds):
            for (kind, name), (port, proc) in procs.items():
                before = cpu_seconds(proc.pid)
                rps, p99, done = h2load(
                    f"http://127.0.0.1:{port}{APPS[kind][1]}", args.duration, name == "vivace-h1"
                )
                cpu = (cpu_seconds(proc.pid) - before) / max(done, 1) * 1e6
                results.setdefault((kind, name), []).append((rps, p99, cpu))
    finally:
        for _, proc in procs.values():
            proc.terminate()
            proc.wait()
    print("\n| app | server | req/s | p99 ms | CPU us/req | vivace req/s vs this |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for kind in APPS:
        med = {
            name: tuple(statistics.median(r[i] for r in results[kind, name]) for i in range(3))
            for name in names
            if (kind, name) in results
        }
        for name, (rps, p99, cpu) in med.items():
            ratio = f"{med['vivace'][0] / rps:.2f}x" if "vivace" in med else "-"
            print(f"| {kind} | {name} | {rps:,.0f} | {p99:.2f} | {cpu:.1f} | {ratio} |")


CLIENT_SCRIPT = r"""
import asyncio, json, sys, time
which, url, total, concurrency = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])

async def main():
    if which == "vivace":
        from vivace.client import Client
        client = Client(http1=False, http2=True)  # h2c with prior knowledge
    else:
        import httpx
        client = httpx.AsyncClient(http1=False, http2=True)
    async with client:
        await client.get(url)  # connect, settle the connection
        left = total
        async def worker():
            nonlocal left
            while left > 0:
                left -= 1
                response = await client.get(url)
                assert response.status_code == 200 and len(response.content) == 1024
        started, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(json.dumps({"rps": total / elapsed, "cpu_us": cpu / total * 1e6}))

import uvloop
uvloop.run(main())
"""


def bench_client(args: argparse.Namespace) -> None:
    if shutil.which("nghttpd") is None:
        sys.exit("nghttpd is not installed (apt-get install nghttp2-server)")
    with tempfile.TemporaryDirectory() as docs:
        Path(docs, "k").write_bytes(b"x" * 1024)
        port = free_port()
        server = subprocess.Popen(["nghttpd", "--no-tls", "-d", docs, str(port)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            time.sleep(0.5)
            url = f"http://127.0.0.1:{port}/k"
            results: dict[str, list[dict[str, float]]] = {"vivace": [], "httpx": []}
            for _ in range(args.rounds):
                for which in results:
                    out = subprocess.run(
                        [PY, "-c", CLIENT_SCRIPT, which, url, "10000", "10"],
                        capture_output=True, text=True, check=True,
                    )  # fmt: skip
                    results[which].append(json.loads(out.stdout))
        finally:
            server.terminate()
            server.wait()
    med = {w: {k: statistics.median(r[k] for r in rs) for k in ("rps", "cpu_us")}
           for w, rs in results.items()}  # fmt: skip
    print("\n| client | req/s | CPU us/req | vivace req/s vs this | this CPU vs vivace |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for which, m in med.items():
        speed = med["vivace"]["rps"] / m["rps"]
        cpu = m["cpu_us"] / med["vivace"]["cpu_us"]
        print(f"| {which} | {m['rps']:,.0f} | {m['cpu_us']:.1f} | {speed:.2f}x | {cpu:.2f}x |")


UPLOAD_APP = r"""
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    size = 0
    while True:
        message = await receive()
        size += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": str(size).encode()})
"""

UPLOAD_SCRIPT = r"""
import asyncio, json, sys, time
url, http2, size = sys.argv[1], sys.argv[2] == "2", int(sys.argv[3])

async def main():
    from vivace.client import Client
    chunk = b"x" * (1 << 20)
    async def body():
        for _ in range(size >> 20):
            yield chunk
    kwargs = {"http2": True, "http1": False} if http2 else {}
    async with Client(timeout=120, **kwargs) as client:
        started = time.perf_counter()
        response = await client.post(url, content=body())
        elapsed = time.perf_counter() - started
        assert response.text == str(size), response.text
        assert response.http_version == ("HTTP/2" if http2 else "HTTP/1.1")
    print(json.dumps({"seconds": elapsed}))

import uvloop
uvloop.run(main())
"""


def bench_upload(args: argparse.Namespace) -> None:
    size = 360 << 20
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "upload_app.py").write_text(UPLOAD_APP)
        port = free_port()
        server = subprocess.Popen(
            [PY, "-m", "vivace.cli", "run", "upload_app:app", "--port", str(port),
             "--no-access-log", "--log-level", "warning"],
            cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            time.sleep(1.5)
            times: dict[str, list[float]] = {"1.1": [], "2": []}
            for _ in range(args.rounds):
                for version in times:
                    out = subprocess.run(
                        [PY, "-c", UPLOAD_SCRIPT, f"http://127.0.0.1:{port}/", version, str(size)],
                        capture_output=True, text=True, check=True,
                    )  # fmt: skip
                    times[version].append(json.loads(out.stdout)["seconds"])
        finally:
            server.terminate()
            server.wait()
    h1, h2 = statistics.median(times["1.1"]), statistics.median(times["2"])
    print("\n| upload (360 MiB) | seconds | vs HTTP/1.1 |")
    print("| --- | ---: | ---: |")
    print(f"| HTTP/1.1 | {h1:.2f} | 1.00x |")
    print(f"| HTTP/2 | {h2:.2f} | {h2 / h1:.2f}x |")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per h2load run")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    parser.add_argument("--servers", default=",".join(SERVERS))
    parser.add_argument("--parts", default="server,client,upload")
    args = parser.parse_args()
    if shutil.which("h2load") is None:
        sys.exit("h2load is not installed (apt-get install nghttp2-client)")
    parts = args.parts.split(",")
    if "server" in parts:
        bench_servers(args)
    if "client" in parts:
        bench_client(args)
    if "upload" in parts:
        bench_upload(args)


if __name__ == "__main__":
    main()
