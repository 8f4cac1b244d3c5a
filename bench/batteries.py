"""vivace's batteries against their anchors, with wrk: a cached view, and a session's cost.

    flock /tmp/vivace-bench.lock .venv/bin/python bench/batteries.py [--duration 3] [--rounds 3]

Two measurements, each on the memory store and on Redis (127.0.0.1:6379, keys under a
prefix of the run's own, deleted at the end), every app on uvicorn (one worker,
httptools, uvloop, no access log) so the server is the same for all, and the vivace apps
on vivace.server too:

1. **Cached view**: ``GET /work`` builds 200 records and sends them as JSON; ``GET
   /cached`` is the same view cached for 60 s: vivace's ``cache_page``, FastAPI with
   fastapi-cache2's ``@cache``, Litestar's ``cache=60`` (its response cache on its
   stores). vivace also on ``redis-near``: Redis with the store's near cache
   (``RedisStore(near_cache=...)``: hits from memory, kept exact by Redis's
   invalidation). Reported: req/s, p99 and the server's CPU time per request, cached
   against uncached in each framework, and vivace's cached view against the anchors'.
2. **Session cost**: ``GET /session`` reads a user from a server-side session that
   exists (the wrk requests carry its cookie) in vivace (``StoreSessionMiddleware``),
   Starlette + starsessions and Litestar's ``ServerSideSessionConfig``; each framework
   also serves the same view without session middleware. The session's cost per request
   is the difference in server CPU time per request; vivace's against the anchors'.

Rounds are interleaved (every app once per round) and medians are taken, because the
machine is shared and noisy; CPU time per request (user + system time of the server
process over the wrk run, divided by the requests wrk counted) is the steadiest figure.
Nothing is installed by this script: ``pip install -e '.[bench]'`` and wrk first.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

from server_asgi import cpu_seconds, free_port

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
BIN = Path(PY).parent
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")

# (label, app, store, server)
CACHE_APPS = [
    ("vivace", "vivace_cache", "memory", "uvicorn"),
    ("vivace", "vivace_cache", "redis", "uvicorn"),
    ("vivace", "vivace_cache", "redis-near", "uvicorn"),
    ("vivace (vivace.server)", "vivace_cache", "memory", "vivace"),
    ("FastAPI + fastapi-cache2", "fastapi_cache", "memory", "uvicorn"),
    ("FastAPI + fastapi-cache2", "fastapi_cache", "redis", "uvicorn"),
    ("Litestar", "litestar_cache", "memory", "uvicorn"),
    ("Litestar", "litestar_cache", "redis", "uvicorn"),
]
SESSION_APPS = [
    ("vivace", "vivace_sessions", "memory", "uvicorn"),
    ("vivace", "vivace_sessions", "redis", "uvicorn"),
    ("vivace", "vivace_plain", "-", "uvicorn"),
    ("Starlette + starsessions", "starlette_sessions", "memory", "uvicorn"),
    ("Starlette + starsessions", "starlette_sessions", "redis", "uvicorn"),
    ("Starlette + starsessions", "starlette_plain", "-", "uvicorn"),
    ("Litestar", "litestar_sessions", "memory", "uvicorn"),
    ("Litestar", "litestar_sessions", "redis", "uvicorn"),
    ("Litestar", "litestar_plain", "-", "uvicorn"),
]


def command(app: str, port: int, server: str) -> list[str]:
    target = f"batteries_apps:{app}"
    if server == "vivace":
        return [
            str(BIN / "vivace"),
            "run",
            target,
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
        ]
    return [
        str(BIN / "uvicorn"),
        target,
        "--port",
        str(port),
        "--http",
        "httptools",
        "--loop",
        "uvloop",
        "--no-access-log",
        "--log-level",
        "warning",
    ]


def get(port: int, path: str, cookie: str | None = None) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path, headers={"cookie": cookie} if cookie else {})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def wait_ready(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with {proc.returncode}")
        try:
            if get(port, "/")[0] == 200:
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server on port {port} did not start")


def wrk(port: int, path: str, duration: float, cookie: str | None) -> tuple[float, float, int]:
    """One wrk run: (req/s, p99 ms, requests)."""
    cmd = ["wrk", "-t1", "-c32", f"-d{duration:g}s", "--latency"]
    if cookie:
        cmd += ["-H", f"Cookie: {cookie}"]
    out = subprocess.run(
        [*cmd, f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True, check=True
    ).stdout
    if "Non-2xx" in out or "Socket errors" in out:
        print(f"  warning: errors on port {port}{path}:\n{out}", file=sys.stderr)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    count = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    assert p99 is not None, out
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    return rps, float(p99.group(1)) * scale, count


Key = tuple[str, str, str, str]  # (label, app, store, server)


def measure(
    port: int, pid: int, path: str, duration: float, cookie: str | None
) -> tuple[float, float, float]:
    before = cpu_seconds(pid)
    rps, p99, count = wrk(port, path, duration, cookie)
    cpu_us = (cpu_seconds(pid) - before) / max(count, 1) * 1e6
    return rps, p99, cpu_us


def median(runs: list[tuple[float, float, float]]) -> tuple[float, float, float]:
    return tuple(statistics.median(run[i] for run in runs) for i in range(3))  # type: ignore[return-value]


def session_cookie(port: int) -> str:
    status, headers, body = get(port, "/login")
    assert status == 200, body
    cookie = headers["set-cookie"].split(";", 1)[0]
    status, _, body = get(port, "/session", cookie)
    assert status == 200 and b"ada" in body, (status, body)
    return cookie


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--only", choices=["cache", "sessions"], help="run one of the two measurements"
    )
    args = parser.parse_args()
    cache_apps = [] if args.only == "sessions" else CACHE_APPS
    session_apps = [] if args.only == "cache" else SESSION_APPS
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed")
    prefix = f"vivace-bench-{uuid.uuid4().hex[:8]}:"
    procs: dict[Key, tuple[int, subprocess.Popen[bytes]]] = {}
    cache_runs: dict[tuple[Key, str], list[tuple[float, float, float]]] = {}
    session_runs: dict[Key, list[tuple[float, float, float]]] = {}
    cookies: dict[Key, str | None] = {}
    try:
        for key in cache_apps + session_apps:
            _label, app, store, server = key
            port = free_port()
            env = {
                **os.environ,
                "BENCH_STORE": store,
                "BENCH_PREFIX": prefix,
                "PYTHONPATH": str(ROOT / "bench"),
            }
            procs[key] = (
                port,
                subprocess.Popen(
                    command(app, port, server),
                    cwd=ROOT / "bench",
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                ),
            )
        for key, (port, proc) in procs.items():
            wait_ready(port, proc)
            if key in SESSION_APPS:
                cookies[key] = session_cookie(port) if key[2] != "-" else None
                wrk(port, "/session", 1, cookies[key])  # warm-up
            else:
                for path in ("/work", "/cached"):
                    assert get(port, path)[0] == 200
                    wrk(port, path, 1, None)
        for round_no in range(args.rounds):
            for key, (port, proc) in procs.items():
                if key in SESSION_APPS:
                    result = measure(port, proc.pid, "/session", args.duration, cookies[key])
                    session_runs.setdefault(key, []).append(result)
                else:
                    for path in ("/work", "/cached"):
                        result = measure(port, proc.pid, path, args.duration, None)
                        cache_runs.setdefault((key, path), []).append(result)
            print(f"round {round_no + 1}/{args.rounds} done", file=sys.stderr)
    finally:
        for _, proc in procs.values():
            proc.terminate()
        for _, proc in procs.values():
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        cleanup(prefix)
    if cache_apps:
        report_cache(cache_runs)
    if session_apps:
        report_sessions(session_runs)


def cleanup(prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    for pattern in (prefix + "*", prefix.rstrip(":") + "-litestar*"):
        keys = list(client.scan_iter(match=pattern, count=1000))
        if keys:
            client.delete(*keys)
    client.close()


def report_cache(cache_runs: dict[tuple[Key, str], list[tuple[float, float, float]]]) -> None:
    print("\nCached view (GET /cached) against the same view uncached (GET /work):\n")
    print(
        "| framework | store | server | uncached req/s | cached req/s | cached p99 ms "
        "| uncached CPU us/req | cached CPU us/req | cached/uncached req/s |"
    )
    print("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    cached: dict[Key, tuple[float, float, float]] = {}
    for key in CACHE_APPS:
        label, _, store, server = key
        work, hit = median(cache_runs[key, "/work"]), median(cache_runs[key, "/cached"])
        cached[key] = hit
        print(
            f"| {label} | {store} | {server} | {work[0]:,.0f} | {hit[0]:,.0f} | {hit[1]:.2f} "
            f"| {work[2]:.0f} | {hit[2]:.0f} | {hit[0] / work[0]:.2f}x |"
        )
    print("\nvivace's cached view against the anchors' (same store, uvicorn):\n")
    print("| store | anchor | req/s ratio | CPU/req ratio (lower is better) |")
    print("| --- | --- | ---: | ---: |")
    for store, anchor_store in (("memory", "memory"), ("redis", "redis"), ("redis-near", "redis")):
        ours = cached["vivace", "vivace_cache", store, "uvicorn"]
        for label, app in (
            ("FastAPI + fastapi-cache2", "fastapi_cache"),
            ("Litestar", "litestar_cache"),
        ):
            theirs = cached[label, app, anchor_store, "uvicorn"]
            print(
                f"| {store} | {label} ({anchor_store}) | {ours[0] / theirs[0]:.2f}x "
                f"| {ours[2] / theirs[2]:.2f}x |"
            )


def report_sessions(session_runs: dict[Key, list[tuple[float, float, float]]]) -> None:
    print(
        "\nSession cost (GET /session with an existing session, against the same view "
        "without session middleware):\n"
    )
    print("| framework | store | req/s | p99 ms | CPU us/req | session cost us/req |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    costs: dict[tuple[str, str], float] = {}
    for key in SESSION_APPS:
        label, _app, store, _ = key
        rps, p99, cpu = median(session_runs[key])
        if store == "-":
            print(f"| {label} | (no sessions) | {rps:,.0f} | {p99:.2f} | {cpu:.0f} | - |")
            continue
        plain = next(k for k in SESSION_APPS if k[0] == label and k[2] == "-")
        cost = cpu - median(session_runs[plain])[2]
        costs[label, store] = cost
        print(f"| {label} | {store} | {rps:,.0f} | {p99:.2f} | {cpu:.0f} | {cost:.0f} |")
    print("\nvivace's session cost against the anchors' (lower is better):\n")
    print("| store | anchor | cost ratio |")
    print("| --- | --- | ---: |")
    for store in ("memory", "redis"):
        for anchor in ("Starlette + starsessions", "Litestar"):
            ratio = (
                costs["vivace", store] / costs[anchor, store]
                if costs[anchor, store] > 0
                else float("nan")
            )
            print(f"| {store} | {anchor} | {ratio:.2f}x |")


if __name__ == "__main__":
    main()
