"""The framework's own cost per request, with no server: vivace.web vs Starlette vs FastAPI.

    flock /tmp/vivace-bench.lock .venv/bin/python bench/web_inproc.py [--requests 20000]
    flock /tmp/vivace-bench.lock .venv/bin/python bench/web_inproc.py --typed


Each app is called directly as ``await app(scope, receive, send)`` with a prebuilt scope
and no-op ``receive``/``send``, on one event loop, for the endpoints of bench/web.py. This
isolates what the framework adds to each request (routing, request and response objects,
middleware layers) from the server's HTTP work, and is what to profile when optimising
(``--profile vivace_app`` prints a cProfile of the vivace run). Rounds are interleaved;
medians of microseconds per request and the ratios are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import web_apps, web_typed_apps
from bench.web import ECHO_BODY, ENDPOINTS, TYPED_ENDPOINTS

APPS = ["vivace_app", "starlette_app", "fastapi_app"]
# --typed: bench/web_typed_apps.py's endpoints, vivace vs FastAPI vs Litestar.
TYPED_APPS = ["vivace_app", "fastapi_app", "litestar_app"]


def _scope(method: str, target: str, body: str) -> dict[str, Any]:
    path, _, query = target.partition("?")
    headers = [(b"host", b"127.0.0.1:8000"), (b"user-agent", b"wrk"), (b"accept", b"*/*")]
    if method == "POST":
        headers += [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
        "extensions": {},
    }


async def _lifespan(app: Any) -> None:
    messages = [{"type": "lifespan.startup"}]

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop()
        await asyncio.Event().wait()
        return {}

    async def send(message: dict[str, Any]) -> None:
        pass

    task = asyncio.ensure_future(app({"type": "lifespan", "state": {}}, receive, send))
    await asyncio.sleep(0.05)
    task.cancel()


async def _measure(app: Any, method: str, path: str, n: int, body: str = ECHO_BODY) -> float:
    request = {"type": "http.request", "body": body.encode(), "more_body": False}
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return request

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    base = _scope(method, path, body)
    start = time.perf_counter()
    for _ in range(n):
        await app(dict(base), receive, send)
    elapsed = time.perf_counter() - start
    if set(statuses) != {200}:
        raise RuntimeError(f"{method} {path}: statuses {set(statuses)}")
    return elapsed / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", choices=sorted(set(APPS + TYPED_APPS)))
    parser.add_argument("--only", help="only the endpoints whose name contains this")
    parser.add_argument(
        "--typed", action="store_true", help="the typed endpoints (vivace, FastAPI, Litestar)"
    )
    args = parser.parse_args()
    module: Any = web_typed_apps if args.typed else web_apps
    names = TYPED_APPS if args.typed else APPS
    endpoints = TYPED_ENDPOINTS if args.typed else ENDPOINTS
    endpoints = {k: v for k, v in endpoints.items() if not args.only or args.only in k}
    body = web_typed_apps.ORDER_BODY if args.typed else ECHO_BODY
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass

    async def run() -> None:
        apps = {name: getattr(module, name) for name in names}
        for app in apps.values():
            await _lifespan(app)
        if args.profile:
            profiler = cProfile.Profile()
            profiler.enable()
            for method, path in endpoints.values():
                await _measure(apps[args.profile], method, path, args.requests, body)
            profiler.disable()
            pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
            return
        results: dict[tuple[str, str], list[float]] = {}
        for _ in range(args.rounds):
            for name, app in apps.items():
                for endpoint, (method, path) in endpoints.items():
                    us = await _measure(app, method, path, args.requests, body)
                    results.setdefault((name, endpoint), []).append(us)
        print("median microseconds per request (framework only, no server)\n")
        other = ["FastAPI", "Litestar"] if args.typed else ["Starlette", "FastAPI"]
        columns = ["endpoint", "vivace.web", *other, *(f"{o} / vivace" for o in other)]
        print("| " + " | ".join(columns) + " |")
        print("|" + " --- |" * len(columns))
        for endpoint in endpoints:
            v, a, b = (statistics.median(results[(n, endpoint)]) for n in names)
            print(f"| {endpoint} | {v:.2f} | {a:.2f} | {b:.2f} | {a / v:.2f}x | {b / v:.2f}x |")

    asyncio.run(run())


if __name__ == "__main__":
    main()
