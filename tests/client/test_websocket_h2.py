"""vivace.client WebSockets over HTTP/2 (RFC 8441) against vivace.server: one stream per
WebSocket on a shared connection, the same session API as over HTTP/1.1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from tests.client.servers import vivace_server
from vivace.client import Client, UnsupportedProtocol, WebSocketDisconnect, WebSocketRejected
from vivace.types import Receive, Scope, Send


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 200})
        await send({"type": "http.response.body", "body": scope["http_version"].encode()})
        return
    if scope["type"] != "websocket":
        return
    await receive()
    if scope["path"] == "/deny":
        await send({"type": "websocket.http.response.start", "status": 401, "headers": []})
        await send({"type": "websocket.http.response.body", "body": b"who are you"})
        return
    subprotocol = "chat" if "chat" in scope["subprotocols"] else None
    await send({"type": "websocket.accept", "subprotocol": subprotocol})
    while (message := await receive())["type"] == "websocket.receive":
        text = message.get("text")
        if text == "close":
            await send({"type": "websocket.close", "code": 4001, "reason": "asked"})
            return
        if text is None:
            await send({"type": "websocket.send", "bytes": message["bytes"]})
        else:
            await send({"type": "websocket.send", "text": f"{scope['http_version']} {text}"})


@pytest.fixture
async def base() -> AsyncIterator[str]:
    async with vivace_server(app) as url:
        yield url.replace("http://", "ws://")


def h2c() -> Client:
    return Client(http1=False, http2=True, timeout=10)


async def test_echo_and_subprotocol(base: str) -> None:
    async with h2c() as client, client.websocket_connect(base + "/ws", subprotocols=["chat"]) as ws:
        await ws.send_text("hello")
        assert await ws.receive_text() == "2 hello"
        assert ws.subprotocol == "chat"
        await ws.send_bytes(b"\x00" * 100_000)  # compressed (permessage-deflate)
        assert await ws.receive_bytes() == b"\x00" * 100_000
    assert ws.close_code == 1000


async def test_server_close_code(base: str) -> None:
    async with h2c() as client, client.websocket_connect(base + "/ws") as ws:
        await ws.send_text("close")
        with pytest.raises(WebSocketDisconnect) as info:
            await ws.receive_text()
        assert (info.value.code, info.value.reason) == (4001, "asked")


async def test_refusal_is_rejected_with_its_response(base: str) -> None:
    async with h2c() as client:
        with pytest.raises(WebSocketRejected) as info:
            async with client.websocket_connect(base + "/deny"):
                pass
        response = info.value.response
        assert (response.status_code, response.text, response.http_version) == (
            401,
            "who are you",
            "HTTP/2",
        )


async def test_websockets_and_requests_share_one_connection(base: str) -> None:
    async with h2c() as client:
        async with (
            client.websocket_connect(base + "/a") as one,
            client.websocket_connect(base + "/b") as two,
        ):
            get = await client.get(base.replace("ws://", "http://") + "/x")
            assert get.text == "2"
            await asyncio.gather(one.send_text("1"), two.send_text("2"))
            assert (await one.receive_text(), await two.receive_text()) == ("2 1", "2 2")
        h2 = client._transport._h2  # type: ignore[attr-defined]
        assert sum(len(c) for c in h2._conns.values()) == 1


async def test_many_messages_with_backpressure(base: str) -> None:
    async with h2c() as client, client.websocket_connect(base + "/ws", compression=False) as ws:

        async def sender() -> None:
            for i in range(300):
                await ws.send_bytes(bytes([i % 256]) * 20_000)

        task = asyncio.ensure_future(sender())
        received = [await ws.receive_bytes() for _ in range(300)]
        await task
        assert [r[0] for r in received] == [i % 256 for i in range(300)]


async def test_no_extended_connect_and_no_http1() -> None:
    async with vivace_server(app, ws=False) as url, h2c() as client:
        with pytest.raises(UnsupportedProtocol, match="RFC 8441"):
            async with client.websocket_connect(url.replace("http://", "ws://") + "/ws"):
                pass


async def test_http11_used_when_http2_is_off_for_the_origin(base: str) -> None:
    async with Client(http2=True, timeout=10) as client, client.websocket_connect(base + "/") as ws:
        await ws.send_text("x")
        assert await ws.receive_text() == "1.1 x"


async def test_wss_over_h2_by_alpn(tmp_path_factory: pytest.TempPathFactory) -> None:
    import trustme

    folder = tmp_path_factory.mktemp("wss")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert.cert_chain_pems[0].write_to_path(str(folder / "cert.pem"))
    cert.private_key_pem.write_to_path(str(folder / "key.pem"))
    ca.cert_pem.write_to_path(str(folder / "ca.pem"))
    tls = {"ssl_certfile": str(folder / "cert.pem"), "ssl_keyfile": str(folder / "key.pem")}
    async with vivace_server(app, **tls) as url:
        wss = url.replace("http://", "wss://")
        async with (
            Client(http2=True, verify=str(folder / "ca.pem"), timeout=10) as client,
            client.websocket_connect(wss + "/ws") as ws,
        ):
            await ws.send_text("secure")
            assert await ws.receive_text() == "2 secure"


async def test_unread_messages_close_the_stream_window() -> None:
    sent = asyncio.Event()

    async def flood(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            return
        await receive()
        await send({"type": "websocket.accept"})
        for i in range(400):
            await send({"type": "websocket.send", "bytes": i.to_bytes(2, "big") * 500})
        sent.set()
        await receive()

    async with (
        vivace_server(flood) as url,
        h2c() as client,
        client.websocket_connect(url.replace("http", "ws") + "/", compression=False) as ws,
    ):
        await asyncio.wait_for(sent.wait(), 10)  # all sent: the windows held the rest
        got = [await ws.receive_bytes() for _ in range(400)]
        assert [int.from_bytes(g[:2], "big") for g in got] == list(range(400))


async def test_server_reset_is_a_disconnect() -> None:
    async def app_reset(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            return
        await receive()
        await send({"type": "websocket.accept"})
        raise RuntimeError("the app fails")  # the server closes with 1011

    async with (
        vivace_server(app_reset) as url,
        h2c() as client,
        client.websocket_connect(url.replace("http", "ws") + "/") as ws,
    ):
        with pytest.raises(WebSocketDisconnect) as info:
            await ws.receive_text()
        assert info.value.code == 1011


async def test_close_denial_is_403(base: str) -> None:
    async def deny(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await receive()
            await send({"type": "websocket.close"})

    async with vivace_server(deny) as url, h2c() as client:
        with pytest.raises(WebSocketRejected) as info:
            async with client.websocket_connect(url.replace("http", "ws") + "/"):
                pass
        assert info.value.response.status_code == 403
