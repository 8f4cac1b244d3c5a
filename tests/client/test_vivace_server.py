"""The client against vivace's own server (``vivace.server``), over real sockets."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest

import vivace.server as server_module
from vivace.client import Client, Limits, Timeout
from vivace.types import Receive, Scope, Send

from ..waiting import until


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    if scope["path"] == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for i in range(100):
            await send({"type": "http.response.body", "body": b"%d\n" % i, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    if scope["path"] == "/big":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"z" * (4 * 1024 * 1024)})
        return
    text = f"{scope['method']} {scope['path']} {len(body)}".encode()
    headers = [(b"content-type", b"text/plain"), (b"set-cookie", b"seen=1; Path=/")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": text})


@pytest.fixture
async def base() -> AsyncIterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = server_module.Config(
        app,
        host="127.0.0.1",
        port=port,
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=1.0,
    )
    server = server_module.Server(config)
    task = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]))
    await until(lambda: server.started.is_set() or task.done(), what="the server started")
    if task.done():
        task.result()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.exit()
        await asyncio.wait_for(task, 10)
        sock.close()


async def test_requests_bodies_and_keep_alive(base: str) -> None:
    async with Client(base_url=base, limits=Limits(max_connections=4)) as client:
        r = await client.get("/hello")
        assert r.status_code == 200 and r.text == "GET /hello 0"
        assert r.headers["content-type"] == "text/plain"
        assert client.cookies["seen"] == "1"
        assert (await client.post("/p", json={"a": 1})).text == "POST /p 7"

        async def chunks() -> Any:
            for _ in range(10):
                yield b"x" * 10_000

        assert (await client.put("/u", content=chunks())).text == "PUT /u 100000"
        head = await client.head("/h")
        assert head.status_code == 200 and head.content == b""
        results = await asyncio.gather(*[client.get(f"/{i}") for i in range(50)])
        assert [r.text for r in results] == [f"GET /{i} 0" for i in range(50)]
        assert client.transport.pool.connection_count <= 4  # type: ignore[attr-defined]


async def test_streaming_from_vivace_server(base: str) -> None:
    async with Client(base_url=base) as client:
        async with client.stream("GET", "/stream") as r:
            lines = [line async for line in r.aiter_lines()]
        assert lines == [str(i) for i in range(100)]
        big = await client.get("/big")
        assert len(big.content) == 4 * 1024 * 1024


async def test_oversized_request_head_gets_a_4xx(base: str) -> None:
    async with Client(base_url=base, timeout=Timeout(5.0)) as client:
        r = await client.get("/" + "a" * 200_000)
        assert 400 <= r.status_code < 500  # the server's head limit answers, never hangs
        assert (await client.get("/after")).text == "GET /after 0"
