"""Smaller paths: hook failures, caches, text tails, base classes, unbound errors."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Iterator
from typing import Any

import pytest

from vivace.client import (
    Auth,
    ByteStream,
    Client,
    Cookies,
    MockTransport,
    ReadError,
    Request,
    Response,
    SyncByteStream,
)
from vivace.client._auth import build_auth
from vivace.client._models import merge_params
from vivace.client._multipart import MultipartStream
from vivace.client._streams import AsyncByteStream
from vivace.client._waiters import wait
from vivace.http import URL
from vivace.testing import TestClient


async def test_hook_failure_closes_the_response() -> None:
    closed: list[bool] = []

    class Body(AsyncByteStream):
        async def __aiter__(self) -> Any:
            yield b"x"  # pragma: no cover - never read

        async def aclose(self) -> None:
            closed.append(True)

    def handler(request: Request) -> Response:
        return Response(200, stream=Body())

    def explode(response: Response) -> None:
        raise ValueError("hook failed")

    async def async_request_hook(request: Request) -> None:
        request.headers["x-hooked"] = "1"

    client = Client(
        transport=MockTransport(handler),
        event_hooks={"request": [async_request_hook], "response": [explode]},
    )
    with pytest.raises(ValueError, match="hook failed"):
        await client.get("http://h.test/")
    assert closed == [True]
    await client.aclose()


async def test_host_cache_and_params_edge() -> None:
    async with Client(transport=MockTransport(lambda r: Response(200))) as client:
        for i in range(300):
            await client.get(f"http://h{i}.test/")
        assert len(client._hosts) <= 257
    url = URL("http://h.test/?a=1")
    assert merge_params(url, {}) is url


async def test_a_host_among_the_client_headers_replaces_the_urls() -> None:
    seen: list[list[tuple[bytes, bytes]]] = []

    def record(request: Request) -> Response:
        seen.append(list(request.headers.raw))
        return Response(200)

    headers = {"Host": "api.internal", "X-Default": "1"}
    async with Client(transport=MockTransport(record), headers=headers) as client:
        await client.get("http://h.test/")
        await client.get("http://h.test/", headers={"host": "per-request"})
        client.headers["host"] = "changed"
        await client.get("http://h.test/")
    hosts = [[v for n, v in raw if n == b"host"] for raw in seen]
    assert hosts == [[b"api.internal"], [b"per-request"], [b"changed"]]
    assert all(raw[0][0] == b"host" for raw in seen) and (b"x-default", b"1") in seen[0]


async def test_text_tail_and_sync_text_tail() -> None:
    response = Response._from_transport(
        200, [], ByteStream(b"a\xc3"), Request("GET", "http://h.test/")
    )
    assert [t async for t in response.aiter_text()] == ["a", "\ufffd"]

    class Sync(SyncByteStream):
        def __iter__(self) -> Iterator[bytes]:
            yield b"b\xc3"

    sync = Response._from_transport(200, [], Sync(), Request("GET", "http://h.test/"))
    assert list(sync.iter_text()) == ["b", "\ufffd"]


async def test_auth_base_and_bad_auth() -> None:
    async with Client(transport=MockTransport(lambda r: Response(200)), auth=Auth()) as client:
        assert (await client.get("http://h.test/")).status_code == 200
    with pytest.raises(TypeError, match="auth="):
        build_auth(123)  # type: ignore[arg-type]


def test_error_request_binding_and_base_streams() -> None:
    error = ReadError("x")
    with pytest.raises(RuntimeError, match="not bound"):
        error.request  # noqa: B018
    request = Request("GET", "http://h.test/")
    error.request = request
    assert error.request is request
    SyncByteStream.close(ByteStream(b""))
    assert ByteStream(b"abc").read() == b"abc"
    assert list(ByteStream(b"")) == []


async def test_wait_without_deadline() -> None:
    future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().call_soon(future.set_result, 7)
    assert await wait(future, None, lambda: TimeoutError()) == 7


def test_expired_cookie_is_not_sent() -> None:
    jar = Cookies()
    jar.extract(URL("http://h.test/"), ["a=1; Max-Age=100"])
    for cookie in jar._cookies.values():
        cookie.expires = time.time() - 1
    assert jar.header_for(URL("http://h.test/")) is None


def test_multipart_seekable_without_fileno() -> None:
    buffer = io.BytesIO(b"0123456789")
    buffer.seek(4)
    stream = MultipartStream(None, {"f": ("f.bin", buffer)}, boundary="b")
    body = stream.read()
    assert b"456789" in body and b"0123" not in body
    assert len(body) == stream.content_length


def test_testclient_sync_request_stream_and_internal_error_body() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if body == b"fail":
            raise RuntimeError("failed")
        await send({"type": "http.response.start", "status": 200})
        await send({"type": "http.response.body", "body": body})

    class Sync(SyncByteStream):
        def __iter__(self) -> Iterator[bytes]:
            yield b"sync "
            yield b"body"

    client = TestClient(app, raise_server_exceptions=False)
    request = client.build_request("POST", "/")
    request.stream = Sync()
    assert client.send(request).text == "sync body"
    with client.stream("POST", "/", content=b"fail") as r:
        assert r.status_code == 500
        assert b"".join(r.iter_bytes()) == b"Internal Server Error"
    client.close()


def test_testclient_close_cancels_leftover_tasks_and_refuses_reentry() -> None:
    started = asyncio.Event()
    holder: dict[str, Any] = {}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["path"] == "/spawn":
            holder["task"] = asyncio.get_running_loop().create_task(asyncio.sleep(60))
            started.set()
        elif scope["path"] == "/reenter":
            try:
                holder["client"].get("/spawn")
            except RuntimeError as exc:
                holder["error"] = str(exc)
        await send({"type": "http.response.start", "status": 204})
        await send({"type": "http.response.body", "body": b""})

    client = TestClient(app)
    holder["client"] = client
    client.get("/spawn")
    client.get("/reenter")
    assert "its own app's loop" in holder["error"]
    client.close()
    assert holder["task"].cancelled()


async def test_no_header_injection_through_cookies_or_host() -> None:
    from vivace.http import InvalidCookie, InvalidHeader

    jar = Cookies()
    for name, value in (("a", "x\r\nInjected: 1"), ("a;b", "v"), ("a", "sp ace"), ("a", "x,y")):
        with pytest.raises(InvalidCookie):
            jar.set(name, value)
    async with Client(transport=MockTransport(lambda r: Response(200))) as client:
        with pytest.raises(InvalidCookie):
            client.cookies["session"] = "abc\r\nX-Evil: 1"
        with pytest.raises(InvalidHeader):
            await client.get("http://a\x00b.test/")
        with pytest.raises(InvalidHeader):  # per-request cookies: the header is checked
            await client.get("http://h.test/", cookies={"c": "v\nX: 1"})
