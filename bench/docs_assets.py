"""Serving the docs UIs' bundles: stored gzip-compressed vs compressed per request.

    flock /tmp/vivace-bench.lock .venv/bin/python bench/docs_assets.py [--requests 20]

Each app is called in-process (``await app(scope, receive, send)``, no server) for the
three big bundles with ``Accept-Encoding: gzip, deflate, br, zstd`` as a browser sends it:

- ``vivace.web.openapi``: the bundle as shipped, gzip-compressed once by
  scripts/docs-assets, sent as it is (``Content-Encoding: gzip``);
- ``StaticFiles + gzip``: the uncompressed bundle from vivace's ``StaticFiles`` behind its
  ``GZipMiddleware`` (level 6): what serving the npm files as they are costs;
- ``Starlette StaticFiles + GZip``: the same with Starlette's (FastAPI's self-hosting
  recipe for the docs UIs' files).

CPU time per request (the process's, so threads count) and bytes sent; rounds are
interleaved, medians printed with the ratio to vivace.web.openapi.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from vivace.web import App, Mount, StaticFiles
from vivace.web.middleware import GZipMiddleware, Middleware
from vivace.web.openapi import docs_routes
from vivace.web.openapi._assets import asset_manifest

BUNDLES = {
    "swagger-ui/swagger-ui-bundle.js": "/docs/swagger-ui-bundle.js",
    "redoc/redoc.standalone.js": "/redoc/redoc.standalone.js",
    "scalar/standalone.js": "/scalar/standalone.js",
}
ASSETS = Path(__file__).resolve().parent.parent / "src/vivace/web/openapi/assets"


def _scope(path: str) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1:8000"),
            (b"accept-encoding", b"gzip, deflate, br, zstd"),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
        "extensions": {},
    }


async def _once(app: Any, path: str) -> int:
    sent = 0
    status = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal sent, status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            sent += len(message.get("body", b""))

    await app(_scope(path), receive, send)
    assert status == 200, (path, status)
    return sent


def _apps(raw: Path) -> dict[str, Any]:
    from starlette.applications import Starlette
    from starlette.middleware import Middleware as StarletteMiddleware
    from starlette.middleware.gzip import GZipMiddleware as StarletteGZip
    from starlette.routing import Mount as StarletteMount
    from starlette.staticfiles import StaticFiles as StarletteStatic

    def mounts(static: Any, mount: Any) -> list[Any]:
        return [mount(f"/{ui}", static(directory=raw / folder)) for ui, folder in FOLDERS]

    return {
        "vivace.web.openapi": App(routes=docs_routes()),
        "StaticFiles + gzip": App(
            routes=mounts(StaticFiles, Mount), middleware=[Middleware(GZipMiddleware)]
        ),
        "Starlette StaticFiles + GZip": Starlette(
            routes=mounts(StarletteStatic, StarletteMount),
            middleware=[StarletteMiddleware(StarletteGZip)],
        ),
    }


FOLDERS = [("docs", "swagger-ui"), ("redoc", "redoc"), ("scalar", "scalar")]


async def main(requests: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        raw = Path(folder)
        for key, entry in asset_manifest()["files"].items():
            (raw / key).parent.mkdir(parents=True, exist_ok=True)
            stored = (ASSETS / (key + ".gz" if entry["gzip"] else key)).read_bytes()
            (raw / key).write_bytes(gzip.decompress(stored) if entry["gzip"] else stored)
        apps = _apps(raw)
        cpu: dict[tuple[str, str], list[float]] = {}
        sizes: dict[tuple[str, str], int] = {}
        for _ in range(rounds):
            for key, path in BUNDLES.items():
                for name, app in apps.items():
                    await _once(app, path)  # warm: files read, caches filled
                    start = time.process_time()
                    for _ in range(requests):
                        sizes[name, key] = await _once(app, path)
                    per = (time.process_time() - start) / requests
                    cpu.setdefault((name, key), []).append(per)
    print(f"{requests} requests x {rounds} rounds, CPU ms per request (median), bytes sent\n")
    print("| bundle | served by | CPU ms/req | bytes sent | CPU vs vivace.web.openapi |")
    print("| --- | --- | ---: | ---: | ---: |")
    for key in BUNDLES:
        base = statistics.median(cpu["vivace.web.openapi", key])
        for name in apps:
            median = statistics.median(cpu[name, key])
            print(
                f"| {key} | {name} | {median * 1000:.3f} | {sizes[name, key]:,} "
                f"| {median / base:.0f}x |"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.rounds))
