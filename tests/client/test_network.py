"""The network transport against real servers on 127.0.0.1: uvicorn (an ASGI app) and
Python's http.server."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from vivace.client import (
    Client,
    HTTPStatusError,
    Limits,
    LocalProtocolError,
    ReadTimeout,
    Timeout,
    UnsupportedProtocol,
)
from vivace.client._network import HTTPTransport
from vivace.http import Headers
from vivace.types import Receive, Scope, Send

from .servers import stdlib_server, uvicorn_server


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    assert scope["type"] == "http"
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    path = scope["path"]
    headers: list[tuple[bytes, bytes]] = [(b"content-type", b"application/json")]
    if path == "/big":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for _ in range(64):
            await send({"type": "http.response.body", "body": b"b" * 65536, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    if path == "/gzip":
        payload = gzip.compress(b"compressed " * 100)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-encoding", b"gzip")],
            }
        )
        await send({"type": "http.response.body", "body": payload})
        return
    if path == "/slow-body":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"first", "more_body": True})
        await asyncio.sleep(0.6)  # longer than the client's read timeout (0.2 s)
        await send({"type": "http.response.body", "body": b""})
        return
    if path == "/redirect":
        target = Headers(scope=scope).get("x-target", "/echo").encode()
        await send(
            {"type": "http.response.start", "status": 302, "headers": [(b"location", target)]}
        )
        await send({"type": "http.response.body", "body": b""})
        return
    if path == "/cookie":
        headers.append((b"set-cookie", b"token=t1; Path=/"))
    status = 418 if path == "/teapot" else 200
    payload = {
        "method": scope["method"],
        "path": path,
        "query": scope["query_string"].decode(),
        "headers": {n.decode(): v.decode() for n, v in scope["headers"]},
        "body": body.decode("latin-1"),
        "length": len(body),
    }
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": json.dumps(payload).encode()})


@pytest.fixture
async def base() -> AsyncIterator[str]:
    async with uvicorn_server(app) as url:
        yield url


async def test_methods_and_bodies(base: str, tmp_path: Path) -> None:
    upload = tmp_path / "upload.bin"
    upload.write_bytes(bytes(range(256)) * 1000)
    async with Client(base_url=base) as client:
        r = await client.get("/echo", params={"q": "1"})
        assert r.status_code == 200 and r.http_version == "HTTP/1.1"
        data = r.json()
        assert data["method"] == "GET" and data["query"] == "q=1"
        assert data["headers"]["host"] == base.removeprefix("http://")
        assert data["headers"]["user-agent"].startswith("vivace/")
        assert (await client.post("/echo", json={"a": 1})).json()["body"] == '{"a":1}'
        assert (await client.put("/echo", content="text")).json()["body"] == "text"
        assert (await client.patch("/echo", data={"k": "v"})).json()["body"] == "k=v"
        assert (await client.delete("/echo")).json()["method"] == "DELETE"
        assert (await client.options("/echo")).json()["method"] == "OPTIONS"
        head = await client.head("/echo")
        assert head.status_code == 200 and head.content == b""
        with upload.open("rb") as file:
            r = await client.post("/echo", files={"f": file}, data={"x": "y"})
        assert r.json()["length"] > 256_000
        assert r.json()["headers"]["content-length"] == str(r.json()["length"])

        async def gen() -> AsyncIterator[bytes]:
            for i in range(5):
                yield b"chunk%d" % i

        r = await client.post("/echo", content=gen())
        assert r.json()["body"] == "chunk0chunk1chunk2chunk3chunk4"
        assert r.json()["headers"]["transfer-encoding"] == "chunked"
        r = await client.post("/echo", content=iter([b"sync", b"iter"]))
        assert r.json()["body"] == "synciter"
        r = await client.post("/echo", content=b"", headers={"transfer-encoding": "chunked"})
        assert r.json()["body"] == ""
        r = await client.post("/echo", content=b"abc", headers={"transfer-encoding": "chunked"})
        assert r.json()["body"] == "abc"
        # All of it over one kept-alive connection.
        pool = client.transport.pool  # type: ignore[attr-defined]
        assert pool.connection_count == 1 and pool.idle_count == 1


async def test_streaming_download_with_flow_control(base: str) -> None:
    async with Client(base_url=base) as client, client.stream("GET", "/big") as r:
        total = 0
        chunks = 0
        async for data in r.aiter_bytes():
            total += len(data)
            chunks += 1
            if chunks == 1:
                await asyncio.sleep(0.05)  # let the socket fill: reading pauses
        assert total == 64 * 65536
    async with Client(base_url=base) as client:
        r = await client.get("/big")
        assert len(r.content) == 64 * 65536


async def test_early_close_drops_the_connection(base: str) -> None:
    async with Client(base_url=base) as client:
        async with client.stream("GET", "/big") as r:
            await r.aiter_raw().__anext__()
        pool = client.transport.pool  # type: ignore[attr-defined]
        assert pool.connection_count == 0
        assert (await client.get("/echo")).status_code == 200


async def test_gzip_cookies_redirects_status(base: str) -> None:
    async with Client(base_url=base, follow_redirects=True) as client:
        r = await client.get("/gzip")
        assert r.text == "compressed " * 100
        await client.get("/cookie")
        r = await client.get("/echo")
        assert r.json()["headers"]["cookie"] == "token=t1"
        r = await client.get("/redirect", headers={"authorization": "Bearer x"})
        assert r.json()["path"] == "/echo" and r.json()["headers"]["authorization"] == "Bearer x"
        r = await client.get("/teapot")
        with pytest.raises(HTTPStatusError, match="418"):
            r.raise_for_status()
    async with uvicorn_server(app) as other, Client(follow_redirects=True) as client:
        # A hop to another origin (another port) drops the credentials.
        r = await client.get(
            f"{base}/redirect",
            headers={"authorization": "Bearer x", "x-target": f"{other}/echo"},
        )
        assert r.url.port != int(base.rsplit(":", 1)[1])
        assert "authorization" not in r.json()["headers"]


async def test_read_timeout_mid_body(base: str) -> None:
    async with Client(base_url=base, timeout=Timeout(5.0, read=0.2)) as client:
        with pytest.raises(ReadTimeout) as info:
            await client.get("/slow-body")
        assert info.value.request.url.path == "/slow-body"
        async with client.stream("GET", "/slow-body") as r:
            with pytest.raises(ReadTimeout):
                [chunk async for chunk in r.aiter_bytes()]


async def test_unsupported_urls_and_methods() -> None:
    async with Client() as client:
        with pytest.raises(UnsupportedProtocol, match="ftp"):
            await client.get("ftp://127.0.0.1/")
        with pytest.raises(UnsupportedProtocol, match="no scheme"):
            await client.get("/relative")
        with pytest.raises(UnsupportedProtocol, match="no host"):
            await client.get("http:///path")
        with pytest.raises(LocalProtocolError, match="method"):
            await client.request("BAD METHOD", "http://127.0.0.1:9/")


async def test_stdlib_server_keep_alive_and_close_delimited() -> None:
    with stdlib_server() as url:
        async with Client(base_url=url) as client:
            first = await client.get("/a")
            second = await client.get("/b")
            assert first.text == "GET /a" and second.text == "GET /b"
            assert first.headers["x-peer-port"] == second.headers["x-peer-port"]
            r = await client.post("/p", content=b"posted")
            assert r.status_code == 201 and r.text == "posted"
            r = await client.get("/close")
            assert r.text == "until close" and r.http_version == "HTTP/1.0"
            assert (await client.get("/after")).text == "GET /after"


async def test_shared_transport_and_client_options(base: str) -> None:
    transport = HTTPTransport(limits=Limits(max_connections=2))
    async with Client(base_url=base, transport=transport) as client:
        results = await asyncio.gather(*[client.get("/echo") for _ in range(10)])
        assert {r.status_code for r in results} == {200}
        assert transport.pool.connection_count <= 2
    assert results[0].elapsed.total_seconds() >= 0
